//! The HTTP-Redirect binding's query (SAML Bindings §3.4.4): the message, `RelayState`, `SigAlg`
//! and `Signature` read once from the raw query, each at most once and under its own unencoded
//! name, so that the octets a query signature is checked over (§3.4.4.1: `SAMLRequest=value&
//! RelayState=value&SigAlg=value`, the values exactly as they appear in the query) are the very
//! parameters that are used. A parameter smuggled in under an encoded name (`Relay%53tate`) or a
//! second copy would otherwise ride along a validly signed request.

/// The parameters the binding defines, exactly as received and decoded.
#[derive(Debug, Default)]
pub struct RedirectQuery {
    /// `SAMLRequest` or `SAMLResponse`.
    pub field: &'static str,
    message: Option<Param>,
    relay_state: Option<Param>,
    sig_alg: Option<Param>,
    signature: Option<Param>,
}

/// One parameter: its value as it appears in the query, and decoded.
#[derive(Debug)]
struct Param {
    raw: String,
    decoded: String,
}

/// One query component, percent- and `+`-decoded (`application/x-www-form-urlencoded`).
fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("v={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

impl RedirectQuery {
    /// Reads `query` (the raw query string) for a message in `field`. Other parameters are
    /// ignored; a binding parameter that appears twice, or whose name is percent-encoded, is
    /// refused with the text to show.
    pub fn parse(query: &str, field: &'static str) -> Result<Self, String> {
        let mut out = Self {
            field,
            ..Self::default()
        };
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (raw_name, raw_value) = part.split_once('=').unwrap_or((part, ""));
            let name = decode(raw_name);
            let slot = match name.as_str() {
                n if n == field => &mut out.message,
                "RelayState" => &mut out.relay_state,
                "SigAlg" => &mut out.sig_alg,
                "Signature" => &mut out.signature,
                _ => continue,
            };
            if raw_name != name {
                return Err(format!(
                    "The parameter {name} must be sent under its plain name."
                ));
            }
            if slot.is_some() {
                return Err(format!("The parameter {name} appears more than once."));
            }
            *slot = Some(Param {
                raw: raw_value.to_owned(),
                decoded: decode(raw_value),
            });
        }
        Ok(out)
    }

    /// The message (still base64 of DEFLATE).
    pub fn message(&self) -> Option<&str> {
        self.message.as_ref().map(|p| p.decoded.as_str())
    }

    pub fn relay_state(&self) -> Option<String> {
        self.relay_state.as_ref().map(|p| p.decoded.clone())
    }

    /// `(SigAlg, Signature)` decoded, when the query is signed.
    pub fn signature(&self) -> Option<(&str, &str)> {
        self.signature.as_ref().map(|s| {
            (
                self.sig_alg.as_ref().map_or("", |a| a.decoded.as_str()),
                s.decoded.as_str(),
            )
        })
    }

    /// Whether `SigAlg` was sent (a `Signature` without it is refused).
    pub fn has_sig_alg(&self) -> bool {
        self.sig_alg.is_some()
    }

    /// The octets the query signature covers (Bindings §3.4.4.1), from the raw values.
    pub fn signed_octets(&self) -> String {
        fn raw(p: &Option<Param>) -> &str {
            p.as_ref().map_or("", |p| p.raw.as_str())
        }
        let mut s = format!("{}={}", self.field, raw(&self.message));
        if let Some(relay) = &self.relay_state {
            s.push_str("&RelayState=");
            s.push_str(&relay.raw);
        }
        s.push_str("&SigAlg=");
        s.push_str(raw(&self.sig_alg));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_raw_and_decoded_values() {
        let q = RedirectQuery::parse(
            "SAMLRequest=a%2Bb%3D&RelayState=x+y&SigAlg=alg%3A1&Signature=s%2F&other=1",
            "SAMLRequest",
        )
        .unwrap();
        assert_eq!(q.message(), Some("a+b="));
        assert_eq!(q.relay_state().as_deref(), Some("x y"));
        assert_eq!(q.signature(), Some(("alg:1", "s/")));
        assert_eq!(
            q.signed_octets(),
            "SAMLRequest=a%2Bb%3D&RelayState=x+y&SigAlg=alg%3A1"
        );
    }

    #[test]
    fn refuses_encoded_names_and_duplicates() {
        for q in [
            "SAMLRequest=a&Relay%53tate=x",
            "SAMLRequest=a&SAML%52equest=b",
            "SAMLRequest=a&SigAlg=1&SigAlg=2",
            "SAMLRequest=a&Signature=1&Signature=1",
            "SAMLRequest=a&RelayState=1&RelayState=1",
            "SAMLRequest=a&SAMLRequest=a",
            "SAMLRequest=a&%53igAlg=x",
        ] {
            assert!(RedirectQuery::parse(q, "SAMLRequest").is_err(), "{q}");
        }
    }
}
