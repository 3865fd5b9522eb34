-- Provisioning permission sets into aws accounts. A permission set's policies (the JSON of
-- portcullis_domain::CloudPolicies: managed policy ARNs, customer managed references, the inline
-- policy, the permissions boundary).
ALTER TABLE permission_sets ADD COLUMN policies TEXT NOT NULL DEFAULT '{}';
-- The one provisioning connection (portcullis_domain::ProvisioningConnection as JSON; its secret
-- is sealed by the broker before it gets here).
CREATE TABLE provisioning_connection (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    body TEXT NOT NULL
);
-- What was last done for each (account, permission set): portcullis_domain::ProvisioningRecord.
-- No foreign keys: a record outlives its permission set's assignments (and the set itself) until
-- the role it made is removed from the account.
CREATE TABLE provisioning_records (
    account_id TEXT NOT NULL,
    permission_set_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (account_id, permission_set_id)
);
