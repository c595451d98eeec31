"""Sync runs against the session's real PostgreSQL and real files into the real warehouse: full and incremental,
ids mapped through the identity mapping (unmapped ones counted), failing sources keeping the previous audience
version and recording their reason, and tags as of a time against hand-computed tables."""

from __future__ import annotations

import datetime as dt
import socket
import uuid

import pandas as pd
import pytest

from pipelines.cdp import store
from pipelines.cdp.sync import history, last_watermark, sync
from tests.cdp.conftest import SOURCE_DB, make_source

T0 = dt.datetime(2026, 5, 1, 8, tzinfo=dt.timezone.utc)
H = dt.timedelta(hours=1)


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _current(reader, tags: list[str], oneids: list[str]) -> dict[tuple[str, str], str]:
    rows = reader.rows(
        "SELECT oneid, tag, value FROM cdp_tags_current WHERE tag IN {t:Array(String)} AND oneid IN {o:Array(String)}",
        {"t": tags, "o": oneids},
    )
    return {(oneid, tag): value for oneid, tag, value in rows}


def _as_of(reader, oneid: str, at: dt.datetime, *tags: str) -> dict[str, str]:
    """The person's tags at `at`, among the test's own tags (other tests tag the same persons)."""
    return {tag: value for tag, value in store.tags_as_of(reader, oneid, at).items() if tag in tags}


def _members(reader, audience: str) -> set[str]:
    version = store.current_version(reader, audience)
    rows = reader.rows("SELECT oneid FROM cdp_audiences WHERE audience = {a:String} AND version = {v:UInt64}", {"a": audience, "v": version})
    return {row[0] for row in rows}


def _run_row(reader, run: int) -> dict:
    frame = reader.query_df("SELECT * FROM cdp_sync_runs WHERE run = {r:UInt64}", {"r": run})
    assert len(frame) == 1
    return frame.iloc[0].to_dict()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def run(stack_settings, warehouse, analyst, rules, tmp_path):
    def go(source, now=None):
        return sync(stack_settings, warehouse, analyst, source, rules, tmp_path, now)

    return go


# -- PostgreSQL ------------------------------------------------------------------------------------------------
def test_postgres_incremental_tags_and_as_of(pg, people, warehouse, analyst, run):
    table = _unique("tags")
    tier, city = _unique("tier"), _unique("city")
    pg.execute(f"CREATE TABLE {table} (uid text, tier text, city_name text, changed_at timestamptz)")
    first = [(people.user(n), ["gold", "silver"][n % 2], f"c{n % 3}", T0 + n * dt.timedelta(minutes=1)) for n in range(10)]
    first += [(f"{people.prefix}nobody{k}", "gold", "c0", T0) for k in range(3)]  # ids with no OneID
    with pg.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s)", first)
    source = make_source(
        name=_unique("pg_inc"), postgres={"database": SOURCE_DB, "query": f"SELECT * FROM {table}"},
        person={"column": "uid", "id_type": "user_id"}, mode="incremental", updated="changed_at",
        tags=[{"column": "tier", "tag": tier}, {"column": "city_name", "tag": city}],
    )  # fmt: skip
    result = run(source)
    assert result.ok, result.error
    assert (result.rows_read, result.persons_mapped, result.unmapped) == (13, 10, 3)
    assert result.unmapped_by_type == {"user_id": 3} and len(result.unmapped_sample) == 3
    assert result.tags_written == 20
    assert last_watermark(analyst, source.name) == T0 + 9 * dt.timedelta(minutes=1)
    # Changes after the watermark: person 1 becomes gold, person 2 loses its city (NULL), person 11 is new.
    with pg.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET tier = 'gold', changed_at = %s WHERE uid = %s", (T0 + 2 * H, people.user(1)))
        cursor.execute(f"UPDATE {table} SET city_name = NULL, changed_at = %s WHERE uid = %s", (T0 + 3 * H, people.user(2)))
        cursor.execute(f"INSERT INTO {table} VALUES (%s, 'bronze', 'c9', %s)", (people.user(11), T0 + 3 * H))
    second = run(source)
    assert second.ok, second.error
    assert second.rows_read == 3 and second.unmapped == 0  # only rows changed after the watermark
    assert (second.tags_written, second.tags_deleted) == (5, 1)
    # Hand-computed tables: current, and as of times between the runs' rows.
    expected = {(people.oneid(n), tier): ["gold", "silver"][n % 2] for n in range(10)}
    expected |= {(people.oneid(n), city): f"c{n % 3}" for n in range(10)}
    expected[(people.oneid(1), tier)] = "gold"
    del expected[(people.oneid(2), city)]
    expected |= {(people.oneid(11), tier): "bronze", (people.oneid(11), city): "c9"}
    oneids = [people.oneid(n) for n in range(12)]
    assert _current(analyst, [tier, city], oneids) == expected
    assert _as_of(analyst, people.oneid(1), T0 + H, tier, city) == {tier: "silver", city: "c1"}
    assert _as_of(analyst, people.oneid(1), T0 + 2 * H, tier, city) == {tier: "gold", city: "c1"}
    assert _as_of(analyst, people.oneid(2), T0 + 3 * H - dt.timedelta(milliseconds=1), tier, city) == {tier: "gold", city: "c2"}
    assert _as_of(analyst, people.oneid(2), T0 + 3 * H, tier, city) == {tier: "gold"}
    assert _as_of(analyst, people.oneid(11), T0, tier, city) == {}
    # A third run with nothing new reads nothing and keeps the watermark.
    third = run(source)
    assert third.ok and third.rows_read == 0 and last_watermark(analyst, source.name) == T0 + 3 * H
    runs = history(analyst, source.name)
    assert [r["status"] for r in runs] == ["ok", "ok", "ok"] and runs[-1]["unmapped"] == 3


def test_postgres_full_audiences_and_deletions(pg, people, analyst, run):
    table = _unique("seg")
    tier = _unique("tier")
    vip, churn = _unique("vip"), _unique("churn")
    pg.execute(f"CREATE TABLE {table} (phone text, segment text, tier text)")
    rows = [(people.phone(n), vip if n < 5 else churn if n < 12 else None, f"t{n % 2}") for n in range(15)]
    with pg.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s)", rows)
    source = make_source(
        name=_unique("pg_full"), postgres={"database": SOURCE_DB, "query": f"SELECT phone, segment, tier FROM {table}"},
        person={"column": "phone", "id_type": "phone_hash"}, audiences=[vip, churn], audience_column="segment",
        tags=[{"column": "tier", "tag": tier}],
    )  # fmt: skip
    first = run(source, now=T0)
    assert first.ok, first.error
    # phone_hash values are upper-case at the source: normalised to lower case as identity.yaml says, person 0's
    # phone was deleted from the graph -> unmapped.
    assert (first.unmapped, first.persons_mapped) == (1, 14)
    assert _members(analyst, vip) == {people.oneid(n) for n in range(1, 5)}
    assert _members(analyst, churn) == {people.oneid(n) for n in range(5, 12)}
    assert first.audience_sizes == {vip: 4, churn: 7} and first.tags_written == 14
    # Second snapshot: person 3 left the source entirely, person 4 changed segment; tiers of 5..9 flip.
    pg.execute(f"DELETE FROM {table} WHERE phone = %s", (people.phone(3),))
    pg.execute(f"UPDATE {table} SET segment = %s WHERE phone = %s", (churn, people.phone(4)))
    pg.execute(f"UPDATE {table} SET tier = 'tx' WHERE phone IN ({', '.join(['%s'] * 5)})", [people.phone(n) for n in range(5, 10)])
    second = run(source, now=T0 + H)
    assert second.ok, second.error
    assert _members(analyst, vip) == {people.oneid(n) for n in (1, 2)}
    assert _members(analyst, churn) == {people.oneid(n) for n in range(4, 12)}
    assert (second.tags_written, second.tags_deleted) == (5, 1)  # only changes, and person 3's tier deleted
    assert [size for _, _, size in store.size_history(analyst, vip)] == [4, 2]
    assert _as_of(analyst, people.oneid(3), T0, tier) == {tier: "t1"}
    assert _as_of(analyst, people.oneid(3), T0 + H, tier) == {}


def test_unreachable_database_keeps_previous_version(pg, people, analyst, run, monkeypatch):
    table, audience = _unique("aud"), _unique("reach")
    pg.execute(f"CREATE TABLE {table} (uid text)")
    pg.execute(f"INSERT INTO {table} VALUES (%s), (%s)", (people.user(1), people.user(2)))
    good = make_source(name=_unique("reach"), postgres={"database": SOURCE_DB, "query": f"SELECT uid FROM {table}"},
                       person={"column": "uid", "id_type": "user_id"}, audiences=[audience])  # fmt: skip
    assert run(good).ok
    version = store.current_version(analyst, audience)
    monkeypatch.setenv("CDP_TEST_DOWN_URL", f"postgresql://nobody:secret@127.0.0.1:{_free_port()}/x")
    down = make_source(name=good.name, postgres={"url_env": "CDP_TEST_DOWN_URL", "query": "SELECT uid FROM t"},
                       person={"column": "uid", "id_type": "user_id"}, audiences=[audience])  # fmt: skip
    failed = run(down)
    assert not failed.ok and "not reachable" in failed.error and good.name in failed.error
    assert "secret" not in failed.error
    assert store.current_version(analyst, audience) == version
    recorded = _run_row(analyst, failed.run)
    assert recorded["status"] == "failed" and recorded["error"] == failed.error


def test_bad_query_fails_with_postgres_reason(pg, people, run):
    source = make_source(name=_unique("badq"), postgres={"database": SOURCE_DB, "query": "SELECT uid FROM no_such_table"},
                         person={"column": "uid", "id_type": "user_id"}, tags=["uid"])  # fmt: skip
    failed = run(source)
    assert not failed.ok and "no_such_table" in failed.error


def test_unknown_id_type_refused_with_its_name(people, run, tmp_path):
    (tmp_path / "x.csv").write_text(f"who,tier\n{people.user(1)},gold\n")
    source = make_source(name=_unique("unk"), file={"path": "x.csv"}, person={"column": "who", "id_type": "loyalty_card"}, tags=["tier"])
    failed = run(source)
    assert not failed.ok and "unknown id type 'loyalty_card'" in failed.error and "user_id" in failed.error


# -- files -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_file_full_sync(people, analyst, run, tmp_path, fmt):
    audience, score = _unique(f"f{fmt}"), _unique("score")
    frame = pd.DataFrame(
        {
            "user": [people.user(n) for n in range(20, 30)] + ["", f"{people.prefix}ghost"],
            "score": [str(n * 10) for n in range(10)] + ["1", "2"],
            "seen": [T0 + n * H for n in range(12)],
        }
    )
    path = tmp_path / f"persons.{fmt}"
    frame.to_csv(path, index=False) if fmt == "csv" else frame.to_parquet(path)
    source = make_source(name=_unique(fmt), file={"path": path.name}, person={"column": "user", "id_type": "user_id"},
                         updated="seen", tags=[{"column": "score", "tag": score}], audiences=[audience])  # fmt: skip
    result = run(source)
    assert result.ok, result.error
    assert (result.rows_read, result.persons_mapped, result.unmapped) == (12, 10, 2)  # the empty id counts too
    assert _members(analyst, audience) == {people.oneid(n) for n in range(20, 30)}
    current = _current(analyst, [score], [people.oneid(n) for n in range(20, 30)])
    assert current == {(people.oneid(20 + k), score): str(k * 10) for k in range(10)}
    assert _as_of(analyst, people.oneid(25), T0 + 5 * H - dt.timedelta(milliseconds=1), score) == {}
    assert _as_of(analyst, people.oneid(25), T0 + 5 * H, score) == {score: "50"}


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"PAR1 not really parquet", "persons.parquet"),
        (None, "not found"),
    ],
)
def test_bad_file_keeps_previous_version(people, analyst, run, tmp_path, content, reason):
    audience = _unique("badf")
    good = tmp_path / "good.csv"
    good.write_text(f"user\n{people.user(5)}\n")
    ok = run(make_source(name=_unique("bf"), file={"path": "good.csv"}, person={"column": "user", "id_type": "user_id"}, audiences=[audience]))
    assert ok.ok, ok.error
    version = store.current_version(analyst, audience)
    if content is not None:
        (tmp_path / "persons.parquet").write_bytes(content)
    failed = run(make_source(name=ok.source, file={"path": "persons.parquet"}, person={"column": "user", "id_type": "user_id"}, audiences=[audience]))
    assert not failed.ok
    assert reason in failed.error or "Parquet" in failed.error, failed.error
    assert store.current_version(analyst, audience) == version


def test_missing_column_named(people, run, tmp_path):
    (tmp_path / "x.csv").write_text(f"user,tier\n{people.user(1)},gold\n")
    failed = run(make_source(name=_unique("mc"), file={"path": "x.csv"}, person={"column": "user", "id_type": "user_id"}, tags=["level"]))
    assert not failed.ok and "lack column(s) level" in failed.error


def test_undeclared_audience_value_and_size_limit(people, analyst, run, tmp_path, stack_settings, monkeypatch):
    small = _unique("small")
    (tmp_path / "a.csv").write_text("user,seg\n" + "".join(f"{people.user(n)},{small}\n" for n in range(6)))
    source = make_source(name=_unique("lim"), file={"path": "a.csv"}, person={"column": "user", "id_type": "user_id"},
                         audiences=[small], audience_column="seg")  # fmt: skip
    assert run(source).ok
    version = store.current_version(analyst, small)
    monkeypatch.setattr(stack_settings, "cdp_max_audience_persons", 5)
    (tmp_path / "a.csv").write_text("user,seg\n" + "".join(f"{people.user(n)},{small}\n" for n in range(7)))
    too_big = run(source)
    assert not too_big.ok and "more than the maximum of 5" in too_big.error
    assert store.current_version(analyst, small) == version
    (tmp_path / "a.csv").write_text(f"user,seg\n{people.user(1)},other_audience\n")
    undeclared = run(source)
    assert not undeclared.ok and "other_audience" in undeclared.error
    assert store.current_version(analyst, small) == version


def test_warehouse_sql_source(people, analyst, run):
    audience = _unique("wh")
    values = ", ".join(f"('{people.user(n)}')" for n in range(3))
    source = make_source(name=_unique("wh"), warehouse={"sql": f"SELECT c1 AS uid FROM values({values})"},
                         person={"column": "uid", "id_type": "user_id"}, audiences=[audience])  # fmt: skip
    result = run(source)
    assert result.ok, result.error
    assert _members(analyst, audience) == {people.oneid(n) for n in range(3)}


def test_oneid_id_type(people, analyst, run, tmp_path):
    audience = _unique("oid")
    (tmp_path / "o.csv").write_text("oneid\n" + "".join(f"{people.oneid(n)}\n" for n in range(3)) + "not-a-oneid\n")
    result = run(make_source(name=_unique("oid"), file={"path": "o.csv"}, person={"column": "oneid", "id_type": "oneid"}, audiences=[audience]))
    assert result.ok and result.unmapped == 1
    assert _members(analyst, audience) == {people.oneid(n) for n in range(3)}
