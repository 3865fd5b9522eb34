-- Application icons shown on the portal's Applications tab.
--
-- At most one icon per application, uploaded by an administrator. `content_type` is
-- `image/png` or `image/jpeg` (checked by the admin API, together with the magic bytes);
-- `body` is the image as uploaded. Removed with its application.
CREATE TABLE application_icons (
    application_id  UUID PRIMARY KEY REFERENCES applications (id) ON DELETE CASCADE,
    content_type    TEXT NOT NULL,
    body            BYTEA NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
