"""Produce and consume through the embedded broker with kafka-python, with and without a consumer group."""

from __future__ import annotations

import time
import uuid

from kafka import TopicPartition

from pipelines import messaging


def test_topics_exist_with_explicit_partitions(stack, stack_settings):
    consumer = messaging.consumer(stack_settings)
    try:
        for spec in messaging.topic_specs(stack_settings):
            assert consumer.partitions_for_topic(spec.name) == set(range(spec.partitions)), spec.name
    finally:
        consumer.close()
    assert messaging.ensure_topics(stack_settings) == []  # idempotent


def test_produce_then_consume_in_a_group(stack, stack_settings):
    topic = f"test.{uuid.uuid4().hex[:8]}"
    messaging.ensure_topics(stack_settings, [messaging.TopicSpec(topic, 2, {})])
    producer = messaging.producer(stack_settings)
    sent = {f"m{i}".encode() for i in range(500)}
    for value in sent:
        producer.send(topic, key=value[-1:], value=value)
    producer.flush()
    producer.close()

    consumer = messaging.consumer(stack_settings, topic, group_id=f"g-{uuid.uuid4().hex[:6]}")
    received: set[bytes] = set()
    deadline = time.monotonic() + 60
    try:
        while received != sent and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                received.update(message.value for message in batch)
    finally:
        consumer.close()
    assert received == sent


def test_keyed_messages_keep_order_within_a_partition(stack, stack_settings):
    topic = f"test.{uuid.uuid4().hex[:8]}"
    messaging.ensure_topics(stack_settings, [messaging.TopicSpec(topic, 3, {})])
    producer = messaging.producer(stack_settings)
    for i in range(200):
        producer.send(topic, key=b"person-1", value=str(i).encode())
    producer.flush()
    producer.close()
    consumer = messaging.consumer(stack_settings)
    partitions = [TopicPartition(topic, p) for p in range(3)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    values: dict[int, list[int]] = {}
    deadline = time.monotonic() + 30
    while sum(map(len, values.values())) < 200 and time.monotonic() < deadline:
        for tp, batch in consumer.poll(timeout_ms=500).items():
            values.setdefault(tp.partition, []).extend(int(m.value) for m in batch)
    consumer.close()
    assert len(values) == 1 and list(values.values())[0] == list(range(200))


def test_a_restarted_broker_gets_a_new_incarnation(stack_settings, tmp_path):
    """The embedded broker forgets its topics on restart; the incarnation marker is how every stage notices that
    offsets it remembers belong to topics that no longer exist."""
    from pipelines.ports import free_port
    from pipelines.stack.processes import Broker

    broker = Broker(stack_settings, free_port(), tmp_path / "broker.log")
    broker.start()
    try:
        settings = stack_settings.model_copy(update={"kafka_bootstrap": broker.bootstrap})
        assert messaging.broker_incarnation(settings) is None  # nobody prepared it yet
        messaging.ensure_topics(settings)
        first = messaging.broker_incarnation(settings)
        assert first and messaging.ensure_incarnation(settings) == first  # stable while the broker lives
        broker.stop()
        broker.start()  # same port, empty topics
        assert messaging.broker_incarnation(settings) is None
        messaging.ensure_topics(settings)
        assert messaging.broker_incarnation(settings) not in (None, first)
    finally:
        broker.stop()
