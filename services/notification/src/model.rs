//! The notification service's records, as stored: inquiries (who asks, about whom, with what
//! consent and verification), links to registry persons, notifications and their deliveries,
//! in-person tasks, and the bookkeeping of the event streams followed (cursors and handled
//! events). The proto forms are in `convert`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Name {
    pub script: i32,
    pub given: String,
    pub family: String,
    pub patronymic: String,
    pub source: i32,
    pub language: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialDate {
    pub year: i32,
    pub month: i32,
    pub day: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Email,
    Sms,
    Messenger,
    File,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub channel: ChannelKind,
    pub address: String,
    pub messenger: String,
    pub preferred: bool,
    pub verified: bool,
}

impl Contact {
    /// The address as shown outside the inquiry itself: enough to recognise, not to use.
    pub fn masked(&self) -> String {
        mask(&self.address)
    }
}

/// Keeps the first and last two characters (and the domain's first letter for an email).
pub fn mask(address: &str) -> String {
    let chars: Vec<char> = address.chars().collect();
    if let Some(at) = address.find('@') {
        let (local, domain) = address.split_at(at);
        let first = local.chars().next().map(String::from).unwrap_or_default();
        let domain_first = domain.chars().nth(1).map(String::from).unwrap_or_default();
        return format!("{first}***@{domain_first}***");
    }
    if chars.len() <= 4 {
        return "***".into();
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}***{tail}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requester {
    pub names: Vec<Name>,
    pub relationship: i32,
    pub relationship_detail: String,
    pub contacts: Vec<Contact>,
    pub preferred_language: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Sought {
    pub names: Vec<Name>,
    pub birth_date: Option<PartialDate>,
    pub birth_place: String,
    pub sex: i32,
    pub category: i32,
    pub rank: String,
    pub unit: String,
    pub service_number: String,
    pub documents: Vec<(i32, String, String)>,
    pub last_contact_date: Option<PartialDate>,
    pub last_contact_place: String,
    pub circumstances: String,
    pub distinguishing_features: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Tracing,
    Contact,
    ShareWithTracingAgency,
    ShareWithOtherParty,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub purpose: Purpose,
    pub method: i32,
    pub granted_at_us: i64,
    pub recorded_by: String,
    pub withdrawn_at_us: Option<i64>,
    pub withdraw_note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    Unverified,
    Verified,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationRecord {
    pub state: Verification,
    pub method: i32,
    pub decided_by: String,
    pub decided_at_us: Option<i64>,
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InquiryState {
    Open,
    Linked,
    Closed,
}

impl InquiryState {
    pub fn tag(self) -> &'static str {
        match self {
            InquiryState::Open => "open",
            InquiryState::Linked => "linked",
            InquiryState::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskFlag {
    pub kind: i32,
    pub detail: String,
    pub related: Vec<Uuid>,
    pub raised_at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inquiry {
    pub id: Uuid,
    pub reference: String,
    /// SHA-256 of the access code with the inquiry id; the code itself is never stored.
    pub access_code_hash: String,
    pub requester: Requester,
    pub sought: Sought,
    pub consents: Vec<Consent>,
    pub verification: VerificationRecord,
    pub state: InquiryState,
    pub close_reason: i32,
    pub close_note: String,
    pub duplicate_of: Option<Uuid>,
    pub risk_flags: Vec<RiskFlag>,
    pub intake_channel: i32,
    pub office: String,
    pub tracing_agency_reference: String,
    /// The registry person of the confirmed link.
    pub person_id: Option<Uuid>,
    pub created_at_us: i64,
    pub updated_at_us: i64,
}

impl Inquiry {
    pub fn consented(&self, purpose: Purpose) -> bool {
        self.consents
            .iter()
            .any(|c| c.purpose == purpose && c.withdrawn_at_us.is_none())
    }

    pub fn verified(&self) -> bool {
        self.verification.state == Verification::Verified
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    Proposed,
    Confirmed,
    Rejected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Withholding {
    Pending,
    Withhold,
    Release,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithholdingFlag {
    pub decision: Withholding,
    pub reason: String,
    pub raised_by: String,
    pub raised_at_us: i64,
    pub decided_by: String,
    pub decided_at_us: Option<i64>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub id: Uuid,
    pub inquiry_id: Uuid,
    pub person_id: Uuid,
    pub state: LinkState,
    pub confidence: f64,
    pub explanation: Vec<String>,
    pub evidence_note: String,
    pub proposed_by: String,
    pub proposed_at_us: i64,
    pub decided_by: String,
    pub decided_at_us: Option<i64>,
    pub decision_note: String,
    pub withholding: Option<WithholdingFlag>,
}

impl Link {
    /// Automated news about the person is held while a withholding flag is pending or upheld.
    pub fn holds_news(&self) -> bool {
        self.withholding
            .as_ref()
            .is_some_and(|w| w.decision != Withholding::Release)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    InquiryReceived,
    PersonHeld,
    StatusUpdate,
    Repatriated,
    Released,
    Deceased,
    InquiryClosed,
}

impl Kind {
    /// News a trained officer gives in person, never a machine.
    pub fn grave(self) -> bool {
        matches!(self, Kind::PersonHeld | Kind::Deceased)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationState {
    Withheld,
    Embargoed,
    Queued,
    Delivered,
    Failed,
    InPerson,
    Cancelled,
}

impl NotificationState {
    pub fn tag(self) -> &'static str {
        match self {
            NotificationState::Withheld => "withheld",
            NotificationState::Embargoed => "embargoed",
            NotificationState::Queued => "queued",
            NotificationState::Delivered => "delivered",
            NotificationState::Failed => "failed",
            NotificationState::InPerson => "in_person",
            NotificationState::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: Uuid,
    pub inquiry_id: Uuid,
    pub link_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    pub kind: Kind,
    pub state: NotificationState,
    pub language: String,
    pub subject: String,
    pub body: String,
    pub source_event_id: String,
    /// The exchange phase the news belongs to (while embargoed: whose completion it waits for).
    pub embargo_phase: Option<String>,
    pub delivery_ids: Vec<Uuid>,
    pub task_id: Option<Uuid>,
    pub note: String,
    pub created_at_us: i64,
    pub updated_at_us: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Sent,
    Delivered,
    DeadLetter,
    Cancelled,
}

impl DeliveryState {
    pub fn tag(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sent => "sent",
            DeliveryState::Delivered => "delivered",
            DeliveryState::DeadLetter => "dead_letter",
            DeliveryState::Cancelled => "cancelled",
        }
    }
}

/// One attempt's outcome, kept on the delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at_us: i64,
    pub outcome: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: Uuid,
    pub notification_id: Uuid,
    pub channel: ChannelKind,
    pub address: String,
    pub messenger: String,
    pub state: DeliveryState,
    pub attempts: u32,
    pub next_attempt_at_us: Option<i64>,
    pub last_error: String,
    pub provider_message_id: String,
    pub history: Vec<Attempt>,
    pub created_at_us: i64,
    pub updated_at_us: i64,
    pub delivered_at_us: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    CaptureNotice,
    DeathNotice,
    OtherGraveNews,
    WithholdingReview,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Open,
    Assigned,
    Done,
    Cancelled,
}

impl TaskState {
    pub fn tag(self) -> &'static str {
        match self {
            TaskState::Open => "open",
            TaskState::Assigned => "assigned",
            TaskState::Done => "done",
            TaskState::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskAttempt {
    pub outcome: i32,
    pub at_us: i64,
    pub officer: String,
    pub note: String,
    pub support_offered: bool,
    pub referred_to: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: Uuid,
    pub inquiry_id: Uuid,
    pub notification_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    pub kind: TaskKind,
    pub state: TaskState,
    pub office: String,
    pub assignee: String,
    pub due_at_us: Option<i64>,
    pub attempts: Vec<TaskAttempt>,
    pub created_at_us: i64,
    pub updated_at_us: i64,
    pub closed_at_us: Option<i64>,
}

/// Where a followed event stream was read up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub stream: String,
    pub cursor: String,
    pub events: u64,
    pub updated_at_us: i64,
}

/// That one event took effect, written with its effects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handled {
    pub stream: String,
    pub event_id: String,
    pub event_type: String,
    pub notifications: u32,
    pub at_us: i64,
}

/// Inquiries that gave one contact address (kept under a hash of the address).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContactUse {
    pub inquiries: Vec<Uuid>,
}

/// Failed family status checks against one reference, in the current window.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FailedChecks {
    pub window_start_us: i64,
    pub failures: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked_so_they_can_be_recognised_not_used() {
        assert_eq!(mask("natalia.k@example.org"), "n***@e***");
        assert_eq!(mask("+380501234567"), "+3***67");
        assert_eq!(mask("abc"), "***");
    }
}
