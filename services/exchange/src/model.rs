//! The exchange service's records, as stored: agreements, phases (with the registry step under
//! way, if any), list versions and their entries, reconciliations and their items, consent
//! records, hold-backs and handover checks. The rules that decide over them live in `domain`;
//! the proto forms in `convert`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{Category, EntryOutcome, PhaseState, Quota, Sex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialDate {
    pub year: i32,
    /// 0 when unknown.
    pub month: u8,
    /// 0 when unknown.
    pub day: u8,
}

impl PartialDate {
    /// Completed years on `on`, when the date is known well enough to tell (a birth date known
    /// only to the year, or to the month in the month of `on`, leaves two possible ages).
    pub fn age_on(self, on: time::Date) -> Option<u8> {
        let years = on.year() - self.year;
        let today = (on.month() as u8, on.day());
        let birthday_passed = match (self.month, self.day) {
            (0, _) => return None,
            (m, 0) if m == today.0 => return None,
            (m, 0) => today.0 > m,
            (m, d) => today >= (m, d),
        };
        u8::try_from(if birthday_passed { years } else { years - 1 }).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agreement {
    pub id: Uuid,
    pub title: String,
    pub parties: [String; 2],
    pub mediators: Vec<String>,
    pub date: Option<PartialDate>,
    pub place: String,
    pub quotas: Vec<Quota>,
    pub one_for_one: bool,
    pub document_reference: String,
    pub created_at_us: i64,
    pub updated_at_us: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    Request,
    Offer,
}

impl ListKind {
    pub fn tag(self) -> &'static str {
        match self {
            ListKind::Request => "request",
            ListKind::Offer => "offer",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ListRef {
    pub party: String,
    pub kind: ListKind,
    pub version: u32,
}

/// A registry step under way for a phase. It is written before the registry is called and
/// cleared in the same transaction as the step's outcome, so a service that stops in between
/// finds it on restart and finishes it: every registry call it makes is idempotent by a request
/// id derived from the phase and the attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Pending {
    /// Reserve the persons, then mark the lists frozen.
    Freeze {
        attempt: u32,
        reconciliation_id: Uuid,
        lists: Vec<ListRef>,
        person_ids: Vec<Uuid>,
        imbalance_reason: String,
    },
    /// Release every reservation of the phase, then move to `to` (negotiating or cancelled).
    Release {
        attempt: u32,
        to: PhaseState,
        reason: String,
    },
    /// Mark the handed-over persons repatriated (civilians released), release the others, then
    /// complete the phase.
    Complete {
        repatriate: Vec<Uuid>,
        release: Vec<Uuid>,
        refused: Vec<Uuid>,
        to: PhaseState,
        note: String,
        occurred_at_us: i64,
        tallies: Vec<Tally>,
    },
}

/// The request that started a pending step, so whoever finishes it records the response under
/// the caller's request id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRequest {
    pub scope: String,
    pub request_id: String,
    pub fingerprint: String,
    pub actor: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    pub id: Uuid,
    pub agreement_id: Uuid,
    pub number: u32,
    pub title: String,
    pub planned_at_us: Option<i64>,
    pub place: String,
    pub quotas: Vec<Quota>,
    pub state: PhaseState,
    pub state_at_us: i64,
    pub latest_reconciliation: Option<Uuid>,
    pub frozen_lists: Vec<ListRef>,
    pub frozen_reconciliation: Option<Uuid>,
    pub imbalance_reason: String,
    pub outcome_note: String,
    /// Registry steps started so far (freeze and release attempts), so each gets its own
    /// request ids.
    pub attempts: u32,
    pub pending: Option<Pending>,
    pub pending_request: Option<PendingRequest>,
    /// Set on completion.
    pub tallies: Vec<Tally>,
    pub created_at_us: i64,
    pub updated_at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Name {
    pub script: i32,
    pub given: String,
    pub family: String,
    pub patronymic: String,
    pub source: i32,
    pub language: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub kind: i32,
    pub number: String,
    pub issuing_country: String,
}

/// A person as a list's author wrote them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Listed {
    pub names: Vec<Name>,
    pub birth_date: Option<PartialDate>,
    pub birth_place: String,
    pub sex: Option<Sex>,
    pub category: Option<Category>,
    pub rank: String,
    pub unit: String,
    pub service_number: String,
    pub documents: Vec<Document>,
    pub citizenship: String,
    pub detention_place: String,
    pub original_text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subject {
    Person(Uuid),
    Identity(Box<Listed>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub reference: String,
    pub subject: Subject,
    pub seriously_ill: bool,
    pub wounded: bool,
    pub source_line: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListVersion {
    pub phase_id: Uuid,
    pub list: ListRef,
    pub entries: Vec<Entry>,
    pub source: i32,
    pub received_at_us: Option<i64>,
    pub note: String,
    pub submitted_by: String,
    pub submitted_at_us: i64,
    pub content_hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Paired,
    UnmatchedRequest,
    UnmatchedOffer,
    SuspectedSubstitution,
    NeedsReview,
}

impl Outcome {
    pub fn must_review(self) -> bool {
        matches!(self, Outcome::SuspectedSubstitution | Outcome::NeedsReview)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    ConfirmPair,
    RejectPair,
    PairWith,
    AcceptUnmatched,
    /// Set on an unmatched item whose entry an officer paired by hand from the other item.
    PairedElsewhere,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub decision: Decision,
    pub counterpart_reference: String,
    pub person_id: Option<Uuid>,
    pub note: String,
    pub reviewed_by: String,
    pub reviewed_at_us: i64,
}

/// What the counts need to know about the person an item hands over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traits {
    pub category: Option<Category>,
    pub sex: Sex,
    pub birth_date: Option<PartialDate>,
    pub seriously_ill: bool,
    pub wounded: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub number: u32,
    pub reconciliation_id: Uuid,
    pub receiving_party: String,
    pub handing_party: String,
    pub outcome: Outcome,
    pub request_reference: String,
    pub offer_reference: String,
    pub person_id: Option<Uuid>,
    pub confidence: f64,
    pub explanation: Vec<String>,
    pub alternatives: Vec<String>,
    pub review: Option<Review>,
    pub traits: Option<Traits>,
}

impl Item {
    pub fn id(&self) -> String {
        item_id(self.reconciliation_id, self.number)
    }

    /// The entry the item is found by: its offer entry, or its request entry when unmatched.
    pub fn tag(&self) -> String {
        if self.offer_reference.is_empty() {
            EntryKey {
                party: self.receiving_party.clone(),
                kind: ListKind::Request,
                reference: self.request_reference.clone(),
            }
            .tag()
        } else {
            EntryKey {
                party: self.handing_party.clone(),
                kind: ListKind::Offer,
                reference: self.offer_reference.clone(),
            }
            .tag()
        }
    }

    pub fn open_review(&self) -> bool {
        self.outcome.must_review() && self.review.is_none()
    }

    /// Whether the item, as reviewed, is a person the handing party hands over.
    pub fn transfers(&self) -> bool {
        match self.review.as_ref().map(|r| r.decision) {
            Some(Decision::ConfirmPair | Decision::PairWith) => self.person_id.is_some(),
            Some(_) => false,
            None => self.outcome == Outcome::Paired && self.person_id.is_some(),
        }
    }
}

pub fn item_id(reconciliation: Uuid, number: u32) -> String {
    format!("{reconciliation}/{number}")
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub paired: u32,
    pub unmatched_requests: u32,
    pub unmatched_offers: u32,
    pub suspected_substitutions: u32,
    pub needs_review: u32,
    pub open_reviews: u32,
}

impl Summary {
    pub fn of<'a>(items: impl IntoIterator<Item = &'a Item>) -> Self {
        let mut s = Summary::default();
        for item in items {
            match item.outcome {
                Outcome::Paired => s.paired += 1,
                Outcome::UnmatchedRequest => s.unmatched_requests += 1,
                Outcome::UnmatchedOffer => s.unmatched_offers += 1,
                Outcome::SuspectedSubstitution => s.suspected_substitutions += 1,
                Outcome::NeedsReview => s.needs_review += 1,
            }
            if item.open_review() {
                s.open_reviews += 1;
            }
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reconciliation {
    pub id: Uuid,
    pub phase_id: Uuid,
    pub lists: Vec<ListRef>,
    pub summary: Summary,
    pub created_by: String,
    pub created_at_us: i64,
}

/// Names an entry across versions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntryKey {
    pub party: String,
    pub kind: ListKind,
    pub reference: String,
}

impl EntryKey {
    pub fn tag(&self) -> String {
        format!("{}/{}/{}", self.party, self.kind.tag(), self.reference)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub id: Uuid,
    pub phase_id: Uuid,
    pub entry: EntryKey,
    pub person_id: Option<Uuid>,
    pub willing: bool,
    pub interviewed_by: String,
    pub interviewer_organisation: String,
    pub interviewed_at_us: Option<i64>,
    pub interview_place: String,
    pub language: String,
    pub interpreter_present: bool,
    pub interviewed_in_private: bool,
    pub note: String,
    pub recorded_by: String,
    pub recorded_at_us: i64,
    pub superseded_by: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldBackReason {
    CriminalProceedings,
    UnfitToTravel,
    NotAvailable,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldBack {
    pub id: Uuid,
    pub phase_id: Uuid,
    pub entry: EntryKey,
    pub person_id: Option<Uuid>,
    pub reason: HoldBackReason,
    pub reason_detail: String,
    pub other_side_informed: bool,
    pub informed_at_us: Option<i64>,
    pub informed_via: String,
    pub lifted: bool,
    pub recorded_by: String,
    pub created_at_us: i64,
    pub updated_at_us: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckResult {
    Verified,
    Mismatch,
    NotOnList,
    Missing,
}

impl CheckResult {
    pub fn tag(self) -> &'static str {
        match self {
            CheckResult::Verified => "verified",
            CheckResult::Mismatch => "mismatch",
            CheckResult::NotOnList => "not_on_list",
            CheckResult::Missing => "missing",
        }
    }

    pub fn outcome(self) -> EntryOutcome {
        match self {
            CheckResult::Verified => EntryOutcome::HandedOver,
            CheckResult::Mismatch => EntryOutcome::IdentityMismatch,
            CheckResult::Missing | CheckResult::NotOnList => EntryOutcome::DidNotAppear,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverCheck {
    pub id: Uuid,
    pub phase_id: Uuid,
    pub handing_party: String,
    pub entry: Option<EntryKey>,
    pub person_id: Option<Uuid>,
    pub result: CheckResult,
    pub presented: Option<Listed>,
    pub methods: Vec<i32>,
    pub checked_by: String,
    pub checked_at_us: i64,
    pub note: String,
    pub superseded_by: Option<Uuid>,
}

/// Planned against handed over, for one handing party.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub handing_party: String,
    pub planned: u32,
    pub verified: u32,
    pub mismatched: u32,
    pub missing: u32,
    pub not_on_list: u32,
    pub refused: u32,
    pub held_back: u32,
    pub seriously_ill_or_wounded: u32,
}

impl HandoverCheck {
    /// The entry the check is found by; checks of unlisted people by their handing party.
    pub fn tag(&self) -> String {
        match &self.entry {
            Some(entry) => entry.tag(),
            None => format!("{}/unlisted", self.handing_party),
        }
    }
}
