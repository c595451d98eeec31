-- OneID links, one row per observation batch; the engine folds them into one row per (strong, weak) with the first
-- and last time the link was seen. A lone id is a link to itself (strong = weak), so every id has a row.
-- The offline recompute reads this table whole (GROUP BY the key, min/max/sum), with the rules applied again.
CREATE TABLE IF NOT EXISTS oneid_edges (
    strong      String,
    weak        String,
    first_seen  SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen   SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    seen        SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY (strong, weak);
