"""On the real stack: links and real-time changes land in the warehouse, the daily run reconciles and publishes,
`trackflow oneid lookup|show|split|recompute` work, the service cold-starts from the warehouse and follows
identity.changes, and the analysts' mapping view follows a merge and a split."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.identity import store
from pipelines.identity.daily import kafka_sender, run_daily
from pipelines.identity.index import OneIdIndex
from pipelines.identity.links import links_of_events
from pipelines.identity.realtime import RealtimeProcessor
from pipelines.identity.service import create_app

DAY = dt.date(2026, 9, 14)
T0 = int(dt.datetime(2026, 9, 14, 8, tzinfo=dt.timezone.utc).timestamp() * 1000)


@pytest.fixture(scope="module")
def oneid_stack(stack, warehouse, stack_settings, rules):
    """Real-time: a processor fed some events, its links and changes written as the job's writer does."""
    for table in ("oneid_edges", "oneid_map", "oneid_merge_log", "oneid_blocks", "oneid_reconcile"):
        warehouse.command(f"TRUNCATE TABLE IF EXISTS {table}")
    events = [
        {"ts": T0 + 1, "ids": {"user_id": "alice", "device_id": "phone-a"}},
        {"ts": T0 + 2, "ids": {"device_id": "phone-a", "cookie_id": "ca"}},
        {"ts": T0 + 3, "ids": {"device_id": "tablet", "user_id": "alice"}},
        {"ts": T0 + 4, "ids": {"device_id": "tablet", "user_id": "bob"}},  # refused: unique user_id
        {"ts": T0 + 5, "ids": {"cookie_id": "cb", "user_id": "bob"}},
    ]
    links = links_of_events(rules, events)
    processor = RealtimeProcessor(rules, {}, {}, {}, {})
    messages = [m for link in links for m in processor.on_link(link)]
    store.write_links(warehouse, links)
    store.write_messages(warehouse, store.decode(messages), rules.label)
    kafka_sender(stack_settings)(messages)
    return processor


def invoke(*args):
    result = CliRunner().invoke(app, ["oneid", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_realtime_rows_and_cli_lookup(oneid_stack, warehouse):
    alice = oneid_stack.graph.oneid_of("user_id:alice")
    assert invoke("lookup", "--type", "device_id", "--value", "TABLET") == (0, f"{alice}\n")
    code, output = invoke("show", alice)
    assert code == 0 and {i["value"] for i in json.loads(output)["ids"]} == {"alice", "phone-a", "ca", "tablet"}
    assert invoke("lookup", "--type", "device_id", "--value", "undefined")[0] == 1
    refused = warehouse.rows("SELECT rule FROM oneid_merge_log WHERE action = 'refuse'")
    assert ("unique:user_id",) in refused


def test_daily_run_agrees_then_split_and_history_follows(oneid_stack, warehouse, stack_settings, rules):
    first = run_daily(stack_settings, warehouse, DAY, rules=rules)
    assert first.reasons == {} and first.published["messages"] == 0  # real-time in event order = offline
    alice = oneid_stack.graph.oneid_of("user_id:alice")
    current = dict(warehouse.rows("SELECT person_id, oneid FROM oneid_current"))
    assert current["device_id:phone-a"] == current["cookie_id:ca"] == alice

    code, output = invoke("split", "--link", "user_id:alice", "device_id:tablet", "--reason", "kiosk", "--recompute")
    assert code == 0, output
    current = dict(warehouse.rows("SELECT person_id, oneid FROM oneid_current"))
    assert current["device_id:tablet"] != alice and current["device_id:phone-a"] == alice
    reasons = dict(warehouse.rows("SELECT reason, count() FROM oneid_reconcile GROUP BY reason"))
    assert reasons.get("split_offline", 0) >= 1
    code, output = invoke("lookup", "--type", "device_id", "--value", "tablet")
    assert code == 0 and output.strip() == current["device_id:tablet"]


def test_service_cold_start_and_follow(oneid_stack, stack_settings, rules):
    index = OneIdIndex()
    settings = stack_settings.model_copy(update={"oneid_tokens": ["t"]})
    with TestClient(create_app(settings, index, rules, follow=True, cold_start=True)) as client:
        auth = {"Authorization": "Bearer t"}
        answer = client.get("/v1/oneid", params={"type": "user_id", "value": "bob"}, headers=auth)
        assert answer.status_code == 200
        deadline = time.time() + 20
        while time.time() < deadline and index.applied < 3:
            time.sleep(0.2)
        assert index.applied >= 3  # identity.changes followed on top of the warehouse snapshot
        alice = client.get("/v1/oneid", params={"type": "user_id", "value": "alice"}, headers=auth).json()["oneid"]
        person = client.get(f"/v1/oneid/{alice}", headers=auth).json()
        assert {"user_id", "device_id", "cookie_id"} <= {i["type"] for i in person["ids"]}


def test_dagster_daily_asset_materializes_with_its_check(oneid_stack, stack_settings):
    from dagster import DagsterInstance, materialize

    from dagster_project.definitions import defs
    from dagster_project.oneid import oneid_graph
    from dagster_project.resources import KafkaResource, WarehouseResource

    assert defs.resolve_job_def("oneid_daily") is not None
    result = materialize(
        [oneid_graph],
        partition_key=str(DAY),
        resources={"warehouse": WarehouseResource(), "kafka": KafkaResource()},
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert [c.check_name for c in checks] == ["realtime_matches_offline"] and checks[0].passed


def test_serve_on_port_zero_picks_a_free_port_prints_and_records_it(oneid_stack, stack_settings):
    """`trackflow oneid serve --port 0` listens on a free port (not the default 8095), prints it and records it in
    the state dir as the stack's components do; the record goes when the service stops."""
    import os
    import select
    import signal
    import subprocess
    import sys

    import httpx

    from pipelines.identity.service import SERVICE_NAME

    service = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "oneid", "serve", "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env={**os.environ, "TRACKFLOW_ONEID_TOKENS": "t"})  # fmt: skip
    try:
        assert select.select([service.stdout], [], [], 60)[0], "nothing printed within 60 s"
        line = service.stdout.readline()
        assert line.startswith("OneID lookup service on http://127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        assert port not in (0, stack_settings.oneid_service_port)
        assert stack_settings.bound_port(SERVICE_NAME, stack_settings.oneid_service_port) == port
        deadline, answer = time.time() + 30, None
        while time.time() < deadline and answer is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
            except httpx.HTTPError:
                time.sleep(0.2)
        assert answer is not None and answer.status_code == 200
    finally:
        service.send_signal(signal.SIGINT)
        service.wait(20)
    assert stack_settings.bound_port(SERVICE_NAME, -1) == -1


def test_recompute_without_a_day_ages_ids_by_the_newest_link_not_todays_clock(oneid_stack, warehouse, rules):
    """A backfilled history from 2025: without --day the recompute measures TTLs at the end of the newest day the
    links cover and says how many ids aged out. Today's clock would age out every cookie (TTL 180 days)."""
    for table in ("oneid_edges", "oneid_map", "oneid_merge_log", "oneid_blocks", "oneid_reconcile"):
        warehouse.command(f"TRUNCATE TABLE IF EXISTS {table}")
    day = lambda text: int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc).timestamp() * 1000)  # noqa: E731
    store.write_links(warehouse, links_of_events(rules, [
        {"ts": day("2025-01-10T12:00"), "ids": {"device_id": "bf-phone", "cookie_id": "bf-old-cookie"}},
        {"ts": day("2025-08-01T09:00"), "ids": {"device_id": "bf-phone", "cookie_id": "bf-cookie"}},
    ]))  # fmt: skip
    code, output = invoke("recompute")
    assert code == 0, output
    assert "using 2025-08-01, the newest day the links cover" in output
    summary = json.loads(output[output.index("\n{") + 1:])
    assert summary["day"] == "2025-08-01"
    assert summary["ttl"] == {"as_of": "2025-08-02T00:00:00+00:00", "aged_out": 1}  # 204 days > 180: the old cookie
    assert invoke("lookup", "--type", "cookie_id", "--value", "bf-cookie")[0] == 0
    assert invoke("lookup", "--type", "cookie_id", "--value", "bf-old-cookie")[0] == 1
    assert invoke("recompute", "--day", "2025-13-01") == (1, "error: --day '2025-13-01': expected YYYY-MM-DD\n")


def test_events_loaded_from_a_file_reach_the_identity_graph(oneid_stack, warehouse, tmp_path):
    """`trackflow warehouse load` bypasses Kafka: the links of its events go to oneid_edges (its report line says
    how many), so the next recompute ties a backfill's multi-device person together."""
    import uuid

    for table in ("oneid_edges", "oneid_map", "oneid_merge_log", "oneid_blocks", "oneid_reconcile"):
        warehouse.command(f"TRUNCATE TABLE IF EXISTS {table}")
    events = [
        {"user_id": "bf-ann", "device_id": "bf-laptop"},
        {"user_id": "bf-ann", "device_id": "bf-phone"},
        {"device_id": "bf-phone", "cookie_id": "bf-cookie"},
        {"device_id": "bf-kiosk", "user_id": "bf-bob"},
    ]
    path = tmp_path / "backfill.jsonl"
    path.write_text("".join(json.dumps({"event_id": str(uuid.uuid4()), "event": "page_view", "app_id": "bf-app",
                                        "ts": T0 + i * 60_000, "ids": ids}) + "\n" for i, ids in enumerate(events)))  # fmt: skip
    result = CliRunner().invoke(app, ["warehouse", "load", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "4 identity link(s) to oneid_edges" in result.output
    assert invoke("recompute", "--day", str(DAY))[0] == 0
    person = {invoke("lookup", "--type", t, "--value", v)[1] for t, v in
              [("user_id", "bf-ann"), ("device_id", "bf-laptop"), ("device_id", "bf-phone"), ("cookie_id", "bf-cookie")]}  # fmt: skip
    assert len(person) == 1 and person != {""}
    assert invoke("lookup", "--type", "user_id", "--value", "bf-bob")[1] not in person
