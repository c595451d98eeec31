"""`trackflow users ...` against the session's real metadata store: each command's output and its one-line errors
(duplicate, unknown user, bad name, bad role), never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def users(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "users", *args], input=stdin, capture_output=True, text=True,
        env=dict(os.environ, COLUMNS="200"), timeout=120,
    )  # fmt: skip


def test_add_list_token_disable(workbench_stack):
    added = users("add", "carol@example.com", "--role", "admin")
    assert added.returncode == 0, added.stderr
    assert "added carol@example.com (admin)" in added.stdout
    password = added.stdout.split("password (shown once): ")[1].split()[0]
    assert workbench_stack.session(("carol@example.com", password)).get("/v1/auth/me").json()["user"]["role"] == "admin"

    token = users("token", "carol@example.com")
    assert token.returncode == 0 and token.stdout.startswith("tfu_")
    assert workbench_stack.api("GET", "/v1/auth/me", token=token.stdout.strip()).json()["user"]["username"] == "carol@example.com"

    listed = users("list")
    assert listed.returncode == 0 and "carol@example.com" in listed.stdout and "ana" in listed.stdout

    assert users("disable", "carol@example.com").returncode == 0
    assert workbench_stack.api("GET", "/v1/auth/me", token=token.stdout.strip()).status_code == 401
    assert "disabled" in users("list").stdout


def test_password_from_stdin_and_reset(workbench_stack):
    assert users("add", "dave", "--password-stdin", stdin="dave-password-1\n").returncode == 0
    client = workbench_stack.session(("dave", "dave-password-1"))
    reset = users("password", "dave")
    assert reset.returncode == 0 and "shown once" in reset.stdout
    assert client.get("/v1/auth/me").status_code == 401  # a reset ends the sessions


@pytest.mark.parametrize("args, message", [
    (("add", "ana"), "user 'ana' exists already"),
    (("add", "bad name!"), "user name 'bad name!': 1-64 characters"),
    (("add", "x" * 65), "1-64 characters"),
    (("add", "eve", "--role", "root"), "role 'root': choose one of analyst, admin"),
    (("add", "eve", "--password-stdin"), "no password on standard input"),
    (("disable", "nobody"), "no user 'nobody'"),
    (("token", "nobody"), "no user 'nobody'"),
    (("password", "nobody"), "no user 'nobody'"),
])  # fmt: skip
def test_errors_are_one_line(workbench_stack, args, message):
    done = users(*args)
    assert done.returncode == 1 and message in done.stderr + done.stdout, done.stderr
    assert "Traceback" not in done.stderr and len((done.stderr + done.stdout).strip().splitlines()) == 1


def test_short_password_from_stdin(workbench_stack):
    done = users("add", "frank", "--password-stdin", stdin="short\n")
    assert done.returncode == 1 and "8 to 1024 characters" in done.stderr + done.stdout


def test_first_admin_once_on_an_empty_store(workbench_stack):
    """What `make demo` runs, on a metadata database of its own (created and migrated by the command)."""
    from pipelines.push.connection import connect
    from pipelines.workbench.users import verify_password

    database = "trackflow_meta_first_admin"
    env = dict(os.environ, COLUMNS="200", TRACKFLOW_META_DATABASE=database)
    run = lambda: subprocess.run([sys.executable, "-m", "pipelines.cli", "users", "first-admin"], capture_output=True, text=True, env=env, timeout=120)  # noqa: E731
    first = run()
    assert first.returncode == 0, first.stderr
    password = first.stdout.split("password (shown once): ")[1].split()[0]
    assert "trackflow users password admin" in first.stdout
    again = run()
    assert again.returncode == 0 and "exist already" in again.stdout and password not in again.stdout
    with connect(workbench_stack.settings, database) as connection:
        assert verify_password(connection, "admin", password).role == "admin"
