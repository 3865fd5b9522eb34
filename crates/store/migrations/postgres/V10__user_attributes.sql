-- A person's custom attributes (department, cost center, …), the JSON object of
-- portcullis_domain::UserAttributes: what `${user:<key>}` finds in AWS session tags.
ALTER TABLE users ADD COLUMN attributes JSONB NOT NULL DEFAULT '{}'::jsonb;
