//! The directory: people, groups, accounts, permission sets, assignments, applications, settings,
//! signing keys, administrator tokens and the audit log.
//!
//! Each aggregate has a narrow trait; [`Directory`] composes them. Two backends implement them all:
//! [`postgres::PostgresDirectory`] (production) and [`sqlite::SqliteDirectory`] (the embedded
//! default). Both pass the same conformance suite (`tests/conformance/`), with and without
//! [`cached::CachedDirectory`], the per-node read cache the server puts in front of them.
//!
//! Contracts every backend keeps:
//! - Every mutating call takes the [`Actor`] and writes one audit event (built by [`events`]) in
//!   the same transaction as the change: either both are stored or neither is.
//! - Deleting a user, group, account, permission set or application removes its memberships and
//!   assignments in the same transaction.
//! - Listings are keyset-paginated in a stable order; `Page::next` is the key of the last item.

pub mod cached;
pub mod events;
pub mod postgres;
pub mod sqlite;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod types;

use async_trait::async_trait;
use portcullis_domain::{
    AccountAssignment, AccountId, Actor, AdminToken, AdminTokenId, Application,
    ApplicationAssignment, ApplicationId, AuditEvent, AuditFilter, Consent, DisplayName, Group,
    GroupId, MfaDevice, MfaDeviceId, NewAccount, NewAdminToken, NewApplication, NewAuditEvent,
    NewGroup, NewMfaDevice, NewPermissionSet, NewUser, Page, PageRequest, PasswordRecord,
    PermissionSet, PermissionSetId, Principal, ProvisioningConnection, ProvisioningRecord,
    Settings, User, UserId, UserName, UserPatch,
};

pub use cached::{CacheOptions, CachedDirectory, Invalidation, ListenerGuard};
pub use portcullis_domain::Account;
pub use types::{AssignmentFilter, Entitlement, NewSigningKey, SigningKey};

/// What can go wrong in a store, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named thing (`"user"`, `"group"`, …) does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule would be broken; the message names the field (`userName`, `email`, …).
    #[error("{message}")]
    Conflict {
        field: &'static str,
        message: String,
    },
    /// A referenced thing does not exist (an assignment to an unknown account, …).
    #[error("{field} refers to a {entity} that does not exist")]
    InvalidReference {
        field: &'static str,
        entity: &'static str,
    },
    /// The backend could not be reached or failed; retrying later may succeed.
    #[error("directory unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored value no longer satisfies the domain rules (a bug or a manual edit).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(e))
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// People. User names and emails are unique, case-insensitively.
/// Listing order: lower-cased user name.
#[async_trait]
pub trait UserStore: Send + Sync {
    async fn create_user(&self, actor: Actor, user: NewUser) -> Result<User>;
    async fn get_user(&self, id: UserId) -> Result<User>;
    /// Case-insensitive.
    async fn find_user_by_name(&self, name: &UserName) -> Result<Option<User>>;
    async fn list_users(&self, page: PageRequest) -> Result<Page<User>>;
    async fn update_user(&self, actor: Actor, id: UserId, patch: UserPatch) -> Result<User>;
    /// Also removes the user's group memberships and assignments.
    async fn delete_user(&self, actor: Actor, id: UserId) -> Result<()>;
}

/// Groups and membership. Group names are unique, case-insensitively.
/// Listing order: lower-cased group name; members by lower-cased user name.
#[async_trait]
pub trait GroupStore: Send + Sync {
    async fn create_group(&self, actor: Actor, group: NewGroup) -> Result<Group>;
    async fn get_group(&self, id: GroupId) -> Result<Group>;
    async fn list_groups(&self, page: PageRequest) -> Result<Page<Group>>;
    async fn update_group(&self, actor: Actor, id: GroupId, group: NewGroup) -> Result<Group>;
    /// Also removes the group's memberships and assignments.
    async fn delete_group(&self, actor: Actor, id: GroupId) -> Result<()>;
    /// Idempotent: adding a member twice leaves one membership (and audits each call).
    async fn add_member(&self, actor: Actor, group: GroupId, user: UserId) -> Result<()>;
    /// `NotFound("membership")` when the user is not a member.
    async fn remove_member(&self, actor: Actor, group: GroupId, user: UserId) -> Result<()>;
    async fn list_members(&self, group: GroupId, page: PageRequest) -> Result<Page<User>>;
    /// The groups a user belongs to, by name.
    async fn list_user_groups(&self, user: UserId) -> Result<Vec<Group>>;
}

/// Accounts, keyed by their 12-digit id. Listing order: account id.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// `Conflict { field: "accountId" }` when the id is taken.
    async fn create_account(&self, actor: Actor, account: NewAccount) -> Result<Account>;
    async fn get_account(&self, id: &AccountId) -> Result<Account>;
    /// The accounts among `ids` that exist, in id order, in one round trip (unknown ids are
    /// left out).
    async fn get_accounts(&self, ids: &[AccountId]) -> Result<Vec<Account>>;
    async fn list_accounts(&self, page: PageRequest) -> Result<Page<Account>>;
    /// Replaces name, email and console URL of the account `account.id`.
    async fn update_account(&self, actor: Actor, account: NewAccount) -> Result<Account>;
    /// Also removes the account's assignments.
    async fn delete_account(&self, actor: Actor, id: &AccountId) -> Result<()>;
}

/// Permission sets. Names are unique (case-sensitively, as role names are).
/// Listing order: name.
#[async_trait]
pub trait PermissionSetStore: Send + Sync {
    async fn create_permission_set(
        &self,
        actor: Actor,
        ps: NewPermissionSet,
    ) -> Result<PermissionSet>;
    async fn get_permission_set(&self, id: PermissionSetId) -> Result<PermissionSet>;
    async fn list_permission_sets(&self, page: PageRequest) -> Result<Page<PermissionSet>>;
    async fn update_permission_set(
        &self,
        actor: Actor,
        id: PermissionSetId,
        ps: NewPermissionSet,
    ) -> Result<PermissionSet>;
    /// Also removes the permission set's assignments.
    async fn delete_permission_set(&self, actor: Actor, id: PermissionSetId) -> Result<()>;
}

/// Account assignments: (account, permission set, principal).
#[async_trait]
pub trait AssignmentStore: Send + Sync {
    /// `Conflict { field: "assignment" }` when it exists; `InvalidReference` naming `accountId`,
    /// `permissionSetId` or `principalId` when one of them does not exist.
    async fn create_assignment(&self, actor: Actor, a: AccountAssignment) -> Result<()>;
    /// `NotFound("assignment")` when it does not exist.
    async fn delete_assignment(&self, actor: Actor, a: &AccountAssignment) -> Result<()>;
    /// Ordered by (account id, permission set id, principal type, principal id); the page key
    /// is those four joined by `/`.
    async fn list_assignments(
        &self,
        filter: &AssignmentFilter,
        page: PageRequest,
    ) -> Result<Page<AccountAssignment>>;
    /// Every (account, permission set) the user holds, directly or through any of their groups,
    /// each pair once, ordered by account id then role name. One indexed query.
    async fn user_entitlements(&self, user: UserId) -> Result<Vec<Entitlement>>;
}

/// Business applications and who may use them. Listing order: lower-cased name, then id.
#[async_trait]
pub trait ApplicationStore: Send + Sync {
    async fn create_application(&self, actor: Actor, app: NewApplication) -> Result<Application>;
    async fn get_application(&self, id: ApplicationId) -> Result<Application>;
    async fn list_applications(&self, page: PageRequest) -> Result<Page<Application>>;
    /// Replaces name, description, enabled and the OIDC settings; the kind in `app` must match
    /// the stored one (`Conflict { field: "kind" }` otherwise). A public client has no secret:
    /// an update that makes the client public also removes its stored secret hash.
    async fn update_application(
        &self,
        actor: Actor,
        id: ApplicationId,
        app: NewApplication,
    ) -> Result<Application>;
    /// Also removes the application's assignments.
    async fn delete_application(&self, actor: Actor, id: ApplicationId) -> Result<()>;
    /// `Conflict { field: "assignment" }` when it exists; `InvalidReference` for an unknown
    /// application or principal.
    async fn assign_application(&self, actor: Actor, a: ApplicationAssignment) -> Result<()>;
    /// `NotFound("assignment")` when it does not exist.
    async fn unassign_application(&self, actor: Actor, a: ApplicationAssignment) -> Result<()>;
    /// Principals assigned to the application, users first, then groups, each by id.
    async fn list_application_assignments(&self, app: ApplicationId) -> Result<Vec<Principal>>;
    /// Enabled applications the user may use, directly or through a group, by name.
    async fn user_applications(&self, user: UserId) -> Result<Vec<Application>>;
    /// The enabled SAML application registered for the service provider `entity_id`, if any
    /// (the first by listing order should two claim it). Read on every SAML request: the cached
    /// directory answers it from memory; this default pages through [`Self::list_applications`].
    async fn find_saml_application(&self, entity_id: &str) -> Result<Option<Application>> {
        let mut req = PageRequest::first(portcullis_domain::PageSize::MAX)
            .map_err(|_| StoreError::NotFound("page size"))?;
        loop {
            let page = self.list_applications(req.clone()).await?;
            let found = page.items.into_iter().find(|app| {
                app.kind == portcullis_domain::ApplicationKind::Saml
                    && app.enabled
                    && app.saml.as_ref().is_some_and(|s| s.entity_id == entity_id)
            });
            if found.is_some() {
                return Ok(found);
            }
            match page.next {
                Some(next) => req.after = Some(next),
                None => return Ok(None),
            }
        }
    }
    /// Sets (or replaces: the old secret stops working at once) the keyed hash of a confidential
    /// OIDC client's secret, hashed by the caller. Audited as `application.client-secret.set`
    /// (never with the hash). `NotFound("application")` for an unknown application;
    /// `Conflict { field: "clientType" }` for a SAML application or a public (or unconfigured)
    /// OIDC client, which cannot hold a secret — checked in the same transaction.
    async fn set_client_secret(&self, actor: Actor, id: ApplicationId, hash: Vec<u8>)
    -> Result<()>;
    /// The stored secret hash of an OIDC client; `None` when it has none.
    /// `NotFound("application")` for an unknown application.
    async fn client_secret_hash(&self, id: ApplicationId) -> Result<Option<Vec<u8>>>;
    /// Sets (or replaces) the application's icon: its content type and the image bytes, checked
    /// by the caller. Audited as `application.icon.set` (never with the bytes).
    /// `NotFound("application")` for an unknown application. Removed with the application.
    async fn set_application_icon(
        &self,
        actor: Actor,
        id: ApplicationId,
        content_type: String,
        body: Vec<u8>,
    ) -> Result<()>;
    /// Removes the application's icon. Audited as `application.icon.delete`.
    /// `NotFound("icon")` when the application has none (or does not exist).
    async fn delete_application_icon(&self, actor: Actor, id: ApplicationId) -> Result<()>;
    /// The icon's content type and bytes; `None` when the application has none (or does not
    /// exist).
    async fn get_application_icon(&self, id: ApplicationId) -> Result<Option<(String, Vec<u8>)>>;
    /// Which of `ids` have an icon. One query, whatever the number of ids.
    async fn application_icon_ids(
        &self,
        ids: &[ApplicationId],
    ) -> Result<std::collections::HashSet<ApplicationId>>;
}

/// The organisation settings (one record; defaults until first written).
#[async_trait]
pub trait SettingsStore: Send + Sync {
    async fn get_settings(&self) -> Result<Settings>;
    async fn put_settings(&self, actor: Actor, settings: Settings) -> Result<Settings>;
}

/// Signing keys shared by every node (private halves encrypted by the caller before storing).
#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// `Conflict { field: "kid" }` when the key id exists.
    async fn insert_signing_key(&self, actor: Actor, key: NewSigningKey) -> Result<SigningKey>;
    /// Stores `key` only when no key of its purpose and algorithm signs at `at` (active by then
    /// and not yet retired), deciding and writing as one step across every node sharing the
    /// store: of nodes that start together on an empty store, one creates the first key and the
    /// others get `None` and use that one.
    async fn insert_first_signing_key(
        &self,
        actor: Actor,
        key: NewSigningKey,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<SigningKey>>;
    /// Keys of one purpose, newest first, including retired ones not yet deleted.
    async fn list_signing_keys(&self, purpose: &str) -> Result<Vec<SigningKey>>;
    /// Marks a key retired from the given time on (it stays published until deleted).
    async fn retire_signing_key(
        &self,
        actor: Actor,
        kid: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<()>;
    async fn delete_signing_key(&self, actor: Actor, kid: &str) -> Result<()>;
}

/// Administrator API tokens, stored as SHA-256 hashes.
#[async_trait]
pub trait AdminTokenStore: Send + Sync {
    async fn create_admin_token(&self, actor: Actor, token: NewAdminToken) -> Result<AdminToken>;
    /// The token whose secret hashes to `hash`, if it exists and has not expired at `now`.
    async fn find_admin_token(
        &self,
        hash: &[u8; 32],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<AdminToken>>;
    /// All tokens, oldest first.
    async fn list_admin_tokens(&self) -> Result<Vec<AdminToken>>;
    /// Deletes the token. Revoking a bootstrap token also remembers its hash, in the same
    /// transaction, so that a bootstrap token set in the configuration is not recreated at the
    /// next start ([`Self::bootstrap_token_revoked`]).
    async fn revoke_admin_token(&self, actor: Actor, id: AdminTokenId) -> Result<()>;
    /// Whether a bootstrap token whose secret hashes to `hash` was revoked.
    async fn bootstrap_token_revoked(&self, hash: &[u8; 32]) -> Result<bool>;
}

/// The audit log.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Records an event that is not part of a directory change (a sign-in, a token issued).
    async fn record_event(&self, event: NewAuditEvent) -> Result<()>;
    /// Records several such events in one transaction: all of them or none. Ids grow in the
    /// order given. An empty batch writes nothing. Lets a caller that must not go on before its
    /// event is durable share one commit with concurrent callers (group commit).
    async fn record_events(&self, events: Vec<NewAuditEvent>) -> Result<()>;
    /// Newest first; the page key is the event id.
    async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>>;
}

/// Passwords (argon2id PHC strings, hashed by the caller).
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// The user's password record; `None` when they have none (a user created without one).
    async fn get_password(&self, user: UserId) -> Result<Option<PasswordRecord>>;
    /// Sets (or replaces) the password; `must_change` forces a new one at the next sign-in.
    /// Audited as `user.password.set` (details say whether it must change; never the hash).
    /// `NotFound("user")` for an unknown user.
    async fn set_password(
        &self,
        actor: Actor,
        user: UserId,
        hash: String,
        must_change: bool,
    ) -> Result<()>;
    /// Replaces the hash without an audit event and without touching `must_change` or
    /// `updated_at`: re-hashing with new argon2 parameters after a successful sign-in.
    async fn rehash_password(&self, user: UserId, hash: String) -> Result<()>;
}

/// MFA devices (authenticator apps and WebAuthn credentials) of each person.
#[async_trait]
pub trait MfaDeviceStore: Send + Sync {
    /// Registers a device. At most `kind.limit()` per user and kind:
    /// `Conflict { field: "kind" }` beyond it (checked in the same transaction).
    /// `NotFound("user")` for an unknown user. Audited as `user.mfa-device.create`.
    async fn add_mfa_device(&self, actor: Actor, device: NewMfaDevice) -> Result<MfaDevice>;
    /// The user's devices, oldest first.
    async fn list_mfa_devices(&self, user: UserId) -> Result<Vec<MfaDevice>>;
    /// The device with this WebAuthn credential id, whoever owns it (usernameless sign-in).
    async fn find_mfa_device_by_credential(&self, credential_id: &str)
    -> Result<Option<MfaDevice>>;
    /// `NotFound("mfa device")` when the user has no such device. Audited `user.mfa-device.update`.
    async fn rename_mfa_device(
        &self,
        actor: Actor,
        user: UserId,
        id: MfaDeviceId,
        name: DisplayName,
    ) -> Result<MfaDevice>;
    /// `NotFound("mfa device")` when the user has no such device. Audited `user.mfa-device.delete`.
    async fn delete_mfa_device(&self, actor: Actor, user: UserId, id: MfaDeviceId) -> Result<()>;
    /// Records a successful use at `at`: sets `last_used_at`, and `secret` when given (a
    /// WebAuthn credential's new signature counter). For TOTP, `totp_step` is the time step of
    /// the accepted code: the call returns `false` — and changes nothing — when that step is not
    /// greater than the last accepted one, so a code can never be used twice. Not audited.
    async fn record_mfa_use(
        &self,
        user: UserId,
        id: MfaDeviceId,
        at: chrono::DateTime<chrono::Utc>,
        totp_step: Option<i64>,
        secret: Option<Vec<u8>>,
    ) -> Result<bool>;
}

/// People's consents to OIDC clients, one per (person, client).
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// Records `consent`, replacing the one the person gave the client before (its scopes are
    /// not merged: the caller passes every scope now consented to). Audited as
    /// `user.consent.grant`. `NotFound("user")` for an unknown user.
    async fn grant_consent(&self, actor: Actor, consent: Consent) -> Result<Consent>;
    /// The person's consent to the client, if given and not lapsed at `now`.
    async fn get_consent(
        &self,
        user: UserId,
        client_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Consent>>;
    /// The person's consents not lapsed at `now`, newest first.
    async fn list_consents(
        &self,
        user: UserId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Consent>>;
    /// Withdraws a consent (lapsed or not). Audited as `user.consent.revoke`.
    /// `NotFound("consent")` when there is none.
    async fn revoke_consent(&self, actor: Actor, user: UserId, client_id: &str) -> Result<()>;
}

/// Provisioning permission sets into `aws` accounts: the one connection, and a record per
/// (account, permission set) of what was last done there. Records are not audited here (the
/// broker audits each provisioning run); the connection is, like every directory change.
#[async_trait]
pub trait ProvisioningStore: Send + Sync {
    async fn get_provisioning_connection(&self) -> Result<Option<ProvisioningConnection>>;
    /// Stores the connection (`Some`) or removes it (`None`).
    async fn put_provisioning_connection(
        &self,
        actor: Actor,
        connection: Option<ProvisioningConnection>,
    ) -> Result<()>;
    /// Every record, ordered by account id then permission set id.
    async fn list_provisioning_records(&self) -> Result<Vec<ProvisioningRecord>>;
    /// Inserts or replaces the record of (`record.account_id`, `record.permission_set_id`).
    async fn put_provisioning_record(&self, record: ProvisioningRecord) -> Result<()>;
    /// Idempotent.
    async fn delete_provisioning_record(
        &self,
        account: &AccountId,
        permission_set: PermissionSetId,
    ) -> Result<()>;
}

/// The whole directory, as the services above the store see it.
#[async_trait]
pub trait Directory:
    UserStore
    + GroupStore
    + AccountStore
    + PermissionSetStore
    + AssignmentStore
    + ApplicationStore
    + SettingsStore
    + SigningKeyStore
    + AdminTokenStore
    + AuditLog
    + CredentialStore
    + MfaDeviceStore
    + ConsentStore
    + ProvisioningStore
{
    /// Applies pending migrations (idempotent).
    async fn migrate(&self) -> Result<()>;
    /// Cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<()>;
    /// `"postgres"` or `"sqlite"`.
    fn backend(&self) -> &'static str;
}
