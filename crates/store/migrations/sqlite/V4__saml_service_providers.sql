-- SAML service provider registration of applications (SQLite). Same shape as the PostgreSQL
-- migration: `saml` holds the domain's `SamlSettings` as JSON text (NULL for OIDC applications).
ALTER TABLE applications ADD COLUMN saml TEXT;
