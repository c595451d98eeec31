"""Heat grading on the session warehouse: scores follow the documented half-life formula, tiers the thresholds,
and unused tables are graded cold."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from pipelines.heat.grading import GradingPolicy, grade, tier_of, write_tiers
from pipelines.heat.recorder import HeatRecorder, SeenQuery


def test_tier_thresholds():
    policy = GradingPolicy(hot_threshold=10, warm_threshold=1)
    assert [tier_of(s, policy) for s in (10, 9.99, 1, 0.99, 0)] == ["hot", "warm", "warm", "cold", "cold"]


@pytest.fixture
def heat_history(warehouse):
    """Uses of three made-up tables at known ages, written through the recorder like real traffic."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    tag = uuid.uuid4().hex[:6]
    tables = {"hot": f"grade_hot_{tag}", "warm": f"grade_warm_{tag}", "cold": f"grade_cold_{tag}"}
    uses = {"hot": [(0.1, "ana"), (0.2, "bob")] * 8, "warm": [(2.0, "ana")] * 3, "cold": [(30.0, "ana")]}
    batch = [
        SeenQuery(str(uuid.uuid4()), f"SELECT count() FROM {tables[kind]}", {}, user,
                  (now - timedelta(days=age)).timestamp(), 0.01, 0, 1, "")
        for kind, entries in uses.items() for age, user in entries
    ]
    HeatRecorder(warehouse).record(batch)
    return now, tables, uses


def test_scores_and_tiers(warehouse, heat_history):
    now, tables, uses = heat_history
    policy = GradingPolicy()
    graded = {g.object: g for g in grade(warehouse, policy, now=now) if g.object_kind == "table"}
    for kind, table in tables.items():
        entry = graded[f"trackflow.{table}"]
        expected = sum(0.5 ** (age / policy.half_life_days) for age, _ in uses[kind])
        assert entry.score == pytest.approx(expected, rel=1e-3)
        assert entry.query_count == len(uses[kind])
        assert entry.distinct_users == len({user for _, user in uses[kind]})
        assert entry.tier == kind
    assert write_tiers(warehouse, list(graded.values()), policy) == len(graded)
    stored = dict(warehouse.rows("SELECT object, tier FROM heat_tiers FINAL WHERE object LIKE {p:String}",
                                 {"p": f"%{tables['hot'][-6:]}"}))
    assert stored == {f"trackflow.{t}": kind for kind, t in tables.items()}


def test_tables_nobody_queried_are_cold(warehouse):
    name = f"never_queried_{uuid.uuid4().hex[:6]}"
    warehouse.command(f"CREATE TABLE {name} (a UInt8) ENGINE = MergeTree ORDER BY a")
    try:
        graded = {g.object: g for g in grade(warehouse)}
        assert graded[f"trackflow.{name}"].tier == "cold" and graded[f"trackflow.{name}"].query_count == 0
    finally:
        warehouse.command(f"DROP TABLE {name}")
