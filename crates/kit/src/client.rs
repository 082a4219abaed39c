//! Channels to peer services, one replica or several.
//!
//! A peer address may list several replicas separated by commas
//! (`http://10.0.0.1:50051,http://10.0.0.2:50051`). The channel then balances over the replicas
//! that are ready: a watcher per replica follows its `grpc.health.v1` status and adds the replica
//! to tonic's balancer while it reports SERVING, and takes it out as soon as it reports
//! NOT_SERVING (a replica draining on SIGTERM) or its connection breaks (a replica killed), then
//! keeps trying to reach it again. With no replica ready, calls wait for one until their
//! deadline. One address gives a plain lazily connected channel; in Kubernetes the Service's
//! address is one address and the cluster balances connections.
//!
//! With a `ClientTls` (`channel_with_tls`), every address must be `https://`: the peer's
//! certificate is checked against the host of its address and this service presents its own.
//! Without one, every address must be `http://`. Mixing is refused, so that a TLS setting is
//! never silently ignored.

use std::time::Duration;

use tokio::sync::mpsc::Sender;
use tonic::transport::{Channel, Endpoint, channel::Change};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::tls::ClientTls;

/// How long a watcher waits before trying an unreachable replica again.
const RETRY: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no address given")]
    NoAddress,
    #[error("bad address {0}: {1}")]
    BadAddress(String, String),
    #[error("several replicas need a running Tokio runtime")]
    NoRuntime,
    #[error(
        "{0}: peers are called over TLS, so their addresses must be https:// (or unset the \
         peer TLS settings)"
    )]
    PlaintextAddress(String),
    #[error("{0}: an https:// address needs the peer TLS settings (a CA, a certificate, a key)")]
    NoTlsSettings(String),
}

/// The endpoints of a comma-separated list of `http://` addresses.
pub fn endpoints(urls: &str) -> Result<Vec<Endpoint>, ClientError> {
    endpoints_with_tls(urls, None)
}

/// The endpoints of a comma-separated list of addresses: `https://` ones with `tls`, `http://`
/// ones without.
pub fn endpoints_with_tls(
    urls: &str,
    tls: Option<&ClientTls>,
) -> Result<Vec<Endpoint>, ClientError> {
    let endpoints = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|url| {
            Endpoint::from_shared(url.to_string())
                .map(|e| {
                    e.connect_timeout(Duration::from_secs(5))
                        .tcp_nodelay(true)
                        .http2_keep_alive_interval(Duration::from_secs(20))
                        .keep_alive_while_idle(true)
                })
                .map_err(|e| ClientError::BadAddress(url.to_string(), e.to_string()))
                .and_then(|e| secure(e, url, tls))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if endpoints.is_empty() {
        return Err(ClientError::NoAddress);
    }
    Ok(endpoints)
}

fn secure(endpoint: Endpoint, url: &str, tls: Option<&ClientTls>) -> Result<Endpoint, ClientError> {
    let https = endpoint.uri().scheme_str() == Some("https");
    match tls {
        None if https => Err(ClientError::NoTlsSettings(url.to_string())),
        None => Ok(endpoint),
        Some(_) if !https => Err(ClientError::PlaintextAddress(url.to_string())),
        Some(tls) => {
            let host = endpoint.uri().host().unwrap_or_default().to_string();
            endpoint
                .tls_config(tls.config(&host))
                .map_err(|e| ClientError::BadAddress(url.to_string(), e.to_string()))
        }
    }
}

/// A channel to the replicas at `urls` (comma-separated `http://` addresses).
pub fn channel(urls: &str) -> Result<Channel, ClientError> {
    channel_with_tls(urls, None)
}

/// A channel to the replicas at `urls` (comma-separated), over mutual TLS when `tls` is given.
pub fn channel_with_tls(urls: &str, tls: Option<&ClientTls>) -> Result<Channel, ClientError> {
    let mut endpoints = endpoints_with_tls(urls, tls)?;
    if endpoints.len() == 1 {
        return Ok(endpoints.remove(0).connect_lazy());
    }
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| ClientError::NoRuntime)?;
    let (channel, changes) = Channel::balance_channel::<usize>(endpoints.len() * 2);
    for (key, endpoint) in endpoints.into_iter().enumerate() {
        runtime.spawn(watch(key, endpoint, changes.clone()));
    }
    Ok(channel)
}

/// Keeps one replica in the balancer while it is healthy, until the channel is dropped.
async fn watch(key: usize, endpoint: Endpoint, changes: Sender<Change<usize, Endpoint>>) {
    let mut inserted = false;
    while !changes.is_closed() {
        if let Ok(connection) = endpoint.connect().await {
            let mut health = HealthClient::new(connection);
            let request = HealthCheckRequest {
                service: String::new(),
            };
            if let Ok(response) = health.watch(request).await {
                let mut statuses = response.into_inner();
                while let Ok(Some(status)) = statuses.message().await {
                    let serving = status.status == ServingStatus::Serving as i32;
                    if serving != inserted {
                        let change = if serving {
                            Change::Insert(key, endpoint.clone())
                        } else {
                            Change::Remove(key)
                        };
                        if changes.send(change).await.is_err() {
                            return;
                        }
                        inserted = serving;
                        tracing::debug!(replica = key, serving, "peer replica changed");
                    }
                }
            }
        }
        if inserted {
            if changes.send(Change::Remove(key)).await.is_err() {
                return;
            }
            inserted = false;
            tracing::debug!(replica = key, "peer replica unreachable");
        }
        tokio::time::sleep(RETRY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_split_on_commas_and_checked() {
        assert_eq!(
            endpoints(" http://a:1, http://b:2 ,").map(|e| e.len()).ok(),
            Some(2)
        );
        assert!(matches!(endpoints(" , "), Err(ClientError::NoAddress)));
        assert!(matches!(
            endpoints("http://a:1,not a url"),
            Err(ClientError::BadAddress(..))
        ));
    }

    #[test]
    fn tls_settings_and_address_schemes_must_agree() {
        let ca = rcgen::generate_simple_self_signed(["ca".to_string()]).unwrap();
        let tls = ClientTls::from_pem(ca.cert.pem().into_bytes(), None);
        assert!(matches!(
            endpoints("https://registry:50051"),
            Err(ClientError::NoTlsSettings(_))
        ));
        assert!(matches!(
            endpoints_with_tls("https://a:1,http://b:2", Some(&tls)),
            Err(ClientError::PlaintextAddress(u)) if u == "http://b:2"
        ));
        assert_eq!(
            endpoints_with_tls("https://a:1,https://b:2", Some(&tls))
                .map(|e| e.len())
                .ok(),
            Some(2)
        );
    }

    #[test]
    fn several_replicas_need_a_runtime() {
        assert!(matches!(
            channel("http://a:1,http://b:2"),
            Err(ClientError::NoRuntime)
        ));
    }
}
