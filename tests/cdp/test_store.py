"""The CDP store against the session's real warehouse: versioned audiences (a version is visible only when
complete; the size limit refuses before writing), tags as of a time against a hand-computed table, and the analyst's
read access to the new tables."""

from __future__ import annotations

import datetime as dt
import uuid

import pandas as pd
import pytest

from pipelines.cdp import store

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


def _name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_write_members_versions_and_history(warehouse, analyst):
    audience = _name("aud")
    assert store.current_version(analyst, audience) is None
    v1, size1 = store.write_members(warehouse, audience, pd.DataFrame({"oneid": ["a", "b", "b", "c"]}), "synced", "test", 10)
    assert size1 == 3
    v2, size2 = store.write_members(warehouse, audience, ["c", "d"], "synced", "test", 10)
    assert v2 > v1 and size2 == 2
    assert store.current_version(analyst, audience) == v2
    members = analyst.rows(
        "SELECT oneid, oneid_hash = cityHash64(oneid) FROM cdp_audiences WHERE audience = {a:String} AND version = {v:UInt64} ORDER BY oneid",
        {"a": audience, "v": v2},
    )
    assert members == [("c", True), ("d", True)]
    assert [(v, s) for _, v, s in store.size_history(analyst, audience)] == [(v1, 3), (v2, 2)]
    listed = {a["name"]: a for a in store.audiences(analyst)}
    assert listed[audience]["version"] == v2 and listed[audience]["size"] == 2 and listed[audience]["kind"] == "synced"


def test_write_members_from_sql_folds_duplicates(warehouse):
    audience = _name("sql")
    version, size = store.write_members_from_sql(
        warehouse,
        audience,
        "SELECT concat('p', toString(number % {n:UInt64})) AS oneid, cityHash64(oneid) AS oneid_hash FROM numbers(100)",
        {"n": 7},
        "rule",
        "test",
        10,
    )
    assert size == 7 and store.current_version(warehouse, audience) == version


def test_too_large_is_refused_before_writing(warehouse):
    audience = _name("big")
    store.write_members(warehouse, audience, ["a"], "saved", "test", 5)
    before = warehouse.scalar("SELECT count() FROM cdp_audiences WHERE audience = {a:String}", {"a": audience})
    with pytest.raises(store.AudienceTooLarge, match=f"'{audience}' has 6 persons, more than the maximum of 5"):
        store.write_members(warehouse, audience, list("abcdef"), "saved", "test", 5)
    with pytest.raises(store.AudienceTooLarge):
        store.write_members_from_sql(
            warehouse, audience, "SELECT toString(number) AS oneid, cityHash64(oneid) AS oneid_hash FROM numbers(6)", {}, "rule", "test", 5
        )
    after = warehouse.scalar("SELECT count() FROM cdp_audiences WHERE audience = {a:String}", {"a": audience})
    assert after == before == 1


def test_members_without_their_version_row_are_invisible(warehouse):
    """A write that failed after its members (no version row) keeps the previous version current."""
    audience = _name("half")
    v1, _ = store.write_members(warehouse, audience, ["a"], "synced", "test", 10)
    orphan = store.next_version()
    warehouse.insert("cdp_audiences", [[audience, orphan, "zz"]], ("audience", "version", "oneid"), settings=store.SYNC)
    assert store.current_version(warehouse, audience) == v1


@pytest.mark.parametrize("bad", ["", "A", "1a", "a-b", "a" * 64, "x'; DROP TABLE cdp_tags; --"])
def test_bad_names_and_kinds_refused(warehouse, bad):
    with pytest.raises(ValueError, match="audience name"):
        store.write_members(warehouse, bad, ["a"], "synced", "test", 10)


def test_unknown_kind_refused(warehouse):
    with pytest.raises(ValueError, match="kind 'dynamic' is unknown"):
        store.write_members(warehouse, _name("k"), ["a"], "dynamic", "test", 10)


def test_tags_as_of_against_hand_table(warehouse, analyst):
    person, other = _name("p"), _name("q")
    tag_a, tag_b = _name("tier"), _name("city")
    h = dt.timedelta(hours=1)
    rows = pd.DataFrame(
        [
            (person, tag_a, "silver", T0, 0),
            (person, tag_a, "gold", T0 + 2 * h, 0),
            (person, tag_b, "beijing", T0 + h, 0),
            (person, tag_b, "beijing", T0 + 3 * h, 1),  # removed at +3h
            (person, tag_b, "shanghai", T0 + 5 * h, 0),  # and set again at +5h
            (other, tag_a, "bronze", T0, 0),
        ],
        columns=["oneid", "tag", "value", "updated", "deleted"],
    )
    assert store.write_tags(warehouse, rows, "test") == 6
    # Hand-computed: the person's tags at each time.
    expected = {
        T0 - h: {},
        T0: {tag_a: "silver"},
        T0 + h: {tag_a: "silver", tag_b: "beijing"},
        T0 + 2 * h + dt.timedelta(milliseconds=1): {tag_a: "gold", tag_b: "beijing"},
        T0 + 3 * h: {tag_a: "gold"},
        T0 + 4 * h: {tag_a: "gold"},
        T0 + 6 * h: {tag_a: "gold", tag_b: "shanghai"},
    }
    for at, tags in expected.items():
        assert store.tags_as_of(analyst, person, at) == tags, at
    current = analyst.rows(
        "SELECT tag, value FROM cdp_tags_current WHERE oneid = {p:String} ORDER BY tag", {"p": person}
    )
    assert sorted(current) == sorted({tag_a: "gold", tag_b: "shanghai"}.items())
    assert {tag_a, tag_b} <= store.known_tags(analyst)


def test_analyst_reads_every_cdp_table(analyst):
    for table in ("cdp_tags", "cdp_tags_current", "cdp_audiences", "cdp_audience_versions", "cdp_sync_runs"):
        assert analyst.scalar(f"SELECT count() >= 0 FROM {table}") == 1


def test_analyst_cannot_write(analyst):
    with pytest.raises(Exception, match="(?i)readonly|privileges"):
        analyst.command("INSERT INTO cdp_audience_versions (audience, version) VALUES ('x', 1)")
