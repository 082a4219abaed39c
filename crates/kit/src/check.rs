//! Reading a request: every problem is collected with the field it concerns, so one answer
//! lists them all (as a `google.rpc.BadRequest`), and nothing is written unless there were none.

use crate::{error::Violation, timestamp};
use uuid::Uuid;

/// Collects violations while a message is read.
#[derive(Default)]
pub struct Check(pub Vec<Violation>);

impl Check {
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(Violation::new(field, description));
    }

    /// Trimmed text of at most `max` characters, without control characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        let value = value.trim();
        if value.chars().count() > max {
            self.add(field, format!("at most {max} characters"));
        } else if value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            self.add(field, "must not contain control characters");
        }
        value.to_string()
    }

    pub fn required(&mut self, field: &str, value: &str, max: usize) -> String {
        let value = self.text(field, value, max);
        if value.is_empty() {
            self.add(field, "required");
        }
        value
    }

    pub fn uuid(&mut self, field: &str, value: &str) -> Option<Uuid> {
        match Uuid::parse_str(value.trim()) {
            Ok(id) => Some(id),
            Err(_) => {
                self.add(field, "not an id (UUID)");
                None
            }
        }
    }

    pub fn time(&mut self, field: &str, value: Option<&prost_types::Timestamp>) -> Option<i64> {
        let ts = value?;
        let us = timestamp::proto_to_micros(ts);
        if us.is_none() {
            self.add(field, "not a valid time");
        }
        us
    }

    pub fn party(&mut self, field: &str, value: &str) -> String {
        let party = value.trim().to_uppercase();
        if party.is_empty()
            || party.len() > 16
            || !party.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            self.add(
                field,
                "a party code such as UA: letters, digits and '-', at most 16",
            );
        }
        party
    }

    pub fn finish<T>(self, value: T) -> Result<T, Vec<Violation>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }
}
