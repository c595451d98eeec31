"""The `workbench_stack` fixture: the API server with the workbench on a free port, in a thread of the test
process, over the session's real stack: a chDB warehouse with a small generated shop (app WB_APP, its tracking
plan in a temporary plan folder), the real PostgreSQL metadata store, users `admin` and `ana` (analyst) with
known passwords and API tokens. Used by the API tests here and the browser tests (tests/workbench/test_browser*)."""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from pipelines.config import Settings

WB_APP = "wb-shop"
OTHER_APP = "wb-another-shop"  # sorts before WB_APP
ADMIN = ("admin", "admin-password-1")
ANALYST = ("ana", "analyst-password-1")


@dataclass
class WorkbenchStack:
    url: str  # http://127.0.0.1:<port>/
    settings: Settings  # the server's settings (plan_dir is a temporary copy: PUT /v1/plan writes there)
    admin: tuple[str, str]  # (username, password)
    analyst: tuple[str, str]
    admin_token: str
    analyst_token: str
    service_token: str  # the configured/generated TRACKFLOW_API_TOKENS token (role analyst, no user account)
    app_id: str = WB_APP
    _client: httpx.Client = field(default=None, repr=False)

    def api(self, method: str, path: str, json=None, token: str | None = None, **kwargs) -> httpx.Response:
        """One API call, with `token` as the bearer token if given (no cookies: each call stands alone)."""
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.request(method, self.url.rstrip("/") + path, json=json, headers=headers, timeout=60, **kwargs)

    def session(self, user: tuple[str, str]) -> httpx.Client:
        """A client signed in as `user` (the session cookie), sending the session's CSRF token on every call."""
        client = httpx.Client(base_url=self.url.rstrip("/"), timeout=60)
        signed = client.post("/v1/auth/login", json={"username": user[0], "password": user[1]})
        assert signed.status_code == 200, signed.text
        client.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
        return client


def _plan_dir(tmp: Path) -> Path:
    """The repository's plans plus the demo shop's plan under WB_APP and OTHER_APP."""
    from pipelines.plan.model import resolve_plan_dir

    folder = tmp / "plans"
    shutil.copytree(resolve_plan_dir(Path("plans")), folder)
    document = yaml.safe_load((folder / "demo-shop.yaml").read_text())
    # OTHER_APP has a plan too: the plan page, like the analysis pages, opens on another app than the one a test
    # works on, as it does after other tests (or real apps) have sent events under planned apps.
    for app in (WB_APP, OTHER_APP):
        (folder / f"{app}.yaml").write_text(yaml.safe_dump({**document, "app_id": app}, sort_keys=False))
    return folder


@pytest.fixture(scope="session")
def workbench_stack(stack, stack_settings, warehouse, analyst, tmp_path_factory) -> WorkbenchStack:
    import uvicorn

    from pipelines.analysis.api import ApiSettings
    from pipelines.demogen import DemoSpec, generate_frame, insert_frame
    from pipelines.ports import free_port
    from pipelines.push.connection import connect
    from pipelines.workbench import users
    from pipelines.workbench.app import create_app
    from pipelines.workbench.settings import WorkbenchSettings
    from pipelines.workbench.store import prepare

    insert_frame(warehouse, generate_frame(DemoSpec(events=20_000, persons=1_500, days=20, app_id=WB_APP, seed=18)))
    # A second app that sorts first, as the many apps of a whole test session (or a real warehouse) do: pages open
    # on the first app with events, so every flow must pick its app rather than rely on being the only one. It sends
    # page views only, so the forms a page fills from its catalog differ from WB_APP's (a funnel's second step
    # has no event there).
    other = generate_frame(DemoSpec(events=500, persons=50, days=5, app_id=OTHER_APP, seed=19))
    insert_frame(warehouse, other[other["event"] == "page_view"])
    settings = stack_settings.model_copy(update={"plan_dir": _plan_dir(tmp_path_factory.mktemp("workbench"))})
    prepare(settings)
    with connect(settings, settings.meta_database) as connection:
        for name, password, role in ((*ADMIN, "admin"), (*ANALYST, "analyst")):
            users.add_user(connection, name, role, password)
        admin_token, analyst_token = users.new_token(connection, ADMIN[0]), users.new_token(connection, ANALYST[0])

    app = create_app(settings, ApiSettings(tokens=""), warehouse=analyst, record_heat=False, workbench=WorkbenchSettings())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="workbench-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the workbench API did not start"
        time.sleep(0.05)
    from pipelines.secrets import generated

    yield WorkbenchStack(
        url=f"http://127.0.0.1:{port}/", settings=settings, admin=ADMIN, analyst=ANALYST, admin_token=admin_token,
        analyst_token=analyst_token, service_token=generated(settings.data_dir, ["api_tokens"])["api_tokens"],
    )  # fmt: skip
    server.should_exit = True
    thread.join(timeout=30)
