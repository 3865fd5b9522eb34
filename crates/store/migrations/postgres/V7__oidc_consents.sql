-- What each person allowed each OIDC client (an application, or a client registered through the
-- SSO-OIDC API) to do: one row per (user, client). `scopes` is space-separated (a scope has no
-- spaces); `expires_at` NULL means until revoked. Consents go with their user.
CREATE TABLE oidc_consents (
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id    TEXT NOT NULL,
    client_name  TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    granted_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX oidc_consents_client_idx ON oidc_consents (client_id);
