//! What the commands show, built from the protobuf answers: plain serializable structs for
//! `--output json` and their tables. Enum values are shown as the same words the flags accept
//! (`service-member`, `hospitalised`), times as RFC 3339 in UTC, partial dates as YYYY[-MM[-DD]].
//!
//! Only what the server sent is shown; nothing is derived here that a script might mistake for
//! registry data. The exchange's views live in `view::exchange`, the notification service's in
//! `view::notification`.

pub mod exchange;
pub mod notification;

use homeward_proto::{
    common::v1 as common, exchange::v1 as xpb, notification::v1 as npb, registry::v1 as pb,
};
use serde::Serialize;
use time::{OffsetDateTime, macros::format_description};

use crate::output::{self, Render};

/// `PERSON_STATUS_REFUSED_REPATRIATION` → `refused-repatriation`.
fn word(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_lowercase()
        .replace('_', "-")
}

macro_rules! enum_words {
    ($($fn_name:ident: $ty:ty, $prefix:literal;)*) => {$(
        pub fn $fn_name(value: i32) -> String {
            match <$ty>::try_from(value) {
                Ok(v) => word(v.as_str_name(), $prefix),
                Err(_) => format!("unknown({value})"),
            }
        }
    )*};
}

enum_words! {
    status_word: pb::PersonStatus, "PERSON_STATUS_";
    category_word: common::PersonCategory, "PERSON_CATEGORY_";
    sex_word: common::Sex, "SEX_";
    source_word: common::InformationSource, "INFORMATION_SOURCE_";
    reliability_word: common::Reliability, "RELIABILITY_";
    script_word: common::Script, "SCRIPT_";
    document_word: common::DocumentType, "DOCUMENT_TYPE_";
    phase_state_word: xpb::PhaseState, "PHASE_STATE_";
    list_kind_word: xpb::ListKind, "LIST_KIND_";
    outcome_word: xpb::ReconciliationOutcome, "RECONCILIATION_OUTCOME_";
    review_decision_word: xpb::ReviewDecision, "REVIEW_DECISION_";
    consent_word: xpb::ConsentDecision, "CONSENT_DECISION_";
    hold_back_reason_word: xpb::HoldBackReason, "HOLD_BACK_REASON_";
    check_result_word: xpb::HandoverCheckResult, "HANDOVER_CHECK_RESULT_";
    check_method_word: xpb::IdentityCheckMethod, "IDENTITY_CHECK_METHOD_";
    relationship_word: npb::Relationship, "RELATIONSHIP_";
    channel_word: npb::Channel, "CHANNEL_";
    intake_word: npb::IntakeChannel, "INTAKE_CHANNEL_";
    consent_purpose_word: npb::ConsentPurpose, "CONSENT_PURPOSE_";
    consent_method_word: npb::ConsentMethod, "CONSENT_METHOD_";
    verification_state_word: npb::VerificationState, "VERIFICATION_STATE_";
    verification_method_word: npb::VerificationMethod, "VERIFICATION_METHOD_";
    inquiry_state_word: npb::InquiryState, "INQUIRY_STATE_";
    close_reason_word: npb::CloseReason, "CLOSE_REASON_";
    risk_flag_word: npb::RiskFlagKind, "RISK_FLAG_KIND_";
    link_state_word: npb::LinkState, "LINK_STATE_";
    withholding_word: npb::WithholdingDecision, "WITHHOLDING_DECISION_";
    notification_kind_word: npb::NotificationKind, "NOTIFICATION_KIND_";
    delivery_state_word: npb::DeliveryState, "DELIVERY_STATE_";
    task_state_word: npb::TaskState, "TASK_STATE_";
    attempt_outcome_word: npb::TaskAttemptOutcome, "TASK_ATTEMPT_OUTCOME_";
    family_status_word: npb::FamilyStatus, "FAMILY_STATUS_";
}

/// The word for a value the generated code does not know yet: the announced ones by name, any
/// other by number, so that a newer service never breaks this client.
fn announced_word(value: i32, announced: &[(i32, &str)]) -> String {
    announced
        .iter()
        .find(|(code, _)| *code == value)
        .map(|(_, word)| (*word).to_string())
        .unwrap_or_else(|| format!("unknown({value})"))
}

pub fn notification_state_word(value: i32) -> String {
    match npb::NotificationState::try_from(value) {
        Ok(v) => word(v.as_str_name(), "NOTIFICATION_STATE_"),
        Err(_) => announced_word(
            value,
            &[(crate::args::NOTIFICATION_STATE_EMBARGOED, "embargoed")],
        ),
    }
}

pub fn task_kind_word(value: i32) -> String {
    match npb::TaskKind::try_from(value) {
        Ok(v) => word(v.as_str_name(), "TASK_KIND_"),
        Err(_) => announced_word(
            value,
            &[(
                crate::args::TASK_KIND_WITHHOLDING_REVIEW,
                "withholding-review",
            )],
        ),
    }
}

pub fn date_text(d: Option<&common::PartialDate>) -> Option<String> {
    let d = d?;
    match (d.year, d.month, d.day) {
        (0, _, _) => None,
        (y, 0, _) => Some(format!("{y:04}")),
        (y, m, 0) => Some(format!("{y:04}-{m:02}")),
        (y, m, d) => Some(format!("{y:04}-{m:02}-{d:02}")),
    }
}

fn time_of(ts: Option<&prost_types::Timestamp>) -> Option<OffsetDateTime> {
    let ts = ts?;
    let nanos = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos);
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// A time for a table: to the second, in UTC.
fn short_time(t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| {
        t.format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]Z"
        ))
        .ok()
    })
    .unwrap_or_default()
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

/// "1 entry", "3 entries".
fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_string()
    }
}

#[derive(Debug, Serialize)]
pub struct NameView {
    pub script: String,
    pub given: String,
    pub family: String,
    pub patronymic: String,
    pub source: String,
    pub language: String,
}

impl NameView {
    /// "Family Given Patronymic", the order registrars read lists in.
    pub fn full(&self) -> String {
        [&self.family, &self.given, &self.patronymic]
            .into_iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl From<&common::PersonName> for NameView {
    fn from(n: &common::PersonName) -> Self {
        Self {
            script: script_word(n.script),
            given: n.given.clone(),
            family: n.family.clone(),
            patronymic: n.patronymic.clone(),
            source: source_word(n.source),
            language: n.language.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DocumentView {
    #[serde(rename = "type")]
    pub kind: String,
    pub number: String,
    pub issuing_country: String,
}

#[derive(Debug, Serialize)]
pub struct CaptureView {
    pub date: Option<String>,
    pub place: String,
}

impl CaptureView {
    fn from_pb(c: Option<&pb::Capture>) -> Option<Self> {
        c.map(|c| Self {
            date: date_text(c.date.as_ref()),
            place: c.place.clone(),
        })
    }

    fn text(&self) -> String {
        match (&self.date, self.place.as_str()) {
            (Some(d), "") => d.clone(),
            (Some(d), p) => format!("{d}, {p}"),
            (None, p) => or_dash(p),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct PersonView {
    pub id: String,
    pub etag: String,
    pub category: String,
    pub sex: String,
    pub names: Vec<NameView>,
    pub birth_date: Option<String>,
    pub birth_place: String,
    pub citizenship: String,
    pub affiliated_party: String,
    pub holding_party: String,
    pub service_number: String,
    pub rank: String,
    pub unit: String,
    pub documents: Vec<DocumentView>,
    pub capture: Option<CaptureView>,
    pub detention_place: String,
    pub wounded: bool,
    pub seriously_ill: bool,
    pub status: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub status_time: Option<OffsetDateTime>,
    pub reserved_for_exchange_id: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub create_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub update_time: Option<OffsetDateTime>,
    pub file_reference: String,
    /// The survivor's id when this record was merged into it as a duplicate; empty otherwise.
    pub merged_into_id: String,
}

impl From<&pb::Person> for PersonView {
    fn from(p: &pb::Person) -> Self {
        let health = p.health.unwrap_or_default();
        Self {
            id: p.id.clone(),
            etag: p.etag.clone(),
            category: category_word(p.category),
            sex: sex_word(p.sex),
            names: p.names.iter().map(NameView::from).collect(),
            birth_date: date_text(p.birth_date.as_ref()),
            birth_place: p.birth_place.clone(),
            citizenship: p.citizenship.clone(),
            affiliated_party: p.affiliated_party.clone(),
            holding_party: p.holding_party.clone(),
            service_number: p.service_number.clone(),
            rank: p.rank.clone(),
            unit: p.unit.clone(),
            documents: p
                .documents
                .iter()
                .map(|d| DocumentView {
                    kind: document_word(d.r#type),
                    number: d.number.clone(),
                    issuing_country: d.issuing_country.clone(),
                })
                .collect(),
            capture: CaptureView::from_pb(p.capture.as_ref()),
            detention_place: p.detention_place.clone(),
            wounded: health.wounded,
            seriously_ill: health.seriously_ill,
            status: status_word(p.status),
            status_time: time_of(p.status_time.as_ref()),
            reserved_for_exchange_id: p.reserved_for_exchange_id.clone(),
            create_time: time_of(p.create_time.as_ref()),
            update_time: time_of(p.update_time.as_ref()),
            file_reference: p.file_reference.clone(),
            merged_into_id: p.merged_into_id.clone(),
        }
    }
}

impl PersonView {
    fn first_name(&self) -> String {
        self.names.first().map(NameView::full).unwrap_or_default()
    }

    fn health(&self) -> String {
        match (self.wounded, self.seriously_ill) {
            (false, false) => "-".into(),
            (true, false) => "wounded".into(),
            (false, true) => "seriously ill".into(),
            (true, true) => "wounded, seriously ill".into(),
        }
    }
}

impl Render for PersonView {
    fn table(&self) -> String {
        let names = self
            .names
            .iter()
            .map(|n| format!("{} ({})", n.full(), n.script))
            .collect::<Vec<_>>()
            .join("\n");
        let documents = self
            .documents
            .iter()
            .map(|d| {
                format!("{} {} {}", d.kind, d.number, d.issuing_country)
                    .trim()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n");
        let status = if self.reserved_for_exchange_id.is_empty() {
            format!("{} since {}", self.status, short_time(self.status_time))
        } else {
            format!(
                "{} since {} (exchange {})",
                self.status,
                short_time(self.status_time),
                self.reserved_for_exchange_id
            )
        };
        let mut rows = vec![("id", self.id.clone())];
        if !self.merged_into_id.is_empty() {
            rows.push(("merged into", self.merged_into_id.clone()));
        }
        rows.extend([
            ("names", names),
            ("category", self.category.clone()),
            ("sex", self.sex.clone()),
            (
                "birth date",
                self.birth_date.clone().unwrap_or_else(|| "-".into()),
            ),
            ("birth place", or_dash(&self.birth_place)),
            ("citizenship", or_dash(&self.citizenship)),
            ("affiliated party", or_dash(&self.affiliated_party)),
            ("holding party", or_dash(&self.holding_party)),
            ("service number", or_dash(&self.service_number)),
            ("rank", or_dash(&self.rank)),
            ("unit", or_dash(&self.unit)),
            ("documents", or_dash(&documents)),
            (
                "capture",
                self.capture
                    .as_ref()
                    .map(CaptureView::text)
                    .unwrap_or_else(|| "-".into()),
            ),
            ("detention place", or_dash(&self.detention_place)),
            ("health", self.health()),
            ("status", status),
            ("file reference", or_dash(&self.file_reference)),
            ("created", short_time(self.create_time)),
            ("updated", short_time(self.update_time)),
            ("etag", self.etag.clone()),
        ]);
        output::record(rows).to_string()
    }
}

#[derive(Debug, Serialize)]
pub struct PersonListView {
    pub persons: Vec<PersonView>,
    /// Empty on the last page.
    pub next_page_token: String,
}

impl Render for PersonListView {
    fn table(&self) -> String {
        let mut t = output::table([
            "ID", "NAME", "BORN", "CATEGORY", "STATUS", "HOLDING", "UNIT", "FILE REF",
        ]);
        for p in &self.persons {
            t.add_row(vec![
                p.id.clone(),
                p.first_name(),
                p.birth_date.clone().unwrap_or_default(),
                p.category.clone(),
                p.status.clone(),
                p.holding_party.clone(),
                p.unit.clone(),
                p.file_reference.clone(),
            ]);
        }
        match self.persons.len() {
            1 => format!("{t}\n1 person"),
            n => format!("{t}\n{n} persons"),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct SearchResultView {
    pub score: f64,
    pub explanation: Vec<String>,
    pub person: PersonView,
}

#[derive(Debug, Serialize)]
pub struct SearchView {
    pub results: Vec<SearchResultView>,
}

impl From<&pb::SearchPersonsResponse> for SearchView {
    fn from(r: &pb::SearchPersonsResponse) -> Self {
        Self {
            results: r
                .results
                .iter()
                .map(|r| SearchResultView {
                    score: r.score,
                    explanation: r.explanation.clone(),
                    person: r
                        .person
                        .as_ref()
                        .map(PersonView::from)
                        .unwrap_or_else(|| (&pb::Person::default()).into()),
                })
                .collect(),
        }
    }
}

impl Render for SearchView {
    fn table(&self) -> String {
        if self.results.is_empty() {
            return "no matches".into();
        }
        let mut t = output::table(["SCORE", "ID", "NAME", "BORN", "STATUS", "WHY"]);
        for r in &self.results {
            t.add_row(vec![
                format!("{:.2}", r.score),
                r.person.id.clone(),
                r.person.first_name(),
                r.person.birth_date.clone().unwrap_or_default(),
                r.person.status.clone(),
                r.explanation.join("\n"),
            ]);
        }
        t.to_string()
    }
}

/// A confidence for a table: two decimals, as the registry's thresholds are written.
fn confidence_text(confidence: f64) -> String {
    format!("{confidence:.2}")
}

/// A registered person that an identity or a new record may be: who, how sure, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandidateView {
    pub person_id: String,
    pub confidence: f64,
    pub explanation: Vec<String>,
}

impl From<&pb::MatchCandidate> for CandidateView {
    fn from(c: &pb::MatchCandidate) -> Self {
        Self {
            person_id: c.person_id.clone(),
            confidence: c.confidence,
            explanation: c.explanation.clone(),
        }
    }
}

impl From<&pb::PossibleDuplicate> for CandidateView {
    fn from(d: &pb::PossibleDuplicate) -> Self {
        Self {
            person_id: d.person_id.clone(),
            confidence: d.confidence,
            explanation: d.explanation.clone(),
        }
    }
}

/// A person just registered and the registered persons it may duplicate. The person's fields
/// stay at the top level of the JSON, as `person get` prints them.
#[derive(Debug, Serialize)]
pub struct CreatedView {
    #[serde(flatten)]
    pub person: PersonView,
    pub possible_duplicates: Vec<CandidateView>,
}

impl From<&pb::CreatePersonResponse> for CreatedView {
    fn from(r: &pb::CreatePersonResponse) -> Self {
        Self {
            person: PersonView::from(&r.person.clone().unwrap_or_default()),
            possible_duplicates: r
                .possible_duplicates
                .iter()
                .map(CandidateView::from)
                .collect(),
        }
    }
}

impl Render for CreatedView {
    fn table(&self) -> String {
        let mut out = self.person.table();
        if !self.possible_duplicates.is_empty() {
            let mut t = output::table(["ID", "CONFIDENCE", "WHY"]);
            for d in &self.possible_duplicates {
                t.add_row(vec![
                    d.person_id.clone(),
                    confidence_text(d.confidence),
                    d.explanation.join("\n"),
                ]);
            }
            out.push_str(&format!(
                "\nwarning: this person may already be registered as\n{t}"
            ));
        }
        out
    }
}

/// The candidates found for one identity of a file.
#[derive(Debug, Serialize)]
pub struct IdentityMatchView {
    /// The identity's line in the file (the header is line 1).
    pub line: u64,
    pub reference: String,
    /// Best first; empty when no registered person reached the minimum confidence.
    pub candidates: Vec<CandidateView>,
}

#[derive(Debug, Serialize)]
pub struct MatchView {
    pub identities: Vec<IdentityMatchView>,
}

impl Render for MatchView {
    fn table(&self) -> String {
        let mut t = output::table(["REFERENCE", "PERSON", "CONFIDENCE", "WHY"]);
        for identity in &self.identities {
            if identity.candidates.is_empty() {
                t.add_row(vec![
                    identity.reference.clone(),
                    "no match".into(),
                    String::new(),
                    String::new(),
                ]);
            }
            for (i, c) in identity.candidates.iter().enumerate() {
                // The reference heads its first candidate only, so each block reads as one entry.
                let reference = if i == 0 {
                    identity.reference.clone()
                } else {
                    String::new()
                };
                t.add_row(vec![
                    reference,
                    c.person_id.clone(),
                    confidence_text(c.confidence),
                    c.explanation.join("\n"),
                ]);
            }
        }
        let with = self
            .identities
            .iter()
            .filter(|i| !i.candidates.is_empty())
            .count();
        let total = self.identities.len();
        let identities = if total == 1 { "identity" } else { "identities" };
        format!(
            "{t}\n{total} {identities}: {with} with candidates, {} no match",
            total - with
        )
    }
}

#[derive(Debug, Serialize)]
pub struct DuplicatePairView {
    /// The person registered first.
    pub first_person_id: String,
    pub second_person_id: String,
    pub confidence: f64,
    pub explanation: Vec<String>,
}

impl From<&pb::DuplicatePair> for DuplicatePairView {
    fn from(p: &pb::DuplicatePair) -> Self {
        Self {
            first_person_id: p.first_person_id.clone(),
            second_person_id: p.second_person_id.clone(),
            confidence: p.confidence,
            explanation: p.explanation.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DuplicatesView {
    pub pairs: Vec<DuplicatePairView>,
}

impl Render for DuplicatesView {
    fn table(&self) -> String {
        if self.pairs.is_empty() {
            return "no possible duplicates".into();
        }
        let mut t = output::table(["FIRST", "SECOND", "CONFIDENCE", "WHY"]);
        for p in &self.pairs {
            t.add_row(vec![
                p.first_person_id.clone(),
                p.second_person_id.clone(),
                confidence_text(p.confidence),
                p.explanation.join("\n"),
            ]);
        }
        match self.pairs.len() {
            1 => format!("{t}\n1 pair"),
            n => format!("{t}\n{n} pairs"),
        }
    }
}

/// Both records after a merge: the survivor, and the duplicate now pointing to it.
#[derive(Debug, Serialize)]
pub struct MergedView {
    pub survivor: PersonView,
    pub duplicate: PersonView,
}

impl From<&pb::MergePersonsResponse> for MergedView {
    fn from(r: &pb::MergePersonsResponse) -> Self {
        let view = |p: &Option<pb::Person>| PersonView::from(&p.clone().unwrap_or_default());
        Self {
            survivor: view(&r.survivor),
            duplicate: view(&r.duplicate),
        }
    }
}

impl Render for MergedView {
    fn table(&self) -> String {
        let mut t = output::table(["", "ID", "NAME", "BORN", "STATUS", "MERGED INTO"]);
        for (role, p) in [("survivor", &self.survivor), ("duplicate", &self.duplicate)] {
            t.add_row(vec![
                role.to_string(),
                p.id.clone(),
                p.first_name(),
                p.birth_date.clone().unwrap_or_default(),
                p.status.clone(),
                p.merged_into_id.clone(),
            ]);
        }
        format!(
            "merged {} into {}\n{t}",
            self.duplicate.id, self.survivor.id
        )
    }
}

#[derive(Debug, Serialize)]
pub struct StatusChangeView {
    pub sequence: u64,
    pub status: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub occur_time: Option<OffsetDateTime>,
    pub source: String,
    pub reliability: String,
    pub detention_place: String,
    pub capture: Option<CaptureView>,
    pub exchange_id: String,
    pub note: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub record_time: Option<OffsetDateTime>,
    pub recorded_by: String,
}

impl From<&pb::StatusChange> for StatusChangeView {
    fn from(c: &pb::StatusChange) -> Self {
        Self {
            sequence: c.sequence,
            status: status_word(c.status),
            occur_time: time_of(c.occur_time.as_ref()),
            source: source_word(c.source),
            reliability: reliability_word(c.reliability),
            detention_place: c.detention_place.clone(),
            capture: CaptureView::from_pb(c.capture.as_ref()),
            exchange_id: c.exchange_id.clone(),
            note: c.note.clone(),
            record_time: time_of(c.record_time.as_ref()),
            recorded_by: c.recorded_by.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct HistoryView {
    pub person_id: String,
    pub changes: Vec<StatusChangeView>,
}

impl Render for HistoryView {
    fn table(&self) -> String {
        let mut t = output::table([
            "#",
            "STATUS",
            "OCCURRED",
            "SOURCE",
            "RELIABILITY",
            "PLACE",
            "EXCHANGE",
            "NOTE",
            "BY",
        ]);
        for c in &self.changes {
            let place = match &c.capture {
                Some(capture) if c.detention_place.is_empty() => {
                    format!("captured: {}", capture.text())
                }
                _ => c.detention_place.clone(),
            };
            t.add_row(vec![
                c.sequence.to_string(),
                c.status.clone(),
                short_time(c.occur_time),
                c.source.clone(),
                c.reliability.clone(),
                place,
                c.exchange_id.clone(),
                c.note.clone(),
                c.recorded_by.clone(),
            ]);
        }
        t.to_string()
    }
}

#[derive(Debug, Serialize)]
pub struct StatusChangedView {
    pub person: PersonView,
    pub change: Option<StatusChangeView>,
}

impl Render for StatusChangedView {
    fn table(&self) -> String {
        let sequence = self.change.as_ref().map(|c| c.sequence).unwrap_or_default();
        format!(
            "{}\nrecorded as entry {sequence} of the person's history",
            self.person.table()
        )
    }
}

#[derive(Debug, Serialize)]
pub struct AuditView {
    pub intact: bool,
    pub entries: u64,
    pub head_sequence: u64,
    pub head_hash: String,
    pub first_bad_sequence: u64,
    pub problem: String,
}

impl From<&common::AuditVerification> for AuditView {
    fn from(v: &common::AuditVerification) -> Self {
        Self {
            intact: v.intact,
            entries: v.entries,
            head_sequence: v.head_sequence,
            head_hash: v.head_hash.clone(),
            first_bad_sequence: v.first_bad_sequence,
            problem: v.problem.clone(),
        }
    }
}

impl Render for AuditView {
    fn table(&self) -> String {
        let mut rows = vec![
            ("intact", if self.intact { "yes" } else { "NO" }.to_string()),
            ("entries checked", self.entries.to_string()),
            ("head sequence", self.head_sequence.to_string()),
            ("head hash", self.head_hash.clone()),
        ];
        if !self.intact {
            rows.push(("first bad entry", self.first_bad_sequence.to_string()));
            rows.push(("problem", self.problem.clone()));
        }
        output::record(rows).to_string()
    }
}

#[derive(Debug, Serialize)]
pub struct EventView {
    pub cursor: String,
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub aggregate_id: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub occur_time: Option<OffsetDateTime>,
    /// What happened, in a few words, read from the payload of the known event types.
    pub summary: String,
    pub payload_type: String,
}

impl EventView {
    pub fn new(e: &common::Event, summary: String) -> Self {
        Self {
            cursor: e.cursor.clone(),
            event_id: e.event_id.clone(),
            kind: e.r#type.clone(),
            aggregate_id: e.aggregate_id.clone(),
            occur_time: time_of(e.occur_time.as_ref()),
            summary,
            payload_type: e
                .payload
                .as_ref()
                .map(|p| p.type_url.clone())
                .unwrap_or_default(),
        }
    }

    /// One line, for following the stream at a terminal.
    pub fn line(&self) -> String {
        let summary = if self.summary.is_empty() {
            String::new()
        } else {
            format!("  {}", self.summary)
        };
        format!(
            "{}  {}  {}{summary}  (cursor {})",
            short_time(self.occur_time),
            self.kind,
            self.aggregate_id,
            self.cursor
        )
    }
}

#[derive(Debug, Serialize)]
pub struct EventsView {
    pub events: Vec<EventView>,
    /// Pass it as --after to go on from here; empty when no event came.
    pub last_cursor: String,
}

impl Render for EventsView {
    fn table(&self) -> String {
        if self.events.is_empty() {
            return "no events".into();
        }
        let mut t = output::table(["WHEN", "TYPE", "ABOUT", "WHAT", "CURSOR"]);
        for e in &self.events {
            t.add_row(vec![
                short_time(e.occur_time),
                e.kind.clone(),
                e.aggregate_id.clone(),
                e.summary.clone(),
                e.cursor.clone(),
            ]);
        }
        format!("{t}\n{}", count(self.events.len(), "event", "events"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_values_are_shown_as_the_words_the_flags_take() {
        assert_eq!(
            status_word(pb::PersonStatus::RefusedRepatriation as i32),
            "refused-repatriation"
        );
        assert_eq!(
            category_word(common::PersonCategory::ServiceMember as i32),
            "service-member"
        );
        assert_eq!(reliability_word(2), "usually-reliable");
        assert_eq!(sex_word(99), "unknown(99)");
    }

    #[test]
    fn partial_dates_show_only_the_known_parts() {
        let d = |year, month, day| common::PartialDate { year, month, day };
        assert_eq!(date_text(Some(&d(1990, 0, 0))).as_deref(), Some("1990"));
        assert_eq!(date_text(Some(&d(1990, 5, 0))).as_deref(), Some("1990-05"));
        assert_eq!(
            date_text(Some(&d(1990, 5, 7))).as_deref(),
            Some("1990-05-07")
        );
        assert_eq!(date_text(Some(&d(0, 0, 0))), None);
    }

    #[test]
    fn a_person_serializes_with_rfc3339_times() {
        let p = pb::Person {
            id: "p1".into(),
            status: pb::PersonStatus::Interned as i32,
            create_time: Some(prost_types::Timestamp {
                seconds: 1_715_938_200,
                nanos: 0,
            }),
            ..Default::default()
        };
        let json = serde_json::to_value(PersonView::from(&p)).unwrap();
        assert_eq!(json["status"], "interned");
        assert_eq!(json["create_time"], "2024-05-17T09:30:00Z");
        assert_eq!(json["update_time"], serde_json::Value::Null);
    }

    #[test]
    fn a_merged_person_shows_whom_it_was_merged_into_and_others_do_not() {
        let merged = PersonView::from(&pb::Person {
            id: "p2".into(),
            merged_into_id: "p1".into(),
            ..Default::default()
        });
        let table = merged.table();
        let row = table
            .lines()
            .find(|l| l.contains("merged into"))
            .unwrap_or_else(|| panic!("{table}"));
        assert!(row.contains("p1"), "{table}");
        assert_eq!(
            serde_json::to_value(&merged).unwrap()["merged_into_id"],
            "p1"
        );
        let own = PersonView::from(&pb::Person {
            id: "p1".into(),
            ..Default::default()
        });
        assert!(!own.table().contains("merged into"));
    }

    #[test]
    fn a_new_person_that_may_be_registered_already_comes_with_a_warning() {
        let response = pb::CreatePersonResponse {
            person: Some(pb::Person {
                id: "p2".into(),
                ..Default::default()
            }),
            possible_duplicates: vec![pb::PossibleDuplicate {
                person_id: "p1".into(),
                confidence: 0.934,
                explanation: vec!["names: transliteration of Коваленко".into()],
            }],
        };
        let view = CreatedView::from(&response);
        let table = view.table();
        let (person, warning) = table
            .split_once("warning: this person may already be registered as")
            .unwrap_or_else(|| panic!("{table}"));
        assert!(person.contains("p2"), "{table}");
        assert!(
            warning.contains("p1") && warning.contains("0.93"),
            "{table}"
        );
        // Scripts keep reading the person's fields where `person get` puts them.
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["id"], "p2");
        assert_eq!(json["possible_duplicates"][0]["person_id"], "p1");
        let alone = CreatedView::from(&pb::CreatePersonResponse::default());
        assert!(!alone.table().contains("warning"));
    }

    #[test]
    fn duplicate_pairs_are_listed_with_confidence_and_reasons() {
        let view = DuplicatesView {
            pairs: vec![DuplicatePairView::from(&pb::DuplicatePair {
                first_person_id: "p1".into(),
                second_person_id: "p2".into(),
                confidence: 0.8765,
                explanation: vec!["birth date: same".into(), "given name: same".into()],
            })],
        };
        let table = view.table();
        let row = table.lines().find(|l| l.contains("p1")).unwrap();
        assert!(row.contains("p2") && row.contains("0.88"), "{table}");
        assert!(table.contains("given name: same"), "{table}");
        assert!(table.ends_with("1 pair"), "{table}");
        assert_eq!(
            DuplicatesView { pairs: vec![] }.table(),
            "no possible duplicates"
        );
    }

    #[test]
    fn a_merge_shows_the_survivor_and_the_duplicate_pointing_to_it() {
        let view = MergedView::from(&pb::MergePersonsResponse {
            survivor: Some(pb::Person {
                id: "p1".into(),
                ..Default::default()
            }),
            duplicate: Some(pb::Person {
                id: "p2".into(),
                merged_into_id: "p1".into(),
                ..Default::default()
            }),
        });
        let table = view.table();
        assert!(table.starts_with("merged p2 into p1"), "{table}");
        let duplicate = table.lines().find(|l| l.contains("duplicate")).unwrap();
        assert!(
            duplicate.contains("p2") && duplicate.contains("p1"),
            "{table}"
        );
    }
}
