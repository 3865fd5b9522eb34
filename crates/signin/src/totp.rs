//! Authenticator apps (TOTP, RFC 6238: HMAC-SHA-1, six digits, 30-second steps, one step of
//! skew either way). Secrets are 160 random bits, sealed with the [`SecretBox`] (the owner's
//! user id as associated data) before they reach a store; a code is accepted once: the store
//! refuses a step not later than the last one accepted.
//!
//! Registering an app (during sign-in or from the MFA devices page) keeps its new secret, sealed,
//! in the flow store until a code proves it.
//!
//! [`SecretBox`]: portcullis_auth::seal::SecretBox

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis_domain::{
    Actor, DisplayName, MfaDevice, MfaDeviceId, MfaDeviceKind, NewMfaDevice, UserId,
};
use portcullis_sessions::SessionError;
use rand::RngCore;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::Signin;

/// Shown in authenticator apps next to the account name.
pub const ISSUER: &str = "Portcullis";
/// Bytes of secret (160 bits, RFC 4226's recommendation).
pub const SECRET_LEN: usize = 20;
/// How long a secret waits in the flow store for the person to prove it with a code.
pub const ENROL_TTL: Duration = Duration::from_secs(15 * 60);
/// Flow-store namespace of secrets being registered.
pub const ENROL_NS: &str = "totp-enrol";

/// A fresh random secret.
pub fn new_secret() -> Vec<u8> {
    let mut b = vec![0u8; SECRET_LEN];
    rand::rng().fill_bytes(&mut b);
    b
}

fn totp(secret: &[u8], account: &str) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .with_secret(Secret::from(secret.to_vec()))
        .with_issuer(Some(ISSUER))
        .with_account_name(account.replace(':', "_"))
        .build()
        .ok()
}

/// What a person needs to add a secret to their app: a QR code, the secret in base32 for
/// typing in, and the `otpauth://` URI.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// The QR code of the URI as SVG, base64 (for a `data:` URL).
    pub qr_svg_base64: String,
    pub secret_base32: String,
    pub uri: String,
}

impl Enrolment {
    pub fn new(secret: &[u8], account: &str) -> Option<Self> {
        let t = totp(secret, account)?;
        let uri = t.to_url().ok()?;
        Some(Self {
            qr_svg_base64: STANDARD.encode(qr_svg(&uri)?),
            secret_base32: t.secret().to_base32(),
            uri,
        })
    }
}

/// `text` as a QR code (error correction M, a quiet zone), drawn as SVG: black modules on white,
/// scaled to at least 200 pixels.
fn qr_svg(text: &str) -> Option<String> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .quiet_zone(true)
            .build(),
    )
}

/// The time step whose code `typed` is, within one step of `now` (seconds since the epoch).
pub fn matching_step(secret: &[u8], typed: &str, now: i64) -> Option<i64> {
    let code: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = u64::try_from(now).ok()?;
    let t = totp(secret, "check")?;
    t.check(&code, now).and_then(|s| i64::try_from(s).ok())
}

/// The associated data binding a sealed secret to its owner: the user id.
pub fn aad(user: UserId) -> [u8; 16] {
    *user.as_uuid().as_bytes()
}

/// The outcome of checking a code against a person's authenticator apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Accepted(MfaDeviceId),
    /// The code is right but its step was already used (or an older one).
    Replayed,
    Wrong,
}

/// Checks `typed` against each of the person's authenticator apps, and records the use (which
/// refuses a replayed step). A secret that does not open is skipped (and logged).
pub async fn verify(
    signin: &Signin,
    user: UserId,
    devices: &[MfaDevice],
    typed: &str,
) -> Result<Check, portcullis_store::StoreError> {
    let now = signin.auth.clock.now();
    let mut outcome = Check::Wrong;
    for d in devices
        .iter()
        .filter(|d| d.kind == MfaDeviceKind::AuthenticatorApp && d.user_id == user)
    {
        let secret = match signin.secrets.open(&d.secret, &aad(user)) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, device = %d.id, "an authenticator app's secret does not open");
                continue;
            }
        };
        let Some(step) = matching_step(&secret, typed, now.timestamp()) else {
            continue;
        };
        if signin
            .auth
            .directory
            .record_mfa_use(user, d.id, now, Some(step), None)
            .await?
        {
            return Ok(Check::Accepted(d.id));
        }
        outcome = Check::Replayed;
    }
    Ok(outcome)
}

/// The flow-store key of the secret being registered during the sign-in `pending_id`.
pub(crate) fn signin_key(pending_id: &str) -> String {
    format!("signin:{pending_id}")
}

/// The secret waiting in the flow store under `key` (sealed for `user`), or a new one.
pub(crate) async fn enrolment_secret(
    signin: &Signin,
    key: &str,
    user: UserId,
) -> Result<Vec<u8>, SessionError> {
    let aad = aad(user);
    if let Some(sealed) = signin.auth.sessions.get(ENROL_NS, key).await?
        && let Ok(secret) = signin.secrets.open(&sealed, &aad)
    {
        return Ok(secret);
    }
    let secret = new_secret();
    signin
        .auth
        .sessions
        .put(
            ENROL_NS,
            key,
            &signin.secrets.seal(&secret, &aad),
            ENROL_TTL,
        )
        .await?;
    Ok(secret)
}

/// The secret waiting under `key`, if it is still there.
pub(crate) async fn pending_secret(
    signin: &Signin,
    key: &str,
    user: UserId,
) -> Result<Option<Vec<u8>>, SessionError> {
    Ok(signin
        .auth
        .sessions
        .get(ENROL_NS, key)
        .await?
        .and_then(|sealed| signin.secrets.open(&sealed, &aad(user)).ok()))
}

/// Why no further authenticator app can be added.
pub(crate) fn limit_message() -> String {
    format!(
        "You already have the maximum of {} authenticator apps. Remove one before adding another.",
        MfaDeviceKind::AuthenticatorApp.limit()
    )
}

/// The name a person gave a device, or `default`. `Err` carries the message to show.
pub(crate) fn device_name(raw: Option<&str>, default: &str) -> Result<DisplayName, String> {
    let given = raw
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(default);
    if given.chars().count() > 64 {
        return Err("The device name may be at most 64 characters.".into());
    }
    DisplayName::parse(given.to_owned()).map_err(|e| format!("The device name {}.", e.message))
}

/// Stores a proven authenticator app (sealed) and marks `step` used, so the code that proved
/// it cannot be used again. `Err` carries the message to show.
pub(crate) async fn store_app(
    signin: &Signin,
    user: UserId,
    name: DisplayName,
    secret: &[u8],
    step: i64,
) -> Result<(), String> {
    let device = NewMfaDevice {
        user_id: user,
        kind: MfaDeviceKind::AuthenticatorApp,
        name,
        secret: signin.secrets.seal(secret, &aad(user)),
        credential_id: None,
    };
    let stored = match signin
        .auth
        .directory
        .add_mfa_device(Actor::User(user), device)
        .await
    {
        Ok(d) => d,
        Err(portcullis_store::StoreError::Conflict { .. }) => {
            return Err(limit_message());
        }
        Err(e) => {
            tracing::error!(error = ?e, "could not store an authenticator app");
            return Err("The authenticator app could not be saved. Try again shortly.".into());
        }
    };
    if let Err(e) = signin
        .auth
        .directory
        .record_mfa_use(user, stored.id, signin.auth.clock.now(), Some(step), None)
        .await
    {
        tracing::warn!(error = ?e, "could not mark the registration code used");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B, SHA-1 (the last six digits of the eight-digit values).
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_vectors() {
        for (time, code) in [
            (59i64, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(
                matching_step(RFC_SECRET, code, time),
                Some(time / 30),
                "{time}"
            );
        }
    }

    #[test]
    fn skew_is_one_step() {
        let t = 1_111_111_109i64;
        assert_eq!(matching_step(RFC_SECRET, "081804", t + 30), Some(t / 30));
        assert_eq!(matching_step(RFC_SECRET, "081804", t - 30), Some(t / 30));
        assert_eq!(matching_step(RFC_SECRET, "081804", t + 60), None);
        assert_eq!(matching_step(RFC_SECRET, "08180", t), None);
        assert_eq!(matching_step(RFC_SECRET, "abcdef", t), None);
        assert_eq!(matching_step(RFC_SECRET, "081 804", t), Some(t / 30));
    }

    #[test]
    fn enrolment_has_qr_secret_and_uri() {
        let secret = new_secret();
        assert_eq!(secret.len(), 20);
        let e = Enrolment::new(&secret, "ana@example.com").expect("enrolment");
        assert!(e.uri.starts_with("otpauth://totp/"));
        assert!(e.uri.contains("issuer=Portcullis"));
        assert!(e.uri.contains(&format!("secret={}", e.secret_base32)));
        assert_eq!(e.secret_base32.len(), 32);
        let svg = String::from_utf8(STANDARD.decode(&e.qr_svg_base64).expect("base64")).unwrap();
        assert_eq!(decoded_modules(&svg), qr_modules(&e.uri));
    }

    /// The URI's QR code, module by module (dark = true), with its four-module quiet zone.
    fn qr_modules(uri: &str) -> Vec<Vec<bool>> {
        let code = qrcode::QrCode::with_error_correction_level(uri, qrcode::EcLevel::M).unwrap();
        let n = code.width();
        let colors = code.to_colors();
        (0..n + 8)
            .map(|y| {
                (0..n + 8)
                    .map(|x| {
                        (4..n + 4).contains(&x)
                            && (4..n + 4).contains(&y)
                            && colors[(y - 4) * n + (x - 4)] == qrcode::Color::Dark
                    })
                    .collect()
            })
            .collect()
    }

    /// What the SVG draws, read back as modules: its size, and each dark rectangle of the path.
    fn decoded_modules(svg: &str) -> Vec<Vec<bool>> {
        let width: usize = svg
            .split("width=\"")
            .nth(1)
            .and_then(|w| w.split('"').next())
            .and_then(|w| w.parse().ok())
            .expect("width");
        assert!(width >= 200, "{width}");
        let path = svg
            .split(" d=\"")
            .nth(1)
            .and_then(|d| d.split('"').next())
            .unwrap();
        let rects: Vec<[usize; 4]> = path
            .split('M')
            .filter(|r| !r.is_empty())
            .map(|r| {
                let n: Vec<usize> = r
                    .split(|c: char| !c.is_ascii_digit())
                    .filter(|n| !n.is_empty())
                    .map(|n| n.parse().unwrap())
                    .collect();
                [n[0], n[1], n[2], n[3]]
            })
            .collect();
        let module = rects.iter().map(|r| r[3]).min().expect("some dark modules");
        assert_eq!(width % module, 0);
        let side = width / module;
        let mut grid = vec![vec![false; side]; side];
        for [left, top, w, h] in rects {
            for row in &mut grid[top / module..(top + h) / module] {
                row[left / module..(left + w) / module].fill(true);
            }
        }
        grid
    }
}
