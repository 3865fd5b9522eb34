//! The OpenID Connect provider as relying parties use it, driven by the `openidconnect` crate:
//! discovery and JWKS, code + PKCE, ID and access tokens (RS256, ES256, EdDSA), userinfo,
//! refresh rotation, single sign-on, `prompt=none`, `form_post`, RP-initiated logout,
//! revocation and introspection, client credentials, public clients, both secret methods,
//! loopback redirects, sessions ended by an administrator. The device flow is in
//! `oidc_device.rs`; what must be refused is in `oidc_negative.rs`.

use std::collections::BTreeSet;

use openidconnect::core::{
    CoreClientAuthMethod, CoreGrantType, CoreIdToken, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreResponseType, CoreSubjectIdentifierType, CoreTokenResponse,
    CoreTokenType,
};
use openidconnect::{
    Audience, AuthType, CsrfToken, IssuerUrl, LogoutRequest, OAuth2TokenResponse,
    PostLogoutRedirectUrl, ResponseTypes, Scope, TokenIntrospectionResponse, TokenResponse,
};
use portcullis_sessions::Clock;
use portcullis_testkit::Browser;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::oidc_support::*;
use crate::on_both_backends;

on_both_backends!(
    discovery_and_jwks_describe_the_provider,
    code_flow_signs_in_on_the_way_and_the_id_token_verifies,
    claims_follow_the_scopes_and_sub_is_stable,
    the_access_token_is_an_rfc9068_jwt,
    es256_applications_get_es256_tokens,
    eddsa_applications_get_eddsa_tokens,
    userinfo_answers_get_and_post,
    single_sign_on_skips_the_sign_in_page,
    prompt_none_without_a_session_is_login_required,
    form_post_posts_code_and_state_to_the_client,
    rp_initiated_logout_ends_the_session_and_its_tokens,
    revocation_and_introspection,
    client_credentials_with_scopes_and_audience,
    public_client_code_flow_with_pkce,
    client_secret_post_and_basic_are_both_accepted,
    loopback_redirect_accepts_any_port,
    admin_ending_the_sessions_ends_the_tokens,
);

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

async fn discovery_and_jwks_describe_the_provider(app: TestApp) {
    let http = RpHttp::new(&app);
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(ISSUER.into()).expect("issuer"), &http)
            .await
            .unwrap_or_else(|e| panic!("discovery: {e:?}"));
    let at = |path: &str| format!("{ISSUER}{path}");
    assert_eq!(meta.issuer().as_str(), ISSUER);
    assert_eq!(
        meta.authorization_endpoint().as_str(),
        at("/oauth2/authorize")
    );
    assert_eq!(
        meta.token_endpoint().map(|u| u.as_str().to_owned()),
        Some(at("/oauth2/token"))
    );
    assert_eq!(
        meta.userinfo_endpoint().map(|u| u.as_str().to_owned()),
        Some(at("/oauth2/userinfo"))
    );
    assert_eq!(meta.jwks_uri().as_str(), at("/oauth2/jwks"));
    assert_eq!(
        meta.response_types_supported(),
        &vec![ResponseTypes::new(vec![CoreResponseType::Code])]
    );
    assert_eq!(
        meta.subject_types_supported(),
        &vec![CoreSubjectIdentifierType::Public]
    );
    let algs = meta.id_token_signing_alg_values_supported();
    for alg in [
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::EdDsa,
    ] {
        assert!(algs.contains(&alg), "{alg:?} in {algs:?}");
    }
    let methods = meta
        .token_endpoint_auth_methods_supported()
        .expect("token_endpoint_auth_methods_supported");
    for m in [
        CoreClientAuthMethod::ClientSecretBasic,
        CoreClientAuthMethod::ClientSecretPost,
        CoreClientAuthMethod::None,
    ] {
        assert!(methods.contains(&m), "{m:?} in {methods:?}");
    }
    let grants = meta.grant_types_supported().expect("grant_types_supported");
    for g in [
        CoreGrantType::AuthorizationCode,
        CoreGrantType::RefreshToken,
        CoreGrantType::ClientCredentials,
        CoreGrantType::DeviceCode,
    ] {
        assert!(grants.contains(&g), "{g:?} in {grants:?}");
    }

    // What the crate's core metadata does not model, read from the document itself.
    let doc: Value = app
        .client
        .get(format!("{}/.well-known/openid-configuration", app.base))
        .send()
        .await
        .expect("GET discovery")
        .json()
        .await
        .expect("JSON");
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert!(strings(&doc["response_modes_supported"]).is_superset(&set(&["query", "form_post"])));
    assert!(
        strings(&doc["scopes_supported"])
            .is_superset(&set(&["openid", "profile", "email", "groups"]))
    );
    assert_eq!(doc["end_session_endpoint"], at("/oauth2/logout"));
    assert_eq!(doc["revocation_endpoint"], at("/oauth2/revoke"));
    assert_eq!(doc["introspection_endpoint"], at("/oauth2/introspect"));
    assert_eq!(
        doc["device_authorization_endpoint"],
        at("/oauth2/device_authorization")
    );

    // Every key is a public signing key with a kid and an algorithm; one per algorithm at least.
    let jwks: Value = app
        .client
        .get(format!("{}/oauth2/jwks", app.base))
        .send()
        .await
        .expect("GET jwks")
        .json()
        .await
        .expect("JSON");
    let keys = jwks["keys"].as_array().expect("keys");
    let mut seen = BTreeSet::new();
    for k in keys {
        assert!(k["kid"].is_string(), "{k}");
        assert_eq!(k["use"], "sig", "{k}");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(k.get(private).is_none(), "no private member {private}: {k}");
        }
        let alg = k["alg"].as_str().expect("alg");
        match alg {
            "RS256" => assert_eq!(k["kty"], "RSA", "{k}"),
            "ES256" => assert_eq!((&k["kty"], &k["crv"]), (&json!("EC"), &json!("P-256"))),
            "EdDSA" => assert_eq!((&k["kty"], &k["crv"]), (&json!("OKP"), &json!("Ed25519"))),
            other => panic!("unexpected algorithm {other}"),
        }
        seen.insert(alg.to_owned());
    }
    assert_eq!(seen, set(&["RS256", "ES256", "EdDSA"]));
    assert_eq!(
        meta.jwks().keys().len(),
        keys.len(),
        "the crate read every key"
    );
}

async fn code_flow_signs_in_on_the_way_and_the_id_token_verifies(app: TestApp) {
    mfa_off(&app).await;
    let user = person(&app, "ada").await;
    let client = create_app(&app, "Wiki", registration(json!({}))).await;
    assign(&app, &client, "USER", &user).await;
    let rp = Rp::discover(&app, &client).await;

    // An anonymous browser is sent to sign in, and comes back to the authorization request.
    let b = Browser::new(&app.base);
    let (url, state, nonce, verifier) = rp.auth_url(&["profile", "email"], &[]);
    let start = follow(&b, &url).await;
    let signed_at = app.clock.now();
    let done = sign_in_on_the_way(&b, &start, "ada").await;
    assert_eq!(done.status, 303, "{done:?}");
    let back = done.location.clone().expect("location");
    assert!(back.starts_with("/oauth2/authorize?"), "{back}");
    // Time passes between the sign-in and the redirect: auth_time is the sign-in's.
    wait(&app, 30);
    let page = follow(&b, &back).await;
    let code = rp.code_from(&page, &state);
    let s = Signin {
        tokens: rp.redeem(code, verifier).await,
        nonce,
    };
    assert_eq!(s.tokens.token_type(), &CoreTokenType::Bearer);
    assert_eq!(
        s.tokens.expires_in(),
        Some(std::time::Duration::from_secs(3600))
    );
    assert!(s.tokens.refresh_token().is_some());

    let claims = rp.id_claims(&s);
    assert_eq!(claims.issuer().as_str(), ISSUER);
    assert_eq!(
        claims.audiences(),
        &vec![Audience::new(client.client_id.clone())]
    );
    assert_eq!(
        claims.auth_time().map(|t| t.timestamp()),
        Some(signed_at.timestamp())
    );
    assert_eq!(claims.issue_time().timestamp(), app.clock.now().timestamp());
    assert_eq!(
        claims.expiration().timestamp() - claims.issue_time().timestamp(),
        3600
    );
    let amr: Vec<String> = claims
        .auth_method_refs()
        .expect("amr")
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(amr, ["pwd"]);
    assert_eq!(claims.email().map(|e| e.as_str()), Some("ada@example.com"));
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some("ada"));
}

async fn claims_follow_the_scopes_and_sub_is_stable(app: TestApp) {
    mfa_off(&app).await;
    let created = app
        .post(
            "users",
            json!({"userName": "ada", "email": "ada@example.com", "givenName": "Ada", "familyName": "Lovelace"}),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let user = created.body["userId"].as_str().expect("userId").to_owned();
    app.set_password(&user, PASSWORD).await;
    let group = app.group("Engineers").await;
    assert_eq!(
        app.put(&format!("groups/{group}/members/{user}"), None)
            .await
            .status,
        204
    );
    let client = create_app(&app, "Wiki", registration(json!({}))).await;
    // Assigned through her group.
    assign(&app, &client, "GROUP", &group).await;
    let rp = Rp::discover(&app, &client).await;

    let first = rp
        .sign_in(
            &signed_in(&app, "ada").await,
            &["profile", "email", "groups"],
        )
        .await;
    let c = rp.id_claims(&first);
    assert_eq!(c.email().map(|e| e.as_str()), Some("ada@example.com"));
    assert_eq!(c.preferred_username().map(|u| u.as_str()), Some("ada"));
    assert_eq!(
        c.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("Ada Lovelace")
    );
    assert_eq!(
        c.given_name().and_then(|g| g.get(None)).map(|g| g.as_str()),
        Some("Ada")
    );
    assert_eq!(
        c.family_name()
            .and_then(|f| f.get(None))
            .map(|f| f.as_str()),
        Some("Lovelace")
    );
    assert_eq!(
        c.additional_claims().groups.as_deref(),
        Some(&["Engineers".to_owned()][..])
    );
    // Userinfo says the same.
    let info = rp.userinfo(first.access_token(), c.subject()).await;
    assert_eq!(info.email().map(|e| e.as_str()), Some("ada@example.com"));
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("ada"));
    assert_eq!(
        info.additional_claims().groups.as_deref(),
        Some(&["Engineers".to_owned()][..])
    );

    // A second sign-in in another browser: the same subject; only `openid`, so no other claims.
    let second = rp.sign_in(&signed_in(&app, "ada").await, &[]).await;
    let d = rp.id_claims(&second);
    assert_eq!(d.subject(), c.subject());
    assert!(d.email().is_none(), "no email scope");
    assert!(
        d.preferred_username().is_none() && d.name().is_none(),
        "no profile scope"
    );
    assert!(d.additional_claims().groups.is_none(), "no groups scope");
}

async fn the_access_token_is_an_rfc9068_jwt(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let rp = Rp::discover(&app, &w.client).await;
    let s = rp.sign_in(&w.browser, &["profile", "email"]).await;
    let id = rp.id_claims(&s);
    let at = verified_access_token(
        &app,
        s.access_token().secret(),
        "RS256",
        &w.client.client_id,
    )
    .await;
    assert_eq!(at["iss"], ISSUER);
    assert!(audience_is(&at, &w.client.client_id), "{at}");
    assert_eq!(at["sub"], id.subject().as_str());
    assert_eq!(at["client_id"], w.client.client_id.as_str());
    assert_eq!(
        scopes(at["scope"].as_str().expect("scope")),
        set(&["openid", "profile", "email"])
    );
    assert_eq!(
        at["exp"].as_i64().expect("exp") - at["iat"].as_i64().expect("iat"),
        3600
    );
    assert!(at["jti"].is_string(), "{at}");
    // The grant's token family (docs/design/oidc.md).
    assert!(at["sid"].is_string(), "{at}");

    // The ID token is typed JWT, not at+jwt, and is no access token.
    let (id_header, _) = jwt(&s.id_token());
    assert_eq!(id_header["typ"], "JWT");
    assert_userinfo_refuses(&app, &s.id_token()).await;
}

/// A sign-in with an application registered for `alg`: the crate verifies the ID token with the
/// JWKS key of that algorithm (openidconnect 4 supports ES256 and Ed25519 EdDSA; its `at_hash`
/// for EdDSA is the left half of SHA-512), and jsonwebtoken verifies the access token.
async fn signs_with(app: TestApp, alg: &str) {
    let w = wiki(&app, json!({"signingAlgorithm": alg})).await;
    let rp = Rp::discover(&app, &w.client).await;
    let s = rp.sign_in(&w.browser, &["profile"]).await;
    let (header, _) = jwt(&s.id_token());
    assert_eq!(header["alg"], alg);
    let id = rp.id_claims(&s);
    let at = verified_access_token(&app, s.access_token().secret(), alg, &w.client.client_id).await;
    assert_eq!(at["sub"], id.subject().as_str());
    // Refreshed tokens are signed the same way.
    let next = rp.refresh(s.refresh_token()).await.expect("refresh");
    verified_access_token(&app, next.access_token().secret(), alg, &w.client.client_id).await;
}

async fn es256_applications_get_es256_tokens(app: TestApp) {
    signs_with(app, "ES256").await;
}

async fn eddsa_applications_get_eddsa_tokens(app: TestApp) {
    signs_with(app, "EdDSA").await;
}

async fn userinfo_answers_get_and_post(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let rp = Rp::discover(&app, &w.client).await;
    let s = rp.sign_in(&w.browser, &["profile", "email"]).await;
    let id = rp.id_claims(&s);
    let info = rp.userinfo(s.access_token(), id.subject()).await;
    assert_eq!(info.email().map(|e| e.as_str()), Some("ada@example.com"));
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("ada"));

    // POST (OpenID Connect Core §5.3.1); the crate only uses GET.
    let post = Reply::read(
        app.client
            .post(format!("{}/oauth2/userinfo", app.base))
            .bearer_auth(s.access_token().secret())
            .send()
            .await
            .expect("POST userinfo"),
    )
    .await;
    assert_eq!(post.status, 200, "{post:?}");
    assert!(
        post.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{post:?}"
    );
    assert_eq!(post.body["sub"], id.subject().as_str());
    assert_eq!(post.body["email"], "ada@example.com");
    assert_eq!(post.body["preferred_username"], "ada");

    // Without a token: a bare Bearer challenge (RFC 6750 §3.1); with a bad one: invalid_token.
    let bare = Reply::read(
        app.client
            .get(format!("{}/oauth2/userinfo", app.base))
            .send()
            .await
            .expect("GET userinfo"),
    )
    .await;
    assert_eq!(bare.status, 401, "{bare:?}");
    assert!(
        bare.header("www-authenticate")
            .is_some_and(|c| c.starts_with("Bearer")),
        "{bare:?}"
    );
    assert_userinfo_refuses(&app, "not-a-token").await;
}

async fn single_sign_on_skips_the_sign_in_page(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let chat = create_app(&app, "Chat", registration(json!({}))).await;
    assign(&app, &chat, "USER", &w.user_id).await;
    let mut auth_times = Vec::new();
    for client in [&w.client, &chat] {
        let rp = Rp::discover(&app, client).await;
        let (url, state, nonce, verifier) = rp.auth_url(&[], &[]);
        // One request, answered by the redirect to the client: no sign-in page in between.
        let page = w.browser.get(&ours(&url, &app.base).expect("ours")).await;
        let code = rp.code_from(&page, &state);
        let s = Signin {
            tokens: rp.redeem(code, verifier).await,
            nonce,
        };
        auth_times.push(rp.id_claims(&s).auth_time());
    }
    assert!(auth_times[0].is_some());
    assert_eq!(
        auth_times[0], auth_times[1],
        "one portal session, one sign-in"
    );
}

async fn prompt_none_without_a_session_is_login_required(app: TestApp) {
    mfa_off(&app).await;
    let user = person(&app, "ada").await;
    let client = create_app(&app, "Wiki", registration(json!({}))).await;
    assign(&app, &client, "USER", &user).await;
    let rp = Rp::discover(&app, &client).await;

    let (url, state, _, _) = rp.auth_url(&[], &[("prompt", "none")]);
    let anonymous = Browser::new(&app.base);
    let page = anonymous.get(&ours(&url, &app.base).expect("ours")).await;
    let p = callback(&page, REDIRECT);
    assert_eq!(
        p.get("error").map(String::as_str),
        Some("login_required"),
        "{p:?}"
    );
    assert_eq!(p.get("state"), Some(state.secret()));
    assert!(!p.contains_key("code"));

    // With a portal session, prompt=none answers with a code.
    let b = signed_in(&app, "ada").await;
    let (url, state, nonce, verifier) = rp.auth_url(&[], &[("prompt", "none")]);
    let page = b.get(&ours(&url, &app.base).expect("ours")).await;
    let code = rp.code_from(&page, &state);
    let s = Signin {
        tokens: rp.redeem(code, verifier).await,
        nonce,
    };
    rp.id_claims(&s);
}

async fn form_post_posts_code_and_state_to_the_client(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let pkce = Pkce::new();
    let path = authorize_path(&with(
        code_params(&w.client.client_id, &pkce),
        "response_mode",
        "form_post",
    ));
    let resp = w
        .browser
        .client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .expect("GET authorize");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.headers().get("location").is_none());
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(header("content-type").starts_with("text/html"));
    assert_eq!(header("cache-control"), "no-store");
    // If the page has a CSP that restricts form targets, it must let the form reach the client.
    let csp = header("content-security-policy");
    if csp.contains("form-action") {
        assert!(csp.contains("https://wiki.example.com"), "{csp}");
    }
    let page = portcullis_testkit::Page {
        status: 200,
        location: None,
        body: resp.text().await.expect("body"),
    };
    assert!(page.body.contains("method=\"post\""), "{}", page.body);
    assert!(
        page.body.contains(&format!("action=\"{REDIRECT}\"")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<script"),
        "auto-submitting: {}",
        page.body
    );
    let field = |name: &str| page.value(name);
    assert_eq!(field("state").as_deref(), Some(STATE));
    let code = field("code").expect("a code field");
    assert_tokens(&redeem(&app, &w.client, &code, &pkce.verifier).await);
}

async fn rp_initiated_logout_ends_the_session_and_its_tokens(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let rp = Rp::discover(&app, &w.client).await;
    let s = rp.sign_in(&w.browser, &["profile"]).await;
    rp.id_claims(&s);
    let end = rp
        .metadata
        .additional_metadata()
        .end_session_endpoint
        .clone();
    let id_token: CoreIdToken = s.id_token().parse().expect("ID token");
    let url = LogoutRequest::from(end)
        .set_id_token_hint(&id_token)
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(POST_LOGOUT.into()).expect("url"))
        .set_state(CsrfToken::new("bye-7c1".into()))
        .http_get_url();
    let page = w
        .browser
        .get(&ours(url.as_str(), &app.base).expect("ours"))
        .await;
    assert!(matches!(page.status, 302 | 303), "{page:?}");
    assert_eq!(
        page.location.as_deref(),
        Some(format!("{POST_LOGOUT}?state=bye-7c1").as_str())
    );
    let portal = w.browser.get("/portal").await;
    assert_eq!(portal.status, 303, "{portal:?}");
    assert!(
        portal
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("/start")),
        "{portal:?}"
    );
    assert_eq!(
        rp.refresh(s.refresh_token()).await.err(),
        Some(TokenError::InvalidGrant)
    );
    assert_userinfo_refuses(&app, s.access_token().secret()).await;
}

async fn revocation_and_introspection(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let rp = Rp::discover(&app, &w.client).await;
    let s = rp.sign_in(&w.browser, &["profile"]).await;
    let id = rp.id_claims(&s);
    let at = jwt(s.access_token().secret()).1;

    // Introspection of the access token, through the crate.
    let i = rp
        .client
        .introspect(s.access_token())
        .request_async(&rp.http)
        .await
        .unwrap_or_else(|e| panic!("introspection: {}", describe(&e)));
    assert!(i.active());
    assert_eq!(i.sub(), Some(id.subject().as_str()));
    assert_eq!(
        i.client_id().map(|c| c.as_str()),
        Some(w.client.client_id.as_str())
    );
    let granted: BTreeSet<String> = i
        .scopes()
        .expect("scope")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(granted, set(&["openid", "profile"]));
    assert_eq!(i.exp().map(|e| e.timestamp()), at["exp"].as_i64());

    // The refresh token, by hand.
    let rt = s.refresh_token().secret().clone();
    let r = introspect(&app, &w.client, &rt).await;
    assert_eq!(r.body["active"], true, "{r:?}");
    assert_eq!(r.body["sub"], id.subject().as_str());
    assert_eq!(r.body["client_id"], w.client.client_id.as_str());
    assert_eq!(scopes(&r.str("scope")), set(&["openid", "profile"]));
    assert!(
        r.body["exp"]
            .as_i64()
            .is_some_and(|e| e > app.clock.now().timestamp()),
        "{r:?}"
    );

    // Introspection is for authenticated clients only (RFC 7662 §2.1).
    let anonymous = post_form(&app, "/oauth2/introspect", &[("token", &rt)], None).await;
    assert_oauth_error(&anonymous, 401, "invalid_client");

    // Revoking the refresh token (RFC 7009) ends it.
    revoke(&app, &w.client, &rt, "refresh_token").await;
    assert_inactive(&app, &w.client, &rt).await;
    assert_eq!(
        rp.refresh(s.refresh_token()).await.err(),
        Some(TokenError::InvalidGrant)
    );
    // An unknown token is "revoked" all the same (RFC 7009 §2.2).
    revoke(&app, &w.client, "no-such-token", "refresh_token").await;

    // Revoking an access token ends it at once, for introspection and userinfo alike.
    let t = rp.sign_in(&w.browser, &["profile"]).await;
    let access = t.access_token().secret().clone();
    assert_eq!(
        introspect(&app, &w.client, &access).await.body["active"],
        true
    );
    revoke(&app, &w.client, &access, "access_token").await;
    assert_inactive(&app, &w.client, &access).await;
    assert_userinfo_refuses(&app, &access).await;
}

async fn client_credentials_with_scopes_and_audience(app: TestApp) {
    let client = create_app(
        &app,
        "Reports",
        registration(json!({
            "grantTypes": ["client_credentials"],
            "redirectUris": [],
            "postLogoutRedirectUris": [],
            "allowedScopes": ["reports:read", "reports:write"],
            "audience": "https://api.example.com"
        })),
    )
    .await;
    let rp = Rp::discover(&app, &client).await;
    let t: CoreTokenResponse = rp
        .client
        .exchange_client_credentials()
        .add_scope(Scope::new("reports:read".into()))
        .request_async(&rp.http)
        .await
        .unwrap_or_else(|e| panic!("client credentials: {}", describe(&e)));
    assert!(
        t.refresh_token().is_none(),
        "no refresh token without a person"
    );
    assert!(t.id_token().is_none(), "no ID token without a person");
    let at = verified_access_token(
        &app,
        t.access_token().secret(),
        "RS256",
        "https://api.example.com",
    )
    .await;
    assert!(audience_is(&at, "https://api.example.com"), "{at}");
    assert_eq!(at["scope"], "reports:read");
    assert_eq!(at["client_id"], client.client_id.as_str());
    // No person: the subject is the client (RFC 9068 §2.2).
    assert_eq!(at["sub"], client.client_id.as_str());

    let r = token(
        &app,
        &client,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "reports:read reports:write"),
        ],
    )
    .await;
    assert_tokens(&r);
    assert!(r.body.get("refresh_token").is_none(), "{r:?}");
    assert_eq!(r.body["expires_in"], 3600);
    let claims = jwt(&r.str("access_token")).1;
    assert_eq!(
        scopes(claims["scope"].as_str().expect("scope")),
        set(&["reports:read", "reports:write"])
    );
    let i = introspect(&app, &client, &r.str("access_token")).await;
    assert_eq!(i.body["active"], true);
    assert_eq!(i.body["client_id"], client.client_id.as_str());
}

async fn public_client_code_flow_with_pkce(app: TestApp) {
    mfa_off(&app).await;
    let user = person(&app, "ada").await;
    let client = create_app(&app, "Notes", registration(json!({"clientType": "public"}))).await;
    assign(&app, &client, "USER", &user).await;
    let rp = Rp::discover(&app, &client).await;
    let b = signed_in(&app, "ada").await;
    let s = rp.sign_in(&b, &["profile"]).await;
    let id = rp.id_claims(&s);
    assert_eq!(id.preferred_username().map(|u| u.as_str()), Some("ada"));
    // A public client refreshes with its client_id alone.
    let next = rp.refresh(s.refresh_token()).await.expect("refresh");
    assert!(next.refresh_token().is_some());
}

async fn client_secret_post_and_basic_are_both_accepted(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let basic = Rp::discover(&app, &w.client).await;
    assert!(matches!(basic.client.auth_type(), AuthType::BasicAuth));
    let s = basic.sign_in(&w.browser, &[]).await;
    basic.id_claims(&s);
    let post = Rp::discover(&app, &w.client).await.posting_the_secret();
    let t = post.sign_in(&w.browser, &[]).await;
    post.id_claims(&t);
    // And refresh with the secret in the body, by hand.
    let secret = w.client.secret.clone().expect("secret");
    let r = post_form(
        &app,
        "/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t.refresh_token().secret()),
            ("client_id", &w.client.client_id),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    assert_tokens(&r);
}

async fn loopback_redirect_accepts_any_port(app: TestApp) {
    mfa_off(&app).await;
    let user = person(&app, "ada").await;
    let client = create_app(
        &app,
        "CLI",
        registration(json!({
            "clientType": "public",
            "redirectUris": ["http://127.0.0.1/cb"],
            "postLogoutRedirectUris": []
        })),
    )
    .await;
    assign(&app, &client, "USER", &user).await;
    let b = signed_in(&app, "ada").await;
    // RFC 8252 §7.3: the port is the client's choice at request time.
    let rp = Rp::discover_for(&app, &client, "http://127.0.0.1:54321/cb").await;
    let s = rp.sign_in(&b, &[]).await;
    rp.id_claims(&s);
}

async fn admin_ending_the_sessions_ends_the_tokens(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let rp = Rp::discover(&app, &w.client).await;
    let s = rp.sign_in(&w.browser, &["profile"]).await;
    let id = rp.id_claims(&s);
    rp.userinfo(s.access_token(), id.subject()).await;
    let gone = app
        .delete(&format!("users/{}/sessions", w.user_id), None)
        .await;
    assert_eq!(gone.body["revoked"], 1, "{gone:?}");
    assert_userinfo_refuses(&app, s.access_token().secret()).await;
    assert_inactive(&app, &w.client, s.access_token().secret()).await;
    assert_eq!(
        rp.refresh(s.refresh_token()).await.err(),
        Some(TokenError::InvalidGrant)
    );
}
