"""The query corpus (tests/corpus): its stored expectations are what ClickHouse's EXPLAIN QUERY TREE says on the
embedded warehouse, and the heat extraction meets the issue's goals against them."""

from __future__ import annotations

import pytest

from pipelines.heat.extract import ExtractionFailure, Extractor
from pipelines.heat.oracle import explain, warehouse_runner
from pipelines.heat.scoring import CorpusScore, predicted_sets
from tests.corpus.corpus import entries as corpus_entries

ENTRIES = corpus_entries()


def test_corpus_is_large_and_varied():
    assert len(ENTRIES) >= 500
    assert len({e["id"] for e in ENTRIES}) == len(ENTRIES)
    assert {"clickbench", "ssb", "ontime", "trackflow", "statements"} <= {e["source"] for e in ENTRIES}
    assert sum(1 for e in ENTRIES if "expected" in e) >= 500


def test_stored_expectations_are_what_explain_query_tree_says(corpus_warehouse):
    run = warehouse_runner(corpus_warehouse)
    stale = []
    for entry in ENTRIES:
        if "expected" not in entry:
            continue
        reference = explain(run, entry["sql"], entry.get("parameters"))
        live = {"tables": sorted(reference.tables), "columns": sorted(reference.columns), "events": sorted(reference.events)}
        if live != entry["expected"]:
            stale.append(entry["id"])
    assert not stale, f"re-run tests/corpus/build_expected.py; stale: {stale[:20]}"


def test_extraction_meets_the_goals_on_the_corpus(corpus_catalog):
    extractor = Extractor(corpus_catalog)
    score = CorpusScore()
    for entry in ENTRIES:
        result = extractor.extract(entry["sql"], entry.get("parameters"))
        predicted = None if isinstance(result, ExtractionFailure) else predicted_sets(result)
        score.add(entry["id"], predicted, entry.get("expected"))
    detail = "\n".join(score.mismatches[:30])
    assert score.parse_rate >= 0.99, detail
    assert score.tables.precision >= 0.995 and score.tables.recall >= 0.995, detail
    assert score.columns.precision >= 0.98 and score.columns.recall >= 0.98, detail
    assert score.events.precision >= 0.98 and score.events.recall >= 0.98, detail


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.get("parse_only")], ids=lambda e: e["id"])
def test_statements_parse(entry):
    assert not isinstance(Extractor().extract(entry["sql"]), ExtractionFailure)
