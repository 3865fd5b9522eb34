//! The device authorization grant (RFC 8628) as a device uses it: raw polling through
//! `authorization_pending` and `slow_down` to tokens, and the `openidconnect` crate's own device
//! flow. Refusals (too fast, denied, expired) are in `oidc_negative.rs`.

use openidconnect::core::{CoreDeviceAuthorizationResponse, CoreTokenResponse};
use openidconnect::{Nonce, OAuth2TokenResponse, Scope, TokenResponse};
use portcullis_sessions::Clock;
use portcullis_testkit::Browser;

use crate::helpers::TestApp;
use crate::oidc_support::*;
use crate::on_both_backends;

on_both_backends!(
    device_flow_pending_slow_down_then_tokens,
    device_flow_through_the_relying_party_crate,
);

async fn device_flow_pending_slow_down_then_tokens(app: TestApp) {
    mfa_off(&app).await;
    let user = person(&app, "ada").await;
    let client = device_app(&app, &user).await;
    let b = signed_in(&app, "ada").await;
    let d = device_authorization(&app, &client).await;
    let (device_code, user_code) = (d.str("device_code"), d.str("user_code"));

    wait(&app, 5);
    assert_oauth_error(
        &poll(&app, &client, &device_code).await,
        400,
        "authorization_pending",
    );
    assert_oauth_error(&poll(&app, &client, &device_code).await, 400, "slow_down");

    // The page wants a signed-in person first.
    let anonymous = Browser::new(&app.base)
        .get(&format!("/device?user_code={user_code}"))
        .await;
    assert_eq!(anonymous.status, 303, "{anonymous:?}");
    assert!(
        anonymous
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("/start?return_to=")),
        "{anonymous:?}"
    );

    device_decision(&b, "TV", &user_code, "approve").await;
    // After slow_down the interval is 5 s longer (RFC 8628 §3.5).
    wait(&app, 10);
    let t = poll(&app, &client, &device_code).await;
    assert_tokens(&t);
    assert!(t.body["refresh_token"].is_string(), "{t:?}");
    assert!(t.body["id_token"].is_string(), "scope openid: {t:?}");
    let at = verified_access_token(&app, &t.str("access_token"), "RS256", &client.client_id).await;
    assert_eq!(at["client_id"], client.client_id.as_str());
    let info = userinfo_status(&app, &t.str("access_token")).await;
    assert_eq!(info.status, 200, "{info:?}");
    assert_eq!(info.body["preferred_username"], "ada");
    assert_eq!(info.body["sub"], at["sub"]);
}

async fn device_flow_through_the_relying_party_crate(app: TestApp) {
    mfa_off(&app).await;
    let user = person(&app, "ada").await;
    let client = device_app(&app, &user).await;
    let b = signed_in(&app, "ada").await;
    let rp = Rp::discover(&app, &client).await;
    let details: CoreDeviceAuthorizationResponse = rp
        .client
        .exchange_device_code()
        .add_scope(Scope::new("profile".into()))
        .request_async(&rp.http)
        .await
        .unwrap_or_else(|e| panic!("device authorization: {}", describe(&e)));
    let user_code = details.user_code().secret().clone();
    assert!(is_user_code(&user_code), "{user_code}");
    assert_eq!(
        details.verification_uri().as_str(),
        format!("{ISSUER}/device")
    );
    assert_eq!(
        details
            .verification_uri_complete()
            .map(|u| u.secret().clone()),
        Some(format!("{ISSUER}/device?user_code={user_code}"))
    );
    device_decision(&b, "TV", &user_code, "approve").await;

    // The crate keeps the interval by "sleeping", which here moves the server's clock.
    let (sleep_clock, time_clock) = (app.clock.clone(), app.clock.clone());
    let tokens: CoreTokenResponse = rp
        .client
        .exchange_device_access_token(&details)
        .set_time_fn(move || time_clock.now())
        .request_async(
            &rp.http,
            move |d| {
                sleep_clock.advance(chrono::Duration::from_std(d).expect("duration"));
                std::future::ready(())
            },
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("device token: {}", describe(&e)));
    let id_token = tokens.id_token().expect("an ID token").to_string();
    let id: GroupsIdToken = id_token.parse().expect("ID token");
    // No nonce in the device flow.
    let claims = id
        .claims(&rp.verifier(), |n: Option<&Nonce>| match n {
            None => Ok(()),
            Some(_) => Err("unexpected nonce".to_owned()),
        })
        .unwrap_or_else(|e| panic!("ID token: {e:?}"));
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some("ada"));
    let info = rp.userinfo(tokens.access_token(), claims.subject()).await;
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("ada"));
}
