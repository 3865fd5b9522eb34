-- Accounts that are real clouds (an AWS account or an STS-compatible endpoint): their settings
-- as the JSON of portcullis_domain::AwsAccount; NULL for a native account.
ALTER TABLE accounts ADD COLUMN aws TEXT;
