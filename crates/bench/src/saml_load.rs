//! The `saml_redirect` scenario, the issue's SAML measurement as it was made: wrk with 32
//! connections, 32 signed-in people taken in turn, every request a fresh HTTP-Redirect
//! AuthnRequest (a new ID each time, so the replay cache never answers), every answer required
//! to be the 200 page carrying the `SAMLResponse` — a redirect to `/saml/continue` counts as an
//! error. wrk's Lua cannot DEFLATE, so the request is sent as one DEFLATE *stored* block (the
//! format every inflater reads; SPs that compress send more bytes' worth of work to inflate, not
//! less), base64- and URL-encoded by the script.
//!
//! wrk does not verify XML signatures, so while it runs a sampler takes a Response every
//! [`SAMPLE_EVERY`] through the same endpoint and verifies its signature with bergshamra against
//! the certificate in our metadata (and the same string checks as `saml_sp_initiated`). A bad
//! sample is an error of the scenario.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bergshamra_dsig::{DsigContext, VerifyResult};
use bergshamra_keys::KeysManager;
use portcullis_testkit::Browser;

use crate::saml::{check_response, redirect_path, response_xml};

/// How often the sampler verifies a Response's signature.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The placeholder of the request ID in the template; replaced by the script with an ID of the
/// same length.
const ID_PLACEHOLDER: &str = "_IDIDIDIDIDIDIDIDIDIDIDIDIDIDID";

/// The wrk script: fresh requests for `base`, with each of `cookies` (one per signed-in person)
/// in turn. `run` makes the IDs of this run unlike any earlier run's.
pub fn lua(base: &str, cookies: &[String], run: &str) -> anyhow::Result<String> {
    anyhow::ensure!(!cookies.is_empty(), "saml_redirect: no signed-in people");
    let xml = crate::saml::authn_request(base, ID_PLACEHOLDER);
    let at = xml.find(ID_PLACEHOLDER).context("no ID in the request")?;
    let (before, after) = (&xml[..at], &xml[at + ID_PLACEHOLDER.len()..]);
    let len = u16::try_from(xml.len()).context("the request is too long for a stored block")?;
    // BFINAL=1, BTYPE=00 (stored), then LEN and its one's complement, little-endian.
    let [lo, hi] = len.to_le_bytes();
    let header = [0x01, lo, hi, !lo, !hi];
    let mut s = String::from("local cookies = {\n");
    for c in cookies {
        let _ = writeln!(s, "  {},", lua_bytes(c.as_bytes()));
    }
    let _ = write!(
        s,
        r#"}}
local head, tail = {head}, {tail}
local run, relay = {run}, "bench-relay"
local b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local threads = {{}}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
function init(args)
  n, bad = 0, 0
  tid = id
  chars = {{}}
  for i = 1, 64 do chars[i - 1] = b64:sub(i, i) end
end
local function base64(s)
  local out, len = {{}}, #s
  for i = 1, len, 3 do
    local a, b, c = s:byte(i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(v / 262144) % 64
    local c2 = math.floor(v / 4096) % 64
    local c3 = math.floor(v / 64) % 64
    local c4 = v % 64
    out[#out + 1] = chars[c1] .. chars[c2] .. (b and chars[c3] or "=") .. (c and chars[c4] or "=")
  end
  return table.concat(out)
end
local escapes = {{ ["+"] = "%2B", ["/"] = "%2F", ["="] = "%3D" }}
function request()
  n = n + 1
  -- {len} characters, as long as the placeholder: the stored block's length stays right.
  local rid = string.format("_%s%d%013d", run, tid, n)
  local encoded = base64(head .. rid .. tail):gsub("[+/=]", escapes)
  local path = "/saml/sso?SAMLRequest=" .. encoded .. "&RelayState=" .. relay
  return wrk.format("GET", path, {{ ["Cookie"] = cookies[(n + tid) % #cookies + 1] }})
end
function response(status, headers, body)
  if status ~= 200 or not body:find("SAMLResponse", 1, true) then bad = bad + 1 end
end
local function bad_answers()
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("bad") end
  return n
end
"#,
        head = lua_bytes(&[&header[..], before.as_bytes()].concat()),
        tail = lua_bytes(after.as_bytes()),
        run = lua_bytes(run.as_bytes()),
        len = ID_PLACEHOLDER.len(),
    );
    s.push_str(&crate::wrk::done("bad_answers()"));
    Ok(s)
}

/// The length of the IDs the script makes from a run tag of `run_len` characters: `_`, the tag,
/// the thread's number (one digit: wrk runs two threads) and a 13-digit counter.
const fn script_id_len(run_len: usize) -> usize {
    1 + run_len + 1 + 13
}

/// A run tag that makes the script's IDs exactly as long as the placeholder.
pub fn run_tag() -> String {
    let len = ID_PLACEHOLDER.len() - script_id_len(0);
    let mut tag = uuid::Uuid::new_v4().simple().to_string();
    tag.truncate(len);
    tag
}

/// A Lua string literal holding exactly `bytes` (every byte escaped as `\ddd`).
fn lua_bytes(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 4 + 2);
    s.push('"');
    for b in bytes {
        let _ = write!(s, "\\{b:03}");
    }
    s.push('"');
    s
}

/// What the sampler saw.
#[derive(Debug, Default)]
pub struct Sampled {
    pub verified: u64,
    pub failures: Vec<String>,
}

/// Verifies a Response every [`SAMPLE_EVERY`] from `browser` until `stop` is set.
pub async fn sample(
    browser: Browser,
    base: String,
    cert: Vec<u8>,
    stop: Arc<AtomicBool>,
) -> Sampled {
    let mut seen = Sampled::default();
    let mut ticks = tokio::time::interval(SAMPLE_EVERY);
    while !stop.load(Ordering::Relaxed) {
        ticks.tick().await;
        match sample_one(&browser, &base, &cert).await {
            Ok(()) => seen.verified += 1,
            Err(e) if seen.failures.len() < 5 => seen.failures.push(format!("{e:#}")),
            Err(_) => {}
        }
    }
    seen
}

/// One round trip whose Response's signature is verified.
pub async fn sample_one(b: &Browser, base: &str, cert: &[u8]) -> anyhow::Result<()> {
    let id = format!("_sample{}", uuid::Uuid::new_v4().simple());
    let page = b
        .try_follow(&redirect_path(
            &crate::saml::authn_request(base, &id),
            "sample",
        )?)
        .await?;
    let xml = response_xml(&page, "sample")?;
    check_response(&xml, &id)?;
    verify_signature(&xml, cert)
}

/// The IdP's signing certificate (DER) from `base`'s metadata.
pub async fn idp_certificate(client: &reqwest::Client, base: &str) -> anyhow::Result<Vec<u8>> {
    let metadata = client
        .get(format!("{base}/saml/metadata"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let start = metadata
        .find("X509Certificate>")
        .context("no certificate in the metadata")?
        + "X509Certificate>".len();
    let end = start
        + metadata[start..]
            .find('<')
            .context("the metadata's certificate is not closed")?;
    let b64: String = metadata[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(b64).context("the metadata's certificate")
}

/// Verifies that the Response's own signature is valid with `cert` (and every other one too).
pub fn verify_signature(xml: &str, cert: &[u8]) -> anyhow::Result<()> {
    let doc = uppsala::Parser::new()
        .with_forbid_dtd(true)
        .parse(xml)
        .map_err(|e| anyhow::anyhow!("the Response is not XML: {e}"))?;
    let root = doc.document_element().context("no document element")?;
    let key = bergshamra_keys::loader::load_x509_cert_der(cert)
        .map_err(|e| anyhow::anyhow!("the metadata certificate: {e}"))?;
    let mut keys = KeysManager::new();
    keys.add_key(key);
    let results = bergshamra_dsig::verify::verify_all_document_with_source(
        &DsigContext::new(keys),
        &doc,
        Some(xml),
    )
    .map_err(|e| anyhow::anyhow!("verifying the Response: {e}"))?;
    let mut root_signed = false;
    for r in results {
        let VerifyResult::Valid {
            signature_node,
            references,
            ..
        } = r
        else {
            anyhow::bail!("a signature of the Response is invalid");
        };
        root_signed |= doc.parent(signature_node) == Some(root)
            && references
                .iter()
                .any(|r| r.digest_verified && r.resolved_node == Some(root));
    }
    anyhow::ensure!(root_signed, "the Response itself is not signed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn the_script_ids_are_as_long_as_the_placeholder() {
        let tag = run_tag();
        assert_eq!(script_id_len(tag.len()), ID_PLACEHOLDER.len());
    }

    /// Runs the script's encoding steps in Rust: a stored block of the template with an ID of the
    /// placeholder's length inflates to the request.
    #[test]
    fn a_stored_block_inflates_to_the_request() {
        let xml = crate::saml::authn_request("http://127.0.0.1:1", ID_PLACEHOLDER);
        let len = u16::try_from(xml.len()).unwrap();
        let [lo, hi] = len.to_le_bytes();
        let id = format!("_{}1{:013}", run_tag(), 42);
        let raw = xml.replace(ID_PLACEHOLDER, &id);
        let block = [&[0x01, lo, hi, !lo, !hi][..], raw.as_bytes()].concat();
        let mut out = String::new();
        flate2::read::DeflateDecoder::new(block.as_slice())
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, raw);
        let script = lua("http://127.0.0.1:1", &["a=b".to_owned()], &run_tag()).unwrap();
        assert!(script.contains("function response("), "{script}");
        assert!(script.contains(&lua_bytes(b"a=b")));
    }

    #[test]
    fn lua_bytes_escapes_every_byte() {
        assert_eq!(lua_bytes(b"a\"\0"), "\"\\097\\034\\000\"");
    }
}
