//! The one trait every channel implements, the message it carries and how a send can fail.
//!
//! A `SendError` text ends up in logs and in the notification store, so it must never contain an
//! address, a phone number or message text; `redact` scrubs what a relay or gateway says back.

use std::fmt;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

/// A channel that can carry one message to one family contact.
#[async_trait]
pub trait Channel: Send + Sync {
    /// Sends `message`. Sending the same `delivery_id` again must be safe: channels pass it on as
    /// an idempotency key (webhook), a Message-ID (email) or a file name (files).
    async fn send(&self, message: &Outgoing) -> Result<Sent, SendError>;
}

/// One message to one recipient.
#[derive(Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Stable for one delivery across retries; the idempotency key.
    pub delivery_id: String,
    /// An email address, an E.164 phone number, a messenger handle or, for files, a postal address.
    pub to: String,
    /// Which messenger carries it (for the messenger gateway); empty otherwise.
    pub messenger: String,
    pub subject: String,
    pub body: String,
    /// Language tag of the text (`uk`, `ru`, `en`).
    pub language: String,
}

// Hand-written so that a stray `{:?}` can never put an address or a text into a log.
impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("delivery_id", &self.delivery_id)
            .field("to", &"<redacted>")
            .field("messenger", &self.messenger)
            .field("subject", &"<redacted>")
            .field("body", &"<redacted>")
            .field("language", &self.language)
            .finish()
    }
}

/// What a channel answers when it has accepted a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The provider's id for the message (the Message-ID for email, the gateway's id for
    /// webhooks, the file name for files); empty when a gateway accepted without giving one.
    pub provider_message_id: String,
}

/// Why a message was not sent, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Try again later: connection refused, timeout, SMTP 4xx, HTTP 5xx, 408 or 429.
    #[error("temporary delivery failure: {0}")]
    Transient(String),
    /// Trying again will not help: the recipient was refused, the address is invalid, the
    /// gateway rejected the request, or the channel is not configured.
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

impl SendError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::Transient(_))
    }

    /// The reason without the transient/permanent prefix.
    pub fn reason(&self) -> &str {
        match self {
            SendError::Transient(reason) | SendError::Permanent(reason) => reason,
        }
    }
}

/// Characters allowed as they are in file names and in the left part of a Message-ID.
fn is_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

const SAFE_ID_MAX: usize = 64;

/// A form of `delivery_id` that is safe as a file name and inside a Message-ID, and the same for
/// the same id every time. Ids that need changing get a hash of the original appended, so two
/// ids that sanitise alike still do not collide.
pub(crate) fn safe_id(delivery_id: &str) -> String {
    if !delivery_id.is_empty()
        && delivery_id.len() <= SAFE_ID_MAX
        && delivery_id.chars().all(is_safe)
    {
        return delivery_id.to_owned();
    }
    let mut out: String = delivery_id
        .chars()
        .take(SAFE_ID_MAX)
        .map(|c| if is_safe(c) { c } else { '_' })
        .collect();
    let digest = Sha256::digest(delivery_id.as_bytes());
    if !out.is_empty() {
        out.push('-');
    }
    out.push_str(&hex::encode(&digest[..8]));
    out
}

const REDACTED_MAX: usize = 200;

/// Scrubs text a relay or gateway sent back before it goes into a `SendError`: servers like to
/// echo the recipient ("550 <someone@example.org>: unknown"). Words with an `@` and words with
/// seven or more digits (phone numbers) are dropped, and the text is cut short.
pub(crate) fn redact(text: &str) -> String {
    let mut out = String::new();
    for word in text.split_whitespace() {
        let digits = word.chars().filter(char::is_ascii_digit).count();
        let word = if word.contains('@') || digits >= 7 {
            "[redacted]"
        } else {
            word
        };
        if out.len() + word.len() + 1 > REDACTED_MAX {
            out.push_str(" …");
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_delivery_id_is_kept_as_it_is() {
        assert_eq!(
            safe_id("0196b7e2-7c1a-7d2e-9f00-1234567890ab"),
            "0196b7e2-7c1a-7d2e-9f00-1234567890ab"
        );
    }

    #[test]
    fn a_delivery_id_with_path_characters_becomes_a_plain_name_that_does_not_collide() {
        let escaped = safe_id("../etc/passwd");
        assert!(escaped.chars().all(is_safe), "{escaped}");
        assert!(escaped.starts_with("___etc_passwd-"), "{escaped}");
        assert_ne!(safe_id("a/b"), safe_id("a:b"));
        assert_eq!(safe_id("a/b"), safe_id("a/b"));
        assert!(!safe_id("").is_empty());
        assert!(safe_id(&"x".repeat(500)).len() <= SAFE_ID_MAX + 17);
    }

    #[test]
    fn redaction_drops_addresses_and_phone_numbers_but_keeps_the_reason() {
        let said = redact("5.1.1 <mother@example.org>: Recipient unknown, call +380501234567");
        assert_eq!(said, "5.1.1 [redacted] Recipient unknown, call [redacted]");
    }

    #[test]
    fn debug_output_of_a_message_hides_the_address_and_the_text() {
        let message = Outgoing {
            delivery_id: "d-1".into(),
            to: "mother@example.org".into(),
            messenger: String::new(),
            subject: "Inquiry HW-1".into(),
            body: "secret body".into(),
            language: "en".into(),
        };
        let shown = format!("{message:?}");
        assert!(shown.contains("d-1"));
        assert!(!shown.contains("mother@example.org"));
        assert!(!shown.contains("secret body"));
        assert!(!shown.contains("HW-1"));
    }
}
