"""The analyst can run SELECTs on Trackflow's tables and nothing else, over the warehouse's HTTP interface: what an
attacker holding the analyst's password would try (issue 16: file(), INSERT INTO FUNCTION, url() back to the
warehouse as the writer, KILL QUERY) is refused with ClickHouse's error codes, and the analyses still run."""

from __future__ import annotations

import uuid
from pathlib import Path

import clickhouse_connect
import httpx
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from pipelines.warehouse.access import ALLOWED_TABLE_FUNCTIONS

REFUSED = {"164", "291", "497"}  # READONLY, DATABASE_ACCESS_DENIED, ACCESS_DENIED


@pytest.fixture(scope="module")
def http(stack, stack_settings):
    """POST a statement as the analyst; returns the response."""
    url = f"http://127.0.0.1:{stack_settings.bound_port('warehouse', 0)}/"
    auth = (stack_settings.analyst_user, stack_settings.analyst_password.get_secret_value())
    with httpx.Client(timeout=30) as client:

        def post(sql: str, **params) -> httpx.Response:
            return client.post(url, params={"database": "trackflow", **params}, content=sql.encode(), auth=auth)

        yield post


def assert_refused(response: httpx.Response, codes=REFUSED) -> None:
    code = response.headers.get("X-ClickHouse-Exception-Code")
    assert code in codes and response.status_code in (400, 403), (response.status_code, code, response.text[:300])


def table_functions(warehouse) -> list[str]:
    # From the engine itself, so the functions of a newer chDB are covered without editing this test.
    return [row[0] for row in warehouse.rows("SELECT name FROM system.table_functions ORDER BY name")]


def test_every_table_function_outside_the_allow_list_is_refused(warehouse, http):
    names = table_functions(warehouse)
    assert {"file", "url", "remote", "s3", "executable", "mysql", "postgresql", "python"} <= set(names)
    assert ALLOWED_TABLE_FUNCTIONS <= set(names)
    for name in names:
        if name in ALLOWED_TABLE_FUNCTIONS:
            continue
        # the arguments do not matter to the check, but the statement must parse: the view functions take a query
        call = next(
            call for call in (f"{name}()", f"{name}(SELECT 1)", f"{name}(SELECT 1 ELSE null('k UInt8'))", f"{name}('EXPLAIN AST', '', (SELECT 1))")
            if http(f"SELECT * FROM {call}").headers.get("X-ClickHouse-Exception-Code") != "62"
        )  # fmt: skip
        for sql in (f"SELECT * FROM {call}", f"SELECT 1 FROM trackflow.events WHERE 0 IN (SELECT 1 FROM {call})",
                    f"DESCRIBE TABLE {call}", f"WITH t AS (SELECT * FROM {call}) SELECT * FROM t"):  # fmt: skip
            response = http(sql)
            assert response.headers.get("X-ClickHouse-Exception-Code") == "497", (sql, response.text[:300])
            assert response.status_code == 403


def test_the_reviewers_repros_are_refused(stack_settings, warehouse, http, tmp_path):
    assert_refused(http("SELECT * FROM file('/etc/hostname', 'LineAsString')"))
    assert_refused(http("SELECT file('/etc/hostname')"))
    written = tmp_path / "written.txt"
    assert_refused(http(f"INSERT INTO FUNCTION file('{written}', 'LineAsString') SELECT 'x'"))
    assert_refused(http(f"SELECT 'x' INTO OUTFILE '{written}'"))
    assert not written.exists()
    # url() back to the warehouse, as the writer without a password and as the writer with its password
    port = stack_settings.bound_port("warehouse", 0)
    table = f"pivot_{uuid.uuid4().hex[:8]}"
    for user in ("default", f"{stack_settings.clickhouse_user}&password={stack_settings.clickhouse_password.get_secret_value()}"):
        create = f"CREATE TABLE default.{table} (k UInt8) ENGINE = Memory"
        pivot = f"http://127.0.0.1:{port}/?user={user}&query={create.replace(' ', '+')}"
        assert_refused(http(f"SELECT * FROM url('{pivot}', 'LineAsString')"))
    assert warehouse.scalar("SELECT count() FROM system.tables WHERE name = {t:String}", {"t": table}) == 0
    assert_refused(http("KILL QUERY WHERE 1"))
    assert_refused(http("KILL QUERY WHERE 1 SYNC"))


@pytest.mark.parametrize(
    "sql",
    [
        "SYSTEM FLUSH LOGS",
        "SYSTEM RELOAD DICTIONARY trackflow.oneid_dict",
        "SYSTEM DROP QUERY CACHE",
        "SET max_execution_time = 0",
        "SET readonly = 0",
        "INSERT INTO trackflow.quarantine (reason) VALUES ('x')",
        "CREATE TABLE trackflow.sneaky (k UInt8) ENGINE = Memory",
        "DROP TABLE IF EXISTS trackflow.no_such_table",
        "ALTER TABLE trackflow.quarantine DELETE WHERE 1",
        "TRUNCATE TABLE IF EXISTS trackflow.no_such_table",
        "OPTIMIZE TABLE trackflow.quarantine",
        "CREATE TEMPORARY TABLE t (k UInt8)",
        "USE default",
        "SHOW GRANTS",
        "SELECT * FROM system.processes",
        "SELECT * FROM system.users",
        "SELECT * FROM default.some_table",
        "SELECT 1 FROM trackflow.events WHERE 1 IN system.query_log",
        "SELECT dictGet('default.other_dict', 'x', 1)",
        "SELECT joinGet('default.joined', 'v', 1)",
        "EXPLAIN PIPELINE SELECT * FROM file('/etc/hostname', 'LineAsString')",
        "SELECT * FROM (EXPLAIN AST SELECT 1)",
        # quoted names with line breaks print lines of their own in EXPLAIN AST: they must not fake its structure
        "SELECT file('/etc/hostname') AS `z (children 1)\n   x`",
        "SELECT 7 AS `x\n        Literal 1` WHERE `x\n        Literal 1` IN system.users",
        "SELECT * FROM url('http://127.0.0.1:1/', 'CSV') AS `q (children 1)\n x`",
    ],
)
def test_statements_beyond_select_on_trackflow_are_refused(http, sql):
    assert_refused(http(sql))


def test_multi_statements_are_refused_whatever_the_first(http):
    for sql in ("SELECT 1; KILL QUERY WHERE 1", "SELECT 1; SELECT * FROM file('/etc/hostname', 'LineAsString')", "SELECT ';'; SYSTEM FLUSH LOGS"):
        response = http(sql)
        assert response.status_code == 400 and "Multi-statements are not allowed" in response.text, sql


@pytest.mark.parametrize(
    "settings",
    [{"readonly": "0"}, {"max_execution_time": "0"}, {"max_execution_time": "100000"}, {"max_memory_usage": "0"},
     {"allow_ddl": "1"}, {"allow_introspection_functions": "1"}, {"max_threads": "1000"}],  # fmt: skip
)
def test_settings_that_lift_limits_are_refused_as_url_parameters_and_in_the_query(http, settings):
    assert_refused(http("SELECT 1", **settings))
    clause = ", ".join(f"{name} = {value}" for name, value in settings.items())
    assert_refused(http(f"SELECT 1 SETTINGS {clause}"))
    assert_refused(http(f"SELECT * FROM (SELECT 1 SETTINGS {clause})"))


def test_other_databases_are_refused(warehouse, http):
    warehouse.command("CREATE TABLE IF NOT EXISTS default.secret (s String) ENGINE = Memory")
    assert_refused(http("SELECT * FROM default.secret"))
    assert_refused(http("SELECT * FROM secret", database="default"))
    assert_refused(http("SELECT 1", database="system"))


def test_the_analysts_legitimate_queries_still_work(stack_settings, analyst):
    from pipelines.analysis.runner import run_query

    # what clickhouse-connect runs to connect, then the analysis models, the heat oracle and the empty-result path
    client = clickhouse_connect.get_client(
        host="127.0.0.1", port=stack_settings.bound_port("warehouse", 0), database="trackflow",
        username=stack_settings.analyst_user, password=stack_settings.analyst_password.get_secret_value(),
    )  # fmt: skip
    assert client.query("SELECT version(), timezone()").result_rows
    assert client.query("SELECT value FROM system.settings WHERE name = 'readonly'").result_rows == [("2",)]
    assert client.query("SELECT number FROM numbers(3)", settings={"max_execution_time": 10}).result_rows == [(0,), (1,), (2,)]
    assert "TABLE" in "".join(r[0] for r in client.query("EXPLAIN QUERY TREE passes = 1 SELECT count() FROM events").result_rows)
    frame = analyst.query_df("SELECT event, count() AS n FROM events WHERE 0 GROUP BY event")
    assert list(frame.columns) == ["event", "n"]
    scope = {"app_id": "security-app", "date_from": "2026-11-01", "date_to": "2026-11-08"}
    for request in (
        {"model": "funnel", **scope, "steps": [{"event": "view"}, {"event": "cart"}], "breakdown": "platform"},  # SETTINGS clause
        {"model": "event", **scope, "metrics": [{"event": "view", "math": "unique_persons"}]},  # dictGet on oneid_dict
        {"model": "retention", **scope, "initial": {"event": "view"}, "returning": {"event": "cart"}, "periods": 3},
    ):
        assert run_query(request, analyst), request
    with pytest.raises(DatabaseError) as caught:
        client.query("SELECT * FROM file('/etc/hostname', 'LineAsString')")
    assert caught.value.code == 497


def test_refusals_reach_nothing_on_disk(http):
    # The check itself runs nothing but the parser: a refused statement never touched the file it names.
    marker = Path("/tmp") / f"trackflow-security-{uuid.uuid4().hex}"
    assert_refused(http(f"INSERT INTO FUNCTION file('{marker}', 'CSV', 'k UInt8') VALUES (1)"))
    assert_refused(http(f"SELECT 1; INSERT INTO FUNCTION file('{marker}', 'CSV', 'k UInt8') VALUES (1)"), {"62"})
    assert not marker.exists()
