-- The current OneID of each person_id as an in-memory dictionary, so analyses resolve identity per row with a
-- hash lookup instead of joining the oneid_current view (which aggregates oneid_map on every read).
-- Refreshed from oneid_current every 10-60 s; `SYSTEM RELOAD DICTIONARY oneid_dict` forces it.
CREATE DICTIONARY IF NOT EXISTS oneid_dict (
    person_id String,
    oneid     String
)
PRIMARY KEY person_id
SOURCE(CLICKHOUSE(TABLE 'oneid_current'))
LAYOUT(COMPLEX_KEY_HASHED())
LIFETIME(MIN 10 MAX 60);
