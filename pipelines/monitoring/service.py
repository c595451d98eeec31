"""The `alerts` stack component: `python -m pipelines.monitoring.service --port P`.

Every `alerts_interval_s` it samples every source (pipelines/monitoring/sources.py), evaluates alerts.yaml's rules
(engine), records each state change in alert_history and hands notifications to a sender thread (retries with
back-off never hold up the next evaluation). Once a minute it writes what it sampled to monitoring_samples (the
board's history; this component is that table's only writer). It serves:
  /metrics  Prometheus text: what it sampled for the stages that cannot expose it themselves, and its own counters
  /alerts   JSON: the open alerts and the silences in force
  /healthz  200 once the first round ran
alerts.yaml is re-read when it changes; a version that does not validate is logged and the last good one kept.
Firing alerts are restored from alert_history at start, so a restart does not announce them again.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from pipelines.config import Settings, get_settings
from pipelines.monitoring import rules as rules_module
from pipelines.monitoring import store
from pipelines.monitoring.catalogue import METRICS
from pipelines.monitoring.engine import Evaluator, Silence, Transition
from pipelines.monitoring.notify import Notice, Sender
from pipelines.monitoring.sources import Source, sources

log = logging.getLogger("trackflow.alerts")
# The gap between two sources' starts in a round (less at short intervals: all start within a quarter of it).
STAGGER_S = 0.1


def notice_for(config: rules_module.AlertsConfig, change: Transition) -> Notice:
    rule = config.rule(change.alert.rule)
    return Notice(
        rule=rule.name, priority=rule.priority, state=change.state, summary=rule.summary, labels=dict(change.alert.labels),
        value=change.alert.value, threshold=f"{rule.op} {rule.threshold:g}", at=change.at, since=change.alert.since,
        fingerprint=change.alert.fingerprint, board_url=config.board_url, runbook_url=config.runbook_link(rule),
    )  # fmt: skip


class Monitor:
    def __init__(self, settings: Settings):
        from pipelines.warehouse.client import Warehouse

        self.settings = settings
        self.path = rules_module.configured_path(settings.alerts_file)
        self.config = rules_module.load(self.path)
        self.config_mtime = self.path.stat().st_mtime
        self.evaluator = Evaluator(self.config.rules)
        self.warehouse = Warehouse(settings)
        self.sources: list[Source] = sources(settings, self.warehouse)
        self.pool = ThreadPoolExecutor(max_workers=len(self.sources), thread_name_prefix="sample")
        self.stagger_s = min(STAGGER_S, settings.alerts_interval_s / 4 / len(self.sources))
        self.samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        self.silences: list[Silence] = []
        self.rounds = 0
        self.failing: set[str] = set()
        self.last_written_minute = 0
        self.restored = False
        self.lock = threading.Lock()
        self.registry = CollectorRegistry()
        self.evaluations = Counter("trackflow_alerts_evaluations", "Evaluation rounds", registry=self.registry)
        self.sample_seconds = Gauge("trackflow_alerts_sample_seconds", "How long each source took to sample", ["source"], registry=self.registry)
        self.sample_errors = Counter("trackflow_alerts_sample_errors", "Samples that failed, per source", ["source"], registry=self.registry)
        self.notifications = Counter("trackflow_alerts_notifications", "Notifications sent or given up", ["receiver", "outcome"], registry=self.registry)
        self.registry.register(_Sampled(self))
        self.outbox: queue.Queue = queue.Queue()
        self.sender = Sender(on_outcome=lambda receiver, outcome: self.notifications.labels(receiver, outcome).inc())
        threading.Thread(target=self._deliver, daemon=True, name="notify").start()

    # -- one round ------------------------------------------------------------------------------------------------
    def round(self) -> list[Transition]:
        self._reload()
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        unavailable: set[str] = set()
        # Sources sample side by side: a slow one (a broker timing out) does not hold up the others' evaluation. They
        # start a little apart, not in one burst: each then mostly has the broker, the warehouse or a job's REST to
        # itself (a source's reads take tens of ms), and the evaluation waits at most (sources - 1) * the gap longer.
        futures = {}
        for index, source in enumerate(self.sources):
            if index:
                time.sleep(self.stagger_s)
            futures[source.name] = self.pool.submit(_timed, source.sample)
        for source in self.sources:
            try:
                triples, took = futures[source.name].result()
                self.sample_seconds.labels(source.name).set(took)
                unavailable |= source.partial()
                if source.name in self.failing:
                    self.failing.discard(source.name)
                    log.info("source %s answers again", source.name)
            except Exception as exc:  # a source down is reported through its metrics, never stops the others
                if source.name not in self.failing:  # logged when it starts failing, counted every time
                    self.failing.add(source.name)
                    log.info("source %s failed: %s: %s", source.name, exc.__class__.__name__, str(exc)[:300])
                self.sample_errors.labels(source.name).inc()
                unavailable |= set(source.metrics)
                triples = []
            for metric, labels, value in triples:
                samples.setdefault(metric, []).append((labels, value))
        now = time.time()
        self._read_state(now)
        with self.lock:
            self.samples = samples
            changes = self.evaluator.step(now, samples, self.silences, unavailable)
        self.evaluations.inc()
        self.rounds += 1
        for change in changes:
            log.info("%s %s %s value=%g notify=%s", change.alert.rule, change.state, dict(change.alert.labels), change.alert.value, change.notify)
            if change.notify:
                self.outbox.put(notice_for(self.config, change))
        self._write(now, changes, samples)
        return changes

    def _reload(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
            if mtime == self.config_mtime:
                return
            config = rules_module.load(self.path)
        except (OSError, rules_module.AlertsConfigError) as exc:
            log.error("alerts file not reloaded, keeping the last good one: %s", exc)
            return
        self.config_mtime = mtime
        self.config = config
        with self.lock:
            kept = {k: a for k, a in self.evaluator.alerts.items() if a.rule in {r.name for r in config.rules}}
            self.evaluator = Evaluator(config.rules, kept)
        log.info("alerts file reloaded: %d rules", len(config.rules))

    def _read_state(self, now: float) -> None:
        """Silences and acknowledgements from the warehouse (the CLI writes them); the last known ones when it is away."""
        try:
            if not self.restored:
                for alert in store.open_alerts(self.warehouse):
                    if alert.rule in {r.name for r in self.config.rules}:
                        self.evaluator.restore(alert)
                self.restored = True
            self.silences = store.active_silences(self.warehouse, now)
            acknowledged = store.acknowledgements(self.warehouse)
            with self.lock:
                self.evaluator.acknowledge(acknowledged)
        except Exception as exc:
            log.info("silences not read (%s); keeping %d known", exc.__class__.__name__, len(self.silences))

    def _write(self, now: float, changes: list[Transition], samples) -> None:
        try:
            store.record_transitions(self.warehouse, changes)
            minute = int(now // 60 * 60)
            if minute != self.last_written_minute:
                store.record_samples(self.warehouse, minute, samples)
                self.last_written_minute = minute
        except Exception as exc:  # the history waits for the warehouse; notifications do not
            log.warning("history not written (%s: %s)", exc.__class__.__name__, str(exc)[:200])

    def _deliver(self) -> None:
        while True:
            notice = self.outbox.get()
            for receiver in self.config.receivers:
                if notice.priority in receiver.priorities:
                    problem = self.sender.send(receiver, notice)
                    if problem:
                        log.error("notification given up: %s", problem)

    def status(self) -> dict:
        with self.lock:
            alerts = [
                {"rule": a.rule, "priority": a.priority, "labels": dict(a.labels), "state": a.state, "since": a.since, "value": a.value,
                 "silenced": a.silenced, "acknowledged": a.acknowledged, "fingerprint": a.fingerprint}
                for a in self.evaluator.alerts.values()
            ]  # fmt: skip
        silences = [{"silence_id": s.silence_id, "rule": s.rule, "matchers": s.matchers, "ends_at": s.ends_at} for s in self.silences]
        return {"rounds": self.rounds, "alerts": alerts, "silences": silences}


def _timed(sample) -> tuple[list, float]:
    started = time.perf_counter()
    return sample(), time.perf_counter() - started


class _Sampled:
    """Exposes the last round's samples of the metrics this component owns (the collector exposes its own)."""

    def __init__(self, monitor: Monitor):
        self.monitor = monitor

    def collect(self):
        with self.monitor.lock:
            samples = dict(self.monitor.samples)
            alerts = list(self.monitor.evaluator.alerts.values())
        for name, metric in METRICS.items():
            if metric.exposed_by != "alerts" or name.startswith("trackflow_alerts_") or name not in samples:
                continue
            family = GaugeMetricFamily(name, metric.help, labels=list(metric.labels))
            for labels, value in samples[name]:
                family.add_metric([labels.get(label, "") for label in metric.labels], value)
            yield family
        firing = GaugeMetricFamily("trackflow_alerts_firing_count", METRICS["trackflow_alerts_firing_count"].help, labels=["rule", "priority"])
        counts: dict[tuple[str, str], int] = {}
        for alert in alerts:
            if alert.state == "firing":
                counts[(alert.rule, alert.priority)] = counts.get((alert.rule, alert.priority), 0) + 1
        for (rule, priority), n in sorted(counts.items()):
            firing.add_metric([rule, priority], n)
        yield firing


# The component watches the pipeline on the same machine: when both want the CPU, the jobs come first (a lower
# priority only costs the component time when the cores are busy; its rounds then take longer, its figures not).
NICENESS = 10


def serve(settings: Settings, port: int) -> None:
    os.nice(NICENESS)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # a broker away is the kafka source's measurement, not log noise
    logging.getLogger("httpx").setLevel(logging.WARNING)
    monitor = Monitor(settings)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path == "/metrics":
                self._answer(200, generate_latest(monitor.registry), CONTENT_TYPE_LATEST)
            elif self.path == "/alerts":
                self._answer(200, json.dumps(monitor.status()).encode(), "application/json")
            elif self.path == "/healthz":
                ready = monitor.rounds > 0
                self._answer(200 if ready else 503, b"ok" if ready else b"first round running", "text/plain")
            else:
                self._answer(404, b"not found", "text/plain")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # scrapes every few seconds: not worth a log line each
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="http").start()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    log.info("alerts: %d rules from %s, every %.1fs, /metrics on port %d", len(monitor.config.rules), monitor.path, settings.alerts_interval_s, port)
    while not stopping.is_set():
        started = time.monotonic()
        monitor.round()
        stopping.wait(max(0.0, settings.alerts_interval_s - (time.monotonic() - started)))
    server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(get_settings(), args.port)


if __name__ == "__main__":
    main()
