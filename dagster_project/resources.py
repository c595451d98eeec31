"""Dagster resources for the warehouse, Kafka and PostgreSQL, built from the same settings as the rest of Trackflow.

Nothing connects at import time: a resource opens its client when an asset asks for it.
"""

from __future__ import annotations

from dagster import ConfigurableResource, Definitions

from pipelines.config import Settings, get_settings
from pipelines.warehouse.client import Warehouse


class WarehouseResource(ConfigurableResource):
    """The Trackflow warehouse. `url` overrides the configured/embedded endpoint (empty: from settings)."""

    url: str = ""
    role: str = "writer"

    def handle(self, settings: Settings | None = None) -> Warehouse:
        return Warehouse(settings or get_settings(), role=self.role, url=self.url or None)


class KafkaResource(ConfigurableResource):
    """The Kafka cluster (empty bootstrap: from settings, i.e. the embedded broker)."""

    bootstrap: str = ""

    def bootstrap_servers(self) -> str:
        from pipelines.messaging import bootstrap_servers

        return self.bootstrap or bootstrap_servers(get_settings())


class PostgresResource(ConfigurableResource):
    """The PostgreSQL server of the push targets and their chunk state. `url` overrides the configured/embedded
    server (empty: from settings, i.e. `TRACKFLOW_POSTGRES_URL` or the stack's embedded PostgreSQL)."""

    url: str = ""

    def settings(self) -> Settings:
        settings = get_settings()
        return settings.model_copy(update={"postgres_url": self.url}) if self.url else settings


# The keys the assets' parameters name; one instance each, bound for the whole code location.
defs = Definitions(resources={"warehouse": WarehouseResource(), "kafka": KafkaResource(), "postgres": PostgresResource()})
