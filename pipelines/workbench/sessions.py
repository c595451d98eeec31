"""Browser sessions kept server-side in the metadata store, and the throttling of failed sign-ins.

The cookie holds a random session id; the store keeps its SHA-256, the user, the session's CSRF token and when it
started and was last used. A session ends when idle or old (WorkbenchSettings), at sign-out, or when its user is
disabled or gets a new password.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass

from pipelines.workbench.users import User

# Writing last_seen_at on every request would make each read a write: once a minute is exact enough for an idle
# limit of hours.
TOUCH_EVERY_S = 60


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str


def _hashed(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start(connection, user: User, idle_s: float, absolute_s: float) -> tuple[str, str]:
    """A new session for the user: (session id for the cookie, CSRF token). Sessions that expired without being
    used again (their cookie never came back to be refused) are removed here, so the table does not grow."""
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with connection.transaction():
        connection.execute(
            "DELETE FROM sessions WHERE last_seen_at < now() - make_interval(secs => %s) "
            "OR created_at < now() - make_interval(secs => %s)",
            (idle_s, absolute_s),
        )
        connection.execute(
            "INSERT INTO sessions (id_hash, username, csrf_token) VALUES (%s, %s, %s)", (_hashed(session_id), user.username, csrf)
        )
    return session_id, csrf


def resume(connection, session_id: str, idle_s: float, absolute_s: float) -> Session | str:
    """The live session, or why there is none: "expired" (it existed, too idle or too old: removed now) or
    "unauthenticated" (no such session)."""
    row = connection.execute(
        "SELECT u.username, u.role, s.csrf_token, "
        "       s.last_seen_at < now() - make_interval(secs => %s) OR s.created_at < now() - make_interval(secs => %s), "
        "       s.last_seen_at < now() - make_interval(secs => %s) "
        "FROM sessions s JOIN users u USING (username) WHERE s.id_hash = %s AND NOT u.disabled",
        (idle_s, absolute_s, TOUCH_EVERY_S, _hashed(session_id)),
    ).fetchone()
    if row is None:
        return "unauthenticated"
    username, role, csrf, expired, stale = row
    if expired:
        end(connection, session_id)
        return "expired"
    if stale:
        connection.execute("UPDATE sessions SET last_seen_at = now() WHERE id_hash = %s", (_hashed(session_id),))
    return Session(User(username, role), csrf)


def end(connection, session_id: str) -> None:
    connection.execute("DELETE FROM sessions WHERE id_hash = %s", (_hashed(session_id),))


def retry_after(connection, username: str, max_failures: int, window_s: float) -> int:
    """Seconds until this user name may try again (0: now). Counted per name, whatever the address: an attacker
    spreading guesses over many addresses is slowed as much as one."""
    count, oldest = connection.execute(
        "SELECT count(*), min(failed_at) FROM (SELECT failed_at FROM login_failures "
        "WHERE username = %s AND failed_at > now() - make_interval(secs => %s) ORDER BY failed_at DESC LIMIT %s) recent",
        (username, window_s, max_failures),
    ).fetchone()
    if count < max_failures:
        return 0
    waited = connection.execute("SELECT extract(epoch FROM now() - %s::timestamptz)", (oldest,)).fetchone()[0]
    return max(1, math.ceil(window_s - float(waited)))


def record_failure(connection, username: str, window_s: float) -> None:
    with connection.transaction():
        # Everyone's failures older than the window count no more: dropped here, so the table stays small.
        connection.execute("DELETE FROM login_failures WHERE failed_at < now() - make_interval(secs => %s)", (window_s,))
        connection.execute("INSERT INTO login_failures (username) VALUES (%s)", (username,))


def clear_failures(connection, username: str) -> None:
    connection.execute("DELETE FROM login_failures WHERE username = %s", (username,))
