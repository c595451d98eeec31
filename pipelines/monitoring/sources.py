"""What the alerts component samples each round, one source per stage, each reading the stage the way an operator
would check it. A source returns (metric, labels, value) triples named as in the catalogue; a source that fails
this round makes its metrics `unavailable` (their rules keep their state; `trackflow_alerts_sample_errors_total`
counts it) rather than reporting zeros.

- collector: its own /metrics (passed through), whether it answered, and the success ratio over 5 minutes;
- kafka: per consumer group and partition, the real end (read on past the end ListOffsets reports: the embedded
  broker under-reports it, PLATFORM_NOTES) minus the committed offset;
- jobs: the Flink REST API of the stack's MiniClusters (and a configured session cluster);
- warehouse: system tables; pipeline: pipeline_metrics (stage counts, freshness), volume against last week;
- oneid: the merge log, splits, the links the job wrote (pipeline_metrics) and `oneid serve`'s /metrics (lookup
  latency); pushes: the deadline forecast; reconciliation: the latest window's mismatches;
- dagster: the instance's storage (DAGSTER_HOME): runs by job and status, schedules' last success and failures.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx

from pipelines.config import Settings
from pipelines.identity.metrics import LINKS_STAGE as ONEID_LINKS_STAGE
from pipelines.streaming.metrics import DEDUP_STAGE_PREFIX

Triple = tuple[str, dict[str, str], float]
SUCCESS_WINDOW_S = 300.0
# Reads of what changes slowly are taken every this many rounds (once a minute at the shipped 15 s): the component
# shares the machine with the jobs it watches, and each round's cost is theirs (docs/monitoring.md).
SLOW_EVERY_ROUNDS = 4


@dataclass
class Source:
    name: str
    metrics: tuple[str, ...]  # what it reports (all unavailable when it fails)
    sample: Callable[[], list[Triple]]
    partial: Callable[[], set[str]] = lambda: set()  # metrics missing from a sample that otherwise worked


@dataclass
class Sparse:
    """A read of something that changes slowly (a reconciliation every 5 minutes, a CDP sync, last week's volume),
    taken every `every` calls and reused between them: each round's figures that depend on the time (ages) are
    still computed from the rows and the round's clock. A read that fails is tried again on the next call."""

    read: Callable[[], list]
    every: int
    calls: int = 0
    rows: list | None = None

    def __call__(self) -> list:
        if self.rows is None or self.calls % self.every == 0:
            self.rows = self.read()
        self.calls += 1
        return self.rows

    def expire(self) -> None:
        """The next call reads (what it reads is known to have changed), then every `every` calls from there."""
        self.rows, self.calls = None, 0


def _http() -> httpx.Client:
    """A source's own HTTP client, kept across rounds: making one costs ~20 ms of CPU (its TLS context), each round
    and address, on the cores the jobs need; a kept one also reuses its connections. One per source: a source
    samples in one thread at a time."""
    return httpx.Client(timeout=2)


def _reachable(server: str, timeout_s: float = 2.0) -> bool:
    import socket

    host, _, port = server.strip().rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def _down_partial(down: bool, prefix: str) -> set[str]:
    """With the engine down only its `up` is known: its other metrics are missing this round, not zero."""
    from pipelines.monitoring.catalogue import METRICS

    return {name for name in METRICS if name.startswith(prefix) and not name.endswith("_up")} if down else set()


def exposition(text: str) -> list[Triple]:
    """The samples of a service's Prometheus /metrics text (without the client library's `_created` series)."""
    from prometheus_client.parser import text_string_to_metric_families

    return [
        (s.name, dict(s.labels), float(s.value))
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.name.endswith("_created")
    ]


# -- collector ------------------------------------------------------------------------------------------------
def collector_urls(settings: Settings) -> list[str]:
    if settings.alerts_collector_urls:
        return list(settings.alerts_collector_urls)
    return [f"http://127.0.0.1:{settings.bound_port('collector', settings.collector_port)}"]


@dataclass
class CollectorSource:
    """Scrapes each collector's /metrics. The success ratio is 2xx over all requests in the last 5 minutes, from the
    counters' deltas between scrapes (a restarted collector's counters start over; its history is dropped)."""

    settings: Settings
    history: deque = field(default_factory=lambda: deque(maxlen=2000))  # (t, total, ok) summed over collectors
    unreached: int = 0  # collectors that did not answer this round
    http: httpx.Client = field(default_factory=_http)

    def partial(self) -> set[str]:
        """With a collector unreachable its own series are missing, not zero: their rules wait (the up rule fires)."""
        from pipelines.monitoring.catalogue import METRICS

        return {m.name for m in METRICS.values() if m.exposed_by == "collector"} if self.unreached else set()

    def sample(self) -> list[Triple]:
        triples: list[Triple] = []
        total = ok = 0.0
        self.unreached = 0
        for url in collector_urls(self.settings):
            try:
                text = self.http.get(f"{url}/metrics").text
            except httpx.HTTPError:
                triples.append(("trackflow_collector_up", {"instance": url}, 0.0))
                self.unreached += 1
                continue
            triples.append(("trackflow_collector_up", {"instance": url}, 1.0))
            for name, labels, value in exposition(text):
                triples.append((name, labels, value))
                if name == "trackflow_collector_requests_total":
                    total += value
                    ok += value if labels.get("status", "").startswith("2") else 0
        now = time.time()
        if self.history and total < self.history[-1][1]:
            self.history.clear()
        self.history.append((now, total, ok))
        while len(self.history) > 1 and self.history[1][0] <= now - SUCCESS_WINDOW_S:
            self.history.popleft()
        _, total0, ok0 = self.history[0]
        requests = total - total0
        triples.append(("trackflow_collector_success_ratio", {}, (ok - ok0) / requests if requests > 0 else 1.0))
        return triples


# -- kafka ----------------------------------------------------------------------------------------------------
@dataclass
class KafkaSource:
    """Lag per consumer group and partition: the real end of the partition minus the group's committed offset."""

    settings: Settings
    timeout_s: float = 5.0
    down: bool = False
    # Each partition's end as verified by an earlier round: ends only grow, so the next round reads on from here
    # instead of from the committed offsets (a backlog's partitions would be read whole every round). Forgotten
    # when the broker goes away; a restarted broker's logs start at 0 again (PLATFORM_NOTES): a partition whose
    # fetch reports a log ending before the verified end is read again without it.
    verified: dict = field(default_factory=dict)
    # (bootstrap, admin, reader) kept across rounds: opening them costs the busy broker connections, version probes
    # and metadata every round. Made anew when the bootstrap changes, the broker is away or a round fails.
    clients: tuple | None = None

    def partial(self) -> set[str]:
        return _down_partial(self.down, "trackflow_kafka_")

    def _forget(self) -> None:
        if self.clients is not None:
            _, admin, reader = self.clients
            self.clients = None
            for client in (reader, admin):
                try:
                    client.close()
                except Exception:  # closing a client of a broker that went away: nothing left to release
                    pass

    def sample(self) -> list[Triple]:
        from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
        from kafka.errors import KafkaConnectionError, KafkaTimeoutError

        from pipelines import messaging

        bootstrap = messaging.bootstrap_servers(self.settings)
        timeout_ms = int(self.timeout_s * 1000)
        # kafka-python takes ~30 s to give up on a broker that refuses connections; a plain connect says it in ms.
        if not any(_reachable(server) for server in bootstrap.split(",")):
            self._forget()
            self.down, self.verified = True, {}
            return [("trackflow_kafka_up", {}, 0.0)]
        if self.clients is None or self.clients[0] != bootstrap:
            self._forget()
            try:
                admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="trackflow-alerts", request_timeout_ms=timeout_ms)
            except (KafkaConnectionError, KafkaTimeoutError):
                self.down, self.verified = True, {}  # the broker does not answer: that is the measurement, not a failed sample
                return [("trackflow_kafka_up", {}, 0.0)]
            reader = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, client_id="trackflow-alerts", request_timeout_ms=timeout_ms + 1000, fetch_max_wait_ms=100)
            self.clients = (bootstrap, admin, reader)
        self.down = False
        _, admin, reader = self.clients
        try:
            committed: dict[str, dict] = {}
            for group in sorted(g["group_id"] for g in admin.list_groups()):
                offsets = admin.list_group_offsets(group).get(group, {})
                committed[group] = {tp: max(meta.offset, 0) for tp, meta in offsets.items()}
            topics = [t for t in admin.list_topics() if re.fullmatch(r"events\..+|ods\..+", t)]
            partitions = {TopicPartition(t, p) for t in topics for p in (reader.partitions_for_topic(t) or ())}
            partitions |= {tp for offsets in committed.values() for tp in offsets}
            # Read on to the real end from the furthest known lower bound of it: the largest committed offset (never
            # below what a group has seen), the reported end, the end an earlier round verified.
            start = {tp: max([offsets.get(tp, 0) for offsets in committed.values()] or [0]) for tp in partitions}
            reported = reader.end_offsets(list(partitions)) if partitions else {}
            known = {tp: max(start[tp], reported.get(tp) or 0) for tp in partitions}
            deadline = time.monotonic() + self.timeout_s
            ends = ends_now(reader, {tp: max(known[tp], self.verified.get(tp, 0)) for tp in partitions}, deadline)
            shrunk = {tp for tp in partitions if self.verified.get(tp, 0) > known[tp] and (reader.highwater(tp) or 0) < self.verified[tp]}
            if shrunk:
                ends.update(ends_now(reader, {tp: known[tp] for tp in shrunk}, deadline))
            self.verified = dict(ends)
        except Exception:
            self._forget()  # clients in an unknown state: the next round opens new ones
            raise
        triples: list[Triple] = [("trackflow_kafka_up", {}, 1.0)]
        for tp in sorted(partitions):
            labels = {"topic": tp.topic, "partition": str(tp.partition)}
            triples.append(("trackflow_kafka_end_offset_messages", labels, float(ends[tp])))
            triples.append(("trackflow_kafka_end_offset_underreport_messages", labels, float(ends[tp] - (reported.get(tp) or 0))))
        for group, offsets in committed.items():
            for tp, offset in sorted(offsets.items()):
                triples.append(("trackflow_kafka_consumer_lag_messages", {"group": group, "topic": tp.topic, "partition": str(tp.partition)}, float(max(0, ends[tp] - offset))))
        return triples


def ends_now(reader, start: dict, deadline: float) -> dict:
    """Each partition's end as of now: read on from `start` (at least the reported end; skipping to a fetch's high
    watermark when it is further) until two fetches in a row bring nothing, or every partition is done: it returned
    a record written after we began, or the fetch's high watermark says we read it all. A busy partition never goes
    quiet (`trackflow status`'s reader, which waits for quiet, would read on until its deadline). At the deadline:
    the ends reached, a lower bound."""
    if not start:
        return {}
    began_ms = time.time() * 1000
    ends = dict(start)
    reader.assign(list(start))
    for tp, offset in start.items():
        reader.seek(tp, offset)
    pending, empty = set(start), 0
    while pending and empty < 2 and time.monotonic() < deadline:
        batches = reader.poll(timeout_ms=200, max_records=5000)
        empty = 0 if batches else empty + 1
        for tp, records in batches.items():
            ends[tp] = max(ends[tp], records[-1].offset + 1)
            if records[-1].timestamp >= began_ms:
                pending.discard(tp)
        for tp in pending:
            highwater = reader.highwater(tp)
            if highwater is not None and highwater > ends[tp]:
                # The records below the fetch's high watermark exist: skip to it rather than fetch and decode each
                # one on the way (a busy partition brings thousands a round, on the cores the jobs need).
                ends[tp] = highwater
                reader.seek(tp, highwater)
        # An empty or quiet partition returns no records: its fetch's high watermark (0 for an empty one) says it is done.
        pending -= {tp for tp in pending if reader.highwater(tp) is not None and ends[tp] >= reader.highwater(tp)}
    return ends


# -- streaming jobs -------------------------------------------------------------------------------------------
@dataclass
class JobsSource:
    """Each job of the stack's MiniClusters (and of `flink_jobmanager`): running, checkpoint age and duration,
    failed checkpoints, restarts, back-pressure. A job seen before whose cluster does not answer is reported down.

    The state and the checkpoints are read every round (`job_down` and `checkpoint_failing` wait 30 s). Restarts and
    back-pressure are Flink metrics: any read of them makes the cluster collect every metric it has (its metric
    fetcher; a MiniCluster does that in the jobs' own JVM, on the cores they need), so they are read every
    SLOW_EVERY_ROUNDS rounds (`job_backpressured` waits 10 minutes; no rule waits on restarts) and at once when the
    job's state or its latest restore changed since the previous round: a restart is reported the round it is seen."""

    settings: Settings
    seen: set[str] = field(default_factory=set)
    http: httpx.Client = field(default_factory=_http)
    vertices: dict[str, list[str]] = field(default_factory=dict)  # job URL -> its vertex ids (fixed for a job id)
    flink_metrics: dict[str, Sparse] = field(default_factory=dict)  # job URL -> its restarts and back-pressure read
    marks: dict[str, tuple] = field(default_factory=dict)  # job URL -> (state, latest restore) of the previous round

    def addresses(self) -> list[str]:
        found = []
        for component in ("jobs", "oneid-job"):
            port_file = self.settings.state_dir / f"{component}.port"
            if port_file.exists() and (self.settings.state_dir / f"{component}.pid").exists():
                found.append(f"http://127.0.0.1:{port_file.read_text().strip()}")
        if self.settings.flink_jobmanager:
            address = self.settings.flink_jobmanager
            found.append(address if address.startswith("http") else f"http://{address}")
        return found

    def sample(self) -> list[Triple]:
        now_ms = time.time() * 1000
        triples: list[Triple] = []
        up: set[str] = set()
        running: set[str] = set()
        for address in self.addresses():
            try:
                for job in self.http.get(f"{address}/jobs/overview").json().get("jobs", []):
                    if job["state"] in ("CANCELED", "FINISHED"):
                        continue
                    url = f"{address}/jobs/{job['jid']}"
                    running.add(url)
                    triples.extend(self._job(url, job, now_ms))
                    if job["state"] == "RUNNING":
                        up.add(job["name"])
                    self.seen.add(job["name"])
            except (httpx.HTTPError, ValueError):
                continue  # its jobs are reported down below
        for kept in (self.vertices, self.flink_metrics, self.marks):
            for url in [url for url in kept if url not in running]:
                del kept[url]
        for name in sorted(self.seen):
            triples.append(("trackflow_job_up", {"job": name}, 1.0 if name in up else 0.0))
        return triples

    def _job(self, url: str, job: dict, now_ms: float) -> list[Triple]:
        labels = {"job": job["name"]}
        checkpoints = self.http.get(f"{url}/checkpoints").json()
        latest = (checkpoints.get("latest") or {}).get("completed") or {}
        started_ms = job.get("start-time") or now_ms
        last_ms = latest.get("latest_ack_timestamp") or started_ms  # none yet: age counts from the job's start
        mark = (job["state"], ((checkpoints.get("latest") or {}).get("restored") or {}).get("restore_timestamp"))
        if url not in self.flink_metrics:
            self.flink_metrics[url] = Sparse(lambda: self.read_flink_metrics(url), SLOW_EVERY_ROUNDS)
        elif self.marks.get(url) != mark:  # restarting, failing, back again or restored: its restarts changed
            self.flink_metrics[url].expire()
        self.marks[url] = mark
        restarts, pressure = self.flink_metrics[url]()
        return [
            ("trackflow_job_checkpoint_age_seconds", labels, max(0.0, (now_ms - last_ms) / 1000)),
            ("trackflow_job_checkpoint_duration_seconds", labels, (latest.get("end_to_end_duration") or 0) / 1000),
            ("trackflow_job_checkpoints_failed_total", labels, float((checkpoints.get("counts") or {}).get("failed") or 0)),
            ("trackflow_job_restarts_total", labels, restarts),
            ("trackflow_job_backpressure_ratio", labels, pressure),
        ]

    def read_flink_metrics(self, url: str) -> list[float]:
        """[restarts, the largest back-pressure ratio over the job's vertices]."""
        client = self.http
        restarts = client.get(f"{url}/metrics", params={"get": "numRestarts"}).json()
        pressure = 0.0
        if url not in self.vertices:  # the job's details (its graph) are the heaviest call: once per job
            self.vertices[url] = [vertex["id"] for vertex in client.get(url).json().get("vertices", [])]
        for vertex in self.vertices[url]:
            values = client.get(f"{url}/vertices/{vertex}/subtasks/metrics", params={"get": "backPressuredTimeMsPerSecond", "agg": "max"}).json()
            if values:
                pressure = max(pressure, float(values[0].get("max") or 0) / 1000)
        return [float(restarts[0]["value"]) if restarts else 0.0, pressure]


# -- warehouse, pipeline counts, OneID, reconciliation ---------------------------------------------------------
# One query per round for pipeline_metrics and OneID's tables (one round trip and plan, not three), as
# (kind, name, app_id, a, b) rows: `count` a stage's events of the last closed minute; `freshness` a dwd layer's
# p50 (a) and p95 (b) over 5 minutes; `oneid` merge-log actions and splits of the last closed minute (the split row
# is there even when zero). Each branch's WHERE leads with the table's sort key or partition (stage, minute; ts).
PIPELINE_SQL = """
SELECT 'count', toString(stage), toString(app_id), toFloat64(sum(events)), toFloat64(0)
FROM pipeline_metrics WHERE minute = {minute:DateTime('UTC')} GROUP BY stage, app_id
UNION ALL
SELECT 'freshness', substring(toString(stage), 5) AS layer, '',
       quantileExactWeighted(0.5)(bucket_ms, n) / 1000, quantileExactWeighted(0.95)(bucket_ms, n) / 1000
FROM pipeline_metrics ARRAY JOIN mapKeys(latency_ms_hist) AS bucket_ms, mapValues(latency_ms_hist) AS n
WHERE stage LIKE 'dwd.%' AND minute >= {since:DateTime('UTC')}
GROUP BY layer
UNION ALL
SELECT 'oneid', toString(action), '', toFloat64(count()), toFloat64(0) FROM oneid_merge_log
WHERE ts >= {minute:DateTime('UTC')} AND ts < {minute:DateTime('UTC')} + INTERVAL 1 MINUTE GROUP BY action
UNION ALL
SELECT 'oneid', 'split', '', toFloat64(count()), toFloat64(0) FROM oneid_blocks
WHERE created_at >= {minute:DateTime('UTC')} AND created_at < {minute:DateTime('UTC')} + INTERVAL 1 MINUTE
"""
VOLUME_SQL = """
SELECT app_id,
       sumIf(events, minute >= {now:DateTime('UTC')} - INTERVAL 1 HOUR),
       sumIf(events, minute >= {now:DateTime('UTC')} - INTERVAL 169 HOUR AND minute < {now:DateTime('UTC')} - INTERVAL 168 HOUR)
FROM pipeline_metrics
WHERE stage = 'collected' AND minute >= {now:DateTime('UTC')} - INTERVAL 169 HOUR
GROUP BY app_id
"""
RECONCILIATION_SQL = """
SELECT cadence, stage, app_id, sum(abs(difference)), any(window_end)
FROM reconciliation
WHERE (cadence, window_end) IN (SELECT cadence, max(window_end) FROM reconciliation GROUP BY cadence)
GROUP BY cadence, stage, app_id
"""

# The system tables in one query (one round trip and one parse, not four): (kind, name, value) rows.
SYSTEM_SQL = """
SELECT 'event', event, toFloat64(value) FROM system.events WHERE event IN ('InsertedRows', 'FailedQuery')
UNION ALL
SELECT 'parts', table, toFloat64(count()) FROM system.parts WHERE active AND database = currentDatabase() GROUP BY table
UNION ALL
SELECT 'merges', '', toFloat64(count()) FROM system.merges
UNION ALL
SELECT 'free', name, toFloat64(free_space) FROM system.disks
UNION ALL
SELECT 'total', name, toFloat64(total_space) FROM system.disks
"""


@dataclass
class WarehouseSource:
    warehouse: object  # pipelines.warehouse.client.Warehouse (writer)
    down: bool = False

    def partial(self) -> set[str]:
        return _down_partial(self.down, "trackflow_warehouse_")

    def sample(self) -> list[Triple]:
        from clickhouse_connect.driver.exceptions import OperationalError

        from pipelines.errors import ServiceUnavailable

        w = self.warehouse
        started = time.perf_counter()
        try:
            w.scalar("SELECT 1")
        except (ServiceUnavailable, OperationalError):  # not reachable (a query error would be a failed sample)
            self.down = True
            return [("trackflow_warehouse_up", {}, 0.0)]
        self.down = False
        triples: list[Triple] = [("trackflow_warehouse_up", {}, 1.0), ("trackflow_warehouse_query_seconds", {}, time.perf_counter() - started)]
        events = {"InsertedRows": 0.0, "FailedQuery": 0.0}
        for kind, name, value in w.rows(SYSTEM_SQL):
            if kind == "event":
                events[name] = value
            elif kind == "parts":
                triples.append(("trackflow_warehouse_active_parts", {"table": name}, value))
            elif kind == "merges":
                triples.append(("trackflow_warehouse_merges_running_count", {}, value))
            else:
                triples.append((f"trackflow_warehouse_disk_{kind}_bytes", {"disk": name}, value))
        triples.append(("trackflow_warehouse_inserted_rows_total", {}, events["InsertedRows"]))
        triples.append(("trackflow_warehouse_failed_queries_total", {}, events["FailedQuery"]))
        return triples


@dataclass
class PipelineSource:
    """What the jobs counted into pipeline_metrics: the last closed minute per stage, freshness over 5 minutes, and
    the accepted volume of the last hour against the same hour last week (no baseline: no series)."""

    warehouse: object
    volume: Sparse = field(init=False)  # an hour against last week's: moves slowly, scans 8 days of one stage

    def __post_init__(self) -> None:
        self.volume = Sparse(self._volume, SLOW_EVERY_ROUNDS)

    def _volume(self) -> list:
        now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
        return self.warehouse.rows(VOLUME_SQL, {"now": now})

    def sample(self) -> list[Triple]:
        now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
        last = now - dt.timedelta(minutes=1)
        triples: list[Triple] = []
        for kind, name, app, a, b in self.warehouse.rows(PIPELINE_SQL, {"minute": last, "since": now - dt.timedelta(minutes=5)}):
            if kind == "freshness":
                triples.append(("trackflow_pipeline_freshness_p50_seconds", {"layer": name}, a))
                triples.append(("trackflow_pipeline_freshness_p95_seconds", {"layer": name}, b))
            elif kind == "oneid":
                if a or name != "split":  # the split count is a row even when zero; merge-log actions only when present
                    triples.append(("trackflow_oneid_actions_events", {"action": name}, a))
            elif name.startswith(DEDUP_STAGE_PREFIX):  # what the dwd job dropped: its own metric, not a stage's count
                triples.append(("trackflow_job_dedup_dropped_events", {"job": "dwd", "layer": name[len(DEDUP_STAGE_PREFIX) :], "app_id": app}, a))
            elif name == ONEID_LINKS_STAGE:
                triples.append(("trackflow_oneid_links_count", {}, a))
            else:
                triples.append(("trackflow_pipeline_stage_events", {"stage": name, "app_id": app}, a))
        for app, this_hour, last_week in self.volume():
            if last_week:
                triples.append(("trackflow_collector_volume_ratio", {"app_id": app}, this_hour / last_week))
        return triples


@dataclass
class ReconciliationSource:
    """The latest window's mismatches per cadence (a new window every 5 minutes: read every SLOW_EVERY_ROUNDS
    rounds) and its age (this round's)."""

    warehouse: object
    latest: Sparse = field(init=False)

    def __post_init__(self) -> None:
        self.latest = Sparse(lambda: self.warehouse.rows(RECONCILIATION_SQL), SLOW_EVERY_ROUNDS)

    def sample(self) -> list[Triple]:
        now = time.time()
        triples: list[Triple] = []
        ends: dict[str, float] = {}
        for cadence, stage, app, missing, end in self.latest():
            triples.append(("trackflow_reconciliation_mismatch_events", {"cadence": cadence, "stage": stage, "app_id": app}, float(missing)))
            ends[cadence] = end.replace(tzinfo=dt.timezone.utc).timestamp()
        triples.extend(("trackflow_reconciliation_age_seconds", {"cadence": c}, now - end) for c, end in ends.items())
        return triples


CDP_SQL = """
SELECT source, argMax(status, started) = 'failed', maxIf(finished, status = 'ok') FROM cdp_sync_runs GROUP BY source
"""


@dataclass
class CdpSource:
    """CDP syncs (cdp_sync_runs, pipelines/cdp/sync.py): per source whether its latest run failed, and the time
    since its latest successful run ended (no series before its first success). Syncs run minutes to hours apart:
    the runs are read every SLOW_EVERY_ROUNDS rounds, the ages computed every round."""

    warehouse: object
    runs: Sparse = field(init=False)

    def __post_init__(self) -> None:
        self.runs = Sparse(lambda: self.warehouse.rows(CDP_SQL), SLOW_EVERY_ROUNDS)

    def sample(self) -> list[Triple]:
        now = time.time()
        triples: list[Triple] = []
        for source, failed, last_ok in self.runs():
            triples.append(("trackflow_cdp_sync_failed_count", {"source": source}, float(failed)))
            if last_ok.year > 1970:  # maxIf over no successful run is the epoch
                triples.append(("trackflow_cdp_sync_age_seconds", {"source": source}, now - last_ok.replace(tzinfo=dt.timezone.utc).timestamp()))
        return triples


@dataclass
class PushSource:
    """The push deadline forecast (pipelines/push/deadline.py) of each push due now: slack and level."""

    settings: Settings

    def sample(self) -> list[Triple]:
        from pipelines.push.connection import connect
        from pipelines.push.deadline import forecasts
        from pipelines.push.definitions import load_pushes

        pushes = load_pushes(self.settings.push_definitions)
        now = dt.datetime.now(dt.timezone.utc)
        with connect(self.settings) as connection:
            found = forecasts(pushes, connection, now, dt.timedelta(seconds=self.settings.push_alert_margin_s))
        triples: list[Triple] = []
        for item in found:
            labels = {"push": item.push}
            finish = item.predicted_finish or (now if item.state == "done" else None)
            if finish is not None:
                triples.append(("trackflow_push_deadline_slack_seconds", labels, (item.deadline - finish).total_seconds()))
            triples.append(("trackflow_push_rows_done_rows", labels, float(item.rows_done)))
            for level in ("P1", "P2", "P3"):
                triples.append(("trackflow_push_at_risk_count", {**labels, "level": level}, 1.0 if item.level == level else 0.0))
        return triples


# -- oneid serve ------------------------------------------------------------------------------------------------
@dataclass
class OneIdServiceSource:
    """Scrapes `oneid serve`'s /metrics (passed through) and turns its lookup histogram into the p95 of the lookups
    answered since the previous round (from the buckets' deltas; a restarted service's counters start over)."""

    settings: Settings
    previous: dict[str, float] = field(default_factory=dict)  # bucket upper bound -> cumulative count, summed over endpoints
    unreached: bool = False
    http: httpx.Client = field(default_factory=_http)

    def url(self) -> str | None:
        """The running service's address: it records its port while it serves (none: not started, no series)."""
        from pipelines.identity.service import SERVICE_NAME

        port_file = self.settings.state_dir / f"{SERVICE_NAME}.port"
        return f"http://127.0.0.1:{port_file.read_text().strip()}" if port_file.exists() else None

    def partial(self) -> set[str]:
        from pipelines.monitoring.catalogue import METRICS

        return {m.name for m in METRICS.values() if m.exposed_by == "oneid"} | {"trackflow_oneid_lookup_p95_seconds"} if self.unreached else set()

    def sample(self) -> list[Triple]:
        url = self.url()
        if url is None:
            self.unreached = False
            return []
        try:
            text = self.http.get(f"{url}/metrics").text
        except httpx.HTTPError:
            self.unreached = True
            return [("trackflow_oneid_up", {}, 0.0)]
        self.unreached = False
        triples: list[Triple] = [("trackflow_oneid_up", {}, 1.0), *exposition(text)]
        buckets: dict[str, float] = {}
        for name, labels, value in triples:
            if name == "trackflow_oneid_lookup_seconds_bucket":
                buckets[labels["le"]] = buckets.get(labels["le"], 0.0) + value
        if any(buckets.get(le, 0.0) < n for le, n in self.previous.items()):
            self.previous = {}  # restarted: its counts began again
        delta = {float(le): n - self.previous.get(le, 0.0) for le, n in buckets.items()}
        self.previous = buckets
        p95 = bucket_quantile(delta, 0.95)
        if p95 is not None:
            triples.append(("trackflow_oneid_lookup_p95_seconds", {}, p95))
        return triples


def bucket_quantile(cumulative: dict[float, float], quantile: float) -> float | None:
    """The upper bound of the bucket holding the quantile of cumulative (Prometheus `le`) bucket counts; None when
    nothing was counted. The +Inf bucket answers with the largest finite bound (as histogram_quantile does)."""
    bounds = sorted(cumulative)
    total = cumulative[bounds[-1]] if bounds else 0
    if total <= 0:
        return None
    for bound in bounds:
        if cumulative[bound] >= quantile * total:
            return bound if bound != float("inf") else max((b for b in bounds if b != float("inf")), default=bound)
    return None


# -- dagster ------------------------------------------------------------------------------------------------------
RUNS_WINDOW_S = 86_400.0
SCHEDULE_RUNS_READ = 50  # per schedule, newest first: the failures since its last success are counted among them
SUCCESSES_READ = 500  # newest successful runs read for each job's last success


def dagster_home(settings: Settings) -> Path:
    """Where `trackflow orchestrate` keeps the Dagster instance (DAGSTER_HOME, else under the data dir)."""
    import os

    return Path(os.environ.get("DAGSTER_HOME") or (settings.data_dir / "dagster")).resolve()


def cron_interval_s(cron: str | list[str], now: float) -> float:
    """The longest gap between a schedule's next ticks (a weekday-only cron waits over the weekend): how long a
    success may be apart from the next one before it is late. Timezones shift ticks, not their gaps."""
    from dagster._utils.schedules import cron_string_iterator

    gaps = []
    for one in [cron] if isinstance(cron, str) else cron:
        ticks = cron_string_iterator(now, one, "UTC")
        times = [next(ticks).timestamp() for _ in range(8)]
        gaps.extend(b - a for a, b in zip(times, times[1:]))
    return max(gaps)


@dataclass
class DagsterSource:
    """Reads the Dagster instance's run, schedule and asset storage directly (no webserver needed): runs of the last
    24 hours by job and status, each job's last success, and for each running schedule its last success, the failed
    runs since then and how overdue its next success is (the `dagster_schedule_*` rules)."""

    home: Path
    instance: object = None

    def sample(self) -> list[Triple]:
        from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
        from dagster._core.definitions.run_request import InstigatorType
        from dagster._core.scheduler.instigation import InstigatorStatus
        from dagster._core.storage.tags import SCHEDULE_NAME_TAG

        if self.instance is None:
            self.instance = DagsterInstance.from_config(str(self.home))
        instance = self.instance
        now = time.time()
        triples: list[Triple] = [("trackflow_dagster_up", {}, 1.0)]
        since = dt.datetime.fromtimestamp(now - RUNS_WINDOW_S, dt.timezone.utc)
        counts: dict[tuple[str, str], int] = {}
        for record in instance.get_run_records(RunsFilter(created_after=since)):
            key = (record.dagster_run.job_name, record.dagster_run.status.value)
            counts[key] = counts.get(key, 0) + 1
        triples.extend(("trackflow_dagster_runs_count", {"job": job, "status": status}, float(n)) for (job, status), n in sorted(counts.items()))
        succeeded: dict[str, float] = {}
        for record in instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.SUCCESS]), limit=SUCCESSES_READ):
            succeeded.setdefault(record.dagster_run.job_name, record.end_time or record.create_timestamp.timestamp())
        triples.extend(("trackflow_dagster_job_last_success_age_seconds", {"job": job}, now - at) for job, at in sorted(succeeded.items()))
        for state in instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE):
            if state.status not in (InstigatorStatus.RUNNING, InstigatorStatus.DECLARED_IN_CODE):
                continue  # turned off on purpose: not stale
            labels = {"schedule": state.instigator_name}
            failures, last_success = 0, None
            for record in instance.get_run_records(RunsFilter(tags={SCHEDULE_NAME_TAG: state.instigator_name}), limit=SCHEDULE_RUNS_READ):
                if record.dagster_run.status == DagsterRunStatus.SUCCESS:
                    last_success = record.end_time or record.create_timestamp.timestamp()
                    break
                failures += record.dagster_run.status == DagsterRunStatus.FAILURE
            data = state.instigator_data
            started = (data.start_timestamp if data else None) or now
            if last_success is not None:
                triples.append(("trackflow_dagster_schedule_last_success_age_seconds", labels, now - last_success))
            triples.append(("trackflow_dagster_schedule_failures_count", labels, float(failures)))
            if data is not None:
                reference = last_success if last_success is not None else started
                triples.append(("trackflow_dagster_schedule_overdue_seconds", labels, max(0.0, now - reference - cron_interval_s(data.cron_schedule, now))))
        keys = instance.get_asset_keys()
        for key, event in sorted(instance.get_latest_materialization_events(keys).items(), key=lambda item: item[0].to_user_string()):
            if event is not None:
                triples.append(("trackflow_dagster_asset_materialization_age_seconds", {"asset": key.to_user_string()}, now - event.timestamp))
        return triples


def sources(settings: Settings, warehouse) -> list[Source]:
    from pipelines.monitoring.catalogue import METRICS

    # Named for their stage, read from what the jobs counted into pipeline_metrics (the pipeline source).
    derived = ("trackflow_collector_volume_ratio", "trackflow_job_dedup_dropped_events", "trackflow_oneid_actions_events", "trackflow_oneid_links_count")

    def owned(prefix: str, *extra: str) -> tuple[str, ...]:
        return tuple(name for name in METRICS if name.startswith(prefix) and name not in derived) + extra

    collector, kafka, stored = CollectorSource(settings), KafkaSource(settings), WarehouseSource(warehouse)
    found = [
        Source("collector", owned("trackflow_collector_"), collector.sample, collector.partial),
        Source("kafka", owned("trackflow_kafka_"), kafka.sample, kafka.partial),
        Source("jobs", owned("trackflow_job_"), JobsSource(settings).sample),
        Source("warehouse", owned("trackflow_warehouse_"), stored.sample, stored.partial),
        Source("pipeline", owned("trackflow_pipeline_", *derived), PipelineSource(warehouse).sample),
        Source("reconciliation", owned("trackflow_reconciliation_"), ReconciliationSource(warehouse).sample),
        Source("cdp", owned("trackflow_cdp_"), CdpSource(warehouse).sample),
    ]
    if settings.push_definitions.exists():
        found.append(Source("pushes", owned("trackflow_push_"), PushSource(settings).sample))
    service = OneIdServiceSource(settings)
    found.append(Source("oneid", owned("trackflow_oneid_"), service.sample, service.partial))
    if dagster_home(settings).exists():  # `trackflow orchestrate` made it: no Dagster, no series (not a zero)
        found.append(Source("dagster", owned("trackflow_dagster_"), DagsterSource(dagster_home(settings)).sample))
    return found
