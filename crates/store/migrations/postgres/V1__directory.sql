-- The directory schema. Deleting a user, group, account, permission set or application cascades to
-- its memberships and assignments, so a delete is one statement inside the caller's transaction.

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    user_name     TEXT NOT NULL,
    email         TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    given_name    TEXT,
    family_name   TEXT,
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
-- Orderings and keyset comparisons use COLLATE "C" (byte order), as SQLite does.
CREATE UNIQUE INDEX users_user_name_key ON users ((lower(user_name) COLLATE "C"));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE groups (
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX groups_name_key ON groups ((lower(name) COLLATE "C"));

CREATE TABLE group_members (
    group_id  UUID NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id   UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user_idx ON group_members (user_id, group_id);

CREATE TABLE accounts (
    id           TEXT COLLATE "C" PRIMARY KEY CHECK (id ~ '^[0-9]{12}$'),
    name         TEXT NOT NULL,
    email        TEXT NOT NULL,
    console_url  TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE permission_sets (
    id                        UUID PRIMARY KEY,
    name                      TEXT COLLATE "C" NOT NULL UNIQUE,
    description               TEXT NOT NULL DEFAULT '',
    session_duration_seconds  INTEGER NOT NULL CHECK (session_duration_seconds BETWEEN 3600 AND 43200),
    created_at                TIMESTAMPTZ NOT NULL,
    updated_at                TIMESTAMPTZ NOT NULL
);

-- Exactly one of user_id / group_id is set: real foreign keys, so deletes cascade.
CREATE TABLE account_assignments (
    account_id         TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    permission_set_id  UUID NOT NULL REFERENCES permission_sets (id) ON DELETE CASCADE,
    user_id            UUID REFERENCES users (id) ON DELETE CASCADE,
    group_id           UUID REFERENCES groups (id) ON DELETE CASCADE,
    created_at         TIMESTAMPTZ NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX account_assignments_user_key
    ON account_assignments (user_id, account_id, permission_set_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX account_assignments_group_key
    ON account_assignments (group_id, account_id, permission_set_id) WHERE group_id IS NOT NULL;
CREATE INDEX account_assignments_account_idx ON account_assignments (account_id, permission_set_id);
CREATE INDEX account_assignments_permission_set_idx ON account_assignments (permission_set_id);

CREATE TABLE applications (
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    kind         TEXT NOT NULL CHECK (kind IN ('OIDC', 'SAML')),
    enabled      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX applications_name_idx ON applications ((lower(name) COLLATE "C"), id);

CREATE TABLE application_assignments (
    application_id  UUID NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    user_id         UUID REFERENCES users (id) ON DELETE CASCADE,
    group_id        UUID REFERENCES groups (id) ON DELETE CASCADE,
    created_at      TIMESTAMPTZ NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX application_assignments_user_key
    ON application_assignments (user_id, application_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX application_assignments_group_key
    ON application_assignments (group_id, application_id) WHERE group_id IS NOT NULL;
CREATE INDEX application_assignments_app_idx ON application_assignments (application_id);

-- One row: the organisation settings as the domain's JSON form.
CREATE TABLE settings (
    id          SMALLINT PRIMARY KEY CHECK (id = 1),
    body        JSONB NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    purpose      TEXT NOT NULL,
    algorithm    TEXT NOT NULL,
    private_key  BYTEA NOT NULL,
    public_key   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    active_from  TIMESTAMPTZ NOT NULL,
    retired_at   TIMESTAMPTZ
);
CREATE INDEX signing_keys_purpose_idx ON signing_keys (purpose, created_at DESC);

CREATE TABLE admin_tokens (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    token_hash  BYTEA NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ,
    bootstrap   BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE audit_events (
    id       BIGSERIAL PRIMARY KEY,
    time     TIMESTAMPTZ NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    details  TEXT
);
CREATE INDEX audit_events_time_idx ON audit_events (time);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, id);
CREATE INDEX audit_events_action_idx ON audit_events (action, id);
