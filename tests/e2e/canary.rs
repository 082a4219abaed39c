//! No personal data in logs, spans or metrics. The topology runs as separate processes logging
//! at debug level, once with JSON and once with text logs, exporting every span to a
//! collector in this test. An exchange is played whose people, mothers and officers' notes
//! carry canary values (`homeward_story::cast::Canary`), a few more calls go through search,
//! matching, status changes and requests that fail validation, and then every log file, every
//! span (name, status, attributes, events, links) and every metrics scrape is searched for the
//! canaries in every form the services could write them: as sent, in any case, transliterated
//! with every table, folded, normalised, escaped, and birth dates in any order of their parts.
//!
//! The same search is shown to find the canaries where they belong (the registry's answers,
//! the families' letters), so a clean result means the planting worked and nothing leaked.

use std::{
    collections::BTreeMap,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use homeward_identity::{
    ReverseTable, Table, fold_name, fold_token, normalize, to_cyrillic, to_latin,
};
use homeward_kit::db::testing::fresh_postgres_database;
use homeward_proto::{
    common::v1::{self as common, PartialDate, PersonName, Script},
    exchange::v1 as ex,
    notification::v1 as nt,
    registry::v1 as reg,
};
use homeward_story::{Plan, Services, cast::Canary, play};
use homeward_topology::{Databases, Service, Spec, Topology};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::{AnyValue, KeyValue, any_value::Value},
};
use tonic::Code;

/// An OTLP trace receiver that keeps every export request whole.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<ExportTraceServiceRequest>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0
            .lock()
            .expect("collector lock")
            .push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Collector {
    async fn start(&self) -> std::net::SocketAddr {
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

    /// Every span as text, one line per name, status, attribute, event and link, each line
    /// saying whose it is; with the numbers of spans, attributes and events.
    fn render(&self) -> (String, Counts) {
        let mut out = String::new();
        let mut counts = Counts::default();
        for request in self.0.lock().expect("collector lock").iter() {
            for resource_spans in &request.resource_spans {
                let resource: Vec<KeyValue> = resource_spans
                    .resource
                    .as_ref()
                    .map(|r| r.attributes.clone())
                    .unwrap_or_default();
                let service = resource
                    .iter()
                    .find(|kv| kv.key == "service.name")
                    .map(|kv| shown(kv.value.as_ref()))
                    .unwrap_or_default();
                attributes(
                    &mut out,
                    &mut counts,
                    &format!("{service} resource"),
                    &resource,
                );
                for scope_spans in &resource_spans.scope_spans {
                    if let Some(scope) = &scope_spans.scope {
                        let at = format!("{service} scope {}", scope.name);
                        out.push_str(&format!("{at} version {}\n", scope.version));
                        attributes(&mut out, &mut counts, &at, &scope.attributes);
                    }
                    for span in &scope_spans.spans {
                        counts.spans += 1;
                        let at = format!("{service} span {}", span.name);
                        out.push_str(&format!("{at} trace_state {}\n", span.trace_state));
                        if let Some(status) = &span.status {
                            out.push_str(&format!("{at} status {}\n", status.message));
                        }
                        attributes(&mut out, &mut counts, &at, &span.attributes);
                        for event in &span.events {
                            counts.events += 1;
                            let at = format!("{at} event {}", event.name);
                            out.push_str(&format!("{at}\n"));
                            attributes(&mut out, &mut counts, &at, &event.attributes);
                        }
                        for link in &span.links {
                            out.push_str(&format!("{at} link trace_state {}\n", link.trace_state));
                            attributes(
                                &mut out,
                                &mut counts,
                                &format!("{at} link"),
                                &link.attributes,
                            );
                        }
                    }
                }
            }
        }
        (out, counts)
    }
}

fn attributes(out: &mut String, counts: &mut Counts, at: &str, attributes: &[KeyValue]) {
    for kv in attributes {
        counts.attributes += 1;
        out.push_str(&format!(
            "{at} attribute {}={}\n",
            kv.key,
            shown(kv.value.as_ref())
        ));
    }
}

/// An attribute value as text: strings as they are, bytes both as text and as hex.
fn shown(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BytesValue(b)) => format!("{} {}", String::from_utf8_lossy(b), hex(b)),
        Some(other) => format!("{other:?}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    spans: usize,
    attributes: usize,
    events: usize,
}

/// A form in which a canary value could be written, lower-cased, and what it is.
#[derive(Debug, Clone)]
struct Needle {
    text: String,
    what: String,
}

/// Everything searched for.
struct Needles {
    texts: Vec<Needle>,
    /// Canary birth dates (year, month, day), found with their parts in any order.
    dates: Vec<(i64, i64, i64)>,
}

/// The spellings the services could give a value: as sent, transliterated with every table
/// both ways, normalised, folded, reduced to letters and digits.
fn spellings(value: &str) -> Vec<(String, String)> {
    let mut out = vec![(value.to_string(), "as planted".to_string())];
    for table in Table::ALL {
        out.push((to_latin(value, table), format!("to_latin {}", table.id())));
    }
    for (table, id) in [
        (ReverseTable::UkrainianNational, "uk"),
        (ReverseTable::RussianIcao, "ru"),
    ] {
        out.push((to_cyrillic(value, table), format!("to_cyrillic {id}")));
    }
    out.push((normalize(value).into_string(), "normalized".into()));
    out.push((fold_token(value), "fold key".into()));
    for key in fold_name(value) {
        out.push((key, "fold key of a token".into()));
    }
    out.push((
        value.chars().filter(|c| c.is_alphanumeric()).collect(),
        "letters and digits only".into(),
    ));
    out
}

/// How bytes of `text` look when a log writes them escaped: `\xd0\x9a` (Rust's `Bytes`),
/// `\u041a` (JSON), `%D0%9A` (URLs), `208, 154` (a byte list), `d09a` (hex).
fn encodings(text: &str) -> Vec<(String, String)> {
    let bytes = text.as_bytes();
    let mut out = vec![
        (
            bytes
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            "byte list".to_string(),
        ),
        (hex(bytes), "hex".into()),
    ];
    if !text.is_ascii() {
        out.push((
            bytes
                .iter()
                .map(|b| {
                    if b.is_ascii() {
                        (*b as char).to_string()
                    } else {
                        format!("\\x{b:02x}")
                    }
                })
                .collect(),
            "byte escapes".into(),
        ));
        out.push((
            text.chars()
                .map(|c| {
                    if c.is_ascii() {
                        c.to_string()
                    } else {
                        format!("\\u{:04x}", c as u32)
                    }
                })
                .collect(),
            "unicode escapes".into(),
        ));
        out.push((
            bytes
                .iter()
                .map(|b| {
                    if b.is_ascii_alphanumeric() {
                        (*b as char).to_string()
                    } else {
                        format!("%{b:02x}")
                    }
                })
                .collect(),
            "percent-encoded".into(),
        ));
    }
    out
}

/// Canary numbers: the story's people (two parties and the absent son) and the extra calls.
fn canaries(plan: &Plan) -> Vec<Canary> {
    (1..=2 * plan.per_party as u32 + 1)
        .chain(EXTRA)
        .map(Canary)
        .collect()
}

/// Canaries of the calls this test makes beyond the story.
const EXTRA: std::ops::RangeInclusive<u32> = 900..=903;

/// The phone as this test sends it where it must be refused: spaced, not E.164.
fn spaced_phone(canary: Canary) -> String {
    let phone = canary.phone();
    format!(
        "{} {} {} {}",
        &phone[..4],
        &phone[4..6],
        &phone[6..9],
        &phone[9..]
    )
}

/// Dates as the registry refuses them: a day February never has.
const INVALID_BIRTH: (i32, i32, i32) = (Canary::BIRTH_YEAR, 2, 30);

fn needles(plan: &Plan) -> Needles {
    // The marks' letters alone ("КАНАРЕЙКА", "CANARY") catch every value that starts with
    // them, whatever number follows; each value's own forms are kept only when they do not
    // contain one of these (a fold or transliteration of a whole value can differ).
    let mut roots: Vec<Needle> = Vec::new();
    for mark in Canary::MARKS {
        let letters: String = mark.chars().take_while(|c| c.is_alphabetic()).collect();
        for (spelling, how) in spellings(&letters) {
            for (variant, case) in [
                (spelling.clone(), ""),
                (spelling.to_lowercase(), " lower-cased"),
                (spelling.to_uppercase(), " upper-cased"),
            ] {
                for (encoded, encoding) in encodings(&variant) {
                    roots.push(Needle {
                        text: encoded,
                        what: format!("{letters} {how}{case}, {encoding}"),
                    });
                }
                roots.push(Needle {
                    text: variant,
                    what: format!("{letters} {how}{case}"),
                });
            }
        }
    }
    let mut values: Vec<(String, String)> = Vec::new();
    for canary in canaries(plan) {
        let n = canary.0;
        for (value, what) in [
            (canary.family(), "family name"),
            (canary.given(), "given name"),
            (canary.patronymic(), "patronymic"),
            (canary.service_number(), "service number"),
            (canary.unit(), "unit"),
            (canary.mother(), "mother's name"),
            (canary.email(), "email"),
            (canary.text("").trim().to_string(), "free text"),
        ] {
            for (spelling, how) in spellings(&value) {
                values.push((spelling, format!("canary {n} {what}, {how}")));
            }
        }
        let local = canary
            .email()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_string();
        values.push((local, format!("canary {n} email local part")));
        let phone = canary.phone();
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        for (form, how) in [
            (phone.clone(), "E.164"),
            (digits.clone(), "digits"),
            (format!("0{}", &digits[3..]), "national"),
            (spaced_phone(canary), "spaced"),
            (
                format!("0{} {} {}", &digits[3..5], &digits[5..8], &digits[8..]),
                "national spaced",
            ),
        ] {
            values.push((form, format!("canary {n} phone, {how}")));
        }
    }
    let mut texts: Vec<Needle> = roots
        .into_iter()
        .map(|n| Needle {
            text: n.text.to_lowercase(),
            what: n.what,
        })
        .filter(|n| n.text.chars().count() >= 5)
        .collect();
    texts.sort_by(|a, b| a.text.cmp(&b.text));
    texts.dedup_by(|a, b| a.text == b.text);
    let covered = |text: &str, roots: &[Needle]| roots.iter().any(|r| text.contains(&r.text));
    let mut own: Vec<Needle> = values
        .into_iter()
        .map(|(text, what)| Needle {
            text: text.to_lowercase(),
            what,
        })
        .filter(|n| n.text.chars().count() >= 6 && !covered(&n.text, &texts))
        .collect();
    own.sort_by(|a, b| a.text.cmp(&b.text));
    own.dedup_by(|a, b| a.text == b.text);
    texts.extend(own);
    let mut dates: Vec<(i64, i64, i64)> = canaries(plan)
        .into_iter()
        .flat_map(|c| {
            let (y, m, d) = c.birth();
            // The story's substituted offer entry moves a birth year by nine.
            [(y, m, d), (y + 9, m, d)]
        })
        .chain([INVALID_BIRTH])
        .map(|(y, m, d)| (i64::from(y), i64::from(m), i64::from(d)))
        .collect();
    dates.sort();
    dates.dedup();
    Needles { texts, dates }
}

/// A canary found somewhere.
#[derive(Debug)]
struct Hit {
    source: String,
    line: usize,
    what: String,
    excerpt: String,
}

/// Removes terminal colour sequences, which text logs put around field names and levels.
fn without_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The runs of digits of `line` that could be parts of a date, with where they are.
fn numbers(line: &str) -> Vec<(i64, usize, usize)> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i - start <= 4 {
                out.push((line[start..i].parse().unwrap_or(-1), start, i));
            } else {
                // A compact date (19470305, 05031947) or a longer number that is none.
                out.push((-1, start, i));
            }
        } else {
            i += 1;
        }
    }
    out
}

/// A canary birth date in `line`: its three parts, in any order, at most 16 characters apart
/// (`1947-03-05`, `5.3.1947`, `year: 1947, month: Some(3), day: Some(5)`), or compact.
fn date_in(line: &str, dates: &[(i64, i64, i64)]) -> Option<String> {
    for (y, m, d) in dates {
        for compact in [format!("{y}{m:02}{d:02}"), format!("{d:02}{m:02}{y}")] {
            if line.contains(&compact) {
                return Some(format!("birth date {y}-{m:02}-{d:02}, compact"));
            }
        }
    }
    let numbers = numbers(line);
    for w in numbers.windows(3) {
        let close = w[1].1 - w[0].2 <= 16 && w[2].1 - w[1].2 <= 16;
        if !close {
            continue;
        }
        let parts = (w[0].0, w[1].0, w[2].0);
        for &(y, m, d) in dates {
            if parts == (y, m, d) || parts == (d, m, y) || parts == (m, d, y) {
                return Some(format!("birth date {y}-{m:02}-{d:02}"));
            }
        }
    }
    None
}

/// The canary year standing alone: reported for a person to look at, not failed on, as a
/// duration or a size can be 1947 too.
fn lone_years(text: &str) -> usize {
    let years = [Canary::BIRTH_YEAR as i64, Canary::BIRTH_YEAR as i64 + 9];
    numbers(text)
        .iter()
        .filter(|(n, _, _)| years.contains(n))
        .count()
}

fn scan(source: &str, text: &str, needles: &Needles) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let lower = without_ansi(line).to_lowercase();
        let excerpt = |at: usize| {
            let start = lower.floor_char_boundary(at.saturating_sub(160));
            let end = lower.ceil_char_boundary((at + 160).min(lower.len()));
            lower[start..end].to_string()
        };
        for needle in &needles.texts {
            if let Some(at) = lower.find(&needle.text) {
                hits.push(Hit {
                    source: source.to_string(),
                    line: i + 1,
                    what: needle.what.clone(),
                    excerpt: excerpt(at),
                });
            }
        }
        if let Some(what) = date_in(&lower, &needles.dates) {
            hits.push(Hit {
                source: source.to_string(),
                line: i + 1,
                what,
                excerpt: excerpt(0),
            });
        }
    }
    hits
}

/// What one run searched, per kind of output.
#[derive(Debug, Default)]
struct Searched {
    log_files: usize,
    log_bytes: usize,
    log_lines: usize,
    spans: usize,
    span_attributes: usize,
    span_events: usize,
    span_bytes: usize,
    scrapes: usize,
    series: usize,
    metric_bytes: usize,
    lone_years: usize,
}

fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn name(canary: Canary) -> PersonName {
    PersonName {
        script: Script::Cyrillic as i32,
        family: canary.family(),
        given: canary.given(),
        patronymic: canary.patronymic(),
        language: "uk".into(),
        ..Default::default()
    }
}

fn date((year, month, day): (i32, i32, i32)) -> PartialDate {
    PartialDate { year, month, day }
}

/// A person with every field a registrar can fill in carrying canary values.
fn full_person(canary: Canary, birth: (i32, i32, i32)) -> reg::Person {
    let (family, given) = (
        to_latin(&canary.family(), Table::UkrainianNational),
        to_latin(&canary.given(), Table::UkrainianNational),
    );
    reg::Person {
        category: common::PersonCategory::ServiceMember as i32,
        sex: common::Sex::Male as i32,
        names: vec![
            name(canary),
            PersonName {
                script: Script::Latin as i32,
                family,
                given,
                ..Default::default()
            },
        ],
        birth_date: Some(date(birth)),
        birth_place: canary.text("born in"),
        affiliated_party: "UA".into(),
        holding_party: "RU".into(),
        service_number: canary.service_number(),
        rank: canary.text("rank"),
        unit: canary.unit(),
        documents: vec![common::IdentityDocument {
            r#type: common::DocumentType::MilitaryId as i32,
            number: canary.service_number(),
            issuing_country: "UA".into(),
        }],
        capture: Some(reg::Capture {
            date: Some(date((2024, 3, 9))),
            place: canary.text("captured near"),
        }),
        detention_place: canary.text("held at"),
        ..Default::default()
    }
}

/// Calls beyond the story: a fully filled-in person, a status change with notes, a search and
/// a match by canary names, and requests that fail validation with canary values in them.
async fn more_calls(services: &Services, phase_id: &str) {
    let mut registry = services.registry.clone();
    let full = Canary(900);
    let person = registry
        .create_person(reg::CreatePersonRequest {
            request_id: rid(),
            person: Some(full_person(full, full.birth())),
            source: common::InformationSource::OwnReport as i32,
            reliability: common::Reliability::UsuallyReliable as i32,
        })
        .await
        .expect("a fully filled-in canary person is registered")
        .into_inner()
        .person
        .expect("person");
    registry
        .record_status_change(reg::RecordStatusChangeRequest {
            request_id: rid(),
            person_id: person.id.clone(),
            etag: person.etag.clone(),
            change: Some(reg::StatusChange {
                status: reg::PersonStatus::Hospitalised as i32,
                source: common::InformationSource::TracingAgency as i32,
                detention_place: full.text("hospital"),
                note: full.text("seen by the delegate"),
                ..Default::default()
            }),
        })
        .await
        .expect("a status change with canary notes is recorded");
    let matched = registry
        .match_persons(reg::MatchPersonsRequest {
            identities: vec![reg::CandidateIdentity {
                reference: "canary-2".into(),
                names: vec![PersonName {
                    script: Script::Latin as i32,
                    family: to_latin(&Canary(2).family(), Table::RussianIcao),
                    given: to_latin(&Canary(2).given(), Table::RussianIcao),
                    ..Default::default()
                }],
                birth_date: Some(date(Canary(2).birth())),
                unit: Canary(2).unit(),
                service_number: Canary(2).service_number(),
                ..Default::default()
            }],
            min_confidence: 0.0,
            max_candidates: 5,
        })
        .await
        .expect("a match by canary names");
    assert!(!matched.into_inner().matches.is_empty());

    // Refused: a canary person born on a day February never has.
    let refused = registry
        .create_person(reg::CreatePersonRequest {
            request_id: rid(),
            person: Some(full_person(Canary(901), INVALID_BIRTH)),
            source: common::InformationSource::OwnReport as i32,
            reliability: common::Reliability::UsuallyReliable as i32,
        })
        .await
        .expect_err("an impossible birth date is refused");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");

    // Refused: a canary mother whose email and phone are not addresses.
    let mother = Canary(902);
    let refused = services
        .office
        .as_ref()
        .expect("office")
        .first
        .clone()
        .create_inquiry(nt::CreateInquiryRequest {
            request_id: rid(),
            inquiry: Some(nt::Inquiry {
                requester: Some(nt::Requester {
                    names: vec![PersonName {
                        script: Script::Cyrillic as i32,
                        family: mother.family(),
                        given: mother.mother(),
                        ..Default::default()
                    }],
                    relationship: nt::Relationship::Parent as i32,
                    contacts: vec![
                        nt::ContactChannel {
                            channel: nt::Channel::Email as i32,
                            address: mother.email().replace('@', " at "),
                            preferred: true,
                            ..Default::default()
                        },
                        nt::ContactChannel {
                            channel: nt::Channel::Sms as i32,
                            address: spaced_phone(mother),
                            ..Default::default()
                        },
                    ],
                    preferred_language: "uk".into(),
                    ..Default::default()
                }),
                sought_person: Some(nt::SoughtPerson {
                    names: vec![name(mother)],
                    birth_date: Some(date(mother.birth())),
                    unit: mother.unit(),
                    circumstances: mother.text("circumstances"),
                    ..Default::default()
                }),
                intake_channel: nt::IntakeChannel::InPerson as i32,
                office: "Kyiv".into(),
                ..Default::default()
            }),
        })
        .await
        .expect_err("contacts that are not addresses are refused");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");

    // Refused: a list for a phase already completed, with canary identities on it.
    let listed = Canary(903);
    let refused = services
        .exchange
        .clone()
        .submit_list(ex::SubmitListRequest {
            request_id: rid(),
            phase_id: phase_id.into(),
            party: "RU".into(),
            kind: ex::ListKind::Offer as i32,
            base_version: 2,
            entries: vec![ex::ListEntry {
                reference: "RU-O-CANARY".into(),
                subject: Some(ex::list_entry::Subject::Identity(ex::ListedIdentity {
                    names: vec![name(listed)],
                    birth_date: Some(date(listed.birth())),
                    unit: listed.unit(),
                    service_number: listed.service_number(),
                    original_text: listed.text("as the other side wrote him"),
                    ..Default::default()
                })),
                ..Default::default()
            }],
            note: listed.text("list note"),
            ..Default::default()
        })
        .await
        .expect_err("a list for a completed phase is refused");
    assert_ne!(refused.code(), Code::Ok);
}

async fn scrape(addr: std::net::SocketAddr) -> String {
    let response = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("metrics listener answers");
    assert_eq!(response.status(), 200);
    response.text().await.expect("metrics body")
}

/// Plays the story on a fresh topology logging in `format` and returns what it searched and
/// found, after checking that the canaries are where they belong.
async fn run(format: &str, plan: &Plan, needles: &Needles) -> (Searched, Vec<Hit>) {
    let collector = Collector::default();
    let otlp = collector.start().await;
    let databases = Databases {
        registry: fresh_postgres_database("canary_registry").await,
        exchange: fresh_postgres_database("canary_exchange").await,
        notification: fresh_postgres_database("canary_notification").await,
    };
    let run = tempfile::tempdir().expect("run folder");
    let mut spec = Spec::new(databases, run.path().to_path_buf()).expect("binaries");
    spec.registry_replicas = 1;
    spec.exchange_replicas = 1;
    spec.notification_replicas = 1;
    spec.env = vec![
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
            format!("http://{otlp}"),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY".into(), "200".into()),
        // Debug and above of every crate, the services' and their dependencies' (SQL
        // statements, HTTP/2 frames); trace finds nothing more and takes twenty times as long.
        ("RUST_LOG".into(), "debug".into()),
        ("HOMEWARD_TELEMETRY__LOG_FORMAT".into(), format.into()),
    ];
    let topology = Topology::start(spec)
        .await
        .unwrap_or_else(|e| panic!("the topology starts: {e}"));
    let services = Services::connect(
        &topology.urls(Service::Registry),
        &topology.urls(Service::Exchange),
    )
    .await
    .expect("clients")
    .with_office(&topology.urls(Service::Notification))
    .await
    .expect("office clients");
    let ending = play(&services, plan, |_| {})
        .await
        .unwrap_or_else(|e| panic!("the story plays with canaries: {e}"));
    more_calls(&services, &ending.phase.id).await;

    // The canaries are where they belong: the registry answers with them and the letters go
    // to the mothers' canary addresses. The same search finds them there.
    let first = ending.cases.first().expect("a family");
    let person = services
        .registry
        .clone()
        .get_person(reg::GetPersonRequest {
            id: first.family.person_id.clone(),
        })
        .await
        .expect("the son is in the registry")
        .into_inner()
        .person
        .expect("person");
    assert_eq!(person.names[0].family, Canary(1).family());
    assert_eq!(
        person.birth_date.as_ref().map(|d| (d.year, d.month, d.day)),
        Some(Canary(1).birth())
    );
    let answer = format!("{person:?}");
    let found = scan("GetPerson", &answer, needles);
    for mark in ["КАНАРЕЙКА", "ЩИГЛИК", "CANARY", "birth date"] {
        assert!(
            found.iter().any(|h| h.what.starts_with(mark)),
            "the search finds {mark} in the registry's answer: {found:#?}"
        );
    }
    let search = services
        .registry
        .clone()
        .search_persons(reg::SearchPersonsRequest {
            query: format!("{} {}", Canary(1).given(), Canary(1).family()),
            ..Default::default()
        })
        .await
        .expect("search by a canary name")
        .into_inner();
    assert!(
        search
            .results
            .iter()
            .any(|r| r.person.as_ref().map(|p| &p.id) == Some(&first.family.person_id)),
        "a search by the canary name finds him"
    );
    let letters_dir = topology
        .replica(Service::Notification, 0)
        .and_then(|r| r.letters.clone())
        .expect("letters folder");
    let mut letters = String::new();
    for entry in std::fs::read_dir(&letters_dir).expect("letters").flatten() {
        letters.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    let in_letters = scan("letters", &letters, needles);
    assert!(
        (1..=plan.families as u32).all(|n| letters.contains(&format!("To: {}", Canary(n).email()))),
        "every mother in the phase got a letter at her canary address"
    );
    assert!(
        !in_letters.is_empty(),
        "the search finds the canary addresses in the letters"
    );

    let mut searched = Searched::default();
    let mut hits = Vec::new();
    for replica in &topology.replicas {
        let text = scrape(replica.metrics).await;
        searched.scrapes += 1;
        searched.metric_bytes += text.len();
        searched.series += text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .count();
        searched.lone_years += lone_years(&text);
        hits.extend(scan(
            &format!("{format} /metrics of {}", replica.name()),
            &text,
            needles,
        ));
    }
    let logs: Vec<_> = topology.replicas.iter().map(|r| r.log.clone()).collect();
    // Stopped with SIGTERM: each service flushes its last spans before it exits.
    topology.stop().await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let log_dir = run.path().join("logs");
    let mut files: Vec<_> = std::fs::read_dir(&log_dir)
        .expect("logs folder")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(
        logs.iter().all(|l| files.contains(l)),
        "{logs:?} in {files:?}"
    );
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().ends_with("-migrate.log")),
        "the migration logs are searched too"
    );
    for file in &files {
        let text = read_lossy(file);
        searched.log_files += 1;
        searched.log_bytes += text.len();
        searched.log_lines += text.lines().count();
        searched.lone_years += lone_years(&text);
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        hits.extend(scan(&format!("{format} log {name}"), &text, needles));
    }
    let (spans, counts) = collector.render();
    assert!(counts.spans > 0, "spans were received");
    searched.spans = counts.spans;
    searched.span_attributes = counts.attributes;
    searched.span_events = counts.events;
    searched.span_bytes = spans.len();
    searched.lone_years += lone_years(&spans);
    hits.extend(scan(&format!("{format} spans"), &spans, needles));
    (searched, hits)
}

fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).expect("log file")).into_owned()
}

#[test]
fn the_search_finds_canaries_in_every_form_it_looks_for() {
    let plan = plan();
    let needles = needles(&plan);
    let c = Canary(5);
    let (y, m, d) = c.birth();
    let found = |line: &str| !scan("example", line, &needles).is_empty();
    for line in [
        format!("{{\"family\":\"{}\"}}", c.family()),
        c.family().to_lowercase(),
        to_latin(&c.family(), Table::UkrainianNational),
        to_latin(&c.given(), Table::RussianGostB).to_lowercase(),
        fold_name(&c.family()).join(" "),
        c.family()
            .bytes()
            .map(|b| format!("\\x{b:02x}"))
            .collect::<String>(),
        c.patronymic().to_lowercase(),
        c.email(),
        c.phone(),
        c.phone().trim_start_matches('+').to_string(),
        format!("born {y}-{m:02}-{d:02}"),
        format!("born {d}.{m}.{y}"),
        format!("PartialDate {{ year: {y}, month: Some({m}), day: Some({d}) }}"),
        format!("\u{1b}[3mname\u{1b}[0m\u{1b}[2m=\u{1b}[0m{}", c.given()),
    ] {
        assert!(found(&line), "not found: {line}");
    }
    for line in [
        "INFO grpc.request{rpc.method=/homeward.registry.v1.RegistryService/CreatePerson}",
        "person_id=5f0b1947-1a2b-4c3d-8e9f-0123456789ab elapsed_ms=1947",
        "{\"timestamp\":\"2025-05-23T10:11:12.194703Z\",\"level\":\"DEBUG\"}",
    ] {
        assert!(!found(line), "found in a clean line: {line}");
    }
}

fn plan() -> Plan {
    Plan {
        per_party: 20,
        civilians: 6,
        women: 2,
        families: 3,
        canaries: true,
        ..Plan::may_2025()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_data_reaches_logs_spans_or_metrics() {
    let started = Instant::now();
    let plan = plan();
    let needles = needles(&plan);
    let mut all_hits = Vec::new();
    let mut totals = Searched::default();
    for format in ["json", "text"] {
        let (searched, hits) = run(format, &plan, &needles).await;
        println!("{format} logs: searched {searched:?}");
        totals.log_files += searched.log_files;
        totals.log_bytes += searched.log_bytes;
        totals.log_lines += searched.log_lines;
        totals.spans += searched.spans;
        totals.span_attributes += searched.span_attributes;
        totals.span_events += searched.span_events;
        totals.span_bytes += searched.span_bytes;
        totals.scrapes += searched.scrapes;
        totals.series += searched.series;
        totals.metric_bytes += searched.metric_bytes;
        totals.lone_years += searched.lone_years;
        all_hits.extend(hits);
    }
    println!(
        "searched for {} forms of canary values and {} birth dates: {} log files ({} bytes, {} lines), \
         {} spans ({} attributes, {} events, {} bytes as text), {} metrics scrapes ({} series, \
         {} bytes); the canary birth years stood alone {} times; {:.1} s",
        needles.texts.len(),
        needles.dates.len(),
        totals.log_files,
        totals.log_bytes,
        totals.log_lines,
        totals.spans,
        totals.span_attributes,
        totals.span_events,
        totals.span_bytes,
        totals.scrapes,
        totals.series,
        totals.metric_bytes,
        totals.lone_years,
        started.elapsed().as_secs_f64()
    );
    let mut by_place: BTreeMap<(String, String), usize> = BTreeMap::new();
    for hit in &all_hits {
        *by_place
            .entry((hit.source.clone(), hit.what.clone()))
            .or_default() += 1;
    }
    let report: Vec<String> = all_hits
        .iter()
        .take(40)
        .map(|h| {
            format!(
                "{} line {}: {}\n    {}",
                h.source, h.line, h.what, h.excerpt
            )
        })
        .collect();
    assert!(
        all_hits.is_empty(),
        "personal data found ({} hits) by place: {by_place:#?}\nfirst hits:\n{}",
        all_hits.len(),
        report.join("\n")
    );
}
