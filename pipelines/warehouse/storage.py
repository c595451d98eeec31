"""Storage policy of the embedded warehouse: a `tiered` policy with a `hot` and a `cold` volume.

ClickHouse declares disks and policies in the server configuration, not in SQL. chDB reads a server config file
when the connection string names one (`<data dir>?config-file=<path>`), so the embedded warehouse writes this
file into its data directory and opens every connection with it. The detail tables' TTL
(`TO VOLUME 'cold'`, sql/migrations/0001_events.sql) then moves old partitions to the cold disk.
On a ClickHouse cluster the same policy name is declared in the servers' config (see docs/analysis.md).
"""

from __future__ import annotations

from pathlib import Path

POLICY = "tiered"
CONFIG_NAME = "trackflow-storage.xml"

_CONFIG = """<clickhouse>
  <!-- written by pipelines/warehouse/storage.py; disks are folders inside the data directory -->
  <storage_configuration>
    <disks>
      <hot><path>{hot}/</path></hot>
      <cold><path>{cold}/</path></cold>
    </disks>
    <policies>
      <{policy}>
        <volumes>
          <hot><disk>hot</disk></hot>
          <cold><disk>cold</disk></cold>
        </volumes>
      </{policy}>
    </policies>
  </storage_configuration>
</clickhouse>
"""


def storage_config(data_dir: str | Path) -> Path:
    """Write (once) the storage config for `data_dir` and return its path."""
    root = Path(data_dir).resolve()
    path = root / CONFIG_NAME
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        for volume in ("hot", "cold"):
            (root / "disks" / volume).mkdir(parents=True, exist_ok=True)
        text = _CONFIG.format(hot=root / "disks" / "hot", cold=root / "disks" / "cold", policy=POLICY)
        path.write_text(text)
    return path


def connection_string(data_dir: str | Path) -> str:
    """The chDB connection string for a data directory with the tiered storage policy available."""
    return f"{data_dir}?config-file={storage_config(data_dir)}"
