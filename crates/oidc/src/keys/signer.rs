//! Signing with a private key opened once. `jsonwebtoken::encode` takes the key as DER and opens
//! it again for every token (for P-256 that includes a consistency check costing about as much as
//! the signature itself, for RSA a full parse); token endpoints sign on every request, so the key
//! pair is kept opened here and the JWS compact serialization (RFC 7515 §7.1: base64url header,
//! `.`, base64url claims, `.`, base64url signature) is assembled around it. The signatures are
//! aws-lc-rs's; tokens verify with jsonwebtoken like any other (tests/e2e and the JWKS tests).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;
use portcullis_domain::SigningAlgorithm;

/// An opened private key.
pub(super) enum Signer {
    Rs256(RsaKeyPair),
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

/// Why a key could not be opened or used.
#[derive(Debug)]
pub(super) struct Unusable(pub &'static str);

impl Signer {
    /// Opens `der`: PKCS#1 RSAPrivateKey for RS256, PKCS#8 for ES256 and EdDSA.
    pub(super) fn open(alg: SigningAlgorithm, der: &[u8]) -> Result<Self, Unusable> {
        Ok(match alg {
            SigningAlgorithm::RS256 => Self::Rs256(
                RsaKeyPair::from_der(der).map_err(|_| Unusable("not an RSA private key"))?,
            ),
            SigningAlgorithm::ES256 => Self::Es256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| Unusable("not a P-256 private key"))?,
            ),
            SigningAlgorithm::EdDSA => Self::EdDsa(
                Ed25519KeyPair::from_pkcs8(der)
                    .map_err(|_| Unusable("not an Ed25519 private key"))?,
            ),
        })
    }

    /// The compact JWS of `claims` under `header`.
    pub(super) fn sign(
        &self,
        header: &Header,
        claims: &impl serde::Serialize,
    ) -> Result<String, Unusable> {
        let mut token = String::with_capacity(512);
        part(&mut token, header)?;
        token.push('.');
        part(&mut token, claims)?;
        let signature = self.signature(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }

    fn signature(&self, message: &[u8]) -> Result<Vec<u8>, Unusable> {
        let failed = |_| Unusable("signing failed");
        Ok(match self {
            Self::Rs256(pair) => {
                let mut out = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut out)
                    .map_err(failed)?;
                out
            }
            Self::Es256(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            Self::EdDsa(pair) => pair.sign(message).as_ref().to_vec(),
        })
    }
}

/// Appends the base64url of `value`'s JSON.
fn part(out: &mut String, value: &impl serde::Serialize) -> Result<(), Unusable> {
    let json = serde_json::to_vec(value).map_err(|_| Unusable("claims are not JSON"))?;
    URL_SAFE_NO_PAD.encode_string(json, out);
    Ok(())
}
