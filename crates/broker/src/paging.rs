//! Pagination of the portal API (`max_result`, `next_token`). A next token is sealed
//! (AES-256-GCM, its own associated data) around the listing it continues, the person it was
//! given to and the last key seen: opaque to the client, and refused when altered, replayed on
//! another listing or presented by someone else.

use portcullis_domain::UserId;
use serde::{Deserialize, Serialize};

use crate::credentials::{Keys, PAGE_AAD};
use crate::error::BrokerError;

/// `max_result` when the caller gives none, and the most it may ask for.
pub const DEFAULT_PAGE: usize = 100;
pub const MAX_PAGE: usize = 100;

/// Which page of which listing to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageArgs {
    pub size: usize,
    pub after: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    /// The listing (`accounts`, `roles:{accountId}`).
    l: String,
    u: UserId,
    /// The key of the last item already returned.
    a: String,
}

impl PageArgs {
    /// Reads `max_result` and `next_token` as given on the wire, for `listing` by `user`.
    pub fn parse(
        keys: &Keys,
        listing: &str,
        user: UserId,
        max_result: Option<&str>,
        next_token: Option<&str>,
    ) -> Result<Self, BrokerError> {
        let size = match max_result.filter(|s| !s.is_empty()) {
            None => DEFAULT_PAGE,
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| {
                    BrokerError::InvalidRequest(format!(
                        "max_result must be a whole number from 1 to {MAX_PAGE}"
                    ))
                })?,
        };
        let after = match next_token.filter(|s| !s.is_empty()) {
            None => None,
            Some(t) => Some(open(keys, listing, user, t)?),
        };
        Ok(Self { size, after })
    }
}

/// The next token that continues `listing` for `user` after `last`.
pub fn seal(keys: &Keys, listing: &str, user: UserId, last: &str) -> String {
    let cursor = Cursor {
        l: listing.to_owned(),
        u: user,
        a: last.to_owned(),
    };
    // Strings and a UUID always serialise.
    let json = serde_json::to_vec(&cursor).unwrap_or_default();
    keys.seal(&json, PAGE_AAD)
}

fn open(keys: &Keys, listing: &str, user: UserId, token: &str) -> Result<String, BrokerError> {
    let invalid = || BrokerError::InvalidRequest("next_token is not valid".into());
    let json = keys.open(token, PAGE_AAD).map_err(|_| invalid())?;
    let cursor: Cursor = serde_json::from_slice(&json).map_err(|_| invalid())?;
    if cursor.l != listing || cursor.u != user {
        return Err(invalid());
    }
    Ok(cursor.a)
}

/// Cuts `items` (in key order, all after the cursor) to one page; the next token when more follow.
pub fn page<T>(
    keys: &Keys,
    listing: &str,
    user: UserId,
    mut items: Vec<T>,
    size: usize,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let more = items.len() > size;
    items.truncate(size);
    let next = if more {
        items
            .last()
            .map(|last| seal(keys, listing, user, &key(last)))
    } else {
        None
    };
    (items, next)
}
