"""How far the streaming jobs are behind their input, by their consumer groups' committed offsets (Flink commits them
when a checkpoint completes), for `trackflow down` (drain) and `trackflow status` (behind, stuck).

The embedded broker under-reports ListOffsets(latest) (PLATFORM_NOTES), so the real end of a partition is found by
fetching from the larger of the reported end and the committed offset until nothing more comes.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from pipelines import messaging
from pipelines.config import Settings
from pipelines.flinkrun.environment import consumer_group

# Consumer groups whose lag says whether the event path has caught up: layering on events.raw, dwd on ods.<layer>.
# (The names are the jobs' GROUP constants; jobs/ modules import PyFlink, too slow for `trackflow status`.)
# Values: (group, topic regex, how to name the topics).
EVENT_PATH_INPUTS = {
    "layering": ("trackflow-layering", re.escape(messaging.RAW), messaging.RAW),
    "dwd": ("trackflow-dwd", r"ods\..+", "ods.*"),
}
EMPTY_POLLS = 2  # consecutive empty fetches after which a partition's end is taken as found


@dataclass(frozen=True)
class InputLag:
    job: str
    topics: str  # the topic, or "ods.*"
    committed: int  # sum of the group's committed offsets over the partitions
    lag: int  # messages between the committed offsets and the real ends

    def describe(self) -> str:
        return f"{self.job} {self.lag:,} on {self.topics}"


@dataclass(frozen=True)
class Progress:
    inputs: list[InputLag]
    stalled_s: float  # how long there has been lag with no committed offset moving (0 when caught up or moving)

    @property
    def lag(self) -> int:
        return sum(item.lag for item in self.inputs)

    def describe(self) -> str:
        return ", ".join(item.describe() for item in self.inputs)


def watched_jobs(job: str) -> list[str]:
    """The event-path jobs of a runner job (`all` runs both)."""
    return [name for name in EVENT_PATH_INPUTS if job in (name, "all")]


def input_lag(settings: Settings, job: str, incarnation: str, timeout_s: float = 5.0) -> list[InputLag]:
    """The lag of each watched job of `job` on the broker `settings` point at (its incarnation's groups)."""
    names = watched_jobs(job)
    if not names:
        return []
    deadline = time.monotonic() + timeout_s
    bootstrap = messaging.bootstrap_servers(settings)
    timeout_ms = int(timeout_s * 1000)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="trackflow-progress", request_timeout_ms=timeout_ms)
    reader = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        client_id="trackflow-progress",
        request_timeout_ms=timeout_ms + 1000,
        fetch_max_wait_ms=100,
    )
    try:
        topics = sorted(admin.list_topics())
        result = []
        for name in names:
            group, wanted, label = EVENT_PATH_INPUTS[name]
            partitions = [
                TopicPartition(topic, p)
                for topic in topics
                if re.fullmatch(wanted, topic)
                for p in sorted(reader.partitions_for_topic(topic) or ())
            ]
            offsets = admin.list_group_offsets(consumer_group(group, incarnation)).get(consumer_group(group, incarnation), {})
            committed = {tp: max(offsets[tp].offset, 0) if tp in offsets else 0 for tp in partitions}
            ends = real_ends(reader, committed, deadline)
            lag = sum(max(0, ends[tp] - committed[tp]) for tp in partitions)
            result.append(InputLag(name, label, sum(committed.values()), lag))
        return result
    finally:
        reader.close()
        admin.close()


def real_ends(reader: KafkaConsumer, committed: dict[TopicPartition, int], deadline: float) -> dict[TopicPartition, int]:
    """Each partition's end: fetched from max(reported end, committed) until EMPTY_POLLS fetches bring nothing."""
    if not committed:
        return {}
    partitions = list(committed)
    reported = reader.end_offsets(partitions)
    ends = {tp: max(reported.get(tp) or 0, committed[tp]) for tp in partitions}
    reader.assign(partitions)
    for tp in partitions:
        reader.seek(tp, ends[tp])
    empty = 0
    while empty < EMPTY_POLLS:
        if time.monotonic() > deadline:
            raise TimeoutError("reading the topics' ends took too long")
        batches = reader.poll(timeout_ms=200, max_records=5000)
        if not batches:
            empty += 1
            continue
        empty = 0
        for tp, records in batches.items():
            ends[tp] = max(ends[tp], records[-1].offset + 1)
    return ends


def progress_file(settings: Settings, job: str) -> Path:
    return settings.state_dir / f"job-{job}.progress.json"


def observe(settings: Settings, job: str, incarnation: str, timeout_s: float = 5.0) -> Progress:
    """The lag now, and how long it has stood without a committed offset moving. Whoever looks (the runner's watcher
    every few seconds, `trackflow status`) records what it saw, so the next look can tell stuck from moving."""
    inputs = input_lag(settings, job, incarnation, timeout_s)
    now = time.time()
    path = progress_file(settings, job)
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        previous = {}
    committed = {item.job: item.committed for item in inputs}
    moved = previous.get("incarnation") != incarnation or previous.get("committed") != committed
    caught_up = all(item.lag == 0 for item in inputs)
    since = now if moved or caught_up else float(previous.get("since", now))
    record = {"incarnation": incarnation, "committed": committed, "since": since, "observed_at": now}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{time.monotonic_ns()}.tmp")
    partial.write_text(json.dumps(record))
    partial.replace(path)
    return Progress(inputs, 0.0 if caught_up else now - since)
