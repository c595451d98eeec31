"""Person properties in the warehouse (pipelines/person_properties.py, sql/migrations/0022): the latest value per
property folded from the history, checked against a hand-written Python fold of the same updates, in any arrival
order and with replayed messages (exactly once: a redelivered update changes nothing, set_once included)."""

from __future__ import annotations

import json
import random
import re
import uuid

from hypothesis import given, settings, strategies as st

from pipelines.person_properties import latest, load_messages, value_text

T0 = 1_765_000_000_000


def message(person: str, op: str, properties: dict, ts: int, update_id: str | None = None, seq: int = 0) -> bytes:
    return json.dumps({
        "update_id": update_id or str(uuid.uuid4()), "op": op, "ids": {"user_id": person}, "ts": ts, "seq": seq,
        "properties": properties, "source": "test", "app_id": "persons", "person_id": f"user_id:{person}",
        "received_at": ts + 5, "collector_id": "test",
    }).encode()  # fmt: skip


def reference(updates: list[tuple[int, int, str, str, dict]]) -> dict[str, object]:
    """The semantics, written out independently of the SQL: updates in (ts, seq, update_id) order; set replaces,
    set_once only fills an absent value, append extends the list, unset removes."""
    state: dict[str, object] = {}
    for _, _, _, op, properties in sorted(updates, key=lambda u: (u[0], u[1], uuid.UUID(u[2]))):
        for name, value in properties.items():
            if op == "set" or (op == "set_once" and name not in state):
                state[name] = value
            elif op == "append":
                base = state.get(name)
                state[name] = (base if isinstance(base, list) else []) + value
            elif op == "unset":
                state.pop(name, None)
    return {name: [value_text(v) for v in value] if isinstance(value, list) else value_text(value) for name, value in state.items()}


def readable(values: dict[str, str], like: dict[str, object]) -> dict[str, object]:
    """The warehouse's values with list properties read back from their JSON (its escaping is not Python's)."""
    return {name: json.loads(value) if isinstance(like.get(name), list) else value for name, value in values.items()}


def test_each_operation_and_a_replay(warehouse):
    person = f"p-{uuid.uuid4().hex[:8]}"
    first_once = message(person, "set_once", {"first_source": "ad"}, T0 + 2)
    messages = [
        message(person, "set", {"plan": "free", "vip": True, "tags": ["a"]}, T0 + 1),
        first_once,
        message(person, "set_once", {"first_source": "search", "plan": "trial"}, T0 + 3),  # both already set: no effect
        message(person, "append", {"tags": ["b", "c"]}, T0 + 4),
        message(person, "unset", {"vip": None}, T0 + 5),
        message(person, "set", {"plan": "pro"}, T0 + 6),
    ]
    assert load_messages(warehouse, messages) == 9
    want = {"plan": "pro", "first_source": "ad", "tags": '["a","b","c"]'}
    assert latest(warehouse, "persons", f"user_id:{person}") == want
    # The whole stream redelivered (a restore replays it), in another order: nothing changes, appends included.
    load_messages(warehouse, list(reversed(messages)))
    assert latest(warehouse, "persons", f"user_id:{person}") == want
    history = "SELECT count() FROM person_property_log FINAL WHERE person_id = {p:String}"
    assert warehouse.scalar(history, {"p": f"user_id:{person}"}) == 9


def test_updates_of_one_millisecond_apply_in_request_order(warehouse):
    person = f"p-{uuid.uuid4().hex[:8]}"
    second = message(person, "set_once", {"channel": "search"}, T0, seq=1, update_id="00000000-0000-0000-0000-000000000001")
    first = message(person, "set_once", {"channel": "ad"}, T0, seq=0, update_id="ffffffff-0000-0000-0000-000000000000")
    load_messages(warehouse, [second, first])
    assert latest(warehouse, "persons", f"user_id:{person}") == {"channel": "ad"}


def test_a_late_set_once_never_overwrites_and_an_unset_reopens_it(warehouse):
    person = f"p-{uuid.uuid4().hex[:8]}"
    load_messages(warehouse, [message(person, "set_once", {"city": "York"}, T0 + 10)])
    load_messages(warehouse, [message(person, "set_once", {"city": "Leeds"}, T0 + 20)])
    assert latest(warehouse, "persons", f"user_id:{person}") == {"city": "York"}
    # An earlier set_once arriving late is the first one by client time: it wins, as it would have in order.
    load_messages(warehouse, [message(person, "set_once", {"city": "Hull"}, T0 + 5)])
    assert latest(warehouse, "persons", f"user_id:{person}") == {"city": "Hull"}
    load_messages(warehouse, [message(person, "unset", {"city": None}, T0 + 30), message(person, "set_once", {"city": "Bath"}, T0 + 40)])
    assert latest(warehouse, "persons", f"user_id:{person}") == {"city": "Bath"}


NAMES = st.sampled_from(["a", "b", "c"])
SCALARS = st.one_of(st.text(max_size=6), st.integers(-5, 5), st.booleans())
UPDATES = st.lists(
    st.tuples(
        st.integers(0, 6),  # client time: ties are frequent on purpose
        st.integers(0, 2),  # position in the request
        st.sampled_from(["set", "set_once", "append", "unset"]),
        st.dictionaries(NAMES, st.lists(st.text(max_size=4), max_size=3) | SCALARS, min_size=1, max_size=2),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(updates=UPDATES, seed=st.integers(0, 1000))
def test_the_latest_values_match_a_hand_fold_in_any_arrival_order_with_replays(warehouse, updates, seed):
    person = f"h-{uuid.uuid4().hex[:10]}"
    made = []
    for ts, seq, op, properties in updates:
        if op == "append":
            properties = {name: value if isinstance(value, list) else [value] for name, value in properties.items()}
        if op == "unset":
            properties = dict.fromkeys(properties)
        made.append((T0 + ts, seq, str(uuid.uuid4()), op, properties))
    messages = [message(person, op, properties, ts, update_id, seq) for ts, seq, update_id, op, properties in made]
    shuffled = random.Random(seed).sample(messages, len(messages))
    # Replays of some messages; a re-send may sit elsewhere in its batch (another seq): still one update.
    replayed = shuffled + [message(person, op, p, ts, update_id, seq + 1) for ts, seq, update_id, op, p in made[: seed % (len(made) + 1)]]
    load_messages(warehouse, replayed)
    want = reference(made)
    assert readable(latest(warehouse, "persons", f"user_id:{person}"), want) == want
    warehouse.command("OPTIMIZE TABLE person_property_log FINAL")  # merged storage (copies dropped) folds the same
    assert readable(latest(warehouse, "persons", f"user_id:{person}"), want) == want


def test_the_cluster_variant_declares_the_embedded_table(warehouse):
    """sql/cluster/0022's local table, made here non-replicated and without ON CLUSTER (no Keeper in tests), has the
    migrated table's columns and keys."""
    from pipelines.warehouse.client import sql_dir
    from pipelines.warehouse.migrate import Migration

    local, distributed = Migration("0022", "cluster", sql_dir() / "cluster" / "0022_person_properties.sql").statements()
    assert "cityHash64(person_id)" in distributed  # a person's updates on one shard: the fold stays shard-local
    scratch = f"person_check_{uuid.uuid4().hex[:8]}"
    embedded_form = re.sub(r"ReplicatedReplacingMergeTree\('[^']*', '\{replica\}'\)", "ReplacingMergeTree", local)
    warehouse.command(embedded_form.replace("local_person_property_log ON CLUSTER '{cluster}'", scratch))
    shape = (
        "SELECT (SELECT groupArray((name, type)) FROM (SELECT name, type FROM system.columns WHERE database = currentDatabase() "
        "AND table = {t:String} ORDER BY position)), partition_key, sorting_key FROM system.tables WHERE database = currentDatabase() AND name = {t:String}"
    )
    try:
        assert warehouse.rows(shape, {"t": scratch}) == warehouse.rows(shape, {"t": "person_property_log"})
    finally:
        warehouse.command(f"DROP TABLE IF EXISTS {scratch}")
