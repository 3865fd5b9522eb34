//! Certificates: our self-signed signing certificate (rcgen, with an RSA-2048 key from aws-lc-rs)
//! and what we read from an SP's (x509-parser).

use chrono::{Datelike, TimeDelta, Utc};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::XmlError;

/// A fresh RSA-2048 key (PKCS#8 DER) and its self-signed certificate (DER), valid `days`.
pub fn generate_key_and_certificate(
    common_name: &str,
    days: u32,
) -> Result<(Vec<u8>, Vec<u8>), XmlError> {
    let fail = |e: rcgen::Error| {
        tracing::error!(error = %e, "making a SAML signing certificate failed");
        XmlError::Signing
    };
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .map_err(fail)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let ymd =
        |t: chrono::DateTime<Utc>| rcgen::date_time_ymd(t.year(), t.month() as u8, t.day() as u8);
    let now = Utc::now();
    params.not_before = ymd(now);
    params.not_after = ymd(now + TimeDelta::days(i64::from(days)));
    params.serial_number = Some(rcgen::SerialNumber::from_slice(
        &rand::random::<[u8; 16]>().map(|b| b & 0x7f),
    ));
    let cert = params.self_signed(&key).map_err(fail)?;
    Ok((key.serialize_der(), cert.der().to_vec()))
}

/// Whether `der` is an X.509 certificate with an RSA key of at least 2048 bits.
pub fn check_certificate(der: &[u8]) -> Result<(), &'static str> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|_| "is not an X.509 certificate")?;
    if !rest.is_empty() {
        return Err("is not an X.509 certificate");
    }
    match cert.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) if rsa.key_size() >= 2048 => Ok(()),
        Ok(PublicKey::RSA(_)) => Err("must carry an RSA key of at least 2048 bits"),
        Ok(_) => Err("must carry an RSA key"),
        Err(_) => Err("has no readable public key"),
    }
}

/// The RSAPublicKey (PKCS#1 DER) of an RSA certificate, as aws-lc-rs verifies with it.
pub(crate) fn rsa_public_key(der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let spki = cert.public_key();
    matches!(spki.parsed(), Ok(PublicKey::RSA(_))).then(|| spki.subject_public_key.data.to_vec())
}
