"""Audiences through the workbench API on the session's real stack (warehouse, PostgreSQL metadata store and push
database): saved from a result's persons (members equal the persons listing of the same cell), rule audiences
(unknown names refused, too large refused before writing with the previous version kept, size history), static vs
dynamic, exports landing in real PostgreSQL and in a file, the CLI, and the Dagster refresh of due audiences."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from pipelines.audiences import definitions as audiences
from pipelines.cdp import store
from .conftest import WB_APP

TODAY = dt.datetime.now(dt.timezone.utc).date()
SCOPE = {"app_id": WB_APP, "date_from": (TODAY - dt.timedelta(days=19)).isoformat(), "date_to": TODAY.isoformat()}
FUNNEL = {"model": "funnel", **SCOPE, "steps": [{"event": "product_view"}, {"event": "add_to_cart"}, {"event": "order"}]}
RETENTION = {"model": "retention", **SCOPE, "initial": {"event": "product_view"}, "returning": {"event": "product_view"}, "periods": 3}
TAG = "c2_api_tier"


@pytest.fixture(scope="module")
def site(workbench_stack):
    return workbench_stack


@pytest.fixture(scope="module")
def tagged(site, warehouse) -> list[str]:
    """Tier tags for the first 300 persons of the workbench shop (gold for every third)."""
    oneids = [f"oneid:{n}" for n in range(300)]
    updated = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    frame = pd.DataFrame({"oneid": oneids, "tag": TAG, "value": ["gold" if n % 3 == 0 else "silver" for n in range(300)], "updated": updated})
    store.write_tags(warehouse, frame, source="c2-api-test")
    return oneids


def listing(site, request: dict) -> list[str]:
    answer = site.api("POST", "/v1/query", {**request, "refresh": True}, token=site.analyst_token)
    assert answer.status_code == 200, answer.text
    persons = answer.json()["persons"]["persons"]
    assert len(persons) < 10_000  # the whole cell on one page
    return persons


def members(site, name: str) -> list[str]:
    answer = site.api("GET", f"/v1/audiences/{name}/members?limit=10000", token=site.analyst_token)
    assert answer.status_code == 200, answer.text
    return answer.json()["members"]


def create(site, body: dict, token: str | None = None):
    return site.api("POST", "/v1/audiences", body, token=token or site.analyst_token)


@pytest.mark.parametrize(
    "name, request_",
    [
        ("c2_funnel_dropped", {**FUNNEL, "persons": {"step": 3, "status": "dropped", "limit": 10_000}}),
        ("c2_retention_cell", {**RETENTION, "persons": {"cohort": SCOPE["date_from"], "period": 1, "limit": 10_000}}),
    ],
)
def test_saved_from_a_result_equals_its_persons_listing(site, name, request_):
    expected = listing(site, request_)
    assert expected  # the comparison means something
    saved = create(site, {"name": name, "description": "from a result", "result": request_})
    assert saved.status_code == 201, saved.text
    body = saved.json()
    assert (body["kind"], body["size"], body["owner"]) == ("static", len(expected), site.analyst[0])
    assert sorted(members(site, name)) == sorted(expected)
    refused = site.api("POST", f"/v1/audiences/{name}/refresh", token=site.analyst_token)
    assert refused.status_code == 409 and "static" in refused.json()["error"]


def test_a_path_edge_saved_from_its_request(site, warehouse, analyst):
    request = {"model": "paths", **SCOPE, "start": {"event": "product_view"}, "steps": 3, "edges_per_step": 3}
    answer = site.api("POST", "/v1/query", request, token=site.analyst_token).json()
    edge = next(e for e in answer["edges"] if e["step"] == 1 and not e["other"])
    cell = {**request, "persons": {"step": 1, "source": edge["source"], "target": edge["target"], "limit": 10_000}}
    version, size = audiences.save_result(warehouse, analyst, cell, "c2_path_edge", "chain", "test", 1_000_000)
    assert size == edge["persons"] == len(listing(site, cell))
    assert store.current_version(analyst, "c2_path_edge") == version


def test_rule_audience_size_history_and_refusals(site, tagged, warehouse, analyst):
    rule = {"app_id": WB_APP, "rule": {"all": [{"tag": TAG, "op": "=", "value": "gold"}, {"event": "product_view", "days": 30}]}}
    made = create(site, {"name": "c2_gold_viewers", "kind": "dynamic", "schedule": "daily", "rule": rule})
    assert made.status_code == 201, made.text
    first = made.json()
    assert 0 < first["size"] <= 100 and len(first["size_history"]) == 1

    again = site.api("POST", "/v1/audiences/c2_gold_viewers/refresh", token=site.analyst_token)
    assert again.status_code == 200, again.text
    assert [h["size"] for h in again.json()["size_history"]] == [first["size"]] * 2

    # The owner refreshes, and an admin may too.
    assert site.api("POST", "/v1/audiences/c2_gold_viewers/refresh", token=site.admin_token).status_code == 200

    # Too large: refused before writing, the previous version kept, the size named.
    with pytest.raises(audiences.Invalid) as refused:
        with site_connection(site) as connection:
            audiences.refresh(connection, warehouse, analyst, "c2_gold_viewers", (site.analyst[0], False), max_persons=3)
    assert f"has {first['size']:,} persons, more than the maximum of 3" in str(refused.value)
    kept = site.api("GET", "/v1/audiences/c2_gold_viewers", token=site.analyst_token).json()
    assert len(kept["size_history"]) == 3 and "more than the maximum" in kept["last_error"]

    unknown = create(site, {"name": "c2_unknown", "rule": {"app_id": WB_APP, "rule": {"any": [
        {"tag": "c2_no_such_tag", "op": "is_set"}, {"event": "no_such_event", "days": 7}]}}})  # fmt: skip
    assert unknown.status_code == 422
    messages = " ".join(e["message"] for e in unknown.json()["errors"])
    assert "c2_no_such_tag" in messages and "no_such_event" in messages
    assert site.api("GET", "/v1/audiences/c2_unknown", token=site.analyst_token).status_code == 404

    bad = create(site, {"name": "C2 bad", "rule": rule})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "name"
    duplicate = create(site, {"name": "c2_gold_viewers", "rule": rule})
    assert duplicate.status_code == 409


def site_connection(site):
    from pipelines.push.connection import connect

    return connect(site.settings, site.settings.meta_database)


def test_export_lands_in_postgres_and_in_a_file(site, tagged, analyst):
    rule = {"app_id": WB_APP, "rule": {"tag": TAG, "op": "in", "value": ["gold"]}}
    assert create(site, {"name": "c2_gold", "rule": rule}).status_code == 201
    expected = sorted(members(site, "c2_gold"))
    assert len(expected) == 100

    done = site.api("POST", "/v1/audiences/c2_gold/export", {"table": "marketing.c2_gold"}, token=site.analyst_token)
    assert done.status_code == 200, done.text
    assert done.json()["rows"] == 100 and done.json()["target"] == "postgres:marketing.c2_gold"
    from pipelines.push.connection import connect

    with connect(site.settings) as connection:
        rows = connection.execute("SELECT audience, version, oneid FROM marketing.c2_gold ORDER BY oneid").fetchall()
    assert sorted(r[2] for r in rows) == expected and {r[0] for r in rows} == {"c2_gold"}

    written = site.api("POST", "/v1/audiences/c2_gold/export", {"format": "csv"}, token=site.analyst_token).json()
    assert sorted(pd.read_csv(written["target"])["oneid"]) == expected

    hostile = site.api("POST", "/v1/audiences/c2_gold/export", {"table": "x; DROP TABLE y"}, token=site.analyst_token)
    assert hostile.status_code == 422 and "lowercase" in hostile.json()["error"]


def test_listing_and_delete(site):
    listed = {a["name"]: a for a in site.api("GET", "/v1/audiences", token=site.analyst_token).json()["audiences"]}
    assert {"c2_funnel_dropped", "c2_gold_viewers"} <= set(listed)
    assert site.api("DELETE", "/v1/audiences/c2_funnel_dropped", token=site.admin_token).status_code == 204
    assert site.api("GET", "/v1/audiences/c2_funnel_dropped", token=site.analyst_token).json()["definition"] is None


def test_dagster_recomputes_due_dynamic_audiences(site):
    """The hourly schedule's asset, materialised in process over the session's stack: a daily audience last computed
    two days ago gets a new version; one computed just now is not due."""
    from dagster import materialize

    from dagster_project.audiences import dynamic_audiences
    from dagster_project.resources import PostgresResource, WarehouseResource

    before = len(site.api("GET", "/v1/audiences/c2_gold_viewers", token=site.analyst_token).json()["size_history"])
    with site_connection(site) as connection:
        connection.execute("UPDATE audiences SET refreshed_at = now() - interval '2 days' WHERE name = 'c2_gold_viewers'")
    result = materialize([dynamic_audiences], resources={"warehouse": WarehouseResource(), "postgres": PostgresResource()})
    assert result.success
    after = site.api("GET", "/v1/audiences/c2_gold_viewers", token=site.analyst_token).json()
    assert len(after["size_history"]) == before + 1 and after["last_error"] is None
    with site_connection(site) as connection:
        assert "c2_gold_viewers" not in audiences.due(connection)


def test_the_cli_creates_refreshes_and_exports_and_refuses_in_one_line(site, tagged, tmp_path):
    from typer.testing import CliRunner

    from pipelines.cli import app

    runner = CliRunner()
    rule = tmp_path / "rule.json"
    rule.write_text(json.dumps({"app_id": WB_APP, "rule": {"tag": TAG, "op": "=", "value": "gold"}}))
    made = runner.invoke(app, ["audiences", "create", "c2_cli_gold", "--rule", str(rule), "--schedule", "hourly"])
    assert made.exit_code == 0 and "100 persons (dynamic)" in made.output, made.output
    assert "c2_cli_gold" in runner.invoke(app, ["audiences", "list"]).output
    assert runner.invoke(app, ["audiences", "refresh", "c2_cli_gold"]).exit_code == 0
    exported = runner.invoke(app, ["audiences", "export", "c2_cli_gold", "--format", "parquet"])
    assert exported.exit_code == 0 and "100 rows" in exported.output, exported.output

    rule.write_text(json.dumps({"app_id": WB_APP, "rule": {"tag": "c2_cli_no_such_tag", "op": "is_set"}}))
    for args, expected in (
        (["create", "c2_cli_bad", "--rule", str(rule)], "c2_cli_no_such_tag"),
        (["export", "c2_cli_gold", "--table", "Bad Name"], "lowercase"),
        (["refresh", "c2_cli_missing"], "no audience 'c2_cli_missing'"),
    ):
        result = runner.invoke(app, ["audiences", *args])
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 1 and lines[-1].startswith("error: ") and expected in lines[-1], result.output


def test_chain_names_are_the_chains_temporaries_only(site, tagged, warehouse):
    """`chain_` audiences are a chain's carried person keys (no OneIDs, dropped after a day by migration 0071's TTL):
    no other audience may take such a name, and no rule, export or member listing may read one."""
    reason = "names starting with 'chain_' are the combined analysis's temporary audiences"
    rule = {"app_id": WB_APP, "rule": {"tag": TAG, "op": "=", "value": "gold"}}
    named = create(site, {"name": "chain_gold", "rule": rule})
    assert named.status_code == 422 and named.json()["errors"][0]["field"] == "name" and reason in named.json()["errors"][0]["message"]
    with pytest.raises(ValueError, match=reason):
        store.write_members(warehouse, "chain_synced", ["oneid:1"], "synced", "test", 10)
    chain = {"model": "chain", **SCOPE, "steps": [{"request": FUNNEL, "persons": {"step": 3, "status": "dropped"}}, {"request": RETENTION}]}
    answer = site.api("POST", "/v1/query", chain, token=site.analyst_token)
    assert answer.status_code == 200, answer.text
    carried = answer.json()["steps"][0]["carried"]["audience"]
    on_it = create(site, {"name": "c2_on_a_chain", "rule": {"app_id": WB_APP, "rule": {"audience": carried, "op": "in"}}})
    assert on_it.status_code == 422 and reason in json.dumps(on_it.json()["errors"])
    listed = site.api("GET", f"/v1/audiences/{carried}/members", token=site.analyst_token)
    assert listed.status_code == 404 and reason in listed.text
    exported = site.api("POST", f"/v1/audiences/{carried}/export", {"format": "csv"}, token=site.analyst_token)
    assert exported.status_code in (400, 422) and reason in exported.text
