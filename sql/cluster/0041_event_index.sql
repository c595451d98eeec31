-- Cluster variant of the event index (sql/migrations/0041_event_index.sql; the protocol is in
-- pipelines/warehouse/eventindex.py). EmbeddedRocksDB keeps its keys on one server's disk, so:
-- - `local_event_index` on every node holds the ids of its shard; `event_index` is the Distributed table over it,
--   sharded by cityHash64(event_id) (not by person like the detail tables): every copy of an event_id claims on the
--   same shard whatever ids it carries, so a copy whose touchpoint ids changed between sends (another person, hence
--   another detail shard) is still caught. Writers look up, claim and confirm through `event_index` as on the
--   embedded warehouse; the check of an unconfirmed claim reads the Distributed detail tables through `events`.
-- - EmbeddedRocksDB does not replicate. `event_index` writes through the cluster `{cluster}_event_index`, which the
--   servers' remote_servers must declare with the same shards and replicas as `{cluster}` and
--   <internal_replication>false</internal_replication>: the Distributed table then writes each claim to every
--   replica of its shard itself.
-- - The writer's profile sets distributed_foreground_insert = 1 (a claim, the detail rows and the confirmation are
--   on their shards when the INSERT returns, as the protocol's order requires; the default queues them in the
--   background) and optimize_skip_unused_shards = 1 (a lookup goes to the shards of its ids only).
-- Residual risks, not closed by this DDL: a replica that was down while claims were written misses them (rebuild it
-- from the detail rows: the INSERT below restricted to that shard's ids); a lookup answered by such a replica could
-- let a re-send through. Considered instead: KeeperMap (replicated through Keeper, and its strict mode would make a
-- claim insert-if-absent), rejected because Keeper holds every key in memory and is sized for metadata, not for one
-- entry per event; a ReplicatedReplacingMergeTree ordered by event_id, rejected because a batch's random ids each
-- read a whole granule (8,192 rows by default) instead of one key.
-- Apply after sql/cluster/0001_events.sql with `clickhouse-client --multiquery --queries-file
-- sql/cluster/0041_event_index.sql`; `trackflow warehouse migrate` then finds the table present (IF NOT EXISTS)
-- and runs migration 0041's backfill through `event_index`.
CREATE TABLE IF NOT EXISTS local_event_index ON CLUSTER '{cluster}' (
    event_id      UUID,
    detail_table  LowCardinality(String),
    day           Date,
    written       UInt8,
    claimed_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = EmbeddedRocksDB
PRIMARY KEY event_id;

CREATE TABLE IF NOT EXISTS event_index ON CLUSTER '{cluster}' AS local_event_index
ENGINE = Distributed('{cluster}_event_index', currentDatabase(), local_event_index, cityHash64(event_id));
