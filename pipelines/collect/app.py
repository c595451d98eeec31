"""The collector's HTTP surface (Starlette): routes, app-key auth, limits, and the intake pipeline
decode -> envelope checks -> tracking plan -> enrichment -> Kafka/spool -> answer.

Status codes: 200 delivered to Kafka (acknowledged), 202 spooled to disk (Kafka away; will be replayed),
400 malformed, 401 unknown app key, 403 app_id not the key's app, 413 too large, 422 rejected by the tracking
plan, 429 rate limited (Retry-After), 503 spool full. Every error body is JSON {"error": reason, ...}.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipelines import messaging
from pipelines.collect.enrich import SessionContexts, describe_user_agent, enrich_context
from pipelines.collect.intake import BadRequest, decode_beacon_data, gunzip, normalize, parse_json
from pipelines.collect.journal import Journal
from pipelines.collect.limits import RateLimiter, retry_after_header
from pipelines.collect.metrics import CONTENT_TYPE_LATEST, CollectorMetrics
from pipelines.collect.protocols import Mapped, posthog, segment, sensors
from pipelines.collect.sink import SPOOLED, Record, Sink, SpoolFull
from pipelines.collect.spool import Spool
from pipelines.collect.stage_counts import CollectedCounts, summary_message
from pipelines.config import Settings
from pipelines.envelope import partition_key
from pipelines.person_properties import update_message
from pipelines.plan.model import PlanError, load_plans, resolve_plan_dir
from pipelines.plan.validate import QUARANTINE, REJECT, PlanBook

log = logging.getLogger("trackflow.collector")

PLAN_RELOAD_INTERVAL_S = 2.0
# 1x1 transparent GIF answered by the image beacon, whatever the outcome (an <img> cannot read a JSON body).
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


class PlanHolder:
    """The tracking plans in force, reloaded when a file in the plan folder changes (checked every 2 s)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.book = PlanBook({})
        self._stamp: tuple = ()
        self.reload()

    def _current_stamp(self) -> tuple:
        if not self.folder.is_dir():
            return ()
        return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in self.folder.iterdir() if p.suffix in (".yaml", ".yml")))

    def reload(self) -> bool:
        stamp = self._current_stamp()
        if stamp == self._stamp:
            return False
        try:
            plans = load_plans(self.folder) if stamp else {}
        except PlanError as exc:  # keep validating with the last good plan; `trackflow plan validate` shows why
            log.error("tracking plan not reloaded: %s", exc)
            self._stamp = stamp
            return False
        self.book, self._stamp = PlanBook(plans), stamp
        log.info("tracking plans loaded: %s", {app: v.plan.version for app, v in self.book.validators.items()})
        return True


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


class Collector:
    def __init__(self, settings: Settings, port: int = 0, spool_dir: Path | None = None):
        self.settings = settings
        self.collector_id = settings.collector_id or f"{socket.gethostname()}:{port or settings.collector_port}"
        self.app_keys = dict(settings.collector_app_keys)
        self.limiter = RateLimiter(settings.collector_rate_per_s, settings.collector_burst)
        self.sessions = SessionContexts()
        self.metrics = CollectorMetrics()
        self.collected = CollectedCounts()
        self.plans = PlanHolder(resolve_plan_dir(settings.plan_dir))
        spool_path = spool_dir or settings.collector_spool_dir
        if not str(spool_path) or str(spool_path) == ".":
            # Configured port 0 means a new free port on every start: the next run must still find this run's
            # spool and journal, so the directory is named after the configured port then.
            spool_path = settings.data_dir / "spool" / str((port or settings.collector_port) if settings.collector_port else 0)
        journal = None
        if settings.collector_journal:
            journal = Journal(
                Path(spool_path) / "journal",
                settings.collector_journal_retention_s,
                settings.collector_journal_max_bytes,
                on_evicted=self.metrics.journal_evicted.inc,
            )
            self.metrics.journal_bytes.set_function(journal.size_bytes)
        # How long one connection attempt (topics, incarnation, producer) waits for the broker before the sink tries
        # again with the address read afresh: with kafka-python's 30 s default, a broker that `trackflow up` had
        # restarted on a new port was found ~27 s late.
        self.connect_timeout_s = min(settings.collector_ack_timeout_s, 2.0)
        self.sink = Sink(
            make_producer=self._make_producer,
            spool=Spool(Path(spool_path), settings.collector_spool_max_bytes),
            prepare_topics=lambda address: messaging.ensure_topics(
                self._on_broker(address), bootstrap_timeout_s=self.connect_timeout_s
            ),
            on_state=lambda up: self.metrics.kafka_up.set(1 if up else 0),
            journal=journal,
            read_incarnation=lambda address: messaging.broker_incarnation(
                self._on_broker(address), bootstrap_timeout_s=self.connect_timeout_s
            ),
            on_replayed=self.metrics.journal_replayed.inc,
            broker_address=lambda: messaging.bootstrap_servers(settings),
        )
        self.metrics.spool_bytes.set_function(self.sink.spool.pending_bytes)
        self.metrics.spool_age.set_function(self.sink.spool.age_s)

    def _on_broker(self, address: str) -> Settings:
        """The settings with the broker at `address`: one connection attempt uses the one address the sink read."""
        return self.settings.model_copy(update={"kafka_bootstrap": address})

    def _make_producer(self, address: str):
        # delivery_timeout_ms bounds how long a request waits for its ack before the records are spooled instead;
        # max_block_ms bounds send() itself, which runs on the event loop and blocks only while metadata is missing
        # (first send to a topic) or the buffer is full (broker stalled).
        timeout_ms = int(self.settings.collector_ack_timeout_s * 1000)
        return messaging.producer(
            self._on_broker(address),
            bootstrap_timeout_ms=int(self.connect_timeout_s * 1000),
            client_id=f"trackflow-collector-{self.collector_id}",
            compression_type="lz4",
            linger_ms=2,
            max_block_ms=min(timeout_ms, 2000),
            request_timeout_ms=max(timeout_ms - 100, 500),
            delivery_timeout_ms=timeout_ms,
            retry_backoff_ms=100,
            reconnect_backoff_max_ms=1000,
        )

    # -- lifecycle ------------------------------------------------------------------------------------------------
    @asynccontextmanager
    async def lifespan(self, app):
        self._publish_plan_versions()
        await self.sink.start()
        background = [asyncio.create_task(self._reload_plans())]
        if self.settings.collector_metrics_flush_s > 0:
            background.append(asyncio.create_task(self._flush_counts_every(self.settings.collector_metrics_flush_s)))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            if self.settings.collector_metrics_flush_s > 0:
                await self._flush_counts()
            await self.sink.stop()

    async def _reload_plans(self) -> None:
        while True:
            await asyncio.sleep(PLAN_RELOAD_INTERVAL_S)
            try:
                if await asyncio.to_thread(self.plans.reload):
                    self._publish_plan_versions()
            except OSError as exc:
                log.error("plan folder unreadable: %s", exc)

    async def _flush_counts_every(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self._flush_counts()

    async def _flush_counts(self) -> None:
        """Send the accepted counts since the last flush to Kafka, through the sink as events go (spooled while
        Kafka is away); when neither can take them they stay for the next flush."""
        summaries = self.collected.drain()
        if not summaries:
            return
        key = self.collector_id.encode()
        try:
            await self.sink.deliver([Record(messaging.COLLECTED_COUNTS, key, summary_message(s)) for s in summaries])
        except SpoolFull:
            self.collected.restore(summaries)
            log.warning("collected counts not sent (Kafka unreachable, spool full); will retry")

    def _publish_plan_versions(self) -> None:
        for app_id, validator in self.plans.book.validators.items():
            self.metrics.plan_version.labels(app_id).set(validator.plan.version)

    # -- request plumbing -----------------------------------------------------------------------------------------
    def _app_id(self, request: Request) -> str:
        key = request.headers.get("x-app-key") or request.query_params.get("key")
        if not key:
            auth = request.headers.get("authorization", "")
            key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not key:
            raise BadRequest(401, "missing app key: send the X-App-Key header (or ?key= for beacons)")
        return self._app_for_key(key)

    def _app_for_key(self, key: str) -> str:
        """The app of an app key, counted against that key's rate limit (native and protocol endpoints alike)."""
        app_id = self.app_keys.get(key)
        if app_id is None:
            raise BadRequest(401, "unknown app key")
        wait = self.limiter.check(key)
        if wait:
            raise BadRequest(429, f"rate limit of {self.settings.collector_rate_per_s:g} requests/s for this app key", retry_after=wait)
        return app_id

    async def _body(self, request: Request) -> bytes:
        limit = self.settings.collector_max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise BadRequest(413, f"body of {declared} bytes exceeds the limit of {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BadRequest(413, f"body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
        body = b"".join(chunks)
        encoding = request.headers.get("content-encoding", "").lower()
        if encoding == "gzip":
            body = gunzip(body, limit)
        elif encoding not in ("", "identity"):
            raise BadRequest(415, f"content-encoding {encoding!r} is not supported; use gzip or none")
        return body

    def _error(self, endpoint: str, exc: BadRequest) -> Response:
        headers = {"Retry-After": retry_after_header(exc.details["retry_after"])} if "retry_after" in exc.details else None
        body = {"error": exc.reason, **{k: v for k, v in exc.details.items() if k != "retry_after"}}
        self.metrics.requests.labels(endpoint, str(exc.status)).inc()
        return _json(exc.status, body, headers)

    # -- intake ---------------------------------------------------------------------------------------------------
    async def ingest(
        self, request: Request, app_id: str, raw_events: list[Any], single: bool, person_updates: list[dict[str, Any]] = ()
    ) -> tuple[int, dict[str, Any]]:
        """Validate, enrich and deliver; returns (status, body). For a single event any rejection is the
        request's status; in a batch each rejected event is listed and the rest are delivered. Person-property
        updates (protocol intakes) are delivered with the events, in the same acknowledgement."""
        received_at = int(time.time() * 1000)
        ip = request.client.host if request.client else ""
        header_ua = request.headers.get("user-agent", "")
        header_device = describe_user_agent(header_ua) if header_ua else {}
        book = self.plans.book
        max_event = self.settings.collector_max_event_bytes
        by_key: dict[bytes, list[bytes]] = {}
        quarantined: list[Record] = []
        rejected: list[dict[str, Any]] = []
        accepted_events: list[str] = []
        for index, raw in enumerate(raw_events):
            try:
                envelope = normalize(raw, app_id)
            except BadRequest as exc:
                if single:
                    raise
                rejected.append({"index": index, "error": exc.reason, **exc.details})
                self.metrics.rejected.labels(app_id, "envelope").inc()
                continue
            verdict = book.validate(app_id, envelope["event"], envelope["props"])
            if verdict.outcome == REJECT:
                if single:
                    raise BadRequest(422, "rejected by the tracking plan", event_id=envelope["event_id"], reasons=verdict.reasons)
                rejected.append({"index": index, "event_id": envelope["event_id"], "error": "rejected by the tracking plan", "reasons": verdict.reasons})
                self.metrics.rejected.labels(app_id, "plan").inc()
                continue
            envelope["context"] = enrich_context(envelope["context"], app_id, envelope["session_id"], header_device, self.sessions)
            envelope["received_at"] = received_at
            envelope["collector_id"] = self.collector_id
            envelope["ip"] = ip
            if verdict.flags or verdict.plan_version:
                envelope["plan"] = {"version": verdict.plan_version, "flags": verdict.flags}
            key = partition_key(envelope).encode()
            if verdict.outcome == QUARANTINE:
                value = _dumps({"envelope": envelope, "reasons": verdict.reasons, "plan_version": verdict.plan_version, "quarantined_at": received_at})
                quarantined.append(Record(messaging.QUARANTINE, key, _limited(value, max_event, index)))
                continue
            by_key.setdefault(key, []).append(_limited(_dumps(envelope), max_event, index))
            accepted_events.append(envelope["event"])
        records = [Record(messaging.RAW, key, _raw_message(values)) for key, values in by_key.items()] + quarantined
        for update in person_updates:
            message = update_message(update, app_id, received_at, self.collector_id)
            value = _dumps(message)
            if len(value) > max_event:
                raise BadRequest(413, f"a person update is {len(value)} bytes as JSON, above the limit of {max_event} bytes")
            records.append(Record(messaging.PERSON_PROPERTIES, message["person_id"].encode(), value))
        delivering = time.perf_counter()
        try:
            outcome = await self.sink.deliver(records)
        except SpoolFull as exc:
            raise BadRequest(503, f"Kafka is unreachable and the local spool is full; retry later ({exc})", retry_after=30) from None
        status = 202 if outcome == SPOOLED else 200
        if records and outcome != SPOOLED:
            self.metrics.produce_latency.observe(time.perf_counter() - delivering)
        accepted = len(accepted_events)
        self.collected.add(received_at, app_id, accepted_events)
        counts = self.metrics.events
        if accepted:
            counts.labels(app_id, "spooled" if outcome == SPOOLED else "accepted").inc(accepted)
        if quarantined:
            counts.labels(app_id, "quarantined").inc(len(quarantined))
        if rejected:
            counts.labels(app_id, "rejected").inc(len(rejected))
        body: dict[str, Any] = {"status": "spooled" if outcome == SPOOLED else "ok", "accepted": accepted, "quarantined": len(quarantined)}
        if person_updates:
            body["person_updates"] = len(person_updates)
        if rejected:
            body["rejected"] = rejected
        return status, body

    async def _handle(self, endpoint: str, request: Request, read_events) -> tuple[int, dict[str, Any]] | Response:
        started = time.perf_counter()
        try:
            app_id = self._app_id(request)
            raw_events, single = await read_events(request)
            status, body = await self.ingest(request, app_id, raw_events, single)
        except BadRequest as exc:
            return self._error(endpoint, exc)
        self.metrics.ack_latency.observe(time.perf_counter() - started)
        self.metrics.requests.labels(endpoint, str(status)).inc()
        return status, body

    # -- endpoints ------------------------------------------------------------------------------------------------
    async def post_event(self, request: Request) -> Response:
        async def read(req: Request):
            return [parse_json(await self._body(req))], True

        result = await self._handle("events", request, read)
        return result if isinstance(result, Response) else _json(*result)

    async def post_batch(self, request: Request) -> Response:
        async def read(req: Request):
            document = parse_json(await self._body(req))
            if isinstance(document, dict) and isinstance(document.get("events"), list):
                document = document["events"]  # {"events": [...]} as well as a bare array
            if not isinstance(document, list):
                raise BadRequest(400, "a batch body is a JSON array of events (or {\"events\": [...]})")
            if len(document) > self.settings.collector_max_batch_events:
                raise BadRequest(413, f"batch of {len(document)} events exceeds the limit of {self.settings.collector_max_batch_events}")
            return document, False

        result = await self._handle("batch", request, read)
        return result if isinstance(result, Response) else _json(*result)

    async def beacon(self, request: Request) -> Response:
        async def read(req: Request):
            data = req.query_params.get("data")
            if not data:
                raise BadRequest(400, "the image beacon needs a `data` query parameter with the event JSON")
            if len(data) > self.settings.collector_max_event_bytes * 2:
                raise BadRequest(413, "beacon data exceeds the event size limit")
            document = parse_json(decode_beacon_data(data))
            return (document, False) if isinstance(document, list) else ([document], True)

        result = await self._handle("beacon", request, read)
        status = result.status_code if isinstance(result, Response) else result[0]
        headers = {"Cache-Control": "no-store"}
        if isinstance(result, Response) and "retry-after" in result.headers:
            headers["Retry-After"] = result.headers["retry-after"]
        return Response(PIXEL, status_code=status, media_type="image/gif", headers=headers)

    def _records_limit(self, count: int, what: str) -> None:
        if count > self.settings.collector_max_batch_events:
            raise BadRequest(413, f"{what} of {count} records exceeds the limit of {self.settings.collector_max_batch_events}")

    async def _protocol(self, endpoint: str, request: Request, read) -> Response:
        """Another vendor's SDK request: `read(request)` authenticates it and maps it (protocols/*) to (app_id,
        Mapped); the envelopes and person updates then take the native path (ingest). Rejections name the
        request's own record indexes."""
        started = time.perf_counter()
        try:
            app_id, mapped = await read(request)
            if mapped.rejected and mapped.empty:  # nothing usable: the request fails with the first reason
                first = mapped.rejected[0]
                raise BadRequest(first["status"], f"no record accepted; record {first['index']}: {first['error']}", rejected=mapped.rejected)
            status, answer = await self.ingest(request, app_id, mapped.events, mapped.single, mapped.person_updates)
        except BadRequest as exc:
            return self._error(endpoint, exc)
        rejected = mapped.rejected + [{**item, "index": mapped.record_indexes[item["index"]]} for item in answer.pop("rejected", [])]
        if rejected:
            answer["rejected"] = sorted(rejected, key=lambda item: item["index"])
        self.metrics.ack_latency.observe(time.perf_counter() - started)
        self.metrics.requests.labels(endpoint, str(status)).inc()
        return _json(status, answer)

    async def sensors(self, request: Request) -> Response:
        """Sensors Analytics SDKs (protocols/sensors.py): the `project` of their server URL is the app key."""

        async def read(req: Request) -> tuple[str, Mapped]:
            project = req.query_params.get("project", "")
            if not project:
                raise BadRequest(401, "missing project: the Sensors server URL must end in ?project=<app key>")
            app_id = self._app_for_key(project)
            body = await self._body(req) if req.method == "POST" else b""
            records, single = sensors.decode_request(body, req.query_params, req.headers.get("content-type", ""), self.settings.collector_max_body_bytes)
            self._records_limit(len(records), "data_list")
            return app_id, sensors.map_records(records, single, project, app_id)

        result = await self._protocol("sensors", request, read)
        if request.url.path.endswith(".gif"):
            return Response(PIXEL, status_code=result.status_code, media_type="image/gif", headers={"Cache-Control": "no-store"})
        return result

    async def posthog_capture(self, request: Request) -> Response:
        """PostHog SDKs (protocols/posthog.py): the project key (api_key / token) is the app key."""

        async def read(req: Request) -> tuple[str, Mapped]:
            body = await self._body(req) if req.method == "POST" else b""
            limit = self.settings.collector_max_body_bytes
            events, single, fields = posthog.decode_request(body, req.query_params, req.headers.get("content-type", ""), limit)
            self._records_limit(len(events), "batch")
            key = posthog.request_key(events, fields, req.query_params)
            if not key:
                raise BadRequest(401, "missing project key: PostHog requests carry it as api_key or token")
            app_id = self._app_for_key(key)
            return app_id, posthog.map_events(events, single, key, app_id, fields, int(time.time() * 1000))

        return await self._protocol("posthog", request, read)

    async def posthog_config(self, request: Request) -> Response:
        """posthog-js's remote config at start (protocols/posthog.py REMOTE_CONFIG): nothing enabled."""
        try:
            key = request.path_params["key"]
            self._app_for_key(key)
        except BadRequest as exc:
            return self._error("posthog", exc)
        return _json(200, posthog.remote_config(key))

    async def posthog_flags(self, request: Request) -> Response:
        """posthog-js's feature-flag request at start and after identify: no flags (protocols/posthog.py NO_FLAGS)."""
        try:
            body = await self._body(request) if request.method == "POST" else b""
            documents, _, fields = posthog.decode_request(body, request.query_params, request.headers.get("content-type", ""), self.settings.collector_max_body_bytes)
            key = posthog.request_key(documents, fields, request.query_params)
            if not key:
                raise BadRequest(401, "missing project key: PostHog requests carry it as api_key or token")
            self._app_for_key(key)
        except BadRequest as exc:
            return self._error("posthog", exc)
        return _json(200, posthog.flags_answer(key))

    def segment_endpoint(self, kind: str):
        """Segment / RudderStack SDKs (protocols/segment.py) at /segment/v1/<kind>: the write key is the app key."""

        async def read(req: Request) -> tuple[str, Mapped]:
            document, messages, single = segment.decode_request(await self._body(req), kind)
            self._records_limit(len(messages), "batch")
            key = segment.write_key(req.headers.get("authorization", ""), document)
            if not key:
                raise BadRequest(401, "missing write key: send it as the user of HTTP Basic auth (Segment's SDKs do) or as writeKey")
            app_id = self._app_for_key(key)
            return app_id, segment.map_messages(messages, single, key, app_id, document, int(time.time() * 1000))

        async def endpoint(request: Request) -> Response:
            return await self._protocol("segment", request, read)

        return endpoint

    async def healthz(self, request: Request) -> Response:
        sink = self.sink
        body = {
            "status": "ok" if sink.kafka_up else "degraded",
            "kafka": "up" if sink.kafka_up else "unreachable, spooling",
            "spool_bytes": sink.spool.pending_bytes(),
            "collector_id": self.collector_id,
            "plans": {app: v.plan.version for app, v in self.plans.book.validators.items()},
        }
        return _json(200, body)

    async def metrics_text(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return _json(404, {"error": f"no such endpoint {request.method} {request.url.path}"})

    async def method_not_allowed(self, request: Request, exc: Exception) -> Response:
        return _json(405, {"error": f"{request.method} is not allowed on {request.url.path}"})


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def _limited(value: bytes, limit: int, index: int) -> bytes:
    if len(value) > limit:
        raise BadRequest(413, f"event {index} is {len(value)} bytes as JSON, above the limit of {limit} bytes", index=index)
    return value


def _raw_message(envelopes: list[bytes]) -> bytes:
    """One message per key and request: a single envelope object, or a JSON array of envelopes of one person
    (docs/collector.md, "Messages on events.raw")."""
    return envelopes[0] if len(envelopes) == 1 else b"[" + b",".join(envelopes) + b"]"


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return _json(500, {"error": "internal error; the event was not stored, retry later"})


def create_app(settings: Settings, port: int = 0, spool_dir: Path | None = None) -> Starlette:
    collector = Collector(settings, port, spool_dir)
    routes = [
        Route("/v1/events", collector.post_event, methods=["POST"]),
        Route("/v1/batch", collector.post_batch, methods=["POST"]),
        Route("/v1/p.gif", collector.beacon, methods=["GET"]),
        Route("/sa", collector.sensors, methods=["GET", "POST"]),
        Route("/sa.gif", collector.sensors, methods=["GET", "POST"]),
        *(Route(path, collector.posthog_capture, methods=["GET", "POST"]) for path in ("/e/", "/capture/", "/batch/", "/i/v0/e/")),
        Route("/array/{key}/config", collector.posthog_config, methods=["GET"]),
        *(Route(path, collector.posthog_flags, methods=["GET", "POST"]) for path in ("/flags/", "/decide/")),
        *(Route(f"/segment/v1/{kind}", collector.segment_endpoint(kind), methods=["POST"]) for kind in (*segment.TYPES, "batch", "import")),
        Route("/healthz", collector.healthz, methods=["GET"]),
        Route("/metrics", collector.metrics_text, methods=["GET"]),
    ]
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=["*"],
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["content-type", "content-encoding", "x-app-key", "authorization"],
            max_age=86400,
        )
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=collector.lifespan,
        exception_handlers={404: collector.not_found, 405: collector.method_not_allowed, 500: _server_error},
    )
    app.state.collector = collector
    return app
