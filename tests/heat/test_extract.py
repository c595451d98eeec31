"""Extraction cases (tests/heat/cases/extraction.jsonl: one JSON object per case, only the keys it checks),
and the passes on their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.heat import syntax as s
from pipelines.heat.catalog import Catalog
from pipelines.heat.extract import ExtractionFailure, Extractor, extract, normalize
from pipelines.heat.parse import parse
from pipelines.heat.qualify import qualify

CASES = [json.loads(line) for line in (Path(__file__).parent / "cases" / "extraction.jsonl").read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_extraction_case(case, request):
    catalog = request.getfixturevalue("corpus_catalog") if case.get("catalog") else Catalog("trackflow")
    result = extract(case["sql"], case.get("parameters"), catalog)
    assert not isinstance(result, ExtractionFailure), result
    if "tables" in case:
        assert sorted(result.tables) == sorted(case["tables"])
    if "columns" in case:
        got = {use.qualified: sorted(use.roles) for use in result.columns}
        for column, roles in case["columns"].items():
            assert column in got, f"{column} not extracted; got {sorted(got)}"
            assert got[column] == sorted(roles), column
        if case.get("exact_columns"):
            assert sorted(got) == sorted(case["columns"])
    if "events" in case:
        assert sorted({e.event for e in result.events}) == sorted(case["events"])
    if "event_vias" in case:
        assert {e.via for e in result.events} == set(case["event_vias"])
    if "time_range" in case:
        assert [[t.column, t.lower, t.upper] for t in result.time_range] == case["time_range"]
    if "relative" in case:
        assert all(t.relative == case["relative"] for t in result.time_range)
    if "unresolved_kinds" in case:
        assert {u.kind for u in result.unresolved} == set(case["unresolved_kinds"])
    if case.get("no_unresolved"):
        assert result.unresolved == ()
    for key in ("dictionaries", "table_functions", "writes"):
        if key in case:
            assert list(getattr(result, key)) == case[key]
    if "statement" in case:
        assert result.statement == case["statement"]


def test_unparseable_sql_reports_position_and_never_raises():
    result = extract("SELECT a\nFROM t WHERE AND b")
    assert isinstance(result, ExtractionFailure)
    assert (result.line, result.column) == (2, 13)
    assert set(result.as_json()) == {"error", "line", "column"}


@pytest.mark.parametrize("garbage", ["", ";", "\x00\x01", "'", "SELECT (((", "🙂", "SELECT " + "a," * 5000 + "b"])
def test_garbage_never_raises(garbage):
    extract(garbage)  # a result or an ExtractionFailure, never an exception


def test_qualify_inlines_aliases_and_binds_columns():
    statement = parse("SELECT x + 1 AS y FROM events WHERE y > 2").statements[0]
    qualified = qualify(statement, Catalog("trackflow"))
    where = qualified.query.where
    assert where.name == "greater"
    bound = where.arguments[0].arguments[0]
    assert isinstance(bound, s.BoundColumn) and bound.columns == (s.QualifiedColumn("trackflow.events", "x"),)


def test_self_referencing_alias_is_the_column():
    result = extract("SELECT toDate(ts) AS ts FROM events WHERE ts > '2026-01-01'", catalog=Catalog("trackflow"))
    assert [u.qualified for u in result.columns] == ["trackflow.events.ts"]


def test_normalize_ignores_comments_and_spacing_but_not_literals():
    a = normalize("SELECT  a -- first\nFROM t WHERE b = 'x  y';")
    assert a == normalize("SELECT a /* c */ FROM t WHERE b = 'x  y'")
    assert a != normalize("SELECT a FROM t WHERE b = 'x y'")


def test_cache_hits_by_normalized_text_and_binds_each_call():
    extractor = Extractor(Catalog("trackflow"))
    sql = "SELECT count() FROM events WHERE event = {e:String}"
    first = extractor.extract(sql, {"e": "a"})
    second = extractor.extract(sql.replace(" ", "  ") + " -- again", {"e": "b"})
    assert (extractor.misses, extractor.hits) == (1, 1)
    assert [e.event for e in first.events] == ["a"] and [e.event for e in second.events] == ["b"]


def test_cache_is_bounded():
    extractor = Extractor(cache_size=3)
    for n in range(10):
        extractor.extract(f"SELECT {n}")
    assert len(extractor._cache) == 3


def test_threads_extract_the_same_as_one_thread():
    """The recorder thread and API/CLI threads parse at once; results must not depend on interleaving."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.corpus.corpus import entries

    sqls = [e["sql"] for e in entries()[::7]]
    sequential = [extract(sql, catalog=Catalog("corpus")) for sql in sqls]
    with ThreadPoolExecutor(4) as pool:
        concurrent = list(pool.map(lambda sql: extract(sql, catalog=Catalog("corpus")), sqls))
    assert concurrent == sequential
