//! The directory traits for [`CachedDirectory`]: cached reads, invalidating writes, and plain
//! forwarding for everything else.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_domain::{
    AccountAssignment, AccountId, Actor, AdminToken, AdminTokenId, Application,
    ApplicationAssignment, ApplicationId, AuditEvent, AuditFilter, Consent, DisplayName, Group,
    GroupId, MfaDevice, MfaDeviceId, NewAccount, NewAdminToken, NewApplication, NewAuditEvent,
    NewGroup, NewMfaDevice, NewPermissionSet, NewUser, Page, PageRequest, PasswordRecord,
    PermissionSet, PermissionSetId, Principal, ProvisioningConnection, ProvisioningRecord,
    Settings, User, UserId, UserName, UserPatch,
};

use super::CachedDirectory;
use crate::{
    Account, AccountStore, AdminTokenStore, ApplicationStore, AssignmentFilter, AssignmentStore,
    AuditLog, ConsentStore, CredentialStore, Directory, Entitlement, GroupStore, MfaDeviceStore,
    NewSigningKey, PermissionSetStore, ProvisioningStore, Result, SettingsStore, SigningKey,
    SigningKeyStore, UserStore,
};

/// `impl $trait for CachedDirectory`: the methods listed under `forward` call the inner store
/// unchanged; the methods after it are written out.
macro_rules! directory_impl {
    (
        $trait:ident;
        forward { $( fn $name:ident(&self $(, $arg:ident: $ty:ty)* ) -> $ret:ty; )* }
        $($custom:tt)*
    ) => {
        #[async_trait]
        impl $trait for CachedDirectory {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.inner.$name($($arg),*).await
                }
            )*
            $($custom)*
        }
    };
}

directory_impl! {
    UserStore;
    forward {
        fn find_user_by_name(&self, name: &UserName) -> Result<Option<User>>;
        fn list_users(&self, page: PageRequest) -> Result<Page<User>>;
    }

    async fn create_user(&self, actor: Actor, user: NewUser) -> Result<User> {
        self.write(move |d| async move { d.create_user(actor, user).await })
            .await
    }

    async fn get_user(&self, id: UserId) -> Result<User> {
        let load = self.inner.get_user(id);
        self.freshness.read(&self.caches.users, id, load).await
    }

    async fn update_user(&self, actor: Actor, id: UserId, patch: UserPatch) -> Result<User> {
        self.write(move |d| async move { d.update_user(actor, id, patch).await })
            .await
    }

    async fn delete_user(&self, actor: Actor, id: UserId) -> Result<()> {
        self.write(move |d| async move { d.delete_user(actor, id).await })
            .await
    }
}

directory_impl! {
    GroupStore;
    forward {
        fn get_group(&self, id: GroupId) -> Result<Group>;
        fn list_groups(&self, page: PageRequest) -> Result<Page<Group>>;
        fn list_members(&self, group: GroupId, page: PageRequest) -> Result<Page<User>>;
    }

    async fn create_group(&self, actor: Actor, group: NewGroup) -> Result<Group> {
        self.write(move |d| async move { d.create_group(actor, group).await })
            .await
    }

    async fn update_group(&self, actor: Actor, id: GroupId, group: NewGroup) -> Result<Group> {
        self.write(move |d| async move { d.update_group(actor, id, group).await })
            .await
    }

    async fn delete_group(&self, actor: Actor, id: GroupId) -> Result<()> {
        self.write(move |d| async move { d.delete_group(actor, id).await })
            .await
    }

    async fn add_member(&self, actor: Actor, group: GroupId, user: UserId) -> Result<()> {
        self.write(move |d| async move { d.add_member(actor, group, user).await })
            .await
    }

    async fn remove_member(&self, actor: Actor, group: GroupId, user: UserId) -> Result<()> {
        self.write(move |d| async move { d.remove_member(actor, group, user).await })
            .await
    }

    async fn list_user_groups(&self, user: UserId) -> Result<Vec<Group>> {
        let load = self.inner.list_user_groups(user);
        self.freshness.read(&self.caches.user_groups, user, load).await
    }
}

directory_impl! {
    AccountStore;
    forward {
        fn list_accounts(&self, page: PageRequest) -> Result<Page<Account>>;
    }

    async fn create_account(&self, actor: Actor, account: NewAccount) -> Result<Account> {
        self.write(move |d| async move { d.create_account(actor, account).await })
            .await
    }

    async fn get_account(&self, id: &AccountId) -> Result<Account> {
        let load = self.inner.get_account(id);
        self.freshness
            .read(&self.caches.accounts, id.clone(), load)
            .await
    }

    /// Serves the fresh ones from the cache and reads the others in one inner call; the answer
    /// keeps the inner contract (existing accounts only, each once, in id order).
    async fn get_accounts(&self, ids: &[AccountId]) -> Result<Vec<Account>> {
        let mut found = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match self.freshness.cached(&self.caches.accounts, id) {
                Some(account) => found.push(account),
                None => missing.push(id.clone()),
            }
        }
        if !missing.is_empty() {
            let load = self.inner.get_accounts(&missing);
            let read = self.freshness.read_many(&self.caches.accounts, load, |a| a.id.clone());
            found.extend(read.await?);
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found.dedup_by(|a, b| a.id == b.id);
        Ok(found)
    }

    async fn update_account(&self, actor: Actor, account: NewAccount) -> Result<Account> {
        self.write(move |d| async move { d.update_account(actor, account).await })
            .await
    }

    async fn delete_account(&self, actor: Actor, id: &AccountId) -> Result<()> {
        let id = id.clone();
        self.write(move |d| async move { d.delete_account(actor, &id).await })
            .await
    }
}

directory_impl! {
    PermissionSetStore;
    forward {
        fn list_permission_sets(&self, page: PageRequest) -> Result<Page<PermissionSet>>;
    }

    async fn create_permission_set(
        &self,
        actor: Actor,
        ps: NewPermissionSet,
    ) -> Result<PermissionSet> {
        self.write(move |d| async move { d.create_permission_set(actor, ps).await })
            .await
    }

    async fn get_permission_set(&self, id: PermissionSetId) -> Result<PermissionSet> {
        let load = self.inner.get_permission_set(id);
        self.freshness
            .read(&self.caches.permission_sets, id, load)
            .await
    }

    async fn update_permission_set(
        &self,
        actor: Actor,
        id: PermissionSetId,
        ps: NewPermissionSet,
    ) -> Result<PermissionSet> {
        self.write(move |d| async move { d.update_permission_set(actor, id, ps).await })
            .await
    }

    async fn delete_permission_set(&self, actor: Actor, id: PermissionSetId) -> Result<()> {
        self.write(move |d| async move { d.delete_permission_set(actor, id).await })
            .await
    }
}

directory_impl! {
    AssignmentStore;
    forward {
        fn list_assignments(
            &self,
            filter: &AssignmentFilter,
            page: PageRequest
        ) -> Result<Page<AccountAssignment>>;
    }

    async fn create_assignment(&self, actor: Actor, a: AccountAssignment) -> Result<()> {
        self.write(move |d| async move { d.create_assignment(actor, a).await })
            .await
    }

    async fn delete_assignment(&self, actor: Actor, a: &AccountAssignment) -> Result<()> {
        let a = a.clone();
        self.write(move |d| async move { d.delete_assignment(actor, &a).await })
            .await
    }

    async fn user_entitlements(&self, user: UserId) -> Result<Vec<Entitlement>> {
        let load = self.inner.user_entitlements(user);
        self.freshness.read(&self.caches.entitlements, user, load).await
    }
}

directory_impl! {
    ApplicationStore;
    forward {
        fn list_applications(&self, page: PageRequest) -> Result<Page<Application>>;
        fn list_application_assignments(&self, app: ApplicationId) -> Result<Vec<Principal>>;
        fn get_application_icon(&self, id: ApplicationId) -> Result<Option<(String, Vec<u8>)>>;
    }

    async fn set_application_icon(
        &self,
        actor: Actor,
        id: ApplicationId,
        content_type: String,
        body: Vec<u8>,
    ) -> Result<()> {
        self.write(move |d| async move { d.set_application_icon(actor, id, content_type, body).await })
            .await
    }

    async fn delete_application_icon(&self, actor: Actor, id: ApplicationId) -> Result<()> {
        self.write(move |d| async move { d.delete_application_icon(actor, id).await })
            .await
    }

    async fn application_icon_ids(&self, ids: &[ApplicationId]) -> Result<HashSet<ApplicationId>> {
        let mut with_icon = HashSet::new();
        let mut missing = Vec::new();
        for id in ids {
            match self.freshness.cached(&self.caches.has_icon, id) {
                Some((_, true)) => {
                    with_icon.insert(*id);
                }
                Some((_, false)) => {}
                None => missing.push(*id),
            }
        }
        if !missing.is_empty() {
            // Every asked id is kept, with or without an icon.
            let load = async {
                let found = self.inner.application_icon_ids(&missing).await?;
                Ok(missing.iter().map(|id| (*id, found.contains(id))).collect())
            };
            let read = self.freshness.read_many(&self.caches.has_icon, load, |p| p.0);
            with_icon.extend(read.await?.into_iter().filter(|p| p.1).map(|p| p.0));
        }
        Ok(with_icon)
    }

    async fn create_application(&self, actor: Actor, app: NewApplication) -> Result<Application> {
        self.write(move |d| async move { d.create_application(actor, app).await })
            .await
    }

    async fn get_application(&self, id: ApplicationId) -> Result<Application> {
        let load = self.inner.get_application(id);
        self.freshness.read(&self.caches.applications, id, load).await
    }

    async fn update_application(
        &self,
        actor: Actor,
        id: ApplicationId,
        app: NewApplication,
    ) -> Result<Application> {
        self.write(move |d| async move { d.update_application(actor, id, app).await })
            .await
    }

    async fn delete_application(&self, actor: Actor, id: ApplicationId) -> Result<()> {
        self.write(move |d| async move { d.delete_application(actor, id).await })
            .await
    }

    async fn assign_application(&self, actor: Actor, a: ApplicationAssignment) -> Result<()> {
        self.write(move |d| async move { d.assign_application(actor, a).await })
            .await
    }

    async fn unassign_application(&self, actor: Actor, a: ApplicationAssignment) -> Result<()> {
        self.write(move |d| async move { d.unassign_application(actor, a).await })
            .await
    }

    async fn user_applications(&self, user: UserId) -> Result<Vec<Application>> {
        let load = self.inner.user_applications(user);
        self.freshness
            .read(&self.caches.user_applications, user, load)
            .await
    }

    async fn find_saml_application(&self, entity_id: &str) -> Result<Option<Application>> {
        let load = self.inner.find_saml_application(entity_id);
        // The key comes from outside: no longer ones than an entity id can be are kept.
        if entity_id.len() > portcullis_domain::MAX_ENTITY_ID_BYTES {
            return load.await;
        }
        self.freshness
            .read(&self.caches.saml_applications, entity_id.to_owned(), load)
            .await
    }

    async fn client_secret_hash(&self, id: ApplicationId) -> Result<Option<Vec<u8>>> {
        let load = self.inner.client_secret_hash(id);
        self.freshness.read(&self.caches.secret_hashes, id, load).await
    }

    async fn set_client_secret(
        &self,
        actor: Actor,
        id: ApplicationId,
        hash: Vec<u8>,
    ) -> Result<()> {
        self.write(move |d| async move { d.set_client_secret(actor, id, hash).await })
            .await
    }
}

directory_impl! {
    SettingsStore;
    forward {}

    async fn get_settings(&self) -> Result<Settings> {
        let load = self.inner.get_settings();
        self.freshness.read(&self.caches.settings, (), load).await
    }

    async fn put_settings(&self, actor: Actor, settings: Settings) -> Result<Settings> {
        self.write(move |d| async move { d.put_settings(actor, settings).await })
            .await
    }
}

directory_impl! {
    SigningKeyStore;
    forward {
        fn insert_signing_key(&self, actor: Actor, key: NewSigningKey) -> Result<SigningKey>;
        fn insert_first_signing_key(&self, actor: Actor, key: NewSigningKey, at: DateTime<Utc>) -> Result<Option<SigningKey>>;
        fn list_signing_keys(&self, purpose: &str) -> Result<Vec<SigningKey>>;
        fn retire_signing_key(&self, actor: Actor, kid: &str, at: DateTime<Utc>) -> Result<()>;
        fn delete_signing_key(&self, actor: Actor, kid: &str) -> Result<()>;
    }
}

directory_impl! {
    AdminTokenStore;
    forward {
        fn create_admin_token(&self, actor: Actor, token: NewAdminToken) -> Result<AdminToken>;
        fn find_admin_token(
            &self,
            hash: &[u8; 32],
            now: DateTime<Utc>
        ) -> Result<Option<AdminToken>>;
        fn list_admin_tokens(&self) -> Result<Vec<AdminToken>>;
        fn revoke_admin_token(&self, actor: Actor, id: AdminTokenId) -> Result<()>;
        fn bootstrap_token_revoked(&self, hash: &[u8; 32]) -> Result<bool>;
    }
}

directory_impl! {
    AuditLog;
    forward {
        fn record_event(&self, event: NewAuditEvent) -> Result<()>;
        fn record_events(&self, events: Vec<NewAuditEvent>) -> Result<()>;
        fn list_audit_events(
            &self,
            filter: &AuditFilter,
            page: PageRequest
        ) -> Result<Page<AuditEvent>>;
    }
}

directory_impl! {
    CredentialStore;
    forward {
        fn get_password(&self, user: UserId) -> Result<Option<PasswordRecord>>;
        fn set_password(
            &self,
            actor: Actor,
            user: UserId,
            hash: String,
            must_change: bool
        ) -> Result<()>;
        fn rehash_password(&self, user: UserId, hash: String) -> Result<()>;
    }
}

directory_impl! {
    MfaDeviceStore;
    forward {
        fn add_mfa_device(&self, actor: Actor, device: NewMfaDevice) -> Result<MfaDevice>;
        fn list_mfa_devices(&self, user: UserId) -> Result<Vec<MfaDevice>>;
        fn find_mfa_device_by_credential(&self, credential_id: &str) -> Result<Option<MfaDevice>>;
        fn rename_mfa_device(
            &self,
            actor: Actor,
            user: UserId,
            id: MfaDeviceId,
            name: DisplayName
        ) -> Result<MfaDevice>;
        fn delete_mfa_device(&self, actor: Actor, user: UserId, id: MfaDeviceId) -> Result<()>;
        fn record_mfa_use(
            &self,
            user: UserId,
            id: MfaDeviceId,
            at: DateTime<Utc>,
            totp_step: Option<i64>,
            secret: Option<Vec<u8>>
        ) -> Result<bool>;
    }
}

#[async_trait]
impl Directory for CachedDirectory {
    /// Migrations may change any table: nothing cached before them is served after.
    async fn migrate(&self) -> Result<()> {
        let result = self.inner.migrate().await;
        self.invalidate_all();
        result
    }

    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}

directory_impl! {
    ConsentStore;
    forward {
        fn grant_consent(&self, actor: Actor, consent: Consent) -> Result<Consent>;
        fn get_consent(
            &self,
            user: UserId,
            client_id: &str,
            now: DateTime<Utc>
        ) -> Result<Option<Consent>>;
        fn list_consents(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<Consent>>;
        fn revoke_consent(&self, actor: Actor, user: UserId, client_id: &str) -> Result<()>;
    }
}

directory_impl! {
    ProvisioningStore;
    forward {
        fn get_provisioning_connection(&self) -> Result<Option<ProvisioningConnection>>;
        fn put_provisioning_connection(
            &self,
            actor: Actor,
            connection: Option<ProvisioningConnection>
        ) -> Result<()>;
        fn list_provisioning_records(&self) -> Result<Vec<ProvisioningRecord>>;
        fn put_provisioning_record(&self, record: ProvisioningRecord) -> Result<()>;
        fn delete_provisioning_record(
            &self,
            account: &AccountId,
            permission_set: PermissionSetId
        ) -> Result<()>;
    }
}
