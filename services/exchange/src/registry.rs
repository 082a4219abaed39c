//! The registry as the exchange service sees it: its gRPC contract, called with a service token
//! and the caller's trace context, each call under a deadline. Nothing else of the registry is
//! known here.
//!
//! Every call that changes something carries a request id the caller derives from the phase and
//! the step, so a call repeated after a crash or a lost answer is answered from the registry's
//! record of the first one instead of being applied twice.

use std::time::Duration;

use homeward_kit::auth::{Role, TokenKeys};
use homeward_proto::registry::v1::{self as pb, registry_service_client::RegistryServiceClient};
use tonic::{Request, metadata::MetadataValue, transport::Channel};
use uuid::Uuid;

use crate::{config::RegistryClientConfig, error::ExchangeError};

/// Identities per MatchPersons call and ids per batch read.
const MATCH_BATCH: usize = 500;
const GET_BATCH: usize = 1_000;
const TOKEN_TTL: Duration = Duration::from_secs(600);

#[derive(Clone)]
pub struct RegistryClient {
    client: RegistryServiceClient<Channel>,
    keys: TokenKeys,
    timeout: Duration,
}

type Result<T> = std::result::Result<T, ExchangeError>;

impl RegistryClient {
    /// Connects lazily: an unreachable registry surfaces as UNAVAILABLE on the first call. The
    /// url may list several replicas, separated by commas (`homeward_kit::client`).
    pub fn new(config: &RegistryClientConfig, keys: TokenKeys) -> Result<Self> {
        let tls = homeward_kit::tls::ClientTls::from_config(&config.tls, "HOMEWARD_REGISTRY__TLS")
            .map_err(|e| ExchangeError::RegistryUnavailable(format!("registry tls: {e}")))?;
        let channel = homeward_kit::client::channel_with_tls(&config.url, tls.as_ref())
            .map_err(|e| ExchangeError::RegistryUnavailable(format!("registry url: {e}")))?;
        Ok(Self {
            client: RegistryServiceClient::new(channel)
                .max_decoding_message_size(64 * 1024 * 1024)
                .max_encoding_message_size(64 * 1024 * 1024),
            keys,
            timeout: Duration::from_millis(config.timeout_ms.max(1)),
        })
    }

    fn request<T>(&self, message: T) -> Result<Request<T>> {
        let token = self
            .keys
            .mint("homeward-exchange", &[Role::Service], "", TOKEN_TTL)
            .map_err(|e| ExchangeError::RegistryUnavailable(format!("cannot mint a token: {e}")))?;
        let mut request = Request::new(message);
        request.set_timeout(self.timeout);
        let value = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| ExchangeError::RegistryUnavailable("unusable token".into()))?;
        request.metadata_mut().insert("authorization", value);
        homeward_kit::telemetry::inject_trace_context(request.metadata_mut());
        Ok(request)
    }

    /// Candidates for each identity, in the order given.
    pub async fn match_identities(
        &self,
        identities: Vec<pb::CandidateIdentity>,
        min_confidence: f64,
        max_candidates: i32,
    ) -> Result<Vec<pb::IdentityMatches>> {
        let mut out = Vec::with_capacity(identities.len());
        for chunk in identities.chunks(MATCH_BATCH) {
            let request = self.request(pb::MatchPersonsRequest {
                identities: chunk.to_vec(),
                min_confidence,
                max_candidates,
            })?;
            let response = self
                .client
                .clone()
                .match_persons(request)
                .await
                .map_err(|s| ExchangeError::from_registry(&s))?;
            out.extend(response.into_inner().matches);
        }
        Ok(out)
    }

    /// The registered persons among `ids` (merged duplicates as they are).
    pub async fn get_persons(&self, ids: &[Uuid]) -> Result<Vec<pb::Person>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(GET_BATCH) {
            let request = self.request(pb::BatchGetPersonsRequest {
                ids: chunk.iter().map(Uuid::to_string).collect(),
            })?;
            let response = self
                .client
                .clone()
                .batch_get_persons(request)
                .await
                .map_err(|s| ExchangeError::from_registry(&s))?;
            out.extend(response.into_inner().persons);
        }
        Ok(out)
    }

    pub async fn reserve(
        &self,
        request_id: String,
        exchange: Uuid,
        persons: &[Uuid],
    ) -> Result<()> {
        let request = self.request(pb::ReservePersonsRequest {
            request_id,
            exchange_id: exchange.to_string(),
            person_ids: persons.iter().map(Uuid::to_string).collect(),
        })?;
        self.client
            .clone()
            .reserve_persons(request)
            .await
            .map_err(|s| ExchangeError::from_registry(&s))?;
        Ok(())
    }

    /// Releases `persons`, or every person reserved for the exchange when empty.
    pub async fn release(
        &self,
        request_id: String,
        exchange: Uuid,
        persons: &[Uuid],
        reason: &str,
    ) -> Result<()> {
        let request = self.request(pb::ReleasePersonsRequest {
            request_id,
            exchange_id: exchange.to_string(),
            person_ids: persons.iter().map(Uuid::to_string).collect(),
            reason: reason.to_string(),
        })?;
        self.client
            .clone()
            .release_persons(request)
            .await
            .map_err(|s| ExchangeError::from_registry(&s))?;
        Ok(())
    }

    pub async fn mark_repatriated(
        &self,
        request_id: String,
        exchange: Uuid,
        persons: &[Uuid],
        occurred_at_us: i64,
    ) -> Result<()> {
        let request = self.request(pb::MarkRepatriatedRequest {
            request_id,
            exchange_id: exchange.to_string(),
            person_ids: persons.iter().map(Uuid::to_string).collect(),
            occur_time: Some(homeward_kit::timestamp::micros_to_proto(occurred_at_us)),
        })?;
        self.client
            .clone()
            .mark_repatriated(request)
            .await
            .map_err(|s| ExchangeError::from_registry(&s))?;
        Ok(())
    }

    /// Records in the person's history that they refused to return (GC III art. 109(3)).
    pub async fn record_refusal(
        &self,
        request_id: String,
        exchange: Uuid,
        person: Uuid,
        occurred_at_us: i64,
    ) -> Result<()> {
        let request = self.request(pb::RecordStatusChangeRequest {
            request_id,
            person_id: person.to_string(),
            etag: String::new(),
            change: Some(pb::StatusChange {
                status: pb::PersonStatus::RefusedRepatriation as i32,
                occur_time: Some(homeward_kit::timestamp::micros_to_proto(occurred_at_us)),
                source: homeward_proto::common::v1::InformationSource::OwnReport as i32,
                reliability: homeward_proto::common::v1::Reliability::CompletelyReliable as i32,
                exchange_id: exchange.to_string(),
                note: "refused to return when interviewed for the exchange".into(),
                ..Default::default()
            }),
        })?;
        match self.client.clone().record_status_change(request).await {
            Ok(_) => Ok(()),
            Err(s) => Err(ExchangeError::from_registry(&s)),
        }
    }
}
