//! The portal API's operations, free of HTTP: who is calling (from the SSO-OIDC access token),
//! what they hold (their entitlements, read afresh on every call), and the credentials they may
//! take. Each is a short linear function: load, check, check, answer.

use chrono::Duration;
use portcullis_auth::Principal;
use portcullis_auth::principal::live_user;
use portcullis_domain::{AccountId, AccountKind, Actor, NewAuditEvent, RoleName, User};
use portcullis_sessions::SessionId;
use portcullis_sessions::sso::{self, SsoAccess};
use portcullis_store::{Entitlement, StoreError};

use crate::Broker;
use crate::credentials::{RoleCredentials, SessionClaims, new_access_key_id};
use crate::error::BrokerError;
use crate::paging::{self, PageArgs};

/// The scope an access token needs for the portal API (as in AWS IAM Identity Center).
pub const PORTAL_SCOPE: &str = "sso:account:access";
/// Namespace of the per-token request counters.
const THROTTLE_NS: &str = "broker-throttle";

/// How a caller reached the broker: it names the issuance in the audit record (`clientId`) and
/// in the `via` attribute of `portcullis.credentials.issued`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// The portal's Access keys page, behind the browser's session cookie.
    PortalPage,
    /// The portal API (HTTP or gRPC) with an SSO-OIDC access token issued to `client_id`.
    PortalApi { client_id: String },
}

impl Channel {
    /// The client the audit record names: `portal` for the page, the token's client for the API.
    pub fn client_id(&self) -> &str {
        match self {
            Self::PortalPage => "portal",
            Self::PortalApi { client_id } => client_id,
        }
    }

    /// The metric's `via` attribute.
    pub fn via(&self) -> &'static str {
        match self {
            Self::PortalPage => "portal",
            Self::PortalApi { .. } => "api",
        }
    }
}

/// A live person calling the broker. Only [`Broker::authenticate`] (an access token) and
/// [`Broker::caller_for_page`] (a principal the portal resolved) make one, so every operation
/// that takes a `Caller` has checked the session and the person.
#[derive(Debug, Clone)]
pub struct Caller {
    user: User,
    session_id: SessionId,
    channel: Channel,
}

impl Caller {
    pub fn user(&self) -> &User {
        &self.user
    }
    /// How the caller reached the broker.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }
    /// The portal session the caller's token (or cookie) belongs to.
    pub fn session_id(&self) -> &SessionId {
        &self.session_id
    }
    /// The client the caller's credentials are issued to (see [`Channel::client_id`]).
    pub fn client_id(&self) -> &str {
        self.channel.client_id()
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    /// Opaque; give it back as `next_token` for the next page.
    pub next_token: Option<String>,
}

/// An account as `ListAccounts` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    pub account_id: String,
    pub account_name: String,
    pub email_address: String,
}

/// A role as `ListAccountRoles` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSummary {
    pub role_name: String,
    pub account_id: String,
}

fn not_held() -> BrokerError {
    BrokerError::NotFound(
        "No access: the account or role does not exist or is not assigned to you".into(),
    )
}

impl Broker {
    /// The caller behind an SSO-OIDC access token (`x-amz-sso_bearer_token`): the token must be
    /// live (its record, its family and its portal session), carry `sso:account:access`, and
    /// belong to an enabled person. Each call counts against the token's request budget.
    #[tracing::instrument(skip_all)]
    pub async fn authenticate(&self, bearer: Option<&str>) -> Result<Caller, BrokerError> {
        let token = bearer
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 1024)
            .ok_or_else(BrokerError::unauthorized)?;
        let now = self.clock.now();
        let budget = sso::Budget {
            ns: THROTTLE_NS,
            window: self.config.throttle_window,
        };
        let Some((
            SsoAccess {
                user_id,
                session_id,
                client_id,
                scopes,
                ..
            },
            count,
        )) = sso::live_access_counted(self.sessions.as_ref(), token, now, budget).await?
        else {
            return Err(BrokerError::unauthorized());
        };
        if !scopes.iter().any(|s| s == PORTAL_SCOPE) {
            return Err(BrokerError::Unauthorized(format!(
                "the access token was not granted {PORTAL_SCOPE}"
            )));
        }
        let user = live_user(self.directory.as_ref(), user_id)
            .await?
            .ok_or_else(BrokerError::unauthorized)?;
        if count > self.config.requests_per_window {
            return Err(BrokerError::TooManyRequests);
        }
        Ok(Caller {
            user,
            session_id,
            channel: Channel::PortalApi { client_id },
        })
    }

    /// The caller for the portal's own pages, from the person the portal already resolved from
    /// the session cookie (`portcullis_auth`: the session is live and its person enabled). Issued
    /// credentials are audited with client `portal`. Not throttled: the portal pages are behind
    /// the session and CSRF checks.
    pub fn caller_for_page(&self, principal: &Principal) -> Caller {
        Caller {
            user: principal.user.clone(),
            session_id: principal.session.id.clone(),
            channel: Channel::PortalPage,
        }
    }

    /// `ListAccounts`: the accounts the caller holds at least one role in, by account id.
    #[tracing::instrument(skip_all, fields(user = %caller.user.id))]
    pub async fn list_accounts(
        &self,
        caller: &Caller,
        max_result: Option<&str>,
        next_token: Option<&str>,
    ) -> Result<Listing<AccountSummary>, BrokerError> {
        const LISTING: &str = "accounts";
        let user = caller.user.id;
        let args = PageArgs::parse(&self.keys, LISTING, user, max_result, next_token)?;
        let mut ids: Vec<AccountId> = self
            .directory
            .user_entitlements(user)
            .await?
            .into_iter()
            .map(|e| e.account_id)
            .filter(|id| args.after.as_deref().is_none_or(|a| id.as_str() > a))
            .collect();
        ids.sort();
        ids.dedup();
        let (ids, next_token) = paging::page(&self.keys, LISTING, user, ids, args.size, |id| {
            id.to_string()
        });
        // One query for the page; an account deleted since the entitlements were read is left
        // out (it is no longer held).
        let items = self
            .directory
            .get_accounts(&ids)
            .await?
            .into_iter()
            .map(|a| AccountSummary {
                account_id: a.id.to_string(),
                account_name: a.name.to_string(),
                email_address: a.email.to_string(),
            })
            .collect();
        Ok(Listing { items, next_token })
    }

    /// `ListAccountRoles`: the caller's roles in one account, by name. `ResourceNotFound` when
    /// they hold none there.
    #[tracing::instrument(skip_all, fields(user = %caller.user.id))]
    pub async fn list_account_roles(
        &self,
        caller: &Caller,
        account: &AccountId,
        max_result: Option<&str>,
        next_token: Option<&str>,
    ) -> Result<Listing<RoleSummary>, BrokerError> {
        let listing = format!("roles:{account}");
        let user = caller.user.id;
        let args = PageArgs::parse(&self.keys, &listing, user, max_result, next_token)?;
        let held: Vec<RoleName> = self
            .directory
            .user_entitlements(user)
            .await?
            .into_iter()
            .filter(|e| &e.account_id == account)
            .map(|e| e.role_name)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if held.is_empty() {
            return Err(not_held());
        }
        let after: Vec<RoleName> = held
            .into_iter()
            .filter(|r| args.after.as_deref().is_none_or(|a| r.as_str() > a))
            .collect();
        let (roles, next_token) = paging::page(&self.keys, &listing, user, after, args.size, |r| {
            r.to_string()
        });
        Ok(Listing {
            items: roles
                .into_iter()
                .map(|r| RoleSummary {
                    role_name: r.to_string(),
                    account_id: account.to_string(),
                })
                .collect(),
            next_token,
        })
    }

    /// `GetRoleCredentials`: credentials for `role_name` in `account_id`, living as long as the
    /// permission set's session duration. Audited (never with the secret or token); when the
    /// audit record cannot be written, no credentials are issued.
    #[tracing::instrument(skip_all, fields(user = %caller.user.id, account = %account, role = %role))]
    pub async fn get_role_credentials(
        &self,
        caller: &Caller,
        account: &AccountId,
        role: &RoleName,
    ) -> Result<RoleCredentials, BrokerError> {
        let entitlement = self
            .entitlement(caller, account, role)
            .await?
            .ok_or_else(not_held)?;
        let kind = match self.directory.get_account(account).await {
            Ok(a) => a.kind,
            Err(StoreError::NotFound(_)) => return Err(not_held()),
            Err(e) => return Err(e.into()),
        };
        let permission_set = match self
            .directory
            .get_permission_set(entitlement.permission_set_id)
            .await
        {
            Ok(ps) => ps,
            Err(StoreError::NotFound(_)) => return Err(not_held()),
            Err(e) => return Err(e.into()),
        };
        // A real cloud's credentials come from its own STS: native ones would mean nothing there.
        if let AccountKind::Aws(aws) = kind {
            return self
                .cloud_credentials(caller, account, role, &aws, &permission_set)
                .await;
        }
        let now = self.clock.now();
        let lifetime = Duration::seconds(
            i64::try_from(permission_set.session_duration.seconds()).unwrap_or(3_600),
        );
        let claims = SessionClaims {
            account_id: account.clone(),
            role_name: role.clone(),
            permission_set_id: permission_set.id,
            user_id: caller.user.id,
            user_name: caller.user.user_name.clone(),
            access_key_id: new_access_key_id(),
            issued_at_ms: now.timestamp_millis(),
            expires_at_ms: (now + lifetime).timestamp_millis(),
            client_id: caller.client_id().to_owned(),
        };
        let credentials = self.keys.mint(&claims);
        // Shares its commit with concurrent issuances; returns only once the record is durable.
        self.audit.record(issuance_event(&claims)).await?;
        tracing::info!(access_key_id = %claims.access_key_id, "role credentials issued");
        self.issued.add(
            1,
            &[opentelemetry::KeyValue::new("via", caller.channel.via())],
        );
        Ok(credentials)
    }

    /// `Logout`: ends the portal session behind the caller's token (and so every token derived
    /// from it). Credentials already issued run to their expiry.
    #[tracing::instrument(skip_all, fields(user = %caller.user.id))]
    pub async fn logout(&self, caller: &Caller) -> Result<(), BrokerError> {
        self.sessions
            .revoke_session(caller.user.id, &caller.session_id)
            .await?;
        Ok(())
    }

    /// Whether the caller holds `role` in `account` now (directly or through a group);
    /// `ResourceNotFound` when not — the same whether the account or role exists.
    #[tracing::instrument(skip_all, fields(user = %caller.user.id, account = %account, role = %role))]
    pub async fn check_held(
        &self,
        caller: &Caller,
        account: &AccountId,
        role: &RoleName,
    ) -> Result<(), BrokerError> {
        self.entitlement(caller, account, role)
            .await?
            .map(|_| ())
            .ok_or_else(not_held)
    }

    /// The caller's entitlement to `role` in `account`, if they hold it now.
    async fn entitlement(
        &self,
        caller: &Caller,
        account: &AccountId,
        role: &RoleName,
    ) -> Result<Option<Entitlement>, BrokerError> {
        Ok(self
            .directory
            .user_entitlements(caller.user.id)
            .await?
            .into_iter()
            .find(|e| &e.account_id == account && &e.role_name == role))
    }
}

/// The audit record of an issuance: person, account, role, access key id, expiry, client.
fn issuance_event(c: &SessionClaims) -> NewAuditEvent {
    let expires = chrono::DateTime::from_timestamp_millis(c.expires_at_ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    NewAuditEvent::new(
        Actor::User(c.user_id),
        "broker.credentials.issue",
        format!("account:{}", c.account_id),
    )
    .with_details(
        serde_json::json!({
            "userId": c.user_id.to_string(),
            "userName": c.user_name.as_str(),
            "accountId": c.account_id.as_str(),
            "roleName": c.role_name.as_str(),
            "permissionSetId": c.permission_set_id.to_string(),
            "accessKeyId": c.access_key_id,
            "expiration": expires,
            "clientId": c.client_id,
        })
        .to_string(),
    )
}
