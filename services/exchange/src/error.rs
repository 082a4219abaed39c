//! The exchange service's errors and their one mapping to gRPC statuses.

use homeward_kit::{ApiError, StoreError, error::Violation};
use tonic::{Code, Status};

use crate::domain::StepError;

pub const DOMAIN: &str = "homeward.exchange";

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("invalid request")]
    Invalid(Vec<Violation>),
    #[error("{resource} {id} not found")]
    NotFound { resource: &'static str, id: String },
    #[error(
        "the record has changed since it was read (etag {given} given, current is {current}); read it again"
    )]
    EtagMismatch { given: String, current: String },
    #[error("{0}")]
    Step(#[from] StepError),
    /// A rule of the exchange refuses the request in the current state of things.
    #[error("{message}")]
    Refused {
        reason: &'static str,
        message: String,
    },
    #[error(
        "version {current} of this list was submitted meanwhile; read it and submit against it"
    )]
    ListMoved { current: u32 },
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

impl ExchangeError {
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

impl From<homeward_kit::docs::CommitError> for ExchangeError {
    fn from(err: homeward_kit::docs::CommitError) -> Self {
        match err {
            homeward_kit::docs::CommitError::Store(e) => Self::Store(e),
            homeward_kit::docs::CommitError::Api(e) => Self::Api(e),
        }
    }
}

impl From<ExchangeError> for ApiError {
    fn from(err: ExchangeError) -> Self {
        let message = err.to_string();
        match err {
            ExchangeError::Invalid(v) => ApiError::InvalidArgument(v),
            ExchangeError::NotFound { resource, id } => ApiError::NotFound { resource, id },
            ExchangeError::EtagMismatch { .. } => ApiError::Aborted { reason: "ETAG_MISMATCH", message },
            ExchangeError::Step(_) => ApiError::FailedPrecondition { reason: "PHASE_STATE", message },
            ExchangeError::Refused { reason, .. } => ApiError::FailedPrecondition { reason, message },
            ExchangeError::ListMoved { .. } => ApiError::Aborted { reason: "LIST_VERSION_MOVED", message },
            ExchangeError::RegistryRefused(_) => ApiError::FailedPrecondition { reason: "REGISTRY_REFUSED", message },
            ExchangeError::RegistryUnavailable(_) => ApiError::Unavailable(message),
            ExchangeError::Api(api) => api,
            ExchangeError::Store(StoreError::Conflict) => ApiError::Aborted {
                reason: "CONCURRENT_UPDATE",
                message: "the record was changed concurrently; read it again and retry".into(),
            },
            ExchangeError::Store(StoreError::UniqueViolation(c)) if c.contains("list_versions") => {
                ApiError::Aborted {
                    reason: "LIST_VERSION_MOVED",
                    message: "another version of this list was submitted at the same moment; read it and submit against it".into(),
                }
            }
            ExchangeError::Store(store) => store.into_api(),
        }
    }
}

impl From<ExchangeError> for Status {
    fn from(err: ExchangeError) -> Self {
        ApiError::from(err).into_status(DOMAIN)
    }
}
