//! The `PORTCULLIS__SECTION__KEY` environment layer, read as text.
//!
//! figment's own `Env` provider guesses a type for each value: `123456` becomes a number,
//! `true` a boolean, `[a]` an array. A string setting (an SMTP password, a user name, an
//! entity id) that happens to look like one is then refused ("invalid type: found unsigned
//! int"), and the guess can even change the text (`007` is the number 7). Here every value
//! stays exactly the string the environment holds; the configuration is extracted with
//! figment's lossy interpreter, which turns text into a number or boolean only where the
//! setting is one. The one list setting (`signin.trusted_proxies`) accepts its text form
//! itself ([`string_or_list`]).

use figment::value::{Dict, Map, Value};
use figment::{Error, Metadata, Profile, Provider};
use serde::{Deserialize, Deserializer};

/// Environment variables under a prefix, `__` nesting, every value a string.
pub struct TextEnv(figment::providers::Env);

impl TextEnv {
    pub fn prefixed(prefix: &str) -> Self {
        Self(figment::providers::Env::prefixed(prefix).split("__"))
    }
}

impl Provider for TextEnv {
    fn metadata(&self) -> Metadata {
        self.0.metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, Error> {
        let mut root = Dict::new();
        for (key, value) in self.0.iter() {
            insert(&mut root, key.as_str(), value).map_err(Error::from)?;
        }
        Ok(Map::from([(Profile::Default, root)]))
    }
}

/// Puts `value` at the dotted `key` path, making the tables on the way.
fn insert(dict: &mut Dict, key: &str, value: String) -> Result<(), String> {
    match key.split_once('.') {
        None => {
            dict.insert(key.to_owned(), Value::from(value));
            Ok(())
        }
        Some((head, rest)) => {
            let slot = dict
                .entry(head.to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            match slot {
                Value::Dict(_, inner) => insert(inner, rest, value),
                _ => Err(format!(
                    "{head} is set both as a value and as a table in the environment"
                )),
            }
        }
    }
}

/// A list from a TOML array, or from text (the environment): `["10.0.0.2", "::1"]`,
/// `[10.0.0.2, ::1]` or `10.0.0.2,::1`.
pub fn string_or_list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Text(String),
    }
    let items: Vec<String> = match Raw::deserialize(d)? {
        Raw::List(items) => items,
        Raw::Text(text) => {
            let text = text.trim();
            let text = text
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .unwrap_or(text);
            text.split(',')
                .map(|s| s.trim().trim_matches(|c| c == '"' || c == '\'').to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        }
    };
    items
        .iter()
        .map(|s| {
            s.parse()
                .map_err(|e| serde::de::Error::custom(format!("'{s}': {e}")))
        })
        .collect()
}
