"""The three inputs that gave the analysis API a 500 (issue 16), sent to the OneID lookup service's batch body: a
400 with a reason, or an answer - never a 5xx. The service parses with orjson, which refuses the 5,000-digit number
and the 100,000 nested brackets itself; these tests keep it so if the parser ever changes."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from pipelines.config import Settings
from pipelines.identity.index import OneIdIndex
from pipelines.identity.service import create_app

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NESTED = "[" * 100_000 + "]" * 100_000


@pytest.fixture()
def client(rules):
    with TestClient(create_app(Settings(oneid_tokens=[TOKEN]), OneIdIndex(), rules), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("body", [
    NESTED,
    '{"ids": ' + NESTED + "}",
    '{"ids": [{"type": "user_id", "value": ' + "9" * 5000 + "}]}",
    '{"ids": [{"type": "user_id", "value": NaN}]}',
    '{"ids": [{"type": "user_id", "value": 1e400}]}',
])  # fmt: skip
def test_huge_numbers_and_deep_nesting_are_refused(client, body):
    response = client.post("/v1/oneid/lookup", content=body, headers=AUTH)
    assert response.status_code == 400 and isinstance(response.json()["error"], str)


def test_5000_character_ids_are_answered(client):
    body = {"ids": [{"type": "A" * 5000, "value": "v"}, {"type": "user_id", "value": "v" * 5000}]}
    response = client.post("/v1/oneid/lookup", content=json.dumps(body), headers=AUTH)
    assert response.status_code == 200 and [r["oneid"] for r in response.json()["results"]] == [None, None]
    assert client.get("/v1/oneid", params={"type": "user_id", "value": "v" * 5000}, headers=AUTH).status_code == 404
