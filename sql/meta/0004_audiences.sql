-- Audiences defined in Trackflow (issue 20, pipelines/cdp/audiences.py): by a rule on tags and behaviour, or saved
-- from a result's persons (an analysis request with its `persons` cell, as POST /v1/query takes it). Members and
-- their versions live in the warehouse (cdp_audiences, cdp_audience_versions); this row is what recomputes them.
-- `owner` is a user name, or "cli" for audiences made with `trackflow audiences create` (no account behind it).
CREATE TABLE audiences (
    name           text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    description    text NOT NULL DEFAULT '',
    owner          text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('static', 'dynamic')),
    definition     jsonb NOT NULL,
    schedule       text CHECK (schedule IN ('hourly', 'daily', 'weekly')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    refreshed_at   timestamptz,
    last_error     text,
    -- a static audience is frozen at creation; a dynamic one is recomputed on its schedule
    CHECK ((kind = 'dynamic') = (schedule IS NOT NULL))
);
CREATE INDEX audiences_by_owner ON audiences (owner);
