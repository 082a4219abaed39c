//! The registry and the exchange service as this service sees them: their gRPC contracts,
//! called with a service token and the caller's trace context, under a deadline.

use std::time::Duration;

use homeward_kit::{
    auth::{Role, TokenKeys},
    tls::ClientTls,
};
use homeward_proto::{
    exchange::v1::exchange_service_client::ExchangeServiceClient,
    registry::v1::{self as registry, registry_service_client::RegistryServiceClient},
};
use tonic::{Request, metadata::MetadataValue, transport::Channel};
use uuid::Uuid;

use crate::{config::Peers as PeerConfig, error::NotifyError};

const TOKEN_TTL: Duration = Duration::from_secs(600);

#[derive(Clone)]
pub struct Peers {
    pub registry: RegistryServiceClient<Channel>,
    pub exchange: ExchangeServiceClient<Channel>,
    keys: TokenKeys,
    timeout: Duration,
}

/// A peer's url may list several replicas, separated by commas (`homeward_kit::client`).
/// Over mutual TLS when `tls` is given (`homeward_kit::tls`).
fn channel(url: &str, tls: Option<&ClientTls>) -> Result<Channel, NotifyError> {
    homeward_kit::client::channel_with_tls(url, tls)
        .map_err(|e| NotifyError::RegistryUnavailable(format!("peer url: {e}")))
}

impl Peers {
    pub fn new(config: &PeerConfig, keys: TokenKeys) -> Result<Self, NotifyError> {
        let tls = ClientTls::from_config(&config.tls, "HOMEWARD_PEERS__TLS")
            .map_err(|e| NotifyError::RegistryUnavailable(format!("peer tls: {e}")))?;
        Ok(Self {
            registry: RegistryServiceClient::new(channel(&config.registry_url, tls.as_ref())?)
                .max_decoding_message_size(64 << 20),
            exchange: ExchangeServiceClient::new(channel(&config.exchange_url, tls.as_ref())?)
                .max_decoding_message_size(64 << 20),
            keys,
            timeout: Duration::from_millis(config.timeout_ms.max(1)),
        })
    }

    /// A request carrying a service token and the trace context; `deadline` false for streams.
    pub fn request<T>(&self, message: T, deadline: bool) -> Result<Request<T>, NotifyError> {
        let token = self
            .keys
            .mint("homeward-notification", &[Role::Service], "", TOKEN_TTL)
            .map_err(|e| NotifyError::RegistryUnavailable(format!("cannot mint a token: {e}")))?;
        let mut request = Request::new(message);
        if deadline {
            request.set_timeout(self.timeout);
        }
        let value = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| NotifyError::RegistryUnavailable("unusable token".into()))?;
        request.metadata_mut().insert("authorization", value);
        homeward_kit::telemetry::inject_trace_context(request.metadata_mut());
        Ok(request)
    }

    /// Registry candidates for each identity, in order.
    pub async fn match_persons(
        &self,
        identities: Vec<registry::CandidateIdentity>,
        min_confidence: f64,
        max_candidates: i32,
    ) -> Result<Vec<registry::IdentityMatches>, NotifyError> {
        let mut out = Vec::new();
        for chunk in identities.chunks(500) {
            let request = self.request(
                registry::MatchPersonsRequest {
                    identities: chunk.to_vec(),
                    min_confidence,
                    max_candidates,
                },
                true,
            )?;
            let response = self
                .registry
                .clone()
                .match_persons(request)
                .await
                .map_err(|s| NotifyError::from_registry(&s))?;
            out.extend(response.into_inner().matches);
        }
        Ok(out)
    }

    pub async fn person(&self, id: Uuid) -> Result<Option<registry::Person>, NotifyError> {
        let request = self.request(
            registry::BatchGetPersonsRequest {
                ids: vec![id.to_string()],
            },
            true,
        )?;
        let response = self
            .registry
            .clone()
            .batch_get_persons(request)
            .await
            .map_err(|s| NotifyError::from_registry(&s))?;
        Ok(response.into_inner().persons.into_iter().next())
    }
}
