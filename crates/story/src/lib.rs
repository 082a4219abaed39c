//! The exchange story, played through the registry's and the exchange service's gRPC contracts,
//! exactly as officers' tools would: people registered, an agreement and its first phase, each
//! party's request and offer lists, a substitution caught by reconciliation and amended, the
//! freeze, interviews (some refuse to go home), the handover (someone does not appear), and the
//! completion. `make demo` narrates it; the exchange benchmark times it.
//!
//! Nothing here reaches into a service: only requests and answers.

#![forbid(unsafe_code)]

/// Calls `$client.$method($request)`, and calls again with the same request — the same request
/// id, so a change is never made twice — while the service is unreachable (a replica stopped
/// or restarting), as an officer's tool would.
macro_rules! call {
    ($client:expr, $method:ident, $request:expr) => {{
        let request = $request;
        $crate::persist(|| {
            let mut client = $client.clone();
            let request = request.clone();
            async move { client.$method(request).await }
        })
        .await
    }};
}

pub mod cast;
pub mod families;

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use homeward_kit::auth::{AuthConfig, Role, TokenKeys};
use homeward_proto::{
    common::v1::{self as common, PartialDate, PersonName, Script},
    exchange::v1::{
        self as ex, exchange_service_client::ExchangeServiceClient, list_entry::Subject,
    },
    registry::v1::{self as reg, registry_service_client::RegistryServiceClient},
};
use tonic::{
    Request, Status,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

pub use cast::{Detainee, Party, Rng, cast};

#[derive(Debug, thiserror::Error)]
pub enum StoryError {
    #[error("{step}: {status}")]
    Rpc {
        step: &'static str,
        status: Box<Status>,
    },
    #[error("cannot connect to {0}: {1}")]
    Connect(String, String),
    #[error("{0}")]
    Unexpected(String),
}

pub(crate) type Result<T> = std::result::Result<T, StoryError>;

pub(crate) fn at(step: &'static str) -> impl FnOnce(Status) -> StoryError {
    move |status| StoryError::Rpc {
        step,
        status: Box::new(status),
    }
}

/// How long a call is tried again while its service is unreachable.
const PERSIST: Duration = Duration::from_secs(60);

/// Runs `call` until it succeeds, fails for a reason other than the service being unreachable,
/// or `PERSIST` has passed.
pub async fn persist<T, F, Fut>(mut call: F) -> std::result::Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, Status>>,
{
    let deadline = Instant::now() + PERSIST;
    let mut pause = Duration::from_millis(50);
    loop {
        match call().await {
            Err(status) if unreachable(&status) && Instant::now() < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            outcome => return outcome,
        }
    }
}

/// The service did not answer: the connection broke or was refused, or the request was cut
/// off by a stopping server.
fn unreachable(status: &Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Cancelled | tonic::Code::Unknown
    )
}

/// Adds the bearer token to every request.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> std::result::Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

pub type Registry = RegistryServiceClient<InterceptedService<Channel, Bearer>>;
pub type Exchange = ExchangeServiceClient<InterceptedService<Channel, Bearer>>;

/// Clients of both services, acting as an officer of the bureau.
#[derive(Clone)]
pub struct Services {
    pub registry: Registry,
    pub exchange: Exchange,
    /// The liaison office, when the notification service is part of the story.
    pub office: Option<families::Office>,
}

impl Services {
    /// Connects with a token signed by the development key (the services must run in dev
    /// mode, as `make run` does).
    pub async fn connect(registry_url: &str, exchange_url: &str) -> Result<Self> {
        let keys = TokenKeys::from_config(&AuthConfig {
            dev_mode: true,
            ..AuthConfig::default()
        })
        .map_err(|e| StoryError::Unexpected(e.to_string()))?;
        let token = keys
            .mint(
                "story-officer",
                &[Role::Registrar, Role::ExchangeOfficer, Role::Auditor],
                "UA",
                Duration::from_secs(3_600),
            )
            .map_err(|e| StoryError::Unexpected(e.to_string()))?;
        let bearer = Bearer(
            format!("Bearer {token}")
                .parse()
                .map_err(|_| StoryError::Unexpected("token".into()))?,
        );
        let channel = |url: &str| -> Result<Channel> {
            homeward_kit::client::channel(url)
                .map_err(|e| StoryError::Connect(url.into(), e.to_string()))
        };
        Ok(Self {
            office: None,
            registry: RegistryServiceClient::with_interceptor(
                channel(registry_url)?,
                bearer.clone(),
            )
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20),
            exchange: ExchangeServiceClient::with_interceptor(channel(exchange_url)?, bearer)
                .max_decoding_message_size(64 << 20)
                .max_encoding_message_size(64 << 20),
        })
    }
}

impl Services {
    /// Also connects to the notification service, as two liaison officers.
    pub async fn with_office(mut self, notification_url: &str) -> Result<Self> {
        let keys = TokenKeys::from_config(&AuthConfig {
            dev_mode: true,
            ..AuthConfig::default()
        })
        .map_err(|e| StoryError::Unexpected(e.to_string()))?;
        let channel = homeward_kit::client::channel(notification_url)
            .map_err(|e| StoryError::Connect(notification_url.into(), e.to_string()))?;
        let officer = |subject: &str| -> Result<families::Notification> {
            let token = keys
                .mint(
                    subject,
                    &[Role::FamilyLiaison, Role::Auditor],
                    "UA",
                    Duration::from_secs(3_600),
                )
                .map_err(|e| StoryError::Unexpected(e.to_string()))?;
            let bearer = Bearer(
                format!("Bearer {token}")
                    .parse()
                    .map_err(|_| StoryError::Unexpected("token".into()))?,
            );
            Ok(homeward_proto::notification::v1::notification_service_client::NotificationServiceClient::with_interceptor(channel.clone(), bearer))
        };
        self.office = Some(families::Office {
            first: officer("liaison-officer-1")?,
            second: officer("liaison-officer-2")?,
        });
        Ok(self)
    }
}

pub(crate) fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// What the story contains.
#[derive(Debug, Clone)]
pub struct Plan {
    pub seed: u64,
    /// The agreement's total per party.
    pub agreement_total: u32,
    /// People per party in this phase, of whom `civilians` are civilians and `women` women.
    pub per_party: usize,
    pub civilians: usize,
    pub women: usize,
    /// One RU offer entry names a namesake of the requested person, caught and amended.
    pub substitution: bool,
    /// RU soldiers held by UA who refuse to go home at their interview.
    pub refusals: usize,
    /// UA people RU does not bring to the handover.
    pub missing: usize,
    /// Requests in flight at once for per-person calls.
    pub concurrency: usize,
    /// Mothers asking about sons who are in the phase (the first `families` people RU hands
    /// over), when the notification service is part of the story.
    pub families: usize,
    /// One more mother, asking about a son who is held but not in this phase.
    pub absent_family: bool,
    /// Canary values (`cast::Canary`) in place of every generated personal datum, for tests
    /// that search the services' logs, spans and metrics for personal data.
    pub canaries: bool,
}

impl Plan {
    /// May 2025: 1,000 for 1,000 agreed, a first phase of 390 for 390 (270 soldiers and 120
    /// civilians, three women among them), two refusals, one substitution, one who did not
    /// appear.
    pub fn may_2025() -> Self {
        Self {
            seed: 20_250_523,
            agreement_total: 1000,
            per_party: 390,
            civilians: 120,
            women: 3,
            substitution: true,
            refusals: 2,
            missing: 1,
            concurrency: 8,
            families: 1,
            absent_family: true,
            canaries: false,
        }
    }
}

/// How long each part took.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub register: Duration,
    /// From the first list submitted to the lists frozen (reviews and amendments included).
    pub lists_to_frozen: Duration,
    pub submit: Duration,
    pub reconcile: Duration,
    pub freeze: Duration,
    pub interviews_and_checks: Duration,
    /// CompletePhase: the registry marks, releases and records before it answers.
    pub complete: Duration,
    /// Reading every person back to confirm the registry's statuses.
    pub confirm: Duration,
    /// From the completion to the last family's channel accepting the news.
    pub families_notified: Option<Duration>,
}

/// How the story ended.
#[derive(Debug, Clone)]
pub struct Ending {
    pub phase: ex::Phase,
    pub report: ex::PhaseReport,
    pub first_reconciliation: ex::ReconciliationSummary,
    pub final_reconciliation: ex::ReconciliationSummary,
    pub caught: Option<ex::ReconciliationItem>,
    /// Registry statuses of everyone on the frozen lists, counted.
    pub statuses: Vec<(reg::PersonStatus, usize)>,
    pub timings: Timings,
    /// What each family was told.
    pub cases: Vec<families::Case>,
}

fn registered(d: &Detainee) -> reg::Person {
    reg::Person {
        category: if d.civilian {
            common::PersonCategory::Civilian
        } else {
            common::PersonCategory::ServiceMember
        } as i32,
        sex: if d.female {
            common::Sex::Female
        } else {
            common::Sex::Male
        } as i32,
        names: vec![PersonName {
            script: Script::Cyrillic as i32,
            family: d.family.clone(),
            given: d.given.clone(),
            patronymic: d.patronymic.clone(),
            language: if d.party == Party::Ua { "uk" } else { "ru" }.into(),
            ..Default::default()
        }],
        birth_date: Some(PartialDate {
            year: d.birth.0,
            month: d.birth.1,
            day: d.birth.2,
        }),
        affiliated_party: d.party.code().into(),
        holding_party: d.party.other().code().into(),
        service_number: d.service_number.clone(),
        ..Default::default()
    }
}

/// The person as the other party writes them: Latin letters, no patronymic, no service
/// number; every tenth in Cyrillic without a patronymic.
fn as_the_other_side_writes(d: &Detainee, i: usize, birth: (i32, i32, i32)) -> ex::ListedIdentity {
    let (family, given, script) = if i.is_multiple_of(10) {
        (d.family.clone(), d.given.clone(), Script::Cyrillic)
    } else {
        let (f, g) = d.latin();
        (f, g, Script::Latin)
    };
    ex::ListedIdentity {
        names: vec![PersonName {
            script: script as i32,
            family,
            given,
            ..Default::default()
        }],
        birth_date: Some(PartialDate {
            year: birth.0,
            month: birth.1,
            day: birth.2,
        }),
        sex: if d.female {
            common::Sex::Female
        } else {
            common::Sex::Male
        } as i32,
        category: if d.civilian {
            common::PersonCategory::Civilian
        } else {
            common::PersonCategory::ServiceMember
        } as i32,
        original_text: format!(
            "{} {} {}.{}.{}",
            d.family, d.given, birth.2, birth.1, birth.0
        ),
        ..Default::default()
    }
}

/// The person as their own party writes them: as registered, service number included.
fn as_their_own_side_writes(d: &Detainee) -> ex::ListedIdentity {
    let p = registered(d);
    ex::ListedIdentity {
        names: p.names,
        birth_date: p.birth_date,
        sex: p.sex,
        category: p.category,
        service_number: d.service_number.clone(),
        ..Default::default()
    }
}

/// Registers everyone, `concurrency` at a time; returns their registry ids in order.
pub async fn register(
    services: &Services,
    people: &[Detainee],
    concurrency: usize,
) -> Result<Vec<String>> {
    stream::iter(people.iter().map(|d| {
        let registry = services.registry.clone();
        let person = registered(d);
        async move {
            call!(
                registry,
                create_person,
                reg::CreatePersonRequest {
                    request_id: rid(),
                    person: Some(person),
                    source: common::InformationSource::OwnReport as i32,
                    reliability: common::Reliability::UsuallyReliable as i32,
                }
            )
            .map(|r| r.into_inner().person.map(|p| p.id).unwrap_or_default())
            .map_err(at("register a person"))
        }
    }))
    .buffered(concurrency.max(1))
    .try_collect()
    .await
}

fn quota(
    count: u32,
    category: Option<common::PersonCategory>,
    sex: Option<common::Sex>,
) -> ex::Quota {
    ex::Quota {
        count,
        category: category.map(|c| c as i32).unwrap_or(0),
        sex: sex.map(|s| s as i32).unwrap_or(0),
        ..Default::default()
    }
}

fn entry(reference: String, subject: Subject) -> ex::ListEntry {
    ex::ListEntry {
        reference,
        subject: Some(subject),
        ..Default::default()
    }
}

fn offer_key(party: &str, reference: &str) -> ex::ListEntryKey {
    ex::ListEntryKey {
        party: party.into(),
        kind: ex::ListKind::Offer as i32,
        reference: reference.into(),
    }
}

/// Plays one phase from registration to completion. `say` receives the narration.
pub async fn play(services: &Services, plan: &Plan, mut say: impl FnMut(String)) -> Result<Ending> {
    let mut timings = Timings::default();
    let mut rng = Rng::new(plan.seed);
    let n = plan.per_party;
    let ua = cast::planted(
        cast(&mut rng, Party::Ua, n, plan.civilians, plan.women),
        plan.canaries,
        0,
    );
    let ru = cast::planted(
        cast(&mut rng, Party::Ru, n, plan.civilians, plan.women),
        plan.canaries,
        n,
    );
    let mut exchange = services.exchange.clone();
    let registry = services.registry.clone();

    let started = Instant::now();
    let ua_ids = register(services, &ua, plan.concurrency).await?;
    let ru_ids = register(services, &ru, plan.concurrency).await?;
    timings.register = started.elapsed();
    // Soldiers, not the women among the civilians, so the story's figures stay readable.
    let missing: Vec<usize> = (0..plan.missing)
        .map(|k| 11 + k * 5)
        .filter(|i| *i < n - plan.civilians)
        .collect();
    let mut asked = Vec::new();
    if let Some(office) = &services.office {
        let sons: Vec<(usize, &Detainee, &String)> = ua
            .iter()
            .zip(&ua_ids)
            .enumerate()
            .take(plan.families)
            .map(|(i, (d, id))| (i, d, id))
            .collect();
        asked = stream::iter(sons.into_iter().map(|(i, d, id)| {
            let office = office.clone();
            let in_phase = !missing.contains(&i);
            async move { families::ask(&office, d, id, in_phase, i).await }
        }))
        .buffered(plan.concurrency.max(1))
        .try_collect()
        .await?;
        if plan.absent_family {
            let son = cast::planted(
                cast(&mut Rng::new(plan.seed ^ 0xABCD), Party::Ua, 1, 0, 0),
                plan.canaries,
                2 * n,
            )
            .remove(0);
            let id = register(services, std::slice::from_ref(&son), 1)
                .await?
                .remove(0);
            asked.push(families::ask(office, &son, &id, false, 9_999).await?);
        }
        say(format!(
            "{} mothers' inquiries recorded, verified and linked to their sons by two officers",
            asked.len()
        ));
    }
    say(format!(
        "registered {n} Ukrainians held by Russia and {n} Russians held by Ukraine ({} civilians, {} women on each side) in {:.1} s",
        plan.civilians,
        plan.women,
        timings.register.as_secs_f64()
    ));

    let soldiers = (n - plan.civilians) as u32;
    let agreement = call!(
        exchange,
        create_agreement,
        ex::CreateAgreementRequest {
            request_id: rid(),
            agreement: Some(ex::Agreement {
                title: format!("{} for {}", plan.agreement_total, plan.agreement_total),
                parties: vec!["UA".into(), "RU".into()],
                mediators: vec!["TR".into()],
                agreement_date: Some(PartialDate {
                    year: 2025,
                    month: 5,
                    day: 16,
                }),
                place: "Istanbul".into(),
                quotas: vec![quota(plan.agreement_total, None, None)],
                one_for_one: true,
                ..Default::default()
            }),
        }
    )
    .map_err(at("create the agreement"))?
    .into_inner()
    .agreement
    .ok_or_else(|| StoryError::Unexpected("no agreement".into()))?;
    let mut quotas = vec![
        quota(n as u32, None, None),
        quota(soldiers, Some(common::PersonCategory::ServiceMember), None),
        quota(
            plan.civilians as u32,
            Some(common::PersonCategory::Civilian),
            None,
        ),
    ];
    if plan.women > 0 {
        quotas.push(quota(plan.women as u32, None, Some(common::Sex::Female)));
    }
    let phase = call!(
        exchange,
        create_phase,
        ex::CreatePhaseRequest {
            request_id: rid(),
            phase: Some(ex::Phase {
                agreement_id: agreement.id.clone(),
                title: "phase one".into(),
                place: "Ukrainian-Belarusian border".into(),
                planned_time: Some(prost_types::Timestamp {
                    seconds: 1_748_000_000,
                    nanos: 0,
                }),
                quotas,
                ..Default::default()
            }),
        }
    )
    .map_err(at("create the phase"))?
    .into_inner()
    .phase
    .ok_or_else(|| StoryError::Unexpected("no phase".into()))?;
    let pid = phase.id.clone();
    call!(
        exchange,
        start_negotiation,
        ex::StartNegotiationRequest {
            request_id: rid(),
            phase_id: pid.clone(),
            etag: phase.etag,
        }
    )
    .map_err(at("start negotiating"))?;
    say(format!(
        "agreement {} (1,000 for 1,000, one for one); phase {} of {n} for {n}: {soldiers} service members and {} civilians each, {} women",
        agreement.id, pid, plan.civilians, plan.women
    ));

    // The lists. UA asks for its people by registry id; RU offers them as it writes them.
    let substitute = plan.substitution.then_some(1usize);
    let ru_offer = |with_substitute: bool| -> Vec<ex::ListEntry> {
        ua.iter()
            .enumerate()
            .map(|(i, d)| {
                let birth = if with_substitute && Some(i) == substitute {
                    (d.birth.0 + 9, d.birth.1, d.birth.2)
                } else {
                    d.birth
                };
                entry(
                    format!("RU-O-{i:04}"),
                    Subject::Identity(as_the_other_side_writes(d, i, birth)),
                )
            })
            .collect()
    };
    let lists = [
        (
            "UA",
            ex::ListKind::Request,
            ua_ids
                .iter()
                .enumerate()
                .map(|(i, id)| entry(format!("UA-R-{i:04}"), Subject::PersonId(id.clone())))
                .collect::<Vec<_>>(),
        ),
        ("RU", ex::ListKind::Offer, ru_offer(plan.substitution)),
        (
            "RU",
            ex::ListKind::Request,
            ru.iter()
                .enumerate()
                .map(|(i, d)| {
                    entry(
                        format!("RU-R-{i:04}"),
                        Subject::Identity(as_their_own_side_writes(d)),
                    )
                })
                .collect(),
        ),
        (
            "UA",
            ex::ListKind::Offer,
            ru_ids
                .iter()
                .enumerate()
                .map(|(i, id)| entry(format!("UA-O-{i:04}"), Subject::PersonId(id.clone())))
                .collect(),
        ),
    ];
    let lists_started = Instant::now();
    for (party, kind, entries) in lists {
        submit(&mut exchange, &pid, party, kind, 0, entries).await?;
    }
    timings.submit = lists_started.elapsed();
    say(format!(
        "both parties' request and offer lists submitted ({} entries) in {:.2} s",
        4 * n,
        timings.submit.as_secs_f64()
    ));

    let reconcile_started = Instant::now();
    let mut reconciliation = reconcile(&mut exchange, &pid).await?;
    timings.reconcile = reconcile_started.elapsed();
    let first = reconciliation.summary.unwrap_or_default();
    say(format!(
        "reconciled in {:.2} s: {} paired, {} suspected substitutions, {} to review, {} unmatched requests, {} unmatched offers",
        timings.reconcile.as_secs_f64(),
        first.paired,
        first.suspected_substitutions,
        first.needs_review,
        first.unmatched_requests,
        first.unmatched_offers
    ));
    let mut caught = None;
    if first.open_reviews > 0 {
        let open = call!(
            exchange,
            list_reconciliation_items,
            ex::ListReconciliationItemsRequest {
                reconciliation_id: reconciliation.id.clone(),
                open_reviews_only: true,
                page_size: 1000,
                ..Default::default()
            }
        )
        .map_err(at("list items to review"))?
        .into_inner()
        .items;
        for item in &open {
            say(format!(
                "  review: request {} / offer {}: {}",
                item.request_reference,
                item.offer_reference,
                item.explanation.first().cloned().unwrap_or_default()
            ));
            call!(
                exchange,
                review_reconciliation_item,
                ex::ReviewReconciliationItemRequest {
                    request_id: rid(),
                    reconciliation_id: reconciliation.id.clone(),
                    item_id: item.id.clone(),
                    decision: ex::ReviewDecision::RejectPair as i32,
                    note: "not the person requested; the other side is asked to correct the entry"
                        .into(),
                    ..Default::default()
                }
            )
            .map_err(at("review an item"))?;
        }
        caught = open
            .into_iter()
            .find(|i| i.outcome == ex::ReconciliationOutcome::SuspectedSubstitution as i32);
        // RU corrects its offer; the lists are reconciled again.
        submit(
            &mut exchange,
            &pid,
            "RU",
            ex::ListKind::Offer,
            1,
            ru_offer(false),
        )
        .await?;
        say("RU amended its offer list (version 2); reconciling again".into());
        reconciliation = reconcile(&mut exchange, &pid).await?;
    }
    let last = reconciliation.summary.unwrap_or_default();
    if last.open_reviews > 0 {
        return Err(StoryError::Unexpected(format!(
            "{} items still to review: {last:?}",
            last.open_reviews
        )));
    }
    let counts = call!(
        exchange,
        check_phase_counts,
        ex::CheckPhaseCountsRequest {
            phase_id: pid.clone(),
        }
    )
    .map_err(at("check the counts"))?
    .into_inner()
    .counts
    .unwrap_or_default();
    say(format!(
        "counts {}: {}",
        if counts.balanced {
            "balance"
        } else {
            "do not balance"
        },
        counts
            .parties
            .iter()
            .map(|p| format!("{} hands over {}", p.handing_party, p.total))
            .collect::<Vec<_>>()
            .join(", ")
    ));

    let freeze_started = Instant::now();
    let current = get_phase(&mut exchange, &pid).await?;
    let frozen = call!(
        exchange,
        freeze_lists,
        ex::FreezeListsRequest {
            request_id: rid(),
            phase_id: pid.clone(),
            etag: current.etag,
            reconciliation_id: reconciliation.id.clone(),
            imbalance_reason: if counts.balanced {
                String::new()
            } else {
                counts.problems.join("; ")
            },
        }
    )
    .map_err(at("freeze the lists"))?
    .into_inner();
    timings.freeze = freeze_started.elapsed();
    timings.lists_to_frozen = lists_started.elapsed();
    say(format!(
        "lists frozen: {} people reserved in the registry; submission to frozen took {:.2} s (freeze alone {:.2} s)",
        frozen.reserved_person_ids.len(),
        timings.lists_to_frozen.as_secs_f64(),
        timings.freeze.as_secs_f64()
    ));

    // Interviews: everyone on both offer lists, some RU soldiers held by UA refuse.
    let checks_started = Instant::now();
    let refusing: Vec<usize> = (0..plan.refusals)
        .map(|k| k * 7 + 3)
        .filter(|i| *i < n - plan.civilians)
        .collect();
    let interviews = (0..n).flat_map(|i| {
        [
            ("UA", format!("UA-O-{i:04}"), !refusing.contains(&i)),
            ("RU", format!("RU-O-{i:04}"), true),
        ]
    });
    stream::iter(interviews.map(|(party, reference, willing)| {
        let exchange = exchange.clone();
        let pid = pid.clone();
        async move {
            call!(
                exchange,
                record_consent,
                ex::RecordConsentRequest {
                    request_id: rid(),
                    consent: Some(ex::ConsentRecord {
                        phase_id: pid,
                        entry: Some(offer_key(party, &reference)),
                        decision: if willing {
                            ex::ConsentDecision::Willing
                        } else {
                            ex::ConsentDecision::Refuses
                        } as i32,
                        interviewed_by: "ICRC delegate".into(),
                        interviewer_organisation: "ICRC".into(),
                        interviewed_in_private: true,
                        ..Default::default()
                    }),
                }
            )
            .map_err(at("record a consent"))
        }
    }))
    .buffer_unordered(plan.concurrency.max(1))
    .try_collect::<Vec<_>>()
    .await?;
    say(format!(
        "{} interviews recorded; {} refused to return",
        2 * n,
        refusing.len()
    ));

    let current = get_phase(&mut exchange, &pid).await?;
    call!(
        exchange,
        start_handover,
        ex::StartHandoverRequest {
            request_id: rid(),
            phase_id: pid.clone(),
            etag: current.etag,
        }
    )
    .map_err(at("start the handover"))?;
    let presented = (0..n).flat_map(|i| {
        let mut out = Vec::new();
        if !refusing.contains(&i) {
            out.push((
                "UA",
                format!("UA-O-{i:04}"),
                ex::HandoverCheckResult::Verified,
            ));
        }
        let result = if missing.contains(&i) {
            ex::HandoverCheckResult::Missing
        } else {
            ex::HandoverCheckResult::Verified
        };
        out.push(("RU", format!("RU-O-{i:04}"), result));
        out
    });
    stream::iter(presented.map(|(party, reference, result)| {
        let exchange = exchange.clone();
        let pid = pid.clone();
        async move {
            call!(
                exchange,
                record_handover_check,
                ex::RecordHandoverCheckRequest {
                    request_id: rid(),
                    check: Some(ex::HandoverCheck {
                        phase_id: pid,
                        handing_party: party.into(),
                        entry: Some(offer_key(party, &reference)),
                        result: result as i32,
                        methods: vec![
                            ex::IdentityCheckMethod::IdentityDocument as i32,
                            ex::IdentityCheckMethod::Interview as i32,
                        ],
                        checked_by: "receiving officer".into(),
                        ..Default::default()
                    }),
                }
            )
            .map_err(at("record a handover check"))
        }
    }))
    .buffer_unordered(plan.concurrency.max(1))
    .try_collect::<Vec<_>>()
    .await?;
    timings.interviews_and_checks = checks_started.elapsed();
    say(format!(
        "handover checks recorded; {} did not appear",
        missing.len()
    ));

    let current = get_phase(&mut exchange, &pid).await?;
    let complete_started = Instant::now();
    let done = call!(
        exchange,
        complete_phase,
        ex::CompletePhaseRequest {
            request_id: rid(),
            phase_id: pid.clone(),
            etag: current.etag,
            allow_partial: true,
            note: "handover at the border crossing".into(),
        }
    )
    .map_err(at("complete the phase"))?
    .into_inner()
    .phase
    .ok_or_else(|| StoryError::Unexpected("no phase".into()))?;
    timings.complete = complete_started.elapsed();

    let confirm_started = Instant::now();
    let everyone: Vec<String> = ua_ids.iter().chain(&ru_ids).cloned().collect();
    let mut statuses: Vec<(reg::PersonStatus, usize)> = Vec::new();
    for chunk in everyone.chunks(1000) {
        let persons = call!(
            registry,
            batch_get_persons,
            reg::BatchGetPersonsRequest {
                ids: chunk.to_vec(),
            }
        )
        .map_err(at("read the persons back"))?
        .into_inner()
        .persons;
        for p in persons {
            let status = reg::PersonStatus::try_from(p.status).unwrap_or_default();
            match statuses.iter_mut().find(|(s, _)| *s == status) {
                Some((_, count)) => *count += 1,
                None => statuses.push((status, 1)),
            }
        }
    }
    timings.confirm = confirm_started.elapsed();
    say(format!(
        "phase {}: {}; the registry updated in {:.2} s",
        ex::PhaseState::try_from(done.state)
            .map(|s| s.as_str_name())
            .unwrap_or("?"),
        done.outcome_note,
        timings.complete.as_secs_f64()
    ));
    let report = call!(
        exchange,
        get_phase_report,
        ex::GetPhaseReportRequest {
            phase_id: pid.clone(),
        }
    )
    .map_err(at("read the report"))?
    .into_inner()
    .report
    .ok_or_else(|| StoryError::Unexpected("no report".into()))?;
    let mut cases = Vec::new();
    if let Some(office) = &services.office {
        let completed = done.state_time;
        cases = stream::iter(asked.iter().map(|family| {
            let office = office.clone();
            async move {
                families::case(&office, family, completed.as_ref(), Duration::from_secs(60)).await
            }
        }))
        .buffered(plan.concurrency.max(1))
        .try_collect()
        .await?;
        timings.families_notified = cases.iter().filter_map(|c| c.latency).max();
        let told = cases.iter().filter(|c| c.latency.is_some()).count();
        say(format!(
            "{told} families were told their son is home; the last message was accepted {:.2} s after completion",
            timings.families_notified.unwrap_or_default().as_secs_f64()
        ));
    }
    Ok(Ending {
        phase: done,
        report,
        first_reconciliation: first,
        final_reconciliation: last,
        caught,
        statuses,
        timings,
        cases,
    })
}

async fn submit(
    exchange: &mut Exchange,
    pid: &str,
    party: &str,
    kind: ex::ListKind,
    base: u32,
    entries: Vec<ex::ListEntry>,
) -> Result<()> {
    call!(
        exchange,
        submit_list,
        ex::SubmitListRequest {
            request_id: rid(),
            phase_id: pid.into(),
            party: party.into(),
            kind: kind as i32,
            base_version: base,
            entries,
            source: if party == "UA" {
                common::InformationSource::OwnReport
            } else {
                common::InformationSource::OtherPartyList
            } as i32,
            ..Default::default()
        }
    )
    .map_err(at("submit a list"))?;
    Ok(())
}

async fn reconcile(exchange: &mut Exchange, pid: &str) -> Result<ex::Reconciliation> {
    call!(
        exchange,
        reconcile_phase,
        ex::ReconcilePhaseRequest {
            request_id: rid(),
            phase_id: pid.into(),
            min_confidence: 0.0,
        }
    )
    .map_err(at("reconcile"))?
    .into_inner()
    .reconciliation
    .ok_or_else(|| StoryError::Unexpected("no reconciliation".into()))
}

async fn get_phase(exchange: &mut Exchange, pid: &str) -> Result<ex::Phase> {
    call!(exchange, get_phase, ex::GetPhaseRequest { id: pid.into() })
        .map_err(at("read the phase"))?
        .into_inner()
        .phase
        .ok_or_else(|| StoryError::Unexpected("no phase".into()))
}

/// The report as a person reads it.
pub fn render(ending: &Ending) -> String {
    let r = &ending.report;
    let mut out = String::new();
    let phase = &ending.phase;
    out.push_str(&format!(
        "\nPhase {} ({}): {}\n",
        phase.number,
        ex::PhaseState::try_from(phase.state)
            .map(|s| s.as_str_name())
            .unwrap_or("?"),
        phase.outcome_note
    ));
    out.push_str("\n  handing party  planned  verified  refused  missing  mismatched  held back  not on list  sick/wounded\n");
    for t in &r.tallies {
        out.push_str(&format!(
            "  {:<13}  {:>7}  {:>8}  {:>7}  {:>7}  {:>10}  {:>9}  {:>11}  {:>12}\n",
            t.handing_party,
            t.planned,
            t.verified,
            t.refused,
            t.missing,
            t.mismatched,
            t.held_back,
            t.not_on_list,
            t.seriously_ill_or_wounded
        ));
    }
    if let Some(counts) = &r.handed_over_counts {
        out.push_str(&format!(
            "\n  handed over, counted against the quotas ({}):\n",
            if counts.balanced {
                "balanced"
            } else {
                "not balanced"
            }
        ));
        for p in &counts.parties {
            let lines: Vec<String> = p
                .quotas
                .iter()
                .map(|q| {
                    let quota = q.quota.clone().unwrap_or_default();
                    let what = match (quota.category, quota.sex) {
                        (1, _) => "service members",
                        (2, _) => "civilians",
                        (_, 2) => "women",
                        _ => "total",
                    };
                    format!("{what} {}/{}", q.counted, quota.count)
                })
                .collect();
            out.push_str(&format!("    {}: {}\n", p.handing_party, lines.join(", ")));
        }
        for problem in &counts.problems {
            out.push_str(&format!("    - {problem}\n"));
        }
    }
    out.push_str("\n  by handing party, category, sex and outcome:\n");
    for b in &r.breakdown {
        let category = match b.category {
            1 => "service member",
            2 => "civilian",
            _ => "unknown",
        };
        let sex = match b.sex {
            1 => "male",
            2 => "female",
            _ => "unknown",
        };
        out.push_str(&format!(
            "    {:<3} {category:<15} {sex:<7} {:<18} {:>5}\n",
            b.handing_party, b.outcome, b.count
        ));
    }
    if let Some(item) = &ending.caught {
        out.push_str(&format!(
            "\n  substitution caught: request {} / offer {} — {}\n",
            item.request_reference,
            item.offer_reference,
            item.explanation.first().cloned().unwrap_or_default()
        ));
    }
    out.push_str(&format!(
        "\n  refusals recorded: {}; exceptions at the handover: {}\n",
        r.refusals.len(),
        r.exceptions.len()
    ));
    out.push_str("  registry statuses of everyone on the frozen lists:\n");
    for (status, count) in &ending.statuses {
        out.push_str(&format!("    {:<30} {count}\n", status.as_str_name()));
    }
    out.push_str(&format!(
        "  audit log head: #{} {}\n",
        r.audit_head_sequence, r.audit_head_hash
    ));
    for case in &ending.cases {
        out.push_str(&format!(
            "\n  family {} ({}): the family's own status check says {}\n",
            case.family.reference,
            if case.family.in_phase {
                "son in this phase"
            } else {
                "son held, not in this phase"
            },
            case.status.as_str_name()
        ));
        for (kind, state, _) in &case.notifications {
            out.push_str(&format!(
                "    {:<36} {}\n",
                kind.as_str_name(),
                state.as_str_name()
            ));
        }
        for task in &case.open_tasks {
            out.push_str(&format!(
                "    open task for an officer: {}\n",
                task.as_str_name()
            ));
        }
        if let Some(latency) = case.latency {
            out.push_str(&format!(
                "    told {:.2} s after the handover was completed\n",
                latency.as_secs_f64()
            ));
        }
    }
    out
}
