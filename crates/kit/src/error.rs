//! The error model shared by every service: one enum of API failures, each mapped to exactly one
//! `tonic::Code` with a `google.rpc.ErrorInfo` detail (and `BadRequest` for invalid input), and
//! one translation of database errors, done here so no handler ever inspects driver codes.
//!
//! Internal failures are logged with an id and returned without their cause: driver messages can
//! carry fragments of the data.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// A field that failed validation: the field path (as in the request) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub description: String,
}

impl Violation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Every way a Homeward RPC can fail. Services map their own error enums into this one.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid request: {}", summary(.0))]
    InvalidArgument(Vec<Violation>),
    #[error("{resource} {id} not found")]
    NotFound { resource: &'static str, id: String },
    #[error("{message}")]
    AlreadyExists {
        reason: &'static str,
        message: String,
    },
    #[error("{message}")]
    FailedPrecondition {
        reason: &'static str,
        message: String,
    },
    #[error("{message}")]
    Aborted {
        reason: &'static str,
        message: String,
    },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error {0}")]
    Internal(String),
}

fn summary(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![Violation::new(field, description)])
    }

    /// Logs the cause under a fresh id and returns an error that only carries the id.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        tracing::error!(error_id = %id, error = %cause, "internal error");
        Self::Internal(id)
    }

    pub fn code(&self) -> Code {
        match self {
            Self::InvalidArgument(_) => Code::InvalidArgument,
            Self::NotFound { .. } => Code::NotFound,
            Self::AlreadyExists { .. } => Code::AlreadyExists,
            Self::FailedPrecondition { .. } => Code::FailedPrecondition,
            Self::Aborted { .. } => Code::Aborted,
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::PermissionDenied(_) => Code::PermissionDenied,
            Self::Unavailable(_) => Code::Unavailable,
            Self::Internal(_) => Code::Internal,
        }
    }

    /// The machine-readable reason carried in `ErrorInfo`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidArgument(_) => "INVALID_ARGUMENT",
            Self::NotFound { .. } => "NOT_FOUND",
            Self::AlreadyExists { reason, .. }
            | Self::FailedPrecondition { reason, .. }
            | Self::Aborted { reason, .. } => reason,
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::PermissionDenied(_) => "PERMISSION_DENIED",
            Self::Unavailable(_) => "UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// Converts into a status whose details carry `ErrorInfo` in `domain`.
    pub fn into_status(self, domain: &str) -> Status {
        let mut metadata = HashMap::new();
        let mut details = ErrorDetails::new();
        match &self {
            Self::InvalidArgument(violations) => {
                details.set_bad_request(
                    violations
                        .iter()
                        .map(|v| FieldViolation::new(v.field.clone(), v.description.clone()))
                        .collect::<Vec<_>>(),
                );
            }
            Self::NotFound { resource, id } => {
                metadata.insert("resource".to_string(), resource.to_string());
                metadata.insert("id".to_string(), id.clone());
                details.set_resource_info(*resource, id.clone(), "", "not found");
            }
            Self::Internal(id) => {
                metadata.insert("error_id".to_string(), id.clone());
            }
            _ => {}
        }
        if matches!(self, Self::Unavailable(_)) {
            details.set_retry_info(Some(std::time::Duration::from_millis(500)));
        }
        details.set_error_info(self.reason(), domain, metadata);
        Status::with_error_details(self.code(), self.to_string(), details)
    }
}

/// Failures of a store, already translated from the driver's codes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint was violated; the name of the constraint says which.
    #[error("unique constraint {0} violated")]
    UniqueViolation(String),
    /// A check or foreign-key constraint refused the write.
    #[error("constraint {0} violated")]
    ConstraintViolation(String),
    /// The write lost a race (serialization failure, deadlock, stale version); retrying may succeed.
    #[error("concurrent update")]
    Conflict,
    /// The database cannot be reached or is overloaded.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Other(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => Self::Unavailable(err.to_string()),
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.to_string()).unwrap_or_default();
                let constraint = db.constraint().unwrap_or_default().to_string();
                match db.kind() {
                    sqlx::error::ErrorKind::UniqueViolation => {
                        let name = if constraint.is_empty() {
                            db.message().to_string()
                        } else {
                            constraint
                        };
                        return Self::UniqueViolation(name);
                    }
                    sqlx::error::ErrorKind::ForeignKeyViolation
                    | sqlx::error::ErrorKind::CheckViolation
                    | sqlx::error::ErrorKind::NotNullViolation => {
                        return Self::ConstraintViolation(constraint);
                    }
                    _ => {}
                }
                match code.as_str() {
                    // serialization_failure, deadlock_detected; SQLite BUSY and LOCKED.
                    "40001" | "40P01" | "5" | "6" | "517" | "262" => Self::Conflict,
                    // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections.
                    "57P01" | "57P02" | "57P03" | "53300" => Self::Unavailable(err.to_string()),
                    _ => Self::Other(err.to_string()),
                }
            }
            _ => Self::Other(err.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        Self::Other(err.to_string())
    }
}

impl StoreError {
    /// The API error for a store failure that the service has no more specific meaning for.
    pub fn into_api(self) -> ApiError {
        match self {
            Self::NotFound => ApiError::internal(&"record vanished during the request"),
            Self::Conflict => ApiError::Aborted {
                reason: "CONCURRENT_UPDATE",
                message: "the record was changed concurrently; read it again and retry".into(),
            },
            Self::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                ApiError::Unavailable(
                    "the database is unavailable; retry with the same request_id".into(),
                )
            }
            other => ApiError::internal(&other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_bad_request_and_error_info() {
        let status =
            ApiError::InvalidArgument(vec![Violation::new("person.names", "at least one name")])
                .into_status("homeward.registry");
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad = details.bad_request().expect("bad request detail");
        assert_eq!(bad.field_violations[0].field, "person.names");
        let info = details.error_info().expect("error info");
        assert_eq!(info.domain, "homeward.registry");
        assert_eq!(info.reason, "INVALID_ARGUMENT");
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let status = ApiError::internal(&"duplicate key value (Kovalenko)").into_status("d");
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("Kovalenko"));
    }
}
