//! Pagination on the wire: `maxResults` (1–1000, default 100) and an opaque `nextToken`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_domain::{PageRequest, PageSize};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::error::ApiError;

/// The paging parameters every list accepts.
#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1–1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u32>,
    /// From the previous page's `nextToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

impl ListQuery {
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        page_request(self.max_results, self.next_token.as_deref())
    }
}

pub fn page_request(max: Option<u32>, token: Option<&str>) -> Result<PageRequest, ApiError> {
    let size = match max {
        None => PageSize::default(),
        Some(n) => PageSize::new(n).map_err(|e| ApiError::field("maxResults", e.message))?,
    };
    let after = token.map(decode_token).transpose()?;
    Ok(PageRequest { size, after })
}

/// Page keys travel base64url-encoded so clients treat them as opaque.
pub fn encode_token(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

fn decode_token(token: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::field("nextToken", "is not a token returned by a previous page"))
}

pub fn next_token(next: Option<String>) -> Option<String> {
    next.as_deref().map(encode_token)
}
