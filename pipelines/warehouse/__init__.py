"""Warehouse: the one place that opens ClickHouse clients and runs queries (`client`), the schema migrations
(`migrate`), and the embedded ClickHouse-HTTP server over chDB used on a single machine (`server`, `engine`)."""
