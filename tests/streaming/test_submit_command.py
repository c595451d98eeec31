"""What `trackflow jobs submit` hands to `flink run` (no cluster needed): the job script builds its settings from this
environment, so the embedded stack's resolved endpoints and the writer's generated password must be in it."""

from __future__ import annotations

from pipelines.config import Settings
from pipelines.flinkrun.session import submit_command


def test_the_submitted_job_gets_the_embedded_warehouse_and_its_generated_writer_password(tmp_path):
    settings = Settings(data_dir=tmp_path, clickhouse_url="", kafka_bootstrap="127.0.0.1:19092", warehouse_port=18123)
    generated = settings.clickhouse_password.get_secret_value()
    assert generated  # the embedded warehouse's writer password comes from the data dir's secrets

    _, env = submit_command(settings, "dwd", "127.0.0.1:8081")

    assert env["TRACKFLOW_CLICKHOUSE_URL"] == "http://127.0.0.1:18123"
    # With the URL set the warehouse counts as external, whose password is never generated: it must be passed.
    assert Settings(clickhouse_url=env["TRACKFLOW_CLICKHOUSE_URL"], data_dir=tmp_path).clickhouse_password.get_secret_value() == ""
    assert env["TRACKFLOW_CLICKHOUSE_PASSWORD"] == generated
