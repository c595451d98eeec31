"""Lookup service over HTTP (Starlette test client) and the index it serves from, including concurrent updates."""

from __future__ import annotations

import random
import threading

import pytest
from starlette.testclient import TestClient

from pipelines.config import Settings
from pipelines.identity.changes import person_message, redirect_message
from pipelines.identity.graph import Person
from pipelines.identity.index import OneIdIndex
from pipelines.identity.service import create_app

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture()
def index():
    index = OneIdIndex()
    index.apply_json(person_message(Person("oA", "user_id:u1", 10, {"user_id:u1": [10, 50], "device_id:d1": [10, 40]}), 1, "realtime"))
    index.apply_json(person_message(Person("oB", "device_id:d2", 20, {"device_id:d2": [20, 30]}), 2, "realtime"))
    return index


@pytest.fixture()
def client(index, rules):
    settings = Settings(oneid_tokens=[TOKEN], oneid_max_batch=3)
    with TestClient(create_app(settings, index, rules)) as client:
        yield client


def test_token_is_required(client):
    assert client.get("/v1/oneid", params={"type": "user_id", "value": "u1"}).status_code == 401
    assert client.get("/v1/oneid", params={"type": "user_id", "value": "u1"}, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/health").status_code == 200


def test_lookup_by_value_normalises_like_the_job(client):
    answer = client.get("/v1/oneid", params={"type": "device_id", "value": " D1 "}, headers=AUTH)
    assert answer.status_code == 200 and answer.json()["oneid"] == "oA"
    assert client.get("/v1/oneid", params={"type": "device_id", "value": "nope"}, headers=AUTH).status_code == 404
    junk = client.get("/v1/oneid", params={"type": "device_id", "value": "undefined"}, headers=AUTH)
    assert junk.status_code == 404 and "blocked" in junk.json()["error"]
    assert client.get("/v1/oneid", params={"type": "device_id"}, headers=AUTH).status_code == 400


def test_batch_lookup(client):
    body = {"ids": [{"type": "user_id", "value": "u1"}, {"type": "device_id", "value": "d2"}, {"type": "cookie_id", "value": "x"}]}
    answer = client.post("/v1/oneid/lookup", json=body, headers=AUTH)
    assert [r["oneid"] for r in answer.json()["results"]] == ["oA", "oB", None]
    assert client.post("/v1/oneid/lookup", json={"ids": body["ids"] * 2}, headers=AUTH).status_code == 413
    assert client.post("/v1/oneid/lookup", content=b"{", headers=AUTH).status_code == 400


def test_person_with_first_and_last_seen_and_redirects(client, index):
    person = client.get("/v1/oneid/oA", headers=AUTH).json()
    assert person["ids"] == [
        {"type": "device_id", "value": "d1", "first_seen": 10, "last_seen": 40},
        {"type": "user_id", "value": "u1", "first_seen": 10, "last_seen": 50},
    ]
    index.apply_json(redirect_message("oB", "oA", 3, "realtime"))
    index.apply_json(person_message(Person("oA", "user_id:u1", 10, {"user_id:u1": [10, 50], "device_id:d1": [10, 40], "device_id:d2": [20, 30]}), 4, "realtime"))
    followed = client.get("/v1/oneid/oB", headers=AUTH).json()
    assert followed["oneid"] == "oA" and followed["requested"] == "oB" and len(followed["ids"]) == 3
    assert client.get("/v1/oneid", params={"type": "device_id", "value": "d2"}, headers=AUTH).json()["oneid"] == "oA"
    assert client.get("/v1/oneid/o-missing", headers=AUTH).status_code == 404


def test_older_versions_never_undo_newer_ones(index):
    index.apply_json(person_message(Person("oC", "device_id:d1", 5, {"device_id:d1": [5, 5]}), 9, "offline"))
    index.apply_json(person_message(Person("oA", "user_id:u1", 10, {"user_id:u1": [10, 50], "device_id:d1": [10, 40]}), 5, "realtime"))
    assert index.lookup("device_id:d1") == "oC"
    assert "device_id:d1" not in index.persons["oA"]["ids"]


def test_concurrent_changes_to_the_same_persons_end_as_their_versions_say():
    """Two writers (say the real-time job and an offline publish) move the same ids between persons at once while
    readers look them up: the end state is the highest version of each id, each id in exactly one person."""
    nodes = [f"device_id:d{i}" for i in range(50)]
    rng = random.Random(3)
    streams = [[], []]
    for version in range(1, 2001):
        owner = f"o{rng.randrange(6)}"
        members = {node: [version, version] for node in rng.sample(nodes, 5)}
        streams[version % 2].append((version, owner, members))
    index = OneIdIndex()
    sent = []

    def write(stream):
        for version, owner, members in stream:
            previous = dict(index.persons.get(owner, {}).get("ids", {}))
            ids = {**previous, **members}
            sent.append((version, owner, ids))
            index.apply_json(person_message(Person(owner, next(iter(members)), 0, ids), version, "x"))

    stop = threading.Event()

    def read():
        while not stop.is_set():
            for node in nodes:
                index.lookup(node)

    threads = [threading.Thread(target=write, args=(s,)) for s in streams] + [threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    for thread in threads[:2]:
        thread.join()
    stop.set()
    threads[2].join()
    held = [node for person in index.persons.values() for node in person["ids"]]
    assert len(held) == len(set(held))  # no id in two persons
    assert set(index.nodes) <= set(nodes)
    for node, oneid in index.nodes.items():
        assert node in index.persons[oneid]["ids"]
    # A person's newest snapshot is its content; an id belongs to the newest snapshot that lists it.
    latest = {owner: (version, ids) for version, owner, ids in sorted(sent)}
    expected = {}
    for owner, (version, ids) in sorted(latest.items(), key=lambda item: item[1][0]):
        for node in ids:
            expected[node] = owner
    assert {node: index.nodes.get(node) for node in expected} == expected


def test_a_oneid_whose_ids_all_moved_away_is_404_with_a_reason(client, index):
    """oB's only id moves to oA in a newer snapshot of oA (no redirect for oB): oB holds nothing, so it is not a
    person to answer with `ids: []`."""
    index.apply_json(person_message(Person("oA", "user_id:u1", 10, {"user_id:u1": [10, 50], "device_id:d1": [10, 40], "device_id:d2": [20, 30]}), 3, "offline"))
    answer = client.get("/v1/oneid/oB", headers=AUTH)
    assert answer.status_code == 404
    assert "holds no ids" in answer.json()["error"]
    assert client.get("/v1/oneid/oA", headers=AUTH).status_code == 200
