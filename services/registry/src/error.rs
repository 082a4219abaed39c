//! The registry's errors and their one mapping to gRPC statuses.

use homeward_kit::{ApiError, StoreError, error::Violation};
use tonic::Status;
use uuid::Uuid;

use crate::domain::TransitionError;

pub const DOMAIN: &str = "homeward.registry";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid request")]
    Invalid(Vec<Violation>),
    #[error("person {0} not found")]
    NotFound(String),
    #[error(
        "the record has changed since it was read (etag {given} given, current is {current}); read it again"
    )]
    EtagMismatch { given: String, current: String },
    #[error("status change refused: {0}")]
    Transition(#[from] TransitionError),
    #[error("already reserved for another exchange: {}", ids(.0))]
    ReservedElsewhere(Vec<Uuid>),
    #[error("not in custody, cannot be reserved: {}", ids(.0))]
    NotReservable(Vec<Uuid>),
    #[error("not reserved for exchange {exchange}: {}", ids(.persons))]
    NotReservedFor {
        exchange: String,
        persons: Vec<Uuid>,
    },
    #[error("file reference is already used by another person")]
    FileReferenceTaken,
    #[error("person {person} is merged into {survivor}; use the survivor or unmerge first")]
    Merged { person: Uuid, survivor: Uuid },
    #[error("person {0} is not merged into another")]
    NotMerged(Uuid),
    #[error("a person cannot be merged into themselves")]
    SelfMerge,
    #[error(
        "person {person} is reserved for exchange {exchange}; release the reservation before merging"
    )]
    MergeWhileReserved { person: Uuid, exchange: String },

    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn ids(ids: &[Uuid]) -> String {
    ids.iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<RegistryError> for ApiError {
    fn from(err: RegistryError) -> Self {
        let message = err.to_string();
        match err {
            RegistryError::Invalid(v) => ApiError::InvalidArgument(v),
            RegistryError::NotFound(id) => ApiError::NotFound { resource: "person", id },
            RegistryError::EtagMismatch { .. } => ApiError::Aborted { reason: "ETAG_MISMATCH", message },
            RegistryError::Transition(_) => ApiError::FailedPrecondition { reason: "INVALID_STATUS_TRANSITION", message },
            RegistryError::ReservedElsewhere(_) => ApiError::FailedPrecondition { reason: "RESERVED_FOR_ANOTHER_EXCHANGE", message },
            RegistryError::NotReservable(_) => ApiError::FailedPrecondition { reason: "NOT_IN_CUSTODY", message },
            RegistryError::NotReservedFor { .. } => ApiError::FailedPrecondition { reason: "NOT_RESERVED_FOR_EXCHANGE", message },
            RegistryError::FileReferenceTaken => ApiError::AlreadyExists { reason: "FILE_REFERENCE_TAKEN", message },
            RegistryError::Merged { .. } => ApiError::FailedPrecondition { reason: "PERSON_MERGED", message },
            RegistryError::NotMerged(_) => ApiError::FailedPrecondition { reason: "PERSON_NOT_MERGED", message },
            RegistryError::SelfMerge => ApiError::FailedPrecondition { reason: "SELF_MERGE", message },
            RegistryError::MergeWhileReserved { .. } => ApiError::FailedPrecondition { reason: "RESERVED_FOR_EXCHANGE", message },
            RegistryError::Api(api) => api,
            RegistryError::Store(StoreError::Conflict) => ApiError::Aborted {
                reason: "CONCURRENT_UPDATE",
                message: "the record was changed concurrently; read it again and retry".into(),
            },
            RegistryError::Store(StoreError::UniqueViolation(c)) if c.contains("reservations") => {
                ApiError::FailedPrecondition {
                    reason: "RESERVED_FOR_ANOTHER_EXCHANGE",
                    message: "a person was reserved for another exchange at the same moment; read the persons again".into(),
                }
            }
            RegistryError::Store(StoreError::UniqueViolation(c)) if c.contains("file_reference") => {
                ApiError::AlreadyExists { reason: "FILE_REFERENCE_TAKEN", message: "file reference is already used by another person".into() }
            }
            RegistryError::Store(store) => store.into_api(),
        }
    }
}

impl From<RegistryError> for Status {
    fn from(err: RegistryError) -> Self {
        ApiError::from(err).into_status(DOMAIN)
    }
}
