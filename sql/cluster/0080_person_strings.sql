-- Cluster variant of sql/migrations/0080_person_strings.sql (same columns and key; the view, the backfill and the
-- dictionary are migration 0080's). What differs:
-- - `person_strings` is a ReplicatedReplacingMergeTree whose Keeper path is the same on all shards (`/all/`), with a
--   replica name unique across the cluster ('{shard}-{replica}'): every node holds every row, because a chain names
--   its carried persons on the node it runs on, from that node's person_strings_dict, which loads from its local
--   person_strings (not a Distributed table: a dictionary reading every shard on each update would not scale).
--   The table is small next to the events (one row per touchpoint id and OneID, ~110 bytes each in the dictionary).
-- - The view fires on the node whose Distributed `dwd_default` takes an insert, and writes there; replication brings
--   the rows to the others. `trackflow warehouse migrate` creates it (and the dictionary) on the node it connects
--   to: point the dwd job's writers at that node, or create migration 0080's view on each node writers use, and the
--   dictionary (as oneid_dict, sql/cluster/0001_events.sql) on each node chains run on. A layer's view is made by
--   the writer with its table (pipelines/warehouse/person_strings.py), on the node it writes through.
-- Nothing here is needed for correctness: a person whose strings a node lacks (no view where they were written,
-- rows replicated later than the dictionary's UPDATE_LAG of 15 s) is read from their events, as on the embedded
-- warehouse (pipelines/analysis/persons.py named_cell_sql); the strings only make that read skip their granules.
-- Apply with `clickhouse-client --multiquery --queries-file sql/cluster/0080_person_strings.sql`; `trackflow
-- warehouse migrate` then finds the table present (IF NOT EXISTS), creates the view and the dictionary, and runs the
-- backfill once (through `events`, the Distributed tables) on the node it connects to.
CREATE TABLE IF NOT EXISTS person_strings ON CLUSTER '{cluster}' (
    hash    UInt64,
    id      String,
    written DateTime DEFAULT now()
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/person_strings', '{shard}-{replica}')
ORDER BY hash;
