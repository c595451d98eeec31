"""Every SQL string the analysis models (pipelines/analysis, issue 5) build parses, and extracts exactly the
tables, columns and events ClickHouse's EXPLAIN QUERY TREE resolves for it on the session warehouse.

The requests are the analysis suite's own (its snapshot requests and funnel variants) plus one request per
option family of each model, so a new model option shows up here through the analysis tests' request sets."""

from __future__ import annotations

import pytest

from pipelines.heat.catalog import Catalog
from pipelines.heat.extract import ExtractionFailure, Extractor
from pipelines.heat.oracle import explain, warehouse_runner
from pipelines.heat.scoring import predicted_sets

analysis = pytest.importorskip("pipelines.analysis")
from tests.analysis.test_models import FUNNELS, SCOPE  # noqa: E402
from tests.analysis.test_safety import SNAPSHOT_REQUESTS  # noqa: E402

REQUESTS = {
    **{f"snapshot_{name}": request for name, request in SNAPSHOT_REQUESTS.items()},
    **{f"funnel_{name}": {**SCOPE, "model": "funnel", **options} for name, options in FUNNELS.items()},
    "event_metrics": {**SCOPE, "model": "event", "granularity": "hour", "group_by": ["platform"], "metrics": [
        {"event": "view", "math": "unique_persons"}, {"event": "pay", "math": "per_person_avg"},
        {"event": "pay", "math": "sum", "property": "price", "filters": [{"property": "channel", "op": "!=", "value": "seo"}]}]},
    "retention_weekly": {**SCOPE, "model": "retention", "initial": {"event": "view"}, "returning": {"event": "search"},
                         "period": "week", "periods": 3, "mode": "recurring"},
    "interval_same_property": {**SCOPE, "model": "interval", "start": {"event": "view"}, "end": {"event": "cart"},
                               "same_property": "product_id"},
    "distribution_buckets": {**SCOPE, "model": "distribution", "event": {"event": "pay"}, "measure": "sum",
                             "property": "price", "bucket_edges": [0, 10, 100, 1000]},
}  # fmt: skip


def built_queries():
    for name, request in REQUESTS.items():
        for part, query in analysis.build_queries(analysis.parse_request(request)).items():
            yield pytest.param(query, id=f"{name}-{part}")


@pytest.fixture(scope="module")
def extractor(warehouse):
    return Extractor(Catalog.from_warehouse(warehouse))


@pytest.mark.parametrize("query", list(built_queries()))
def test_model_sql_extracts_what_the_analyzer_resolves(query, extractor, analyst):
    result = extractor.extract(query.sql, query.parameters)
    assert not isinstance(result, ExtractionFailure), result
    reference = explain(warehouse_runner(analyst), query.sql, query.parameters)
    got = predicted_sets(result)
    # The comparison is never vacuous: every model SQL reads tables and columns. Not every one names an event:
    # queries over all events (terminal all-events, lifecycle `$any`) have none, and the exact comparison below
    # then checks that the extraction finds none either.
    assert reference.tables and reference.columns
    assert got["tables"] == set(reference.tables)
    assert got["columns"] == set(reference.columns)
    assert got["events"] == set(reference.events)
    assert not [u for u in result.unresolved if u.kind in ("column", "parameter")], result.unresolved
