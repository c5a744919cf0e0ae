//! Keyset pagination shared by every list: a page holds at most `limit` items and a cursor that
//! names where the next page starts, so lists stay correct while rows are added.

use serde::Serialize;

pub const DEFAULT_PAGE_LIMIT: u32 = 50;
pub const MAX_PAGE_LIMIT: u32 = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    /// Opaque position after which the page starts: the last key of the previous page.
    pub after: Option<String>,
}

impl PageRequest {
    /// Clamps the limit into `1..=MAX_PAGE_LIMIT` so a client cannot ask for everything at once.
    pub fn new(limit: Option<u32>, after: Option<String>) -> Self {
        let limit = limit.unwrap_or(DEFAULT_PAGE_LIMIT).clamp(1, MAX_PAGE_LIMIT);
        Self { limit, after: after.filter(|cursor| !cursor.is_empty()) }
    }

    pub fn first(limit: u32) -> Self {
        Self::new(Some(limit), None)
    }

    /// How many rows to fetch: one more than the limit tells whether a next page exists.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

/// The cursor of a list keyed by a number (the audit log's `seq`, configuration versions): 1 to
/// 18 digits, as the API documents it.
pub fn number_cursor(cursor: &str) -> Option<i64> {
    let digits = !cursor.is_empty() && cursor.len() <= 18 && cursor.bytes().all(|byte| byte.is_ascii_digit());
    if digits { cursor.parse().ok() } else { None }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::new(None, None)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` fetched rows; `cursor_of` gives the key of a row.
    pub fn from_rows(mut rows: Vec<T>, request: &PageRequest, cursor_of: impl Fn(&T) -> String) -> Self {
        let limit = request.limit as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(&cursor_of)
        } else {
            None
        };
        Self { items: rows, next_cursor }
    }

    pub fn map<U>(self, convert: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(convert).collect(), next_cursor: self.next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_clamped() {
        assert_eq!(PageRequest::new(Some(0), None).limit, 1);
        assert_eq!(PageRequest::new(Some(10_000), None).limit, MAX_PAGE_LIMIT);
        assert_eq!(PageRequest::new(None, Some(String::new())).after, None);
    }

    #[test]
    fn extra_row_means_a_next_page() {
        let request = PageRequest::first(2);
        let page = Page::from_rows(vec![1, 2, 3], &request, |row| row.to_string());
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next_cursor.as_deref(), Some("2"));
        let last = Page::from_rows(vec![3], &request, |row| row.to_string());
        assert_eq!(last.next_cursor, None);
    }
}
