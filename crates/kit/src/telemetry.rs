//! Telemetry: one subscriber for the whole process — an env filter, human or JSON log lines, and
//! OpenTelemetry traces exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. W3C trace
//! context travels in gRPC metadata (`traceparent`), extracted by the server and injected by
//! clients, so one trace follows a request across services.
//!
//! Spans and events carry ids only: never a name, a birth date or a contact detail.

use opentelemetry::{
    global,
    propagation::{Extractor, Injector},
    trace::TracerProvider as _,
};
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use serde::{Deserialize, Serialize};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TelemetryConfig {
    pub log_format: LogFormat,
    /// An `EnvFilter` directive; `RUST_LOG` wins when set.
    pub log_filter: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Text,
            log_filter: "info,sqlx=warn,h2=warn,tower=warn,hyper=warn".into(),
        }
    }
}

/// Flushes pending spans when dropped; keep it alive for the life of the process.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global subscriber. Call once, at the start of `main`.
pub fn init(service: &'static str, config: &TelemetryConfig) -> TelemetryGuard {
    global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer().with_target(false).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed(),
    };

    let (provider, exporting) = tracer_provider(service);
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer(service));
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel);
    // A second init (tests start several services in one process) keeps the first subscriber.
    let _ = registry.try_init();
    if exporting {
        tracing::info!(service, "exporting traces over otlp");
    }
    TelemetryGuard {
        provider: Some(provider),
    }
}

/// The tracer provider: spans always get W3C trace ids (so context propagates through calls and
/// events whether or not anything is exported); they are exported over OTLP only when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
fn tracer_provider(service: &'static str) -> (SdkTracerProvider, bool) {
    let mut builder = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(service).build());
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or_default();
    let mut exporting = false;
    if !endpoint.trim().is_empty() {
        match opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
        {
            Ok(exporter) => {
                builder = builder.with_batch_exporter(exporter);
                exporting = true;
            }
            Err(err) => eprintln!("otlp exporter not started: {err}"),
        }
    }
    let provider = builder.build();
    global::set_tracer_provider(provider.clone());
    (provider, exporting)
}

/// Reads W3C trace context from HTTP/2 headers (gRPC metadata).
struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Writes W3C trace context into outgoing gRPC metadata.
struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// The span every incoming gRPC request runs in, a child of the caller's trace when the request
/// carries a `traceparent`. Used as the server's `trace_fn`.
pub fn grpc_request_span(request: &http::Request<()>) -> tracing::Span {
    let path = request.uri().path();
    let span = tracing::info_span!("grpc.request", rpc.method = %path, otel.kind = "server");
    let parent =
        global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(request.headers())));
    let _ = span.set_parent(parent);
    span
}

/// The span in which a consumer handles one event: a child of the trace that caused the event
/// (its stored `traceparent`), so one trace runs from a request through the event stream to what
/// the event caused in another service.
pub fn event_span(
    consumer: &'static str,
    event_type: &str,
    event_id: &str,
    traceparent: &str,
) -> tracing::Span {
    let span = tracing::info_span!(
        "event.handle",
        consumer,
        event.r#type = %event_type,
        event.id = %event_id,
        otel.kind = "consumer"
    );
    if !traceparent.is_empty() {
        let mut headers = http::HeaderMap::new();
        if let Ok(value) = http::HeaderValue::from_str(traceparent) {
            headers.insert("traceparent", value);
        }
        let parent = global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(&headers)));
        let _ = span.set_parent(parent);
    }
    span
}

/// Adds the current span's trace context to an outgoing request's metadata.
pub fn inject_trace_context(metadata: &mut tonic::metadata::MetadataMap) {
    let context = tracing::Span::current().context();
    global::get_text_map_propagator(|p| {
        p.inject_context(&context, &mut MetadataInjector(metadata))
    });
}

/// The current span's `traceparent`, stored with outbox events so consumers continue the trace.
pub fn current_traceparent() -> String {
    let mut metadata = tonic::metadata::MetadataMap::new();
    inject_trace_context(&mut metadata);
    metadata
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}
