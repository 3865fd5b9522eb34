//! Reading HTML as a browser reads a form: an input's value by name (first occurrence), the
//! `<meta name="csrf-token">` scripts read, a whole form's hidden inputs, and character
//! references decoded. String searches, not a parser: the pages are our own templates.

/// The raw value of the first `name="{name}" value="…"` in `html` (character references kept).
/// No allocation: the bench reads a field from every page it walks.
pub fn raw_field<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    named(html, name, "\" value=\"")
}

/// The value of the first `name="{name}" content="…"` (a `<meta>`), raw.
pub fn meta<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    named(html, name, "\" content=\"")
}

/// What stands between the quotes after the first `name="{name}{then}`.
fn named<'a>(html: &'a str, name: &str, then: &str) -> Option<&'a str> {
    let mut rest = html;
    while let Some(i) = rest.find("name=\"") {
        rest = &rest[i + 6..];
        if let Some(after) = rest.strip_prefix(name).and_then(|r| r.strip_prefix(then)) {
            return after.find('"').map(|end| &after[..end]);
        }
    }
    None
}

/// The value of attribute `attr` inside the tag text `tag` (`<input … >`), raw.
fn attribute<'a>(tag: &'a str, attr: &str) -> Option<&'a str> {
    let mut rest = tag;
    while let Some(i) = rest.find(attr) {
        let before = tag.len() - rest.len() + i;
        rest = &rest[i + attr.len()..];
        let boundary = tag[..before]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace);
        if let (true, Some(after)) = (boundary, rest.strip_prefix("=\"")) {
            return after.find('"').map(|end| &after[..end]);
        }
    }
    None
}

/// A form as found in a page: where it posts, and its hidden inputs (values decoded, in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub action: String,
    pub method: String,
    pub hidden: Vec<(String, String)>,
}

impl Form {
    /// The first form in `html` whose `action` is `action` (decoded), or the first form at all
    /// when `action` is `None`.
    pub fn find(html: &str, action: Option<&str>) -> Option<Self> {
        let mut rest = html;
        while let Some(i) = rest.find("<form") {
            rest = &rest[i..];
            let tag_end = rest.find('>')?;
            let tag = &rest[..tag_end];
            let body_end = rest.find("</form>").unwrap_or(rest.len());
            let form_action = html_unescape(attribute(tag, "action").unwrap_or_default());
            if action.is_none_or(|a| a == form_action) {
                let method = attribute(tag, "method")
                    .unwrap_or("get")
                    .to_ascii_lowercase();
                return Some(Self {
                    action: form_action,
                    method,
                    hidden: hidden_inputs(&rest[tag_end..body_end]),
                });
            }
            rest = &rest[tag_end..];
        }
        None
    }

    /// The value of hidden input `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.hidden
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The hidden inputs followed by `extra`, as a form body to post.
    pub fn with<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut out: Vec<(&str, &str)> = self
            .hidden
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        out.extend_from_slice(extra);
        out
    }
}

/// The `<input type="hidden">` elements of `html`: (name, decoded value), in order.
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<input") {
        rest = &rest[i..];
        let Some(end) = rest.find('>') else { break };
        let tag = &rest[..end];
        if attribute(tag, "type") == Some("hidden")
            && let Some(name) = attribute(tag, "name")
        {
            let value = attribute(tag, "value").unwrap_or_default();
            out.push((html_unescape(name), html_unescape(value)));
        }
        rest = &rest[end..];
    }
    out
}

/// An attribute value as a browser reads it: character references decoded (the templates escape
/// `&` as `&#38;`, for instance).
pub fn html_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let decoded = rest.find(';').and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .map(|h| u32::from_str_radix(h, 16))
                    .or_else(|| name.strip_prefix('#').map(str::parse))
                    .and_then(Result::ok)
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "<html><head><meta name=\"csrf-token\" content=\"m1\"></head><body>\
        <form method=\"post\" action=\"/a?x=1&#38;y=2\"><input type=\"hidden\" name=\"csrf\" \
        value=\"c1\"><input type=\"text\" name=\"username\" value=\"\"></form>\
        <form method=\"POST\" action=\"https://sp.example.com/acs\">\
        <input type=\"hidden\" name=\"SAMLResponse\" value=\"PHNhbWw+\">\
        <input type=\"hidden\" name=\"RelayState\" value=\"a&amp;b\"></form></body></html>";

    #[test]
    fn reads_fields_and_meta() {
        assert_eq!(raw_field(PAGE, "csrf"), Some("c1"));
        assert_eq!(raw_field(PAGE, "RelayState"), Some("a&amp;b"));
        assert_eq!(raw_field(PAGE, "cs"), None);
        assert_eq!(raw_field(PAGE, "nothing"), None);
        assert_eq!(meta(PAGE, "csrf-token"), Some("m1"));
        assert_eq!(meta(PAGE, "csrf"), None);
    }

    #[test]
    fn finds_forms_by_action() {
        let first = Form::find(PAGE, None).unwrap();
        assert_eq!(first.action, "/a?x=1&y=2");
        assert_eq!(first.method, "post");
        assert_eq!(first.hidden, vec![("csrf".to_owned(), "c1".to_owned())]);
        let acs = Form::find(PAGE, Some("https://sp.example.com/acs")).unwrap();
        assert_eq!(acs.value("SAMLResponse"), Some("PHNhbWw+"));
        assert_eq!(acs.value("RelayState"), Some("a&b"));
        assert_eq!(
            acs.with(&[("x", "1")]),
            vec![
                ("SAMLResponse", "PHNhbWw+"),
                ("RelayState", "a&b"),
                ("x", "1")
            ]
        );
        assert_eq!(Form::find(PAGE, Some("/elsewhere")), None);
    }

    #[test]
    fn decodes_character_references() {
        assert_eq!(
            html_unescape("a&#38;b&amp;c&#x3D;&lt;&gt;&quot;&apos;"),
            "a&b&c=<>\"'"
        );
        assert_eq!(
            html_unescape("AT&T; &bogus; & &#xZZ;"),
            "AT&T; &bogus; & &#xZZ;"
        );
        assert_eq!(html_unescape("plain"), "plain");
    }
}
