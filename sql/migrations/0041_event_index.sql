-- The event index: where the one row of each event_id lives, so every writer of detail rows writes an event once
-- whatever its client time, layer or batch (pipelines/warehouse/eventindex.py has the protocol). EmbeddedRocksDB:
-- a key-value table on the server's disk, point lookups by event_id (a 10,000-id IN is ~0.1 s on 2M keys), and an
-- insert of an existing key replaces its value (claim, then confirm, by inserting again).
--   detail_table, day: the table and day partition (toDate(ts)) of the copy, all a writer must read to check it
--   written: 0 = claimed, row not confirmed yet (a writer may have stopped before its insert); 1 = row confirmed
--   claimed_at: server time of the last write of the entry; a young unconfirmed claim may have its insert in flight
-- Not named dwd_*: the `events` Merge table must not read it.
CREATE TABLE IF NOT EXISTS event_index (
    event_id      UUID,
    detail_table  LowCardinality(String),
    day           Date,
    written       UInt8,
    claimed_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = EmbeddedRocksDB
PRIMARY KEY event_id;

-- Rows written before the index existed: their ids are claimed and confirmed, so an upgrade cannot write them
-- again. (An id already doubled keeps both rows; the index names one of them.)
INSERT INTO event_index (event_id, detail_table, day, written)
SELECT event_id, _table, toDate(ts), 1 FROM events;
