//! The connections to the services: one channel each, with the bearer token put on every call,
//! and the paging of their list calls.
//!
//! Channels connect lazily, so an unreachable service surfaces as the first call's UNAVAILABLE,
//! which the error report knows how to explain. The token is never printed.

use std::{future::Future, time::Duration};

use homeward_proto::{
    exchange::v1::exchange_service_client::ExchangeServiceClient,
    notification::v1::notification_service_client::NotificationServiceClient,
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
pub type Notification = NotificationServiceClient<InterceptedService<Channel, Bearer>>;

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

/// A client for the notification service at `url`, authenticated with `token`.
pub fn notification(url: &str, token: Option<&str>) -> Result<Notification, CliError> {
    let (channel, bearer) = connect(Service::Notification, url, token)?;
    Ok(NotificationServiceClient::with_interceptor(channel, bearer))
}

/// Every item of a paged list: `page` fetches the page at a token and returns its items and the
/// next token. A token that does not move would loop forever, so it ends the list too.
pub async fn all_pages<T, F, Fut>(mut page: F) -> Result<Vec<T>, CliError>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, String), tonic::Status>>,
{
    let mut items = Vec::new();
    let mut token = String::new();
    loop {
        let (found, next) = page(token.clone()).await?;
        items.extend(found);
        if next.is_empty() || next == token {
            return Ok(items);
        }
        token = next;
    }
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
        let err = notification("127.0.0.1:50053", Some("t")).err().unwrap();
        assert!(
            err.to_string()
                .contains("not an address for the notification service"),
            "{err}"
        );
        assert!(notification("http://127.0.0.1:50053", Some("t")).is_ok());
    }

    #[tokio::test]
    async fn paging_follows_the_tokens_to_the_end_and_stops_on_a_token_that_does_not_move() {
        let pages = |tokens: Vec<&'static str>| {
            let mut calls = 0;
            move |token: String| {
                let next = tokens[calls];
                calls += 1;
                async move { Ok((vec![token], next.to_string())) }
            }
        };
        let items = all_pages(pages(vec!["a", "b", ""])).await.unwrap();
        assert_eq!(items, ["", "a", "b"]);
        let items = all_pages(pages(vec!["a", "a", "x"])).await.unwrap();
        assert_eq!(items, ["", "a"]);
    }
}
