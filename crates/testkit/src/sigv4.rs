//! STS `GetCallerIdentity` as the AWS SDK sends it, signed by the SDK's own SigV4 signer: in the
//! `Authorization` header (`aws sts get-caller-identity`) or presigned in the query.

use std::time::{Duration, SystemTime};

pub use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;

use crate::{Error, Result};

/// The body (or query) of `GetCallerIdentity`.
pub const CALLER_IDENTITY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

/// The content type the SDK posts it with.
pub const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Temporary credentials as the broker hands them out.
pub fn credentials(akid: &str, secret: &str, token: &str) -> Credentials {
    Credentials::new(akid, secret, Some(token.to_owned()), None, "testkit")
}

fn signing_error(e: impl std::fmt::Display) -> Error {
    Error::Unexpected(format!("SigV4 signing: {e}"))
}

/// Signs `method url` (`headers` besides `host`, which comes from `base`) for STS in `region` at
/// `at`; returns the signer's instructions.
fn signed(
    creds: &Credentials,
    region: &str,
    at: SystemTime,
    settings: SigningSettings,
    (method, url, base): (&str, &str, &str),
    headers: &[(&str, &str)],
    body: SignableBody<'_>,
) -> Result<aws_sigv4::http_request::SigningInstructions> {
    let identity = creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(at)
        .settings(settings)
        .build()
        .map_err(signing_error)?
        .into();
    let host = base.trim_start_matches("http://");
    let all = std::iter::once(("host", host)).chain(headers.iter().copied());
    let signable = SignableRequest::new(method, url, all, body).map_err(signing_error)?;
    Ok(sign(signable, &params)
        .map_err(signing_error)?
        .into_parts()
        .0)
}

/// The headers of `POST {base}/` with body [`CALLER_IDENTITY`] as the SDK signs it in `region`
/// at `at`: content type, date, security token, authorization (the host is the server's).
pub fn caller_identity_headers(
    base: &str,
    creds: &Credentials,
    region: &str,
    at: SystemTime,
) -> Result<Vec<(String, String)>> {
    let url = format!("{base}/");
    let instructions = signed(
        creds,
        region,
        at,
        SigningSettings::default(),
        ("POST", &url, base),
        &[("content-type", CONTENT_TYPE)],
        SignableBody::Bytes(CALLER_IDENTITY.as_bytes()),
    )?;
    let mut out = vec![("content-type".to_owned(), CONTENT_TYPE.to_owned())];
    out.extend(
        instructions
            .headers()
            .map(|(n, v)| (n.to_owned(), v.to_owned())),
    );
    Ok(out)
}

/// `POST {base}/` `GetCallerIdentity` on `client`, signed in `region` at `at`: the request to send.
pub fn caller_identity(
    client: &reqwest::Client,
    base: &str,
    creds: &Credentials,
    region: &str,
    at: SystemTime,
) -> Result<reqwest::RequestBuilder> {
    let mut req = client.post(format!("{base}/")).body(CALLER_IDENTITY);
    for (name, value) in caller_identity_headers(base, creds, region, at)? {
        req = req.header(name, value);
    }
    Ok(req)
}

/// `{base}/?Action=GetCallerIdentity&Version=2011-06-15` presigned in `region` at `at`, valid for
/// `expires`.
pub fn presigned_caller_identity(
    base: &str,
    creds: &Credentials,
    region: &str,
    at: SystemTime,
    expires: Duration,
) -> Result<String> {
    let url = format!("{base}/?{CALLER_IDENTITY}");
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires);
    let instructions = signed(
        creds,
        region,
        at,
        settings,
        ("GET", &url, base),
        &[],
        SignableBody::UnsignedPayload,
    )?;
    let mut full = url.clone();
    for (name, value) in instructions.params() {
        let value: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        full.push('&');
        full.push_str(name);
        full.push('=');
        full.push_str(&value);
    }
    Ok(full)
}
