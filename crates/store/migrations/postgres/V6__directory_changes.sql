-- Tells every node's directory cache that something it may hold has changed.
--
-- Each statement that changes a table the cache reads from notifies the channel
-- `portcullis_directory` (payload: the table name). Notifications are delivered at commit, and
-- not at all for a rolled-back transaction; several from one transaction with the same payload
-- arrive as one. Nodes `LISTEN` on a connection of their own and invalidate their cache.
CREATE FUNCTION portcullis_notify_directory_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portcullis_directory', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_directory_change();
CREATE TRIGGER groups_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON groups
    FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_directory_change();
CREATE TRIGGER group_members_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON group_members
    FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_directory_change();
CREATE TRIGGER accounts_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_directory_change();
CREATE TRIGGER permission_sets_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON permission_sets
    FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_directory_change();
CREATE TRIGGER account_assignments_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON account_assignments
    FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_directory_change();
CREATE TRIGGER applications_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON applications
    FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_directory_change();
CREATE TRIGGER application_assignments_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON application_assignments
    FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_directory_change();
CREATE TRIGGER application_icons_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON application_icons
    FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_directory_change();
CREATE TRIGGER settings_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_directory_change();
