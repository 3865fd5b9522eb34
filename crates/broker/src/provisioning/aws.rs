//! Signed calls to AWS's management APIs, the way the SDK makes them: the Query API (IAM, STS:
//! form-encoded POST, XML answer) and the JSON 1.1 API (Organizations), each signed with SigV4 by
//! the AWS SDK's own signer (`aws-sigv4`).

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

use crate::aws_xml::{AwsError, Leaves};

/// The longest answer read (IAM answers are small; a listing of policies is a few KiB).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(20);

/// An access key (long-term, or an assumed role's with its session token). Never printed.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: String,
    pub(crate) session_token: Option<String>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// One AWS API endpoint: where, which service signs, in which region.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) url: String,
    pub(crate) service: &'static str,
    pub(crate) region: String,
}

/// The HTTP client for AWS.
#[derive(Debug, Clone)]
pub(crate) struct AwsClient {
    http: reqwest::Client,
}

impl AwsError {
    fn ours(code: &str, message: String) -> Self {
        Self {
            code: code.to_owned(),
            message,
            request_id: None,
        }
    }
}

impl AwsClient {
    pub(crate) fn new() -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        })
    }

    /// A Query API call (`Action` and `Version` among `params`); the answer's leaves, or AWS's
    /// error.
    pub(crate) async fn query(
        &self,
        key: &Key,
        at: &Endpoint,
        params: &[(&str, &str)],
    ) -> Result<Leaves, AwsError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let (status, text) = self
            .send(
                key,
                at,
                "application/x-www-form-urlencoded; charset=utf-8",
                None,
                body,
            )
            .await?;
        let leaves = Leaves::parse(&text).map_err(|why| {
            AwsError::ours("BadAnswer", format!("{} gave no AWS answer: {why}", at.url))
        })?;
        if let Some(e) = leaves.error(status) {
            return Err(e);
        }
        if status >= 300 {
            return Err(AwsError::ours(
                "BadAnswer",
                format!("{} answered {status} without an error", at.url),
            ));
        }
        Ok(leaves)
    }

    /// A JSON 1.1 API call (`target`: `AWSOrganizationsV20161128.ListAccounts`).
    pub(crate) async fn json(
        &self,
        key: &Key,
        at: &Endpoint,
        target: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, AwsError> {
        let (status, text) = self
            .send(
                key,
                at,
                "application/x-amz-json-1.1",
                Some(target),
                body.to_string(),
            )
            .await?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|_| AwsError::ours("BadAnswer", format!("{} gave no JSON answer", at.url)))?;
        if status >= 300 {
            let kind = value["__type"].as_str().unwrap_or("Unknown");
            // `__type` may carry a namespace: `com.amazonaws…#AccessDeniedException`.
            let code = kind.rsplit('#').next().unwrap_or(kind);
            let message = value["message"]
                .as_str()
                .or_else(|| value["Message"].as_str())
                .unwrap_or_default();
            return Err(AwsError::ours(code, message.to_owned()));
        }
        Ok(value)
    }

    async fn send(
        &self,
        key: &Key,
        at: &Endpoint,
        content_type: &str,
        target: Option<&str>,
        body: String,
    ) -> Result<(u16, String), AwsError> {
        let url = url::Url::parse(&at.url)
            .map_err(|_| AwsError::ours("BadEndpoint", format!("{} is not a URL", at.url)))?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => {
                return Err(AwsError::ours(
                    "BadEndpoint",
                    format!("{} has no host", at.url),
                ));
            }
        };
        let mut headers = vec![("host", host.as_str()), ("content-type", content_type)];
        if let Some(t) = target {
            headers.push(("x-amz-target", t));
        }
        let signed = signature_headers(key, at, &headers, body.as_bytes())?;
        let mut request = self.http.post(url.as_str()).body(body);
        for (name, value) in headers.iter().filter(|(n, _)| *n != "host") {
            request = request.header(*name, *value);
        }
        for (name, value) in signed {
            request = request.header(name, value);
        }
        let unreachable = |e: reqwest::Error| {
            tracing::warn!(endpoint = %at.url, error = %e, "AWS could not be reached");
            AwsError::ours("Unreachable", format!("{} could not be reached", at.url))
        };
        let answer = request.send().await.map_err(unreachable)?;
        let status = answer.status().as_u16();
        let bytes = answer.bytes().await.map_err(unreachable)?;
        if bytes.len() > MAX_ANSWER_BYTES {
            return Err(AwsError::ours(
                "BadAnswer",
                format!("{} gave too long an answer", at.url),
            ));
        }
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
            AwsError::ours(
                "BadAnswer",
                format!("{} gave an answer not in UTF-8", at.url),
            )
        })?;
        Ok((status, text))
    }
}

/// The SigV4 headers (`authorization`, `x-amz-date`, `x-amz-security-token`) for a POST of
/// `body` with `headers` to `at`.
fn signature_headers(
    key: &Key,
    at: &Endpoint,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Vec<(String, String)>, AwsError> {
    let failed = |e: &dyn std::fmt::Display| AwsError::ours("SigningFailed", e.to_string());
    let identity = Credentials::new(
        &key.access_key_id,
        &key.secret_access_key,
        key.session_token.clone(),
        None,
        "portcullis-provisioning",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&at.region)
        .name(at.service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| failed(&e))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        &at.url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| failed(&e))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| failed(&e))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect())
}
