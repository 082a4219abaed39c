//! The notification service's errors and their one mapping to gRPC statuses.

use homeward_kit::{ApiError, StoreError, error::Violation};
use tonic::{Code, Status};

pub const DOMAIN: &str = "homeward.notification";

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("invalid request")]
    Invalid(Vec<Violation>),
    #[error("{resource} {id} not found")]
    NotFound { resource: &'static str, id: String },
    #[error(
        "the record has changed since it was read (etag {given} given, current is {current}); read it again"
    )]
    EtagMismatch { given: String, current: String },
    /// A rule of the exchange refuses the request in the current state of things.
    #[error("{message}")]
    Refused {
        reason: &'static str,
        message: String,
    },
    /// The registry refused a step for a reason that will not go away by retrying.
    #[error("the registry refused: {0}")]
    RegistryRefused(String),
    /// The registry could not be reached or did not answer in time; the step stays pending and
    /// is finished when the registry is back.
    #[error("the registry is not reachable ({0}); the step is kept and finished when it is back")]
    RegistryUnavailable(String),

    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl NotifyError {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Invalid(vec![Violation::new(field, description)])
    }

    pub fn refused(reason: &'static str, message: impl Into<String>) -> Self {
        Self::Refused {
            reason,
            message: message.into(),
        }
    }

    /// A registry answer, sorted into what retrying may fix and what it will not.
    pub fn from_registry(status: &Status) -> Self {
        match status.code() {
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Cancelled
            | Code::Unknown
            | Code::Internal
            | Code::Aborted
            | Code::ResourceExhausted
            | Code::Unauthenticated => {
                Self::RegistryUnavailable(format!("{:?}: {}", status.code(), status.message()))
            }
            _ => Self::RegistryRefused(status.message().to_string()),
        }
    }

    /// Whether a pending step that failed this way should be retried later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RegistryUnavailable(_)
                | Self::Store(StoreError::Unavailable(_) | StoreError::Conflict)
        )
    }
}

impl From<homeward_kit::docs::CommitError> for NotifyError {
    fn from(err: homeward_kit::docs::CommitError) -> Self {
        match err {
            homeward_kit::docs::CommitError::Store(e) => Self::Store(e),
            homeward_kit::docs::CommitError::Api(e) => Self::Api(e),
        }
    }
}

impl From<NotifyError> for ApiError {
    fn from(err: NotifyError) -> Self {
        let message = err.to_string();
        match err {
            NotifyError::Invalid(v) => ApiError::InvalidArgument(v),
            NotifyError::NotFound { resource, id } => ApiError::NotFound { resource, id },
            NotifyError::EtagMismatch { .. } => ApiError::Aborted {
                reason: "ETAG_MISMATCH",
                message,
            },
            NotifyError::Refused { reason, .. } => ApiError::FailedPrecondition { reason, message },
            NotifyError::RegistryRefused(_) => ApiError::FailedPrecondition {
                reason: "REGISTRY_REFUSED",
                message,
            },
            NotifyError::RegistryUnavailable(_) => ApiError::Unavailable(message),
            NotifyError::Api(api) => api,
            NotifyError::Store(StoreError::Conflict) => ApiError::Aborted {
                reason: "CONCURRENT_UPDATE",
                message: "the record was changed concurrently; read it again and retry".into(),
            },
            NotifyError::Store(store) => store.into_api(),
        }
    }
}

impl From<NotifyError> for Status {
    fn from(err: NotifyError) -> Self {
        ApiError::from(err).into_status(DOMAIN)
    }
}
