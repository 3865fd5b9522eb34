//! What the OpenID Connect provider must refuse, each with the exact error the RFCs name: bad
//! redirect URIs, code replay and theft, PKCE misuse, unassigned people, disabled applications,
//! bad client authentication, forged tokens, refresh-token replay, device-flow misuse, unknown
//! scopes and malformed token requests.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use portcullis_testkit::Browser;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::TestApp;
use crate::oidc_support::*;
use crate::on_both_backends;

on_both_backends!(
    a_mismatched_redirect_uri_gets_an_error_page_not_a_redirect,
    a_reused_code_is_refused_and_revokes_its_tokens,
    a_wrong_pkce_verifier_is_invalid_grant,
    plain_pkce_is_invalid_request,
    a_public_client_must_use_pkce,
    only_the_code_response_type_is_supported,
    an_expired_code_is_invalid_grant,
    a_code_is_bound_to_its_client_and_redirect_uri,
    an_unassigned_person_is_access_denied,
    a_disabled_application_is_refused,
    a_wrong_client_secret_is_invalid_client,
    unsupported_and_unauthorized_grant_types,
    forged_tokens_are_inactive,
    a_replayed_refresh_token_revokes_the_family,
    device_polling_too_fast_is_slow_down,
    a_denied_device_request_is_access_denied,
    an_expired_device_code_is_expired_token,
    device_authorization_needs_the_device_grant,
    an_unknown_scope_is_invalid_scope,
    the_token_endpoint_wants_a_form,
    logout_never_redirects_to_an_unregistered_uri,
);

/// A code for `w`'s client and the tokens it was redeemed for.
async fn signed_in_tokens(app: &TestApp, w: &Wiki) -> Reply {
    let pkce = Pkce::new();
    let code = raw_code(&w.browser, &w.client.client_id, &pkce).await;
    let t = redeem(app, &w.client, &code, &pkce.verifier).await;
    assert_tokens(&t);
    t
}

async fn a_mismatched_redirect_uri_gets_an_error_page_not_a_redirect(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let pkce = Pkce::new();
    for bad in [
        "https://evil.example/callback",
        "https://wiki.example.com/callback/extra",
        "https://wiki.example.com/callback?x=1",
        "https://wiki.example.com:8443/callback",
        "http://wiki.example.com/callback",
    ] {
        let params = with(code_params(&w.client.client_id, &pkce), "redirect_uri", bad);
        let page = w.browser.get(&authorize_path(&params)).await;
        assert_error_page(&page);
    }
    // An unknown client is never redirected to either.
    let stranger = uuid::Uuid::new_v4().to_string();
    let page = w
        .browser
        .get(&authorize_path(&code_params(&stranger, &pkce)))
        .await;
    assert_error_page(&page);
}

async fn a_reused_code_is_refused_and_revokes_its_tokens(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let pkce = Pkce::new();
    let code = raw_code(&w.browser, &w.client.client_id, &pkce).await;
    let first = redeem(&app, &w.client, &code, &pkce.verifier).await;
    assert_tokens(&first);
    let access = first.str("access_token");
    assert_eq!(
        introspect(&app, &w.client, &access).await.body["active"],
        true
    );

    let again = redeem(&app, &w.client, &code, &pkce.verifier).await;
    assert_oauth_error(&again, 400, "invalid_grant");
    // RFC 6749 §4.1.2: what the first redemption issued is revoked.
    assert_oauth_error(
        &refresh(&app, &w.client, &first.str("refresh_token")).await,
        400,
        "invalid_grant",
    );
    assert_inactive(&app, &w.client, &access).await;
    assert_userinfo_refuses(&app, &access).await;
}

async fn a_wrong_pkce_verifier_is_invalid_grant(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let pkce = Pkce::new();
    let code = raw_code(&w.browser, &w.client.client_id, &pkce).await;
    let r = redeem(&app, &w.client, &code, &Pkce::new().verifier).await;
    assert_oauth_error(&r, 400, "invalid_grant");
}

async fn plain_pkce_is_invalid_request(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let pkce = Pkce::new();
    let params = with(
        with(
            code_params(&w.client.client_id, &pkce),
            "code_challenge",
            &pkce.verifier,
        ),
        "code_challenge_method",
        "plain",
    );
    let page = w.browser.get(&authorize_path(&params)).await;
    assert_redirected_error(&page, "invalid_request");
}

async fn a_public_client_must_use_pkce(app: TestApp) {
    let w = wiki(&app, json!({"clientType": "public"})).await;
    let pkce = Pkce::new();
    let params = without(
        without(code_params(&w.client.client_id, &pkce), "code_challenge"),
        "code_challenge_method",
    );
    let page = w.browser.get(&authorize_path(&params)).await;
    assert_redirected_error(&page, "invalid_request");
}

async fn only_the_code_response_type_is_supported(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let pkce = Pkce::new();
    for unsupported in ["token", "id_token", "code id_token"] {
        let params = with(
            code_params(&w.client.client_id, &pkce),
            "response_type",
            unsupported,
        );
        let page = w.browser.get(&authorize_path(&params)).await;
        assert_redirected_error(&page, "unsupported_response_type");
    }
}

async fn an_expired_code_is_invalid_grant(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let pkce = Pkce::new();
    let code = raw_code(&w.browser, &w.client.client_id, &pkce).await;
    // Codes live 60 seconds.
    wait(&app, 61);
    let r = redeem(&app, &w.client, &code, &pkce.verifier).await;
    assert_oauth_error(&r, 400, "invalid_grant");
}

async fn a_code_is_bound_to_its_client_and_redirect_uri(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let chat = create_app(&app, "Chat", registration(json!({}))).await;
    assign(&app, &chat, "USER", &w.user_id).await;
    let pkce = Pkce::new();
    let code = raw_code(&w.browser, &w.client.client_id, &pkce).await;
    let stolen = redeem(&app, &chat, &code, &pkce.verifier).await;
    assert_oauth_error(&stolen, 400, "invalid_grant");

    // RFC 6749 §4.1.3: the redirect_uri must be the one the code was sent to.
    let pkce = Pkce::new();
    let code = raw_code(&w.browser, &w.client.client_id, &pkce).await;
    let r = token(
        &app,
        &w.client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://wiki.example.com/elsewhere"),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_grant");
    // Named in the authorization request, so it must be repeated (RFC 6749 §4.1.3).
    let pkce = Pkce::new();
    let code = raw_code(&w.browser, &w.client.client_id, &pkce).await;
    let without_it = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    assert_oauth_error(
        &token(&app, &w.client, &without_it).await,
        400,
        "invalid_grant",
    );
    // Left out of the authorization request (one URI is registered): the code goes to that one
    // and the token request may leave it out too.
    let pkce = Pkce::new();
    let params = without(code_params(&w.client.client_id, &pkce), "redirect_uri");
    let page = follow(&w.browser, &authorize_path(&params)).await;
    let code = callback(&page, REDIRECT)
        .get("code")
        .cloned()
        .expect("a code at the registered URI");
    let without_it = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    assert_tokens(&token(&app, &w.client, &without_it).await);
}

async fn an_unassigned_person_is_access_denied(app: TestApp) {
    mfa_off(&app).await;
    let user = person(&app, "ada").await;
    let client = create_app(&app, "Wiki", registration(json!({}))).await;
    let b = signed_in(&app, "ada").await;
    let pkce = Pkce::new();
    let page = b
        .get(&authorize_path(&code_params(&client.client_id, &pkce)))
        .await;
    assert_redirected_error(&page, "access_denied");

    // Assigned through a group, she gets in.
    let group = app.group("Writers").await;
    assert_eq!(
        app.put(&format!("groups/{group}/members/{user}"), None)
            .await
            .status,
        204
    );
    assign(&app, &client, "GROUP", &group).await;
    raw_code(&b, &client.client_id, &pkce).await;
}

async fn a_disabled_application_is_refused(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let t = signed_in_tokens(&app, &w).await;
    let disabled = app
        .patch(
            &format!("applications/{}", w.client.id),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(disabled.status, 200, "{disabled:?}");
    // Not a client any more: an error page, no redirect (RFC 6749 §4.1.2.1) ...
    let pkce = Pkce::new();
    let page = w
        .browser
        .get(&authorize_path(&code_params(&w.client.client_id, &pkce)))
        .await;
    assert_error_page(&page);
    // ... and its credentials no longer authenticate it.
    let r = refresh(&app, &w.client, &t.str("refresh_token")).await;
    assert_oauth_error(&r, 401, "invalid_client");
}

async fn a_wrong_client_secret_is_invalid_client(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let pkce = Pkce::new();
    let code = raw_code(&w.browser, &w.client.client_id, &pkce).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    let cid = w.client.client_id.as_str();

    // client_secret_basic: 401 with a Basic challenge (RFC 6749 §5.2).
    let basic = post_form(&app, "/oauth2/token", &form, Some((cid, "wrong-secret"))).await;
    assert_oauth_error(&basic, 401, "invalid_client");
    assert!(
        basic
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Basic")),
        "{basic:?}"
    );
    // client_secret_post.
    let mut posted = form.to_vec();
    posted.extend([("client_id", cid), ("client_secret", "wrong-secret")]);
    assert_oauth_error(
        &post_form(&app, "/oauth2/token", &posted, None).await,
        401,
        "invalid_client",
    );
    // A confidential client that sends no secret, and a client nobody registered.
    let mut bare = form.to_vec();
    bare.push(("client_id", cid));
    assert_oauth_error(
        &post_form(&app, "/oauth2/token", &bare, None).await,
        401,
        "invalid_client",
    );
    let stranger = uuid::Uuid::new_v4().to_string();
    assert_oauth_error(
        &post_form(&app, "/oauth2/token", &form, Some((&stranger, "whatever"))).await,
        401,
        "invalid_client",
    );
    // The client is authenticated before the code is taken: the code still works.
    assert_tokens(&redeem(&app, &w.client, &code, &pkce.verifier).await);
}

async fn unsupported_and_unauthorized_grant_types(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let r = token(
        &app,
        &w.client,
        &[
            ("grant_type", "password"),
            ("username", "ada"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_oauth_error(&r, 400, "unsupported_grant_type");
    let r = token(&app, &w.client, &[("grant_type", "implicit")]).await;
    assert_oauth_error(&r, 400, "unsupported_grant_type");
    // A grant the server knows but this client is not registered for.
    let r = token(&app, &w.client, &[("grant_type", "client_credentials")]).await;
    assert_oauth_error(&r, 400, "unauthorized_client");
    // No grant type at all.
    let r = token(&app, &w.client, &[("code", "x")]).await;
    assert_oauth_error(&r, 400, "invalid_request");
}

fn b64_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("JSON"))
}

fn hs256(signing_input: &str, secret: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
    mac.update(signing_input.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// DER: a tag, its length, its content.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A DER INTEGER from unsigned big-endian bytes.
fn der_uint(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = Vec::new();
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend(trimmed);
    der(0x02, &content)
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The ways an RSA public key gets mistaken for an HMAC secret: its modulus, and its PEM forms
/// (SubjectPublicKeyInfo and PKCS#1), each with and without the final newline.
fn public_key_secrets(n: &[u8], e: &[u8]) -> Vec<Vec<u8>> {
    let pkcs1 = der(0x30, &[der_uint(n), der_uint(e)].concat());
    // rsaEncryption, 1.2.840.113549.1.1.1, with NULL parameters.
    let algorithm = der(
        0x30,
        &[
            der(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            ),
            vec![0x05, 0x00],
        ]
        .concat(),
    );
    let spki = der(
        0x30,
        &[algorithm, der(0x03, &[&[0u8][..], &pkcs1].concat())].concat(),
    );
    let mut out = vec![n.to_vec()];
    for p in [pem("PUBLIC KEY", &spki), pem("RSA PUBLIC KEY", &pkcs1)] {
        out.push(p.trim_end().as_bytes().to_vec());
        out.push(p.into_bytes());
    }
    out
}

async fn forged_tokens_are_inactive(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let t = signed_in_tokens(&app, &w).await;
    let real = t.str("access_token");
    assert_eq!(
        introspect(&app, &w.client, &real).await.body["active"],
        true
    );
    let (header, claims) = jwt(&real);
    let kid = header["kid"].as_str().expect("kid").to_owned();

    let mut forged = Vec::new();
    // alg: none, the real claims, no signature.
    let none = json!({"alg": "none", "typ": "at+jwt", "kid": kid});
    forged.push(format!("{}.{}.", b64_json(&none), b64_json(&claims)));
    // HS256 keyed with the RSA public key (algorithm confusion).
    let jwks: Value = app
        .client
        .get(format!("{}/oauth2/jwks", app.base))
        .send()
        .await
        .expect("GET jwks")
        .json()
        .await
        .expect("JSON");
    let key = jwks["keys"]
        .as_array()
        .and_then(|k| k.iter().find(|k| k["kid"] == kid.as_str()))
        .expect("the signing key is published");
    let n = URL_SAFE_NO_PAD
        .decode(key["n"].as_str().expect("n"))
        .expect("n");
    let e = URL_SAFE_NO_PAD
        .decode(key["e"].as_str().expect("e"))
        .expect("e");
    let hs = json!({"alg": "HS256", "typ": "at+jwt", "kid": kid});
    let input = format!("{}.{}", b64_json(&hs), b64_json(&claims));
    for secret in public_key_secrets(&n, &e) {
        forged.push(format!("{input}.{}", hs256(&input, &secret)));
    }
    // Real signature, changed claims.
    let mut other = claims.clone();
    other["scope"] = json!("openid profile email admin");
    let parts: Vec<&str> = real.split('.').collect();
    forged.push(format!("{}.{}.{}", parts[0], b64_json(&other), parts[2]));

    for token in &forged {
        assert_inactive(&app, &w.client, token).await;
        assert_userinfo_refuses(&app, token).await;
    }
}

async fn a_replayed_refresh_token_revokes_the_family(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let t = signed_in_tokens(&app, &w).await;
    let r0 = t.str("refresh_token");
    let t1 = refresh(&app, &w.client, &r0).await;
    assert_tokens(&t1);
    let (r1, a1) = (t1.str("refresh_token"), t1.str("access_token"));
    assert_ne!(r1, r0);

    // Past the retry grace window (30 s by default), presenting r0 again is reuse.
    wait(&app, 31);
    let replay = refresh(&app, &w.client, &r0).await;
    assert_oauth_error(&replay, 400, "invalid_grant");
    // The whole family is gone: the newest refresh token and its access token too.
    assert_oauth_error(&refresh(&app, &w.client, &r1).await, 400, "invalid_grant");
    assert_inactive(&app, &w.client, &r1).await;
    assert_inactive(&app, &w.client, &a1).await;
    assert_userinfo_refuses(&app, &a1).await;
}

/// A person signed in, the public device client `TV` assigned to her, and a fresh device
/// authorization: the client, her browser, the device code and the user code.
async fn device_start(app: &TestApp) -> (OidcApp, Browser, String, String) {
    mfa_off(app).await;
    let user = person(app, "ada").await;
    let client = device_app(app, &user).await;
    let b = signed_in(app, "ada").await;
    let d = device_authorization(app, &client).await;
    (client, b, d.str("device_code"), d.str("user_code"))
}

async fn device_polling_too_fast_is_slow_down(app: TestApp) {
    let (client, _b, device_code, _) = device_start(&app).await;
    wait(&app, 5);
    assert_oauth_error(
        &poll(&app, &client, &device_code).await,
        400,
        "authorization_pending",
    );
    assert_oauth_error(&poll(&app, &client, &device_code).await, 400, "slow_down");
    // A client that keeps the longer interval (5 s more, RFC 8628 §3.5) is not slowed down.
    wait(&app, 10);
    assert_oauth_error(
        &poll(&app, &client, &device_code).await,
        400,
        "authorization_pending",
    );
}

async fn a_denied_device_request_is_access_denied(app: TestApp) {
    let (client, b, device_code, user_code) = device_start(&app).await;
    device_decision(&b, "TV", &user_code, "deny").await;
    wait(&app, 5);
    assert_oauth_error(
        &poll(&app, &client, &device_code).await,
        400,
        "access_denied",
    );
}

async fn an_expired_device_code_is_expired_token(app: TestApp) {
    let (client, b, device_code, user_code) = device_start(&app).await;
    // Device codes live 600 seconds.
    wait(&app, 601);
    assert_oauth_error(
        &poll(&app, &client, &device_code).await,
        400,
        "expired_token",
    );
    // Nor can the person approve it any more.
    let page = b.get(&format!("/device?user_code={user_code}")).await;
    assert!(!page.body.contains("value=\"approve\""), "{page:?}");
}

async fn device_authorization_needs_the_device_grant(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let r = as_client(
        &app,
        "/oauth2/device_authorization",
        &w.client,
        &[("scope", "openid")],
    )
    .await;
    assert_oauth_error(&r, 400, "unauthorized_client");
}

async fn an_unknown_scope_is_invalid_scope(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let pkce = Pkce::new();
    let params = with(
        code_params(&w.client.client_id, &pkce),
        "scope",
        "openid launch-missiles",
    );
    let page = w.browser.get(&authorize_path(&params)).await;
    assert_redirected_error(&page, "invalid_scope");

    let service = create_app(
        &app,
        "Reports",
        registration(json!({
            "grantTypes": ["client_credentials"],
            "redirectUris": [],
            "postLogoutRedirectUris": [],
            "allowedScopes": ["reports:read"]
        })),
    )
    .await;
    let r = token(
        &app,
        &service,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "reports:read reports:delete"),
        ],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_scope");
}

async fn the_token_endpoint_wants_a_form(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let pkce = Pkce::new();
    let code = raw_code(&w.browser, &w.client.client_id, &pkce).await;
    let secret = w.client.secret.clone().expect("secret");
    let fields = json!({
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": pkce.verifier,
    });
    let url = format!("{}/oauth2/token", app.base);
    let as_json = Reply::read(
        app.client
            .post(&url)
            .basic_auth(&w.client.client_id, Some(&secret))
            .json(&fields)
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert_oauth_error(&as_json, 400, "invalid_request");
    let form_body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            fields
                .as_object()
                .expect("object")
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default())),
        )
        .finish();
    let untyped = Reply::read(
        app.client
            .post(&url)
            .basic_auth(&w.client.client_id, Some(&secret))
            .body(form_body)
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert_oauth_error(&untyped, 400, "invalid_request");
}

async fn logout_never_redirects_to_an_unregistered_uri(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let pkce = Pkce::new();
    let code = raw_code(&w.browser, &w.client.client_id, &pkce).await;
    let t = redeem(&app, &w.client, &code, &pkce.verifier).await;
    assert_tokens(&t);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("id_token_hint", t.str("id_token").as_str()),
            ("post_logout_redirect_uri", "https://evil.example/bye"),
            ("state", "s1"),
        ])
        .finish();
    let page = w.browser.get(&format!("/oauth2/logout?{query}")).await;
    assert!(
        !page
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("https://evil.example")),
        "{page:?}"
    );
}
