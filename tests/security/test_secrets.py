"""No secret has a usable default: the running stack refuses the old defaults (analyst/analyst, a writer without a
password, `dev-oneid-token`, postgres/trackflow) and accepts the secrets generated for its data dir, which are kept
0600 in a 0700 folder and shown masked by `trackflow config show`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import httpx
import psycopg
import pytest

from pipelines.config import Settings
from pipelines.secrets import path_for

OLD_DEFAULTS = {"analyst_password": "analyst", "postgres_password": "trackflow", "oneid_tokens": "dev-oneid-token"}


def test_secrets_are_generated_private_and_shared(stack, stack_settings):
    path = path_for(stack_settings.data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    stored = json.loads(path.read_text())
    assert stored["clickhouse_password"] == stack_settings.clickhouse_password.get_secret_value()
    assert [stored["oneid_tokens"]] == stack_settings.oneid_tokens
    for name, old in OLD_DEFAULTS.items():
        assert stored[name] != old and len(stored[name]) >= 24
    # Another process reading the same data dir gets the same values (every process of the stack does).
    assert Settings().analyst_password.get_secret_value() == stored["analyst_password"]


def test_config_show_masks_them_and_names_the_file(stack, stack_settings):
    shown = subprocess.run([sys.executable, "-m", "pipelines.cli", "config", "show"], capture_output=True, text=True,
                           env={**os.environ, "COLUMNS": "400"}, check=True).stdout  # fmt: skip
    stored = json.loads(path_for(stack_settings.data_dir).read_text())
    assert not any(value in shown for value in stored.values())
    line = next(line for line in shown.splitlines() if "TRACKFLOW_ANALYST_PASSWORD" in line)
    assert "********" in line and f"generated ({path_for(stack_settings.data_dir)})" in line


def test_the_warehouse_refuses_the_old_default_credentials(stack, stack_settings):
    url = f"http://127.0.0.1:{stack_settings.bound_port('warehouse', 0)}/"
    for auth in (("analyst", "analyst"), ("default", ""), (stack_settings.clickhouse_user, "")):
        response = httpx.post(url, content=b"SELECT 1", auth=auth)
        assert response.status_code == 401 and response.headers["X-ClickHouse-Exception-Code"] == "516", auth
    response = httpx.post(url, content=b"SELECT 1")  # no credentials at all: ClickHouse's `default` user
    assert response.status_code == 401
    writer = (stack_settings.clickhouse_user, stack_settings.clickhouse_password.get_secret_value())
    assert httpx.post(url, content=b"SELECT 1", auth=writer).text == "1\n"


def test_postgres_refuses_the_old_default_password(stack, stack_settings):
    port = stack_settings.bound_port("postgres", 0)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(f"postgresql://postgres:trackflow@127.0.0.1:{port}/postgres", connect_timeout=10)
    password = stack_settings.postgres_password.get_secret_value()
    with psycopg.connect(f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres", connect_timeout=10) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)


@pytest.fixture()
def oneid_service(stack, stack_settings):
    """`trackflow oneid serve --port 0` as a process of the stack's data dir; yields (base URL, process)."""
    port_file = stack_settings.state_dir / "oneid-service.port"
    port_file.unlink(missing_ok=True)
    process = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "oneid", "serve", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            assert process.poll() is None and time.monotonic() < deadline, process.stdout.read().decode()[-2000:]
            time.sleep(0.2)
        base = f"http://127.0.0.1:{port_file.read_text().strip()}"
        while httpx.get(f"{base}/health").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_oneid_service_refuses_the_old_default_token(stack_settings, oneid_service):
    base, _ = oneid_service
    params = {"type": "user_id", "value": "nobody"}
    old = httpx.get(f"{base}/v1/oneid", params=params, headers={"Authorization": "Bearer dev-oneid-token"})
    assert old.status_code == 401
    generated = httpx.get(f"{base}/v1/oneid", params=params, headers={"Authorization": f"Bearer {stack_settings.oneid_tokens[0]}"})
    assert generated.status_code == 404  # authorised; the id is simply unknown


def test_an_existing_postgres_cluster_takes_the_generated_password_at_start(tmp_path):
    """A data dir from before generated secrets: its cluster has the old default password; the next start gives it
    the generated one (and a rotated secret the same way)."""
    from pipelines.ports import free_port
    from pipelines.push.server import apply_password, init_cluster, server_command, server_ready

    old = Settings(data_dir=tmp_path / "old", postgres_password="trackflow", postgres_url="")
    init_cluster(old)
    new = Settings(data_dir=tmp_path / "old", postgres_url="")
    assert new.postgres_password.get_secret_value() not in ("", "trackflow")
    port = free_port()
    server = subprocess.Popen(server_command(new, port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not server_ready(port):
            assert server.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(f"postgresql://postgres:trackflow@127.0.0.1:{port}/postgres", connect_timeout=10)
        password = new.postgres_password.get_secret_value()
        with psycopg.connect(f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres", connect_timeout=10) as db:
            assert db.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert not apply_password(new)  # the cluster already has it: no single-user run on the next start
