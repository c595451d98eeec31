"""The alert state machine: for-durations, one notification per state change, silences, aggregation, and a source
that could not be sampled keeping its alerts as they were."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.monitoring.engine import Evaluator, Silence, series
from pipelines.monitoring.rules import Rule

LAG = "trackflow_kafka_consumer_lag_messages"


def rule(**overrides) -> Rule:
    fields = {"name": "lag", "priority": "P1", "metric": LAG, "op": ">", "threshold": 100, "for": "30s", "summary": "s", "runbook": "r"}
    return Rule.model_validate({**fields, **overrides})


def lag(value: float, group: str = "g", partition: str = "0"):
    return {LAG: [({"group": group, "topic": "t", "partition": partition}, value)]}


def states(changes):
    return [(c.state, c.notify) for c in changes]


def test_pending_then_firing_after_for_then_resolved_once():
    engine = Evaluator((rule(),))
    assert states(engine.step(0, lag(500), [])) == [("pending", False)]
    assert engine.step(15, lag(500), []) == []
    assert states(engine.step(30, lag(500), [])) == [("firing", True)]
    assert all(engine.step(t, lag(900), []) == [] for t in range(31, 300, 5))  # not once per evaluation
    assert states(engine.step(301, lag(10), [])) == [("resolved", True)]
    assert engine.step(302, lag(10), []) == []


def test_a_condition_that_clears_while_pending_never_notifies():
    engine = Evaluator((rule(),))
    engine.step(0, lag(500), [])
    assert engine.step(20, lag(50), []) == []
    assert states(engine.step(25, lag(500), [])) == [("pending", False)]  # starts over
    assert engine.step(50, lag(500), []) == []
    assert states(engine.step(55, lag(500), [])) == [("firing", True)]


def test_for_zero_fires_on_the_first_evaluation():
    engine = Evaluator((rule(**{"for": "0s"}),))
    assert states(engine.step(0, lag(500), [])) == [("firing", True)]


def test_a_silence_records_but_does_not_notify_and_the_end_of_it_does():
    engine = Evaluator((rule(**{"for": "0s"}),))
    silence = Silence("s1", "lag", {"group": "g"}, starts_at=0, ends_at=100)
    assert states(engine.step(10, lag(500), [silence])) == [("silenced", False)]
    assert engine.step(50, lag(500), [silence]) == []
    assert states(engine.step(100, lag(500), [silence])) == [("firing", True)]  # silence over, still firing


def test_an_alert_resolved_under_its_silence_is_never_announced():
    engine = Evaluator((rule(**{"for": "0s"}),))
    silence = Silence("s1", "", {"group": "g"}, starts_at=0, ends_at=100)
    engine.step(10, lag(500), [silence])
    assert states(engine.step(20, lag(0), [silence])) == [("resolved", False)]


def test_a_silence_of_other_labels_or_another_rule_does_not_apply():
    engine = Evaluator((rule(**{"for": "0s"}),))
    others = [Silence("a", "lag", {"group": "other"}, 0, 100), Silence("b", "job_down", {}, 0, 100)]
    assert states(engine.step(10, lag(500), others)) == [("firing", True)]


def test_an_unavailable_metric_keeps_the_alert_firing():
    engine = Evaluator((rule(**{"for": "0s"}),))
    engine.step(0, lag(500), [])
    assert engine.step(10, {}, [], unavailable={LAG}) == []
    assert states(engine.step(20, {}, [])) == [("resolved", True)]  # sampled, and the series is gone


def test_aggregate_by_group_alerts_once_per_group_not_per_partition():
    r = rule(aggregate="sum", by=["group"], **{"for": "0s"})
    samples = {LAG: [({"group": "g", "topic": "t", "partition": str(p)}, 60.0) for p in range(4)] + [({"group": "h", "topic": "t", "partition": "0"}, 5.0)]}
    assert series(r, samples[LAG]) == {(("group", "g"),): 240.0, (("group", "h"),): 5.0}
    changes = Evaluator((r,)).step(0, samples, [])
    assert [(c.state, dict(c.alert.labels)) for c in changes] == [("firing", {"group": "g"})]


def test_match_narrows_the_series():
    r = rule(match={"group": "h"}, **{"for": "0s"})
    assert Evaluator((r,)).step(0, {LAG: [({"group": "g"}, 500.0), ({"group": "h"}, 50.0)]}, []) == []


def test_an_acknowledgement_counts_for_the_firing_it_came_after():
    engine = Evaluator((rule(**{"for": "0s"}),))
    engine.step(100, lag(500), [])
    (alert,) = engine.alerts.values()
    engine.acknowledge({alert.fingerprint: 50})
    assert not alert.acknowledged
    engine.acknowledge({alert.fingerprint: 150})
    assert alert.acknowledged


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(min_value=1, max_value=40)), min_size=1, max_size=60))
def test_notifications_alternate_firing_resolved_whatever_the_sequence(steps):
    """Any sequence of holding / not holding at any spacing: notifications alternate firing, resolved, ...; a firing
    is notified only once the condition held for `for` without a break."""
    engine = Evaluator((rule(),))
    now, held_since, sent = 0.0, None, []
    for holding, gap in steps:
        now += gap
        held_since = (held_since if held_since is not None else now) if holding else None
        for change in engine.step(now, lag(500 if holding else 0), []):
            if change.notify:
                sent.append(change.state)
                if change.state == "firing":
                    assert now - held_since >= 30
    assert sent == ["firing", "resolved"] * (len(sent) // 2) + (["firing"] if len(sent) % 2 else [])
