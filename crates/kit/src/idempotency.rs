//! Request ids: every mutation carries one, and replaying it returns the first result without
//! writing anything new. The first result is stored in the same transaction as the change; a
//! replay with a different request body under the same id is refused rather than answered with a
//! result that does not belong to it.

use sha2::{Digest, Sha256};

use crate::error::{ApiError, StoreError};

/// The request id of a mutation and a fingerprint of the rest of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    pub scope: &'static str,
    pub request_id: String,
    pub fingerprint: String,
}

impl RequestKey {
    /// Validates the id and fingerprints `body` (the request encoded without its request id).
    pub fn new(scope: &'static str, request_id: &str, body: &[u8]) -> Result<Self, ApiError> {
        let request_id = request_id.trim();
        if request_id.is_empty() {
            return Err(ApiError::invalid(
                "request_id",
                "required: a unique id per mutation, reused on retry",
            ));
        }
        if request_id.len() > 128 || request_id.chars().any(|c| c.is_control()) {
            return Err(ApiError::invalid(
                "request_id",
                "at most 128 printable characters",
            ));
        }
        Ok(Self {
            scope,
            request_id: request_id.to_string(),
            fingerprint: hex::encode(Sha256::digest(body)),
        })
    }
}

/// What a replay finds.
#[derive(Debug)]
pub enum Replay {
    /// The first result, as stored.
    Same(Vec<u8>),
    /// The id was used for a different request.
    Mismatch,
}

impl Replay {
    pub fn into_result(self, request_id: &str) -> Result<Vec<u8>, ApiError> {
        match self {
            Replay::Same(bytes) => Ok(bytes),
            Replay::Mismatch => Err(ApiError::AlreadyExists {
                reason: "REQUEST_ID_REUSED",
                message: format!(
                    "request_id {request_id} was already used for a different request; use a new id"
                ),
            }),
        }
    }
}

macro_rules! backend {
    ($name:ident, $db:ty) => {
        pub mod $name {
            use super::*;

            /// The stored result for `key`, if the request was handled before.
            pub async fn lookup(
                conn: &mut <$db as sqlx::Database>::Connection,
                key: &RequestKey,
            ) -> Result<Option<Replay>, StoreError> {
                let row: Option<(String, Vec<u8>)> = sqlx::query_as(
                    "SELECT fingerprint, response FROM idempotency WHERE scope = $1 AND request_id = $2",
                )
                .bind(key.scope)
                .bind(&key.request_id)
                .fetch_optional(&mut *conn)
                .await?;
                Ok(row.map(|(fingerprint, response)| {
                    if fingerprint == key.fingerprint {
                        Replay::Same(response)
                    } else {
                        Replay::Mismatch
                    }
                }))
            }

            /// Stores the result inside the transaction that made the change. A concurrent
            /// duplicate fails here with a unique violation and rolls back.
            pub async fn record(
                conn: &mut <$db as sqlx::Database>::Connection,
                key: &RequestKey,
                response: &[u8],
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO idempotency (scope, request_id, fingerprint, response, created_at_us) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(key.scope)
                .bind(&key.request_id)
                .bind(&key.fingerprint)
                .bind(response)
                .bind(crate::timestamp::now_micros())
                .execute(&mut *conn)
                .await?;
                Ok(())
            }
        }
    };
}

backend!(postgres, sqlx::Postgres);
backend!(sqlite, sqlx::Sqlite);

pub use homeward_proto::Mutation;

/// The request id of a mutation, fingerprinted over the request without it.
pub fn request_key<M: Mutation>(scope: &'static str, request: &M) -> Result<RequestKey, ApiError> {
    let mut body = request.clone();
    body.clear_request_id();
    RequestKey::new(scope, request.request_id(), &body.encode_to_vec())
}

/// A stored first response, read back for a replay.
pub fn decode_response<R: prost::Message + Default>(bytes: &[u8]) -> Result<R, ApiError> {
    R::decode(bytes).map_err(|e| ApiError::internal(&format!("stored response unreadable: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_required_and_bounded() {
        assert!(RequestKey::new("s", "", b"x").is_err());
        assert!(RequestKey::new("s", &"a".repeat(129), b"x").is_err());
        assert!(RequestKey::new("s", "bad\nid", b"x").is_err());
        let a = RequestKey::new("s", "r-1", b"x").unwrap();
        let b = RequestKey::new("s", "r-1", b"y").unwrap();
        assert_ne!(a.fingerprint, b.fingerprint);
    }
}
