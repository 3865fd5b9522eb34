//! Tests of the key ring's crypto core: generation, signing, and every way a token is refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use super::material::pkcs1_from_pkcs8;
use super::*;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::TimeDelta;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use portcullis_auth::keys::signs_at;
use portcullis_sessions::ManualClock;

const ISSUER: &str = "https://id.example.com";

fn claims(exp: i64) -> serde_json::Value {
    serde_json::json!({ "iss": ISSUER, "sub": "u-1", "aud": "client", "exp": exp })
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn header(token: &str) -> serde_json::Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn every_algorithm_round_trips() {
    for alg in SigningAlgorithm::ALL {
        let (key, der) = KeyMaterial::generate(alg).unwrap();
        let token = key.sign("at+jwt", &claims(now().timestamp() + 60)).unwrap();
        let h = header(&token);
        assert_eq!(h["alg"], alg.as_str());
        assert_eq!(h["kid"], key.kid.as_str());
        assert_eq!(h["typ"], "at+jwt");
        let v = key.verify(&token, ISSUER, now()).unwrap();
        assert_eq!((v.alg, v.kid.as_str()), (alg, key.kid.as_str()));
        assert_eq!(v.typ.as_deref(), Some("at+jwt"));
        assert_eq!(v.claims["sub"], "u-1");
        // What the store keeps opens to the same key.
        let reopened = KeyMaterial::from_pkcs8(alg, Some(&key.kid), &der).unwrap();
        assert_eq!(reopened.jwk, key.jwk);
        assert!(reopened.verify(&token, ISSUER, now()).is_ok());
        // Another key of the same algorithm, under the same kid, does not verify it.
        let (other, _) = KeyMaterial::generate(alg).unwrap();
        let impostor = KeyMaterial {
            kid: key.kid.clone(),
            ..other
        };
        assert!(matches!(
            impostor.verify(&token, ISSUER, now()),
            Err(KeyError::Rejected("bad signature"))
        ));
    }
}

#[test]
fn jwks_entries_are_public_and_well_formed() {
    let expect = [
        (SigningAlgorithm::RS256, "RSA", None),
        (SigningAlgorithm::ES256, "EC", Some("P-256")),
        (SigningAlgorithm::EdDSA, "OKP", Some("Ed25519")),
    ];
    for (alg, kty, crv) in expect {
        let (key, _) = KeyMaterial::generate(alg).unwrap();
        let jwk = key.jwk.as_object().unwrap();
        assert_eq!(jwk["kty"], kty);
        assert_eq!(jwk.get("crv").and_then(|c| c.as_str()), crv);
        assert_eq!(jwk["alg"], alg.as_str());
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["kid"], key.kid.as_str());
        assert_eq!(key.kid.len(), 43, "a base64url SHA-256 thumbprint");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(!jwk.contains_key(private), "{alg}: {private}");
        }
    }
    let (rsa, _) = KeyMaterial::generate(SigningAlgorithm::RS256).unwrap();
    let n = URL_SAFE_NO_PAD
        .decode(rsa.jwk["n"].as_str().unwrap())
        .unwrap();
    assert_eq!(n.len(), 256, "RSA 2048");
}

#[test]
fn none_and_hmac_are_refused() {
    let (rsa, der) = KeyMaterial::generate(SigningAlgorithm::RS256).unwrap();
    let body = URL_SAFE_NO_PAD.encode(claims(now().timestamp() + 60).to_string());
    let none = format!(
        "{}.{body}.",
        URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","kid":"{}"}}"#, rsa.kid))
    );
    assert!(matches!(
        rsa.verify(&none, ISSUER, now()),
        Err(KeyError::Rejected(_))
    ));
    assert!(token_header(&none).is_err());

    // Algorithm confusion: HS256 keyed with the RSA public key as a verifier might hold it.
    let public_pem = {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::KeyPair as _;
        let pair = aws_lc_rs::rsa::KeyPair::from_der(pkcs1_from_pkcs8(&der).unwrap()).unwrap();
        let spki: aws_lc_rs::encoding::PublicKeyX509Der<'static> =
            pair.public_key().as_der().unwrap();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(spki.as_ref())
        )
    };
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(rsa.kid.clone());
    let forged = jsonwebtoken::encode(
        &hs,
        &claims(now().timestamp() + 60),
        &EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .unwrap();
    assert!(matches!(
        rsa.verify(&forged, ISSUER, now()),
        Err(KeyError::Rejected("algorithm not accepted"))
    ));
    // …and an ES256 header over an RSA kid.
    let (ec, _) = KeyMaterial::generate(SigningAlgorithm::ES256).unwrap();
    let cross = KeyMaterial {
        kid: rsa.kid.clone(),
        ..ec
    }
    .sign("JWT", &claims(now().timestamp() + 60))
    .unwrap();
    assert!(matches!(
        rsa.verify(&cross, ISSUER, now()),
        Err(KeyError::Rejected("algorithm does not match the key"))
    ));
}

#[test]
fn expiry_follows_the_injected_clock_and_issuer_must_match() {
    let clock = ManualClock::new(now());
    let (key, _) = KeyMaterial::generate(SigningAlgorithm::EdDSA).unwrap();
    let token = key.sign("JWT", &claims(now().timestamp() + 60)).unwrap();
    assert!(key.verify(&token, ISSUER, clock.now()).is_ok());
    clock.advance(TimeDelta::seconds(59));
    assert!(key.verify(&token, ISSUER, clock.now()).is_ok());
    clock.advance(TimeDelta::seconds(1));
    assert!(matches!(
        key.verify(&token, ISSUER, clock.now()),
        Err(KeyError::Rejected("expired"))
    ));
    // Long expired by the system clock, valid by the injected one: the injected one decides.
    let old = key.sign("JWT", &claims(1_000)).unwrap();
    assert!(
        key.verify(&old, ISSUER, DateTime::from_timestamp(999, 0).unwrap())
            .is_ok()
    );

    assert!(matches!(
        key.verify(&token, "https://evil.example", now()),
        Err(KeyError::Rejected("wrong issuer"))
    ));
    let no_exp = key
        .sign("JWT", &serde_json::json!({ "iss": ISSUER }))
        .unwrap();
    assert!(matches!(
        key.verify(&no_exp, ISSUER, now()),
        Err(KeyError::Rejected("no expiry"))
    ));
}

#[test]
fn tampering_and_garbage_are_refused() {
    let (key, _) = KeyMaterial::generate(SigningAlgorithm::ES256).unwrap();
    let token = key.sign("JWT", &claims(now().timestamp() + 60)).unwrap();
    let mut parts: Vec<&str> = token.split('.').collect();
    let other = URL_SAFE_NO_PAD.encode(
        serde_json::json!({ "iss": ISSUER, "sub": "admin", "exp": now().timestamp() + 60 })
            .to_string(),
    );
    parts[1] = &other;
    assert!(matches!(
        key.verify(&parts.join("."), ISSUER, now()),
        Err(KeyError::Rejected("bad signature"))
    ));
    for garbage in ["", "a.b.c", "not a token", "..."] {
        assert!(key.verify(garbage, ISSUER, now()).is_err(), "{garbage}");
    }
    // A kid that is not ours in shape never reaches the store.
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some("../../etc/passwd".into());
    let odd = key.signer.sign(&h, &claims(0)).unwrap();
    assert!(matches!(
        token_header(&odd),
        Err(KeyError::Rejected("unknown key"))
    ));
}

#[test]
fn corrupt_keys_are_reported() {
    assert!(pkcs1_from_pkcs8(&[]).is_none());
    assert!(pkcs1_from_pkcs8(&[0x30, 0x82, 0xff]).is_none());
    let (_, der) = KeyMaterial::generate(SigningAlgorithm::ES256).unwrap();
    assert!(matches!(
        KeyMaterial::from_pkcs8(SigningAlgorithm::RS256, Some("k"), &der),
        Err(KeyError::Corrupt(_))
    ));
    assert!(matches!(
        KeyMaterial::from_pkcs8(SigningAlgorithm::EdDSA, Some("k"), &der[..20]),
        Err(KeyError::Corrupt(_))
    ));
}

#[test]
fn signing_window() {
    let t = now();
    let h = TimeDelta::hours(1);
    assert!(signs_at(t, None, t));
    assert!(!signs_at(t + h, None, t), "pending");
    assert!(signs_at(t - h, Some(t + h), t), "retiring later");
    assert!(!signs_at(t - h, Some(t), t), "retired");
}

#[tokio::test]
async fn unknown_kids_reread_the_store_at_most_once_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let directory: Arc<dyn Directory> =
        Arc::new(portcullis_store::testing::sqlite_in(dir.path()).await);
    let clock = Arc::new(ManualClock::new(now()));
    let ring = KeyRing::new(
        directory,
        clock.clone(),
        [7; 32],
        ISSUER.into(),
        KeyConfig::default(),
    );
    ring.ensure_keys().await.unwrap();
    let before = ring.keys.reloads();
    // Tokens of keys this ring has never seen (what an attacker sends with made-up kids).
    for _ in 0..50 {
        let (stranger, _) = KeyMaterial::generate(SigningAlgorithm::ES256).unwrap();
        let token = stranger
            .sign("at+jwt", &claims(now().timestamp() + 60))
            .unwrap();
        assert!(matches!(
            ring.verify(&token).await,
            Err(KeyError::Rejected("unknown key"))
        ));
    }
    let rereads = ring.keys.reloads() - before;
    assert!(rereads <= 1, "{rereads} rereads for 50 unknown kids");
    // Our own tokens still verify from the cache.
    let ours = ring
        .sign(
            SigningAlgorithm::ES256,
            "at+jwt",
            &claims(now().timestamp() + 60),
        )
        .await
        .unwrap();
    assert!(ring.verify(&ours).await.is_ok());
}

#[tokio::test]
async fn a_key_stored_by_an_earlier_version_opens() {
    // As earlier versions stored them: PKCS#8 DER sealed under the kid, the public JWK as text.
    let dir = tempfile::tempdir().unwrap();
    let directory: Arc<dyn Directory> =
        Arc::new(portcullis_store::testing::sqlite_in(dir.path()).await);
    let (key, der) = KeyMaterial::generate(SigningAlgorithm::ES256).unwrap();
    directory
        .insert_signing_key(
            Actor::System,
            portcullis_store::NewSigningKey {
                kid: key.kid.clone(),
                purpose: "oidc".into(),
                algorithm: "ES256".into(),
                private_key: portcullis_auth::seal::SecretBox::new(&[7; 32])
                    .seal(&der, key.kid.as_bytes()),
                public_key: key.jwk.to_string(),
                active_from: now() - TimeDelta::hours(1),
            },
        )
        .await
        .unwrap();
    let ring = KeyRing::new(
        directory.clone(),
        Arc::new(ManualClock::new(now())),
        [7; 32],
        ISSUER.into(),
        KeyConfig::default(),
    );
    ring.ensure_keys().await.unwrap();
    let stored = directory.list_signing_keys("oidc").await.unwrap();
    assert_eq!(stored.len(), 3, "one new key each for RS256 and EdDSA");
    let token = ring
        .sign(
            SigningAlgorithm::ES256,
            "JWT",
            &claims(now().timestamp() + 60),
        )
        .await
        .unwrap();
    assert_eq!(header(&token)["kid"], key.kid.as_str());
    assert!(key.verify(&token, ISSUER, now()).is_ok());
    let jwks = ring.jwks().await.unwrap();
    assert!(jwks["keys"].as_array().unwrap().contains(&key.jwk));
}
