//! The connections to the services: one channel each, with the bearer token put on every call.
//!
//! Channels connect lazily, so an unreachable service surfaces as the first call's UNAVAILABLE,
//! which the error report knows how to explain. The token is never printed.

use std::time::Duration;

use homeward_proto::{
    exchange::v1::exchange_service_client::ExchangeServiceClient,
    registry::v1::registry_service_client::RegistryServiceClient,
};
use tonic::{
    Request, Status,
    metadata::{AsciiMetadataValue, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Endpoint},
};

use crate::error::{CliError, Service};

pub type Registry = RegistryServiceClient<InterceptedService<Channel, Bearer>>;
pub type Exchange = ExchangeServiceClient<InterceptedService<Channel, Bearer>>;

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
    let (channel, bearer) = connect(Service::Registry, url, token)?;
    Ok(RegistryServiceClient::with_interceptor(channel, bearer))
}

/// A client for the exchange service at `url`, authenticated with `token`.
pub fn exchange(url: &str, token: Option<&str>) -> Result<Exchange, CliError> {
    let (channel, bearer) = connect(Service::Exchange, url, token)?;
    Ok(ExchangeServiceClient::with_interceptor(channel, bearer))
}

/// A lazy channel to `service` at `url` and the interceptor that authenticates its calls.
fn connect(
    service: Service,
    url: &str,
    token: Option<&str>,
) -> Result<(Channel, Bearer), CliError> {
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
    let (name, example) = (service.name(), service.example_url());
    // This build has no TLS: an https address would silently be spoken to in plain text, token
    // and personal data included, so it is refused rather than downgraded.
    if url.starts_with("https://") {
        return Err(CliError::input(format!(
            "`{url}`: homewardctl has no TLS; reach the {name} over http:// on a trusted network or through a tunnel"
        )));
    }
    if !url.starts_with("http://") {
        return Err(CliError::input(format!(
            "`{url}` is not an address for the {name}: it starts with http://, such as {example}"
        )));
    }
    let endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| {
            CliError::input(format!(
                "`{url}` is not an address for the {name} such as {example}: {e}"
            ))
        })?
        .connect_timeout(Duration::from_secs(5));
    Ok((endpoint.connect_lazy(), Bearer(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_address_that_is_not_plain_http_is_refused_with_the_service_named() {
        let err = exchange("127.0.0.1:50052", Some("t")).err().unwrap();
        assert!(
            err.to_string()
                .contains("not an address for the exchange service"),
            "{err}"
        );
        assert!(err.to_string().contains("http://127.0.0.1:50052"), "{err}");
        let err = registry("https://r:1", Some("t")).err().unwrap();
        assert!(err.to_string().contains("reach the registry"), "{err}");
        assert!(exchange("http://127.0.0.1:50052", Some(" ")).is_err());
        assert!(exchange("http://127.0.0.1:50052", Some("t")).is_ok());
    }
}
