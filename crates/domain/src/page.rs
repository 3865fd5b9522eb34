//! Keyset pagination: a page of results and where the next one starts.

use crate::ValidationError;

/// How many items a page holds: 1 to 1000, default 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u32);

impl PageSize {
    pub const MAX: u32 = 1000;

    pub fn new(n: u32) -> Result<Self, ValidationError> {
        if (1..=Self::MAX).contains(&n) {
            Ok(Self(n))
        } else {
            Err(ValidationError::new("must be between 1 and 1000"))
        }
    }
    pub fn get(&self) -> u32 {
        self.0
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self(100)
    }
}

/// Which page to read: `after` is the sort key of the last item already seen (stores define the
/// key per listing; the edge encodes it into an opaque token).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub size: PageSize,
    pub after: Option<String>,
}

impl PageRequest {
    pub fn first(size: u32) -> Result<Self, ValidationError> {
        Ok(Self {
            size: PageSize::new(size)?,
            after: None,
        })
    }
}

/// One page: `next` is `Some(key)` when more items follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `size + 1` rows fetched in key order: the extra row only says
    /// that more follow.
    pub fn from_rows(mut rows: Vec<T>, size: PageSize, key: impl Fn(&T) -> String) -> Self {
        let more = rows.len() > size.get() as usize;
        rows.truncate(size.get() as usize);
        let next = if more { rows.last().map(key) } else { None };
        Self { items: rows, next }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}
