-- Saved reports (an analysis request as POST /v1/query takes it) and dashboards (a grid of reports sharing a
-- time range). `version` rises on every change: a PUT names the version it read (optimistic locking, 409).
CREATE TABLE reports (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    model      text NOT NULL,
    request    jsonb NOT NULL,
    owner      text NOT NULL REFERENCES users ON DELETE CASCADE,
    shared     boolean NOT NULL DEFAULT false,
    version    integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reports_by_owner ON reports (owner);

CREATE TABLE dashboards (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    owner      text NOT NULL REFERENCES users ON DELETE CASCADE,
    shared     boolean NOT NULL DEFAULT false,
    version    integer NOT NULL DEFAULT 1,
    time_range jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dashboards_by_owner ON dashboards (owner);

-- A deleted report leaves every dashboard it was on.
CREATE TABLE dashboard_items (
    dashboard_id text NOT NULL REFERENCES dashboards ON DELETE CASCADE,
    position     integer NOT NULL,
    report_id    text NOT NULL REFERENCES reports ON DELETE CASCADE,
    x            integer NOT NULL,
    y            integer NOT NULL,
    w            integer NOT NULL,
    h            integer NOT NULL,
    PRIMARY KEY (dashboard_id, position)
);
CREATE INDEX dashboard_items_by_report ON dashboard_items (report_id);
