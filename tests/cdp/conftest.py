"""Fixtures of the CDP sync tests: persons with OneIDs in the session warehouse's identity mapping (oneid_map rows,
as the OneID job publishes them), a database of the session's real PostgreSQL for source tables, and a helper that
builds a source from a cdp.yaml fragment."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import yaml

from pipelines.cdp.sources import Source, parse_sources
from pipelines.identity.changes import MAP_COLUMNS

SOURCE_DB = "cdp_sources_test"
PERSONS = 40


class People:
    """PERSONS persons of this test session: person n has user_id `{prefix}u{n}`, phone_hash `{PREFIX}PH{n}` (stored
    lower-case, as identity.yaml normalises phone_hash) and OneID `{prefix}o{n}`."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def user(self, n: int) -> str:
        return f"{self.prefix}u{n}"

    def phone(self, n: int) -> str:
        return f"{self.prefix}PH{n}".upper()

    def oneid(self, n: int) -> str:
        return f"{self.prefix}o{n}"


@pytest.fixture(scope="session")
def people(warehouse) -> People:
    found = People(f"t{uuid.uuid4().hex[:6]}")
    now = dt.datetime.now(dt.timezone.utc)
    rows = []
    for n in range(PERSONS):
        for id_type, value in (("user_id", found.user(n)), ("phone_hash", found.phone(n).lower())):
            rows.append([id_type, value, found.oneid(n), f"user_id:{found.user(n)}", now, now, now, "test", "test", 1, 0])
    # Person 0's phone was taken out of the graph later (a newer deleting row): it maps to nobody.
    rows.append(["phone_hash", found.phone(0).lower(), found.oneid(0), "", now, now, now, "test", "test", 2, 1])
    warehouse.insert("oneid_map", rows, MAP_COLUMNS, settings={"async_insert": 0})
    return found


@pytest.fixture(scope="session")
def pg(stack, stack_settings):
    """An autocommit connection to a database of the session's PostgreSQL for the source tables."""
    from pipelines.push.connection import connect, ensure_database

    ensure_database(stack_settings, SOURCE_DB)
    with connect(stack_settings, SOURCE_DB) as connection:
        yield connection


@pytest.fixture(scope="session")
def rules(stack_settings):
    from pipelines.identity.rules import load_rules

    return load_rules(stack_settings.identity_rules)


def make_source(**document) -> Source:
    return parse_sources(yaml.safe_dump({"sources": [document]}), "test")[0]
