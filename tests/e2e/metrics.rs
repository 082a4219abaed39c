//! A service's Prometheus metrics, scraped over HTTP while it serves gRPC on real sockets.

use std::{collections::BTreeMap, net::SocketAddr, time::Duration};

use homeward_e2e::{Backend, Database, dev_auth, token};
use homeward_kit::auth::Role;
use homeward_proto::{
    common::v1::{self as common, PartialDate, PersonName, Script},
    registry::v1::{self as pb, registry_service_client::RegistryServiceClient},
};
use homeward_registry::{Application, RegistryConfig};
use tokio_util::sync::CancellationToken;
use tonic::{Code, transport::Channel};

const GET_PERSON: &str = "/homeward.registry.v1.RegistryService/GetPerson";
const CREATE_PERSON: &str = "/homeward.registry.v1.RegistryService/CreatePerson";

/// One sample of the text format: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            let value = value.parse().expect("a numeric value");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').expect("label=value");
                    (key.to_string(), value.trim_matches('"').to_string())
                })
                .collect();
            (name.to_string(), labels, value)
        })
        .collect()
}

/// The value of the one series of `name` with (at least) `labels`, if it is there.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<f64> = samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
        .collect();
    assert!(
        matching.len() <= 1,
        "{name} {labels:?} names several series"
    );
    matching.first().copied()
}

async fn scrape(addr: SocketAddr) -> (String, Vec<Sample>) {
    let response = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("metrics listener answers");
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.expect("body");
    let samples = parse(&text);
    (text, samples)
}

fn person() -> pb::Person {
    pb::Person {
        category: common::PersonCategory::ServiceMember as i32,
        sex: common::Sex::Male as i32,
        names: vec![PersonName {
            script: Script::Cyrillic as i32,
            given: "Тарас".into(),
            family: "Мельник".into(),
            patronymic: "Іванович".into(),
            language: "uk".into(),
            ..Default::default()
        }],
        birth_date: Some(PartialDate {
            year: 1990,
            month: 3,
            day: 14,
        }),
        affiliated_party: "UA".into(),
        holding_party: "RU".into(),
        unit: "36 OBrMP".into(),
        service_number: "SN-metrics-1990".into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_counts_each_method_by_status_and_shows_the_pool_and_the_outbox() {
    let db = Database::fresh(Backend::Postgres).await;
    let mut config = RegistryConfig::default();
    config.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.server.shutdown_grace_ms = 2_000;
    config.database.url = db.url.clone();
    config.database.max_connections = 4;
    config.auth = dev_auth();
    config.metrics.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.metrics.sample_interval_ms = 100;
    let app = Application::build(config).await.expect("registry starts");
    let grpc = app.local_addr();
    let metrics = app
        .metrics_addr()
        .expect("a metrics listener was asked for");
    assert_ne!(metrics.port(), 0);
    let stop = CancellationToken::new();
    let task = tokio::spawn(app.run_until(stop.clone().cancelled_owned()));

    let channel = Channel::from_shared(format!("http://{grpc}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let bearer: tonic::metadata::MetadataValue<_> =
        format!("Bearer {}", token("e2e-user", &[Role::Registrar]))
            .parse()
            .expect("header");
    let mut client =
        RegistryServiceClient::with_interceptor(channel, move |mut r: tonic::Request<()>| {
            r.metadata_mut().insert("authorization", bearer.clone());
            Ok(r)
        });

    let created = client
        .create_person(pb::CreatePersonRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            person: Some(person()),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner()
        .person
        .expect("person");
    for _ in 0..2 {
        client
            .get_person(pb::GetPersonRequest {
                id: created.id.clone(),
            })
            .await
            .expect("get");
    }
    let refused = client
        .get_person(pb::GetPersonRequest {
            id: "not-an-id".into(),
        })
        .await
        .expect_err("not an id");
    assert_eq!(refused.code(), Code::InvalidArgument);

    let (text, samples) = scrape(metrics).await;
    let requests = |method: &str, code: &str| {
        value(
            &samples,
            "homeward_grpc_requests_total",
            &[("service", "registry"), ("method", method), ("code", code)],
        )
    };
    assert_eq!(requests(GET_PERSON, "OK"), Some(2.0), "{text}");
    assert_eq!(requests(GET_PERSON, "InvalidArgument"), Some(1.0), "{text}");
    assert_eq!(requests(CREATE_PERSON, "OK"), Some(1.0), "{text}");
    assert_eq!(
        value(
            &samples,
            "homeward_grpc_request_duration_seconds_count",
            &[("service", "registry"), ("method", GET_PERSON)],
        ),
        Some(3.0),
        "{text}"
    );
    let pool = |name| value(&samples, name, &[("service", "registry")]);
    assert!(
        pool("homeward_db_pool_connections").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        pool("homeward_db_pool_idle_connections").is_some(),
        "{text}"
    );
    assert_eq!(
        pool("homeward_db_pool_max_connections"),
        Some(4.0),
        "{text}"
    );
    // Labels hold ids of methods only: nothing of the person.
    assert!(!text.contains(&created.id), "{text}");
    assert!(!text.contains("Мельник"), "{text}");

    // The creation's event is sequenced, and the sampler reports the stream's new head.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (text, samples) = scrape(metrics).await;
        let head = value(
            &samples,
            "homeward_outbox_head_position",
            &[("service", "registry")],
        );
        let pending = value(
            &samples,
            "homeward_outbox_pending_events",
            &[("service", "registry")],
        );
        if head.is_some_and(|h| h >= 1.0) && pending == Some(0.0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox gauges never showed the event: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("registry stops")
        .expect("task")
        .expect("registry runs");
}
