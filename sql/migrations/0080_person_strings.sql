-- The id strings behind the 64-bit person hashes, kept by the warehouse on every write to the detail table: each
-- touchpoint id (person_hash -> person_id) and each OneID stamped on an event (cityHash64(oneid) -> oneid). A
-- per-person pass then keeps one UInt64 per person (a touchpoint's person_hash) instead of reading id strings on
-- every event, and names the persons of one result cell afterwards (pipelines/analysis/persons.py named_cell_sql:
-- a chain's carried cell). The current OneID still comes from oneid_dict at read time, so merges and splits after
-- the events were written apply. A row is never wrong, only possibly absent (a layer table the dwd job created
-- has no view writing here; ids written since the dictionary's last update): such persons are read from their
-- events instead. Duplicates are folded at merges.
CREATE TABLE IF NOT EXISTS person_strings (
    hash    UInt64,
    id      String,
    written DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree
ORDER BY hash;

-- Each inserted block's distinct ids (the insert path pays one GROUP BY over two hashes per event).
CREATE MATERIALIZED VIEW IF NOT EXISTS person_strings_of_dwd_default TO person_strings AS
SELECT pair.1 AS hash, pair.2 AS id
FROM dwd_default
ARRAY JOIN arrayFilter(p -> p.2 != '', [(person_hash, person_id), (cityHash64(oneid), oneid)]) AS pair
GROUP BY hash, id;

-- The events written before this migration, of every detail table.
INSERT INTO person_strings (hash, id)
SELECT pair.1 AS hash, pair.2 AS id
FROM events
ARRAY JOIN arrayFilter(p -> p.2 != '', [(person_hash, person_id), (cityHash64(oneid), oneid)]) AS pair
GROUP BY hash, id;

-- The same in memory, for a hash lookup per listed person (a join with the table cost ~0.5 s per 400k persons on the
-- 10M-event benchmark, the lookups ~0.1 s). Updated every 10-60 s with the rows written since the last update
-- (update_field), not reloaded whole; ~110 bytes per id (270 MB for the benchmark's 2.5M ids).
CREATE DICTIONARY IF NOT EXISTS person_strings_dict (
    hash UInt64,
    id   String
)
PRIMARY KEY hash
SOURCE(CLICKHOUSE(TABLE 'person_strings' UPDATE_FIELD 'written' UPDATE_LAG 15))
LAYOUT(HASHED())
LIFETIME(MIN 10 MAX 60);
