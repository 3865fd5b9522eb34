//! Authenticator apps (TOTP) end to end: registering one when the policy requires a device,
//! signing in with codes (replays, skew, wrong codes), and the MFA devices page. Codes are
//! computed here from RFC 6238 with HMAC-SHA-1 directly, independently of the server's code.

use hmac::{Hmac, Mac};
use portcullis_testkit::{Browser, Page};
use serde_json::json;
use sha1::Sha1;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    required_registration_then_codes_at_sign_in,
    wrong_codes_count_and_start_over,
    devices_page_adds_renames_and_removes,
);

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// RFC 4648 base32 (upper case, no padding), as authenticator apps read it.
pub(crate) fn base32_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u64, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = ALPHABET
            .iter()
            .position(|&a| a == c.to_ascii_uppercase())
            .unwrap_or_else(|| panic!("not base32: {s}")) as u64;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

/// RFC 6238 / RFC 4226: HMAC-SHA-1 of the step, dynamic truncation, six digits.
pub(crate) fn code_at(secret: &[u8], step: i64) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).unwrap();
    mac.update(&(step as u64).to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = (h[19] & 0x0f) as usize;
    let bin = (u32::from(h[offset] & 0x7f) << 24)
        | (u32::from(h[offset + 1]) << 16)
        | (u32::from(h[offset + 2]) << 8)
        | u32::from(h[offset + 3]);
    format!("{:06}", bin % 1_000_000)
}

#[test]
fn code_at_matches_the_rfc_vectors() {
    let secret = b"12345678901234567890";
    assert_eq!(code_at(secret, 59 / 30), "287082");
    assert_eq!(code_at(secret, 1_111_111_109 / 30), "081804");
    assert_eq!(code_at(secret, 2_000_000_000 / 30), "279037");
    assert_eq!(base32_decode("GEZDGNBVGY3TQOJQ"), b"1234567890");
}

pub(crate) fn step_now(app: &TestApp) -> i64 {
    use portcullis_sessions::Clock;
    app.clock.now().timestamp() / 30
}

fn advance(app: &TestApp, seconds: i64) {
    app.clock.advance(chrono::Duration::seconds(seconds));
}

/// The base32 secret shown for typing in.
pub(crate) fn shown_secret(page: &Page) -> String {
    let marker = "id=\"totp-secret\">";
    let start = page.body.find(marker).expect("a secret on the page") + marker.len();
    let end = page.body[start..].find('<').expect("end of the secret") + start;
    page.body[start..end].to_owned()
}

pub(crate) async fn person(app: &TestApp, name: &str) -> String {
    let id = app.user(name).await;
    app.set_password(&id, PASSWORD).await;
    id
}

pub(crate) async fn require_registration(app: &TestApp) {
    let s = app
        .put(
            "settings",
            Some(json!({"mfa": {"prompt": "EVERY_SIGN_IN", "noDeviceAction": "REQUIRE_REGISTRATION"}})),
        )
        .await;
    assert_eq!(s.status, 200, "{s:?}");
}

/// Signs `name` in under REQUIRE_REGISTRATION, registers an authenticator app named `device`
/// with a code for the current step, and returns the browser (at the portal) and the secret.
pub(crate) async fn register(app: &TestApp, name: &str, device: &str) -> (Browser, Vec<u8>) {
    let b = Browser::new(&app.base);
    let after = b.sign_in(name, PASSWORD).await;
    assert_eq!(after.location.as_deref(), Some("/signin/mfa/register"));
    let p = b.get("/signin/mfa/register").await;
    assert_eq!(p.status, 200, "{p:?}");
    let secret = base32_decode(&shown_secret(&p));
    let done = b
        .post(
            "/signin/mfa/register/totp",
            &[
                ("csrf", &p.csrf()),
                ("name", device),
                ("code", &code_at(&secret, step_now(app))),
            ],
        )
        .await;
    assert_eq!(done.location.as_deref(), Some("/portal"), "{done:?}");
    (b, secret)
}

async fn sign_out(b: &Browser) {
    let portal = b.get("/portal").await;
    assert_eq!(portal.status, 200);
    b.post("/signout", &[("csrf", &portal.csrf())]).await;
}

/// Signs in with a password and submits `code` on the challenge page.
async fn sign_in_with_code(b: &Browser, name: &str, code: &str) -> Page {
    let after = b.sign_in(name, PASSWORD).await;
    assert_eq!(after.location.as_deref(), Some("/signin/mfa"), "{after:?}");
    let p = b.get("/signin/mfa").await;
    assert_eq!(p.status, 200);
    b.post("/signin/mfa/totp", &[("csrf", &p.csrf()), ("code", code)])
        .await
}

async fn required_registration_then_codes_at_sign_in(app: TestApp) {
    require_registration(&app).await;
    let id = person(&app, "kim").await;

    let b = Browser::new(&app.base);
    let after = b.sign_in("kim", PASSWORD).await;
    assert_eq!(after.location.as_deref(), Some("/signin/mfa/register"));
    let p = b.get("/signin/mfa/register").await;
    assert_eq!(p.status, 200);
    assert!(
        // "<?xml " in base64: an SVG QR code.
        p.body.contains("src=\"data:image/svg+xml;base64,PD94bWwg"),
        "an SVG QR code"
    );
    assert!(p.body.contains("otpauth://totp/Portcullis:kim?secret="));
    assert!(p.body.contains("issuer=Portcullis"));
    assert!(p.body.contains("<meta name=\"csrf-token\" content=\""));
    // The policy allows security keys too: the WebAuthn hook is there.
    assert!(p.body.contains("id=\"webauthn-register\""));
    assert!(
        p.body
            .contains("<script src=\"/static/webauthn.js\" defer></script>")
    );
    let b32 = shown_secret(&p);
    assert_eq!(b32.len(), 32, "160 bits");
    let secret = base32_decode(&b32);
    // Reloading keeps the same secret.
    assert_eq!(shown_secret(&b.get("/signin/mfa/register").await), b32);

    let wrong = b
        .post(
            "/signin/mfa/register/totp",
            &[("csrf", &p.csrf()), ("code", "000000")],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("tries left"));
    let step = step_now(&app);
    let code = code_at(&secret, step);
    let done = b
        .post(
            "/signin/mfa/register/totp",
            &[("csrf", &p.csrf()), ("name", "Phone"), ("code", &code)],
        )
        .await;
    assert_eq!(done.location.as_deref(), Some("/portal"));
    assert_eq!(b.get("/portal").await.status, 200);
    let sessions = app.get(&format!("users/{id}/sessions")).await;
    assert_eq!(
        sessions.body["sessions"][0]["amr"],
        json!(["pwd", "otp", "mfa"])
    );

    let devices = app.get(&format!("users/{id}/mfa-devices")).await;
    assert_eq!(devices.status, 200);
    assert_eq!(devices.body["devices"][0]["kind"], "AUTHENTICATOR_APP");
    assert_eq!(devices.body["devices"][0]["name"], "Phone");
    sign_out(&b).await;

    // The challenge page asks for a code; no security key is registered, so no WebAuthn button.
    let after = b.sign_in("kim", PASSWORD).await;
    assert_eq!(after.location.as_deref(), Some("/signin/mfa"));
    let p = b.get("/signin/mfa").await;
    assert!(p.body.contains("name=\"code\""));
    assert!(!p.body.contains("webauthn-signin"));
    // The registration code cannot be used again.
    let replay = b
        .post("/signin/mfa/totp", &[("csrf", &p.csrf()), ("code", &code)])
        .await;
    assert_eq!(replay.status, 401);
    assert!(replay.body.contains("already used"), "{}", replay.body);
    // The next step's code works.
    advance(&app, 30);
    let p = b.get("/signin/mfa").await;
    let ok = b
        .post(
            "/signin/mfa/totp",
            &[
                ("csrf", &p.csrf()),
                ("code", &code_at(&secret, step_now(&app))),
            ],
        )
        .await;
    assert_eq!(ok.location.as_deref(), Some("/portal"));
    sign_out(&b).await;

    // One step of skew: the previous step's code is accepted...
    advance(&app, 60);
    let prev = code_at(&secret, step_now(&app) - 1);
    let ok = sign_in_with_code(&b, "kim", &prev).await;
    assert_eq!(ok.location.as_deref(), Some("/portal"));
    sign_out(&b).await;
    // ...and a used one is refused on a second try.
    let again = sign_in_with_code(&Browser::new(&app.base), "kim", &prev).await;
    assert_eq!(again.status, 401);

    // Two steps back is too old, even though that step was never used.
    advance(&app, 120);
    let old = sign_in_with_code(&b, "kim", &code_at(&secret, step_now(&app) - 2)).await;
    assert_eq!(old.status, 401);
    assert!(old.body.contains("not right"));
    let p = b.get("/signin/mfa").await;
    let ok = b
        .post(
            "/signin/mfa/totp",
            &[
                ("csrf", &p.csrf()),
                ("code", &code_at(&secret, step_now(&app))),
            ],
        )
        .await;
    assert_eq!(ok.location.as_deref(), Some("/portal"));

    // The secret is never shown by the admin API or the audit log.
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let devices = app.get(&format!("users/{id}/mfa-devices")).await;
    let audit = app.get("audit-events?maxResults=1000").await;
    for text in [devices.body.to_string(), audit.body.to_string()] {
        assert!(!text.contains(&b32) && !text.contains(&hex), "{text}");
    }
    assert!(devices.body["devices"][0]["lastUsedAt"].is_string());
    let created = app.get("audit-events?action=user.mfa-device.create").await;
    assert_eq!(created.body["events"][0]["actor"], format!("user:{id}"));
}

async fn wrong_codes_count_and_start_over(app: TestApp) {
    require_registration(&app).await;
    person(&app, "lee").await;
    let (b, secret) = register(&app, "lee", "Phone").await;
    sign_out(&b).await;
    advance(&app, 30);

    let after = b.sign_in("lee", PASSWORD).await;
    assert_eq!(after.location.as_deref(), Some("/signin/mfa"));
    for left in (1..5).rev() {
        let p = b.get("/signin/mfa").await;
        let wrong = b
            .post(
                "/signin/mfa/totp",
                &[("csrf", &p.csrf()), ("code", "123 456")],
            )
            .await;
        assert_eq!(wrong.status, 401);
        assert!(
            wrong.body.contains(&format!("{left} tries left")),
            "{}",
            wrong.body
        );
    }
    let p = b.get("/signin/mfa").await;
    let fifth = b
        .post(
            "/signin/mfa/totp",
            &[("csrf", &p.csrf()), ("code", "123456")],
        )
        .await;
    assert_eq!(fifth.location.as_deref(), Some("/start?restart=1"));
    assert_eq!(
        b.get("/signin/mfa").await.location.as_deref(),
        Some("/start?restart=1")
    );
    // The failures also count against the user name: locked out, even with the right code.
    let locked = b.sign_in("lee", PASSWORD).await;
    assert_eq!(locked.status, 429);
    assert!(locked.body.contains("Too many failed attempts"));
    let _ = secret;
}

async fn devices_page_adds_renames_and_removes(app: TestApp) {
    require_registration(&app).await;
    let id = person(&app, "max").await;
    let (b, _) = register(&app, "max", "Phone").await;

    let portal = b.get("/portal").await;
    assert!(portal.body.contains("href=\"/portal/mfa-devices\""));
    let page = b.get("/portal/mfa-devices").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Phone") && page.body.contains("Authenticator app"));
    assert!(page.body.contains("id=\"webauthn-register\""));
    assert!(page.body.contains("<meta name=\"csrf-token\""));

    // A second app.
    let new = b.get("/portal/mfa-devices/totp/new").await;
    assert_eq!(new.status, 200);
    assert!(new.body.contains("src=\"data:image/svg+xml;base64,"));
    let secret = base32_decode(&shown_secret(&new));
    let wrong = b
        .post(
            "/portal/mfa-devices/totp",
            &[
                ("csrf", &new.csrf()),
                ("name", "Tablet"),
                ("code", "000000"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    let added = b
        .post(
            "/portal/mfa-devices/totp",
            &[
                ("csrf", &new.csrf()),
                ("name", "Tablet"),
                ("code", &code_at(&secret, step_now(&app))),
            ],
        )
        .await;
    assert_eq!(
        added.location.as_deref(),
        Some("/portal/mfa-devices?added=1")
    );
    let page = b.get("/portal/mfa-devices?added=1").await;
    assert!(page.body.contains("Tablet") && page.body.contains("The device was added."));

    // A third is refused, clearly.
    let third = b.get("/portal/mfa-devices/totp/new").await;
    assert_eq!(third.status, 409);
    assert!(third.body.contains("maximum of 2 authenticator apps"));
    let third = b
        .post(
            "/portal/mfa-devices/totp",
            &[("csrf", &page.csrf()), ("code", "123456")],
        )
        .await;
    assert_eq!(third.status, 409);
    assert!(third.body.contains("maximum of 2 authenticator apps"));

    let devices = app.get(&format!("users/{id}/mfa-devices")).await;
    let list = devices.body["devices"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    let tablet = list
        .iter()
        .find(|d| d["name"] == "Tablet")
        .and_then(|d| d["deviceId"].as_str())
        .unwrap()
        .to_owned();
    let phone = list
        .iter()
        .find(|d| d["name"] == "Phone")
        .and_then(|d| d["deviceId"].as_str())
        .unwrap()
        .to_owned();

    // Rename (CSRF checked).
    let forged = b
        .post(
            &format!("/portal/mfa-devices/{tablet}/rename"),
            &[("csrf", "nope"), ("name", "Evil")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let renamed = b
        .post(
            &format!("/portal/mfa-devices/{tablet}/rename"),
            &[("csrf", &page.csrf()), ("name", "Backup tablet")],
        )
        .await;
    assert_eq!(
        renamed.location.as_deref(),
        Some("/portal/mfa-devices?renamed=1")
    );
    assert!(
        b.get("/portal/mfa-devices")
            .await
            .body
            .contains("Backup tablet")
    );
    let blank = b
        .post(
            &format!("/portal/mfa-devices/{tablet}/rename"),
            &[("csrf", &page.csrf()), ("name", "  ")],
        )
        .await;
    assert_eq!(blank.status, 400);

    // Remove.
    let removed = b
        .post(
            &format!("/portal/mfa-devices/{tablet}/remove"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(
        removed.location.as_deref(),
        Some("/portal/mfa-devices?removed=1")
    );
    let page = b.get("/portal/mfa-devices").await;
    assert!(!page.body.contains("Backup tablet") && page.body.contains("Phone"));
    let gone = b
        .post(
            &format!("/portal/mfa-devices/{tablet}/remove"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(gone.status, 404);
    let events = app.get("audit-events?action=user.mfa-device.delete").await;
    assert_eq!(events.body["events"][0]["actor"], format!("user:{id}"));

    // The administrator sees the remaining one and removes it.
    let devices = app.get(&format!("users/{id}/mfa-devices")).await;
    assert_eq!(devices.body["devices"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.delete(&format!("users/{id}/mfa-devices/{phone}"), None)
            .await
            .status,
        204
    );
    let devices = app.get(&format!("users/{id}/mfa-devices")).await;
    assert_eq!(devices.body["devices"], json!([]));
    // Without a device, the policy asks for a registration again.
    sign_out(&b).await;
    assert_eq!(
        b.sign_in("max", PASSWORD).await.location.as_deref(),
        Some("/signin/mfa/register")
    );
}
