-- Passwords and MFA devices (SQLite). Same shape as the PostgreSQL migration: UUIDs as lower-case
-- hyphenated TEXT, times as INTEGER milliseconds since the Unix epoch (UTC), booleans as INTEGER
-- 0/1. Both go with their user (ON DELETE CASCADE; the backend sets PRAGMA foreign_keys = ON).

-- One password per user: an argon2id PHC string, hashed by the caller.
CREATE TABLE user_passwords (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hash         TEXT NOT NULL,
    must_change  INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL
);

-- Authenticator apps (TOTP) and WebAuthn credentials. `secret` is opaque (encrypted TOTP key or
-- serialised WebAuthn credential); `last_totp_step` is the last accepted TOTP time step (replay
-- protection).
CREATE TABLE mfa_devices (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('AUTHENTICATOR_APP', 'WEBAUTHN')),
    name            TEXT NOT NULL,
    secret          BLOB NOT NULL,
    credential_id   TEXT UNIQUE,
    last_totp_step  INTEGER,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER
);
CREATE INDEX mfa_devices_user_kind_idx ON mfa_devices (user_id, kind);
