-- Workbench accounts. The name rule is checked by pipelines/workbench/users.py with a clear message; the CHECKs
-- keep a row written any other way from breaking it.
CREATE TABLE users (
    username      text PRIMARY KEY CHECK (username ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    role          text NOT NULL CHECK (role IN ('analyst', 'admin')),
    password_hash text NOT NULL,  -- argon2id, PHC string
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- API tokens of users: only the SHA-256 of the token is kept (a token is 256 random bits, so a fast hash is
-- enough, and every request looks one up). A token acts with its user's current role and stops with the user.
CREATE TABLE api_tokens (
    token_hash text PRIMARY KEY,
    username   text NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);
