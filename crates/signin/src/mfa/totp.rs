//! Authenticator apps (TOTP, RFC 6238: HMAC-SHA-1, six digits, 30-second steps, one step of
//! skew either way). Secrets are 160 random bits, sealed with the [`SecretBox`] (the owner's
//! user id as associated data) before they reach a store; a code is accepted once: the store
//! refuses a step not later than the last one accepted.
//!
//! [`SecretBox`]: portcullis_auth::seal::SecretBox

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis_domain::{MfaDevice, MfaDeviceId, MfaDeviceKind, UserId};
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
    /// PNG, base64 (for a `data:` URL).
    pub qr_png_base64: String,
    pub secret_base32: String,
    pub uri: String,
}

impl Enrolment {
    pub fn new(secret: &[u8], account: &str) -> Option<Self> {
        let t = totp(secret, account)?;
        let uri = t.to_url().ok()?;
        let png = t.to_qr_png().ok()?;
        Some(Self {
            qr_png_base64: STANDARD.encode(png),
            secret_base32: t.secret().to_base32(),
            uri,
        })
    }
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
        let png = STANDARD.decode(&e.qr_png_base64).expect("base64");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
