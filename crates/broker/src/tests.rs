//! Unit tests of the broker over the embedded stores (SQLite directory, embedded sessions) and a
//! clock moved by hand. The end-to-end suite (tests/e2e/broker.rs) drives the same paths over
//! HTTP with real clients, on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use portcullis_auth::derive::hmac_sha256;
use portcullis_domain::{
    AccountAssignment, AccountId, Actor, AuditFilter, Description, DisplayName, Email, NewAccount,
    NewPermissionSet, NewUser, PageRequest, PermissionSetDuration, Principal, RoleName, UserId,
    UserName, UserPatch,
};
use portcullis_sessions::sso::{self, SsoAccess};
use portcullis_sessions::{ClientInfo, Clock, ManualClock, NewSession, Sessions};
use portcullis_store::Directory;
use sha2::{Digest, Sha256};

use crate::credentials::{Keys, PAGE_AAD, TOKEN_AAD, new_access_key_id};
use crate::{Broker, BrokerConfig, BrokerError, RoleCredentials, VerifyError};

pub(crate) fn acct(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

pub(crate) fn role_name(name: &str) -> RoleName {
    RoleName::parse(name).unwrap()
}

pub(crate) struct Fixture {
    pub broker: Arc<Broker>,
    pub directory: Arc<dyn Directory>,
    pub sessions: Arc<dyn Sessions>,
    pub clock: Arc<ManualClock>,
    pub user: UserId,
    /// The portal session token behind [`TOKEN`].
    pub session_token: String,
    _dir: tempfile::TempDir,
}

const KEY: [u8; 32] = [7; 32];
pub(crate) const TOKEN: &str = "pcat_unit-test-access-token";

impl Fixture {
    pub async fn new(config: BrokerConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let directory: Arc<dyn Directory> =
            Arc::new(portcullis_store::testing::sqlite_in(dir.path()).await);
        let sessions: Arc<dyn Sessions> =
            Arc::new(portcullis_sessions::testing::embedded_in(dir.path(), clock.clone()).await);
        let user = directory
            .create_user(
                Actor::System,
                NewUser {
                    user_name: UserName::parse("alice").unwrap(),
                    email: Email::parse("alice@example.com").unwrap(),
                    display_name: DisplayName::parse("Alice").unwrap(),
                    given_name: None,
                    family_name: None,
                    enabled: true,
                    attributes: Default::default(),
                },
            )
            .await
            .unwrap()
            .id;
        let broker = Arc::new(
            Broker::new(directory.clone(), sessions.clone(), clock.clone(), KEY)
                .with_config(config),
        );
        let mut f = Self {
            broker,
            directory,
            sessions,
            clock,
            user,
            session_token: String::new(),
            _dir: dir,
        };
        f.session_token = f.sign_in(TOKEN, &["sso:account:access"]).await;
        f
    }

    /// A portal session for the user and an SSO-OIDC access token `token` on it; returns the
    /// portal session's token.
    async fn sign_in(&self, token: &str, scopes: &[&str]) -> String {
        let now = self.clock.now();
        let (session_token, session) = self
            .sessions
            .create_session(NewSession {
                user_id: self.user,
                expires_at: now + chrono::Duration::hours(8),
                amr: vec!["pwd".into()],
                client: ClientInfo::default(),
            })
            .await
            .unwrap();
        let family = format!("family-{token}");
        let ttl = Duration::from_secs(3600);
        self.sessions
            .put(sso::FAMILY_NS, &family, b"1", ttl)
            .await
            .unwrap();
        let access = SsoAccess {
            user_id: self.user,
            session_id: session.id,
            client_id: "client-1".into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            family,
            expires_at: now + chrono::Duration::hours(1),
        };
        sso::put_access(self.sessions.as_ref(), token, &access, ttl)
            .await
            .unwrap();
        session_token.expose().to_owned()
    }

    pub async fn account(&self, id: &str) -> AccountId {
        let account = AccountId::parse(id).unwrap();
        self.directory
            .create_account(
                Actor::System,
                NewAccount {
                    id: account.clone(),
                    name: DisplayName::parse(format!("Account {id}")).unwrap(),
                    email: Email::parse(format!("ops-{id}@example.com")).unwrap(),
                    console_url: None,
                    kind: Default::default(),
                },
            )
            .await
            .unwrap();
        account
    }

    /// A permission set `name` lasting `hours`, assigned to the user in `account`.
    pub async fn grant(&self, account: &AccountId, name: &str, hours: u64) -> AccountAssignment {
        let ps = self
            .directory
            .create_permission_set(
                Actor::System,
                NewPermissionSet {
                    name: RoleName::parse(name).unwrap(),
                    description: Description::default_empty(),
                    session_duration: PermissionSetDuration::from_seconds(hours * 3600).unwrap(),
                    policies: Default::default(),
                },
            )
            .await
            .unwrap();
        let a = AccountAssignment {
            account_id: account.clone(),
            permission_set_id: ps.id,
            principal: Principal::User(self.user),
        };
        self.directory
            .create_assignment(Actor::System, a.clone())
            .await
            .unwrap();
        a
    }

    pub async fn credentials(&self, account: &str, role: &str) -> RoleCredentials {
        let caller = self.broker.authenticate(Some(TOKEN)).await.unwrap();
        self.broker
            .get_role_credentials(&caller, &acct(account), &role_name(role))
            .await
            .unwrap()
    }
}

// ------------------------------------------------------------------------------------------
// Credentials

/// A session token, its secret and a page token sealed by the broker's own AES-GCM code before
/// sealing moved to `portcullis_auth::seal`: credentials already issued still verify.
#[test]
fn credentials_sealed_before_the_shared_seal_still_open() {
    const TOKEN_V1: &str = "AT8KfwzwHlBg7piuPk3hTVuXleB0veEbE6VTHdky0vM6UIBrTJF6HNJWQ3GAMZKoPeT_YQ_Jcs13N6yedi4xIrgaRo1IFJvwhflKBpQpPmG8fH2qbIR8hqNkjF3Ek9xXyzdUaS8En9i14XXYSj85klqXRc3DBjZmfLSdN8q5jz-0fIqSi_Dk5HvEzl5DglZxGVc7ugsy8GZOxxS4xab8F_g8a2Ju95IUBj6D9qZtV-O5csYEydMbQWWHzgumbHrYhKHnjayM1wTOV98kTfzYoCWXaUQLHQaDtTvniYTZ6fto-xRWs_5TghfHxjKs8OV8zqeHWWCYnZcaXRNP1D0tiuWoChvJnFczVfK1IJJKAv2U-p0YE0Gh8gVe4nwlxPY9RWUQET7h72MANernNdb1s5Vfda-h909g";
    const SECRET_V1: &str = "cQs9hUGB54Gp/g8/7SmeHRWSXa1FoISu5fj91kvJ";
    const PAGE_V1: &str = "AcxsOhihjr6nm9EF2uklfOcLDnhZTibl14hh6J7nP4xfqCbxO0XtdiwzSGEk";
    let keys = Keys::new(&KEY);
    let claims = keys.open_token(TOKEN_V1).unwrap();
    assert_eq!(claims.account_id.as_str(), "111111111111");
    assert_eq!(claims.role_name.as_str(), "Admin");
    assert_eq!(claims.access_key_id, "ASIAABCDEFGHIJKLMNOP");
    assert_eq!(claims.expires_at_ms, 1_800_003_600_000);
    assert_eq!(claims.client_id, "portal");
    assert_eq!(keys.secret_for(&claims), SECRET_V1);
    assert_eq!(
        keys.open(PAGE_V1, PAGE_AAD).unwrap(),
        br#"{"l":"accounts"}"#
    );
    assert!(keys.open(PAGE_V1, TOKEN_AAD).is_err());
    assert!(Keys::new(&[8; 32]).open_token(TOKEN_V1).is_err());
}

#[test]
fn access_key_ids_have_the_aws_shape() {
    for _ in 0..50 {
        let id = new_access_key_id();
        assert_eq!(id.len(), 20, "{id}");
        assert!(id.starts_with("ASIA"), "{id}");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
            "{id}"
        );
    }
}

#[test]
fn sealed_values_open_only_unaltered_and_for_their_purpose() {
    let keys = Keys::new(&KEY);
    let sealed = keys.seal(b"hello", TOKEN_AAD);
    assert_eq!(keys.open(&sealed, TOKEN_AAD).unwrap(), b"hello");
    assert!(
        keys.open(&sealed, PAGE_AAD).is_err(),
        "a token is no page token"
    );
    assert!(
        Keys::new(&[8; 32]).open(&sealed, TOKEN_AAD).is_err(),
        "another key"
    );
    let mut chars: Vec<char> = sealed.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    assert!(keys.open(&tampered, TOKEN_AAD).is_err());
    assert!(keys.open("", TOKEN_AAD).is_err());
    assert!(keys.open("not base64!", TOKEN_AAD).is_err());
    assert!(keys.open(&"A".repeat(10_000), TOKEN_AAD).is_err());
}

#[test]
fn role_credentials_never_print_their_secrets() {
    let c = RoleCredentials {
        access_key_id: "ASIAAAAAAAAAAAAAAAAA".into(),
        secret_access_key: "very-secret".into(),
        session_token: "token-secret".into(),
        expiration_ms: 1,
    };
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("very-secret") && !shown.contains("token-secret"),
        "{shown}"
    );
}

#[tokio::test]
async fn credentials_last_the_permission_sets_duration_and_are_audited() {
    let f = Fixture::new(BrokerConfig::default()).await;
    let acct = f.account("111111111111").await;
    f.grant(&acct, "Admin", 4).await;
    let now = f.clock.now();
    let c = f.credentials("111111111111", "Admin").await;
    assert_eq!(
        c.expiration_ms,
        (now + chrono::Duration::hours(4)).timestamp_millis()
    );
    assert_eq!(c.secret_access_key.len(), 40);
    let claims = f.broker.keys.open_token(&c.session_token).unwrap();
    assert_eq!(claims.access_key_id, c.access_key_id);
    assert_eq!(claims.account_id, acct);
    assert_eq!(claims.role_name.as_str(), "Admin");
    assert_eq!(claims.user_id, f.user);
    assert_eq!(claims.user_name.as_str(), "alice");
    assert_eq!(claims.client_id, "client-1");
    assert_eq!(f.broker.keys.secret_for(&claims), c.secret_access_key);

    let events = f
        .directory
        .list_audit_events(
            &AuditFilter {
                action: Some("broker.credentials.issue".into()),
                ..AuditFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap()
        .items;
    assert_eq!(events.len(), 1, "{events:?}");
    let details = events[0].details.clone().unwrap();
    for needle in [
        &c.access_key_id,
        "Admin",
        "111111111111",
        "alice",
        "client-1",
    ] {
        assert!(details.contains(needle), "{needle} in {details}");
    }
    assert!(!details.contains(&c.secret_access_key) && !details.contains(&c.session_token));
    assert_eq!(events[0].actor, format!("user:{}", f.user));
}

/// The portal page's caller, from the principal the portal resolved: its credentials are
/// audited with client `portal` and counted `via` the portal.
#[tokio::test]
async fn page_callers_are_audited_as_the_portal() {
    let f = Fixture::new(BrokerConfig::default()).await;
    let acct = f.account("111111111111").await;
    f.grant(&acct, "Admin", 1).await;
    let token = portcullis_sessions::SessionToken::from_presented(f.session_token.clone());
    let principal = portcullis_auth::Principal {
        session: f.sessions.get_session(&token).await.unwrap().unwrap(),
        user: f.directory.get_user(f.user).await.unwrap(),
    };
    let caller = f.broker.caller_for_page(&principal);
    assert_eq!(caller.channel(), &crate::Channel::PortalPage);
    assert_eq!(
        (caller.client_id(), caller.channel().via()),
        ("portal", "portal")
    );
    let admin = role_name("Admin");
    f.broker.check_held(&caller, &acct, &admin).await.unwrap();
    let r = f
        .broker
        .check_held(&caller, &acct, &role_name("ReadOnly"))
        .await;
    assert!(matches!(r, Err(BrokerError::NotFound(_))), "{r:?}");
    let c = f
        .broker
        .get_role_credentials(&caller, &acct, &admin)
        .await
        .unwrap();
    let claims = f.broker.keys.open_token(&c.session_token).unwrap();
    assert_eq!(claims.client_id, "portal");
    let events = f
        .directory
        .list_audit_events(&AuditFilter::default(), PageRequest::default())
        .await
        .unwrap()
        .items;
    let issued = events
        .iter()
        .find(|e| e.action == "broker.credentials.issue")
        .and_then(|e| e.details.clone())
        .unwrap();
    assert!(issued.contains(r#""clientId":"portal""#), "{issued}");
}

// ------------------------------------------------------------------------------------------
// The portal API's operations

#[tokio::test]
async fn bearer_tokens_must_be_live_scoped_and_of_an_enabled_person() {
    let f = Fixture::new(BrokerConfig::default()).await;
    for bad in [None, Some(""), Some("pcat_unknown")] {
        assert!(
            matches!(
                f.broker.authenticate(bad).await,
                Err(BrokerError::Unauthorized(_))
            ),
            "{bad:?}"
        );
    }
    f.sign_in("pcat_openid-only", &["openid"]).await;
    assert!(matches!(
        f.broker.authenticate(Some("pcat_openid-only")).await,
        Err(BrokerError::Unauthorized(_))
    ));
    // The token expires with its record.
    f.clock.advance(chrono::Duration::minutes(61));
    assert!(matches!(
        f.broker.authenticate(Some(TOKEN)).await,
        Err(BrokerError::Unauthorized(_))
    ));
    f.clock.advance(chrono::Duration::minutes(-61));
    let caller = f.broker.authenticate(Some(TOKEN)).await.unwrap();
    f.directory
        .update_user(
            Actor::System,
            f.user,
            UserPatch {
                enabled: Some(false),
                ..UserPatch::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        f.broker.authenticate(Some(TOKEN)).await,
        Err(BrokerError::Unauthorized(_))
    ));
    drop(caller);
}

#[tokio::test]
async fn logout_ends_the_portal_session_and_its_tokens() {
    let f = Fixture::new(BrokerConfig::default()).await;
    let caller = f.broker.authenticate(Some(TOKEN)).await.unwrap();
    f.broker.logout(&caller).await.unwrap();
    assert!(matches!(
        f.broker.authenticate(Some(TOKEN)).await,
        Err(BrokerError::Unauthorized(_))
    ));
}

#[tokio::test]
async fn each_token_is_throttled() {
    let f = Fixture::new(BrokerConfig {
        requests_per_window: 3,
        ..BrokerConfig::default()
    })
    .await;
    for _ in 0..3 {
        f.broker.authenticate(Some(TOKEN)).await.unwrap();
    }
    assert!(matches!(
        f.broker.authenticate(Some(TOKEN)).await,
        Err(BrokerError::TooManyRequests)
    ));
    // Another token of the same person has its own budget; the window passes.
    f.sign_in("pcat_second", &["sso:account:access"]).await;
    f.broker.authenticate(Some("pcat_second")).await.unwrap();
    f.clock.advance(chrono::Duration::seconds(61));
    f.broker.authenticate(Some(TOKEN)).await.unwrap();
}

#[tokio::test]
async fn accounts_and_roles_page_with_sealed_tokens() {
    let f = Fixture::new(BrokerConfig::default()).await;
    for id in ["333333333333", "111111111111", "222222222222"] {
        let a = f.account(id).await;
        f.grant(&a, &format!("Role{}", &id[..1]), 1).await;
    }
    // Roles held twice (directly and through a group) are listed once: the store's contract.
    let a1 = AccountId::parse("111111111111").unwrap();
    f.grant(&a1, "Another", 1).await;
    f.account("444444444444").await; // not held
    let caller = f.broker.authenticate(Some(TOKEN)).await.unwrap();

    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = f
            .broker
            .list_accounts(&caller, Some("1"), next.as_deref())
            .await
            .unwrap();
        assert!(page.items.len() <= 1);
        seen.extend(page.items.into_iter().map(|a| a.account_id));
        match page.next_token {
            Some(t) => next = Some(t),
            None => break,
        }
    }
    assert_eq!(seen, ["111111111111", "222222222222", "333333333333"]);

    let all = f.broker.list_accounts(&caller, None, None).await.unwrap();
    assert_eq!(all.items.len(), 3);
    assert_eq!(all.items[0].account_name, "Account 111111111111");
    assert_eq!(all.items[0].email_address, "ops-111111111111@example.com");
    assert!(all.next_token.is_none());

    let first = f
        .broker
        .list_account_roles(&caller, &a1, Some("1"), None)
        .await
        .unwrap();
    assert_eq!(first.items[0].role_name, "Another");
    let token = first.next_token.unwrap();
    let second = f
        .broker
        .list_account_roles(&caller, &a1, Some("1"), Some(&token))
        .await
        .unwrap();
    assert_eq!(second.items[0].role_name, "Role1");
    assert!(second.next_token.is_none());

    // A roles token is refused on another account's roles or on the accounts listing.
    for r in [
        f.broker
            .list_account_roles(&caller, &acct("222222222222"), None, Some(&token))
            .await
            .map(|_| ()),
        f.broker
            .list_accounts(&caller, None, Some(&token))
            .await
            .map(|_| ()),
        f.broker
            .list_accounts(&caller, None, Some("garbage"))
            .await
            .map(|_| ()),
    ] {
        assert!(matches!(r, Err(BrokerError::InvalidRequest(_))), "{r:?}");
    }
    for bad in ["0", "101", "ten", "-1"] {
        let r = f.broker.list_accounts(&caller, Some(bad), None).await;
        assert!(matches!(r, Err(BrokerError::InvalidRequest(_))), "{bad}");
    }
    let r = f
        .broker
        .list_account_roles(&caller, &acct("444444444444"), None, None)
        .await;
    assert!(matches!(r, Err(BrokerError::NotFound(_))), "{r:?}");
    // A malformed or missing account id is refused at the edge (wire.rs), before the service.
}

#[tokio::test]
async fn credentials_only_for_roles_held() {
    let f = Fixture::new(BrokerConfig::default()).await;
    let a = f.account("111111111111").await;
    f.grant(&a, "Admin", 1).await;
    let other = f.account("222222222222").await;
    let caller = f.broker.authenticate(Some(TOKEN)).await.unwrap();
    for (account, role) in [("111111111111", "ReadOnly"), (other.as_str(), "Admin")] {
        let r = f
            .broker
            .get_role_credentials(&caller, &acct(account), &role_name(role))
            .await;
        assert!(
            matches!(r, Err(BrokerError::NotFound(_))),
            "{account}/{role}: {r:?}"
        );
    }
    // Malformed account ids and role names are refused at the edge: wire.rs's tests.
}

// ------------------------------------------------------------------------------------------
// SigV4 verification (signed here by a small independent signer written from the AWS
// documentation; the end-to-end suite signs with the AWS SDK's own signer and with boto3).

pub(crate) const BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

fn hmac(key: &[u8], data: &str) -> [u8; 32] {
    hmac_sha256(key, &[data.as_bytes()])
}

pub(crate) fn sign(
    akid: &str,
    secret: &str,
    token: &str,
    at: DateTime<Utc>,
    region: &str,
    body: &str,
) -> http::Request<Vec<u8>> {
    sign_for("sts", akid, secret, token, at, region, body)
}

/// A POST / signed for `service` (SigV4, from the AWS documentation's description).
pub(crate) fn sign_for(
    service: &str,
    akid: &str,
    secret: &str,
    token: &str,
    at: DateTime<Utc>,
    region: &str,
    body: &str,
) -> http::Request<Vec<u8>> {
    let amz_date = at.format("%Y%m%dT%H%M%SZ").to_string();
    let date = at.format("%Y%m%d").to_string();
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let signed = "content-type;host;x-amz-date;x-amz-security-token";
    let canonical = format!(
        "POST\n/\n\ncontent-type:{content_type}\nhost:localhost:8080\nx-amz-date:{amz_date}\n\
         x-amz-security-token:{token}\n\n{signed}\n{}",
        hex::encode(Sha256::digest(body.as_bytes()))
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), &date);
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part);
    }
    let signature = hex::encode(hmac(&key, &to_sign));
    http::Request::post("/")
        .header("content-type", content_type)
        .header("host", "localhost:8080")
        .header("x-amz-date", amz_date)
        .header("x-amz-security-token", token)
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={akid}/{scope}, SignedHeaders={signed}, Signature={signature}"
            ),
        )
        .body(body.as_bytes().to_vec())
        .unwrap()
}

#[tokio::test]
async fn signed_requests_name_their_caller_until_something_changes() {
    let f = Fixture::new(BrokerConfig::default()).await;
    let acct = f.account("123456789012").await;
    let assignment = f.grant(&acct, "Deploy", 1).await;
    let c = f.credentials("123456789012", "Deploy").await;
    let now = f.clock.now();
    let signed = |at, region: &str| {
        sign(
            &c.access_key_id,
            &c.secret_access_key,
            &c.session_token,
            at,
            region,
            BODY,
        )
    };

    // Any region, and within the skew either way.
    for (at, region) in [
        (now, "us-east-1"),
        (now - chrono::Duration::minutes(4), "eu-west-3"),
        (now + chrono::Duration::minutes(4), "ap-southeast-2"),
    ] {
        let id = f.broker.verify_request(signed(at, region)).await.unwrap();
        assert_eq!(
            id.arn,
            "arn:aws:sts::123456789012:assumed-role/Deploy/alice"
        );
        assert_eq!(id.account_id, acct);
        assert_eq!(id.user_id, f.user);
        assert!(id.aws_user_id.starts_with("AROA") && id.aws_user_id.ends_with(":alice"));
    }

    let code = |r: Result<crate::CallerIdentity, VerifyError>| r.map(|_| ()).unwrap_err().code();
    // Outside the skew.
    for at in [
        now - chrono::Duration::minutes(6),
        now + chrono::Duration::minutes(6),
    ] {
        assert_eq!(
            code(f.broker.verify_request(signed(at, "us-east-1")).await),
            "SignatureDoesNotMatch"
        );
    }
    // Wrong secret; altered body.
    let wrong = sign(
        &c.access_key_id,
        &"x".repeat(40),
        &c.session_token,
        now,
        "us-east-1",
        BODY,
    );
    assert_eq!(
        code(f.broker.verify_request(wrong).await),
        "SignatureDoesNotMatch"
    );
    let mut altered = signed(now, "us-east-1");
    *altered.body_mut() = b"Action=GetCallerIdentity&Version=2011-06-16".to_vec();
    assert_eq!(
        code(f.broker.verify_request(altered).await),
        "SignatureDoesNotMatch"
    );
    // A tampered token, another key's token, no signature at all.
    let mut t: Vec<char> = c.session_token.chars().collect();
    t[40] = if t[40] == 'A' { 'B' } else { 'A' };
    let t: String = t.into_iter().collect();
    let tampered = sign(
        &c.access_key_id,
        &c.secret_access_key,
        &t,
        now,
        "us-east-1",
        BODY,
    );
    assert_eq!(
        code(f.broker.verify_request(tampered).await),
        "InvalidClientTokenId"
    );
    let other = f.credentials("123456789012", "Deploy").await;
    let mixed = sign(
        &c.access_key_id,
        &c.secret_access_key,
        &other.session_token,
        now,
        "us-east-1",
        BODY,
    );
    assert_eq!(
        code(f.broker.verify_request(mixed).await),
        "InvalidClientTokenId"
    );
    let unsigned = http::Request::post("/")
        .header("host", "localhost")
        .body(BODY.as_bytes().to_vec())
        .unwrap();
    assert_eq!(
        code(f.broker.verify_request(unsigned).await),
        "MissingAuthenticationToken"
    );

    // The assignment is removed: refused on the very next request.
    f.directory
        .delete_assignment(Actor::System, &assignment)
        .await
        .unwrap();
    assert_eq!(
        code(f.broker.verify_request(signed(now, "us-east-1")).await),
        "AccessDenied"
    );
    f.directory
        .create_assignment(Actor::System, assignment)
        .await
        .unwrap();
    f.broker
        .verify_request(signed(now, "us-east-1"))
        .await
        .unwrap();

    // Expired: an hour later, even a freshly signed request is refused.
    f.clock.advance(chrono::Duration::minutes(61));
    let later = f.clock.now();
    assert_eq!(
        code(f.broker.verify_request(signed(later, "us-east-1")).await),
        "ExpiredToken"
    );
}
