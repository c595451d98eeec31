"""Sign-in, sessions, CSRF, throttling, disabled users and roles, against the real metadata store (PostgreSQL)
through the workbench API server of `workbench_stack`."""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines.push.connection import connect
from pipelines.workbench import users

REPORT = {"model": "event", "app_id": "wb-shop", "date_from": "2026-11-01", "date_to": "2026-11-07",
          "metrics": [{"event": "page_view"}]}  # fmt: skip


@pytest.fixture(scope="module")
def meta(workbench_stack):
    with connect(workbench_stack.settings, workbench_stack.settings.meta_database) as connection:
        yield connection


def make_user(meta, name: str, role: str = "analyst", password: str = "a-long-password") -> tuple[str, str]:
    users.add_user(meta, name, role, password)
    return name, password


def login(stack, name: str, password: str):
    return stack.api("POST", "/v1/auth/login", {"username": name, "password": password})


def test_login_sets_a_strict_http_only_cookie(workbench_stack):
    answer = login(workbench_stack, *workbench_stack.analyst)
    assert answer.status_code == 200
    assert answer.json()["user"] == {"username": "ana", "role": "analyst"} and len(answer.json()["csrf_token"]) >= 32
    cookie = answer.headers["set-cookie"]
    parts = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert cookie.startswith("tf_session=") and {"httponly", "path", "samesite"} <= parts and "secure" not in parts
    assert "samesite=strict" in cookie.lower() and "path=/" in cookie.lower()


def test_wrong_name_and_wrong_password_get_the_same_answer(workbench_stack):
    wrong_password = login(workbench_stack, "ana", "not-her-password")
    unknown_user = login(workbench_stack, "nobody-at-all", "whatever-password")
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json() == unknown_user.json() == {"error": "wrong username or password", "reason": "unauthenticated"}


@pytest.mark.parametrize("body, status", [
    ({"username": "ana"}, 422), ({"username": 5, "password": "x"}, 422), ([], 400), ({"username": "a" * 3_000, "password": "p" * 3_000}, 401),
    ({"username": "a", "password": "p" * 20_000}, 413),
])  # fmt: skip
def test_bad_login_bodies(workbench_stack, body, status):
    answer = workbench_stack.api("POST", "/v1/auth/login", body)
    assert answer.status_code == status and answer.json()["error"]


def test_me_without_credentials_is_401_unauthenticated(workbench_stack):
    answer = workbench_stack.api("GET", "/v1/auth/me")
    assert answer.status_code == 401 and answer.json()["reason"] == "unauthenticated"
    assert workbench_stack.api("GET", "/v1/auth/me", token="tfu_not-a-token").status_code == 401
    assert workbench_stack.api("GET", "/v1/auth/me", headers={"Authorization": "Basic YTpi"}).status_code == 401
    assert workbench_stack.api("GET", "/v1/reports", cookies={"tf_session": "forged"}).json()["reason"] == "unauthenticated"


def test_unsafe_methods_with_the_cookie_need_the_csrf_token(workbench_stack):
    client = workbench_stack.session(workbench_stack.analyst)
    csrf = client.headers.pop("X-CSRF-Token")
    missing = client.post("/v1/reports", json={"name": "r", "request": REPORT})
    wrong = client.post("/v1/reports", json={"name": "r", "request": REPORT}, headers={"X-CSRF-Token": csrf[:-1] + "x"})
    assert missing.status_code == wrong.status_code == 403
    assert missing.json() == {"error": "missing or wrong CSRF token"}
    assert client.get("/v1/reports").status_code == 200  # reads need none
    assert client.post("/v1/reports", json={"name": "r", "request": REPORT}, headers={"X-CSRF-Token": csrf}).status_code == 201
    # the existing endpoints too: an analysis run with the cookie
    assert client.post("/v1/query", json=REPORT).status_code == 403
    assert client.post("/v1/query", json=REPORT, headers={"X-CSRF-Token": csrf}).status_code == 200
    # bearer tokens need no CSRF token
    assert workbench_stack.api("POST", "/v1/query", REPORT, token=workbench_stack.analyst_token).status_code == 200


def test_idle_and_old_sessions_expire(workbench_stack, meta):
    for column, age in (("last_seen_at", dt.timedelta(hours=9)), ("created_at", dt.timedelta(days=8))):
        client = workbench_stack.session(workbench_stack.analyst)
        assert client.get("/v1/auth/me").status_code == 200
        # Age the session in the store (no waiting): it is past the idle (8 h) or absolute (7 days) limit.
        meta.execute(f"UPDATE sessions SET {column} = now() - %s WHERE csrf_token = %s", (age, client.headers["X-CSRF-Token"]))
        expired = client.get("/v1/reports")
        assert expired.status_code == 401 and expired.json()["reason"] == "expired", column
        assert client.get("/v1/reports").json()["reason"] == "unauthenticated"  # removed, not expired twice


def test_logout_ends_the_session_on_the_server(workbench_stack):
    client = workbench_stack.session(workbench_stack.analyst)
    cookie = client.cookies["tf_session"]
    answer = client.post("/v1/auth/logout")
    assert answer.status_code == 204 and 'tf_session=""' in answer.headers["set-cookie"]
    replayed = workbench_stack.api("GET", "/v1/auth/me", cookies={"tf_session": cookie})
    assert replayed.status_code == 401 and replayed.json()["reason"] == "unauthenticated"


def test_repeated_failures_are_throttled_even_for_the_right_password(workbench_stack, meta):
    name, password = make_user(meta, "throttled")
    for _ in range(5):
        assert login(workbench_stack, name, "wrong-password").status_code == 401
    blocked = login(workbench_stack, name, password)
    assert blocked.status_code == 429 and 1 <= int(blocked.headers["Retry-After"]) <= 300
    assert "too many failed sign-ins" in blocked.json()["error"]
    assert login(workbench_stack, *workbench_stack.analyst).status_code == 200  # others are not affected
    meta.execute("UPDATE login_failures SET failed_at = failed_at - interval '10 minutes' WHERE username = %s", (name,))
    assert login(workbench_stack, name, password).status_code == 200  # the window passed


def test_a_disabled_user_is_signed_out_everywhere(workbench_stack, meta):
    name, password = make_user(meta, "leaver")
    client = workbench_stack.session((name, password))
    token = users.new_token(meta, name)
    assert workbench_stack.api("GET", "/v1/reports", token=token).status_code == 200
    users.disable_user(meta, name)
    assert client.get("/v1/auth/me").status_code == 401
    assert workbench_stack.api("GET", "/v1/reports", token=token).status_code == 401
    assert login(workbench_stack, name, password).json() == {"error": "wrong username or password", "reason": "unauthenticated"}


def test_passwords_are_stored_as_argon2id(meta, workbench_stack):
    stored = meta.execute("SELECT password_hash FROM users WHERE username = 'ana'").fetchone()[0]
    assert stored.startswith("$argon2id$") and workbench_stack.analyst[1] not in stored
    assert meta.execute("SELECT count(*) FROM api_tokens WHERE token_hash = %s", (workbench_stack.analyst_token,)).fetchone()[0] == 0


# -- roles on the tracking plan ------------------------------------------------------------------------------------
def test_only_an_admin_may_replace_the_plan(workbench_stack):
    stack = workbench_stack
    plan = stack.api("GET", f"/v1/plan/{stack.app_id}", token=stack.analyst_token).json()
    plan["events"]["signup"] = {"description": "An account was created", "properties": {"plan": {"type": "string"}}}
    for token in (stack.analyst_token, stack.service_token):
        refused = stack.api("PUT", f"/v1/plan/{stack.app_id}", plan, token=token)
        assert refused.status_code == 403 and refused.json() == {"error": "admin role required"}
    analyst = stack.session(stack.analyst)
    assert analyst.put(f"/v1/plan/{stack.app_id}", json=plan).status_code == 403

    saved = stack.api("PUT", f"/v1/plan/{stack.app_id}", plan, token=stack.admin_token)
    assert saved.status_code == 200 and saved.json() == {"app_id": stack.app_id, "version": plan["version"] + 1}
    now = stack.api("GET", f"/v1/plan/{stack.app_id}", token=stack.analyst_token).json()
    assert now["version"] == plan["version"] + 1 and "signup" in now["events"]
    # The warehouse copy got it too, and the catalog lists the new point.
    catalog = stack.api("GET", f"/v1/catalog/{stack.app_id}", token=stack.analyst_token).json()
    assert {"name": "signup", "in_plan": True, "seen": False}.items() <= next(e for e in catalog["events"] if e["name"] == "signup").items()

    stale = stack.api("PUT", f"/v1/plan/{stack.app_id}", plan, token=stack.admin_token)
    assert stale.status_code == 409 and f"version {now['version']}" in stale.json()["error"]


@pytest.mark.parametrize("change, field", [
    (lambda p: p["events"]["pay"]["properties"].update(amount={"type": "money"}), "events.pay.properties.amount.type"),
    (lambda p: p.update(policy={"undeclared_events": "drop"}), "policy.undeclared_events"),
    (lambda p: p.update(version="3"), "version"),
    (lambda p: p.update(app_id="other-app"), "app_id"),
    (lambda p: p["events"].update({"bad name!": {}}), "events.bad name!"),
])  # fmt: skip
def test_an_invalid_plan_is_422_naming_the_field(workbench_stack, change, field):
    stack = workbench_stack
    plan = stack.api("GET", f"/v1/plan/{stack.app_id}", token=stack.admin_token).json()
    change(plan)
    answer = stack.api("PUT", f"/v1/plan/{stack.app_id}", plan, token=stack.admin_token)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"].startswith(field.split("!")[0].split(" ")[0]), answer.json()


def test_plan_put_for_an_unknown_app_or_bad_body(workbench_stack):
    stack = workbench_stack
    assert stack.api("PUT", "/v1/plan/no-such-app", {"version": 1}, token=stack.admin_token).status_code == 404
    assert stack.api("PUT", f"/v1/plan/{stack.app_id}", content=b"{", token=stack.admin_token).status_code == 400
    assert stack.api("PUT", f"/v1/plan/{stack.app_id}", [1], token=stack.admin_token).status_code == 400


def test_expired_sessions_are_removed_at_the_next_sign_in(workbench_stack, meta):
    client = workbench_stack.session(workbench_stack.analyst)
    csrf = client.headers["X-CSRF-Token"]
    meta.execute("UPDATE sessions SET last_seen_at = now() - interval '9 hours' WHERE csrf_token = %s", (csrf,))
    workbench_stack.session(workbench_stack.admin)  # anyone's sign-in
    assert meta.execute("SELECT count(*) FROM sessions WHERE csrf_token = %s", (csrf,)).fetchone()[0] == 0
