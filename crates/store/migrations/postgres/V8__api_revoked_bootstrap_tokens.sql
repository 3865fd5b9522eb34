-- Bootstrap administrator tokens that were revoked, by the SHA-256 hash of the token (never the
-- token). A configured bootstrap token (PORTCULLIS__ADMIN__BOOTSTRAP_TOKEN) is recreated at
-- start-up when missing; its hash here keeps a revoked one from coming back.
CREATE TABLE revoked_bootstrap_tokens (
    token_hash  BYTEA PRIMARY KEY,
    revoked_at  TIMESTAMPTZ NOT NULL
);
