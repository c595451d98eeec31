"""Audience names: what a name may be, and the names reserved for the combined analysis's temporary audiences
(pipelines/analysis/chain.py: the person keys one step carries to the next, without OneID strings, dropped a day
after they were written by sql/migrations/0071_chain_ttl.sql). No other audience may take such a name: it would be
dropped with them, and rules, exports and member listings need OneIDs. Kept apart from `store` so that the request
models can check names without importing pandas."""

from __future__ import annotations

import re

AUDIENCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
TEMPORARY_PREFIX = "chain_"


def is_temporary(audience: str) -> bool:
    return audience.startswith(TEMPORARY_PREFIX)


def reserved_message(audience: str) -> str:
    """Why a temporary audience's name is refused for a lasting use (a definition, a sync, a rule, an export)."""
    return (
        f"audience {audience[:64]!r}: names starting with {TEMPORARY_PREFIX!r} are the combined analysis's temporary "
        "audiences (person keys for a chain's next step, dropped after a day); save a chain's cell with save_as"
    )


def check_name(audience: str, kind: str | None = None) -> str:
    """`audience` if it is a valid name for an audience of `kind`: only a chain's may be a temporary one."""
    if not isinstance(audience, str) or not AUDIENCE_NAME.match(audience):
        raise ValueError(f"audience name {str(audience)[:64]!r} is invalid: lowercase letters, digits and _, starting with a letter, at most 63")
    if is_temporary(audience) and kind != "chain":
        raise ValueError(reserved_message(audience))
    return audience
