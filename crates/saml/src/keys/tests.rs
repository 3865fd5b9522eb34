//! Tests of the SAML keys on the shared lifecycle: what is stored, and that keys stored before
//! (sealed under their kid, the certificate as base64 DER) still open.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use portcullis_auth::seal::SecretBox;
use portcullis_sessions::ManualClock;
use portcullis_store::NewSigningKey;

use super::*;

const SEALING_KEY: [u8; 32] = [9; 32];

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

async fn setup() -> (
    tempfile::TempDir,
    Arc<dyn Directory>,
    Arc<ManualClock>,
    SamlKeys,
) {
    let dir = tempfile::tempdir().unwrap();
    let directory: Arc<dyn Directory> =
        Arc::new(portcullis_store::testing::sqlite_in(dir.path()).await);
    let clock = Arc::new(ManualClock::new(start()));
    let keys = SamlKeys::new(
        directory.clone(),
        clock.clone(),
        SEALING_KEY,
        KeyConfig::default(),
    );
    (dir, directory, clock, keys)
}

#[tokio::test]
async fn the_first_key_is_stored_as_before() {
    let (_dir, directory, _clock, keys) = setup().await;
    keys.ensure_keys().await.unwrap();
    keys.ensure_keys().await.unwrap();
    let stored = directory.list_signing_keys("saml").await.unwrap();
    assert_eq!(stored.len(), 1);
    let s = &stored[0];
    assert_eq!(s.algorithm, "RSA-SHA256");
    let cert_der = STANDARD.decode(&s.public_key).unwrap();
    let kid = format!("saml-{}", &hex::encode(Sha256::digest(&cert_der))[..32]);
    assert_eq!(s.kid, kid);
    let key_der = SecretBox::new(&SEALING_KEY)
        .open(&s.private_key, kid.as_bytes())
        .unwrap();
    let key = keys.signing_key().await.unwrap();
    assert_eq!(key.kid, kid);
    assert_eq!(key.cert_der(), cert_der);
    // New keys are stored as PKCS#8.
    assert_eq!(key.signer().pkcs8().unwrap(), key_der);
    assert!(aws_lc_rs::rsa::KeyPair::from_pkcs8(&key_der).is_ok());
    assert_signs_for_its_certificate(&key);
}

/// The certificate is the private key's.
fn assert_signs_for_its_certificate(key: &SamlKey) {
    let signature = key.signer().sign_query("SAMLResponse=x").unwrap();
    assert_eq!(
        xml::verify_query_signature(
            "SAMLResponse=x",
            &signature,
            xml::RSA_SHA256,
            key.cert_der(),
            false
        ),
        Ok(())
    );
}

#[tokio::test]
async fn a_key_stored_by_an_earlier_version_opens() {
    // Stored while SAML was signed through xmlsec: a PKCS#1 key (made by OpenSSL).
    let key_der = include_bytes!("fixtures/pkcs1-key.der").to_vec();
    let cert_der = include_bytes!("fixtures/pkcs1-cert.der").to_vec();
    assert!(aws_lc_rs::rsa::KeyPair::from_pkcs8(&key_der).is_err());
    let (_dir, directory, _clock, keys) = setup().await;
    let kid = format!("saml-{}", &hex::encode(Sha256::digest(&cert_der))[..32]);
    directory
        .insert_signing_key(
            Actor::System,
            NewSigningKey {
                private_key: SecretBox::new(&SEALING_KEY).seal(&key_der, kid.as_bytes()),
                kid: kid.clone(),
                purpose: "saml".into(),
                algorithm: "RSA-SHA256".into(),
                public_key: STANDARD.encode(&cert_der),
                active_from: start(),
            },
        )
        .await
        .unwrap();
    keys.ensure_keys().await.unwrap();
    assert_eq!(directory.list_signing_keys("saml").await.unwrap().len(), 1);
    let key = keys.signing_key().await.unwrap();
    assert_eq!(
        (key.kid.as_str(), key.cert_der()),
        (kid.as_str(), &cert_der[..])
    );
    assert_signs_for_its_certificate(&key);
}

#[tokio::test]
async fn rotation_publishes_the_next_certificate_first() {
    let (_dir, _directory, clock, keys) = setup().await;
    keys.ensure_keys().await.unwrap();
    let old = keys.signing_key().await.unwrap().kid.clone();
    let new = keys.rotate(Actor::System).await.unwrap();
    assert_ne!(new, old);
    assert_eq!(keys.published().await.unwrap().len(), 2);
    let states: Vec<_> = keys
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.kid, k.algorithm, k.state))
        .collect();
    assert!(states.contains(&(new.clone(), ALGORITHM.into(), "pending")));
    assert!(states.contains(&(old.clone(), ALGORITHM.into(), "active")));
    assert_eq!(keys.signing_key().await.unwrap().kid, old);
    clock.advance(chrono::TimeDelta::hours(1));
    assert_eq!(keys.signing_key().await.unwrap().kid, new);
    clock.advance(chrono::TimeDelta::days(1));
    assert!(!keys.rotate_if_due().await.unwrap());
    assert_eq!(
        keys.published().await.unwrap().len(),
        1,
        "the old one is gone"
    );
}
