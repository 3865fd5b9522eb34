//! The directory conformance suite: every body (in the topic modules declared at the end) runs
//! against both backends (a fresh SQLite file and a fresh PostgreSQL database per test), so both
//! keep the contracts of `lib.rs` the same way. Run with `cargo nextest run -p portcullis-store`
//! (PostgreSQL must be reachable, see `portcullis_store::testing`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::collections::HashSet;
use std::future::Future;

use chrono::{DateTime, TimeDelta, Utc};
use portcullis_domain::{
    AccountAssignment, AccountId, AccountKind, Actor, AdminTokenId, ApplicationAssignment,
    ApplicationKind, AuditEvent, AuditFilter, ClientType, ConsoleUrl, Description, DisplayName,
    Email, GrantType, GroupId, MfaDevice, MfaDeviceKind, MfaPolicy, MfaPrompt, MfaType, NewAccount,
    NewAdminToken, NewApplication, NewAuditEvent, NewGroup, NewMfaDevice, NewPermissionSet,
    NewUser, NoDeviceAction, OidcSettings, Page, PageRequest, PageSize, PermissionSetDuration,
    PermissionSetId, PersonName, Principal, RedirectUri, RefreshTokenLifetime, RoleName, Scope,
    SessionLifetime, Settings, SigningAlgorithm, TokenLifetime, User, UserId, UserName, UserPatch,
};
use portcullis_store::{
    AssignmentFilter, Directory, Entitlement, NewSigningKey, StoreError, events,
};

// ---------------------------------------------------------------------------------------------
// One test per body and backend.
// ---------------------------------------------------------------------------------------------

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        conformance!(@backend sqlite, "sqlite", $($name),*);
        conformance!(@backend postgres, "postgres", $($name),*);
        conformance!(@backend cached_sqlite, "sqlite", $($name),*);
        conformance!(@backend cached_postgres, "postgres", $($name),*);
    };
    (@backend $backend:ident, $backend_name:literal, $($name:ident),*) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (directory, guard) = super::open::$backend().await;
                    super::$name(directory.as_ref()).await;
                    drop(directory);
                    drop(guard);
                }
            )*

            #[tokio::test]
            async fn backend_name() {
                let (directory, guard) = super::open::$backend().await;
                assert_eq!(directory.backend(), $backend_name);
                drop(directory);
                drop(guard);
            }
        }
    };
}

/// One fresh directory per backend, and what must outlive it (a temporary directory, a test
/// database). The `cached_` ones are the same backends behind the per-node read cache; the
/// PostgreSQL one with its change listener.
mod open {
    use portcullis_store::Directory;
    use portcullis_store::testing;

    pub type Opened = (Box<dyn Directory>, Box<dyn std::any::Any>);

    pub async fn sqlite() -> Opened {
        let tmp = tempfile::tempdir().expect("temporary directory");
        (
            Box::new(testing::sqlite_in(tmp.path()).await),
            Box::new(tmp),
        )
    }

    pub async fn postgres() -> Opened {
        let db = testing::fresh_postgres().await;
        (Box::new(testing::postgres(&db).await), Box::new(db))
    }

    pub async fn cached_sqlite() -> Opened {
        let tmp = tempfile::tempdir().expect("temporary directory");
        let directory = testing::cached(testing::sqlite_in(tmp.path()).await);
        (Box::new(directory), Box::new(tmp))
    }

    pub async fn cached_postgres() -> Opened {
        let db = testing::fresh_postgres().await;
        (Box::new(testing::cached_postgres(&db).await), Box::new(db))
    }
}

conformance!(
    migrate_is_idempotent,
    permission_set_policies_round_trip,
    provisioning_connection_and_records,
    user_crud,
    user_uniqueness_is_case_insensitive,
    users_paginate_by_lower_cased_name,
    users_order_is_bytewise_on_lower_cased_name,
    non_ascii_group_names_are_unique_case_insensitively,
    non_ascii_emails_are_unique_case_insensitively,
    non_ascii_application_names_order_lower_cased,
    non_ascii_group_names_order_lower_cased,
    group_crud_and_uniqueness,
    membership,
    membership_unknown_references,
    account_crud,
    aws_accounts_keep_their_settings,
    user_attributes_are_kept_and_replaced,
    permission_set_crud,
    assignments_create_and_references,
    assignments_list_filters_and_pages,
    assignments_delete,
    user_entitlements_direct_and_through_groups,
    deleting_a_user_cascades,
    deleting_a_group_cascades,
    deleting_an_account_cascades,
    deleting_a_permission_set_cascades,
    application_crud,
    saml_applications_are_found_by_entity_id,
    oidc_settings_round_trip,
    client_secret_hashes,
    applications_icons,
    application_assignments,
    deleting_an_application_cascades,
    settings_round_trip,
    signing_keys,
    first_signing_key_is_created_once,
    admin_tokens,
    audit_log_listing,
    audit_batches_land_together_in_order,
    failed_writes_change_nothing,
    concurrent_writes,
    password_absent_set_and_replace,
    password_rehash_keeps_flag_and_time_unaudited,
    password_audit_never_holds_the_hash,
    deleting_a_user_removes_credentials,
    mfa_device_crud,
    mfa_device_limits_per_kind,
    mfa_concurrent_adds_respect_the_limit,
    mfa_find_by_credential_and_duplicates,
    mfa_use_updates_last_used_and_secret,
    totp_steps_are_never_replayed,
    concurrent_totp_use_succeeds_once,
    consents_grant_replace_list_and_revoke,
    consents_need_a_user_and_go_with_user_and_application,
);

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

/// Matches an `Err` against a pattern, printing what came instead.
macro_rules! assert_err {
    ($result:expr, $pattern:pat) => {
        match $result {
            Err($pattern) => {}
            other => panic!("expected Err({}), got {:?}", stringify!($pattern), other),
        }
    };
}

fn admin_id() -> AdminTokenId {
    AdminTokenId::from_uuid(uuid::Uuid::from_u128(
        0x0a0a_0a0a_0000_4000_8000_0000_0000_0001,
    ))
}

/// The actor of every change in these tests.
fn admin() -> Actor {
    Actor::AdminToken(admin_id())
}

fn un(s: &str) -> UserName {
    UserName::parse(s).unwrap()
}
fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}
fn dn(s: &str) -> DisplayName {
    DisplayName::parse(s).unwrap()
}
fn pn(s: &str) -> PersonName {
    PersonName::parse(s).unwrap()
}
fn desc(s: &str) -> Description {
    Description::parse(s).unwrap()
}
fn acct(s: &str) -> AccountId {
    AccountId::parse(s).unwrap()
}
fn role(s: &str) -> RoleName {
    RoleName::parse(s).unwrap()
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        user_name: un(name),
        email: email(&format!("{}@example.com", name.to_ascii_lowercase())),
        display_name: dn(&format!("User {name}")),
        given_name: Some(pn("Given")),
        family_name: Some(pn("Family")),
        enabled: true,
        attributes: Default::default(),
    }
}

fn new_group(name: &str) -> NewGroup {
    NewGroup {
        name: dn(name),
        description: desc(&format!("The {name} group")),
    }
}

fn new_account(id: &str, name: &str) -> NewAccount {
    NewAccount {
        id: acct(id),
        name: dn(name),
        email: email(&format!("aws+{id}@example.com")),
        console_url: Some(ConsoleUrl::parse(format!("https://console.example.com/{id}")).unwrap()),
        kind: AccountKind::Native,
    }
}

fn new_ps(name: &str, hours: u64) -> NewPermissionSet {
    NewPermissionSet {
        name: role(name),
        description: desc(&format!("{name} access")),
        session_duration: PermissionSetDuration::from_seconds(hours * 3600).unwrap(),
        policies: Default::default(),
    }
}

/// The smallest valid OIDC client registration: a confidential client with one redirect URI.
fn oidc_settings() -> OidcSettings {
    OidcSettings {
        redirect_uris: vec![RedirectUri::parse("https://app.example.com/cb").unwrap()],
        ..OidcSettings::default()
    }
}

/// An application; an OIDC one gets [`oidc_settings`].
fn new_app(name: &str, kind: ApplicationKind, enabled: bool) -> NewApplication {
    NewApplication {
        name: dn(name),
        description: desc(&format!("{name} application")),
        kind,
        enabled,
        oidc: (kind == ApplicationKind::Oidc).then(oidc_settings),
        saml: (kind == ApplicationKind::Saml).then(|| saml_settings(name)),
    }
}

/// A SAML service provider registration with one ACS and one mapped attribute.
fn saml_settings(name: &str) -> portcullis_domain::SamlSettings {
    use portcullis_domain::{AssertionConsumerService, AttributeMapping, SamlUrl};
    portcullis_domain::SamlSettings {
        entity_id: format!(
            "https://{}.example/saml",
            name.to_lowercase().replace(' ', "-")
        ),
        acs: vec![AssertionConsumerService {
            url: SamlUrl::parse("https://sp.example/acs").unwrap(),
            index: 0,
            is_default: true,
        }],
        slo_url: None,
        slo_bindings: Vec::new(),
        certificate: None,
        require_signed_requests: false,
        name_id_format: Default::default(),
        attributes: vec![
            AttributeMapping::new("mail".into(), None, "${user:email}".into()).unwrap(),
        ],
        assertion_lifetime: Default::default(),
        signed_part: Default::default(),
        allow_sha1: false,
        default_relay_state: None,
        start_url: None,
    }
}

fn page(size: u32) -> PageRequest {
    PageRequest::first(size).unwrap()
}

fn all() -> PageRequest {
    PageRequest {
        size: PageSize::new(PageSize::MAX).unwrap(),
        after: None,
    }
}

/// A time at the precision both backends store (milliseconds).
fn ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap()
}

fn assert_recent(t: DateTime<Utc>) {
    let skew = (Utc::now() - t).num_seconds().abs();
    assert!(skew < 120, "{t} is not close to now");
}

/// Sleeps long enough for the next stored timestamp (milliseconds) to be later.
async fn tick() {
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
}

/// Reads every page of a listing, checking the paging rules on the way: every page but the last
/// is full and says where the next starts; the last says nothing more follows.
async fn read_pages<T, F, Fut>(size: u32, mut fetch: F) -> Vec<Page<T>>
where
    T: std::fmt::Debug,
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = portcullis_store::Result<Page<T>>>,
{
    let mut pages: Vec<Page<T>> = Vec::new();
    let mut after = None;
    loop {
        assert!(pages.len() < 100, "pagination does not end: {pages:?}");
        let request = PageRequest {
            size: PageSize::new(size).unwrap(),
            after: after.clone(),
        };
        let p = fetch(request).await.unwrap();
        assert!(
            p.items.len() <= size as usize,
            "page larger than asked: {p:?}"
        );
        let next = p.next.clone();
        if next.is_some() {
            assert_eq!(
                p.items.len(),
                size as usize,
                "a page with a next key must be full: {p:?}"
            );
        }
        pages.push(p);
        match next {
            Some(n) => after = Some(n),
            None => return pages,
        }
    }
}

fn flatten<T: Clone>(pages: &[Page<T>]) -> Vec<T> {
    pages.iter().flat_map(|p| p.items.iter().cloned()).collect()
}

/// Every audit event, oldest first.
async fn audit_all(d: &dyn Directory) -> Vec<AuditEvent> {
    let no_filter = AuditFilter::default();
    let pages = read_pages(PageSize::MAX, |p| d.list_audit_events(&no_filter, p)).await;
    let mut events = flatten(&pages);
    events.reverse();
    events
}

/// The id of the newest audit event (0 when there is none).
async fn audit_mark(d: &dyn Directory) -> i64 {
    audit_all(d).await.last().map_or(0, |e| e.id)
}

/// `expected`'s action may list alternative verbs where the contract does not fix one:
/// `signing-key.create|insert`.
fn action_matches(expected: &str, got: &str) -> bool {
    match expected.rsplit_once('.') {
        Some((prefix, verbs)) if verbs.contains('|') => verbs
            .split('|')
            .any(|verb| got == format!("{prefix}.{verb}")),
        _ => expected == got,
    }
}

/// Checks that exactly `expected` (oldest first) were audited after `mark`.
async fn expect_events(
    d: &dyn Directory,
    mark: i64,
    expected: &[NewAuditEvent],
) -> Vec<AuditEvent> {
    let got: Vec<AuditEvent> = audit_all(d)
        .await
        .into_iter()
        .filter(|e| e.id > mark)
        .collect();
    let summary = |events: &[AuditEvent]| {
        events
            .iter()
            .map(|e| format!("{} {} {} {:?}", e.actor, e.action, e.target, e.details))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        got.len(),
        expected.len(),
        "audit events after #{mark}: expected {expected:#?}\ngot {:#?}",
        summary(&got)
    );
    for (g, e) in got.iter().zip(expected) {
        assert!(
            action_matches(&e.action, &g.action)
                && g.target == e.target
                && g.actor == e.actor.to_string()
                && g.details == e.details,
            "audit event: expected {e:?}\ngot {g:?}\nall new events: {:#?}",
            summary(&got)
        );
        assert_recent(g.time);
    }
    for pair in got.windows(2) {
        assert!(
            pair[0].id < pair[1].id && pair[0].time <= pair[1].time,
            "{pair:?}"
        );
    }
    got
}

async fn assignments(d: &dyn Directory, filter: AssignmentFilter) -> Vec<AccountAssignment> {
    let p = d.list_assignments(&filter, all()).await.unwrap();
    assert_eq!(p.next, None);
    p.items
}

fn assignment_key(a: &AccountAssignment) -> String {
    format!(
        "{}/{}/{}/{}",
        a.account_id,
        a.permission_set_id,
        a.principal.principal_type(),
        a.principal.uuid()
    )
}

fn sorted_assignments(mut v: Vec<AccountAssignment>) -> Vec<AccountAssignment> {
    v.sort_by_key(assignment_key);
    v
}

fn aa(account: &AccountId, ps: PermissionSetId, principal: Principal) -> AccountAssignment {
    AccountAssignment {
        account_id: account.clone(),
        permission_set_id: ps,
        principal,
    }
}

fn ent(account: &str, ps: &portcullis_domain::PermissionSet) -> Entitlement {
    Entitlement {
        account_id: acct(account),
        permission_set_id: ps.id,
        role_name: ps.name.clone(),
    }
}

struct World {
    a1: AccountId,
    a2: AccountId,
    p1: PermissionSetId,
    p2: PermissionSetId,
    u: UserId,
    g: GroupId,
}

async fn world(d: &dyn Directory) -> World {
    let a1 = d
        .create_account(admin(), new_account("111111111111", "One"))
        .await
        .unwrap()
        .id;
    let a2 = d
        .create_account(admin(), new_account("222222222222", "Two"))
        .await
        .unwrap()
        .id;
    let p1 = d
        .create_permission_set(admin(), new_ps("Admin", 1))
        .await
        .unwrap()
        .id;
    let p2 = d
        .create_permission_set(admin(), new_ps("ReadOnly", 1))
        .await
        .unwrap()
        .id;
    let u = d.create_user(admin(), new_user("alice")).await.unwrap().id;
    let g = d
        .create_group(admin(), new_group("Developers"))
        .await
        .unwrap()
        .id;
    World {
        a1,
        a2,
        p1,
        p2,
        u,
        g,
    }
}

// ---------------------------------------------------------------------------------------------
// The bodies, by topic. They come after `assert_err!`, which they use; the glob imports put
// every body where `conformance!` expects it (`super::<name>` from `sqlite` and `postgres`).
// ---------------------------------------------------------------------------------------------

mod accounts_permission_sets;
mod applications;
mod assignments;
mod audit;
mod cache;
mod cascades;
mod concurrency;
mod consents;
mod credentials;
mod groups;
mod migrations;
mod provisioning;
mod settings_keys_tokens;
mod users;

use accounts_permission_sets::*;
use applications::*;
use assignments::*;
use audit::*;
use cascades::*;
use concurrency::*;
use consents::*;
use credentials::*;
use groups::*;
use migrations::*;
use provisioning::*;
use settings_keys_tokens::*;
use users::*;
