-- The directory schema (SQLite). Same shape as the PostgreSQL one: UUIDs as lower-case hyphenated
-- TEXT, times as INTEGER milliseconds since the Unix epoch (UTC), booleans as INTEGER 0/1.
-- Requires PRAGMA foreign_keys = ON on every connection (the backend sets it).
-- lower() below is the Unicode-aware override (Rust's to_lowercase) the backend registers on every connection.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    user_name     TEXT NOT NULL,
    email         TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    given_name    TEXT,
    family_name   TEXT,
    enabled       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_user_name_key ON users (lower(user_name));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE groups (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX groups_name_key ON groups (lower(name));

CREATE TABLE group_members (
    group_id  TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_user_idx ON group_members (user_id, group_id);

CREATE TABLE accounts (
    id           TEXT PRIMARY KEY CHECK (length(id) = 12 AND id NOT GLOB '*[^0-9]*'),
    name         TEXT NOT NULL,
    email        TEXT NOT NULL,
    console_url  TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE permission_sets (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL UNIQUE,
    description               TEXT NOT NULL DEFAULT '',
    session_duration_seconds  INTEGER NOT NULL CHECK (session_duration_seconds BETWEEN 3600 AND 43200),
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
);

CREATE TABLE account_assignments (
    account_id         TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    permission_set_id  TEXT NOT NULL REFERENCES permission_sets (id) ON DELETE CASCADE,
    user_id            TEXT REFERENCES users (id) ON DELETE CASCADE,
    group_id           TEXT REFERENCES groups (id) ON DELETE CASCADE,
    created_at         INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX account_assignments_user_key
    ON account_assignments (user_id, account_id, permission_set_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX account_assignments_group_key
    ON account_assignments (group_id, account_id, permission_set_id) WHERE group_id IS NOT NULL;
CREATE INDEX account_assignments_account_idx ON account_assignments (account_id, permission_set_id);
CREATE INDEX account_assignments_permission_set_idx ON account_assignments (permission_set_id);

CREATE TABLE applications (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    kind         TEXT NOT NULL CHECK (kind IN ('OIDC', 'SAML')),
    enabled      INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX applications_name_idx ON applications (lower(name), id);

CREATE TABLE application_assignments (
    application_id  TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    user_id         TEXT REFERENCES users (id) ON DELETE CASCADE,
    group_id        TEXT REFERENCES groups (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX application_assignments_user_key
    ON application_assignments (user_id, application_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX application_assignments_group_key
    ON application_assignments (group_id, application_id) WHERE group_id IS NOT NULL;
CREATE INDEX application_assignments_app_idx ON application_assignments (application_id);

CREATE TABLE settings (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    body        TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    purpose      TEXT NOT NULL,
    algorithm    TEXT NOT NULL,
    private_key  BLOB NOT NULL,
    public_key   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    active_from  INTEGER NOT NULL,
    retired_at   INTEGER
);
CREATE INDEX signing_keys_purpose_idx ON signing_keys (purpose, created_at DESC);

CREATE TABLE admin_tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    token_hash  BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    bootstrap   INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE audit_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    time     INTEGER NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    details  TEXT
);
CREATE INDEX audit_events_time_idx ON audit_events (time);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, id);
CREATE INDEX audit_events_action_idx ON audit_events (action, id);
