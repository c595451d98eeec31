"""Operating the syncs: the Dagster code location loads cdp.yaml's sources; a failing source fails its Dagster run
with the reason and its freshness check; the alerts component's CDP source reports the failure that fires
`cdp_sync_failed`; the CLI; and the demo's insight system synced from the repository's cdp.yaml."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from pipelines.cdp import store
from pipelines.cdp.sources import SourceError, load_sources, parse_sources
from pipelines.identity.changes import MAP_COLUMNS
from tests.cdp.conftest import make_source

ROOT = Path(__file__).resolve().parents[2]


def test_repository_cdp_yaml_is_valid_and_in_the_code_location():
    from dagster_project.definitions import defs

    names = [s.name for s in load_sources(ROOT / "cdp.yaml")]
    assert names == ["insight_tags", "insight_segments"]
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {f"cdp_{n}" for n in names} <= keys
    schedules = {s.name for s in defs.schedules}
    assert {f"cdp_{n}_schedule" for n in names} | {"cdp_freshness_schedule"} <= schedules


@pytest.mark.parametrize(
    "fragment, message",
    [
        ({"name": "Bad"}, "source 'Bad' > name: 'Bad' is not a lower-case name"),
        ({"person": {"column": "u", "id_type": "user_id"}, "tags": ["t"]}, "give exactly one of postgres, file, warehouse (found none)"),
        ({"file": {"path": "x.txt"}}, "source 's' > file: Value error"),
        ({"file": {"path": "x.csv"}, "mode": "incremental"}, "mode incremental needs `updated`"),
        ({"file": {"path": "x.csv"}, "mode": "incremental", "updated": "t", "audiences": ["a"], "tags": []}, "audiences are snapshots"),
        ({"file": {"path": "x.csv"}, "audiences": ["a", "b"], "tags": []}, "several audiences need `audience_column`"),
        ({"file": {"path": "x.csv"}, "audiences": ["chain_tiers"], "tags": []}, "names starting with 'chain_' are the combined analysis's temporary"),
        ({"file": {"path": "x.csv"}, "tags": [{"column": "Tier"}]}, "give `tag:` for column 'Tier'"),
        ({"file": {"path": "x.csv"}, "tags": ["a;drop"]}, "'a;drop' is not a column name"),
        ({"file": {"path": "x.csv"}, "person": {"column": "u"}}, "source 's' > person > id_type: Field required"),
        ({"postgres": {"query": "SELECT 1"}}, "give exactly one of `database`"),
        ({"file": {"path": "x.csv"}, "schedule": {"cron": "every hour"}}, "not a valid cron expression"),
        ({"file": {"path": "x.csv"}, "colour": "red"}, "source 's' > colour: Extra inputs are not permitted"),
    ],
)
def test_invalid_sources_name_source_and_field(fragment, message):
    document = {"name": "s", "person": {"column": "u", "id_type": "user_id"}, "tags": ["t"], **fragment}
    with pytest.raises(SourceError) as caught:
        parse_sources(yaml.safe_dump({"sources": [document]}), "cdp.yaml")
    assert message.split(": Value error")[0] in str(caught.value), str(caught.value)
    assert str(caught.value).startswith("cdp.yaml: ")


def test_repeated_source_names_refused():
    source = {"name": "s", "file": {"path": "x.csv"}, "person": {"column": "u", "id_type": "user_id"}, "tags": ["t"]}
    with pytest.raises(SourceError, match="source names repeated: s"):
        parse_sources(yaml.safe_dump({"sources": [source, source]}))


def _unreachable(tmp_path, name: str, audience: str):
    (tmp_path / "ok.csv").write_text("u\nnobody\n")
    good = make_source(name=name, file={"path": str(tmp_path / "ok.csv")}, person={"column": "u", "id_type": "user_id"}, audiences=[audience])
    bad = make_source(name=name, file={"path": str(tmp_path / "missing.csv")}, person={"column": "u", "id_type": "user_id"}, audiences=[audience])
    return good, bad


def test_dagster_run_fails_with_reason_and_freshness_check(stack, warehouse, analyst, tmp_path):
    from dagster import AssetSelection, materialize

    from dagster_project.cdp import build_freshness_check, build_sync_asset
    from dagster_project.resources import WarehouseResource
    from pipelines.monitoring.sources import CdpSource

    name = f"dg_{uuid.uuid4().hex[:8]}"
    good, bad = _unreachable(tmp_path, name, name)
    resources = {"warehouse": WarehouseResource()}
    ok = materialize([build_sync_asset(good, tmp_path)], resources=resources)
    assert ok.success
    materialization = ok.asset_materializations_for_node(f"cdp_{name}")[0]
    assert materialization.metadata["unmapped"].value == 1
    fresh = materialize([build_sync_asset(good, tmp_path), build_freshness_check(good)], resources=resources, selection=[f"cdp_{name}"])
    evaluation = fresh.get_asset_check_evaluations()[0]
    assert evaluation.passed, evaluation.description

    failed = materialize([build_sync_asset(bad, tmp_path)], resources=resources, raise_on_error=False)
    assert not failed.success
    failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
    assert "missing.csv not found" in str(failure.event_specific_data.error.message) + str(failure.event_specific_data.user_failure_data)
    assert store.current_version(analyst, name) is not None  # the first run's version stays current
    check = build_freshness_check(bad)  # alone, as the freshness schedule runs it
    stale = materialize([build_sync_asset(bad, tmp_path), check], resources=resources, selection=AssetSelection.checks(check))
    evaluation = stale.get_asset_check_evaluations()[0]
    assert evaluation.passed and "latest run failed: source" in evaluation.description  # fresh, but says why the last run failed
    never, _ = _unreachable(tmp_path, f"never_{uuid.uuid4().hex[:8]}", "x")
    check = build_freshness_check(never)
    unsynced = materialize([build_sync_asset(never, tmp_path), check], resources=resources, selection=AssetSelection.checks(check), raise_on_error=False)
    evaluation = unsynced.get_asset_check_evaluations()[0]
    assert not evaluation.passed and evaluation.description == "never synced successfully"
    # What the alerts component samples: the source's latest run failed.
    samples = {(metric, labels.get("source")): value for metric, labels, value in CdpSource(warehouse).sample()}
    assert samples[("trackflow_cdp_sync_failed_count", name)] == 1.0
    assert 0 <= samples[("trackflow_cdp_sync_age_seconds", name)] < 600


def test_cli_sync_and_status(stack, people, tmp_path):
    name = f"cli_{uuid.uuid4().hex[:8]}"
    (tmp_path / "p.csv").write_text(f"u\n{people.user(1)}\nstranger\n")
    (tmp_path / "cdp.yaml").write_text(
        yaml.safe_dump({"sources": [
            {"name": name, "file": {"path": "p.csv"}, "person": {"column": "u", "id_type": "user_id"}, "audiences": [name]},
            {"name": f"{name}_bad", "file": {"path": "p.csv"}, "person": {"column": "u", "id_type": "customer_no"}, "audiences": [f"{name}_b"]},
        ]})  # fmt: skip
    )
    env = {**os.environ, "TRACKFLOW_CDP_SOURCES": str(tmp_path / "cdp.yaml")}

    def trackflow(*args):
        return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, capture_output=True, text=True, cwd=ROOT, timeout=120)

    one = trackflow("cdp", "sync", "--source", name)
    assert one.returncode == 0, one.stderr
    assert "1 unmapped id(s) e.g. stranger" in one.stdout
    both = trackflow("cdp", "sync")
    assert both.returncode == 1
    assert "unknown id type 'customer_no'" in both.stderr and "Traceback" not in both.stderr
    unknown = trackflow("cdp", "sync", "--source", "nope")
    assert unknown.returncode == 1 and f"no CDP source named 'nope'; defined: {name}, {name}_bad" in unknown.stderr
    shown = trackflow("cdp", "status")
    assert shown.returncode == 0 and name in shown.stdout and "failed" in shown.stdout


def test_demo_insight_system_synced_by_the_repository_sources(stack, stack_settings, warehouse, analyst):
    """The demo's insight tables hold the demo persons' own ids plus strangers; the repository's cdp.yaml sources map
    the persons (OneIDs given here as the identity graph would) and count the strangers."""
    from pipelines.cdp.demo import STRANGERS, seed_insight
    from pipelines.cdp.sync import run_source
    from pipelines.push.connection import connect

    prefix = f"demo{uuid.uuid4().hex[:6]}-"
    users = [f"{prefix}u-{n}" for n in range(0, 30, 3)]
    devices = [f"{prefix}dev-{n}" for n in range(30)]
    now = dt.datetime.now(dt.timezone.utc)
    rows = [["user_id", u, f"{prefix}o{u}", "", now, now, now, "test", "test", 1, 0] for u in users]
    rows += [["device_id", d, f"{prefix}o{d}", "", now, now, now, "test", "test", 1, 0] for d in devices]
    warehouse.insert("oneid_map", rows, MAP_COLUMNS, settings={"async_insert": 0})
    assert seed_insight(stack_settings, users, devices) == (len(users) + STRANGERS, len(devices) + STRANGERS)
    settings = stack_settings.model_copy(update={"cdp_sources": ROOT / "cdp.yaml"})
    results = {r.source: r for r in run_source(settings, warehouse, analyst)}
    assert all(r.ok for r in results.values()), [r.error for r in results.values()]
    assert results["insight_segments"].unmapped == STRANGERS and results["insight_segments"].persons_mapped == len(devices)
    # The tags source is incremental: other runs in this session may have read earlier rows; strangers stay unmapped.
    assert results["insight_tags"].unmapped <= STRANGERS
    with connect(stack_settings, "trackflow_insight") as pg:
        expected = dict(pg.execute(
            "SELECT segment, count(*) FROM insight.device_segments WHERE segment IS NOT NULL AND device_id LIKE %s GROUP BY segment",
            (prefix + "%",),
        ).fetchall())  # fmt: skip
    for audience in ("high_value", "churn_risk", "bargain_hunters"):
        assert results["insight_segments"].audience_sizes[audience] == expected.get(audience, 0)
