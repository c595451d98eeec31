"""Shared fixtures: one real local stack (broker + embedded warehouse) per test session, on free ports in a
temporary data dir, so test runs never touch a developer's running stack and can run side by side."""

from __future__ import annotations

import os

import pytest

from pipelines.config import Settings, get_settings


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory) -> Settings:
    data_dir = tmp_path_factory.mktemp("trackflow")
    os.environ.update(
        {
            "TRACKFLOW_DATA_DIR": str(data_dir),
            "TRACKFLOW_WAREHOUSE_PORT": "0",
            "TRACKFLOW_KAFKA_PORT": "0",
            "TRACKFLOW_COLLECTOR_PORT": "0",
            "TRACKFLOW_POSTGRES_PORT": "0",
            "TRACKFLOW_API_PORT": "0",
            "TRACKFLOW_ALERTS_PORT": "0",
            "TRACKFLOW_FLINK_REST_PORT": "0",
            "TRACKFLOW_CONFIG": str(data_dir / "absent.toml"),
        }
    )
    for name in ("TRACKFLOW_CLICKHOUSE_URL", "TRACKFLOW_KAFKA_BOOTSTRAP"):
        os.environ.pop(name, None)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(scope="session")
def stack(stack_settings):
    """The running stack; starting it creates the topics and migrates the schema."""
    from pipelines.stack import Stack

    running = Stack(stack_settings)
    running.up(report=lambda _: None)
    yield running
    running.down(report=lambda _: None)


@pytest.fixture(scope="session")
def warehouse(stack, stack_settings):
    from pipelines.warehouse.client import Warehouse

    handle = Warehouse(stack_settings)
    yield handle
    handle.close()


@pytest.fixture(scope="session")
def analyst(stack, stack_settings):
    from pipelines.warehouse.client import Warehouse

    handle = Warehouse(stack_settings, role="analyst")
    yield handle
    handle.close()


CHROMIUM = "/usr/bin/chromium"  # Debian's chromium (make test installs it); Playwright never downloads a browser


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright, one per test module."""
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()
