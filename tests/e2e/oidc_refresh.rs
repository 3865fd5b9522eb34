//! Refresh-token rotation and its retry grace window: a rotated token retried by the same client
//! within `oidc.refresh_grace_seconds` gets the same answer; after the window, from another
//! client, or once the grant has ended, it is refused — and reuse revokes the whole grant.

use openidconnect::OAuth2TokenResponse;
use serde_json::json;

use crate::helpers::TestApp;
use crate::oidc_support::*;
use crate::on_both_backends;

on_both_backends!(
    refresh_rotates_the_refresh_token,
    a_rotated_token_from_another_client_revokes_the_grant,
    a_retry_after_the_grant_ended_gets_no_tokens,
);

/// `w`'s person signed in to `w`'s client: the tokens of a fresh grant.
async fn granted(app: &TestApp, w: &Wiki) -> Reply {
    let pkce = Pkce::new();
    let code = raw_code(&w.browser, &w.client.client_id, &pkce).await;
    let t = redeem(app, &w.client, &code, &pkce.verifier).await;
    assert_tokens(&t);
    t
}

async fn refresh_rotates_the_refresh_token(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let rp = Rp::discover(&app, &w.client).await;
    let s = rp.sign_in(&w.browser, &["profile"]).await;
    let id = rp.id_claims(&s);
    let first = s.refresh_token().clone();
    let next = rp.refresh(&first).await.expect("refresh");
    let second = next.refresh_token().expect("a new refresh token");
    assert_ne!(second.secret(), first.secret());
    assert_ne!(next.access_token().secret(), s.access_token().secret());
    let info = rp.userinfo(next.access_token(), id.subject()).await;
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("ada"));
    let at = verified_access_token(
        &app,
        next.access_token().secret(),
        "RS256",
        &w.client.client_id,
    )
    .await;
    assert_eq!(at["sub"], id.subject().as_str());
    assert_eq!(
        scopes(at["scope"].as_str().expect("scope")),
        scopes("openid profile")
    );
    // Retried within the grace window (an answer lost on the way), the rotated-away token gets
    // the same answer again, not a third token.
    let again = rp
        .refresh(&first)
        .await
        .expect("a retry within the grace window");
    assert_eq!(
        again.refresh_token().map(|t| t.secret().clone()),
        Some(second.secret().clone())
    );
    assert_eq!(again.access_token().secret(), next.access_token().secret());
    // After the grace window the rotated-away token is spent.
    app.clock.advance(chrono::Duration::seconds(31));
    assert_eq!(
        rp.refresh(&first).await.err(),
        Some(TokenError::InvalidGrant)
    );
}

async fn a_rotated_token_from_another_client_revokes_the_grant(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let chat = create_app(&app, "Chat", registration(json!({}))).await;
    assign(&app, &chat, "USER", &w.user_id).await;
    let r0 = granted(&app, &w).await.str("refresh_token");
    let t1 = refresh(&app, &w.client, &r0).await;
    assert_tokens(&t1);
    let (r1, a1) = (t1.str("refresh_token"), t1.str("access_token"));
    // Within the grace window, but presented by another client: not a retry, a stolen token.
    let stolen = refresh(&app, &chat, &r0).await;
    assert_oauth_error(&stolen, 400, "invalid_grant");
    assert_oauth_error(&refresh(&app, &w.client, &r1).await, 400, "invalid_grant");
    assert_inactive(&app, &w.client, &a1).await;
    // Nor does the rightful client's own retry bring the grant back.
    assert_oauth_error(&refresh(&app, &w.client, &r0).await, 400, "invalid_grant");
}

async fn a_retry_after_the_grant_ended_gets_no_tokens(app: TestApp) {
    let w = wiki(&app, json!({})).await;
    let r0 = granted(&app, &w).await.str("refresh_token");
    let t1 = refresh(&app, &w.client, &r0).await;
    assert_tokens(&t1);
    // The client revokes the new token (the person signed out of it) …
    revoke(&app, &w.client, &t1.str("refresh_token"), "refresh_token").await;
    // … so a retry of the old one, even within the grace window, answers nothing.
    assert_oauth_error(&refresh(&app, &w.client, &r0).await, 400, "invalid_grant");
    assert_inactive(&app, &w.client, &t1.str("access_token")).await;
}
