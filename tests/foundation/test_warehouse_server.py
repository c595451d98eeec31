"""The embedded warehouse speaks the ClickHouse HTTP interface well enough for unmodified clickhouse-connect."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid

import clickhouse_connect
import httpx
import pandas as pd
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

TYPES_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    s String, lc LowCardinality(String), u8 UInt8, u64 UInt64, i32 Int32, i64 Int64, f Float64,
    d DateTime, d64 DateTime64(3, 'UTC'), id UUID, m Map(String, String), a Array(String),
    n Nullable(Int64), ns Nullable(String)
) ENGINE = MergeTree ORDER BY u64
"""
ROWS = [
    ["x", "web", 1, 1, -5, -(2**40), 1.5, dt.datetime(2026, 1, 2, 3, 4, 5), dt.datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=dt.timezone.utc),
     uuid.UUID(int=1), {"k": "v", "ключ": "значение"}, ["a", "b"], None, "set"],
    ["y'\"\\", "ios", 255, 2**63, 7, 2**40, -2.25, dt.datetime(2026, 1, 3), dt.datetime(2026, 1, 3, 0, 0, 0, 1000, tzinfo=dt.timezone.utc),
     uuid.UUID(int=2**127), {}, [], 42, None],
]  # fmt: skip


def client_for(stack_settings, **kwargs):
    """A client of the embedded warehouse, as the writer unless other credentials are given."""
    port = stack_settings.bound_port("warehouse", 0)
    kwargs.setdefault("username", stack_settings.clickhouse_user)
    kwargs.setdefault("password", stack_settings.clickhouse_password.get_secret_value())
    return clickhouse_connect.get_client(host="127.0.0.1", port=port, **kwargs)


def analyst_for(stack_settings, **kwargs):
    password = stack_settings.analyst_password.get_secret_value()
    return client_for(stack_settings, username=stack_settings.analyst_user, password=password, database="trackflow", **kwargs)


@pytest.mark.parametrize("compress", [True, False, "lz4", "zstd", "gzip"])
def test_every_column_type_round_trips(stack, stack_settings, compress):
    client = client_for(stack_settings, compress=compress)
    table = f"default.types_{str(compress).lower()}"
    client.command(f"DROP TABLE IF EXISTS {table}")
    client.command(TYPES_DDL.format(table=table))
    client.insert(table, ROWS)
    rows = [list(row) for row in client.query(f"SELECT * FROM {table} ORDER BY u64").result_rows]
    expected = [list(r) for r in ROWS]
    for row in expected:  # DateTime64 comes back tz-aware in UTC, DateTime naive (server tz is UTC)
        row[8] = row[8].replace(tzinfo=None) if rows[0][8].tzinfo is None else row[8]
    assert rows == expected

    frame = client.query_df(f"SELECT * FROM {table} ORDER BY u64")
    client.insert_df(table, frame)
    assert client.command(f"SELECT count() FROM {table}") == 4
    arrow = client.query_arrow(f"SELECT u64, s FROM {table} ORDER BY u64")
    assert arrow.num_rows == 4 and arrow.column("s").to_pylist()[0] == "x"


def test_large_chunked_insert_and_scan(stack, stack_settings):
    client = client_for(stack_settings)
    client.command("CREATE TABLE IF NOT EXISTS default.big (k UInt64, s String) ENGINE = MergeTree ORDER BY k")
    frame = pd.DataFrame({"k": range(300_000), "s": [f"v{i % 97}" for i in range(300_000)]})
    client.insert_df("default.big", frame)
    count, total = client.query("SELECT count(), sum(k) FROM default.big").result_rows[0]
    assert (count, total) == (300_000, sum(range(300_000)))


def test_parameters_settings_and_query_id(stack, stack_settings):
    client = client_for(stack_settings)
    result = client.query("SELECT {s:String}, {n:UInt32} + 1", parameters={"s": "it's; DROP TABLE x", "n": 41})
    assert result.result_rows == [("it's; DROP TABLE x", 42)]
    assert client.query("SELECT getSetting('max_threads')", settings={"max_threads": 1}).result_rows == [(1,)]
    # a per-query setting does not leak into the next query
    assert client.query("SELECT getSetting('max_threads')").result_rows != [(1,)]
    result = client.query("SELECT 1", settings={"query_id": "tf-test-query-id"})
    assert result.query_id == "tf-test-query-id"


def test_long_parameters_come_as_a_form(stack, stack_settings):
    # Past 4 KB of parameters clickhouse-connect sends the query and its `param_*` values as multipart form fields.
    client = client_for(stack_settings)
    values = {f"v{i}": f"value {i}; it's" * 10 for i in range(100)}
    sql = "SELECT " + ", ".join(f"{{v{i}:String}}" for i in range(100)) + ", getSetting('max_threads')"
    result = client.query(sql, parameters=values, settings={"max_threads": 1})
    assert result.result_rows == [(*values.values(), 1)]
    port = stack_settings.bound_port("warehouse", 0)
    auth = (stack_settings.clickhouse_user, stack_settings.clickhouse_password.get_secret_value())
    response = httpx.post(f"http://127.0.0.1:{port}/", auth=auth, data={"query": "SELECT {n:UInt8} + 1", "param_n": "41"}, files={"t": b"1\n"})
    assert response.status_code == 400 and "External data" in response.text
    response = httpx.post(
        f"http://127.0.0.1:{port}/", auth=auth, content=b"query=SELECT 1", headers={"Content-Type": "multipart/form-data"}
    )
    assert response.status_code == 400 and "form data" in response.text and "boundary" in response.text


def test_session_keeps_its_settings(stack, stack_settings):
    client = client_for(stack_settings, session_id=f"s-{uuid.uuid4()}")
    client.command("SET max_threads = 1")
    assert client.command("SELECT getSetting('max_threads')") == 1
    other = client_for(stack_settings, session_id=f"s-{uuid.uuid4()}")
    assert other.command("SELECT getSetting('max_threads')") != 1


def test_errors_carry_clickhouse_codes(stack, stack_settings):
    client = client_for(stack_settings)
    with pytest.raises(DatabaseError, match="UNKNOWN_TABLE|does not exist") as caught:
        client.query("SELECT * FROM default.no_such_table")
    assert caught.value.code == 60
    with pytest.raises(DatabaseError, match="SYNTAX_ERROR") as caught:
        client.query("SELEC 1")
    assert caught.value.code == 62


def test_analyst_reads_but_cannot_write(stack, stack_settings):
    writer = client_for(stack_settings)
    writer.command("CREATE TABLE IF NOT EXISTS trackflow.guarded (k UInt64) ENGINE = MergeTree ORDER BY k")
    writer.insert("trackflow.guarded", [[1]])
    analyst = analyst_for(stack_settings)
    assert analyst.command("SELECT count() FROM trackflow.guarded") == 1
    for attempt in (
        lambda: analyst.command("INSERT INTO trackflow.guarded VALUES (2)"),
        lambda: analyst.command("DROP TABLE trackflow.guarded"),
        lambda: analyst.command("CREATE TABLE trackflow.sneaky (k UInt8) ENGINE = Memory"),
    ):
        with pytest.raises(DatabaseError) as caught:
            attempt()
        assert caught.value.code == 164
    # asking the server to lift readonly over raw HTTP does not work either
    port = stack_settings.bound_port("warehouse", 0)
    response = httpx.post(
        f"http://127.0.0.1:{port}/",
        params={"readonly": "0", "query": "INSERT INTO trackflow.guarded VALUES (4)"},
        auth=(stack_settings.analyst_user, stack_settings.analyst_password.get_secret_value()),
    )
    assert response.status_code == 403 and response.headers["X-ClickHouse-Exception-Code"] == "164"
    assert writer.command("SELECT count() FROM trackflow.guarded") == 1
    writer.command("DROP TABLE trackflow.guarded")


def test_wrong_password_is_refused(stack, stack_settings):
    with pytest.raises(DatabaseError) as caught:
        client_for(stack_settings, username="analyst", password="wrong")
    assert caught.value.code == 516


def test_slow_query_does_not_block_health_or_other_clients(stack, stack_settings):
    slow_client = client_for(stack_settings)
    done = threading.Event()

    def slow():
        slow_client.query(
            "SELECT sleepEachRow(0.5) FROM numbers(4)", settings={"function_sleep_max_microseconds_per_block": 5_000_000}
        )
        done.set()

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    fast = client_for(stack_settings)
    started = time.perf_counter()
    assert fast.ping()
    assert fast.command("SELECT 1") == 1
    quick = time.perf_counter() - started
    assert not done.is_set(), "the slow query finished before the fast one was tried"
    thread.join()
    assert quick < 1.5


def test_concurrent_clients_insert_without_loss(stack, stack_settings):
    setup = client_for(stack_settings)
    setup.command("CREATE TABLE IF NOT EXISTS default.concurrent (w UInt8, k UInt64) ENGINE = MergeTree ORDER BY (w, k)")
    errors = []

    def writer(worker: int):
        try:
            client = client_for(stack_settings)
            for batch in range(10):
                client.insert("default.concurrent", [[worker, batch * 100 + i] for i in range(100)])
                client.query("SELECT count() FROM default.concurrent")
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors
    assert setup.command("SELECT count() FROM default.concurrent") == 6 * 10 * 100


def test_parallel_arrow_insert_keeps_every_row_and_type(stack, warehouse):
    import pyarrow as pa

    from pipelines.warehouse.client import Warehouse

    scratch = Warehouse(warehouse.settings, url=warehouse.url, database="default")
    scratch.command(
        "CREATE TABLE IF NOT EXISTS arrow_in (k UInt64, s String, t DateTime64(3, 'UTC'), m Map(String, String)) "
        "ENGINE = MergeTree ORDER BY k"
    )
    rows = 10_001  # not a multiple of the slice count
    table = pa.table(
        {
            "k": pa.array(range(rows), pa.uint64()),
            "s": [f"v{i % 7}" for i in range(rows)],
            "t": pa.array([1_790_000_000_000 + i for i in range(rows)], pa.timestamp("ms", tz="UTC")),
            "m": pa.array([[("i", str(i))] for i in range(rows)], pa.map_(pa.string(), pa.string())),
        }
    )
    assert scratch.insert_arrow("arrow_in", table, slices=3) == rows
    got = scratch.rows(
        "SELECT count(), sum(k), uniqExact(s), toUnixTimestamp64Milli(max(t)), sum(toUInt64(m['i'])) FROM arrow_in"
    )[0]
    assert got == (rows, sum(range(rows)), 7, 1_790_000_000_000 + rows - 1, sum(range(rows)))


def test_an_empty_result_keeps_its_columns(stack, warehouse):
    # ClickHouse's Native format sends no column names for an empty result; Warehouse.query_df asks for them.
    frame = warehouse.query_df("SELECT {n:UInt8} AS a, 'x' AS b FROM system.one WHERE dummy > {n:UInt8}", {"n": 1})
    assert frame.empty and frame.columns.tolist() == ["a", "b"]
    from pipelines.identity.store import read_edges  # a fresh install's OneID recompute reads nothing

    assert read_edges(warehouse, dt.datetime(1971, 1, 1)).columns.tolist() == ["strong", "weak", "first_seen", "last_seen"]
