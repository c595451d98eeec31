"""The collector: an ASGI service that authenticates, limits, validates and enriches tracking events and hands
them to Kafka (or to a durable local spool while Kafka is away). See docs/collector.md."""
