-- The identity mapping again, keyed by 64-bit hashes: person_hash (cityHash64(person_id), a column of every detail
-- table since 0001) -> cityHash64 of the current OneID. Analyses that only tell persons apart resolve them with it
-- (pipelines/analysis/schema.py PERSON_KEY) without reading the person_id strings or hashing them per event: a
-- sixth of a 4-step funnel's time on the benchmark. Refreshed like oneid_dict, every 10-60 s (`SYSTEM RELOAD
-- DICTIONARY oneid_hash_dict` forces it).
CREATE VIEW IF NOT EXISTS oneid_hash_current AS
SELECT cityHash64(person_id) AS person_hash, cityHash64(oneid) AS oneid_hash
FROM oneid_current;

CREATE DICTIONARY IF NOT EXISTS oneid_hash_dict (
    person_hash UInt64,
    oneid_hash  UInt64
)
PRIMARY KEY person_hash
SOURCE(CLICKHOUSE(TABLE 'oneid_hash_current'))
LAYOUT(HASHED())
LIFETIME(MIN 10 MAX 60);
