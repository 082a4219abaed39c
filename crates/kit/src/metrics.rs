//! Prometheus metrics: the registry a process records into, the tower layer that counts every
//! gRPC request, the sampler of database gauges, and the HTTP listener that serves
//! `GET /metrics` in the Prometheus text format on its own port.
//!
//! Built on the `prometheus` crate (without its protobuf feature) rather than the `metrics`
//! facade with `metrics-exporter-prometheus`. The facade records into one process-global
//! recorder, while here a registry is a value: tests start many services in one process and each
//! keeps its own counts, and the all-in-one binary hands one registry to its three services on
//! purpose. That exporter's HTTP listener also binds inside its own future and never tells its
//! address; here the endpoint is a few lines of axum (which tonic already builds) on a listener
//! bound beforehand, so a test that asks for port 0 can read the port back.
//!
//! Every metric carries `service` (a constant label of each service's collectors, so the services
//! of one process share one family per metric). Labels must stay few and must never carry
//! personal data: gRPC paths known to the proto (anything else counts as `unknown`), status
//! codes, stream, channel and state names. Never a name, an address, or a person's id.

use std::{
    collections::HashSet,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::LazyLock,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use prometheus::{HistogramOpts, HistogramVec, Opts, Registry, TextEncoder, core::Collector};
use prost::Message as _;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tower::{Layer, Service};

pub use prometheus::{Gauge, GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec};

use crate::{config::MetricsConfig, db::Db};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The `Content-Type` of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the request latency buckets, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The metrics of one process: what the exporter renders.
#[derive(Clone, Default)]
pub struct Metrics {
    registry: Registry,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// The collectors of one service of this process, labelled `service="<name>"`.
    pub fn service(&self, name: &'static str) -> ServiceMetrics {
        ServiceMetrics::new(self.registry.clone(), name)
    }

    /// Everything recorded so far, in the Prometheus text format.
    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "metrics not rendered");
                String::new()
            })
    }
}

/// One service's collectors. Cheap to clone; clones record into the same series.
#[derive(Clone)]
pub struct ServiceMetrics {
    name: &'static str,
    registry: Registry,
    rpc: Rpc,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
    pool_max: IntGauge,
    outbox_pending: IntGauge,
    outbox_head: IntGauge,
    consumer_events: IntCounterVec,
    consumer_lag: GaugeVec,
    consumer_last_event: GaugeVec,
}

impl ServiceMetrics {
    fn new(registry: Registry, name: &'static str) -> Self {
        let family = Family {
            registry: &registry,
            service: name,
        };
        let rpc = Rpc {
            requests: family.counter_vec(
                "homeward_grpc_requests_total",
                "gRPC requests handled, by method and final status code",
                &["method", "code"],
            ),
            duration: family.register(
                HistogramVec::new(
                    HistogramOpts::from(family.opts(
                        "homeward_grpc_request_duration_seconds",
                        "Time until the response began: a unary call's whole handling, a \
                         stream's set-up",
                    ))
                    .buckets(LATENCY_BUCKETS.to_vec()),
                    &["method"],
                )
                .expect("valid metric"),
            ),
        };
        let float_gauges = |name: &str, help: &str| {
            family.register(
                GaugeVec::new(family.opts(name, help), &["stream"]).expect("valid metric"),
            )
        };
        Self {
            name,
            rpc,
            pool_connections: family.gauge(
                "homeward_db_pool_connections",
                "Connections the database pool holds, in use or idle",
            ),
            pool_idle: family.gauge(
                "homeward_db_pool_idle_connections",
                "Connections of the database pool not in use",
            ),
            pool_max: family.gauge(
                "homeward_db_pool_max_connections",
                "Most connections the database pool may open",
            ),
            outbox_pending: family.gauge(
                "homeward_outbox_pending_events",
                "Events committed but not yet given a stream position",
            ),
            outbox_head: family.gauge(
                "homeward_outbox_head_position",
                "Last position handed out in the service's event stream",
            ),
            consumer_events: family.counter_vec(
                "homeward_consumer_events_total",
                "Events of another service's stream handled, by stream",
                &["stream"],
            ),
            consumer_lag: float_gauges(
                "homeward_consumer_lag_seconds",
                "Seconds between the last handled event's occurrence and its handling",
            ),
            consumer_last_event: float_gauges(
                "homeward_consumer_last_event_timestamp_seconds",
                "When the last handled event occurred (Unix time)",
            ),
            registry,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A counter family of this service, registered. `labels` must take few values each.
    pub fn counter_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        self.family().counter_vec(name, help, labels)
    }

    /// A gauge family of this service, registered. `labels` must take few values each.
    pub fn gauge_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        self.family().gauge_vec(name, help, labels)
    }

    /// A gauge of this service, registered.
    pub fn gauge(&self, name: &str, help: &str) -> IntGauge {
        self.family().gauge(name, help)
    }

    fn family(&self) -> Family<'_> {
        Family {
            registry: &self.registry,
            service: self.name,
        }
    }

    /// The tower layer counting every request of the service's gRPC server.
    pub fn rpc_layer(&self) -> RpcMetricsLayer {
        RpcMetricsLayer {
            rpc: self.rpc.clone(),
        }
    }

    /// The metrics of a consumer of another service's event stream.
    pub fn consumer(&self, stream: &'static str) -> ConsumerMetrics {
        ConsumerMetrics {
            events: self.consumer_events.with_label_values(&[stream]),
            lag: self.consumer_lag.with_label_values(&[stream]),
            last_event: self.consumer_last_event.with_label_values(&[stream]),
        }
    }

    /// Samples pool use and the outbox backlog every `every` until `stop`. Pool use is read
    /// at once, so it is there from the first scrape.
    pub fn spawn_sampler(
        &self,
        db: Db,
        every: Duration,
        stop: CancellationToken,
    ) -> JoinHandle<()> {
        let metrics = self.clone();
        metrics.sample_pool(&db);
        tokio::spawn(async move {
            let mut failing = false;
            loop {
                metrics.sample_pool(&db);
                match crate::outbox::backlog(&db).await {
                    Ok(backlog) => {
                        failing = false;
                        metrics.outbox_pending.set(backlog.pending);
                        metrics.outbox_head.set(backlog.head);
                    }
                    Err(err) => {
                        if !failing {
                            tracing::warn!(error = %err, "outbox backlog not sampled");
                        }
                        failing = true;
                    }
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
            }
        })
    }

    fn sample_pool(&self, db: &Db) {
        let (size, idle, max) = match db {
            Db::Postgres(pool) => (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ),
            Db::Sqlite(pool) => (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ),
        };
        self.pool_connections.set(i64::from(size));
        self.pool_idle.set(i64::try_from(idle).unwrap_or(i64::MAX));
        self.pool_max.set(i64::from(max));
    }
}

/// Makes and registers the collectors of one service. The descriptors are constants of the
/// code, so a malformed one is a bug that every test run meets at once.
struct Family<'a> {
    registry: &'a Registry,
    service: &'static str,
}

impl Family<'_> {
    fn opts(&self, name: &str, help: &str) -> Opts {
        Opts::new(name, help).const_label("service", self.service)
    }

    fn counter_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        self.register(IntCounterVec::new(self.opts(name, help), labels).expect("valid metric"))
    }

    fn gauge_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        self.register(IntGaugeVec::new(self.opts(name, help), labels).expect("valid metric"))
    }

    fn gauge(&self, name: &str, help: &str) -> IntGauge {
        self.register(IntGauge::with_opts(self.opts(name, help)).expect("valid metric"))
    }

    /// Registers `collector`. A second service of the same name in one registry is a wiring
    /// mistake, not a reason to stop: its series are recorded but not exported.
    fn register<C: Collector + Clone + 'static>(&self, collector: C) -> C {
        if let Err(err) = self.registry.register(Box::new(collector.clone())) {
            tracing::warn!(service = self.service, error = %err, "metric not exported");
        }
        collector
    }
}

/// What a consumer of another service's event stream reports.
#[derive(Clone)]
pub struct ConsumerMetrics {
    events: IntCounter,
    lag: Gauge,
    last_event: Gauge,
}

impl ConsumerMetrics {
    /// Records `events` handled, the last of which occurred at `last_occurred_at_us`
    /// (microseconds since the epoch, when the event said).
    pub fn handled(&self, events: usize, last_occurred_at_us: Option<i64>) {
        self.events.inc_by(events as u64);
        if let Some(at) = last_occurred_at_us {
            let now = crate::timestamp::now_micros();
            self.lag.set((now - at).max(0) as f64 / 1e6);
            self.last_event.set(at as f64 / 1e6);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The request layer

#[derive(Clone)]
struct Rpc {
    requests: IntCounterVec,
    duration: HistogramVec,
}

/// Counts each request by method and final gRPC status, and times it until its response began.
///
/// The status is read where gRPC puts it: in the response headers of a trailers-only response
/// (an error returned at once, as handlers and interceptors do), otherwise in the trailers at the
/// end of the body, which the layer watches pass. A request whose response never finished (the
/// client went away, the deadline passed, the server stopped) counts as `Canceled`; one shed
/// by the concurrency limit as `ResourceExhausted`.
#[derive(Clone)]
pub struct RpcMetricsLayer {
    rpc: Rpc,
}

impl<S> Layer<S> for RpcMetricsLayer {
    type Service = RpcMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetricsService {
            inner,
            rpc: self.rpc.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RpcMetricsService<S> {
    inner: S,
    rpc: Rpc,
}

impl<S, B> Service<http::Request<B>> for RpcMetricsService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let mut call = Call::start(self.rpc.clone(), method_label(request.uri().path()));
        let response = self.inner.call(request);
        Box::pin(async move {
            match response.await {
                Ok(response) => {
                    call.responded();
                    if let Some(code) = status_in(response.headers()) {
                        call.finish(code);
                        return Ok(response);
                    }
                    Ok(response.map(|inner| {
                        tonic::body::Body::new(CountedBody {
                            inner,
                            call: Some(call),
                        })
                    }))
                }
                Err(err) => {
                    let err = err.into();
                    call.finish(error_code(&*err));
                    Err(err)
                }
            }
        })
    }
}

/// One request on its way: counted once, when its status is known or when it is abandoned.
struct Call {
    rpc: Rpc,
    method: &'static str,
    started: Instant,
    responded: bool,
    finished: bool,
}

impl Call {
    fn start(rpc: Rpc, method: &'static str) -> Self {
        Self {
            rpc,
            method,
            started: Instant::now(),
            responded: false,
            finished: false,
        }
    }

    fn responded(&mut self) {
        if !self.responded {
            self.responded = true;
            self.rpc
                .duration
                .with_label_values(&[self.method])
                .observe(self.started.elapsed().as_secs_f64());
        }
    }

    fn finish(&mut self, code: &'static str) {
        self.responded();
        if !self.finished {
            self.finished = true;
            self.rpc
                .requests
                .with_label_values(&[self.method, code])
                .inc();
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.finish("Canceled");
    }
}

/// A response body that records the status in its trailers as they pass.
struct CountedBody {
    inner: tonic::body::Body,
    call: Option<Call>,
}

impl CountedBody {
    fn finish(&mut self, code: &'static str) {
        if let Some(mut call) = self.call.take() {
            call.finish(code);
        }
    }
}

impl http_body::Body for CountedBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    this.finish(status_in(trailers).unwrap_or("Unknown"));
                }
            }
            Poll::Ready(Some(Err(status))) => this.finish(code_name(status.code() as i32)),
            // A gRPC response always ends with its status; one without is a broken stream.
            Poll::Ready(None) => this.finish("Unknown"),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Every gRPC path the process can serve: the services of the proto, health and reflection.
static METHODS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let sets = [
        homeward_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ];
    let mut paths = HashSet::new();
    for encoded in sets {
        let Ok(set) = prost_types::FileDescriptorSet::decode(encoded) else {
            continue;
        };
        for file in set.file {
            for service in &file.service {
                let service_name = match file.package() {
                    "" => service.name().to_string(),
                    package => format!("{package}.{}", service.name()),
                };
                for method in &service.method {
                    paths.insert(format!("/{service_name}/{}", method.name()));
                }
            }
        }
    }
    paths
});

/// The `method` label: the gRPC path when the proto defines it, else `unknown`, so a client
/// sending made-up paths cannot create series.
fn method_label(path: &str) -> &'static str {
    let methods: &'static HashSet<String> = &METHODS;
    methods.get(path).map_or("unknown", String::as_str)
}

/// The names of the gRPC status codes, as the gRPC libraries print them.
const CODES: [&str; 17] = [
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];

fn code_name(code: i32) -> &'static str {
    usize::try_from(code)
        .ok()
        .and_then(|i| CODES.get(i).copied())
        .unwrap_or("Unknown")
}

/// The `grpc-status` of a header or trailer map, when present.
fn status_in(headers: &http::HeaderMap) -> Option<&'static str> {
    let value = headers.get("grpc-status")?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<i32>().ok())
            .map_or("Unknown", code_name),
    )
}

/// The status tonic makes of an error below the layer (it turns errors into statuses above it).
fn error_code(err: &(dyn std::error::Error + Send + Sync + 'static)) -> &'static str {
    if err.is::<tower::load_shed::error::Overloaded>() {
        "ResourceExhausted"
    } else if let Some(status) = err.downcast_ref::<tonic::Status>() {
        code_name(status.code() as i32)
    } else {
        "Unknown"
    }
}

// ---------------------------------------------------------------------------------------------
// The HTTP listener

/// The listener of `GET /metrics`, bound before the service starts so that its address is known
/// (tests bind port 0 and read it back).
pub struct Exporter {
    listener: TcpListener,
    addr: SocketAddr,
}

impl Exporter {
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        Ok(Self { listener, addr })
    }

    /// Binds `config.listen`; none when it is unset.
    pub async fn from_config(config: &MetricsConfig) -> std::io::Result<Option<Self>> {
        match config.listen {
            Some(addr) => Ok(Some(Self::bind(addr).await?)),
            None => Ok(None),
        }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `metrics` until `stop` is cancelled.
    pub fn spawn(self, metrics: Metrics, stop: CancellationToken) -> JoinHandle<()> {
        use axum::{extract::State, routing::get};

        async fn scrape(State(metrics): State<Metrics>) -> impl axum::response::IntoResponse {
            (
                [(http::header::CONTENT_TYPE, CONTENT_TYPE)],
                metrics.render(),
            )
        }

        let app = axum::Router::new()
            .route("/metrics", get(scrape))
            .with_state(metrics);
        let addr = self.addr;
        tracing::info!(%addr, "metrics listening");
        tokio::spawn(async move {
            if let Err(err) = axum::serve(self.listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
            {
                tracing::warn!(%addr, error = %err, "metrics listener stopped");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http_body::Body as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A body of one data frame and the trailers of `code`.
    struct Streamed {
        data: Option<Bytes>,
        code: Option<tonic::Code>,
    }

    impl http_body::Body for Streamed {
        type Data = Bytes;
        type Error = tonic::Status;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
            if let Some(data) = self.data.take() {
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            Poll::Ready(self.code.take().map(|code| {
                let mut trailers = http::HeaderMap::new();
                trailers.insert("grpc-status", (code as i32).into());
                Ok(Frame::trailers(trailers))
            }))
        }
    }

    /// Answers `/…/GetPerson` with a streamed OK, `/…/Fail` at once with INVALID_ARGUMENT, and
    /// anything else with a stream that ends in INTERNAL.
    async fn handle(
        request: http::Request<()>,
    ) -> Result<http::Response<tonic::body::Body>, Infallible> {
        let path = request.uri().path();
        Ok(if path.ends_with("/GetPerson") {
            http::Response::new(tonic::body::Body::new(Streamed {
                data: Some(Bytes::from_static(b"\0\0\0\0\0")),
                code: Some(tonic::Code::Ok),
            }))
        } else if path.ends_with("/Fail") {
            tonic::Status::invalid_argument("no").into_http()
        } else {
            http::Response::new(tonic::body::Body::new(Streamed {
                data: Some(Bytes::from_static(b"\0\0\0\0\0")),
                code: Some(tonic::Code::Internal),
            }))
        })
    }

    async fn drain(response: http::Response<tonic::body::Body>) {
        let mut body = response.into_body();
        while std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx))
            .await
            .is_some()
        {}
    }

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
    }

    #[tokio::test]
    async fn requests_are_counted_by_the_status_in_headers_or_trailers() {
        let metrics = Metrics::new();
        let registry = metrics.service("registry");
        let mut service = registry.rpc_layer().layer(tower::service_fn(handle));
        let get = "/homeward.registry.v1.RegistryService/GetPerson";
        for path in [get, get, "/nowhere.Service/Fail", "/made.up/Path"] {
            let request = http::Request::builder().uri(path).body(()).unwrap();
            drain(service.call(request).await.unwrap()).await;
        }
        // Abandoned before its trailers: the client went away.
        let request = http::Request::builder().uri(get).body(()).unwrap();
        drop(service.call(request).await.unwrap());

        let text = metrics.render();
        let series = |method: &str, code: &str| {
            format!(
                "homeward_grpc_requests_total{{code=\"{code}\",method=\"{method}\",service=\"registry\"}}"
            )
        };
        assert_eq!(value(&text, &series(get, "OK")), Some(2.0), "{text}");
        assert_eq!(value(&text, &series(get, "Canceled")), Some(1.0), "{text}");
        assert_eq!(
            value(&text, &series("unknown", "InvalidArgument")),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            value(&text, &series("unknown", "Internal")),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            value(
                &text,
                &format!(
                    "homeward_grpc_request_duration_seconds_count{{method=\"{get}\",service=\"registry\"}}"
                )
            ),
            Some(3.0),
            "{text}"
        );
    }

    #[test]
    fn every_method_of_the_proto_and_health_is_known() {
        assert_eq!(
            method_label("/homeward.registry.v1.RegistryService/GetPerson"),
            "/homeward.registry.v1.RegistryService/GetPerson"
        );
        assert_eq!(
            method_label("/grpc.health.v1.Health/Check"),
            "/grpc.health.v1.Health/Check"
        );
        assert_eq!(
            method_label("/homeward.registry.v1.RegistryService/Nope"),
            "unknown"
        );
    }

    #[test]
    fn services_of_one_process_share_families_and_keep_their_own_series() {
        let metrics = Metrics::new();
        metrics
            .service("registry")
            .consumer("exchange")
            .handled(2, None);
        metrics
            .service("notification")
            .consumer("exchange")
            .handled(3, Some(0));
        // A second service of the same name is recorded but not exported, and does not panic.
        metrics
            .service("registry")
            .consumer("exchange")
            .handled(5, None);
        let text = metrics.render();
        assert_eq!(
            text.matches("# TYPE homeward_consumer_events_total")
                .count(),
            1
        );
        assert_eq!(
            value(
                &text,
                "homeward_consumer_events_total{service=\"registry\",stream=\"exchange\"}"
            ),
            Some(2.0),
            "{text}"
        );
        assert_eq!(
            value(
                &text,
                "homeward_consumer_events_total{service=\"notification\",stream=\"exchange\"}"
            ),
            Some(3.0),
            "{text}"
        );
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn the_listen_address_comes_from_the_environment() {
        #[derive(Default, serde::Serialize, serde::Deserialize)]
        #[serde(default)]
        struct Config {
            metrics: MetricsConfig,
        }
        figment::Jail::expect_with(|jail| {
            let cfg: Config = crate::config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(cfg.metrics.listen, None);
            jail.set_env("HOMEWARD_METRICS__LISTEN", "0.0.0.0:9090");
            let cfg: Config = crate::config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(cfg.metrics.listen, Some("0.0.0.0:9090".parse().unwrap()));
            assert_eq!(cfg.metrics.sample_interval_ms, 5_000);
            Ok(())
        });
    }

    #[tokio::test]
    async fn the_exporter_serves_the_text_format_over_http() {
        let metrics = Metrics::new();
        metrics
            .service("exchange")
            .gauge("homeward_test_gauge", "a gauge")
            .set(7);
        let exporter = Exporter::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let addr = exporter.local_addr();
        let stop = CancellationToken::new();
        let task = exporter.spawn(metrics, stop.clone());

        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains("text/plain; version=0.0.4"), "{response}");
        assert!(
            response.contains("homeward_test_gauge{service=\"exchange\"} 7"),
            "{response}"
        );

        stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
    }
}
