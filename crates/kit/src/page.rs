//! Opaque page tokens. A token holds the position after which the next page starts and a
//! fingerprint of the filters it was issued for; a token used with other filters, or one that was
//! not issued by us, is refused with INVALID_ARGUMENT.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 1_000;

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub size: u32,
    /// Keyset position: return items strictly after it (0 = from the start).
    pub after: i64,
    filter: String,
}

impl Page {
    /// `filter` describes every filter of the request, so a token cannot be moved between
    /// different queries.
    pub fn from_request(page_size: i32, page_token: &str, filter: &str) -> Result<Self, ApiError> {
        let size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n < 0 => return Err(ApiError::invalid("page_size", "must not be negative")),
            n if n as u32 > MAX_PAGE_SIZE => {
                return Err(ApiError::invalid(
                    "page_size",
                    format!("at most {MAX_PAGE_SIZE}"),
                ));
            }
            n => n as u32,
        };
        let filter = fingerprint(filter);
        let after = if page_token.is_empty() {
            0
        } else {
            decode(page_token, &filter)?
        };
        Ok(Self {
            size,
            after,
            filter,
        })
    }

    /// The token for the page after one ending at `last`, or empty when the page was not full.
    pub fn next_token(&self, returned: usize, last: Option<i64>) -> String {
        match last {
            Some(last) if returned as u32 >= self.size => {
                URL_SAFE_NO_PAD.encode(format!("p1:{}:{last}", self.filter))
            }
            _ => String::new(),
        }
    }

    /// How many rows to fetch: one page.
    pub fn limit(&self) -> i64 {
        i64::from(self.size)
    }
}

fn fingerprint(filter: &str) -> String {
    hex::encode(&Sha256::digest(filter.as_bytes())[..8])
}

fn decode(token: &str, filter: &str) -> Result<i64, ApiError> {
    let bad = || ApiError::invalid("page_token", "not a page token issued for this query");
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = text.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("p1"), Some(f), Some(after)) if f == filter => after
            .parse::<i64>()
            .ok()
            .filter(|a| *a >= 0)
            .ok_or_else(bad),
        (Some("p1"), Some(_), Some(_)) => Err(ApiError::invalid(
            "page_token",
            "the token was issued for different filters; start again without a token",
        )),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_page_yields_a_token_that_resumes_after_its_last_item() {
        let page = Page::from_request(2, "", "status=1").unwrap();
        let token = page.next_token(2, Some(17));
        let next = Page::from_request(2, &token, "status=1").unwrap();
        assert_eq!(next.after, 17);
        assert_eq!(page.next_token(1, Some(17)), "");
    }

    #[test]
    fn tokens_from_other_filters_or_forged_are_refused() {
        let token = Page::from_request(2, "", "status=1")
            .unwrap()
            .next_token(2, Some(3));
        assert!(Page::from_request(2, &token, "status=2").is_err());
        assert!(Page::from_request(2, "garbage!", "status=1").is_err());
        assert!(Page::from_request(2, &URL_SAFE_NO_PAD.encode("p1:zz:-1"), "").is_err());
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert!(Page::from_request(-1, "", "").is_err());
        assert!(Page::from_request(1_001, "", "").is_err());
        assert_eq!(
            Page::from_request(0, "", "").unwrap().size,
            DEFAULT_PAGE_SIZE
        );
    }
}
