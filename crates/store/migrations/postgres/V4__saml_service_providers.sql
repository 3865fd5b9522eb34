-- SAML service provider registration of applications.
--
-- `saml` holds the domain's `SamlSettings` as JSON (NULL for OIDC applications, and for SAML
-- applications created before this migration until an administrator configures them).
ALTER TABLE applications ADD COLUMN saml JSONB;
