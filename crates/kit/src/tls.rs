//! Mutual TLS between the services, and the service identity a caller's certificate names.
//!
//! With `server.tls` set, a server speaks only TLS (1.2 or 1.3) and requires every caller to
//! present a certificate signed by `server.tls.client_ca`; a handshake without one, or with one
//! that is expired or from another CA, fails before any request is read. Channels to peers
//! (`crate::client`) given a `ClientTls` trust the same kind of CA, present this service's
//! certificate, and check the peer's certificate against the host name of its `https://` address.
//!
//! A certificate names a service when one of its DNS subject alternative names is
//! `<service>.homeward.svc` (`SERVICE_DOMAIN`), the name cert-manager's certificates for the
//! services already carry. The server puts that service's name into each request's extensions
//! as a `PeerIdentity`. A token with the `service` role is refused with PERMISSION_DENIED on a
//! connection whose certificate names no service: a stolen service token is useless without the
//! service's key. Without TLS there is no certificate and no such check.

use std::{
    fmt, fs,
    path::{Path, PathBuf},
    sync::Arc,
    task::{Context, Poll},
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use futures::future::{Either, Ready, ready};
use tonic::{
    Request,
    body::Body,
    transport::{
        Certificate, ClientTlsConfig as TonicClientTls, Identity, ServerTlsConfig,
        server::{TcpConnectInfo, TlsConnectInfo},
    },
};
use x509_parser::{extensions::GeneralName, prelude::FromDer};

use crate::{
    config::{ClientTlsConfig, TlsConfig},
    error::ApiError,
};

/// The DNS domain under which a certificate's subject alternative names name services:
/// `exchange.homeward.svc` names the service `exchange`.
pub const SERVICE_DOMAIN: &str = "homeward.svc";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{0}")]
    Incomplete(String),
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0} holds no PEM certificate")]
    NotPem(String),
}

/// The service a caller's certificate names (`exchange`, `notification`, ...), put into the
/// extensions of every request on a mutual TLS connection whose certificate names one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerIdentity(pub String);

impl PeerIdentity {
    /// The identity of the service calling, when its certificate names one.
    pub fn of<T>(request: &Request<T>) -> Option<&PeerIdentity> {
        request.extensions().get::<PeerIdentity>()
    }
}

impl fmt::Display for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The service a DER certificate names by a DNS subject alternative name
/// `<service>.homeward.svc`; `None` for an unreadable certificate or one that names none.
pub fn service_identity(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    san.value.general_names.iter().find_map(|name| match name {
        GeneralName::DNSName(dns) => {
            let dns = dns.to_ascii_lowercase();
            let service = dns.strip_suffix(SERVICE_DOMAIN)?.strip_suffix('.')?;
            let label = !service.is_empty()
                && service.len() <= 63
                && !service.starts_with('-')
                && service
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            label.then(|| service.to_string())
        }
        _ => None,
    })
}

/// The loaded server side of mutual TLS.
#[derive(Clone)]
pub struct ServerTls {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Vec<u8>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls").finish_non_exhaustive()
    }
}

impl ServerTls {
    /// `None` when nothing is configured; an error when only some of the three files are, or
    /// one cannot be read.
    pub fn from_config(config: &TlsConfig) -> Result<Option<Self>, TlsError> {
        match (&config.cert, &config.key, &config.client_ca) {
            (None, None, None) => Ok(None),
            (Some(cert), Some(key), Some(client_ca)) => Ok(Some(Self::from_pem(
                read_certificates(cert)?,
                read(key)?,
                read_certificates(client_ca)?,
            ))),
            _ => Err(TlsError::Incomplete(
                "set all of HOMEWARD_SERVER__TLS__CERT, HOMEWARD_SERVER__TLS__KEY and \
                 HOMEWARD_SERVER__TLS__CLIENT_CA, or none of them"
                    .into(),
            )),
        }
    }

    pub fn from_pem(cert: Vec<u8>, key: Vec<u8>, client_ca: Vec<u8>) -> Self {
        Self {
            cert,
            key,
            client_ca,
        }
    }

    /// tonic's configuration: this identity, client certificates from the CA required.
    pub fn config(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.cert, &self.key))
            .client_ca_root(Certificate::from_pem(&self.client_ca))
            .client_auth_optional(false)
    }
}

/// The loaded client side of mutual TLS, for channels to peers.
#[derive(Clone)]
pub struct ClientTls {
    ca: Vec<u8>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("identity", &self.identity.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// `None` when nothing is configured. `name` says where the settings come from (e.g.
    /// `HOMEWARD_REGISTRY__TLS`), for the error when only some are set.
    pub fn from_config(config: &ClientTlsConfig, name: &str) -> Result<Option<Self>, TlsError> {
        match (&config.ca, &config.cert, &config.key) {
            (None, None, None) => Ok(None),
            (Some(ca), Some(cert), Some(key)) => Ok(Some(Self::from_pem(
                read_certificates(ca)?,
                Some((read_certificates(cert)?, read(key)?)),
            ))),
            _ => Err(TlsError::Incomplete(format!(
                "set all of {name}__CA, {name}__CERT and {name}__KEY, or none of them"
            ))),
        }
    }

    /// Trusts servers signed by `ca`, presenting `identity` (certificate chain, key) when given.
    pub fn from_pem(ca: Vec<u8>, identity: Option<(Vec<u8>, Vec<u8>)>) -> Self {
        Self { ca, identity }
    }

    /// tonic's configuration for a peer reached at `domain`, the host of its address.
    pub fn config(&self, domain: &str) -> TonicClientTls {
        let config = TonicClientTls::new()
            .ca_certificate(Certificate::from_pem(&self.ca))
            .domain_name(domain);
        match &self.identity {
            Some((cert, key)) => config.identity(Identity::from_pem(cert, key)),
            None => config,
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|e| TlsError::Read(path.to_path_buf(), e))
}

fn read_certificates(path: &Path) -> Result<Vec<u8>, TlsError> {
    let pem = read(path)?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(TlsError::NotPem(path.display().to_string()));
    }
    Ok(pem)
}

/// Whether the bearer token of a request claims the `service` role. The claim is read without
/// checking the signature: the authentication interceptor checks it afterwards, and every token
/// it accepts has its payload read the same way (base64url without padding, then JSON), so a
/// token that verifies with the `service` role is always seen here claiming it.
fn claims_service_role(headers: &http::HeaderMap) -> bool {
    #[derive(serde::Deserialize)]
    struct Roles {
        #[serde(default)]
        roles: Vec<serde_json::Value>,
    }
    let Some(header) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(token) = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
    else {
        return false;
    };
    let Some(payload) = token.trim().split('.').nth(1) else {
        return false;
    };
    URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|json| serde_json::from_slice::<Roles>(&json).ok())
        .is_some_and(|claims| claims.roles.iter().any(|r| r == "service"))
}

/// The tower layer `crate::server` puts in front of the services when TLS is on: reads the
/// caller's certificate from the connection, adds its `PeerIdentity` to the request, and
/// refuses service tokens on connections whose certificate names no service.
#[derive(Debug, Clone, Copy)]
pub struct PeerIdentityLayer {
    enabled: bool,
}

impl PeerIdentityLayer {
    /// `enabled` false (plaintext) passes every request through unchanged.
    pub fn new(enabled: bool) -> Self {
        Self { enabled }
    }
}

impl<S> tower::Layer<S> for PeerIdentityLayer {
    type Service = PeerIdentityService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PeerIdentityService {
            inner,
            enabled: self.enabled,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PeerIdentityService<S> {
    inner: S,
    enabled: bool,
}

impl<S, B> tower::Service<http::Request<B>> for PeerIdentityService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Body>>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Self::Response, Self::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if self.enabled {
            let identity = request
                .extensions()
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(TlsConnectInfo::peer_certs)
                .and_then(|certs: Arc<Vec<_>>| certs.first().and_then(|c| service_identity(c)));
            match identity {
                Some(service) => {
                    request.extensions_mut().insert(PeerIdentity(service));
                }
                None if claims_service_role(request.headers()) => {
                    tracing::warn!(
                        path = request.uri().path(),
                        "service token refused: the caller's certificate names no service"
                    );
                    let status = ApiError::PermissionDenied(format!(
                        "a service token is accepted only from a certificate naming a service \
                         (<service>.{SERVICE_DOMAIN})"
                    ))
                    .into_status("homeward.auth");
                    return Either::Left(ready(Ok(status.into_http())));
                }
                None => {}
            }
        }
        Either::Right(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(payload: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        let value = format!(
            "Bearer e30.{}.c2ln",
            URL_SAFE_NO_PAD.encode(payload.as_bytes())
        );
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn the_service_role_is_read_from_the_token_payload() {
        assert!(claims_service_role(&token(r#"{"roles":["service"]}"#)));
        assert!(claims_service_role(&token(
            r#"{"sub":"x","roles":["auditor","service"]}"#
        )));
        assert!(!claims_service_role(&token(r#"{"roles":["registrar"]}"#)));
        assert!(!claims_service_role(&token("not json")));
        assert!(!claims_service_role(&http::HeaderMap::new()));
    }

    #[test]
    fn partial_settings_are_refused() {
        let half = TlsConfig {
            cert: Some("/x/tls.crt".into()),
            ..TlsConfig::default()
        };
        assert!(matches!(
            ServerTls::from_config(&half),
            Err(TlsError::Incomplete(_))
        ));
        assert!(matches!(
            ServerTls::from_config(&TlsConfig::default()),
            Ok(None)
        ));
        let half = ClientTlsConfig {
            ca: Some("/x/ca.crt".into()),
            ..ClientTlsConfig::default()
        };
        assert!(matches!(
            ClientTls::from_config(&half, "HOMEWARD_REGISTRY__TLS"),
            Err(TlsError::Incomplete(why)) if why.contains("HOMEWARD_REGISTRY__TLS__KEY")
        ));
    }
}
