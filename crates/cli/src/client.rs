//! The connection to the registry: one channel, with the bearer token put on every call.
//!
//! The channel connects lazily, so an unreachable registry surfaces as the first call's
//! UNAVAILABLE, which the error report knows how to explain. The token is never printed.

use std::time::Duration;

use homeward_proto::registry::v1::registry_service_client::RegistryServiceClient;
use tonic::{
    Request, Status,
    metadata::{AsciiMetadataValue, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Endpoint},
};

use crate::error::CliError;

pub type Registry = RegistryServiceClient<InterceptedService<Channel, Bearer>>;

/// Adds `authorization: Bearer <token>` to each request.
#[derive(Clone)]
pub struct Bearer(AsciiMetadataValue);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A client for the registry at `url`, authenticated with `token`.
pub fn registry(url: &str, token: Option<&str>) -> Result<Registry, CliError> {
    let token = token.map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| {
        CliError::input(
            "no token: mint one with `homewardctl token mint --dev --subject me --role admin --party UA` \
             and pass it with --token or HOMEWARD_TOKEN",
        )
    })?;
    let mut value: AsciiMetadataValue = MetadataValue::try_from(format!("Bearer {token}"))
        .map_err(|_| {
            CliError::input("the token contains characters a token cannot have; mint a new one")
        })?;
    value.set_sensitive(true);
    // This build has no TLS: an https address would silently be spoken to in plain text, token
    // and personal data included, so it is refused rather than downgraded.
    if url.starts_with("https://") {
        return Err(CliError::input(format!(
            "`{url}`: homewardctl has no TLS; reach the registry over http:// on a trusted network or through a tunnel"
        )));
    }
    if !url.starts_with("http://") {
        return Err(CliError::input(format!(
            "`{url}` is not a registry address: it starts with http://, such as http://127.0.0.1:50051"
        )));
    }
    let endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| {
            CliError::input(format!(
                "`{url}` is not a registry address such as http://127.0.0.1:50051: {e}"
            ))
        })?
        .connect_timeout(Duration::from_secs(5));
    Ok(RegistryServiceClient::with_interceptor(
        endpoint.connect_lazy(),
        Bearer(value),
    ))
}
