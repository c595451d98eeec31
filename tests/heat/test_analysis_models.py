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

# Person-level filters and breakdowns (pipelines/analysis/person_filters.py): audience, tag and person-property
# subqueries, in global and step filters, and the tag/audience breakdown expressions, in models of each SQL shape.
PERSON_ITEMS = [{"audience": "vip", "op": "not_in"}, {"tag": "level", "op": ">", "value": 3},
                {"person_property": "city", "op": "in", "value": ["sh"]}]  # fmt: skip
REQUESTS |= {
    "person_filters_funnel": {**SCOPE, "model": "funnel", "filters": PERSON_ITEMS, "breakdown": {"tag": "level"},
                              "steps": [{"event": "view", "filters": [{"audience": "vip"}]}, {"event": "cart"}]},
    "person_filters_event": {**SCOPE, "model": "event", "filters": PERSON_ITEMS[1:], "metrics": [{"event": "view"}],
                             "group_by": [{"audience": ["vip", "new"]}, "platform"]},
    "person_filters_retention": {**SCOPE, "model": "retention", "filters": PERSON_ITEMS, "initial": {"event": "view"},
                                 "returning": {"event": "search"}},
    "person_filters_paths": {**SCOPE, "model": "paths", "filters": PERSON_ITEMS, "start": {"event": "view"}},
}  # fmt: skip


def _known_names(query):
    """The name lookup's answer as if every name existed (version 7): the SQL built is what a real one gets."""
    return [(kind, name, [7] if kind == "audience" else []) for kind, name in ((k, n) for k in ("audience", "tag", "person_property")
            for n in query.parameters.get({"audience": "audiences", "tag": "tags", "person_property": "person_properties"}[k], []))]  # fmt: skip


def built_queries():
    from pipelines.analysis.person_filters import resolve

    for name, request in REQUESTS.items():
        for part, query in analysis.build_queries(resolve(analysis.parse_request(request), _known_names)).items():
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
