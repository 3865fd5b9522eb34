//! One key pair, independent of the store: generated with aws-lc-rs, opened from PKCS#8 DER,
//! signing and verifying JWTs with jsonwebtoken; and the checks on a presented token's header.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use portcullis_auth::keys::{KeyKind, NewKey};
use portcullis_domain::SigningAlgorithm;

use super::signer::Signer;
use super::{KeyError, Verified};

// ---------------------------------------------------------------------------------------------
pub(super) fn jws_alg(alg: SigningAlgorithm) -> Algorithm {
    match alg {
        SigningAlgorithm::RS256 => Algorithm::RS256,
        SigningAlgorithm::ES256 => Algorithm::ES256,
        SigningAlgorithm::EdDSA => Algorithm::EdDSA,
    }
}

/// A key pair that signs and verifies, with its public JWK.
#[derive(Clone)]
pub(crate) struct KeyMaterial {
    pub(super) kid: String,
    pub(super) alg: SigningAlgorithm,
    /// The private key, opened once (see `signer.rs`).
    pub(super) signer: Arc<Signer>,
    pub(super) decoding: DecodingKey,
    /// The public JWK (RFC 7517) with `kid`, `use: sig` and `alg`.
    pub(super) jwk: serde_json::Value,
}

impl KeyMaterial {
    /// Generates a key pair; returns it with its private half as PKCS#8 v1 DER (what the store
    /// keeps, sealed). The `kid` is the RFC 7638 thumbprint of the public key.
    pub(super) fn generate(alg: SigningAlgorithm) -> Result<(Self, Vec<u8>), KeyError> {
        use aws_lc_rs::encoding::AsDer;
        let failed = |_| KeyError::Corrupt(format!("generating a {alg} key failed"));
        let der: Vec<u8> = match alg {
            SigningAlgorithm::RS256 => {
                let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(failed)?;
                let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> =
                    pair.as_der().map_err(failed)?;
                der.as_ref().to_vec()
            }
            SigningAlgorithm::ES256 => aws_lc_rs::signature::EcdsaKeyPair::generate(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            )
            .and_then(|p| p.to_pkcs8v1())
            .map_err(failed)?
            .as_ref()
            .to_vec(),
            SigningAlgorithm::EdDSA => aws_lc_rs::signature::Ed25519KeyPair::generate()
                .and_then(|p| p.to_pkcs8v1())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
        };
        let material = Self::from_pkcs8(alg, None, &der)?;
        Ok((material, der))
    }

    /// Opens a PKCS#8 v1 private key; `kid` is the stored id (`None`: the thumbprint).
    pub(crate) fn from_pkcs8(
        alg: SigningAlgorithm,
        kid: Option<&str>,
        der: &[u8],
    ) -> Result<Self, KeyError> {
        let unusable = |why: &str| KeyError::Corrupt(format!("{alg} key: {why}"));
        let (encoding, signer) = match alg {
            SigningAlgorithm::RS256 => {
                // Signing takes an RFC 8017 RSAPrivateKey, the body of the PKCS#8 box.
                let pkcs1 = pkcs1_from_pkcs8(der).ok_or_else(|| unusable("not PKCS#8"))?;
                let pair = aws_lc_rs::rsa::KeyPair::from_der(pkcs1)
                    .map_err(|_| unusable("not an RSA private key"))?;
                if pair.public_modulus_len() < 256 {
                    return Err(unusable("RSA keys must have at least 2048 bits"));
                }
                (
                    EncodingKey::from_rsa_der(pkcs1),
                    Signer::open(alg, pkcs1).map_err(|e| unusable(e.0))?,
                )
            }
            SigningAlgorithm::ES256 | SigningAlgorithm::EdDSA => {
                let signer = Signer::open(alg, der).map_err(|e| unusable(e.0))?;
                let encoding = if alg == SigningAlgorithm::ES256 {
                    EncodingKey::from_ec_der(der)
                } else {
                    EncodingKey::from_ed_der(der)
                };
                (encoding, signer)
            }
        };
        // Also checks the key: the P-256 and Ed25519 parsers run here.
        let mut jwk = Jwk::from_encoding_key(&encoding, jws_alg(alg))
            .map_err(|e| unusable(&format!("unreadable private key ({e})")))?;
        let kid = match kid {
            Some(kid) => kid.to_owned(),
            None => jwk
                .thumbprint(ThumbprintHash::SHA256)
                .map_err(|e| unusable(&format!("no thumbprint ({e})")))?,
        };
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let decoding =
            DecodingKey::from_jwk(&jwk).map_err(|e| unusable(&format!("public key ({e})")))?;
        let jwk = serde_json::to_value(&jwk).map_err(|e| unusable(&e.to_string()))?;
        Ok(Self {
            kid,
            alg,
            signer: Arc::new(signer),
            decoding,
            jwk,
        })
    }

    pub(crate) fn sign(&self, typ: &str, claims: &serde_json::Value) -> Result<String, KeyError> {
        let mut header = Header::new(jws_alg(self.alg));
        header.typ = Some(typ.to_owned());
        header.kid = Some(self.kid.clone());
        self.signer
            .sign(&header, claims)
            .map_err(|e| KeyError::Corrupt(format!("signing with {} failed: {}", self.kid, e.0)))
    }

    /// Checks `token` against this key: the header's `kid` and `alg` must be this key's (so
    /// `none`, HS256 and algorithm confusion are refused), then the signature, `iss` and `exp`
    /// by `now`. jsonwebtoken's own time checks (system time) are off.
    pub(crate) fn verify(
        &self,
        token: &str,
        issuer: &str,
        now: DateTime<Utc>,
    ) -> Result<Verified, KeyError> {
        let (alg, kid, _) = token_header(token)?;
        if kid != self.kid {
            return Err(KeyError::Rejected("unknown key"));
        }
        if alg != self.alg {
            return Err(KeyError::Rejected("algorithm does not match the key"));
        }
        let mut validation = Validation::new(jws_alg(self.alg));
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &self.decoding,
            &validation,
        )
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                KeyError::Rejected("bad signature")
            }
            _ => KeyError::Rejected("malformed token"),
        })?;
        let claims = data.claims;
        if claims.get("iss").and_then(|v| v.as_str()) != Some(issuer) {
            return Err(KeyError::Rejected("wrong issuer"));
        }
        match claims.get("exp").and_then(serde_json::Value::as_i64) {
            Some(exp) if exp > now.timestamp() => {}
            Some(_) => return Err(KeyError::Rejected("expired")),
            None => return Err(KeyError::Rejected("no expiry")),
        }
        Ok(Verified {
            kid,
            alg,
            typ: data.header.typ,
            claims,
        })
    }
}

/// JWKs on the shared key lifecycle: one key per algorithm, stored as the sealed PKCS#8 DER and
/// the public JWK, the `kid` its RFC 7638 thumbprint.
impl KeyKind for KeyMaterial {
    const PURPOSE: &'static str = super::PURPOSE;
    const NAME: &'static str = "token-signing key";
    type Algorithm = SigningAlgorithm;
    const ALGORITHMS: &'static [SigningAlgorithm] = &SigningAlgorithm::ALL;

    fn algorithm_name(alg: SigningAlgorithm) -> &'static str {
        alg.as_str()
    }

    fn generate(alg: SigningAlgorithm) -> Result<NewKey, String> {
        let (material, der) = Self::generate(alg).map_err(reason)?;
        Ok(NewKey {
            public: material.jwk.to_string(),
            kid: material.kid,
            private: der,
        })
    }

    fn open(alg: SigningAlgorithm, kid: &str, der: &[u8], _jwk: &str) -> Result<Self, String> {
        Self::from_pkcs8(alg, Some(kid), der).map_err(reason)
    }
}

fn reason(e: KeyError) -> String {
    match e {
        KeyError::Corrupt(why) => why,
        other => other.to_string(),
    }
}

/// The header facts needed to choose a key: only our three algorithms pass (`none` and HS*
/// are refused before any key is looked at), and a `kid` is required.
pub(crate) fn token_header(
    token: &str,
) -> Result<(SigningAlgorithm, String, Option<String>), KeyError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| KeyError::Rejected("malformed token"))?;
    let alg = match header.alg {
        Algorithm::RS256 => SigningAlgorithm::RS256,
        Algorithm::ES256 => SigningAlgorithm::ES256,
        Algorithm::EdDSA => SigningAlgorithm::EdDSA,
        _ => return Err(KeyError::Rejected("algorithm not accepted")),
    };
    let kid = header
        .kid
        .filter(|k| {
            (1..=128).contains(&k.len())
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .ok_or(KeyError::Rejected("unknown key"))?;
    Ok((alg, kid, header.typ))
}

/// One DER element: (tag, contents, what follows). Short and long definite lengths only.
pub(super) fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest)
    };
    let (body, rest) = rest.split_at_checked(len)?;
    Some((tag, body, rest))
}

/// The `privateKey` OCTET STRING of a PKCS#8 `PrivateKeyInfo` (RFC 5208 §5): for RSA, the
/// RFC 8017 `RSAPrivateKey`.
pub(super) fn pkcs1_from_pkcs8(der: &[u8]) -> Option<&[u8]> {
    let (0x30, info, []) = der_element(der)? else {
        return None;
    };
    let (0x02, _version, info) = der_element(info)? else {
        return None;
    };
    let (0x30, _algorithm, info) = der_element(info)? else {
        return None;
    };
    let (0x04, key, _) = der_element(info)? else {
        return None;
    };
    Some(key)
}
