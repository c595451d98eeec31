"""OneID fixtures: the repository's rules and one labelled synthetic world shared by the quality tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.identity.links import links_of_events
from pipelines.identity.rules import load_rules
from pipelines.identity.synthetic import generate

RULES_FILE = Path(__file__).resolve().parents[2] / "identity.yaml"


@pytest.fixture(scope="session")
def rules():
    return load_rules(RULES_FILE)


@pytest.fixture(scope="session")
def world(rules):
    return generate(rules, persons=3000, seed=11)


@pytest.fixture(scope="session")
def world_links(rules, world):
    return links_of_events(rules, world.events)


def pytest_configure(config):
    config.addinivalue_line("markers", "jvm: starts Flink MiniClusters (slow; run under the shared CPU lock)")
