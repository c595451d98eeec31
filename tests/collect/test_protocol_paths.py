"""The protocol intakes take the native path after mapping: the tracking plan quarantines what it quarantines for
native events, an app key's rate limit counts protocol and native requests alike, person updates are spooled with
the events while the broker is away and delivered when it is back, and no JSON body makes any protocol endpoint
answer 5xx (hypothesis, through the collector app with the real broker)."""

from __future__ import annotations

import base64
import json
import time
import uuid

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition
from hypothesis import HealthCheck, given, settings, strategies as st

from pipelines import messaging
from pipelines.ports import free_port
from pipelines.stack.processes import Broker, start_collector, stop_process
from tests.collect.conftest import APP_KEY, KafkaTap, in_process_client, make_event
from tests.collect.protocol_cases import JSON_VALUES

BASIC = {"authorization": "Basic " + base64.b64encode(f"{APP_KEY}:".encode()).decode()}
TS = 1_765_000_000_000


def sensors_form(record: dict) -> dict:
    return {"data": base64.b64encode(json.dumps(record).encode()).decode()}


def requests_for(event: str, run: str) -> dict:
    """One event named `event` per protocol, as (method, path, keyword arguments) for the test client."""
    return {
        "sensors": ("post", f"/sa?project={APP_KEY}",
                    {"data": sensors_form({"type": "track", "event": event, "time": TS, "distinct_id": f"sa-{run}", "properties": {}})}),
        "posthog": ("post", "/e/", {"json": {"api_key": APP_KEY, "event": event, "distinct_id": f"ph-{run}", "properties": {}}}),
        "segment": ("post", "/segment/v1/track", {"json": {"event": event, "userId": f"sg-{run}"}, "headers": BASIC}),
    }  # fmt: skip


@pytest.fixture(scope="module")
def client(stack, stack_settings, tmp_path_factory):
    with in_process_client(stack_settings, tmp_path_factory.mktemp("protocol-spool"), port=4) as test_client:
        yield test_client


def test_the_tracking_plan_quarantines_protocol_events_as_native_ones(client):
    run = uuid.uuid4().hex[:8]
    assert client.post("/v1/events", json=make_event("never_declared")).json()["quarantined"] == 1
    for protocol, (method, path, options) in requests_for("never_declared", run).items():
        answer = getattr(client, method)(path, **options)
        assert (answer.status_code, answer.json()["accepted"], answer.json()["quarantined"]) == (200, 0, 1), protocol


def test_an_app_keys_rate_limit_counts_protocol_requests_too(stack, stack_settings, tmp_path):
    limited = stack_settings.model_copy(update={"collector_rate_per_s": 0.5, "collector_burst": 3})
    run = uuid.uuid4().hex[:8]
    with in_process_client(limited, tmp_path, port=5) as test_client:
        statuses = [getattr(test_client, method)(path, **options).status_code for method, path, options in requests_for("add_to_cart", run).values()]
        assert statuses == [200, 200, 200]
        for method, path, options in requests_for("add_to_cart", run).values():
            answer = getattr(test_client, method)(path, **options)
            assert answer.status_code == 429 and answer.headers["retry-after"] and "rate limit" in answer.json()["error"]


def test_person_updates_are_spooled_with_their_events_while_the_broker_is_away(stack_settings, tmp_path):
    broker = Broker(stack_settings, free_port(), tmp_path / "broker.log")
    broker.start()
    messaging.ensure_topics(stack_settings.model_copy(update={"kafka_bootstrap": broker.bootstrap}))
    process, url = start_collector(tmp_path / "collector", broker.bootstrap, collector_ack_timeout_s="1.5")
    try:
        broker.stop()
        user = f"sg-spool-{uuid.uuid4().hex[:8]}"
        message = {"userId": user, "anonymousId": f"anon-{user}", "traits": {"plan": "pro"}, "messageId": str(uuid.uuid4())}
        answer = httpx.post(f"{url}/segment/v1/identify", json=message, headers=BASIC, timeout=30)
        assert answer.status_code == 202 and answer.json() == {"status": "spooled", "accepted": 1, "quarantined": 0, "person_updates": 1}

        broker.start()  # back empty: the collector recreates the topics and replays its spool
        tap = KafkaTap(broker.bootstrap)
        tap.wait([message["messageId"]], timeout=30)
        tap.close()
        updates = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False, consumer_timeout_ms=500)
        partition = TopicPartition(messaging.PERSON_PROPERTIES, 0)
        updates.assign([partition])
        updates.seek(partition, 0)
        found, deadline = [], time.monotonic() + 30
        while not found and time.monotonic() < deadline:
            found = [json.loads(r.value) for batch in updates.poll(timeout_ms=500).values() for r in batch if user in r.value.decode()]
        updates.close()
        assert [(u["op"], u["person_id"], u["properties"]) for u in found] == [("set", f"user_id:{user}", {"plan": "pro"})]
    finally:
        stop_process(process)
        broker.stop()


PATHS = ["/e/", "/batch/", "/capture/", "/i/v0/e/", "/segment/v1/track", "/segment/v1/batch", "/segment/v1/identify", "/segment/v1/alias"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS + ["/sa"]), document=JSON_VALUES, keyed=st.booleans())
def test_no_json_body_makes_a_protocol_endpoint_fail_with_a_5xx(client, path, document, keyed):
    if path == "/sa":
        answer = client.post(f"/sa?project={APP_KEY}", data={"data_list": base64.b64encode(json.dumps(document).encode()).decode()})
    else:
        if keyed and isinstance(document, dict):
            document = {**document, "api_key": APP_KEY}
        answer = client.post(path, content=json.dumps(document), headers={"content-type": "application/json", **(BASIC if keyed else {})})
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert answer.json()["error"]
