"""The stages measured last (issue 21): the dwd job's dedup drops (counted where the event index decides them,
reconciled, exposed per job), OneID (links, splits, `oneid serve`'s lookups and their latency) and Dagster (runs,
schedules, assets, and the two schedule rules of the shipped alerts.yaml), each against a real component: the
session's warehouse, a served lookup service, a Dagster instance on disk with runs that really ran."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from pipelines.config import Settings
from pipelines.identity.changes import person_message
from pipelines.identity.graph import Person
from pipelines.identity.index import OneIdIndex
from pipelines.identity.metrics import record_links
from pipelines.identity.rules import load_rules
from pipelines.identity.service import SERVICE_NAME, create_app
from pipelines.monitoring import rules as rules_module
from pipelines.monitoring.engine import Evaluator
from pipelines.monitoring.reconcile import compare, first_mismatch
from pipelines.monitoring.sources import SLOW_EVERY_ROUNDS, CdpSource, DagsterSource, OneIdServiceSource, PipelineSource, Sparse, WarehouseSource, bucket_quantile
from pipelines.streaming.metrics import METRIC_COLUMNS, MinuteCounts, latency_bucket, summarise_dropped
from pipelines.streaming.writer import DetailWriter
from tests.streaming.test_writer import batch

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "monitoring-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def series(triples, name: str) -> dict[tuple, float]:
    return {tuple(sorted(labels.items())): value for metric, labels, value in triples if metric == name}


def last_closed_minute() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - dt.timedelta(minutes=1)


def sampled_in(minute: dt.datetime, write, source: PipelineSource) -> list:
    """Write rows into `minute`, then sample; again if the minute closed in between (the source reads the last one)."""
    for _ in range(2):
        write(minute)
        triples = source.sample()
        if last_closed_minute() == minute:
            return triples
        minute = last_closed_minute()
    raise AssertionError("the minute kept changing")


# -- dedup drops ------------------------------------------------------------------------------------------------
def test_the_events_the_index_drops_are_the_copies_and_reconcile_raw_with_detail(stack_settings, warehouse):
    run, app = uuid.uuid4().hex, f"dedup-{uuid.uuid4().hex[:8]}"
    events = [dict(event, app_id=app) for event in batch(40, run)]
    writer = DetailWriter(stack_settings)
    try:
        first = writer.write("dedup_probe", events[:30])
        resent = events[20:] + events[35:]  # 10 already written, 10 new of which 5 come twice in the batch
        second = writer.write("dedup_probe", resent)
    finally:
        writer.close()
    assert (len(first.events), first.dropped) == (30, [])
    assert len(second.events) == 10 and second.already_present == 15
    assert sorted(e["event_id"] for e in second.dropped) == sorted(e["event_id"] for e in events[20:30] + events[35:])

    # The dwd job's summary of them: by received minute and app, so that raw copies = detail + drops (+ quarantined).
    summaries = summarise_dropped("dedup_probe", second.dropped)
    counts = MinuteCounts()
    for summary in summaries:
        counts.merge_summary(json.loads(summary))
    assert {stage for (_, stage, _, _) in counts.counts} == {"dedup.dedup_probe"} and sum(counts.counts.values()) == 15

    raw = 30 + len(resent)  # every copy is a record on Kafka
    stages = {("collected", app): raw, ("raw", app): raw, ("ods.dedup_probe", app): raw, ("dwd.dedup_probe", app): 40, ("dedup.dedup_probe", app): 15}
    assert first_mismatch(compare(stages, {("dedup_probe", app): 40})) is None
    without = {key: n for key, n in stages.items() if key[0] != "dedup.dedup_probe"}  # before the drops were counted
    before = first_mismatch(compare(without, {("dedup_probe", app): 40}))  # the drops were read as a loss in dwd
    assert (before.stage, before.layer, before.expected - before.observed) == ("dwd", "dedup_probe", 15)


def test_dedup_drops_oneid_links_splits_and_freshness_are_exposed_per_job(warehouse):
    """One query reads them all (pipeline_metrics and OneID's tables): each figure lands in its own series."""
    app, layer = f"dedup-{uuid.uuid4().hex[:8]}", f"fresh{uuid.uuid4().hex[:8]}"
    source = PipelineSource(warehouse)

    def write(minute: dt.datetime) -> None:
        counts = MinuteCounts()
        at_ms = int(minute.timestamp() * 1000) + 1_000
        counts.add("dedup.trade", app, "buy", at_ms, events=7)
        counts.add("dwd.trade", app, "buy", at_ms, events=20)
        counts.add(f"dwd.{layer}", app, "buy", at_ms, events=90, latency_ms=900)  # p50 in 900's bucket
        counts.add(f"dwd.{layer}", app, "buy", at_ms, events=10, latency_ms=20_000)  # the slowest 10%: p95 in this one
        warehouse.insert("pipeline_metrics", counts.rows(job="metrics"), METRIC_COLUMNS, settings={"async_insert": 0})
        record_links(warehouse, 120, now_ms=at_ms)
        warehouse.insert("oneid_blocks", [["value", f"device_id:{uuid.uuid4().hex}", "", "test", "test", minute + dt.timedelta(seconds=5)]],
                         ("kind", "strong", "weak", "reason", "created_by", "created_at"), settings={"async_insert": 0})  # fmt: skip

    triples = sampled_in(last_closed_minute(), write, source)
    assert series(triples, "trackflow_job_dedup_dropped_events")[(("app_id", app), ("job", "dwd"), ("layer", "trade"))] == 7
    stages = series(triples, "trackflow_pipeline_stage_events")
    assert stages[(("app_id", app), ("stage", "dwd.trade"))] == 20 and (("app_id", app), ("stage", "dedup.trade")) not in stages
    assert series(triples, "trackflow_oneid_links_count")[()] >= 120  # other tests' OneID jobs may count in the minute
    assert series(triples, "trackflow_oneid_actions_events")[(("action", "split"),)] >= 1
    assert series(triples, "trackflow_pipeline_freshness_p50_seconds")[(("layer", layer),)] == latency_bucket(900) / 1000
    assert series(triples, "trackflow_pipeline_freshness_p95_seconds")[(("layer", layer),)] == latency_bucket(20_000) / 1000


def test_a_slow_read_is_taken_every_nth_call_and_tried_again_after_a_failure():
    reads: list[int] = []

    def read() -> list:
        reads.append(len(reads))
        if len(reads) == 2:
            raise ConnectionError("warehouse away")
        return [len(reads)]

    sparse = Sparse(read, every=3)
    assert [sparse() for _ in range(3)] == [[1], [1], [1]] and len(reads) == 1
    with pytest.raises(ConnectionError):
        sparse()  # the 4th call reads again and fails: the source fails this round, not a stale answer
    assert sparse() == [3] and sparse() == [3] and len(reads) == 3  # read again at once, then reused


def test_cdp_runs_are_read_every_few_rounds_and_their_age_every_round(warehouse):
    source_name = f"probe-{uuid.uuid4().hex[:8]}"
    ended = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)

    def record(run: int, status: str, finished: dt.datetime) -> None:
        warehouse.insert("cdp_sync_runs", [[run, source_name, "full", status, finished - dt.timedelta(seconds=5), finished]],
                         ("run", "source", "mode", "status", "started", "finished"), settings={"async_insert": 0})  # fmt: skip

    def sampled() -> dict:
        return {name: value for name, labels, value in source.sample() if labels.get("source") == source_name}

    record(1, "ok", ended)
    source = CdpSource(warehouse)
    first = sampled()
    assert first["trackflow_cdp_sync_failed_count"] == 0 and 595 < first["trackflow_cdp_sync_age_seconds"] < 660
    record(2, "failed", dt.datetime.now(dt.timezone.utc))
    time.sleep(0.05)
    rounds = [sampled() for _ in range(SLOW_EVERY_ROUNDS - 1)]
    assert all(r["trackflow_cdp_sync_failed_count"] == 0 for r in rounds)  # the runs read in the first round
    assert rounds[-1]["trackflow_cdp_sync_age_seconds"] > first["trackflow_cdp_sync_age_seconds"]  # the age is now's
    assert sampled()["trackflow_cdp_sync_failed_count"] == 1  # read again: the failed run is seen


def test_the_warehouse_system_tables_are_read_in_one_query_into_their_series(warehouse):
    triples = WarehouseSource(warehouse).sample()
    names = {name for name, _, _ in triples}
    assert {"trackflow_warehouse_up", "trackflow_warehouse_inserted_rows_total", "trackflow_warehouse_failed_queries_total",
            "trackflow_warehouse_merges_running_count", "trackflow_warehouse_disk_free_bytes", "trackflow_warehouse_disk_total_bytes"} <= names  # fmt: skip
    assert series(triples, "trackflow_warehouse_active_parts")[(("table", "pipeline_metrics"),)] > 0  # written above
    disks = series(triples, "trackflow_warehouse_disk_total_bytes")
    assert disks and all(total >= series(triples, "trackflow_warehouse_disk_free_bytes")[disk] for disk, total in disks.items())


# -- oneid serve ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lookup_index():
    index = OneIdIndex()
    index.apply_json(person_message(Person("oA", "user_id:u1", 10, {"user_id:u1": [10, 50], "device_id:d1": [10, 40]}), 1, "realtime"))
    return index


def exposed(text: str) -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples}


def test_oneid_serve_counts_and_times_each_lookup_by_endpoint_and_status(lookup_index):
    settings = Settings(oneid_tokens=[TOKEN])
    with TestClient(create_app(settings, lookup_index, load_rules(settings.identity_rules))) as client:
        for value in ("u1", "u1", "nobody"):
            client.get("/v1/oneid", params={"type": "user_id", "value": value}, headers=AUTH)
        client.get("/v1/oneid", params={"type": "user_id", "value": "u1"})  # no token
        client.post("/v1/oneid/lookup", json={"ids": [{"type": "user_id", "value": "u1"}]}, headers=AUTH)
        client.get("/v1/oneid/oA", headers=AUTH)
        metrics = client.get("/metrics")
    assert metrics.status_code == 200
    found = exposed(metrics.text)
    lookups = {labels: n for (name, labels), n in found.items() if name == "trackflow_oneid_lookups_total"}
    assert lookups == {
        (("endpoint", "value"), ("status", "200")): 2, (("endpoint", "value"), ("status", "404")): 1,
        (("endpoint", "value"), ("status", "401")): 1, (("endpoint", "batch"), ("status", "200")): 1,
        (("endpoint", "person"), ("status", "200")): 1,
    }  # fmt: skip
    timed = {labels: n for (name, labels), n in found.items() if name == "trackflow_oneid_lookup_seconds_count"}
    assert timed == {(("endpoint", "value"),): 4, (("endpoint", "batch"),): 1, (("endpoint", "person"),): 1}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_alerts_component_reads_lookup_latency_from_oneid_serve(tmp_path, lookup_index):
    import uvicorn

    settings = Settings(oneid_tokens=[TOKEN], data_dir=tmp_path)
    source = OneIdServiceSource(settings)
    assert source.sample() == [] and not source.partial()  # not started: no series at all, not a zero
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, lookup_index, load_rules(settings.identity_rules)), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        (settings.state_dir / f"{SERVICE_NAME}.port").write_text(str(port))
        url = f"http://127.0.0.1:{port}/v1/oneid"
        for _ in range(20):
            httpx.get(url, params={"type": "user_id", "value": "u1"}, headers=AUTH)
        first = source.sample()
        assert series(first, "trackflow_oneid_up") == {(): 1.0}
        p95 = series(first, "trackflow_oneid_lookup_p95_seconds")[()]
        assert 0 < p95 <= 1.0
        assert series(first, "trackflow_oneid_lookups_total")[(("endpoint", "value"), ("status", "200"))] == 20
        assert "trackflow_oneid_lookup_p95_seconds" not in {m for m, _, _ in source.sample()}  # none since: no p95
    finally:
        server.should_exit = True
        thread.join(10)
    stopped = source.sample()
    assert stopped == [("trackflow_oneid_up", {}, 0.0)] and "trackflow_oneid_lookups_total" in source.partial()


def test_bucket_quantile_reads_cumulative_buckets_like_histogram_quantile():
    assert bucket_quantile({0.001: 90, 0.01: 99, 0.1: 100, float("inf"): 100}, 0.95) == 0.01
    assert bucket_quantile({0.001: 0, 0.01: 0, float("inf"): 3}, 0.95) == 0.01  # beyond the last bound: the last bound
    assert bucket_quantile({0.001: 0, float("inf"): 0}, 0.95) is None


# -- dagster ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dagster_home(tmp_path_factory):
    """A Dagster instance on disk (sqlite storage, as `trackflow orchestrate` keeps it) with runs that really ran:
    schedule `fresh` succeeded then failed once; `broken` failed twice and never succeeded; `stale` started two
    hours ago on a 5-minute cron and has no run at all; an asset materialized."""
    from dagster import DagsterInstance, Failure, asset, job, materialize, op
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteInstigatorOrigin, RemoteRepositoryOrigin
    from dagster._core.scheduler.instigation import InstigatorState, InstigatorStatus, ScheduleInstigatorData

    home = tmp_path_factory.mktemp("dagster")
    # No compute-log capture (nothing here reads it): with it the five runs spawn 22 processes (`tail` and a Python
    # watcher per captured stream), a likely part of this set-up's 40 s in a loaded CI run (1.5-3 s alone).
    (home / "dagster.yaml").write_text("compute_logs:\n  module: dagster._core.storage.noop_compute_log_manager\n  class: NoOpComputeLogManager\n")
    instance = DagsterInstance.from_config(str(home))

    @op
    def works():
        return 1

    @op
    def fails():
        raise Failure("the warehouse is away")

    @job
    def tidy():
        works()

    @job
    def crash():
        fails()

    @asset
    def probe_asset():
        return 1

    tidy.execute_in_process(instance=instance, tags={"dagster/schedule_name": "fresh"})
    crash.execute_in_process(instance=instance, tags={"dagster/schedule_name": "fresh"}, raise_on_error=False)
    for _ in range(2):
        crash.execute_in_process(instance=instance, tags={"dagster/schedule_name": "broken"}, raise_on_error=False)
    materialize([probe_asset], instance=instance)
    started = time.time() - 7200
    for name, status in (("fresh", InstigatorStatus.RUNNING), ("broken", InstigatorStatus.RUNNING), ("stale", InstigatorStatus.RUNNING), ("off", InstigatorStatus.STOPPED)):
        origin = RemoteInstigatorOrigin(RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("trackflow"), "__repository__"), name)
        instance.add_instigator_state(InstigatorState(origin, InstigatorType.SCHEDULE, status, ScheduleInstigatorData("*/5 * * * *", started)))
    instance.dispose()
    return home


def test_dagster_runs_schedules_and_assets_are_read_from_the_instance(dagster_home):
    triples = DagsterSource(dagster_home).sample()
    assert series(triples, "trackflow_dagster_up") == {(): 1.0}
    runs = series(triples, "trackflow_dagster_runs_count")
    assert runs[(("job", "tidy"), ("status", "SUCCESS"))] == 1 and runs[(("job", "crash"), ("status", "FAILURE"))] == 3
    assert 0 <= series(triples, "trackflow_dagster_job_last_success_age_seconds")[(("job", "tidy"),)] < 600
    assert series(triples, "trackflow_dagster_schedule_failures_count") == {
        (("schedule", "fresh"),): 1, (("schedule", "broken"),): 2, (("schedule", "stale"),): 0,
    }  # fmt: skip  (`off` was turned off: not watched)
    overdue = series(triples, "trackflow_dagster_schedule_overdue_seconds")
    assert overdue[(("schedule", "fresh"),)] == 0  # succeeded minutes ago, within its 5-minute interval
    assert 7200 - 300 - 60 < overdue[(("schedule", "stale"),)] <= 7200 - 300 + 60  # since it was turned on, less one interval
    assert set(series(triples, "trackflow_dagster_schedule_last_success_age_seconds")) == {(("schedule", "fresh"),)}
    assert 0 <= series(triples, "trackflow_dagster_asset_materialization_age_seconds")[(("asset", "probe_asset"),)] < 600


def test_the_shipped_rules_fire_for_the_stale_and_the_failing_schedule(dagster_home):
    config = rules_module.load(ROOT / "alerts.yaml")
    dagster_rules = [rule for rule in config.rules if rule.metric.startswith("trackflow_dagster_")]
    samples: dict[str, list] = {}
    for metric, labels, value in DagsterSource(dagster_home).sample():
        samples.setdefault(metric, []).append((labels, value))
    changes = Evaluator(dagster_rules).step(time.time(), samples, [], set())
    firing = {(c.alert.rule, dict(c.alert.labels)["schedule"]) for c in changes if c.state == "firing" and c.notify}
    assert firing == {("dagster_schedule_stale", "stale"), ("dagster_schedule_stale", "broken"), ("dagster_schedule_failing", "broken")}
