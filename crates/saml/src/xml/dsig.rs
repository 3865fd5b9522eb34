//! XML signatures: ours (an enveloped signature template written into the message, filled in by
//! Bergshamra with exclusive C14N and an RSA signature from aws-lc-rs) and the SP's (verified by
//! Bergshamra in its strict mode with only the registered certificate trusted), and the query
//! signatures of the HTTP-Redirect binding (SAML Bindings §3.4.4.1), made and checked with
//! aws-lc-rs directly.

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bergshamra_dsig::{DsigContext, VerifyResult};
use bergshamra_keys::KeysManager;
use kryptering::{HashAlgorithm, SignatureAlgorithm};
use uppsala::XmlWriter;

use super::{DSIG_NS, Message, RSA_SHA1, RSA_SHA256, SHA1, SHA256, XmlError, base64_decode};

const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// The canonicalisations and transforms an SP may use: enveloped signatures canonicalised, as
/// SAML's profile (SAML Core §5.4.3, §5.4.4) has them; no XPath, XSLT or Base64 transforms.
const ACCEPTED_TRANSFORMS: &[&str] = &[
    ENVELOPED,
    EXC_C14N,
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2006/12/xml-c14n11",
    "http://www.w3.org/2006/12/xml-c14n11#WithComments",
];
/// The most signatures one inbound message may carry (a request has one), and the most
/// references in all (each costs a canonicalisation of what it points at).
const MAX_SIGNATURES: usize = 2;
const MAX_REFERENCES: usize = 4;

/// Our signing key: the RSA key pair (parsed once) and its certificate.
pub struct SigningKey {
    pair: Arc<KeyPair>,
    cert_der: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey")
    }
}

impl SigningKey {
    /// Opens a stored private key (PKCS#8, or the PKCS#1 of keys made before PKCS#8 was stored)
    /// with its certificate.
    pub fn open(private_der: &[u8], cert_der: Vec<u8>) -> Result<Self, String> {
        let pair = KeyPair::from_pkcs8(private_der)
            .or_else(|_| KeyPair::from_der(private_der))
            .map_err(|e| format!("unreadable RSA key ({e})"))?;
        Ok(Self {
            pair: Arc::new(pair),
            cert_der,
        })
    }

    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The private key as PKCS#8 DER.
    pub fn pkcs8(&self) -> Result<Vec<u8>, XmlError> {
        self.pair
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| XmlError::Signing)
    }

    /// Writes the enveloped-signature template for the element with `id` (exclusive C14N,
    /// RSA-SHA256 and SHA-256), carrying our certificate; [`Self::sign`] fills it in. We sign
    /// with SHA-256 only, also for an SP that may send SHA-1 (`allow_sha1`): aws-lc-rs makes no
    /// SHA-1 signatures, and every SAML SP in use verifies SHA-256.
    pub fn write_template(&self, w: &mut XmlWriter, id: &str) {
        let reference = format!("#{id}");
        w.start_element("ds:Signature", &[("xmlns:ds", DSIG_NS)]);
        w.start_element("ds:SignedInfo", &[]);
        w.empty_element("ds:CanonicalizationMethod", &[("Algorithm", EXC_C14N)]);
        w.empty_element("ds:SignatureMethod", &[("Algorithm", RSA_SHA256)]);
        w.start_element("ds:Reference", &[("URI", &reference)]);
        w.start_element("ds:Transforms", &[]);
        w.empty_element("ds:Transform", &[("Algorithm", ENVELOPED)]);
        w.empty_element("ds:Transform", &[("Algorithm", EXC_C14N)]);
        w.end_element("ds:Transforms");
        w.empty_element("ds:DigestMethod", &[("Algorithm", SHA256)]);
        w.empty_element_expanded("ds:DigestValue", &[]);
        w.end_element("ds:Reference");
        w.end_element("ds:SignedInfo");
        w.empty_element_expanded("ds:SignatureValue", &[]);
        w.start_element("ds:KeyInfo", &[]);
        w.start_element("ds:X509Data", &[]);
        w.start_element("ds:X509Certificate", &[]);
        w.text(&STANDARD.encode(&self.cert_der));
        w.end_element("ds:X509Certificate");
        w.end_element("ds:X509Data");
        w.end_element("ds:KeyInfo");
        w.end_element("ds:Signature");
    }

    /// Fills in the first signature template of `xml` (written by [`Self::write_template`]).
    pub fn sign(&self, xml: String) -> Result<String, XmlError> {
        let signer = RsaSigner {
            pair: Arc::clone(&self.pair),
        };
        let ctx = DsigContext::new_permissive(KeysManager::new()).with_hsm_signer(Box::new(signer));
        bergshamra_dsig::sign::sign_owned(&ctx, xml).map_err(|e| {
            tracing::error!(error = %e, "signing a SAML message failed");
            XmlError::Signing
        })
    }

    /// Signs a query string for HTTP-Redirect (RSA-SHA256): the `Signature` parameter's value.
    pub fn sign_query(&self, signed: &str) -> Result<String, XmlError> {
        rsa_sha256(&self.pair, signed.as_bytes())
            .map(|s| STANDARD.encode(s))
            .map_err(|_| XmlError::Signing)
    }
}

fn rsa_sha256(pair: &KeyPair, data: &[u8]) -> Result<Vec<u8>, aws_lc_rs::error::Unspecified> {
    let mut out = vec![0; pair.public_modulus_len()];
    pair.sign(
        &signature::RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        data,
        &mut out,
    )?;
    Ok(out)
}

/// Bergshamra's signer hook, so that the key parsed once signs.
struct RsaSigner {
    pair: Arc<KeyPair>,
}

impl kryptering::Signer for RsaSigner {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RsaPkcs1v15(HashAlgorithm::Sha256)
    }

    fn sign(&self, data: &[u8]) -> kryptering::Result<Vec<u8>> {
        rsa_sha256(&self.pair, data).map_err(|_| kryptering::Error::Crypto("RSA signing".into()))
    }
}

impl Message<'_> {
    /// Verifies the message's signatures against `cert_der`: every signature must verify, with
    /// only that certificate trusted and only the accepted algorithms (RSA-SHA256 and SHA-256,
    /// SHA-1 too when `allow_sha1`) and transforms, and one of them must be the root's own
    /// enveloped signature covering the root. Then the whole message but that signature is
    /// signed, and readers may use any of it.
    pub fn verify(&self, cert_der: &[u8], allow_sha1: bool) -> Result<(), XmlError> {
        let signatures = self.check_algorithms(allow_sha1)?;
        if signatures == 0 {
            return Err(XmlError::BadSignature);
        }
        let key = bergshamra_keys::loader::load_x509_cert_der(cert_der)
            .map_err(|_| XmlError::BadSignature)?;
        let mut keys = KeysManager::new();
        keys.add_key(key);
        // Strict positions (no reference to a node that is not the root, an ancestor or a
        // sibling of its signature), trusted keys only, duplicate IDs refused.
        let ctx = DsigContext::new(keys);
        let results = bergshamra_dsig::verify::verify_all_document_with_source(
            &ctx,
            &self.doc,
            Some(self.xml),
        )
        .map_err(|_| XmlError::BadSignature)?;
        let mut covers_root = false;
        for result in results {
            let VerifyResult::Valid {
                signature_node,
                references,
                ..
            } = result
            else {
                return Err(XmlError::BadSignature);
            };
            covers_root |= self.doc.parent(signature_node) == Some(self.root)
                && references
                    .iter()
                    .any(|r| r.digest_verified && r.resolved_node == Some(self.root));
        }
        if covers_root {
            Ok(())
        } else {
            Err(XmlError::BadSignature)
        }
    }

    /// Counts the signatures, refusing any algorithm or transform not accepted.
    fn check_algorithms(&self, allow_sha1: bool) -> Result<usize, XmlError> {
        let (mut signatures, mut references) = (0, 0);
        for node in self.doc.descendants(self.root) {
            let Some(e) = self.doc.element(node) else {
                continue;
            };
            if e.name.namespace_uri.as_deref() != Some(DSIG_NS) {
                continue;
            }
            let algorithm = e.get_attribute("Algorithm").unwrap_or_default();
            let accepted = match e.name.local_name.as_ref() {
                "Signature" => {
                    signatures += 1;
                    true
                }
                "Reference" => {
                    references += 1;
                    true
                }
                "SignatureMethod" => {
                    algorithm == RSA_SHA256 || (allow_sha1 && algorithm == RSA_SHA1)
                }
                "DigestMethod" => algorithm == SHA256 || (allow_sha1 && algorithm == SHA1),
                "CanonicalizationMethod" | "Transform" => ACCEPTED_TRANSFORMS.contains(&algorithm),
                _ => true,
            };
            if !accepted {
                return Err(XmlError::Algorithm);
            }
        }
        if signatures > MAX_SIGNATURES || references > MAX_REFERENCES {
            return Err(XmlError::Malformed(
                "too many signatures or references".into(),
            ));
        }
        Ok(signatures)
    }
}

/// Verifies an HTTP-Redirect query signature over `signed` (the raw, still URL-encoded
/// `SAMLRequest=…&RelayState=…&SigAlg=…` as received).
pub fn verify_query_signature(
    signed: &str,
    signature_b64: &str,
    sig_alg: &str,
    cert_der: &[u8],
    allow_sha1: bool,
) -> Result<(), XmlError> {
    let algorithm: &'static dyn VerificationAlgorithm = match sig_alg {
        RSA_SHA256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        RSA_SHA1 if allow_sha1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        _ => return Err(XmlError::Algorithm),
    };
    let signature = base64_decode(signature_b64)?;
    let public_key = super::certificate::rsa_public_key(cert_der).ok_or(XmlError::BadSignature)?;
    UnparsedPublicKey::new(algorithm, public_key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| XmlError::BadSignature)
}
