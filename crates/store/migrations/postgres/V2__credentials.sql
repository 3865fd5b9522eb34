-- Passwords and MFA devices. Both go with their user (ON DELETE CASCADE).

-- One password per user: an argon2id PHC string, hashed by the caller.
CREATE TABLE user_passwords (
    user_id      UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hash         TEXT NOT NULL,
    must_change  BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- Authenticator apps (TOTP) and WebAuthn credentials. `secret` is opaque (encrypted TOTP key or
-- serialised WebAuthn credential); `last_totp_step` is the last accepted TOTP time step (replay
-- protection).
CREATE TABLE mfa_devices (
    id              UUID PRIMARY KEY,
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('AUTHENTICATOR_APP', 'WEBAUTHN')),
    name            TEXT NOT NULL,
    secret          BYTEA NOT NULL,
    credential_id   TEXT UNIQUE,
    last_totp_step  BIGINT,
    created_at      TIMESTAMPTZ NOT NULL,
    last_used_at    TIMESTAMPTZ
);
CREATE INDEX mfa_devices_user_kind_idx ON mfa_devices (user_id, kind);
