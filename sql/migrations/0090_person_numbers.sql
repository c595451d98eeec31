-- Dense person numbers (1, 2, 3, ...) for the 64-bit person keys analyses tell persons apart by
-- (pipelines/analysis/schema.py PERSON_KEY: the hash of the person's current OneID), so a distinct count of persons
-- can be a bitmap (groupBitmap, a few KB per 65,536 numbers) instead of a hash set of keys: terminal analysis per
-- row (pipelines/analysis/terminals.py). A number belongs to one key for good; a key has at most one number. Keys
-- are numbered as they appear, so a OneID merge or split that gives persons a new key gets a new number at the next
-- refresh. A key without a number (not numbered yet, or an event older than the refresh window) is counted from its
-- key instead: a missing number costs speed, never exactness.
CREATE TABLE IF NOT EXISTS person_numbers (
    person_key UInt64,
    number     UInt32
)
ENGINE = MergeTree
ORDER BY person_key;

-- The persons of the events written before this migration, numbered once (before the refresh below exists, so the
-- two never assign numbers at the same time).
INSERT INTO person_numbers
SELECT person_key, toUInt32(next) AS number
FROM (
    SELECT person_key, (SELECT max(number) FROM person_numbers) + rowNumberInAllBlocks() + 1 AS next
    FROM (SELECT DISTINCT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person_key FROM events)
    WHERE person_key NOT IN (SELECT person_key FROM person_numbers)
)
WHERE next <= 4294967295;

-- New keys of recent events (the last 3 days by event time: a few partitions, not the whole table), every 5 minutes
-- (a person's first minutes are counted from the key). Refreshes of one view never overlap, so `max(number)` + row
-- number never hands out a number twice; past 2^32 - 1 keys are left without a number.
CREATE MATERIALIZED VIEW IF NOT EXISTS person_numbering
REFRESH EVERY 5 MINUTE APPEND TO person_numbers AS
SELECT person_key, toUInt32(next) AS number
FROM (
    SELECT person_key, (SELECT max(number) FROM person_numbers) + rowNumberInAllBlocks() + 1 AS next
    FROM (
        SELECT DISTINCT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person_key
        FROM events
        WHERE ts >= now() - INTERVAL 3 DAY
    )
    WHERE person_key NOT IN (SELECT person_key FROM person_numbers)
)
WHERE next <= 4294967295;

-- What analyses read, checked every 10-60 s like the OneID dictionaries but reloaded only when numbers were added
-- (the table only grows; `SYSTEM RELOAD DICTIONARY person_number_dict` forces it).
CREATE DICTIONARY IF NOT EXISTS person_number_dict (
    person_key UInt64,
    number     UInt32
)
PRIMARY KEY person_key
SOURCE(CLICKHOUSE(TABLE 'person_numbers' INVALIDATE_QUERY 'SELECT count() FROM person_numbers'))
LAYOUT(HASHED())
LIFETIME(MIN 10 MAX 60);
