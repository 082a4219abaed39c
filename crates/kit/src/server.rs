//! The gRPC server every service runs: health (grpc.health.v1), reflection (v1 and v1alpha),
//! request limits, load shedding, a span per request joined to the caller's trace, request
//! metrics (`crate::metrics`), and graceful shutdown.
//!
//! Shutdown order: health turns NOT_SERVING, open watch streams are told to end (clients resume
//! from their cursor), the listener closes after `drain_delay`, and in-flight requests get
//! `shutdown_grace` to finish before the server stops regardless.
//!
//! With `config.tls` set the server speaks only mutual TLS, and each request carries the
//! caller's `PeerIdentity` (`crate::tls`). Without it the server speaks plaintext, and says so
//! loudly at start when it listens beyond loopback.

use std::future::Future;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{
    service::Routes,
    transport::{Server, server::TcpIncoming},
};
use tonic_health::ServingStatus;
use tower::{ServiceBuilder, limit::GlobalConcurrencyLimitLayer};

use crate::{
    config::ServerConfig,
    metrics::ServiceMetrics,
    tls::{PeerIdentityLayer, ServerTls, TlsError},
};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("tls: {0}")]
    Tls(#[from] TlsError),
    #[error("listener: {0}")]
    Listener(#[from] std::io::Error),
}

/// Serves `routes` (the service's own gRPC services, already wrapped in their interceptors) on
/// `listener` until `shutdown` resolves. `names` are the fully qualified service names reported
/// by health checks; every request is counted in `metrics`; `stop` is cancelled when shutdown
/// begins, for streams and background jobs.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    names: &[&'static str],
    config: &ServerConfig,
    metrics: &ServiceMetrics,
    shutdown: impl Future<Output = ()>,
    stop: CancellationToken,
) -> Result<(), ServeError> {
    let tls = ServerTls::from_config(&config.tls)?;
    let addr = listener.local_addr()?;
    match &tls {
        Some(_) => tracing::info!(%addr, "serving gRPC over mutual TLS"),
        None if addr.ip().is_loopback() => {
            tracing::info!(%addr, "plaintext on loopback (development)");
        }
        None => tracing::warn!(
            %addr,
            "serving plaintext gRPC on a non-loopback address: anyone on the network can read \
             and alter the traffic; set HOMEWARD_SERVER__TLS__CERT, HOMEWARD_SERVER__TLS__KEY and \
             HOMEWARD_SERVER__TLS__CLIENT_CA"
        ),
    }
    let (health, health_service) = tonic_health::server::health_reporter();
    for name in names {
        health
            .set_service_status(*name, ServingStatus::Serving)
            .await;
    }
    // Reflection lists what this server serves, not every service the contracts define.
    let reflection = || {
        names
            .iter()
            .copied()
            .chain([
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
            ])
            .fold(
                tonic_reflection::server::Builder::configure()
                    .register_encoded_file_descriptor_set(homeward_proto::FILE_DESCRIPTOR_SET)
                    .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
                |builder, name| builder.with_service_name(name),
            )
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    let close = CancellationToken::new();
    if let Some(health_addr) = config.health_listen {
        let probes = TcpListener::bind(health_addr).await?;
        tracing::info!(addr = %probes.local_addr()?, "health only, plaintext, for probes");
        let service = health_service.clone();
        let closed = close.clone();
        tokio::spawn(async move {
            let served = Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(TcpIncoming::from(probes), closed.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "the health port stopped");
            }
        });
    }
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut builder = Server::builder();
    if let Some(tls) = &tls {
        builder = builder.tls_config(tls.config())?;
    }
    let server = builder
        .trace_fn(crate::telemetry::grpc_request_span)
        .timeout(config.request_timeout())
        .concurrency_limit_per_connection(config.concurrency_limit_per_connection)
        .load_shed(true)
        .max_concurrent_streams(config.max_concurrent_streams)
        .http2_max_pending_accept_reset_streams(Some(64))
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        // Room for a streaming import to keep sending while the previous chunk is written.
        .initial_stream_window_size(Some(1024 * 1024))
        .initial_connection_window_size(Some(4 * 1024 * 1024))
        .layer(
            ServiceBuilder::new()
                // Outermost, so requests shed by the limit below are counted too.
                .layer(metrics.rpc_layer())
                .load_shed()
                .layer(GlobalConcurrencyLimitLayer::new(config.concurrency_limit))
                // Innermost, so refused service tokens are counted and limited like any call.
                .layer(PeerIdentityLayer::new(tls.is_some())),
        )
        .add_routes(routes)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(incoming, close.clone().cancelled_owned());
    tokio::pin!(server);

    tokio::select! {
        result = &mut server => return result.map_err(Into::into),
        _ = shutdown => {}
    }
    tracing::info!("shutting down: reporting not serving");
    health
        .set_service_status("", ServingStatus::NotServing)
        .await;
    for name in names {
        health
            .set_service_status(*name, ServingStatus::NotServing)
            .await;
    }
    stop.cancel();
    tokio::time::sleep(config.drain_delay()).await;
    close.cancel();
    match tokio::time::timeout(config.shutdown_grace(), &mut server).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => {
            tracing::warn!(
                grace_ms = config.shutdown_grace_ms,
                "requests still running at the end of the grace period were cut off"
            );
            Ok(())
        }
    }
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled, so a signal that arrives while the server is still starting (after
/// it announced its address, before it polled this) stops it gracefully instead of killing it.
/// Call it within the runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let mut handlers = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (interrupt, terminate) = &mut handlers;
            let interrupt = async {
                match interrupt {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let terminate = async {
                match terminate {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = interrupt => {}
                _ = terminate => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown signal received");
    }
}
