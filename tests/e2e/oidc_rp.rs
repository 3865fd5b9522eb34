//! A relying party built on the `openidconnect` crate over the tests' reqwest client. The test
//! server's public URL is the default `http://localhost:8080` while it listens on
//! `127.0.0.1:{port}`: the HTTP client maps the one onto the other, as a reverse proxy would, so
//! the issuer and every endpoint the provider advertises are used as published.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim, CoreGrantType,
    CoreIdTokenVerifier, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType, CoreTokenResponse,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AdditionalClaims, AdditionalProviderMetadata, AsyncHttpClient,
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, DeviceAuthorizationUrl, EndSessionUrl,
    EndpointSet, HttpClientError, HttpRequest, HttpResponse, IdToken, IdTokenClaims,
    IntrospectionUrl, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    ProviderMetadata, RedirectUrl, RefreshToken, RequestTokenError, RevocationUrl, Scope,
    SubjectIdentifier, TokenResponse, UserInfoClaims,
};
use portcullis_sessions::{Clock, ManualClock};
use portcullis_testkit::{Browser, Page};
use serde::{Deserialize, Serialize};

use crate::helpers::TestApp;

use crate::oidc_support::*;

/// The `openidconnect` crate's HTTP client: the tests' reqwest client (no redirects followed), with
/// requests to the issuer's URL sent to the test server.
#[derive(Debug, Clone)]
pub struct RpHttp {
    client: reqwest::Client,
    base: String,
}

impl RpHttp {
    pub fn new(app: &TestApp) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: app.base.clone(),
        }
    }
}

impl<'c> AsyncHttpClient<'c> for RpHttp {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let uri = parts.uri.to_string();
            if let Some(rest) = uri.strip_prefix(ISSUER) {
                parts.uri = format!("{}{rest}", self.base)
                    .parse()
                    .map_err(|e| HttpClientError::Other(format!("{e}")))?;
            }
            let request =
                reqwest::Request::try_from(openidconnect::http::Request::from_parts(parts, body))
                    .map_err(Box::new)?;
            let response = self.client.execute(request).await.map_err(Box::new)?;
            let mut builder = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            builder
                .body(response.bytes().await.map_err(Box::new)?.to_vec())
                .map_err(HttpClientError::Http)
        })
    }
}

/// Discovery fields beyond OpenID Connect Discovery 1.0 that these tests rely on: RP-initiated
/// logout, RFC 7009, RFC 7662 and RFC 8628 endpoints. Required here, so discovery fails without
/// them.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MoreMetadata {
    pub end_session_endpoint: EndSessionUrl,
    pub revocation_endpoint: RevocationUrl,
    pub introspection_endpoint: IntrospectionUrl,
    pub device_authorization_endpoint: DeviceAuthorizationUrl,
}

impl AdditionalProviderMetadata for MoreMetadata {}

pub type Metadata = ProviderMetadata<
    MoreMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// A client with every endpoint the provider publishes.
pub type RpClient =
    CoreClient<EndpointSet, EndpointSet, EndpointSet, EndpointSet, EndpointSet, EndpointSet>;

/// The `groups` claim (scope `groups`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Groups {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

impl AdditionalClaims for Groups {}

pub type GroupsIdToken =
    IdToken<Groups, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// The crate's error for a failed token request (`ServerResponse`'s `error`).
pub type TokenError = CoreErrorResponseType;

/// A relying party for one client.
pub struct Rp {
    pub client: RpClient,
    pub http: RpHttp,
    pub metadata: Metadata,
    clock: Arc<ManualClock>,
}

/// What a finished code flow left the relying party with.
pub struct Signin {
    pub tokens: CoreTokenResponse,
    pub nonce: Nonce,
}

impl Signin {
    pub fn access_token(&self) -> &AccessToken {
        self.tokens.access_token()
    }
    pub fn refresh_token(&self) -> &RefreshToken {
        self.tokens.refresh_token().expect("a refresh token")
    }
    pub fn id_token(&self) -> String {
        self.tokens.id_token().expect("an ID token").to_string()
    }
}

impl Rp {
    /// Discovers the provider and registers `client` with redirect URI `REDIRECT`.
    pub async fn discover(app: &TestApp, client: &OidcApp) -> Self {
        Self::discover_for(app, client, REDIRECT).await
    }

    pub async fn discover_for(app: &TestApp, client: &OidcApp, redirect_uri: &str) -> Self {
        let http = RpHttp::new(app);
        let metadata =
            Metadata::discover_async(IssuerUrl::new(ISSUER.into()).expect("issuer"), &http)
                .await
                .unwrap_or_else(|e| panic!("discovery: {e:?}"));
        let extra = metadata.additional_metadata().clone();
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(client.client_id.clone()),
            client.secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(redirect_uri.into()).expect("redirect"))
        .set_token_uri(metadata.token_endpoint().cloned().expect("token_endpoint"))
        .set_user_info_url(
            metadata
                .userinfo_endpoint()
                .cloned()
                .expect("userinfo_endpoint"),
        )
        .set_revocation_url(extra.revocation_endpoint)
        .set_introspection_url(extra.introspection_endpoint)
        .set_device_authorization_url(extra.device_authorization_endpoint);
        Self {
            client,
            http,
            metadata,
            clock: app.clock.clone(),
        }
    }

    /// Authenticates with `client_secret_post` instead of the default `client_secret_basic`.
    pub fn posting_the_secret(mut self) -> Self {
        self.client = self
            .client
            .set_auth_type(openidconnect::AuthType::RequestBody);
        self
    }

    /// The crate's ID-token verifier (signature against the discovered JWKS, `iss`, `aud`,
    /// algorithms from discovery), on the server's clock.
    pub fn verifier(&self) -> CoreIdTokenVerifier<'_> {
        let clock = self.clock.clone();
        self.client
            .id_token_verifier()
            .set_time_fn(move || clock.now())
    }

    /// An authorization URL (code flow, PKCE S256, fresh state and nonce) for `scopes` beyond
    /// `openid`, with `extra` parameters: the URL, its state and nonce, and the PKCE verifier.
    pub fn auth_url(
        &self,
        scopes: &[&str],
        extra: &[(&str, &str)],
    ) -> (String, CsrfToken, Nonce, PkceCodeVerifier) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for s in scopes {
            req = req.add_scope(Scope::new((*s).to_owned()));
        }
        for (k, v) in extra {
            req = req.add_extra_param(*k, *v);
        }
        let (url, state, nonce) = req.url();
        assert!(url.as_str().starts_with(ISSUER), "{url}");
        (url.into(), state, nonce, verifier)
    }

    /// The code in a redirect to this client, after checking its `state`.
    pub fn code_from(&self, page: &Page, state: &CsrfToken) -> AuthorizationCode {
        let redirect = self
            .client
            .redirect_uri()
            .expect("redirect uri")
            .to_string();
        let p = callback(page, &redirect);
        assert_eq!(p.get("state"), Some(state.secret()), "{p:?}");
        AuthorizationCode::new(
            p.get("code")
                .cloned()
                .unwrap_or_else(|| panic!("no code: {p:?}")),
        )
    }

    pub async fn redeem(
        &self,
        code: AuthorizationCode,
        verifier: PkceCodeVerifier,
    ) -> CoreTokenResponse {
        self.client
            .exchange_code(code)
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .unwrap_or_else(|e| panic!("code redemption: {}", describe(&e)))
    }

    /// A whole code flow by a browser already signed in to the portal.
    pub async fn sign_in(&self, b: &Browser, scopes: &[&str]) -> Signin {
        let (url, state, nonce, verifier) = self.auth_url(scopes, &[]);
        let page = follow(b, &url).await;
        let code = self.code_from(&page, &state);
        Signin {
            tokens: self.redeem(code, verifier).await,
            nonce,
        }
    }

    /// The ID token verified by the crate (signature, `iss`, `aud`, `exp`, nonce) and its
    /// `at_hash` checked against the access token with the crate's hash for the key's algorithm.
    pub fn id_claims(&self, s: &Signin) -> IdTokenClaims<Groups, CoreGenderClaim> {
        let id: GroupsIdToken = s.id_token().parse().expect("an ID token");
        let verifier = self.verifier();
        let claims = id
            .claims(&verifier, &s.nonce)
            .unwrap_or_else(|e| panic!("ID token: {e:?}"))
            .clone();
        let at_hash = claims.access_token_hash().expect("at_hash");
        let alg = id.signing_alg().expect("signing alg");
        let key = id.signing_key(&verifier).expect("signing key");
        let expected = AccessTokenHash::from_token(s.access_token(), alg, key).expect("at_hash");
        assert_eq!(at_hash, &expected, "at_hash");
        claims
    }

    /// A refresh: the new tokens, or the OAuth error the server answered.
    pub async fn refresh(&self, token: &RefreshToken) -> Result<CoreTokenResponse, TokenError> {
        match self
            .client
            .exchange_refresh_token(token)
            .request_async(&self.http)
            .await
        {
            Ok(t) => Ok(t),
            Err(RequestTokenError::ServerResponse(e)) => Err(e.error().clone()),
            Err(e) => panic!("refresh: {}", describe(&e)),
        }
    }

    /// Userinfo by GET through the crate, expecting `sub`.
    pub async fn userinfo(
        &self,
        token: &AccessToken,
        sub: &SubjectIdentifier,
    ) -> UserInfoClaims<Groups, CoreGenderClaim> {
        self.client
            .user_info(token.clone(), Some(sub.clone()))
            .request_async(&self.http)
            .await
            .unwrap_or_else(|e| panic!("userinfo: {e:?}"))
    }
}

/// A token-request error with what the server said.
pub fn describe<RE: std::error::Error + 'static, T: openidconnect::ErrorResponse>(
    e: &RequestTokenError<RE, T>,
) -> String {
    match e {
        RequestTokenError::ServerResponse(r) => format!("server said {r:?}"),
        RequestTokenError::Parse(err, body) => {
            format!("{err}: {}", String::from_utf8_lossy(body))
        }
        other => format!("{other:?}"),
    }
}
