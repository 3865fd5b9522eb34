-- OIDC client registration of applications (SQLite). Same shape as the PostgreSQL migration.
--
-- `oidc` holds the domain's `OidcSettings` as JSON text (NULL for SAML applications, and for OIDC
-- applications created before this migration until an administrator configures them).
-- `client_secret_hash` is the keyed hash of a confidential client's secret (never the secret);
-- NULL when the application has none.
ALTER TABLE applications ADD COLUMN oidc TEXT;
ALTER TABLE applications ADD COLUMN client_secret_hash BLOB;
