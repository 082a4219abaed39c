//! The compose topology as plain processes: each service its own binary on its own port, its
//! own PostgreSQL database migrated by a separate step, two replicas of each. An exchange with
//! families waiting is played across it while one replica of each service is killed with
//! SIGKILL; afterwards nothing is lost or duplicated, the audit chains verify, and one trace runs
//! from the completion request through the exchange service, the registry and the event stream
//! into the notification service (spans received over OTLP by a collector in this test).

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use homeward_kit::db::testing::fresh_postgres_database;
use homeward_proto::{notification::v1 as nt, registry::v1 as reg};
use homeward_story::{Plan, Services, play};
use homeward_topology::{Databases, Service, Spec, Topology};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::{KeyValue, any_value::Value},
};
use tokio::sync::mpsc;

/// A span as received: the service that sent it, its trace, its name and its RPC method.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    trace_id: Vec<u8>,
    name: String,
    method: String,
    event_type: String,
}

/// An OTLP trace receiver (the collector's role), keeping every span it is sent.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<Received>>>);

fn text(attributes: &[KeyValue], key: &str) -> String {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(Value::StringValue(s)) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = self.0.lock().expect("collector lock");
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .map(|r| text(&r.attributes, "service.name"))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    received.push(Received {
                        service: service.clone(),
                        trace_id: span.trace_id.clone(),
                        method: text(&span.attributes, "rpc.method"),
                        event_type: text(&span.attributes, "event.type"),
                        name: span.name,
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Collector {
    async fn start(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("collector listens");
        let addr = listener.local_addr().expect("collector address");
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
                .expect("collector serves");
        });
        addr
    }

    fn spans(&self) -> Vec<Received> {
        self.0.lock().expect("collector lock").clone()
    }
}

async fn count_persons(registry: &mut homeward_story::Registry) -> usize {
    let mut persons = 0;
    let mut token = String::new();
    loop {
        let page = registry
            .list_persons(reg::ListPersonsRequest {
                page_size: 1000,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("list persons")
            .into_inner();
        persons += page.persons.len();
        token = page.next_page_token;
        if token.is_empty() {
            return persons;
        }
    }
}

/// When each replica is killed: at a moment of the story, named by what the story says then.
const KILLS: &[(&str, Service)] = &[
    ("agreement", Service::Registry),
    ("lists frozen", Service::Exchange),
    ("the registry updated", Service::Notification),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_across_replicas_loses_and_repeats_nothing_when_one_of_each_is_killed() {
    let collector = Collector::default();
    let otlp = collector.start().await;
    let databases = Databases {
        registry: fresh_postgres_database("dist_registry").await,
        exchange: fresh_postgres_database("dist_exchange").await,
        notification: fresh_postgres_database("dist_notification").await,
    };
    let run = tempfile::tempdir().expect("run folder");
    let mut spec = Spec::new(databases, run.path().to_path_buf()).expect("binaries");
    spec.env = vec![
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
            format!("http://{otlp}"),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY".into(), "200".into()),
        ("HOMEWARD_MESSAGES__CLAIM_MS".into(), "3000".into()),
        ("RUST_LOG".into(), "info".into()),
    ];
    let topology = Topology::start(spec)
        .await
        .unwrap_or_else(|e| panic!("the topology starts: {e}"));
    let letters = topology
        .replica(Service::Notification, 0)
        .and_then(|r| r.letters.clone())
        .expect("letters folder");
    let urls: HashMap<Service, String> = Service::ALL
        .iter()
        .map(|s| (*s, topology.urls(*s)))
        .collect();
    let topology = Arc::new(tokio::sync::Mutex::new(topology));

    // The first replica of each service is killed when the story reaches its moment.
    let (said, mut heard) = mpsc::unbounded_channel::<String>();
    let killer = {
        let topology = topology.clone();
        tokio::spawn(async move {
            let mut killed = Vec::new();
            while let Some(line) = heard.recv().await {
                for (moment, service) in KILLS {
                    if line.contains(moment) && !killed.contains(service) {
                        topology.lock().await.kill(*service, 0).await;
                        killed.push(*service);
                    }
                }
            }
            killed
        })
    };

    let services = Services::connect(&urls[&Service::Registry], &urls[&Service::Exchange])
        .await
        .expect("clients")
        .with_office(&urls[&Service::Notification])
        .await
        .expect("office clients");
    let plan = Plan {
        per_party: 90,
        civilians: 30,
        women: 3,
        families: 8,
        ..Plan::may_2025()
    };
    let ending = play(&services, &plan, |line| {
        let _ = said.send(line);
    })
    .await
    .unwrap_or_else(|e| panic!("the story plays across the replicas: {e}"));
    drop(said);
    let killed = killer.await.expect("killer");
    assert_eq!(killed.len(), 3, "one replica of each service was killed");
    {
        let topology = topology.lock().await;
        for service in Service::ALL {
            assert!(!topology.replica(service, 0).expect("replica").running());
            assert!(topology.replica(service, 1).expect("replica").running());
        }
    }

    // The phase: everyone on the lists settled once; the registry agrees.
    let report = ending.report.clone();
    let settled: usize = ending.statuses.iter().map(|(_, n)| n).sum();
    assert_eq!(
        settled,
        2 * plan.per_party,
        "every listed person has one registry status: {:?}",
        ending.statuses
    );
    let transferred: u32 = report.tallies.iter().map(|t| t.verified).sum();
    let home = ending
        .statuses
        .iter()
        .filter(|(s, _)| {
            matches!(
                s,
                reg::PersonStatus::Repatriated | reg::PersonStatus::Released
            )
        })
        .map(|(_, n)| *n)
        .sum::<usize>();
    assert_eq!(
        home, transferred as usize,
        "the registry matches the report"
    );

    // Registered once each, whatever replica took the request and whatever was retried.
    let mut registry = services.registry.clone();
    let persons = count_persons(&mut registry).await;
    let absent_son = usize::from(plan.absent_family);
    assert_eq!(
        persons,
        2 * plan.per_party + absent_son,
        "nobody registered twice"
    );

    // Each family in the phase told once that their son is home; the absent son's mother not.
    let office = services.office.clone().expect("office");
    assert_eq!(ending.cases.len(), plan.families + absent_son);
    for case in &ending.cases {
        let home_news: Vec<_> = case
            .notifications
            .iter()
            .filter(|(kind, _, _)| {
                matches!(
                    kind,
                    nt::NotificationKind::Repatriated | nt::NotificationKind::Released
                )
            })
            .collect();
        if case.family.in_phase {
            assert_eq!(home_news.len(), 1, "told once: {:?}", case.notifications);
            assert_eq!(home_news[0].1, nt::NotificationState::Delivered);
        } else {
            assert!(home_news.is_empty(), "not told: {:?}", case.notifications);
        }
    }
    // Every delivery that counts as delivered left exactly one letter, and no letter exists
    // that no delivery accounts for.
    let mut first = office.first.clone();
    let mut delivered = HashSet::new();
    let mut token = String::new();
    loop {
        let page = first
            .list_deliveries(nt::ListDeliveriesRequest {
                page_size: 1000,
                page_token: token.clone(),
                state: nt::DeliveryState::Delivered as i32,
                ..Default::default()
            })
            .await
            .expect("list deliveries")
            .into_inner();
        delivered.extend(page.deliveries.into_iter().map(|d| d.id));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let written: HashSet<String> = std::fs::read_dir(&letters)
        .expect("letters folder")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.path()
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .filter(|name| !name.starts_with('.'))
        .collect();
    assert!(delivered.len() >= plan.families, "{delivered:?}");
    assert_eq!(written, delivered, "one letter per delivered delivery");

    // The audit chains of all three services verify.
    let verification = registry
        .verify_audit_log(reg::VerifyAuditLogRequest::default())
        .await
        .expect("registry audit")
        .into_inner()
        .verification
        .expect("verification");
    assert!(verification.intact && verification.entries > 0);
    let verification = services
        .exchange
        .clone()
        .verify_audit_log(homeward_proto::exchange::v1::VerifyAuditLogRequest::default())
        .await
        .expect("exchange audit")
        .into_inner()
        .verification
        .expect("verification");
    assert!(verification.intact && verification.entries > 0);
    let verification = first
        .verify_audit_log(nt::VerifyAuditLogRequest::default())
        .await
        .expect("notification audit")
        .into_inner()
        .verification
        .expect("verification");
    assert!(verification.intact && verification.entries > 0);

    // One trace: the completion request, the registry calls it made, and the notification
    // service handling the events it caused.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (completion, services_in_trace, consumed) = loop {
        let spans = collector.spans();
        // The completion request (a retried call is a trace of its own: take the one that did
        // the work, the one whose trace reaches the registry).
        let completions: Vec<Vec<u8>> = spans
            .iter()
            .filter(|s| s.service == "homeward-exchange" && s.method.ends_with("/CompletePhase"))
            .map(|s| s.trace_id.clone())
            .collect();
        let completion = completions
            .iter()
            .find(|t| {
                spans
                    .iter()
                    .any(|s| &s.trace_id == *t && s.service == "homeward-registry")
            })
            .or(completions.first())
            .cloned();
        let in_trace: Vec<&Received> = spans
            .iter()
            .filter(|s| Some(&s.trace_id) == completion.as_ref())
            .collect();
        let services: HashSet<String> = in_trace.iter().map(|s| s.service.clone()).collect();
        let consumed: HashSet<String> = in_trace
            .iter()
            .filter(|s| s.service == "homeward-notification" && s.name == "event.handle")
            .map(|s| s.event_type.clone())
            .collect();
        if (services.len() == 3 && consumed.contains("exchange.phase.completed"))
            || Instant::now() >= deadline
        {
            break (completion, services, consumed);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(completion.is_some(), "the completion request was traced");
    assert_eq!(
        services_in_trace,
        HashSet::from([
            "homeward-exchange".to_string(),
            "homeward-registry".to_string(),
            "homeward-notification".to_string()
        ]),
        "spans of all three services share the completion's trace"
    );
    assert!(
        consumed.contains("exchange.phase.completed"),
        "the hop through the event stream continues the trace: {consumed:?}"
    );

    // A rolling restart while an officer keeps registering people: the killed replicas come
    // back, then each second replica is stopped with SIGTERM (it drains and exits cleanly) and
    // started again. Every registration succeeds (retried with its request id while a replica
    // is away) and is there once.
    let mut topology = Arc::try_unwrap(topology)
        .ok()
        .expect("one owner")
        .into_inner();
    let writing = tokio_util::sync::CancellationToken::new();
    let writer = {
        let registry = services.registry.clone();
        let writing = writing.clone();
        tokio::spawn(async move {
            let mut written = 0usize;
            while !writing.is_cancelled() {
                let request = reg::CreatePersonRequest {
                    request_id: uuid::Uuid::new_v4().to_string(),
                    person: Some(reg::Person {
                        category: homeward_proto::common::v1::PersonCategory::Civilian as i32,
                        names: vec![homeward_proto::common::v1::PersonName {
                            family: format!("Rolling{written}"),
                            given: "Test".into(),
                            ..Default::default()
                        }],
                        affiliated_party: "UA".into(),
                        holding_party: "RU".into(),
                        ..Default::default()
                    }),
                    source: homeward_proto::common::v1::InformationSource::OwnReport as i32,
                    reliability: homeward_proto::common::v1::Reliability::UsuallyReliable as i32,
                };
                homeward_story::persist(|| {
                    let mut registry = registry.clone();
                    let request = request.clone();
                    async move { registry.create_person(request).await }
                })
                .await
                .unwrap_or_else(|s| panic!("registration {written} during the restart: {s}"));
                written += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            written
        })
    };
    for service in Service::ALL {
        topology
            .restart(service, 0)
            .await
            .unwrap_or_else(|e| panic!("{} comes back: {e}", service.name()));
    }
    for service in Service::ALL {
        assert!(
            topology
                .terminate(service, 1, Duration::from_secs(15))
                .await,
            "{} drains and exits cleanly on SIGTERM",
            service.name()
        );
        topology
            .restart(service, 1)
            .await
            .unwrap_or_else(|e| panic!("{} restarts: {e}", service.name()));
    }
    writing.cancel();
    let written = writer.await.expect("writer");
    assert!(written > 0);
    let rolled = count_persons(&mut registry).await;
    assert_eq!(
        rolled,
        persons + written,
        "every registration kept, none twice"
    );
    topology.stop().await;
}
