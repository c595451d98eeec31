-- Browser sessions: the cookie carries a random id, the table its SHA-256 (a copy of this table signs no one in).
CREATE TABLE sessions (
    id_hash      text PRIMARY KEY,
    username     text NOT NULL REFERENCES users ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_by_user ON sessions (username);

-- Failed sign-ins per user name, for throttling (kept here, not in memory, so every API process and a restart
-- see them).
CREATE TABLE login_failures (
    username  text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_by_user ON login_failures (username, failed_at);
