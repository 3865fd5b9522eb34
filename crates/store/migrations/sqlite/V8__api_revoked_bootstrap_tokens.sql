-- Bootstrap administrator tokens that were revoked, by the SHA-256 hash of the token (never the
-- token). A configured bootstrap token (PORTCULLIS__ADMIN__BOOTSTRAP_TOKEN) is recreated at
-- start-up when missing; its hash here keeps a revoked one from coming back. `revoked_at` is
-- INTEGER milliseconds since the Unix epoch.
CREATE TABLE revoked_bootstrap_tokens (
    token_hash  BLOB PRIMARY KEY,
    revoked_at  INTEGER NOT NULL
);
