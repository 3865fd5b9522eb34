-- Application icons shown on the portal's Applications tab (SQLite). Same shape as the
-- PostgreSQL migration: one icon per application, removed with its application.
CREATE TABLE application_icons (
    application_id  TEXT PRIMARY KEY REFERENCES applications (id) ON DELETE CASCADE,
    content_type    TEXT NOT NULL,
    body            BLOB NOT NULL,
    updated_at      INTEGER NOT NULL
);
