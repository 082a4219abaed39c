//! Mutual TLS through `homeward_kit::server::serve`, with certificates made for each test: who
//! gets served, who fails the handshake, and which service the server sees calling.

use std::{
    convert::Infallible,
    future::Future,
    path::Path,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use homeward_kit::{
    auth::{AuthConfig, Role, TokenKeys},
    client::channel_with_tls,
    config::{ServerConfig, TlsConfig},
    metrics::Metrics,
    server::{ServeError, serve},
    tls::{ClientTls, PeerIdentity},
};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{
    Code, Request, Status,
    body::Body,
    metadata::MetadataValue,
    server::{NamedService, UnaryService},
    service::Routes,
    transport::Channel,
};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_prost::ProstCodec;

type Ca = CertifiedIssuer<'static, KeyPair>;

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A certificate and key (PEM) signed by `ca`, naming `sans`, for servers and clients alike.
fn leaf(ca: &Ca, sans: &[&str], expired: bool) -> (Vec<u8>, Vec<u8>) {
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    if expired {
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(30);
        params.not_after = now - time::Duration::days(1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    (cert.pem().into_bytes(), key.serialize_pem().into_bytes())
}

/// Answers `/homeward.test.v1.Whoami/Get` with the `PeerIdentity` the server put on the request
/// (empty when none).
#[derive(Clone)]
struct Whoami;

impl NamedService for Whoami {
    const NAME: &'static str = "homeward.test.v1.Whoami";
}

struct Answer(String);

impl UnaryService<()> for Answer {
    type Response = String;
    type Future = std::future::Ready<Result<tonic::Response<String>, Status>>;

    fn call(&mut self, _: Request<()>) -> Self::Future {
        std::future::ready(Ok(tonic::Response::new(self.0.clone())))
    }
}

impl tower::Service<http::Request<Body>> for Whoami {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let identity = request
            .extensions()
            .get::<PeerIdentity>()
            .map(|p| p.0.clone())
            .unwrap_or_default();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<String, ()>::default());
            Ok(grpc.unary(Answer(identity), request).await)
        })
    }
}

struct Pki {
    ca: Ca,
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        Self {
            ca: ca("Homeward test CA"),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, name: &str, pem: &[u8]) -> std::path::PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path
    }

    /// The server's TLS settings: a certificate for `registry.homeward.svc` and `localhost`,
    /// callers' certificates required from this CA.
    fn server_tls(&self) -> TlsConfig {
        let (cert, key) = leaf(&self.ca, &["registry.homeward.svc", "localhost"], false);
        TlsConfig {
            cert: Some(self.write("server.crt", &cert)),
            key: Some(self.write("server.key", &key)),
            client_ca: Some(self.write("ca.crt", self.ca.pem().as_bytes())),
        }
    }

    /// A client trusting this CA and presenting `identity`.
    fn client(&self, identity: Option<(Vec<u8>, Vec<u8>)>) -> ClientTls {
        ClientTls::from_pem(self.ca.pem().into_bytes(), identity)
    }
}

struct Running {
    port: u16,
    server: tokio::task::JoinHandle<Result<(), ServeError>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn start(tls: TlsConfig) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = ServerConfig {
        tls,
        ..ServerConfig::default()
    };
    let metrics = Metrics::new().service("mtls-test");
    let server = tokio::spawn(async move {
        serve(
            listener,
            Routes::new(Whoami),
            &[],
            &config,
            &metrics,
            std::future::pending(),
            CancellationToken::new(),
        )
        .await
    });
    Running { port, server }
}

fn tls_channel(port: u16, tls: &ClientTls) -> Channel {
    channel_with_tls(&format!("https://localhost:{port}"), Some(tls)).unwrap()
}

fn with_token<T>(message: T, roles: &[Role]) -> Request<T> {
    let keys = TokenKeys::from_config(&AuthConfig {
        dev_mode: true,
        ..AuthConfig::default()
    })
    .unwrap();
    let token = keys
        .mint("caller", roles, "", Duration::from_secs(60))
        .unwrap();
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    request
}

async fn health(channel: Channel, request: Request<HealthCheckRequest>) -> Result<(), Status> {
    tokio::time::timeout(Duration::from_secs(10), async move {
        HealthClient::new(channel).check(request).await.map(|_| ())
    })
    .await
    .expect("the call ends within 10 s")
}

async fn check(channel: Channel) -> Result<(), Status> {
    health(channel, Request::new(HealthCheckRequest::default())).await
}

async fn whoami(channel: Channel) -> String {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    grpc.unary(
        Request::new(()),
        http::uri::PathAndQuery::from_static("/homeward.test.v1.Whoami/Get"),
        ProstCodec::<(), String>::default(),
    )
    .await
    .unwrap()
    .into_inner()
}

/// The call failed because the server's TLS refused the client with `alert`.
fn assert_refused_by_tls(refused: &Status, alert: &str) {
    let shown = format!("{refused:?}");
    assert!(
        shown.contains(&format!("received fatal alert: {alert}")),
        "{shown}"
    );
}

#[tokio::test]
async fn a_client_with_a_valid_certificate_is_served_and_its_service_named() {
    let pki = Pki::new();
    let server = start(pki.server_tls()).await;
    let client = pki.client(Some(leaf(&pki.ca, &["exchange.homeward.svc"], false)));
    check(tls_channel(server.port, &client)).await.unwrap();
    assert_eq!(whoami(tls_channel(server.port, &client)).await, "exchange");

    let operator = pki.client(Some(leaf(&pki.ca, &["operator.bureau.example"], false)));
    assert_eq!(whoami(tls_channel(server.port, &operator)).await, "");
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_fails_the_handshake() {
    let pki = Pki::new();
    let server = start(pki.server_tls()).await;
    let stranger = ca("Some other CA");
    let client = pki.client(Some(leaf(&stranger, &["exchange.homeward.svc"], false)));
    let refused = check(tls_channel(server.port, &client)).await.unwrap_err();
    assert_refused_by_tls(&refused, "UnknownCA");
}

#[tokio::test]
async fn an_expired_client_certificate_fails_the_handshake() {
    let pki = Pki::new();
    let server = start(pki.server_tls()).await;
    let client = pki.client(Some(leaf(&pki.ca, &["exchange.homeward.svc"], true)));
    let refused = check(tls_channel(server.port, &client)).await.unwrap_err();
    assert_refused_by_tls(&refused, "CertificateExpired");
}

#[tokio::test]
async fn a_client_without_a_certificate_fails_the_handshake() {
    let pki = Pki::new();
    let server = start(pki.server_tls()).await;
    let refused = check(tls_channel(server.port, &pki.client(None)))
        .await
        .unwrap_err();
    assert_refused_by_tls(&refused, "CertificateRequired");
}

#[tokio::test]
async fn a_plaintext_client_is_not_served() {
    let pki = Pki::new();
    let server = start(pki.server_tls()).await;
    let channel =
        homeward_kit::client::channel(&format!("http://127.0.0.1:{}", server.port)).unwrap();
    // The server reads a TLS handshake where the client sent HTTP/2 and drops the connection.
    let refused = check(channel).await.unwrap_err();
    assert!(
        matches!(refused.code(), Code::Unknown | Code::Unavailable),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_server_certificate_does_not_call() {
    let pki = Pki::new();
    let server = start(pki.server_tls()).await;
    let other = Pki::new();
    let client = other.client(Some(leaf(&pki.ca, &["exchange.homeward.svc"], false)));
    let refused = check(tls_channel(server.port, &client)).await.unwrap_err();
    assert!(
        format!("{refused:?}").contains("invalid peer certificate"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_service_token_is_refused_without_a_certificate_naming_a_service() {
    let pki = Pki::new();
    let server = start(pki.server_tls()).await;
    let service = pki.client(Some(leaf(&pki.ca, &["notification.homeward.svc"], false)));
    let operator = pki.client(Some(leaf(&pki.ca, &["operator.bureau.example"], false)));
    let request = || with_token(HealthCheckRequest::default(), &[Role::Service]);

    health(tls_channel(server.port, &service), request())
        .await
        .unwrap();
    let refused = health(tls_channel(server.port, &operator), request())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    // The same certificate with a token of another role is served.
    health(
        tls_channel(server.port, &operator),
        with_token(HealthCheckRequest::default(), &[Role::Auditor]),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn plaintext_servers_accept_service_tokens_as_before() {
    let server = start(TlsConfig::default()).await;
    let channel =
        homeward_kit::client::channel(&format!("http://127.0.0.1:{}", server.port)).unwrap();
    health(
        channel,
        with_token(HealthCheckRequest::default(), &[Role::Service]),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn incomplete_tls_settings_stop_the_server() {
    let pki = Pki::new();
    let mut tls = pki.server_tls();
    tls.client_ca = None;
    let mut server = start(tls).await;
    let ended = tokio::time::timeout(Duration::from_secs(10), &mut server.server)
        .await
        .expect("the server stops at once")
        .unwrap();
    assert!(matches!(ended, Err(ServeError::Tls(_))), "{ended:?}");
}

#[test]
fn files_that_are_not_pem_certificates_are_refused() {
    let pki = Pki::new();
    let tls = TlsConfig {
        cert: Some(pki.write("server.crt", b"not a certificate")),
        key: Some(pki.write("server.key", b"")),
        client_ca: Some(Path::new("/nonexistent/ca.crt").to_path_buf()),
    };
    assert!(homeward_kit::tls::ServerTls::from_config(&tls).is_err());
}

#[tokio::test]
async fn probes_without_a_certificate_reach_only_the_plaintext_health_port() {
    let pki = Pki::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let probes = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let health_addr = probes.local_addr().unwrap();
    drop(probes);
    let config = ServerConfig {
        tls: pki.server_tls(),
        health_listen: Some(health_addr),
        ..ServerConfig::default()
    };
    let metrics = Metrics::new().service("mtls-test");
    let server = tokio::spawn(async move {
        serve(
            listener,
            Routes::new(Whoami),
            &[],
            &config,
            &metrics,
            std::future::pending(),
            CancellationToken::new(),
        )
        .await
    });
    let _running = Running { port, server };
    let plain =
        |port: u16| homeward_kit::client::channel(&format!("http://127.0.0.1:{port}")).unwrap();
    // The probe port answers health in plaintext, without a certificate...
    let mut answered = Err(Status::unavailable("not yet"));
    for _ in 0..50 {
        answered = check(plain(health_addr.port())).await;
        if answered.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    answered.expect("health on the probe port");
    // ...and nothing else: the service is not there.
    let mut grpc = tonic::client::Grpc::new(plain(health_addr.port()));
    grpc.ready().await.unwrap();
    let other = grpc
        .unary(
            Request::new(()),
            http::uri::PathAndQuery::from_static("/homeward.test.v1.Whoami/Get"),
            ProstCodec::<(), String>::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::Unimplemented);
    // The service port still refuses plaintext.
    assert!(check(plain(port)).await.is_err());
}
