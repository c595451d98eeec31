"""Key-hash chunking at the edges: every source row lands in exactly one chunk in [0, count), at every chunk count
the definitions allow, and a one-chunk push carries the whole partition."""

from __future__ import annotations

import pytest
from annotated_types import Le

from pipelines.push.definitions import Chunking
from pipelines.push.runner import run_push
from pipelines.push.sql import day_bounds, hash_range_chunk, plan_sql
from tests.push.conftest import DIRTY_PRICES, push_definition, target_summary

MAX_CHUNKS = next(m.le for m in Chunking.model_fields["chunks"].metadata if isinstance(m, Le))
COUNTS = [1, 2, 3, 1024, MAX_CHUNKS]
# Hash extremes and the values on either side of the range boundaries of each count.
EXTREMES = [0, 1, 2**63 - 1, 2**63, 2**63 + 1, 2**64 - 2, 2**64 - 1]


def boundaries(count: int) -> list[int]:
    """The first hash of each chunk (the smallest h with h * count >= c * 2^64) and the hash just before it."""
    firsts = [-(-c * 2**64 // count) for c in range(1, count)]
    return [h for first in firsts[:50] + firsts[-50:] for h in (first - 1, first)]


@pytest.mark.parametrize("count", COUNTS)
def test_hash_extremes_and_range_boundaries_map_exactly(warehouse, count):
    hashes = EXTREMES + boundaries(count)
    chunk = hash_range_chunk("toUInt64(h)", count)
    got = warehouse.rows(f"SELECT h, {chunk} FROM (SELECT arrayJoin({{hashes:Array(UInt64)}}) AS h)", {"hashes": hashes})
    assert {int(h): int(c) for h, c in got} == {h: h * count >> 64 for h in hashes}
    assert all(0 <= int(c) < count for _, c in got)


@pytest.mark.parametrize("count", COUNTS)
def test_every_source_row_is_planned_in_exactly_one_chunk(warehouse, push_day, source_rows, count):
    push = push_definition(f"edges_{count}", chunking={"by": "key_hash", "key": "event_id", "chunks": count})
    start, end = day_bounds(push, push_day)
    planned = warehouse.rows(plan_sql(push), {"start": start, "end": end})
    assert all(0 <= int(chunk) < count for chunk, _, _ in planned), [c for c, _, _ in planned if not 0 <= int(c) < count]
    assert sum(int(rows) for _, rows, _ in planned) == source_rows
    if count <= 3:  # ~24,000 rows spread over so few ranges: none is empty
        assert len(planned) == count


def test_a_split_chunk_is_exactly_its_sub_ranges(warehouse):
    """Chunk c of n chunks holds exactly the rows of chunks c*k .. c*k+k-1 of n*k: a chunk can be split later."""
    same = warehouse.scalar(
        "SELECT countIf(intDiv(" + hash_range_chunk("h", 6) + ", 2) != " + hash_range_chunk("h", 3) + ") "
        "FROM (SELECT cityHash64(number) AS h FROM numbers(200000))"
    )
    assert same == 0


def test_one_chunk_push_carries_the_whole_partition(stack_settings, warehouse, pg, push_day, source_rows):
    push = push_definition("one_chunk", chunking={"by": "key_hash", "key": "event_id", "chunks": 1}, parallelism=1)
    result = run_push(stack_settings, push, push_day, warehouse)
    clean = source_rows - len(DIRTY_PRICES)
    assert result.reconciliation.ok, result.reconciliation.summary()
    assert result.chunks == 1 and result.rows_written == clean
    assert target_summary(pg, "tests.one_chunk", push_day) == (clean, clean)
