"""Decode, normalise, dedup/batching and metrics of the dwd and metrics jobs: pure functions, no JVM."""

from __future__ import annotations

import json

import pytest

from pipelines.streaming.batching import BatchPolicy, by_layer, shard_of, table_of_layer
from pipelines.streaming.decode import MAX_PAYLOAD_CHARS, ROUTED_FIELDS, decode_message
from pipelines.streaming.metrics import MinuteCounts, latency_bucket, percentile, summarise_written
from pipelines.streaming.normalise import CLIENT_TS_PROP, corrected_ts, epoch_ms, normalise
from pipelines.warehouse.eventindex import batch_token, event_key, utc_day

EVENT = {
    "event_id": "5B0C1F0E-8A47-4A8E-9D55-0C3C5B1F4A11",
    "event": " pay ",
    "app_id": "shop",
    "ts": 1_700_000_000_000,
    "received_at": 1_700_000_000_500,
    "ids": {"device_id": "d1", "user_id": 42, "empty": ""},
    "context": {"platform": "iOS"},
    "props": {"amount": 3},
}


# -- decode ------------------------------------------------------------------------------------------------------
def test_a_message_may_hold_one_event_an_array_or_an_ods_batch_of_them():
    assert len(decode_message(json.dumps(EVENT), "dwd")[0]) == 1
    pair = [EVENT, dict(EVENT, event_id="6b0c1f0e-8a47-4a8e-9d55-0c3c5b1f4a11")]
    events, dead = decode_message(json.dumps(pair), "dwd")
    assert len(events) == 2 and dead == []
    assert decode_message(json.dumps({"layer": "default", "key": "d1", "events": pair}), "dwd") == (events, [])


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"{not json", "invalid JSON"),
        ("42", "not a JSON object but int"),
        (json.dumps(dict(EVENT, event_id="nope")), "is not a UUID"),
        (json.dumps({k: v for k, v in EVENT.items() if k != "app_id"}), "missing app_id"),
        (json.dumps(dict(EVENT, ts="yesterday")), "is not a number"),
        (json.dumps(dict(EVENT, ts=True)), "ts is not a number"),
        (json.dumps(dict(EVENT, props=[1])), "props is not a JSON object"),
    ],
)
def test_bad_messages_become_dead_letters_not_exceptions(payload, reason):
    events, dead = decode_message(payload, "layering")
    assert events == [] and len(dead) == 1
    assert reason in dead[0].reason and dead[0].stage == "layering"
    assert json.loads(dead[0].to_json())["reason"] == dead[0].reason


def test_one_bad_event_in_a_batch_does_not_hold_back_the_others():
    events, dead = decode_message(json.dumps([EVENT, {"event": "x", "app_id": "shop"}]), "dwd")
    assert len(events) == 1 and len(dead) == 1 and dead[0].app_id == "shop" and dead[0].event == "x"


def test_dwd_dead_letters_an_event_no_layering_job_routed():
    """Anyone may write to an ods topic (a test, a backfill script): an event without its layer is quarantined with
    the reason instead of stopping the job at its next flush."""
    routed = {**EVENT, "layer": "default"}
    events, dead = decode_message(json.dumps({"layer": "default", "key": "d1", "events": [routed, EVENT]}), "dwd", ROUTED_FIELDS)
    assert events == [routed]
    assert [letter.reason for letter in dead] == ["missing layer"]


def test_dead_letter_payload_is_bounded():
    _, dead = decode_message("x" * 100_000, "dwd")
    assert len(dead[0].payload) == MAX_PAYLOAD_CHARS


# -- normalise ---------------------------------------------------------------------------------------------------
def test_normalise_cleans_types_and_names():
    clean = normalise(EVENT, 60_000)
    assert clean["event_id"] == EVENT["event_id"].lower()
    assert clean["event"] == "pay" and clean["context"]["platform"] == "ios"
    assert clean["ids"] == {"device_id": "d1", "user_id": "42"}
    assert clean["ts"] == EVENT["ts"] and CLIENT_TS_PROP not in clean["props"]
    assert EVENT["event"] == " pay "  # the input is not modified


def test_epoch_seconds_become_milliseconds():
    assert epoch_ms(1_700_000_000) == 1_700_000_000_000
    assert epoch_ms("1700000000123") == 1_700_000_000_123
    assert epoch_ms(1_700_000_000.5) == 1_700_000_000_500


@pytest.mark.parametrize(
    "ts, received, sent, expected",
    [
        (1_000_000, 1_000_500, None, 1_000_000),  # in the past, no sent_at: as sent
        (1_000_000, 1_000_500, 1_000_400, 1_000_000),  # clocks agree within tolerance
        (1_000_000 + 3_600_000, 1_000_500, 1_000_000 + 3_600_000, 1_000_500),  # client an hour fast
        (1_000_000 - 7_200_000, 1_000_500, 1_000_000 - 7_200_000, 1_000_500),  # client two hours slow
        (5_000_000, 1_000_500, None, 1_000_500),  # from the future, no sent_at: clamped to received_at
        (1_000_000, None, None, 1_000_000),  # no server time at all
    ],
)
def test_clock_skew_correction(ts, received, sent, expected):
    assert corrected_ts(ts, received, sent, tolerance_ms=60_000) == expected


def test_a_corrected_event_keeps_its_client_time_and_normalises_the_same_every_time():
    skewed = dict(EVENT, ts=EVENT["received_at"] + 3_600_000, sent_at=EVENT["received_at"] + 3_600_000)
    first, second = normalise(skewed, 60_000), normalise(json.loads(json.dumps(skewed)), 60_000)
    assert first == second  # a replay lands on the same partition and sort key
    assert first["ts"] == EVENT["received_at"] and first["props"][CLIENT_TS_PROP] == skewed["ts"]


# -- batching and the write-once helpers -------------------------------------------------------------------------
def test_a_person_always_has_the_same_shard_and_a_flush_writes_per_layer():
    assert len({shard_of("alice", 4) for _ in range(3)}) == 1
    assert {shard_of(f"person-{i}", 4) for i in range(200)} == {0, 1, 2, 3}
    events = [{"event_id": n, "layer": layer} for n, layer in enumerate(["a", "b", "a"])]
    assert by_layer(events) == {"a": [events[0], events[2]], "b": [events[1]]}
    assert table_of_layer("trade") == "dwd_trade"


def test_every_spelling_of_an_event_id_is_one_key():
    canonical = "5b0c1f0e-8a47-4a8e-9d55-0c3c5b1f4a11"
    spellings = [canonical, canonical.upper(), canonical.replace("-", ""), "{" + canonical + "}", "urn:uuid:" + canonical]
    assert {event_key({"event_id": spelling}) for spelling in spellings} == {canonical}


def test_batch_token_depends_on_content_and_table_not_on_order():
    assert batch_token("dwd_x", ["a", "b"]) == batch_token("dwd_x", ["b", "a"])
    assert batch_token("dwd_x", ["a", "b"]) != batch_token("dwd_y", ["a", "b"])
    assert batch_token("dwd_x", ["a", "b"]) != batch_token("dwd_x", ["a", "c"])


def test_batch_policy_and_utc_day():
    policy = BatchPolicy(max_rows=3, max_delay_ms=500)
    assert not policy.full(2) and policy.full(3) and policy.deadline(1_000) == 1_500
    day_ms = 86_400_000
    assert [utc_day(ms).isoformat() for ms in (0, day_ms - 1, day_ms)] == ["1970-01-01", "1970-01-01", "1970-01-02"]


# -- metrics -----------------------------------------------------------------------------------------------------
def test_latency_buckets_and_percentiles():
    assert latency_bucket(0) == 10 and latency_bucket(10) == 10 and latency_bucket(11) == 25
    assert latency_bucket(10**12) == 2**32 - 1
    histogram = {100: 50, 1_000: 45, 5_000: 5}
    assert percentile(histogram, 0.5) == 100 and percentile(histogram, 0.95) == 1_000
    assert percentile(histogram, 0.99) == 5_000 and percentile({}, 0.5) is None


def test_written_summaries_add_up_across_flushes():
    events = [dict(EVENT, event="pay", received_at=60_000 * 10 + i * 1_000) for i in range(3)]
    summaries = summarise_written("trade", events, written_at_ms=60_000 * 10 + 2_500)
    counts = MinuteCounts()
    for text in summaries + summaries:  # two flushes of the same shape
        counts.merge_summary(json.loads(text))
    [row] = counts.rows(job="metrics")
    minute, stage, app_id, event, total, histogram, job = row
    assert (stage, app_id, event, total) == ("dwd.trade", "shop", "pay", 6)
    assert minute.timestamp() == 600 and sum(histogram.values()) == 6
    assert histogram == {500: 2, 1_500: 2, 3_000: 2}
