//! The directory conformance suite: every body below runs against both backends (a fresh SQLite
//! file and a fresh PostgreSQL database per test), so both keep the contracts of `lib.rs` the
//! same way. Run with `cargo nextest run -p portcullis-store` (PostgreSQL must be reachable, see
//! `portcullis_store::testing`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::collections::HashSet;
use std::future::Future;

use chrono::{DateTime, TimeDelta, Utc};
use portcullis_domain::{
    AccountAssignment, AccountId, Actor, AdminTokenId, ApplicationAssignment, ApplicationKind,
    AuditEvent, AuditFilter, ConsoleUrl, Description, DisplayName, Email, GroupId, MfaDevice,
    MfaDeviceKind, MfaPolicy, MfaPrompt, MfaType, NewAccount, NewAdminToken, NewApplication,
    NewAuditEvent, NewGroup, NewMfaDevice, NewPermissionSet, NewUser, NoDeviceAction, Page,
    PageRequest, PageSize, PermissionSetDuration, PermissionSetId, PersonName, Principal, RoleName,
    SessionLifetime, Settings, User, UserId, UserName, UserPatch,
};
use portcullis_store::{
    AssignmentFilter, Directory, Entitlement, NewSigningKey, StoreError, events,
};

// ---------------------------------------------------------------------------------------------
// One test per body and backend.
// ---------------------------------------------------------------------------------------------

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let tmp = tempfile::tempdir().expect("temporary directory");
                    let directory = portcullis_store::testing::sqlite_in(tmp.path()).await;
                    super::$name(&directory).await;
                }
            )*

            #[tokio::test]
            async fn backend_name() {
                let tmp = tempfile::tempdir().expect("temporary directory");
                let directory = portcullis_store::testing::sqlite_in(tmp.path()).await;
                assert_eq!(portcullis_store::Directory::backend(&directory), "sqlite");
            }
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = portcullis_store::testing::fresh_postgres().await;
                    let directory = portcullis_store::testing::postgres(&db).await;
                    super::$name(&directory).await;
                    drop(directory);
                    drop(db);
                }
            )*

            #[tokio::test]
            async fn backend_name() {
                let db = portcullis_store::testing::fresh_postgres().await;
                let directory = portcullis_store::testing::postgres(&db).await;
                assert_eq!(portcullis_store::Directory::backend(&directory), "postgres");
            }
        }
    };
}

conformance!(
    migrate_is_idempotent,
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
    application_assignments,
    deleting_an_application_cascades,
    settings_round_trip,
    signing_keys,
    admin_tokens,
    audit_log_listing,
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
    }
}

fn new_ps(name: &str, hours: u64) -> NewPermissionSet {
    NewPermissionSet {
        name: role(name),
        description: desc(&format!("{name} access")),
        session_duration: PermissionSetDuration::from_seconds(hours * 3600).unwrap(),
    }
}

fn new_app(name: &str, kind: ApplicationKind, enabled: bool) -> NewApplication {
    NewApplication {
        name: dn(name),
        description: desc(&format!("{name} application")),
        kind,
        enabled,
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

// ---------------------------------------------------------------------------------------------
// Migrations.
// ---------------------------------------------------------------------------------------------

async fn migrate_is_idempotent(d: &dyn Directory) {
    let u = d.create_user(admin(), new_user("alice")).await.unwrap();
    d.migrate().await.unwrap();
    d.migrate().await.unwrap();
    d.ping().await.unwrap();
    assert_eq!(d.get_user(u.id).await.unwrap(), u);
    assert_eq!(d.get_settings().await.unwrap(), Settings::default());
}

// ---------------------------------------------------------------------------------------------
// Users.
// ---------------------------------------------------------------------------------------------

async fn user_crud(d: &dyn Directory) {
    let mark = audit_mark(d).await;
    let new = NewUser {
        user_name: un("Alice.Smith"),
        email: email("Alice.Smith@Example.com"),
        display_name: dn("Alice Smith"),
        given_name: Some(pn("Alice")),
        family_name: Some(pn("Smith")),
        enabled: true,
    };
    let u = d.create_user(admin(), new.clone()).await.unwrap();
    assert_eq!(
        (
            &u.user_name,
            &u.email,
            &u.display_name,
            &u.given_name,
            &u.family_name,
            u.enabled
        ),
        (
            &new.user_name,
            &new.email,
            &new.display_name,
            &new.given_name,
            &new.family_name,
            true
        )
    );
    assert_recent(u.created_at);
    assert!(u.updated_at >= u.created_at);
    assert_eq!(d.get_user(u.id).await.unwrap(), u);

    // Case-insensitive, exact (no pattern matching: `_` is not a wildcard).
    assert_eq!(
        d.find_user_by_name(&un("Alice.Smith")).await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        d.find_user_by_name(&un("alice.smith")).await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        d.find_user_by_name(&un("ALICE.SMITH")).await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(d.find_user_by_name(&un("alice_smith")).await.unwrap(), None);
    assert_eq!(d.find_user_by_name(&un("alice")).await.unwrap(), None);

    // Patch: change one field, clear an optional one, disable; the rest stays.
    tick().await;
    let patch = UserPatch {
        display_name: Some(dn("Alice S.")),
        given_name: Some(None),
        enabled: Some(false),
        ..UserPatch::default()
    };
    let updated = d.update_user(admin(), u.id, patch.clone()).await.unwrap();
    assert_eq!(
        updated,
        User {
            updated_at: updated.updated_at,
            ..patch.apply(&u)
        }
    );
    assert_eq!(updated.given_name, None);
    assert_eq!(updated.family_name, Some(pn("Smith")));
    assert!(!updated.enabled);
    assert_eq!(updated.created_at, u.created_at);
    assert!(updated.updated_at > u.updated_at, "updated_at must move on");
    assert_eq!(d.get_user(u.id).await.unwrap(), updated);

    // Rename, re-address, set the given name again, clear the family name, enable.
    let patch2 = UserPatch {
        user_name: Some(un("asmith")),
        email: Some(email("asmith@example.com")),
        given_name: Some(Some(pn("Alicia"))),
        family_name: Some(None),
        enabled: Some(true),
        ..UserPatch::default()
    };
    let updated2 = d.update_user(admin(), u.id, patch2.clone()).await.unwrap();
    assert_eq!(
        updated2,
        User {
            updated_at: updated2.updated_at,
            ..patch2.apply(&updated)
        }
    );
    assert_eq!(updated2.display_name, dn("Alice S."));
    assert_eq!(d.get_user(u.id).await.unwrap(), updated2);
    assert_eq!(d.find_user_by_name(&un("alice.smith")).await.unwrap(), None);
    assert_eq!(
        d.find_user_by_name(&un("ASmith")).await.unwrap(),
        Some(updated2.clone())
    );
    assert_eq!(
        d.list_users(all()).await.unwrap().items,
        vec![updated2.clone()]
    );

    // Unknown users.
    let nobody = UserId::new();
    assert_err!(d.get_user(nobody).await, StoreError::NotFound("user"));
    assert_err!(
        d.update_user(admin(), nobody, patch).await,
        StoreError::NotFound("user")
    );
    assert_err!(
        d.delete_user(admin(), nobody).await,
        StoreError::NotFound("user")
    );

    d.delete_user(admin(), u.id).await.unwrap();
    assert_err!(d.get_user(u.id).await, StoreError::NotFound("user"));
    assert_eq!(d.find_user_by_name(&un("asmith")).await.unwrap(), None);
    assert_err!(
        d.delete_user(admin(), u.id).await,
        StoreError::NotFound("user")
    );
    assert_eq!(
        d.list_users(all()).await.unwrap(),
        Page {
            items: vec![],
            next: None
        }
    );

    expect_events(
        d,
        mark,
        &[
            events::user(admin(), "create", u.id),
            events::user(admin(), "update", u.id),
            events::user(admin(), "update", u.id),
            events::user(admin(), "delete", u.id),
        ],
    )
    .await;
}

async fn user_uniqueness_is_case_insensitive(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    let mark = audit_mark(d).await;

    let mut same_name = new_user("ALICE");
    same_name.email = email("other@example.com");
    assert_err!(
        d.create_user(admin(), same_name).await,
        StoreError::Conflict {
            field: "userName",
            ..
        }
    );
    let mut same_email = new_user("carol");
    same_email.email = email("ALICE@EXAMPLE.COM");
    assert_err!(
        d.create_user(admin(), same_email).await,
        StoreError::Conflict { field: "email", .. }
    );

    // Also on update, and the user is left as it was.
    let rename = UserPatch {
        user_name: Some(un("Alice")),
        ..UserPatch::default()
    };
    assert_err!(
        d.update_user(admin(), bob.id, rename).await,
        StoreError::Conflict {
            field: "userName",
            ..
        }
    );
    let readdress = UserPatch {
        email: Some(email("Alice@Example.Com")),
        display_name: Some(dn("Not Bob")),
        ..UserPatch::default()
    };
    assert_err!(
        d.update_user(admin(), bob.id, readdress).await,
        StoreError::Conflict { field: "email", .. }
    );
    assert_eq!(d.get_user(bob.id).await.unwrap(), bob);
    assert_eq!(d.get_user(alice.id).await.unwrap(), alice);
    assert_eq!(
        d.list_users(all()).await.unwrap().items,
        vec![alice.clone(), bob.clone()]
    );
    expect_events(d, mark, &[]).await;

    // A user may change the case of their own name and email: no conflict with themselves.
    let recase = UserPatch {
        user_name: Some(un("ALICE")),
        email: Some(email("ALICE@example.com")),
        ..UserPatch::default()
    };
    let recased = d.update_user(admin(), alice.id, recase).await.unwrap();
    assert_eq!(recased.user_name, un("ALICE"));
    assert_eq!(recased.email, email("ALICE@example.com"));
    assert_eq!(d.get_user(alice.id).await.unwrap(), recased);
    assert_eq!(
        d.find_user_by_name(&un("alice")).await.unwrap(),
        Some(recased)
    );

    // Once a name is freed it can be taken again.
    d.delete_user(admin(), bob.id).await.unwrap();
    let bob2 = d.create_user(admin(), new_user("BOB")).await.unwrap();
    assert_ne!(bob2.id, bob.id);
    expect_events(
        d,
        mark,
        &[
            events::user(admin(), "update", alice.id),
            events::user(admin(), "delete", bob.id),
            events::user(admin(), "create", bob2.id),
        ],
    )
    .await;
}

async fn users_paginate_by_lower_cased_name(d: &dyn Directory) {
    let mut created = Vec::new();
    for name in ["delta", "Alpha", "charlie", "Echo", "bravo", "foxtrot"] {
        created.push(d.create_user(admin(), new_user(name)).await.unwrap());
    }
    let pages = read_pages(2, |p| d.list_users(p)).await;
    assert_eq!(pages.len(), 3, "{pages:?}");
    let names: Vec<Vec<&str>> = pages
        .iter()
        .map(|p| p.items.iter().map(|u| u.user_name.as_str()).collect())
        .collect();
    assert_eq!(
        names,
        vec![
            vec!["Alpha", "bravo"],
            vec!["charlie", "delta"],
            vec!["Echo", "foxtrot"]
        ]
    );
    assert!(pages[0].next.is_some() && pages[1].next.is_some());
    assert_eq!(pages[2].next, None);

    // No duplicates, no gaps, and the listed values are the stored ones.
    let listed = flatten(&pages);
    let ids: HashSet<UserId> = listed.iter().map(|u| u.id).collect();
    assert_eq!(ids.len(), 6);
    for u in &created {
        assert!(listed.contains(u), "{u:?} missing from the listing");
    }

    // A page exactly as large as what is left says nothing more follows.
    let exact = d.list_users(page(6)).await.unwrap();
    assert_eq!((exact.items.len(), exact.next), (6, None));
    let five = d.list_users(page(5)).await.unwrap();
    assert_eq!(five.items.len(), 5);
    let rest = d
        .list_users(PageRequest {
            size: PageSize::new(5).unwrap(),
            after: five.next.clone(),
        })
        .await
        .unwrap();
    assert!(five.next.is_some());
    assert_eq!(
        rest.items
            .iter()
            .map(|u| u.user_name.as_str())
            .collect::<Vec<_>>(),
        ["foxtrot"]
    );
    assert_eq!(rest.next, None);
}

async fn users_order_is_bytewise_on_lower_cased_name(d: &dyn Directory) {
    for name in ["b", "a_b", "A.b", "a-b", "a0", "AB", "a"] {
        d.create_user(admin(), new_user(name)).await.unwrap();
    }
    let expected = ["a", "a-b", "A.b", "a0", "a_b", "AB", "b"];
    let listed = d.list_users(all()).await.unwrap().items;
    assert_eq!(
        listed
            .iter()
            .map(|u| u.user_name.as_str())
            .collect::<Vec<_>>(),
        expected
    );
    let paged = flatten(&read_pages(3, |p| d.list_users(p)).await);
    assert_eq!(paged, listed);
}

/// Group names may be non-ASCII; "case-insensitively" covers their letters too.
async fn non_ascii_group_names_are_unique_case_insensitively(d: &dyn Directory) {
    let equipe = d.create_group(admin(), new_group("Équipe")).await.unwrap();
    assert_err!(
        d.create_group(admin(), new_group("équipe")).await,
        StoreError::Conflict { field: "name", .. }
    );
    assert_eq!(d.list_groups(all()).await.unwrap().items, vec![equipe]);
}

/// Emails may be non-ASCII; "case-insensitively" covers their letters too.
async fn non_ascii_emails_are_unique_case_insensitively(d: &dyn Directory) {
    let mut jose = new_user("jose");
    jose.email = email("José@example.com");
    d.create_user(admin(), jose).await.unwrap();
    let mut other = new_user("jose2");
    other.email = email("JOSÉ@EXAMPLE.COM");
    assert_err!(
        d.create_user(admin(), other).await,
        StoreError::Conflict { field: "email", .. }
    );
}

/// Listing order is the lower-cased name, also for non-ASCII letters.
async fn non_ascii_application_names_order_lower_cased(d: &dyn Directory) {
    let eb = d
        .create_application(admin(), new_app("Éb", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    let ea = d
        .create_application(admin(), new_app("éa", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    let z = d
        .create_application(admin(), new_app("Zeta", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    // "zeta" < "éa" < "éb" bytewise once lower-cased.
    let expected = vec![z, ea, eb];
    assert_eq!(d.list_applications(all()).await.unwrap().items, expected);
    assert_eq!(
        flatten(&read_pages(1, |p| d.list_applications(p)).await),
        expected
    );
}

/// Listing order is the lower-cased name, also for non-ASCII letters.
async fn non_ascii_group_names_order_lower_cased(d: &dyn Directory) {
    let eb = d.create_group(admin(), new_group("Éb")).await.unwrap();
    let ea = d.create_group(admin(), new_group("éa")).await.unwrap();
    let z = d.create_group(admin(), new_group("Zeta")).await.unwrap();
    // "zeta" < "éa" < "éb" bytewise once lower-cased.
    assert_eq!(
        d.list_groups(all()).await.unwrap().items,
        vec![z.clone(), ea.clone(), eb.clone()]
    );
    assert_eq!(
        flatten(&read_pages(1, |p| d.list_groups(p)).await),
        vec![z, ea, eb]
    );
}

// ---------------------------------------------------------------------------------------------
// Groups and membership.
// ---------------------------------------------------------------------------------------------

async fn group_crud_and_uniqueness(d: &dyn Directory) {
    let mark = audit_mark(d).await;
    let eng = d
        .create_group(admin(), new_group("Engineering"))
        .await
        .unwrap();
    assert_eq!(
        (&eng.name, &eng.description),
        (&dn("Engineering"), &desc("The Engineering group"))
    );
    assert_recent(eng.created_at);
    assert_eq!(d.get_group(eng.id).await.unwrap(), eng);
    let admins = d
        .create_group(
            admin(),
            NewGroup {
                name: dn("admins"),
                description: desc(""),
            },
        )
        .await
        .unwrap();
    assert_eq!(admins.description, desc(""));
    assert_eq!(d.get_group(admins.id).await.unwrap(), admins);
    let beta = d.create_group(admin(), new_group("Beta")).await.unwrap();

    assert_err!(
        d.create_group(admin(), new_group("ENGINEERING")).await,
        StoreError::Conflict { field: "name", .. }
    );
    assert_err!(
        d.update_group(admin(), beta.id, new_group("engineering"))
            .await,
        StoreError::Conflict { field: "name", .. }
    );
    assert_eq!(d.get_group(beta.id).await.unwrap(), beta);

    // Renaming to another case of its own name, with a multi-line description.
    tick().await;
    let replacement = NewGroup {
        name: dn("Admins"),
        description: desc("People who administer\nthe directory"),
    };
    let admins2 = d
        .update_group(admin(), admins.id, replacement.clone())
        .await
        .unwrap();
    assert_eq!(
        (&admins2.name, &admins2.description),
        (&replacement.name, &replacement.description)
    );
    assert_eq!(
        (admins2.id, admins2.created_at),
        (admins.id, admins.created_at)
    );
    assert!(admins2.updated_at > admins.updated_at);
    assert_eq!(d.get_group(admins.id).await.unwrap(), admins2);

    let pages = read_pages(2, |p| d.list_groups(p)).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].items, vec![admins2.clone(), beta.clone()]);
    assert_eq!(pages[1].items, vec![eng.clone()]);
    assert_eq!(pages[1].next, None);

    let nobody = GroupId::new();
    assert_err!(d.get_group(nobody).await, StoreError::NotFound("group"));
    assert_err!(
        d.update_group(admin(), nobody, new_group("Ghosts")).await,
        StoreError::NotFound("group")
    );
    assert_err!(
        d.delete_group(admin(), nobody).await,
        StoreError::NotFound("group")
    );

    d.delete_group(admin(), beta.id).await.unwrap();
    assert_err!(d.get_group(beta.id).await, StoreError::NotFound("group"));
    assert_err!(
        d.delete_group(admin(), beta.id).await,
        StoreError::NotFound("group")
    );
    assert_eq!(
        d.list_groups(all()).await.unwrap().items,
        vec![admins2.clone(), eng.clone()]
    );
    // The name is free again.
    let beta2 = d.create_group(admin(), new_group("BETA")).await.unwrap();

    expect_events(
        d,
        mark,
        &[
            events::group(admin(), "create", eng.id),
            events::group(admin(), "create", admins.id),
            events::group(admin(), "create", beta.id),
            events::group(admin(), "update", admins.id),
            events::group(admin(), "delete", beta.id),
            events::group(admin(), "create", beta2.id),
        ],
    )
    .await;
}

async fn membership(d: &dyn Directory) {
    let zed = d.create_user(admin(), new_user("zed")).await.unwrap();
    let amy = d.create_user(admin(), new_user("Amy")).await.unwrap();
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    let outsider = d.create_user(admin(), new_user("outsider")).await.unwrap();
    let devs = d
        .create_group(admin(), new_group("Developers"))
        .await
        .unwrap();
    let admins = d.create_group(admin(), new_group("Admins")).await.unwrap();
    let mark = audit_mark(d).await;

    // Idempotent add.
    d.add_member(admin(), devs.id, zed.id).await.unwrap();
    d.add_member(admin(), devs.id, zed.id).await.unwrap();
    assert_eq!(
        d.list_members(devs.id, all()).await.unwrap().items,
        vec![zed.clone()]
    );

    d.add_member(admin(), devs.id, amy.id).await.unwrap();
    d.add_member(admin(), devs.id, bob.id).await.unwrap();
    d.add_member(admin(), admins.id, zed.id).await.unwrap();

    // Members by lower-cased user name, paginated.
    let pages = read_pages(2, |p| d.list_members(devs.id, p)).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].items, vec![amy.clone(), bob.clone()]);
    assert_eq!(pages[1].items, vec![zed.clone()]);
    assert_eq!(pages[1].next, None);
    assert_eq!(
        d.list_members(admins.id, all()).await.unwrap().items,
        vec![zed.clone()]
    );

    // A user's groups, by name.
    assert_eq!(
        d.list_user_groups(zed.id).await.unwrap(),
        vec![admins.clone(), devs.clone()]
    );
    assert_eq!(
        d.list_user_groups(amy.id).await.unwrap(),
        vec![devs.clone()]
    );
    assert_eq!(d.list_user_groups(outsider.id).await.unwrap(), vec![]);

    // Remove, then removing again is NotFound("membership").
    d.remove_member(admin(), devs.id, zed.id).await.unwrap();
    assert_err!(
        d.remove_member(admin(), devs.id, zed.id).await,
        StoreError::NotFound("membership")
    );
    assert_err!(
        d.remove_member(admin(), admins.id, outsider.id).await,
        StoreError::NotFound("membership")
    );
    assert_eq!(
        d.list_members(devs.id, all()).await.unwrap().items,
        vec![amy.clone(), bob.clone()]
    );
    assert_eq!(
        d.list_user_groups(zed.id).await.unwrap(),
        vec![admins.clone()]
    );
    // The users and groups themselves are untouched.
    assert_eq!(d.get_user(zed.id).await.unwrap(), zed);
    assert_eq!(d.get_group(devs.id).await.unwrap(), devs);

    expect_events(
        d,
        mark,
        &[
            events::membership(admin(), "add", devs.id, zed.id),
            events::membership(admin(), "add", devs.id, zed.id),
            events::membership(admin(), "add", devs.id, amy.id),
            events::membership(admin(), "add", devs.id, bob.id),
            events::membership(admin(), "add", admins.id, zed.id),
            events::membership(admin(), "remove", devs.id, zed.id),
        ],
    )
    .await;
}

async fn membership_unknown_references(d: &dyn Directory) {
    let u = d.create_user(admin(), new_user("alice")).await.unwrap();
    let g = d
        .create_group(admin(), new_group("Developers"))
        .await
        .unwrap();
    let mark = audit_mark(d).await;
    assert_err!(
        d.add_member(admin(), g.id, UserId::new()).await,
        StoreError::InvalidReference {
            field: "userId",
            ..
        }
    );
    assert_err!(
        d.add_member(admin(), GroupId::new(), u.id).await,
        StoreError::NotFound("group")
    );
    assert_err!(
        d.remove_member(admin(), GroupId::new(), u.id).await,
        StoreError::NotFound("group" | "membership")
    );
    assert_eq!(d.list_members(g.id, all()).await.unwrap().items, vec![]);
    assert_eq!(d.list_user_groups(u.id).await.unwrap(), vec![]);
    expect_events(d, mark, &[]).await;
}

// ---------------------------------------------------------------------------------------------
// Accounts and permission sets.
// ---------------------------------------------------------------------------------------------

async fn account_crud(d: &dyn Directory) {
    let mark = audit_mark(d).await;
    let new = new_account("300000000000", "Production");
    let prod = d.create_account(admin(), new.clone()).await.unwrap();
    assert_eq!(
        (&prod.id, &prod.name, &prod.email, &prod.console_url),
        (&new.id, &new.name, &new.email, &new.console_url)
    );
    assert_recent(prod.created_at);
    assert_eq!(d.get_account(&prod.id).await.unwrap(), prod);

    let mut dup = new_account("300000000000", "Another");
    dup.email = email("another@example.com");
    assert_err!(
        d.create_account(admin(), dup).await,
        StoreError::Conflict {
            field: "accountId",
            ..
        }
    );
    assert_eq!(d.get_account(&prod.id).await.unwrap(), prod);

    let dev = d
        .create_account(admin(), new_account("100000000000", "Development"))
        .await
        .unwrap();
    let mut no_console = new_account("200000000000", "Staging");
    no_console.console_url = None;
    let staging = d.create_account(admin(), no_console).await.unwrap();
    assert_eq!(staging.console_url, None);
    assert_eq!(d.get_account(&staging.id).await.unwrap(), staging);

    // Update replaces name, email and console URL (here: clears it).
    tick().await;
    let replacement = NewAccount {
        id: prod.id.clone(),
        name: dn("Production (EU)"),
        email: email("prod-eu@example.com"),
        console_url: None,
    };
    let prod2 = d
        .update_account(admin(), replacement.clone())
        .await
        .unwrap();
    assert_eq!(
        (&prod2.id, &prod2.name, &prod2.email, &prod2.console_url),
        (
            &replacement.id,
            &replacement.name,
            &replacement.email,
            &None
        )
    );
    assert_eq!(prod2.created_at, prod.created_at);
    assert!(prod2.updated_at > prod.updated_at);
    assert_eq!(d.get_account(&prod.id).await.unwrap(), prod2);
    let with_console = new_account("200000000000", "Staging");
    let staging2 = d
        .update_account(admin(), with_console.clone())
        .await
        .unwrap();
    assert_eq!(staging2.console_url, with_console.console_url);
    assert_eq!(d.get_account(&staging.id).await.unwrap(), staging2);

    // By account id, paginated.
    let pages = read_pages(2, |p| d.list_accounts(p)).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(
        flatten(&pages),
        vec![dev.clone(), staging2.clone(), prod2.clone()]
    );

    let nothing = acct("999999999999");
    assert_err!(
        d.get_account(&nothing).await,
        StoreError::NotFound("account")
    );
    assert_err!(
        d.update_account(admin(), new_account("999999999999", "Ghost"))
            .await,
        StoreError::NotFound("account")
    );
    assert_err!(
        d.delete_account(admin(), &nothing).await,
        StoreError::NotFound("account")
    );

    d.delete_account(admin(), &dev.id).await.unwrap();
    assert_err!(
        d.get_account(&dev.id).await,
        StoreError::NotFound("account")
    );
    assert_err!(
        d.delete_account(admin(), &dev.id).await,
        StoreError::NotFound("account")
    );
    assert_eq!(
        d.list_accounts(all()).await.unwrap().items,
        vec![staging2, prod2]
    );

    expect_events(
        d,
        mark,
        &[
            events::account(admin(), "create", &prod.id),
            events::account(admin(), "create", &dev.id),
            events::account(admin(), "create", &staging.id),
            events::account(admin(), "update", &prod.id),
            events::account(admin(), "update", &staging.id),
            events::account(admin(), "delete", &dev.id),
        ],
    )
    .await;
}

async fn permission_set_crud(d: &dyn Directory) {
    let mark = audit_mark(d).await;
    let new = new_ps("ReadOnly", 2);
    let ro = d.create_permission_set(admin(), new.clone()).await.unwrap();
    assert_eq!(
        (&ro.name, &ro.description, ro.session_duration.seconds()),
        (&new.name, &new.description, 7200)
    );
    assert_recent(ro.created_at);
    assert_eq!(d.get_permission_set(ro.id).await.unwrap(), ro);

    assert_err!(
        d.create_permission_set(admin(), new_ps("ReadOnly", 1))
            .await,
        StoreError::Conflict { field: "name", .. }
    );
    // Names are case-sensitive.
    let ro_lower = d
        .create_permission_set(admin(), new_ps("readonly", 1))
        .await
        .unwrap();
    let adm = d
        .create_permission_set(admin(), new_ps("Admin", 12))
        .await
        .unwrap();
    assert_eq!(adm.session_duration.seconds(), 43_200);
    assert_err!(
        d.update_permission_set(admin(), adm.id, new_ps("readonly", 1))
            .await,
        StoreError::Conflict { field: "name", .. }
    );
    assert_eq!(d.get_permission_set(adm.id).await.unwrap(), adm);

    tick().await;
    let replacement = NewPermissionSet {
        name: role("Administrator"),
        description: desc(""),
        session_duration: PermissionSetDuration::parse_iso8601("PT90M").unwrap(),
    };
    let adm2 = d
        .update_permission_set(admin(), adm.id, replacement.clone())
        .await
        .unwrap();
    assert_eq!(
        (&adm2.name, &adm2.description, adm2.session_duration),
        (
            &replacement.name,
            &replacement.description,
            replacement.session_duration
        )
    );
    assert_eq!(adm2.session_duration.to_iso8601(), "PT1H30M");
    assert_eq!((adm2.id, adm2.created_at), (adm.id, adm.created_at));
    assert!(adm2.updated_at > adm.updated_at);
    assert_eq!(d.get_permission_set(adm.id).await.unwrap(), adm2);

    // By name (case-sensitive, byte order: upper case first).
    let pages = read_pages(2, |p| d.list_permission_sets(p)).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(
        flatten(&pages),
        vec![adm2.clone(), ro.clone(), ro_lower.clone()]
    );

    let nothing = PermissionSetId::new();
    assert_err!(
        d.get_permission_set(nothing).await,
        StoreError::NotFound("permission set")
    );
    assert_err!(
        d.update_permission_set(admin(), nothing, new_ps("Ghost", 1))
            .await,
        StoreError::NotFound("permission set")
    );
    assert_err!(
        d.delete_permission_set(admin(), nothing).await,
        StoreError::NotFound("permission set")
    );
    d.delete_permission_set(admin(), ro.id).await.unwrap();
    assert_err!(
        d.get_permission_set(ro.id).await,
        StoreError::NotFound("permission set")
    );
    assert_err!(
        d.delete_permission_set(admin(), ro.id).await,
        StoreError::NotFound("permission set")
    );
    assert_eq!(
        d.list_permission_sets(all()).await.unwrap().items,
        vec![adm2, ro_lower.clone()]
    );

    expect_events(
        d,
        mark,
        &[
            events::permission_set(admin(), "create", ro.id),
            events::permission_set(admin(), "create", ro_lower.id),
            events::permission_set(admin(), "create", adm.id),
            events::permission_set(admin(), "update", adm.id),
            events::permission_set(admin(), "delete", ro.id),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Assignments.
// ---------------------------------------------------------------------------------------------

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

async fn assignments_create_and_references(d: &dyn Directory) {
    let w = world(d).await;
    let mark = audit_mark(d).await;
    let first = aa(&w.a1, w.p1, Principal::User(w.u));
    d.create_assignment(admin(), first.clone()).await.unwrap();
    assert_err!(
        d.create_assignment(admin(), first.clone()).await,
        StoreError::Conflict {
            field: "assignment",
            ..
        }
    );
    // The same pair for a group is another assignment.
    let for_group = aa(&w.a1, w.p1, Principal::Group(w.g));
    d.create_assignment(admin(), for_group.clone())
        .await
        .unwrap();

    assert_err!(
        d.create_assignment(
            admin(),
            aa(&acct("999999999999"), w.p1, Principal::User(w.u))
        )
        .await,
        StoreError::InvalidReference {
            field: "accountId",
            ..
        }
    );
    assert_err!(
        d.create_assignment(
            admin(),
            aa(&w.a1, PermissionSetId::new(), Principal::User(w.u))
        )
        .await,
        StoreError::InvalidReference {
            field: "permissionSetId",
            ..
        }
    );
    assert_err!(
        d.create_assignment(admin(), aa(&w.a1, w.p2, Principal::User(UserId::new())))
            .await,
        StoreError::InvalidReference {
            field: "principalId",
            ..
        }
    );
    assert_err!(
        d.create_assignment(admin(), aa(&w.a1, w.p2, Principal::Group(GroupId::new())))
            .await,
        StoreError::InvalidReference {
            field: "principalId",
            ..
        }
    );
    // A user's id is not a group's.
    assert_err!(
        d.create_assignment(
            admin(),
            aa(
                &w.a1,
                w.p2,
                Principal::Group(GroupId::from_uuid(w.u.as_uuid()))
            )
        )
        .await,
        StoreError::InvalidReference {
            field: "principalId",
            ..
        }
    );

    assert_eq!(
        assignments(d, AssignmentFilter::default()).await,
        sorted_assignments(vec![first.clone(), for_group.clone()])
    );
    expect_events(
        d,
        mark,
        &[
            events::assignment(admin(), "create", &first),
            events::assignment(admin(), "create", &for_group),
        ],
    )
    .await;
}

async fn assignments_list_filters_and_pages(d: &dyn Directory) {
    let w = world(d).await;
    let u2 = d.create_user(admin(), new_user("bob")).await.unwrap().id;
    let all_of_them = vec![
        aa(&w.a2, w.p2, Principal::User(w.u)),
        aa(&w.a1, w.p1, Principal::User(w.u)),
        aa(&w.a1, w.p1, Principal::Group(w.g)),
        aa(&w.a1, w.p1, Principal::User(u2)),
        aa(&w.a1, w.p2, Principal::User(w.u)),
        aa(&w.a2, w.p1, Principal::Group(w.g)),
    ];
    for a in &all_of_them {
        d.create_assignment(admin(), a.clone()).await.unwrap();
    }
    let expected = sorted_assignments(all_of_them.clone());
    assert_eq!(assignments(d, AssignmentFilter::default()).await, expected);

    let matching = |f: &dyn Fn(&AccountAssignment) -> bool| -> Vec<AccountAssignment> {
        expected.iter().filter(|a| f(a)).cloned().collect()
    };
    let by_account = AssignmentFilter {
        account_id: Some(w.a1.clone()),
        ..AssignmentFilter::default()
    };
    assert_eq!(
        assignments(d, by_account.clone()).await,
        matching(&|a| a.account_id == w.a1)
    );
    let by_ps = AssignmentFilter {
        permission_set_id: Some(w.p2),
        ..AssignmentFilter::default()
    };
    assert_eq!(
        assignments(d, by_ps).await,
        matching(&|a| a.permission_set_id == w.p2)
    );
    let by_user = AssignmentFilter {
        principal: Some(Principal::User(w.u)),
        ..AssignmentFilter::default()
    };
    assert_eq!(
        assignments(d, by_user).await,
        matching(&|a| a.principal == Principal::User(w.u))
    );
    let by_group = AssignmentFilter {
        principal: Some(Principal::Group(w.g)),
        ..AssignmentFilter::default()
    };
    assert_eq!(
        assignments(d, by_group).await,
        matching(&|a| a.principal == Principal::Group(w.g))
    );
    let combined = AssignmentFilter {
        account_id: Some(w.a1.clone()),
        permission_set_id: Some(w.p1),
        principal: Some(Principal::User(u2)),
    };
    assert_eq!(
        assignments(d, combined).await,
        vec![aa(&w.a1, w.p1, Principal::User(u2))]
    );
    let none = AssignmentFilter {
        account_id: Some(w.a2.clone()),
        principal: Some(Principal::User(u2)),
        ..AssignmentFilter::default()
    };
    assert_eq!(assignments(d, none).await, vec![]);

    // Pages of 2 over 6, with the documented key.
    let no_filter = AssignmentFilter::default();
    let pages = read_pages(2, |p| d.list_assignments(&no_filter, p)).await;
    assert_eq!(pages.len(), 3);
    assert_eq!(flatten(&pages), expected);
    for p in &pages[..2] {
        assert_eq!(
            p.next.as_deref(),
            p.items.last().map(assignment_key).as_deref()
        );
    }
    // Pagination within a filter.
    let pages = read_pages(2, |p| d.list_assignments(&by_account, p)).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(flatten(&pages), matching(&|a| a.account_id == w.a1));
}

async fn assignments_delete(d: &dyn Directory) {
    let w = world(d).await;
    let keep = aa(&w.a1, w.p1, Principal::Group(w.g));
    let gone = aa(&w.a1, w.p1, Principal::User(w.u));
    d.create_assignment(admin(), keep.clone()).await.unwrap();
    d.create_assignment(admin(), gone.clone()).await.unwrap();
    let mark = audit_mark(d).await;
    d.delete_assignment(admin(), &gone).await.unwrap();
    assert_eq!(
        assignments(d, AssignmentFilter::default()).await,
        vec![keep.clone()]
    );
    assert_err!(
        d.delete_assignment(admin(), &gone).await,
        StoreError::NotFound("assignment")
    );
    assert_err!(
        d.delete_assignment(admin(), &aa(&w.a2, w.p2, Principal::User(w.u)))
            .await,
        StoreError::NotFound("assignment")
    );
    // The referenced things stay.
    d.get_user(w.u).await.unwrap();
    d.get_account(&w.a1).await.unwrap();
    d.get_permission_set(w.p1).await.unwrap();
    // It can be created again.
    d.create_assignment(admin(), gone.clone()).await.unwrap();
    expect_events(
        d,
        mark,
        &[
            events::assignment(admin(), "delete", &gone),
            events::assignment(admin(), "create", &gone),
        ],
    )
    .await;
}

async fn user_entitlements_direct_and_through_groups(d: &dyn Directory) {
    let a1 = acct("111111111111");
    let a2 = acct("222222222222");
    let a3 = acct("333333333333");
    for a in [&a3, &a1, &a2] {
        d.create_account(admin(), new_account(a.as_str(), "Account"))
            .await
            .unwrap();
    }
    let read_only = d
        .create_permission_set(admin(), new_ps("ReadOnly", 1))
        .await
        .unwrap();
    let adm = d
        .create_permission_set(admin(), new_ps("Admin", 1))
        .await
        .unwrap();
    let billing = d
        .create_permission_set(admin(), new_ps("Billing", 1))
        .await
        .unwrap();
    let u = d.create_user(admin(), new_user("alice")).await.unwrap().id;
    let other = d.create_user(admin(), new_user("bob")).await.unwrap().id;
    let g1 = d.create_group(admin(), new_group("One")).await.unwrap().id;
    let g2 = d.create_group(admin(), new_group("Two")).await.unwrap().id;
    let g3 = d
        .create_group(admin(), new_group("Three"))
        .await
        .unwrap()
        .id;
    d.add_member(admin(), g1, u).await.unwrap();
    d.add_member(admin(), g2, u).await.unwrap();
    d.add_member(admin(), g3, other).await.unwrap();

    for a in [
        // Direct.
        aa(&a2, read_only.id, Principal::User(u)),
        aa(&a1, adm.id, Principal::User(u)),
        // Both groups hold (a1, ReadOnly); g2 also holds (a1, Admin) which u has directly.
        aa(&a1, read_only.id, Principal::Group(g1)),
        aa(&a1, read_only.id, Principal::Group(g2)),
        aa(&a1, adm.id, Principal::Group(g2)),
        // Only through g1.
        aa(&a2, adm.id, Principal::Group(g1)),
        // Not u's: a group u is not in, another user.
        aa(&a3, billing.id, Principal::Group(g3)),
        aa(&a2, billing.id, Principal::User(other)),
    ] {
        d.create_assignment(admin(), a).await.unwrap();
    }

    let expected = vec![
        ent("111111111111", &adm),
        ent("111111111111", &read_only),
        ent("222222222222", &adm),
        ent("222222222222", &read_only),
    ];
    assert_eq!(d.user_entitlements(u).await.unwrap(), expected);
    assert_eq!(
        d.user_entitlements(other).await.unwrap(),
        vec![ent("222222222222", &billing), ent("333333333333", &billing)]
    );

    // Leaving g1 loses what only g1 gave; (a1, ReadOnly) stays through g2.
    d.remove_member(admin(), g1, u).await.unwrap();
    assert_eq!(
        d.user_entitlements(u).await.unwrap(),
        vec![
            ent("111111111111", &adm),
            ent("111111111111", &read_only),
            ent("222222222222", &read_only),
        ]
    );
    d.remove_member(admin(), g2, u).await.unwrap();
    assert_eq!(
        d.user_entitlements(u).await.unwrap(),
        vec![ent("111111111111", &adm), ent("222222222222", &read_only)]
    );

    // A user with nothing.
    let nobody = d.create_user(admin(), new_user("carol")).await.unwrap().id;
    assert_eq!(d.user_entitlements(nobody).await.unwrap(), vec![]);
}

// ---------------------------------------------------------------------------------------------
// Cascades: one delete removes memberships and assignments, and audits once.
// ---------------------------------------------------------------------------------------------

async fn deleting_a_user_cascades(d: &dyn Directory) {
    let w = world(d).await;
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    let app = d
        .create_application(admin(), new_app("Wiki", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    d.add_member(admin(), w.g, w.u).await.unwrap();
    d.add_member(admin(), w.g, bob.id).await.unwrap();
    let keep = vec![
        aa(&w.a1, w.p1, Principal::User(bob.id)),
        aa(&w.a1, w.p1, Principal::Group(w.g)),
    ];
    for a in keep.iter().chain(&[
        aa(&w.a1, w.p1, Principal::User(w.u)),
        aa(&w.a2, w.p2, Principal::User(w.u)),
    ]) {
        d.create_assignment(admin(), a.clone()).await.unwrap();
    }
    for p in [Principal::User(w.u), Principal::User(bob.id)] {
        d.assign_application(
            admin(),
            ApplicationAssignment {
                application_id: app.id,
                principal: p,
            },
        )
        .await
        .unwrap();
    }

    let mark = audit_mark(d).await;
    d.delete_user(admin(), w.u).await.unwrap();
    expect_events(d, mark, &[events::user(admin(), "delete", w.u)]).await;

    assert_eq!(
        d.list_members(w.g, all()).await.unwrap().items,
        vec![bob.clone()]
    );
    assert_eq!(
        assignments(d, AssignmentFilter::default()).await,
        sorted_assignments(keep)
    );
    let of_u = AssignmentFilter {
        principal: Some(Principal::User(w.u)),
        ..AssignmentFilter::default()
    };
    assert_eq!(assignments(d, of_u).await, vec![]);
    assert_eq!(
        d.list_application_assignments(app.id).await.unwrap(),
        vec![Principal::User(bob.id)]
    );
    // A new user with the same name starts with nothing.
    let again = d.create_user(admin(), new_user("alice")).await.unwrap();
    assert_eq!(d.user_entitlements(again.id).await.unwrap(), vec![]);
    assert_eq!(d.list_user_groups(again.id).await.unwrap(), vec![]);
    assert_eq!(d.user_applications(again.id).await.unwrap(), vec![]);
}

async fn deleting_a_group_cascades(d: &dyn Directory) {
    let w = world(d).await;
    let other = d.create_group(admin(), new_group("Others")).await.unwrap();
    let app = d
        .create_application(admin(), new_app("Wiki", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    d.add_member(admin(), w.g, w.u).await.unwrap();
    d.add_member(admin(), other.id, w.u).await.unwrap();
    let keep = aa(&w.a2, w.p2, Principal::Group(other.id));
    d.create_assignment(admin(), keep.clone()).await.unwrap();
    d.create_assignment(admin(), aa(&w.a1, w.p1, Principal::Group(w.g)))
        .await
        .unwrap();
    d.assign_application(
        admin(),
        ApplicationAssignment {
            application_id: app.id,
            principal: Principal::Group(w.g),
        },
    )
    .await
    .unwrap();
    assert_eq!(d.user_applications(w.u).await.unwrap(), vec![app.clone()]);
    assert_eq!(d.user_entitlements(w.u).await.unwrap().len(), 2);

    let mark = audit_mark(d).await;
    d.delete_group(admin(), w.g).await.unwrap();
    expect_events(d, mark, &[events::group(admin(), "delete", w.g)]).await;

    assert_eq!(d.list_user_groups(w.u).await.unwrap(), vec![other.clone()]);
    assert_eq!(
        assignments(d, AssignmentFilter::default()).await,
        vec![keep]
    );
    let p2 = d.get_permission_set(w.p2).await.unwrap();
    assert_eq!(
        d.user_entitlements(w.u).await.unwrap(),
        vec![ent("222222222222", &p2)]
    );
    assert_eq!(
        d.list_application_assignments(app.id).await.unwrap(),
        vec![]
    );
    assert_eq!(d.user_applications(w.u).await.unwrap(), vec![]);
    // The member is untouched.
    d.get_user(w.u).await.unwrap();
}

async fn deleting_an_account_cascades(d: &dyn Directory) {
    let w = world(d).await;
    let keep = vec![aa(&w.a2, w.p1, Principal::User(w.u))];
    for a in keep.iter().chain(&[
        aa(&w.a1, w.p1, Principal::User(w.u)),
        aa(&w.a1, w.p2, Principal::Group(w.g)),
    ]) {
        d.create_assignment(admin(), a.clone()).await.unwrap();
    }
    d.add_member(admin(), w.g, w.u).await.unwrap();
    let mark = audit_mark(d).await;
    d.delete_account(admin(), &w.a1).await.unwrap();
    expect_events(d, mark, &[events::account(admin(), "delete", &w.a1)]).await;

    assert_eq!(assignments(d, AssignmentFilter::default()).await, keep);
    let p1 = d.get_permission_set(w.p1).await.unwrap();
    assert_eq!(
        d.user_entitlements(w.u).await.unwrap(),
        vec![ent("222222222222", &p1)]
    );
    // Registering the id again does not bring the old assignments back.
    d.create_account(admin(), new_account("111111111111", "One again"))
        .await
        .unwrap();
    let of_a1 = AssignmentFilter {
        account_id: Some(w.a1.clone()),
        ..AssignmentFilter::default()
    };
    assert_eq!(assignments(d, of_a1).await, vec![]);
    // Membership is not an account's to remove.
    assert_eq!(d.list_user_groups(w.u).await.unwrap().len(), 1);
}

async fn deleting_a_permission_set_cascades(d: &dyn Directory) {
    let w = world(d).await;
    let keep = vec![aa(&w.a1, w.p2, Principal::User(w.u))];
    for a in keep.iter().chain(&[
        aa(&w.a1, w.p1, Principal::User(w.u)),
        aa(&w.a2, w.p1, Principal::Group(w.g)),
    ]) {
        d.create_assignment(admin(), a.clone()).await.unwrap();
    }
    d.add_member(admin(), w.g, w.u).await.unwrap();
    let mark = audit_mark(d).await;
    d.delete_permission_set(admin(), w.p1).await.unwrap();
    expect_events(d, mark, &[events::permission_set(admin(), "delete", w.p1)]).await;

    assert_eq!(assignments(d, AssignmentFilter::default()).await, keep);
    let of_p1 = AssignmentFilter {
        permission_set_id: Some(w.p1),
        ..AssignmentFilter::default()
    };
    assert_eq!(assignments(d, of_p1).await, vec![]);
    let p2 = d.get_permission_set(w.p2).await.unwrap();
    assert_eq!(
        d.user_entitlements(w.u).await.unwrap(),
        vec![ent("111111111111", &p2)]
    );
    // A new set with the same name starts with nothing.
    let again = d
        .create_permission_set(admin(), new_ps("Admin", 1))
        .await
        .unwrap();
    let of_again = AssignmentFilter {
        permission_set_id: Some(again.id),
        ..AssignmentFilter::default()
    };
    assert_eq!(assignments(d, of_again).await, vec![]);
}

// ---------------------------------------------------------------------------------------------
// Applications.
// ---------------------------------------------------------------------------------------------

async fn application_crud(d: &dyn Directory) {
    let mark = audit_mark(d).await;
    let new = new_app("wiki", ApplicationKind::Oidc, true);
    let wiki = d.create_application(admin(), new.clone()).await.unwrap();
    assert_eq!(
        (&wiki.name, &wiki.description, wiki.kind, wiki.enabled),
        (&new.name, &new.description, ApplicationKind::Oidc, true)
    );
    assert_recent(wiki.created_at);
    assert_eq!(d.get_application(wiki.id).await.unwrap(), wiki);
    let payroll = d
        .create_application(admin(), new_app("Payroll", ApplicationKind::Saml, false))
        .await
        .unwrap();
    assert_eq!(
        (payroll.kind, payroll.enabled),
        (ApplicationKind::Saml, false)
    );
    assert_eq!(d.get_application(payroll.id).await.unwrap(), payroll);
    // Names need not be unique: the id breaks the tie.
    let wiki_twin = d
        .create_application(admin(), new_app("Wiki", ApplicationKind::Saml, true))
        .await
        .unwrap();

    tick().await;
    let replacement = NewApplication {
        name: dn("Payroll (EU)"),
        description: desc("Salaries"),
        kind: ApplicationKind::Saml,
        enabled: true,
    };
    let payroll2 = d
        .update_application(admin(), payroll.id, replacement.clone())
        .await
        .unwrap();
    assert_eq!(
        (
            &payroll2.name,
            &payroll2.description,
            payroll2.kind,
            payroll2.enabled
        ),
        (
            &replacement.name,
            &replacement.description,
            ApplicationKind::Saml,
            true
        )
    );
    assert_eq!(
        (payroll2.id, payroll2.created_at),
        (payroll.id, payroll.created_at)
    );
    assert!(payroll2.updated_at > payroll.updated_at);
    assert_eq!(d.get_application(payroll.id).await.unwrap(), payroll2);

    // The kind never changes.
    let mut other_kind = replacement.clone();
    other_kind.kind = ApplicationKind::Oidc;
    other_kind.name = dn("Renamed");
    assert_err!(
        d.update_application(admin(), payroll.id, other_kind).await,
        StoreError::Conflict { field: "kind", .. }
    );
    assert_eq!(d.get_application(payroll.id).await.unwrap(), payroll2);

    // By lower-cased name, then id.
    let mut wikis = [wiki.clone(), wiki_twin.clone()];
    wikis.sort_by_key(|a| a.id.as_uuid());
    let expected = vec![payroll2.clone(), wikis[0].clone(), wikis[1].clone()];
    let pages = read_pages(2, |p| d.list_applications(p)).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(flatten(&pages), expected);
    let singles = read_pages(1, |p| d.list_applications(p)).await;
    assert_eq!(flatten(&singles), expected);

    let nothing = portcullis_domain::ApplicationId::new();
    assert_err!(
        d.get_application(nothing).await,
        StoreError::NotFound("application")
    );
    assert_err!(
        d.update_application(admin(), nothing, new.clone()).await,
        StoreError::NotFound("application")
    );
    assert_err!(
        d.delete_application(admin(), nothing).await,
        StoreError::NotFound("application")
    );
    d.delete_application(admin(), wiki_twin.id).await.unwrap();
    assert_err!(
        d.get_application(wiki_twin.id).await,
        StoreError::NotFound("application")
    );
    assert_err!(
        d.delete_application(admin(), wiki_twin.id).await,
        StoreError::NotFound("application")
    );

    expect_events(
        d,
        mark,
        &[
            events::application(admin(), "create", wiki.id),
            events::application(admin(), "create", payroll.id),
            events::application(admin(), "create", wiki_twin.id),
            events::application(admin(), "update", payroll.id),
            events::application(admin(), "delete", wiki_twin.id),
        ],
    )
    .await;
}

async fn application_assignments(d: &dyn Directory) {
    let wiki = d
        .create_application(admin(), new_app("Wiki", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    let payroll = d
        .create_application(admin(), new_app("Payroll", ApplicationKind::Saml, true))
        .await
        .unwrap();
    let crm = d
        .create_application(admin(), new_app("CRM", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    let old = d
        .create_application(admin(), new_app("Legacy", ApplicationKind::Saml, false))
        .await
        .unwrap();
    let u = d.create_user(admin(), new_user("alice")).await.unwrap().id;
    let u2 = d.create_user(admin(), new_user("bob")).await.unwrap().id;
    let g = d
        .create_group(admin(), new_group("Staff"))
        .await
        .unwrap()
        .id;
    let g2 = d
        .create_group(admin(), new_group("Finance"))
        .await
        .unwrap()
        .id;
    d.add_member(admin(), g, u).await.unwrap();
    d.add_member(admin(), g2, u).await.unwrap();

    let assign = |app: &portcullis_domain::Application, principal| ApplicationAssignment {
        application_id: app.id,
        principal,
    };
    let mark = audit_mark(d).await;
    let made = vec![
        assign(&wiki, Principal::Group(g)),
        assign(&wiki, Principal::User(u2)),
        assign(&wiki, Principal::User(u)),
        assign(&wiki, Principal::Group(g2)),
        assign(&payroll, Principal::Group(g2)),
        assign(&crm, Principal::User(u2)),
        assign(&old, Principal::User(u)),
    ];
    for a in &made {
        d.assign_application(admin(), *a).await.unwrap();
    }
    assert_err!(
        d.assign_application(admin(), made[0]).await,
        StoreError::Conflict {
            field: "assignment",
            ..
        }
    );
    assert_err!(
        d.assign_application(
            admin(),
            ApplicationAssignment {
                application_id: portcullis_domain::ApplicationId::new(),
                principal: Principal::User(u),
            }
        )
        .await,
        StoreError::InvalidReference {
            field: "applicationId",
            ..
        }
    );
    assert_err!(
        d.assign_application(admin(), assign(&wiki, Principal::User(UserId::new())))
            .await,
        StoreError::InvalidReference {
            field: "principalId",
            ..
        }
    );
    assert_err!(
        d.assign_application(admin(), assign(&wiki, Principal::Group(GroupId::new())))
            .await,
        StoreError::InvalidReference {
            field: "principalId",
            ..
        }
    );

    // Users first, then groups, each by id.
    let mut expected = vec![
        Principal::User(u),
        Principal::User(u2),
        Principal::Group(g),
        Principal::Group(g2),
    ];
    expected.sort();
    assert_eq!(
        d.list_application_assignments(wiki.id).await.unwrap(),
        expected
    );
    assert_eq!(
        d.list_application_assignments(crm.id).await.unwrap(),
        vec![Principal::User(u2)]
    );

    // Enabled applications, directly or through a group, each once, by name.
    assert_eq!(
        d.user_applications(u).await.unwrap(),
        vec![payroll.clone(), wiki.clone()]
    );
    assert_eq!(
        d.user_applications(u2).await.unwrap(),
        vec![crm.clone(), wiki.clone()]
    );
    // Enabling the legacy application makes it appear.
    let old2 = d
        .update_application(
            admin(),
            old.id,
            new_app("Legacy", ApplicationKind::Saml, true),
        )
        .await
        .unwrap();
    assert_eq!(
        d.user_applications(u).await.unwrap(),
        vec![old2.clone(), payroll.clone(), wiki.clone()]
    );

    // Unassign.
    d.unassign_application(admin(), made[4]).await.unwrap();
    assert_err!(
        d.unassign_application(admin(), made[4]).await,
        StoreError::NotFound("assignment")
    );
    assert_eq!(
        d.user_applications(u).await.unwrap(),
        vec![old2.clone(), wiki.clone()]
    );
    // Wiki stays while any path to it remains.
    d.unassign_application(admin(), made[2]).await.unwrap();
    d.unassign_application(admin(), made[0]).await.unwrap();
    assert_eq!(
        d.user_applications(u).await.unwrap(),
        vec![old2.clone(), wiki.clone()]
    );
    d.remove_member(admin(), g2, u).await.unwrap();
    assert_eq!(d.user_applications(u).await.unwrap(), vec![old2.clone()]);
    assert_eq!(
        d.list_application_assignments(wiki.id).await.unwrap(),
        vec![Principal::User(u2), Principal::Group(g2)]
    );

    let mut expected_events: Vec<NewAuditEvent> = made
        .iter()
        .map(|a| events::application_assignment(admin(), "create", a))
        .collect();
    expected_events.push(events::application(admin(), "update", old.id));
    for a in [made[4], made[2], made[0]] {
        expected_events.push(events::application_assignment(admin(), "delete", &a));
    }
    expected_events.push(events::membership(admin(), "remove", g2, u));
    let got = expect_events(d, mark, &expected_events).await;
    assert_ne!(
        got[0].action, got[8].action,
        "assign and unassign need different actions"
    );
}

async fn deleting_an_application_cascades(d: &dyn Directory) {
    let wiki = d
        .create_application(admin(), new_app("Wiki", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    let crm = d
        .create_application(admin(), new_app("CRM", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    let u = d.create_user(admin(), new_user("alice")).await.unwrap().id;
    let g = d
        .create_group(admin(), new_group("Staff"))
        .await
        .unwrap()
        .id;
    d.add_member(admin(), g, u).await.unwrap();
    for (app, p) in [
        (wiki.id, Principal::User(u)),
        (wiki.id, Principal::Group(g)),
        (crm.id, Principal::Group(g)),
    ] {
        d.assign_application(
            admin(),
            ApplicationAssignment {
                application_id: app,
                principal: p,
            },
        )
        .await
        .unwrap();
    }
    assert_eq!(
        d.user_applications(u).await.unwrap(),
        vec![crm.clone(), wiki.clone()]
    );
    let mark = audit_mark(d).await;
    d.delete_application(admin(), wiki.id).await.unwrap();
    expect_events(d, mark, &[events::application(admin(), "delete", wiki.id)]).await;
    assert_eq!(d.user_applications(u).await.unwrap(), vec![crm.clone()]);
    assert_eq!(
        d.list_application_assignments(crm.id).await.unwrap(),
        vec![Principal::Group(g)]
    );
    assert_eq!(d.list_applications(all()).await.unwrap().items, vec![crm]);
    // The principals stay.
    d.get_user(u).await.unwrap();
    d.get_group(g).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Settings, signing keys, administrator tokens.
// ---------------------------------------------------------------------------------------------

async fn settings_round_trip(d: &dyn Directory) {
    assert_eq!(d.get_settings().await.unwrap(), Settings::default());
    let mark = audit_mark(d).await;
    let custom = Settings {
        session_lifetime: SessionLifetime::from_seconds(12 * 3600).unwrap(),
        mfa: MfaPolicy::new(
            MfaPrompt::EverySignIn,
            vec![MfaType::Webauthn],
            NoDeviceAction::Block,
        )
        .unwrap(),
        email_otp: true,
    };
    assert_eq!(
        d.put_settings(admin(), custom.clone()).await.unwrap(),
        custom
    );
    assert_eq!(d.get_settings().await.unwrap(), custom);
    let never = Settings {
        session_lifetime: SessionLifetime::from_seconds(SessionLifetime::MAX_SECONDS).unwrap(),
        mfa: MfaPolicy::new(MfaPrompt::Never, vec![], NoDeviceAction::Allow).unwrap(),
        email_otp: false,
    };
    assert_eq!(d.put_settings(admin(), never.clone()).await.unwrap(), never);
    assert_eq!(d.get_settings().await.unwrap(), never);
    expect_events(
        d,
        mark,
        &[events::settings(admin()), events::settings(admin())],
    )
    .await;
}

fn signing_key(kid: &str, purpose: &str, active_from: DateTime<Utc>) -> NewSigningKey {
    NewSigningKey {
        kid: kid.to_owned(),
        purpose: purpose.to_owned(),
        algorithm: "ES256".to_owned(),
        // Not UTF-8, with a NUL: the bytes must come back exactly.
        private_key: vec![0x00, 0xff, 0x80, 0x7f, 0x0a, kid.len() as u8],
        public_key: format!("-----BEGIN PUBLIC KEY-----\n{kid}\n-----END PUBLIC KEY-----\n"),
        active_from,
    }
}

async fn signing_keys(d: &dyn Directory) {
    let mark = audit_mark(d).await;
    let now = ms(Utc::now());
    let k1_new = signing_key("k1", "oidc", now);
    let k1 = d.insert_signing_key(admin(), k1_new.clone()).await.unwrap();
    assert_eq!(
        (
            &k1.kid,
            &k1.purpose,
            &k1.algorithm,
            &k1.private_key,
            &k1.public_key
        ),
        (
            &k1_new.kid,
            &k1_new.purpose,
            &k1_new.algorithm,
            &k1_new.private_key,
            &k1_new.public_key
        )
    );
    assert_eq!((k1.active_from, k1.retired_at), (now, None));
    assert_recent(k1.created_at);
    tick().await;
    let k2 = d
        .insert_signing_key(admin(), signing_key("k2", "oidc", now + TimeDelta::days(1)))
        .await
        .unwrap();
    tick().await;
    let k3 = d
        .insert_signing_key(admin(), signing_key("k3", "saml", now))
        .await
        .unwrap();
    assert!(k2.created_at > k1.created_at);

    assert_err!(
        d.insert_signing_key(admin(), signing_key("k1", "saml", now))
            .await,
        StoreError::Conflict { field: "kid", .. }
    );

    assert_eq!(
        d.list_signing_keys("oidc").await.unwrap(),
        vec![k2.clone(), k1.clone()]
    );
    assert_eq!(d.list_signing_keys("saml").await.unwrap(), vec![k3.clone()]);
    assert_eq!(d.list_signing_keys("broker").await.unwrap(), vec![]);

    let retire_at = ms(Utc::now() + TimeDelta::hours(1));
    d.retire_signing_key(admin(), "k1", retire_at)
        .await
        .unwrap();
    let listed = d.list_signing_keys("oidc").await.unwrap();
    let mut k1_retired = k1.clone();
    k1_retired.retired_at = Some(retire_at);
    assert_eq!(listed, vec![k2.clone(), k1_retired]);

    assert_err!(
        d.retire_signing_key(admin(), "nope", retire_at).await,
        StoreError::NotFound("signing key")
    );
    d.delete_signing_key(admin(), "k1").await.unwrap();
    assert_err!(
        d.delete_signing_key(admin(), "k1").await,
        StoreError::NotFound("signing key")
    );
    assert_eq!(d.list_signing_keys("oidc").await.unwrap(), vec![k2.clone()]);
    assert_eq!(d.list_signing_keys("saml").await.unwrap(), vec![k3.clone()]);

    expect_events(
        d,
        mark,
        &[
            events::signing_key(admin(), "create", "k1"),
            events::signing_key(admin(), "create", "k2"),
            events::signing_key(admin(), "create", "k3"),
            events::signing_key(admin(), "retire", "k1"),
            events::signing_key(admin(), "delete", "k1"),
        ],
    )
    .await;
}

async fn admin_tokens(d: &dyn Directory) {
    let mark = audit_mark(d).await;
    let now = ms(Utc::now());
    let token = |name: &str, byte: u8, expires_at, bootstrap| NewAdminToken {
        name: dn(name),
        hash: [byte; 32],
        expires_at,
        bootstrap,
    };
    let boot = d
        .create_admin_token(admin(), token("bootstrap", 1, None, true))
        .await
        .unwrap();
    assert_eq!(
        (&boot.name, boot.expires_at, boot.bootstrap),
        (&dn("bootstrap"), None, true)
    );
    assert_recent(boot.created_at);
    tick().await;
    let expires = now + TimeDelta::hours(1);
    let ci = d
        .create_admin_token(admin(), token("ci", 2, Some(expires), false))
        .await
        .unwrap();
    assert_eq!((ci.expires_at, ci.bootstrap), (Some(expires), false));
    tick().await;
    let expired = d
        .create_admin_token(
            admin(),
            token("old", 3, Some(now - TimeDelta::hours(1)), false),
        )
        .await
        .unwrap();
    assert_ne!(boot.id, ci.id);

    assert_eq!(
        d.find_admin_token(&[1; 32], Utc::now()).await.unwrap(),
        Some(boot.clone())
    );
    assert_eq!(
        d.find_admin_token(&[2; 32], Utc::now()).await.unwrap(),
        Some(ci.clone())
    );
    assert_eq!(
        d.find_admin_token(&[2; 32], expires + TimeDelta::minutes(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        d.find_admin_token(&[3; 32], Utc::now()).await.unwrap(),
        None
    );
    assert_eq!(
        d.find_admin_token(&[4; 32], Utc::now()).await.unwrap(),
        None
    );
    // A token far in the future of a non-expiring one is still valid.
    assert_eq!(
        d.find_admin_token(&[1; 32], now + TimeDelta::days(3650))
            .await
            .unwrap(),
        Some(boot.clone())
    );

    assert_eq!(
        d.list_admin_tokens().await.unwrap(),
        vec![boot.clone(), ci.clone(), expired.clone()]
    );

    d.revoke_admin_token(admin(), ci.id).await.unwrap();
    assert_eq!(
        d.find_admin_token(&[2; 32], Utc::now()).await.unwrap(),
        None
    );
    assert_eq!(
        d.list_admin_tokens().await.unwrap(),
        vec![boot.clone(), expired.clone()]
    );
    assert_err!(
        d.revoke_admin_token(admin(), ci.id).await,
        StoreError::NotFound("admin token")
    );
    assert_err!(
        d.revoke_admin_token(admin(), AdminTokenId::new()).await,
        StoreError::NotFound("admin token")
    );

    expect_events(
        d,
        mark,
        &[
            events::admin_token(admin(), "create", boot.id),
            events::admin_token(admin(), "create", ci.id),
            events::admin_token(admin(), "create", expired.id),
            events::admin_token(admin(), "revoke", ci.id),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// The audit log.
// ---------------------------------------------------------------------------------------------

async fn audit_log_listing(d: &dyn Directory) {
    let alice = UserId::new();
    let recorded = [
        NewAuditEvent::new(Actor::User(alice), "auth.sign-in", format!("user:{alice}")),
        NewAuditEvent::new(Actor::System, "key.rotate", "signing-key:k1"),
        NewAuditEvent::new(Actor::User(alice), "auth.sign-out", format!("user:{alice}"))
            .with_details(r#"{"reason":"idle"}"#),
        NewAuditEvent::new(Actor::Bootstrap, "auth.sign-in", "admin")
            .with_details(r#"{"ip":"127.0.0.1"}"#),
        NewAuditEvent::new(Actor::User(alice), "auth.sign-in", format!("user:{alice}")),
    ];
    for e in &recorded {
        d.record_event(e.clone()).await.unwrap();
        tick().await;
    }
    // A directory change lands in the same log.
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();

    let everything = d
        .list_audit_events(&AuditFilter::default(), all())
        .await
        .unwrap();
    assert_eq!(everything.next, None);
    let items = everything.items;
    assert_eq!(items.len(), 6);
    // Newest first.
    for pair in items.windows(2) {
        assert!(
            pair[0].id > pair[1].id && pair[0].time >= pair[1].time,
            "{pair:?}"
        );
    }
    let oldest_first: Vec<AuditEvent> = items.iter().rev().cloned().collect();
    for (got, want) in oldest_first.iter().zip(&recorded) {
        assert_eq!(
            (&got.actor, &got.action, &got.target, &got.details),
            (
                &want.actor.to_string(),
                &want.action,
                &want.target,
                &want.details
            )
        );
        assert_recent(got.time);
    }
    assert_eq!(
        (&items[0].actor, items[0].action.as_str(), &items[0].target),
        (
            &admin().to_string(),
            "user.create",
            &format!("user:{}", bob.id)
        )
    );

    let list = |filter: AuditFilter| async move {
        let p = d.list_audit_events(&filter, all()).await.unwrap();
        assert_eq!(p.next, None);
        p.items
    };
    let ids = |events: &[AuditEvent]| events.iter().map(|e| e.id).collect::<Vec<_>>();
    let e = &oldest_first;

    let by_actor = list(AuditFilter {
        actor: Some(format!("user:{alice}")),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(ids(&by_actor), vec![e[4].id, e[2].id, e[0].id]);
    let by_action = list(AuditFilter {
        action: Some("auth.sign-in".into()),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(ids(&by_action), vec![e[4].id, e[3].id, e[0].id]);
    let both = list(AuditFilter {
        actor: Some(format!("user:{alice}")),
        action: Some("auth.sign-in".into()),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(ids(&both), vec![e[4].id, e[0].id]);
    let no_match = list(AuditFilter {
        action: Some("auth".into()),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(ids(&no_match), Vec::<i64>::new());

    // Time windows, with bounds strictly between events (inclusiveness is not specified).
    let between = |a: &AuditEvent, b: &AuditEvent| a.time + (b.time - a.time) / 2;
    assert!(
        e[1].time < e[2].time && e[2].time < e[3].time,
        "events need distinct times"
    );
    let since = list(AuditFilter {
        since: Some(between(&e[1], &e[2])),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(ids(&since), vec![e[5].id, e[4].id, e[3].id, e[2].id]);
    let until = list(AuditFilter {
        until: Some(between(&e[1], &e[2])),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(ids(&until), vec![e[1].id, e[0].id]);
    let window = list(AuditFilter {
        since: Some(between(&e[1], &e[2])),
        until: Some(between(&e[3], &e[4])),
        actor: Some(format!("user:{alice}")),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(ids(&window), vec![e[2].id]);

    // Pages by id.
    let no_filter = AuditFilter::default();
    let pages = read_pages(4, |p| d.list_audit_events(&no_filter, p)).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].next, Some(pages[0].items[3].id.to_string()));
    assert_eq!(flatten(&pages), items);
    let sign_ins = AuditFilter {
        action: Some("auth.sign-in".into()),
        ..AuditFilter::default()
    };
    let pages = read_pages(2, |p| d.list_audit_events(&sign_ins, p)).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(ids(&flatten(&pages)), ids(&by_action));
}

// ---------------------------------------------------------------------------------------------
// Atomicity and concurrency.
// ---------------------------------------------------------------------------------------------

async fn failed_writes_change_nothing(d: &dyn Directory) {
    let w = world(d).await;
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    let app = d
        .create_application(admin(), new_app("Wiki", ApplicationKind::Oidc, true))
        .await
        .unwrap();
    let mark = audit_mark(d).await;
    let users_before = d.list_users(all()).await.unwrap();
    let alice_before = d.get_user(w.u).await.unwrap();

    assert_err!(
        d.create_user(admin(), new_user("ALICE")).await,
        StoreError::Conflict { .. }
    );
    // A patch that fails on its second field changes neither.
    let patch = UserPatch {
        display_name: Some(dn("Changed")),
        email: Some(email("bob@example.com")),
        ..UserPatch::default()
    };
    assert_err!(
        d.update_user(admin(), w.u, patch).await,
        StoreError::Conflict { field: "email", .. }
    );
    assert_err!(
        d.create_group(admin(), new_group("developers")).await,
        StoreError::Conflict { .. }
    );
    assert_err!(
        d.create_account(admin(), new_account("111111111111", "Dup"))
            .await,
        StoreError::Conflict { .. }
    );
    assert_err!(
        d.create_permission_set(admin(), new_ps("Admin", 2)).await,
        StoreError::Conflict { .. }
    );
    assert_err!(
        d.add_member(admin(), w.g, UserId::new()).await,
        StoreError::InvalidReference { .. }
    );
    assert_err!(
        d.create_assignment(admin(), aa(&w.a1, w.p1, Principal::User(UserId::new())))
            .await,
        StoreError::InvalidReference { .. }
    );
    assert_err!(
        d.update_application(
            admin(),
            app.id,
            new_app("Renamed", ApplicationKind::Saml, false)
        )
        .await,
        StoreError::Conflict { field: "kind", .. }
    );
    assert_err!(
        d.delete_user(admin(), UserId::new()).await,
        StoreError::NotFound(_)
    );
    assert_err!(
        d.remove_member(admin(), w.g, bob.id).await,
        StoreError::NotFound("membership")
    );
    assert_err!(
        d.delete_assignment(admin(), &aa(&w.a1, w.p1, Principal::User(w.u)))
            .await,
        StoreError::NotFound("assignment")
    );

    expect_events(d, mark, &[]).await;
    assert_eq!(d.list_users(all()).await.unwrap(), users_before);
    assert_eq!(d.get_user(w.u).await.unwrap(), alice_before);
    assert_eq!(d.list_groups(all()).await.unwrap().items.len(), 1);
    assert_eq!(d.list_accounts(all()).await.unwrap().items.len(), 2);
    assert_eq!(d.list_permission_sets(all()).await.unwrap().items.len(), 2);
    assert_eq!(d.list_members(w.g, all()).await.unwrap().items, vec![]);
    assert_eq!(assignments(d, AssignmentFilter::default()).await, vec![]);
    assert_eq!(d.get_application(app.id).await.unwrap(), app);
}

async fn concurrent_writes(d: &dyn Directory) {
    // Distinct writes at once all succeed (no "database is locked", no deadlock).
    let (r1, r2, r3, r4, r5, r6) = tokio::join!(
        d.create_user(admin(), new_user("u1")),
        d.create_user(admin(), new_user("u2")),
        d.create_group(admin(), new_group("g1")),
        d.create_account(admin(), new_account("123456789012", "Acc")),
        d.create_user(admin(), new_user("u3")),
        d.put_settings(admin(), Settings::default()),
    );
    let (u1, u2, g1, _, u3, _) = (
        r1.unwrap(),
        r2.unwrap(),
        r3.unwrap(),
        r4.unwrap(),
        r5.unwrap(),
        r6.unwrap(),
    );
    let (m1, m2, m3) = tokio::join!(
        d.add_member(admin(), g1.id, u1.id),
        d.add_member(admin(), g1.id, u2.id),
        d.add_member(admin(), g1.id, u3.id),
    );
    m1.unwrap();
    m2.unwrap();
    m3.unwrap();
    assert_eq!(d.list_members(g1.id, all()).await.unwrap().items.len(), 3);

    // The same name at once: one wins, the others are told why.
    let racer = |n: u32| {
        let mut u = new_user("racer");
        u.email = email(&format!("racer{n}@example.com"));
        u
    };
    let (a, b, c, e) = tokio::join!(
        d.create_user(admin(), racer(1)),
        d.create_user(admin(), racer(2)),
        d.create_user(admin(), racer(3)),
        d.create_user(admin(), racer(4)),
    );
    let results = [a, b, c, e];
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "{results:?}");
    for r in &results {
        if let Err(err) = r {
            assert!(
                matches!(
                    err,
                    StoreError::Conflict {
                        field: "userName",
                        ..
                    }
                ),
                "expected Conflict(userName), got {err:?}"
            );
        }
    }
    assert_eq!(d.list_users(all()).await.unwrap().items.len(), 4);
    // 6 + 3 + 1 changes, each audited once.
    assert_eq!(audit_all(d).await.len(), 10);
}

// ---------------------------------------------------------------------------------------------
// Passwords.
// ---------------------------------------------------------------------------------------------

const HASH_1: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaG9uZWhhc2hvbmU";
const HASH_2: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdDI$aGFzaHR3b2hhc2h0d28";
const HASH_3: &str = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdDM$aGFzaHRocmVlaGFzaA";

async fn password_absent_set_and_replace(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    assert_eq!(d.get_password(alice.id).await.unwrap(), None);
    assert_eq!(d.get_password(UserId::new()).await.unwrap(), None);

    d.set_password(admin(), alice.id, HASH_1.into(), true)
        .await
        .unwrap();
    let first = d.get_password(alice.id).await.unwrap().unwrap();
    assert_eq!(first.hash, HASH_1);
    assert!(first.must_change);
    assert_recent(first.updated_at);
    assert_eq!(first.updated_at, ms(first.updated_at));
    assert_eq!(d.get_password(bob.id).await.unwrap(), None);

    tick().await;
    d.set_password(admin(), alice.id, HASH_2.into(), false)
        .await
        .unwrap();
    let second = d.get_password(alice.id).await.unwrap().unwrap();
    assert_eq!(second.hash, HASH_2);
    assert!(!second.must_change);
    assert!(second.updated_at > first.updated_at, "{second:?} {first:?}");
    assert_eq!(d.get_password(bob.id).await.unwrap(), None);

    let mark = audit_mark(d).await;
    assert_err!(
        d.set_password(admin(), UserId::new(), HASH_1.into(), false)
            .await,
        StoreError::NotFound("user")
    );
    expect_events(d, mark, &[]).await;
}

async fn password_rehash_keeps_flag_and_time_unaudited(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    d.set_password(admin(), alice.id, HASH_1.into(), true)
        .await
        .unwrap();
    let before = d.get_password(alice.id).await.unwrap().unwrap();
    let mark = audit_mark(d).await;
    tick().await;
    d.rehash_password(alice.id, HASH_3.into()).await.unwrap();
    let after = d.get_password(alice.id).await.unwrap().unwrap();
    assert_eq!(after.hash, HASH_3);
    assert_eq!(after.must_change, before.must_change);
    assert_eq!(after.updated_at, before.updated_at);
    expect_events(d, mark, &[]).await;

    // Nothing to re-hash: no password, or no user.
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    let mark = audit_mark(d).await;
    assert_err!(
        d.rehash_password(bob.id, HASH_3.into()).await,
        StoreError::NotFound(_)
    );
    assert_err!(
        d.rehash_password(UserId::new(), HASH_3.into()).await,
        StoreError::NotFound(_)
    );
    assert_eq!(d.get_password(bob.id).await.unwrap(), None);
    expect_events(d, mark, &[]).await;
}

async fn password_audit_never_holds_the_hash(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let mark = audit_mark(d).await;
    d.set_password(admin(), alice.id, HASH_1.into(), true)
        .await
        .unwrap();
    d.set_password(admin(), alice.id, HASH_2.into(), false)
        .await
        .unwrap();
    d.rehash_password(alice.id, HASH_3.into()).await.unwrap();
    let got = expect_events(
        d,
        mark,
        &[
            events::password(admin(), alice.id, true),
            events::password(admin(), alice.id, false),
        ],
    )
    .await;
    assert_eq!(got[0].action, "user.password.set");
    assert_eq!(got[0].target, format!("user:{}", alice.id));
    assert_eq!(got[0].details.as_deref(), Some(r#"{"mustChange":true}"#));
    assert_eq!(got[1].details.as_deref(), Some(r#"{"mustChange":false}"#));
    for e in audit_all(d).await {
        let text = format!("{} {} {} {:?}", e.actor, e.action, e.target, e.details);
        for secret in [HASH_1, HASH_2, HASH_3, "argon2"] {
            assert!(!text.contains(secret), "audit event holds a hash: {text}");
        }
    }
}

async fn deleting_a_user_removes_credentials(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    for u in [alice.id, bob.id] {
        d.set_password(admin(), u, HASH_1.into(), false)
            .await
            .unwrap();
    }
    let a_totp = d
        .add_mfa_device(admin(), totp(alice.id, "Phone"))
        .await
        .unwrap();
    let a_key = d
        .add_mfa_device(admin(), webauthn(alice.id, "Key", "cred-alice"))
        .await
        .unwrap();
    let b_key = d
        .add_mfa_device(admin(), webauthn(bob.id, "Key", "cred-bob"))
        .await
        .unwrap();

    let mark = audit_mark(d).await;
    d.delete_user(admin(), alice.id).await.unwrap();
    expect_events(d, mark, &[events::user(admin(), "delete", alice.id)]).await;

    assert_eq!(d.get_password(alice.id).await.unwrap(), None);
    assert_eq!(d.list_mfa_devices(alice.id).await.unwrap(), vec![]);
    assert_eq!(
        d.find_mfa_device_by_credential("cred-alice").await.unwrap(),
        None
    );
    assert!(
        !d.record_mfa_use(alice.id, a_totp.id, Utc::now(), Some(1), None)
            .await
            .unwrap()
    );
    assert_err!(
        d.delete_mfa_device(admin(), alice.id, a_key.id).await,
        StoreError::NotFound("mfa device")
    );
    // Bob keeps his.
    assert!(d.get_password(bob.id).await.unwrap().is_some());
    assert_eq!(d.list_mfa_devices(bob.id).await.unwrap(), vec![b_key]);
    // The credential id is free again.
    let again = d.create_user(admin(), new_user("alice")).await.unwrap();
    assert_eq!(d.get_password(again.id).await.unwrap(), None);
    assert_eq!(d.list_mfa_devices(again.id).await.unwrap(), vec![]);
    d.add_mfa_device(admin(), webauthn(again.id, "Key", "cred-alice"))
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// MFA devices.
// ---------------------------------------------------------------------------------------------

fn totp(user: UserId, name: &str) -> NewMfaDevice {
    NewMfaDevice {
        user_id: user,
        kind: MfaDeviceKind::AuthenticatorApp,
        name: dn(name),
        secret: format!("totp-secret-{name}").into_bytes(),
        credential_id: None,
    }
}

fn webauthn(user: UserId, name: &str, credential_id: &str) -> NewMfaDevice {
    NewMfaDevice {
        user_id: user,
        kind: MfaDeviceKind::Webauthn,
        name: dn(name),
        secret: vec![0, 1, 2, 255, 254, 0],
        credential_id: Some(credential_id.to_owned()),
    }
}

fn device_event(actor: Actor, verb: &str, device: &MfaDevice) -> NewAuditEvent {
    events::mfa_device(actor, verb, device.user_id, device.id, device.kind)
}

async fn mfa_device_crud(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    assert_eq!(d.list_mfa_devices(alice.id).await.unwrap(), vec![]);

    let mark = audit_mark(d).await;
    let phone = d
        .add_mfa_device(admin(), totp(alice.id, "Phone"))
        .await
        .unwrap();
    assert_eq!(phone.user_id, alice.id);
    assert_eq!(phone.kind, MfaDeviceKind::AuthenticatorApp);
    assert_eq!(phone.name, dn("Phone"));
    assert_eq!(phone.secret, b"totp-secret-Phone".to_vec());
    assert_eq!(phone.credential_id, None);
    assert_eq!(phone.last_used_at, None);
    assert_recent(phone.created_at);
    assert_eq!(phone.created_at, ms(phone.created_at));
    tick().await;
    let key = d
        .add_mfa_device(admin(), webauthn(alice.id, "YubiKey", "cred-1"))
        .await
        .unwrap();
    tick().await;
    let tablet = d
        .add_mfa_device(admin(), totp(alice.id, "Tablet"))
        .await
        .unwrap();
    let bobs = d
        .add_mfa_device(admin(), totp(bob.id, "Phone"))
        .await
        .unwrap();

    // Oldest first, each user only their own.
    assert_eq!(
        d.list_mfa_devices(alice.id).await.unwrap(),
        vec![phone.clone(), key.clone(), tablet.clone()]
    );
    assert_eq!(
        d.list_mfa_devices(bob.id).await.unwrap(),
        vec![bobs.clone()]
    );

    let renamed = d
        .rename_mfa_device(admin(), alice.id, key.id, dn("Blue key"))
        .await
        .unwrap();
    assert_eq!(
        renamed,
        MfaDevice {
            name: dn("Blue key"),
            ..key.clone()
        }
    );
    d.delete_mfa_device(admin(), alice.id, phone.id)
        .await
        .unwrap();
    assert_eq!(
        d.list_mfa_devices(alice.id).await.unwrap(),
        vec![renamed.clone(), tablet.clone()]
    );
    let got = expect_events(
        d,
        mark,
        &[
            device_event(admin(), "create", &phone),
            device_event(admin(), "create", &key),
            device_event(admin(), "create", &tablet),
            device_event(admin(), "create", &bobs),
            device_event(admin(), "update", &key),
            device_event(admin(), "delete", &phone),
        ],
    )
    .await;
    assert_eq!(got[0].action, "user.mfa-device.create");
    assert_eq!(got[0].target, format!("user:{}", alice.id));
    assert_eq!(
        got[0].details.as_deref(),
        Some(
            format!(
                r#"{{"deviceId":"{}","kind":"AUTHENTICATOR_APP"}}"#,
                phone.id
            )
            .as_str()
        )
    );
    assert_eq!(
        got[4].details.as_deref(),
        Some(format!(r#"{{"deviceId":"{}","kind":"WEBAUTHN"}}"#, key.id).as_str())
    );
    assert_eq!(got[4].action, "user.mfa-device.update");
    assert_eq!(got[5].action, "user.mfa-device.delete");
    for e in &got {
        let details = e.details.clone().unwrap_or_default();
        assert!(
            !details.contains("secret") && !details.contains("cred-1"),
            "{e:?}"
        );
    }

    // Unknown devices, and other users' devices, are not found; nothing is audited.
    let mark = audit_mark(d).await;
    let unknown = uuid::Uuid::new_v4();
    assert_err!(
        d.rename_mfa_device(admin(), alice.id, unknown, dn("X"))
            .await,
        StoreError::NotFound("mfa device")
    );
    assert_err!(
        d.delete_mfa_device(admin(), alice.id, unknown).await,
        StoreError::NotFound("mfa device")
    );
    assert_err!(
        d.rename_mfa_device(admin(), alice.id, bobs.id, dn("Mine"))
            .await,
        StoreError::NotFound("mfa device")
    );
    assert_err!(
        d.delete_mfa_device(admin(), alice.id, bobs.id).await,
        StoreError::NotFound("mfa device")
    );
    assert_err!(
        d.delete_mfa_device(admin(), alice.id, phone.id).await,
        StoreError::NotFound("mfa device")
    );
    assert_err!(
        d.add_mfa_device(admin(), totp(UserId::new(), "Ghost"))
            .await,
        StoreError::NotFound("user")
    );
    assert!(
        !d.record_mfa_use(alice.id, unknown, Utc::now(), None, None)
            .await
            .unwrap()
    );
    assert!(
        !d.record_mfa_use(alice.id, bobs.id, Utc::now(), Some(5), None)
            .await
            .unwrap()
    );
    expect_events(d, mark, &[]).await;
    assert_eq!(d.list_mfa_devices(bob.id).await.unwrap(), vec![bobs]);
}

async fn mfa_device_limits_per_kind(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    for i in 0..MfaDeviceKind::AuthenticatorApp.limit() {
        d.add_mfa_device(admin(), totp(alice.id, &format!("App {i}")))
            .await
            .unwrap();
    }
    for i in 0..MfaDeviceKind::Webauthn.limit() {
        d.add_mfa_device(
            admin(),
            webauthn(alice.id, &format!("Key {i}"), &format!("a-{i}")),
        )
        .await
        .unwrap();
    }
    let mark = audit_mark(d).await;
    match d.add_mfa_device(admin(), totp(alice.id, "App 3")).await {
        Err(StoreError::Conflict {
            field: "kind",
            message,
        }) => assert_eq!(message, "at most 2 authenticator apps per user"),
        other => panic!("expected Conflict(kind), got {other:?}"),
    }
    match d
        .add_mfa_device(admin(), webauthn(alice.id, "Key 7", "a-7"))
        .await
    {
        Err(StoreError::Conflict {
            field: "kind",
            message,
        }) => assert_eq!(message, "at most 6 security keys or passkeys per user"),
        other => panic!("expected Conflict(kind), got {other:?}"),
    }
    expect_events(d, mark, &[]).await;
    assert_eq!(d.list_mfa_devices(alice.id).await.unwrap().len(), 8);
    assert_eq!(d.find_mfa_device_by_credential("a-7").await.unwrap(), None);

    // Other users are unaffected.
    d.add_mfa_device(admin(), totp(bob.id, "App"))
        .await
        .unwrap();
    d.add_mfa_device(admin(), totp(bob.id, "App 2"))
        .await
        .unwrap();
    d.add_mfa_device(admin(), webauthn(bob.id, "Key", "b-1"))
        .await
        .unwrap();

    // Removing one makes room for one.
    let first = d.list_mfa_devices(alice.id).await.unwrap()[0].clone();
    assert_eq!(first.kind, MfaDeviceKind::AuthenticatorApp);
    d.delete_mfa_device(admin(), alice.id, first.id)
        .await
        .unwrap();
    d.add_mfa_device(admin(), totp(alice.id, "App 3"))
        .await
        .unwrap();
    assert_err!(
        d.add_mfa_device(admin(), totp(alice.id, "App 4")).await,
        StoreError::Conflict { field: "kind", .. }
    );
}

async fn mfa_concurrent_adds_respect_the_limit(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let (a, b, c, e) = tokio::join!(
        d.add_mfa_device(admin(), totp(alice.id, "A")),
        d.add_mfa_device(admin(), totp(alice.id, "B")),
        d.add_mfa_device(admin(), totp(alice.id, "C")),
        d.add_mfa_device(admin(), totp(alice.id, "D")),
    );
    let results = [a, b, c, e];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        2,
        "{results:?}"
    );
    for r in &results {
        if let Err(err) = r {
            assert!(
                matches!(err, StoreError::Conflict { field: "kind", .. }),
                "expected Conflict(kind), got {err:?}"
            );
        }
    }
    assert_eq!(d.list_mfa_devices(alice.id).await.unwrap().len(), 2);
}

async fn mfa_find_by_credential_and_duplicates(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    let key = d
        .add_mfa_device(admin(), webauthn(alice.id, "Key", "Y3JlZC0x"))
        .await
        .unwrap();
    d.add_mfa_device(admin(), totp(alice.id, "Phone"))
        .await
        .unwrap();
    assert_eq!(
        d.find_mfa_device_by_credential("Y3JlZC0x").await.unwrap(),
        Some(key.clone())
    );
    assert_eq!(
        d.find_mfa_device_by_credential("y3jlzc0x").await.unwrap(),
        None
    );
    assert_eq!(d.find_mfa_device_by_credential("").await.unwrap(), None);

    let mark = audit_mark(d).await;
    for owner in [alice.id, bob.id] {
        assert_err!(
            d.add_mfa_device(admin(), webauthn(owner, "Copy", "Y3JlZC0x"))
                .await,
            StoreError::Conflict {
                field: "credentialId",
                ..
            }
        );
    }
    expect_events(d, mark, &[]).await;
    assert_eq!(d.list_mfa_devices(bob.id).await.unwrap(), vec![]);
    // Several TOTP devices have no credential id, and that is no conflict.
    d.add_mfa_device(admin(), totp(alice.id, "Tablet"))
        .await
        .unwrap();
    d.add_mfa_device(admin(), totp(bob.id, "Phone"))
        .await
        .unwrap();
    assert_eq!(d.list_mfa_devices(alice.id).await.unwrap().len(), 3);
}

async fn mfa_use_updates_last_used_and_secret(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let key = d
        .add_mfa_device(admin(), webauthn(alice.id, "Key", "cred"))
        .await
        .unwrap();
    let mark = audit_mark(d).await;
    let at = Utc::now();
    assert!(
        d.record_mfa_use(alice.id, key.id, at, None, Some(vec![9, 9, 9]))
            .await
            .unwrap()
    );
    let used = d
        .find_mfa_device_by_credential("cred")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.last_used_at, Some(ms(at)));
    assert_eq!(used.secret, vec![9, 9, 9]);
    let later = at + TimeDelta::seconds(30);
    assert!(
        d.record_mfa_use(alice.id, key.id, later, None, None)
            .await
            .unwrap()
    );
    let used = d.list_mfa_devices(alice.id).await.unwrap().remove(0);
    assert_eq!(used.last_used_at, Some(ms(later)));
    assert_eq!(used.secret, vec![9, 9, 9]);
    assert_eq!(
        used,
        MfaDevice {
            secret: vec![9, 9, 9],
            last_used_at: Some(ms(later)),
            ..key
        }
    );
    // Not audited.
    expect_events(d, mark, &[]).await;
}

async fn totp_steps_are_never_replayed(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let phone = d
        .add_mfa_device(admin(), totp(alice.id, "Phone"))
        .await
        .unwrap();
    let tablet = d
        .add_mfa_device(admin(), totp(alice.id, "Tablet"))
        .await
        .unwrap();
    let mark = audit_mark(d).await;
    let t0 = Utc::now();
    let use_at = |secs: i64, step: i64| {
        d.record_mfa_use(
            alice.id,
            phone.id,
            t0 + TimeDelta::seconds(secs),
            Some(step),
            None,
        )
    };
    assert!(use_at(0, 100).await.unwrap());
    assert!(!use_at(1, 100).await.unwrap(), "the same step again");
    assert!(!use_at(2, 99).await.unwrap(), "an earlier step");
    // A refused use changes nothing.
    let stored = d.list_mfa_devices(alice.id).await.unwrap().remove(0);
    assert_eq!(stored.last_used_at, Some(ms(t0)));
    assert!(use_at(3, 101).await.unwrap());
    assert!(!use_at(4, 101).await.unwrap());
    assert!(!use_at(5, 100).await.unwrap());
    let stored = d.list_mfa_devices(alice.id).await.unwrap().remove(0);
    assert_eq!(stored.last_used_at, Some(ms(t0 + TimeDelta::seconds(3))));
    assert_eq!(stored.secret, phone.secret);
    // Each device keeps its own last step.
    assert!(
        d.record_mfa_use(alice.id, tablet.id, t0, Some(100), None)
            .await
            .unwrap()
    );
    // Another user cannot use the device.
    let bob = d.create_user(admin(), new_user("bob")).await.unwrap();
    assert!(
        !d.record_mfa_use(bob.id, phone.id, t0, Some(500), None)
            .await
            .unwrap()
    );
    assert!(use_at(6, 102).await.unwrap());
    // Not audited (only bob's creation is).
    expect_events(d, mark, &[events::user(admin(), "create", bob.id)]).await;
}

async fn concurrent_totp_use_succeeds_once(d: &dyn Directory) {
    let alice = d.create_user(admin(), new_user("alice")).await.unwrap();
    let phone = d
        .add_mfa_device(admin(), totp(alice.id, "Phone"))
        .await
        .unwrap();
    for step in [1000_i64, 1001] {
        let use_step = || d.record_mfa_use(alice.id, phone.id, Utc::now(), Some(step), None);
        let results = tokio::join!(
            use_step(),
            use_step(),
            use_step(),
            use_step(),
            use_step(),
            use_step(),
            use_step(),
            use_step(),
            use_step(),
            use_step(),
        );
        let results = [
            results.0, results.1, results.2, results.3, results.4, results.5, results.6, results.7,
            results.8, results.9,
        ];
        let accepted = results.iter().filter(|r| matches!(r, Ok(true))).count();
        assert_eq!(accepted, 1, "step {step}: {results:?}");
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }
}
