//! Parsing of the values a registrar, an exchange officer or a family liaison officer types: enum
//! words, partial dates, durations, timestamps, name variants, quota lines and a family's
//! contacts. The same parsers serve flags and CSV cells, so a word that works on the command line
//! works in an import file too.
//!
//! These check form only (is it a date, is it a known word); whether a record makes sense is the
//! service's decision, and this module must never second-guess it.

use std::time::Duration;

use clap::ValueEnum;
use homeward_kit::auth::Role;
use homeward_proto::{
    common::v1 as common, exchange::v1 as xpb, notification::v1 as npb, registry::v1 as pb,
};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CategoryArg {
    #[value(alias = "service_member")]
    ServiceMember,
    Civilian,
}

impl From<CategoryArg> for common::PersonCategory {
    fn from(c: CategoryArg) -> Self {
        match c {
            CategoryArg::ServiceMember => Self::ServiceMember,
            CategoryArg::Civilian => Self::Civilian,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SexArg {
    #[value(alias = "m")]
    Male,
    #[value(alias = "f")]
    Female,
}

impl From<SexArg> for common::Sex {
    fn from(s: SexArg) -> Self {
        match s {
            SexArg::Male => Self::Male,
            SexArg::Female => Self::Female,
        }
    }
}

/// The statuses a new person may start in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitialStatusArg {
    Captured,
    Interned,
    Hospitalised,
    Missing,
}

impl From<InitialStatusArg> for pb::PersonStatus {
    fn from(s: InitialStatusArg) -> Self {
        match s {
            InitialStatusArg::Captured => Self::Captured,
            InitialStatusArg::Interned => Self::Interned,
            InitialStatusArg::Hospitalised => Self::Hospitalised,
            InitialStatusArg::Missing => Self::Missing,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    Captured,
    Interned,
    Transferred,
    #[value(alias = "hospitalized")]
    Hospitalised,
    Escaped,
    ReservedForExchange,
    Repatriated,
    Released,
    Deceased,
    Missing,
    RefusedRepatriation,
}

impl From<StatusArg> for pb::PersonStatus {
    fn from(s: StatusArg) -> Self {
        match s {
            StatusArg::Captured => Self::Captured,
            StatusArg::Interned => Self::Interned,
            StatusArg::Transferred => Self::Transferred,
            StatusArg::Hospitalised => Self::Hospitalised,
            StatusArg::Escaped => Self::Escaped,
            StatusArg::ReservedForExchange => Self::ReservedForExchange,
            StatusArg::Repatriated => Self::Repatriated,
            StatusArg::Released => Self::Released,
            StatusArg::Deceased => Self::Deceased,
            StatusArg::Missing => Self::Missing,
            StatusArg::RefusedRepatriation => Self::RefusedRepatriation,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceArg {
    OwnReport,
    OtherPartyList,
    TracingAgency,
    ReturneeDebrief,
    OpenSource,
    IdentityDocument,
    Family,
}

impl From<SourceArg> for common::InformationSource {
    fn from(s: SourceArg) -> Self {
        match s {
            SourceArg::OwnReport => Self::OwnReport,
            SourceArg::OtherPartyList => Self::OtherPartyList,
            SourceArg::TracingAgency => Self::TracingAgency,
            SourceArg::ReturneeDebrief => Self::ReturneeDebrief,
            SourceArg::OpenSource => Self::OpenSource,
            SourceArg::IdentityDocument => Self::IdentityDocument,
            SourceArg::Family => Self::Family,
        }
    }
}

/// The admiralty grades; the letters A to F are accepted as well as the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReliabilityArg {
    #[value(alias = "a")]
    CompletelyReliable,
    #[value(alias = "b")]
    UsuallyReliable,
    #[value(alias = "c")]
    FairlyReliable,
    #[value(alias = "d")]
    NotUsuallyReliable,
    #[value(alias = "e")]
    Unreliable,
    #[value(alias = "f")]
    CannotBeJudged,
}

impl From<ReliabilityArg> for common::Reliability {
    fn from(r: ReliabilityArg) -> Self {
        match r {
            ReliabilityArg::CompletelyReliable => Self::CompletelyReliable,
            ReliabilityArg::UsuallyReliable => Self::UsuallyReliable,
            ReliabilityArg::FairlyReliable => Self::FairlyReliable,
            ReliabilityArg::NotUsuallyReliable => Self::NotUsuallyReliable,
            ReliabilityArg::Unreliable => Self::Unreliable,
            ReliabilityArg::CannotBeJudged => Self::CannotBeJudged,
        }
    }
}

/// Roles are spelled as the token carries them (snake case); hyphens are accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum RoleArg {
    Registrar,
    #[value(alias = "exchange-officer")]
    ExchangeOfficer,
    #[value(alias = "family-liaison")]
    FamilyLiaison,
    Auditor,
    #[value(alias = "tracing-agency")]
    TracingAgency,
    Service,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Registrar => Role::Registrar,
            RoleArg::ExchangeOfficer => Role::ExchangeOfficer,
            RoleArg::FamilyLiaison => Role::FamilyLiaison,
            RoleArg::Auditor => Role::Auditor,
            RoleArg::TracingAgency => Role::TracingAgency,
            RoleArg::Service => Role::Service,
            RoleArg::Admin => Role::Admin,
        }
    }
}

/// Which of a party's two lists: the people it asks back, or the people it hands over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListKindArg {
    Request,
    Offer,
}

impl From<ListKindArg> for xpb::ListKind {
    fn from(k: ListKindArg) -> Self {
        match k {
            ListKindArg::Request => Self::Request,
            ListKindArg::Offer => Self::Offer,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PhaseStateArg {
    Draft,
    Negotiating,
    ListsFrozen,
    InHandover,
    Completed,
    PartiallyCompleted,
    Cancelled,
}

impl From<PhaseStateArg> for xpb::PhaseState {
    fn from(s: PhaseStateArg) -> Self {
        match s {
            PhaseStateArg::Draft => Self::Draft,
            PhaseStateArg::Negotiating => Self::Negotiating,
            PhaseStateArg::ListsFrozen => Self::ListsFrozen,
            PhaseStateArg::InHandover => Self::InHandover,
            PhaseStateArg::Completed => Self::Completed,
            PhaseStateArg::PartiallyCompleted => Self::PartiallyCompleted,
            PhaseStateArg::Cancelled => Self::Cancelled,
        }
    }
}

/// The outcomes of a reconciliation item; `substitution` and `review` are short for the two that
/// must be reviewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutcomeArg {
    Paired,
    UnmatchedRequest,
    UnmatchedOffer,
    #[value(alias = "substitution")]
    SuspectedSubstitution,
    #[value(alias = "review")]
    NeedsReview,
}

impl From<OutcomeArg> for xpb::ReconciliationOutcome {
    fn from(o: OutcomeArg) -> Self {
        match o {
            OutcomeArg::Paired => Self::Paired,
            OutcomeArg::UnmatchedRequest => Self::UnmatchedRequest,
            OutcomeArg::UnmatchedOffer => Self::UnmatchedOffer,
            OutcomeArg::SuspectedSubstitution => Self::SuspectedSubstitution,
            OutcomeArg::NeedsReview => Self::NeedsReview,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConsentArg {
    Willing,
    Refuses,
}

impl From<ConsentArg> for xpb::ConsentDecision {
    fn from(c: ConsentArg) -> Self {
        match c {
            ConsentArg::Willing => Self::Willing,
            ConsentArg::Refuses => Self::Refuses,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HoldBackReasonArg {
    CriminalProceedings,
    UnfitToTravel,
    NotAvailable,
    Other,
}

impl From<HoldBackReasonArg> for xpb::HoldBackReason {
    fn from(r: HoldBackReasonArg) -> Self {
        match r {
            HoldBackReasonArg::CriminalProceedings => Self::CriminalProceedings,
            HoldBackReasonArg::UnfitToTravel => Self::UnfitToTravel,
            HoldBackReasonArg::NotAvailable => Self::NotAvailable,
            HoldBackReasonArg::Other => Self::Other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckResultArg {
    Verified,
    Mismatch,
    NotOnList,
    Missing,
}

impl From<CheckResultArg> for xpb::HandoverCheckResult {
    fn from(r: CheckResultArg) -> Self {
        match r {
            CheckResultArg::Verified => Self::Verified,
            CheckResultArg::Mismatch => Self::Mismatch,
            CheckResultArg::NotOnList => Self::NotOnList,
            CheckResultArg::Missing => Self::Missing,
        }
    }
}

/// How identity was established at the handover; `document` and `photo` are short forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckMethodArg {
    #[value(alias = "document")]
    IdentityDocument,
    #[value(alias = "photo")]
    PhotoComparison,
    Fingerprints,
    Interview,
    Recognition,
}

impl From<CheckMethodArg> for xpb::IdentityCheckMethod {
    fn from(m: CheckMethodArg) -> Self {
        match m {
            CheckMethodArg::IdentityDocument => Self::IdentityDocument,
            CheckMethodArg::PhotoComparison => Self::PhotoComparison,
            CheckMethodArg::Fingerprints => Self::Fingerprints,
            CheckMethodArg::Interview => Self::Interview,
            CheckMethodArg::Recognition => Self::Recognition,
        }
    }
}

/// `NOTIFICATION_STATE_EMBARGOED`, announced for the notification contract: news waiting for an
/// exchange phase to complete. Sent and read by its number, so a client built before the
/// generated code knows it still filters by it and shows it.
pub const NOTIFICATION_STATE_EMBARGOED: i32 = 7;

/// `TASK_KIND_WITHHOLDING_REVIEW`, announced for the notification contract: an officer must
/// decide whether news would harm the person. Read by its number, as above.
pub const TASK_KIND_WITHHOLDING_REVIEW: i32 = 4;

/// How the requester is related to the person sought. The everyday words (mother, son, wife,
/// lawyer) are accepted for the coarse ones; --relationship-detail keeps the requester's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RelationshipArg {
    #[value(alias = "mother", alias = "father")]
    Parent,
    #[value(alias = "wife", alias = "husband")]
    Spouse,
    Partner,
    #[value(alias = "son", alias = "daughter")]
    Child,
    #[value(alias = "brother", alias = "sister")]
    Sibling,
    #[value(alias = "grandmother", alias = "grandfather")]
    Grandparent,
    OtherRelative,
    #[value(alias = "lawyer", alias = "guardian")]
    LegalRepresentative,
    Other,
}

impl From<RelationshipArg> for npb::Relationship {
    fn from(r: RelationshipArg) -> Self {
        match r {
            RelationshipArg::Parent => Self::Parent,
            RelationshipArg::Spouse => Self::Spouse,
            RelationshipArg::Partner => Self::Partner,
            RelationshipArg::Child => Self::Child,
            RelationshipArg::Sibling => Self::Sibling,
            RelationshipArg::Grandparent => Self::Grandparent,
            RelationshipArg::OtherRelative => Self::OtherRelative,
            RelationshipArg::LegalRepresentative => Self::LegalRepresentative,
            RelationshipArg::Other => Self::Other,
        }
    }
}

/// The languages notifications are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LanguageArg {
    Uk,
    Ru,
    En,
}

impl LanguageArg {
    /// The BCP 47 tag the service takes.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Uk => "uk",
            Self::Ru => "ru",
            Self::En => "en",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IntakeArg {
    InPerson,
    Phone,
    Email,
    Letter,
    TracingAgency,
}

impl From<IntakeArg> for npb::IntakeChannel {
    fn from(i: IntakeArg) -> Self {
        match i {
            IntakeArg::InPerson => Self::InPerson,
            IntakeArg::Phone => Self::Phone,
            IntakeArg::Email => Self::Email,
            IntakeArg::Letter => Self::Letter,
            IntakeArg::TracingAgency => Self::TracingAgency,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConsentPurposeArg {
    Tracing,
    Contact,
    #[value(alias = "tracing-agency")]
    ShareWithTracingAgency,
    #[value(alias = "other-party")]
    ShareWithOtherParty,
}

impl From<ConsentPurposeArg> for npb::ConsentPurpose {
    fn from(p: ConsentPurposeArg) -> Self {
        match p {
            ConsentPurposeArg::Tracing => Self::Tracing,
            ConsentPurposeArg::Contact => Self::Contact,
            ConsentPurposeArg::ShareWithTracingAgency => Self::ShareWithTracingAgency,
            ConsentPurposeArg::ShareWithOtherParty => Self::ShareWithOtherParty,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConsentMethodArg {
    Written,
    Oral,
    Electronic,
}

impl From<ConsentMethodArg> for npb::ConsentMethod {
    fn from(m: ConsentMethodArg) -> Self {
        match m {
            ConsentMethodArg::Written => Self::Written,
            ConsentMethodArg::Oral => Self::Oral,
            ConsentMethodArg::Electronic => Self::Electronic,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InquiryStateArg {
    Open,
    Linked,
    Closed,
}

impl From<InquiryStateArg> for npb::InquiryState {
    fn from(s: InquiryStateArg) -> Self {
        match s {
            InquiryStateArg::Open => Self::Open,
            InquiryStateArg::Linked => Self::Linked,
            InquiryStateArg::Closed => Self::Closed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerificationStateArg {
    Unverified,
    Verified,
    Rejected,
}

impl From<VerificationStateArg> for npb::VerificationState {
    fn from(s: VerificationStateArg) -> Self {
        match s {
            VerificationStateArg::Unverified => Self::Unverified,
            VerificationStateArg::Verified => Self::Verified,
            VerificationStateArg::Rejected => Self::Rejected,
        }
    }
}

/// How the requester's identity and relationship were checked. The contract's longer names (as
/// `inquiry get` shows them) are accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerificationMethodArg {
    #[value(alias = "identity-document-in-person")]
    DocumentInPerson,
    DocumentCopy,
    VideoCall,
    CivilRecords,
    KnownToOffice,
    #[value(alias = "tracing-agency-referral")]
    TracingAgency,
}

impl From<VerificationMethodArg> for npb::VerificationMethod {
    fn from(m: VerificationMethodArg) -> Self {
        match m {
            VerificationMethodArg::DocumentInPerson => Self::IdentityDocumentInPerson,
            VerificationMethodArg::DocumentCopy => Self::DocumentCopy,
            VerificationMethodArg::VideoCall => Self::VideoCall,
            VerificationMethodArg::CivilRecords => Self::CivilRecords,
            VerificationMethodArg::KnownToOffice => Self::KnownToOffice,
            VerificationMethodArg::TracingAgency => Self::TracingAgencyReferral,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CloseReasonArg {
    Resolved,
    #[value(alias = "withdrawn-by-requester")]
    Withdrawn,
    ConsentWithdrawn,
    Duplicate,
    Fraudulent,
}

impl From<CloseReasonArg> for npb::CloseReason {
    fn from(r: CloseReasonArg) -> Self {
        match r {
            CloseReasonArg::Resolved => Self::Resolved,
            CloseReasonArg::Withdrawn => Self::WithdrawnByRequester,
            CloseReasonArg::ConsentWithdrawn => Self::ConsentWithdrawn,
            CloseReasonArg::Duplicate => Self::Duplicate,
            CloseReasonArg::Fraudulent => Self::Fraudulent,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LinkStateArg {
    Proposed,
    Confirmed,
    Rejected,
}

impl From<LinkStateArg> for npb::LinkState {
    fn from(s: LinkStateArg) -> Self {
        match s {
            LinkStateArg::Proposed => Self::Proposed,
            LinkStateArg::Confirmed => Self::Confirmed,
            LinkStateArg::Rejected => Self::Rejected,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NotificationKindArg {
    InquiryReceived,
    PersonHeld,
    StatusUpdate,
    Repatriated,
    Released,
    Deceased,
    InquiryClosed,
}

impl From<NotificationKindArg> for npb::NotificationKind {
    fn from(k: NotificationKindArg) -> Self {
        match k {
            NotificationKindArg::InquiryReceived => Self::InquiryReceived,
            NotificationKindArg::PersonHeld => Self::PersonHeld,
            NotificationKindArg::StatusUpdate => Self::StatusUpdate,
            NotificationKindArg::Repatriated => Self::Repatriated,
            NotificationKindArg::Released => Self::Released,
            NotificationKindArg::Deceased => Self::Deceased,
            NotificationKindArg::InquiryClosed => Self::InquiryClosed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NotificationStateArg {
    Withheld,
    Queued,
    Delivered,
    Failed,
    InPerson,
    Cancelled,
    /// Waiting for an exchange phase to complete.
    Embargoed,
}

impl NotificationStateArg {
    /// The state's number in the contract; embargoed goes by its announced number.
    pub fn code(self) -> i32 {
        let state = match self {
            Self::Withheld => npb::NotificationState::Withheld,
            Self::Queued => npb::NotificationState::Queued,
            Self::Delivered => npb::NotificationState::Delivered,
            Self::Failed => npb::NotificationState::Failed,
            Self::InPerson => npb::NotificationState::InPerson,
            Self::Cancelled => npb::NotificationState::Cancelled,
            Self::Embargoed => return NOTIFICATION_STATE_EMBARGOED,
        };
        state as i32
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeliveryStateArg {
    Pending,
    Sent,
    Delivered,
    DeadLetter,
    Cancelled,
}

impl From<DeliveryStateArg> for npb::DeliveryState {
    fn from(s: DeliveryStateArg) -> Self {
        match s {
            DeliveryStateArg::Pending => Self::Pending,
            DeliveryStateArg::Sent => Self::Sent,
            DeliveryStateArg::Delivered => Self::Delivered,
            DeliveryStateArg::DeadLetter => Self::DeadLetter,
            DeliveryStateArg::Cancelled => Self::Cancelled,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChannelArg {
    Email,
    Sms,
    Messenger,
    /// A letter rendered to a file, for post or the tracing agency.
    File,
}

impl From<ChannelArg> for npb::Channel {
    fn from(c: ChannelArg) -> Self {
        match c {
            ChannelArg::Email => Self::Email,
            ChannelArg::Sms => Self::Sms,
            ChannelArg::Messenger => Self::Messenger,
            ChannelArg::File => Self::File,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TaskStateArg {
    Open,
    Assigned,
    Done,
    Cancelled,
}

impl From<TaskStateArg> for npb::TaskState {
    fn from(s: TaskStateArg) -> Self {
        match s {
            TaskStateArg::Open => Self::Open,
            TaskStateArg::Assigned => Self::Assigned,
            TaskStateArg::Done => Self::Done,
            TaskStateArg::Cancelled => Self::Cancelled,
        }
    }
}

/// The messaging apps a family can be reached through.
pub const MESSENGERS: [&str; 4] = ["signal", "telegram", "viber", "whatsapp"];

/// A contact of the family on `channel` at `address`, not yet preferred nor verified.
fn contact(channel: npb::Channel, address: String, messenger: &str) -> npb::ContactChannel {
    npb::ContactChannel {
        channel: channel as i32,
        address,
        messenger: messenger.to_string(),
        preferred: false,
        verified: false,
    }
}

/// An email address: one `@` with a name before it and a domain with a dot after it. Whether the
/// mailbox exists is for the delivery to find out.
pub fn email(value: &str) -> Result<npb::ContactChannel, String> {
    let value = value.trim();
    let bad =
        |why: &str| format!("`{value}` is not an email address: {why} (such as name@example.org)");
    if value.chars().any(char::is_whitespace) {
        return Err(bad("it has a space in it"));
    }
    let (local, domain) = match value.split('@').collect::<Vec<_>>()[..] {
        [local, domain] => (local, domain),
        [_] => return Err(bad("it has no @")),
        _ => return Err(bad("it has more than one @")),
    };
    if local.is_empty() {
        return Err(bad("nothing comes before the @"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
        return Err(bad(
            "the part after the @ is not a domain such as example.org",
        ));
    }
    Ok(contact(npb::Channel::Email, value.to_string(), ""))
}

/// A phone number in international form, stored as E.164 (`+380671234567`). Spaces, dashes,
/// dots and brackets are dropped, and a leading 00 is read as +.
pub fn phone(value: &str) -> Result<npb::ContactChannel, String> {
    Ok(contact(npb::Channel::Sms, e164(value)?, ""))
}

/// `value` as an E.164 number: + and 7 to 15 digits, the first not 0.
fn e164(value: &str) -> Result<String, String> {
    let value = value.trim();
    let bad = |why: &str| {
        format!(
            "`{value}` is not a phone number: {why} (write it with the country code, such as +380671234567)"
        )
    };
    let compact: String = value
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}'))
        .collect();
    let digits = match (compact.strip_prefix('+'), compact.strip_prefix("00")) {
        (Some(d), _) | (None, Some(d)) => d,
        (None, None) if compact.is_empty() => return Err(bad("it is empty")),
        (None, None) => return Err(bad("it has no country code")),
    };
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad("only digits may follow the +"));
    }
    if digits.starts_with('0') {
        return Err(bad("a country code does not start with 0"));
    }
    if !(7..=15).contains(&digits.len()) {
        return Err(bad("an international number has 7 to 15 digits"));
    }
    Ok(format!("+{digits}"))
}

/// A messenger contact, `KIND:HANDLE`: `telegram:@kovalenko_o`, `signal:+380671234567`. KIND is
/// one of [`MESSENGERS`]; a handle that is a phone number is stored as E.164.
pub fn messenger(value: &str) -> Result<npb::ContactChannel, String> {
    let value = value.trim();
    let form = format!(
        "write KIND:HANDLE, such as telegram:@kovalenko_o or signal:+380671234567, where KIND is {}",
        MESSENGERS.join(", ")
    );
    let Some((kind, handle)) = value.split_once(':') else {
        return Err(format!("`{value}` is not a messenger contact: {form}"));
    };
    let kind = kind.trim().to_lowercase();
    if !MESSENGERS.contains(&kind.as_str()) {
        return Err(format!(
            "`{value}`: `{kind}` is not a messenger this service sends through ({form})"
        ));
    }
    let handle = handle.trim();
    let address = if handle.starts_with('+') || handle.starts_with("00") {
        e164(handle).map_err(|e| format!("`{value}`: {e}"))?
    } else if handle.is_empty() {
        return Err(format!("`{value}` names no handle ({form})"));
    } else if handle.chars().any(char::is_whitespace) {
        return Err(format!("`{value}`: a handle has no spaces ({form})"));
    } else {
        handle.to_string()
    };
    Ok(contact(npb::Channel::Messenger, address, &kind))
}

/// A postal address for letters, as it goes on the envelope.
pub fn postal(value: &str) -> Result<npb::ContactChannel, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("a postal address cannot be empty".into());
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err("a postal address cannot hold control characters".into());
    }
    Ok(contact(npb::Channel::File, value.to_string(), ""))
}

/// An RFC 3339 instant as [`timestamp`] reads it, for repeating a time in a retry hint.
pub fn timestamp_text(ts: &prost_types::Timestamp) -> String {
    let nanos = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos);
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Parses one of the words of a value enum, ignoring case; the error lists the accepted words.
pub fn enum_word<T: ValueEnum>(value: &str) -> Result<T, String> {
    T::from_str(value.trim(), true).map_err(|_| {
        let words: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|p| p.get_name().to_string())
            .collect();
        format!("`{}` is not one of {}", value.trim(), words.join(", "))
    })
}

const DATE_FORMS: &str = "expected YYYY, YYYY-MM or YYYY-MM-DD";

/// A date of which only the year, or the year and month, may be known.
pub fn partial_date(value: &str) -> Result<common::PartialDate, String> {
    let value = value.trim();
    let bad = |why: &str| format!("`{value}` is not a date: {why} ({DATE_FORMS})");
    let parts: Vec<&str> = value.split('-').collect();
    if parts.len() > 3 {
        return Err(bad("too many parts"));
    }
    let number = |part: &str, digits: usize, what: &str| -> Result<i32, String> {
        if part.len() != digits || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(&format!("the {what} must have {digits} digits")));
        }
        part.parse::<i32>()
            .map_err(|_| bad(&format!("unreadable {what}")))
    };
    let year = number(parts[0], 4, "year")?;
    if year == 0 {
        return Err(bad("there is no year 0"));
    }
    let month = match parts.get(1) {
        Some(m) => number(m, 2, "month")?,
        None => 0,
    };
    let day = match parts.get(2) {
        Some(d) => number(d, 2, "day")?,
        None => 0,
    };
    if parts.len() > 1 && !(1..=12).contains(&month) {
        return Err(bad("the month must be 01 to 12"));
    }
    if parts.len() > 2 {
        // `time` knows month lengths and leap years; the month was range-checked above.
        let m =
            time::Month::try_from(month as u8).map_err(|_| bad("the month must be 01 to 12"))?;
        time::Date::from_calendar_date(year, m, day as u8)
            .map_err(|_| bad("that day does not exist in that month"))?;
    }
    Ok(common::PartialDate { year, month, day })
}

/// A token lifetime: a number followed by s, m, h or d ("90s", "30m", "12h", "7d"); a bare number
/// is seconds.
pub fn duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    let bad = || format!("`{value}` is not a duration: use a number and s, m, h or d, such as 12h");
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    let secs = n.checked_mul(scale).ok_or_else(bad)?;
    if secs == 0 {
        return Err(format!(
            "`{value}` is not a usable duration: it must be longer than zero"
        ));
    }
    Ok(Duration::from_secs(secs))
}

/// An RFC 3339 instant, such as 2024-05-17T09:30:00Z or 2024-05-17T12:30:00+03:00.
pub fn timestamp(value: &str) -> Result<prost_types::Timestamp, String> {
    let at = OffsetDateTime::parse(value.trim(), &Rfc3339).map_err(|e| {
        format!("`{value}` is not an RFC 3339 time such as 2024-05-17T09:30:00Z: {e}")
    })?;
    Ok(prost_types::Timestamp {
        seconds: at.unix_timestamp(),
        nanos: at.nanosecond() as i32,
    })
}

/// An extra name variant: `given|family|patronymic|script`, trailing parts optional; the script
/// is `cyrillic`, `latin` or empty (the registry then detects it).
pub fn name_variant(value: &str) -> Result<common::PersonName, String> {
    let parts: Vec<&str> = value.split('|').map(str::trim).collect();
    if parts.len() > 4 {
        return Err(format!(
            "`{value}` has more than 4 parts: use given|family|patronymic|script"
        ));
    }
    let part = |i: usize| parts.get(i).copied().unwrap_or_default().to_string();
    let script = match part(3).to_lowercase().as_str() {
        "" => common::Script::Unspecified,
        "cyrillic" | "cyrl" => common::Script::Cyrillic,
        "latin" | "latn" => common::Script::Latin,
        other => return Err(format!("`{other}` is not a script: use cyrillic or latin")),
    };
    let name = common::PersonName {
        script: script as i32,
        given: part(0),
        family: part(1),
        patronymic: part(2),
        ..Default::default()
    };
    if name.given.is_empty() && name.family.is_empty() {
        return Err(format!("`{value}` has neither a given nor a family name"));
    }
    Ok(name)
}

/// A confidence threshold, above 0 and at most 1. Zero is refused because the registry reads it
/// as "use the default", which is not what someone typing 0 means.
pub fn confidence(value: &str) -> Result<f64, String> {
    let value = value.trim();
    let c: f64 = value
        .parse()
        .map_err(|_| format!("`{value}` is not a number such as 0.8"))?;
    if c > 0.0 && c <= 1.0 {
        Ok(c)
    } else {
        Err(format!(
            "`{value}` is not a confidence: it is above 0 and at most 1; use a small number such as 0.01 to see weak candidates too"
        ))
    }
}

const QUOTA_FORM: &str = "write key=value pairs joined by commas, such as \
     party=UA,category=service-member,sex=female,age=18-60,count=3; only count is required";

/// One quota line: `key=value` pairs joined by commas, from `party` (empty: each party alike),
/// `category`, `sex`, `age` (see [`age_band`]) and `count`, which is required. A key left out
/// means any; a line with only a count is a party's total.
pub fn quota(value: &str) -> Result<xpb::Quota, String> {
    let value = value.trim();
    let bad = |why: String| format!("`{value}` is not a quota line: {why} ({QUOTA_FORM})");
    let mut quota = xpb::Quota::default();
    let mut count = None;
    let mut seen: Vec<String> = Vec::new();
    for pair in value.split(',') {
        let pair = pair.trim();
        let Some((key, v)) = pair.split_once('=') else {
            return Err(bad(if pair.is_empty() {
                "it has an empty part".into()
            } else {
                format!("`{pair}` has no `=`")
            }));
        };
        let (key, v) = (key.trim().to_lowercase(), v.trim());
        if seen.contains(&key) {
            return Err(bad(format!("`{key}` is given twice")));
        }
        if v.is_empty() {
            return Err(bad(format!("`{key}` has no value")));
        }
        match key.as_str() {
            "party" => quota.party = v.to_string(),
            "category" => {
                let c = enum_word::<CategoryArg>(v).map_err(|e| bad(format!("category {e}")))?;
                quota.category = common::PersonCategory::from(c) as i32;
            }
            "sex" => {
                let s = enum_word::<SexArg>(v).map_err(|e| bad(format!("sex {e}")))?;
                quota.sex = common::Sex::from(s) as i32;
            }
            // The age error shows its own forms; the quota form after it would bury them.
            "age" => {
                quota.age_band =
                    Some(age_band(v).map_err(|e| format!("`{value}` is not a quota line: {e}"))?)
            }
            "count" => {
                let n = v
                    .parse::<u32>()
                    .map_err(|_| bad(format!("count `{v}` is not a whole number of people")))?;
                count = Some(n);
            }
            other => {
                return Err(bad(format!(
                    "`{other}` is not a quota key: the keys are party, category, sex, age and count"
                )));
            }
        }
        seen.push(key);
    }
    quota.count = count.ok_or_else(|| bad("it has no count".into()))?;
    Ok(quota)
}

/// The oldest age a band may name; anything above is a typing error.
const MAX_AGE: u32 = 150;

/// An age band in completed years, both ends included: `18-60`; `60-` or `60+` for 60 and
/// older; `-17` for up to 17.
pub fn age_band(value: &str) -> Result<xpb::AgeBand, String> {
    let value = value.trim();
    let bad = |why: &str| {
        format!(
            "age `{value}` is not an age band: {why} (write 18-60, 60+ for 60 and older, or -17 for up to 17)"
        )
    };
    let (low, high) = if let Some(low) = value.strip_suffix('+') {
        (low, "")
    } else {
        value
            .split_once('-')
            .ok_or_else(|| bad("it needs a range, such as 65-65 for one age"))?
    };
    let age = |part: &str| -> Result<Option<u32>, String> {
        let part = part.trim();
        if part.is_empty() {
            return Ok(None);
        }
        match part.parse::<u32>() {
            Ok(n) if n <= MAX_AGE => Ok(Some(n)),
            Ok(_) => Err(bad(&format!("ages are at most {MAX_AGE}"))),
            Err(_) => Err(bad(&format!("`{part}` is not a whole number of years"))),
        }
    };
    let (min, max) = (age(low)?, age(high)?);
    match (min, max) {
        (None, None) => Err(bad("it names no age")),
        // The contract reads an upper bound of 0 as "none", so it cannot be asked for.
        (_, Some(0)) => Err(bad("an upper age of 0 cannot be given")),
        (Some(min), Some(max)) if min > max => Err(bad("the lower age is above the upper one")),
        (min, max) => Ok(xpb::AgeBand {
            min_age: min.unwrap_or_default(),
            max_age: max.unwrap_or_default(),
        }),
    }
}

/// A yes/no cell; empty means no.
pub fn flag(value: &str) -> Result<bool, String> {
    match value.trim().to_lowercase().as_str() {
        "" | "0" | "n" | "no" | "false" => Ok(false),
        "1" | "y" | "yes" | "true" | "x" => Ok(true),
        other => Err(format!(
            "`{other}` is not yes or no (use true/false, yes/no or 1/0)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: i32, day: i32) -> common::PartialDate {
        common::PartialDate { year, month, day }
    }

    #[test]
    fn partial_dates_accept_a_year_a_month_or_a_full_date() {
        assert_eq!(partial_date("1990"), Ok(date(1990, 0, 0)));
        assert_eq!(partial_date("1990-05"), Ok(date(1990, 5, 0)));
        assert_eq!(partial_date(" 1992-02-29 "), Ok(date(1992, 2, 29)));
    }

    #[test]
    fn impossible_or_misshapen_dates_are_refused_with_the_expected_forms() {
        for bad in [
            "",
            "90",
            "1990-5",
            "1990-13",
            "1990-00",
            "1991-02-29",
            "1990-04-31",
            "1990-01-01-01",
            "abcd",
            "0000",
            "1990/05/01",
            "-1990",
        ] {
            let err = partial_date(bad).expect_err(bad);
            assert!(err.contains(DATE_FORMS), "{bad}: {err}");
        }
    }

    #[test]
    fn durations_take_a_unit_and_refuse_zero_and_overflow() {
        assert_eq!(duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(duration("30m"), Ok(Duration::from_secs(1_800)));
        assert_eq!(duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(duration("90"), Ok(Duration::from_secs(90)));
        for bad in [
            "",
            "h",
            "0h",
            "12w",
            "1.5h",
            "-1h",
            "99999999999999999999d",
            "18446744073709551615d",
        ] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_with_an_offset() {
        let t = timestamp("2024-05-17T12:30:00+03:00").unwrap();
        assert_eq!(t.seconds, 1_715_938_200);
        assert!(timestamp("2024-05-17 12:30").is_err());
    }

    #[test]
    fn name_variants_split_on_bars_and_name_their_script() {
        let n = name_variant("Олександр|Коваленко|Петрович|cyrillic").unwrap();
        assert_eq!(
            (n.given.as_str(), n.family.as_str()),
            ("Олександр", "Коваленко")
        );
        assert_eq!(n.patronymic, "Петрович");
        assert_eq!(n.script, common::Script::Cyrillic as i32);
        let n = name_variant("Oleksandr|Kovalenko").unwrap();
        assert_eq!(n.script, common::Script::Unspecified as i32);
        assert!(name_variant("|||latin").is_err());
        assert!(name_variant("a|b|c|klingon").is_err());
        assert!(name_variant("a|b|c|latin|x").is_err());
    }

    #[test]
    fn enum_words_ignore_case_accept_aliases_and_list_the_choices() {
        assert_eq!(
            enum_word::<CategoryArg>("Service-Member"),
            Ok(CategoryArg::ServiceMember)
        );
        assert_eq!(
            enum_word::<CategoryArg>("service_member"),
            Ok(CategoryArg::ServiceMember)
        );
        assert_eq!(
            enum_word::<ReliabilityArg>("B"),
            Ok(ReliabilityArg::UsuallyReliable)
        );
        assert_eq!(
            enum_word::<RoleArg>("exchange-officer"),
            Ok(RoleArg::ExchangeOfficer)
        );
        let err = enum_word::<SexArg>("x").unwrap_err();
        assert!(err.contains("male, female"), "{err}");
    }

    #[test]
    fn confidences_lie_above_zero_and_at_most_one() {
        assert_eq!(confidence("0.8"), Ok(0.8));
        assert_eq!(confidence(" 1 "), Ok(1.0));
        for bad in ["0", "0.0", "-0.5", "1.01", "NaN", "inf", "high", ""] {
            assert!(confidence(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_quota_line_with_only_a_count_is_a_total_for_each_party() {
        let q = quota("count=1000").unwrap();
        assert_eq!(
            q,
            xpb::Quota {
                count: 1000,
                ..Default::default()
            }
        );
        assert_eq!(q.age_band, None);
    }

    #[test]
    fn quota_keys_come_in_any_order_and_take_the_flag_words() {
        let q = quota(" Party=UA , sex=F, category=service_member, count=3 ").unwrap();
        assert_eq!(q.party, "UA");
        assert_eq!(q.sex, common::Sex::Female as i32);
        assert_eq!(q.category, common::PersonCategory::ServiceMember as i32);
        assert_eq!(q.count, 3);
        let q = quota("category=civilian,count=120").unwrap();
        assert_eq!(q.category, common::PersonCategory::Civilian as i32);
        assert_eq!(q.party, "");
    }

    #[test]
    fn age_bands_take_a_range_an_open_end_or_an_upper_limit() {
        let band = |min_age, max_age| Some(xpb::AgeBand { min_age, max_age });
        assert_eq!(quota("age=18-60,count=5").unwrap().age_band, band(18, 60));
        assert_eq!(quota("age=60+,count=5").unwrap().age_band, band(60, 0));
        assert_eq!(quota("age=60-,count=5").unwrap().age_band, band(60, 0));
        assert_eq!(quota("age=-17,count=5").unwrap().age_band, band(0, 17));
        assert_eq!(quota("age=65-65,count=1").unwrap().age_band, band(65, 65));
    }

    #[test]
    fn misshapen_quota_lines_are_refused_with_the_form_to_use() {
        for (bad, says) in [
            ("", "empty part"),
            ("count=", "`count` has no value"),
            ("party=UA", "no count"),
            ("count=1000,", "empty part"),
            ("count=-3", "not a whole number"),
            ("count=3.5", "not a whole number"),
            ("count=99999999999", "not a whole number"),
            ("count=1,count=2", "given twice"),
            ("colour=red,count=1", "`colour` is not a quota key"),
            ("category=soldier,count=1", "service-member, civilian"),
            ("sex=x,count=1", "male, female"),
            ("1000", "no `=`"),
        ] {
            let err = quota(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
            assert!(err.contains("only count is required"), "{bad}: {err}");
        }
        for (bad, says) in [
            ("age=65,count=1", "needs a range"),
            ("age=60-18,count=1", "lower age is above"),
            ("age=-,count=1", "names no age"),
            ("age=0-0,count=1", "upper age of 0"),
            ("age=18-200,count=1", "at most 150"),
            ("age=x-20,count=1", "`x` is not a whole number"),
            ("age=18-20-30,count=1", "not a whole number"),
        ] {
            let err = quota(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
            assert!(err.contains("write 18-60, 60+"), "{bad}: {err}");
        }
    }

    #[test]
    fn email_addresses_need_one_at_and_a_domain() {
        let c = email(" olena.kovalenko@example.org ").unwrap();
        assert_eq!(c.channel, npb::Channel::Email as i32);
        assert_eq!(c.address, "olena.kovalenko@example.org");
        assert!(!c.preferred && !c.verified);
        assert_eq!(
            email("олена@приклад.укр").unwrap().address,
            "олена@приклад.укр"
        );
        for (bad, says) in [
            ("", "no @"),
            ("olena.example.org", "no @"),
            ("a@b@example.org", "more than one @"),
            ("@example.org", "nothing comes before"),
            ("olena@", "not a domain"),
            ("olena@localhost", "not a domain"),
            ("olena@example..org", "not a domain"),
            ("olena@.org", "not a domain"),
            ("olena k@example.org", "space"),
        ] {
            let err = email(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
            assert!(err.contains("name@example.org"), "{bad}: {err}");
        }
    }

    #[test]
    fn phone_numbers_are_stored_in_e164_whatever_the_separators() {
        for (typed, stored) in [
            ("+380671234567", "+380671234567"),
            ("+380 67 123-45-67", "+380671234567"),
            ("+38 (067) 123.45.67", "+380671234567"),
            ("00380671234567", "+380671234567"),
            ("+44 20 7946 0958", "+442079460958"),
        ] {
            let c = phone(typed).unwrap();
            assert_eq!(c.address, stored, "{typed}");
            assert_eq!(c.channel, npb::Channel::Sms as i32);
        }
        for (bad, says) in [
            ("", "empty"),
            ("067 123 45 67", "no country code"),
            ("+380 67 ABC", "only digits"),
            ("+0671234567", "does not start with 0"),
            ("+38067", "7 to 15 digits"),
            ("+3806712345678901", "7 to 15 digits"),
            ("+", "7 to 15 digits"),
            ("+３８０６７１２３４５６７", "only digits"),
        ] {
            let err = phone(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
            assert!(err.contains("+380671234567"), "{bad}: {err}");
        }
    }

    #[test]
    fn messenger_contacts_name_a_known_app_and_a_handle() {
        let c = messenger("Telegram: @olena_k").unwrap();
        assert_eq!(c.channel, npb::Channel::Messenger as i32);
        assert_eq!(
            (c.messenger.as_str(), c.address.as_str()),
            ("telegram", "@olena_k")
        );
        let c = messenger("signal:+380 67 123 45 67").unwrap();
        assert_eq!(
            (c.messenger.as_str(), c.address.as_str()),
            ("signal", "+380671234567")
        );
        assert_eq!(
            messenger("whatsapp:00380671234567").unwrap().address,
            "+380671234567"
        );
        assert_eq!(messenger("viber:olena").unwrap().messenger, "viber");
        for (bad, says) in [
            ("", "KIND:HANDLE"),
            ("@olena_k", "KIND:HANDLE"),
            ("icq:12345", "not a messenger"),
            (":@olena_k", "not a messenger"),
            ("telegram:", "names no handle"),
            ("telegram:  ", "names no handle"),
            ("telegram:olena k", "no spaces"),
            ("signal:+38067", "7 to 15 digits"),
        ] {
            let err = messenger(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn postal_addresses_are_kept_as_written_but_not_empty() {
        let c = postal("  вул. Хрещатик 1,\nКиїв 01001 ").unwrap();
        assert_eq!(c.channel, npb::Channel::File as i32);
        assert_eq!(c.address, "вул. Хрещатик 1,\nКиїв 01001");
        assert!(postal("   ").is_err());
        assert!(postal("Kyiv\u{7}").is_err());
    }

    #[test]
    fn relationship_words_take_the_everyday_ones_and_refuse_others() {
        for (typed, relationship) in [
            ("parent", npb::Relationship::Parent),
            ("Mother", npb::Relationship::Parent),
            ("wife", npb::Relationship::Spouse),
            ("son", npb::Relationship::Child),
            ("sister", npb::Relationship::Sibling),
            ("other-relative", npb::Relationship::OtherRelative),
            ("lawyer", npb::Relationship::LegalRepresentative),
        ] {
            let arg = enum_word::<RelationshipArg>(typed).unwrap();
            assert_eq!(npb::Relationship::from(arg), relationship, "{typed}");
        }
        let err = enum_word::<RelationshipArg>("cousin").unwrap_err();
        assert!(err.contains("parent, spouse, partner"), "{err}");
        assert!(
            !err.contains("mother"),
            "aliases stay out of the list: {err}"
        );
    }

    #[test]
    fn notification_words_match_the_contract_and_its_announced_values() {
        assert_eq!(
            npb::VerificationMethod::from(
                enum_word::<VerificationMethodArg>("identity-document-in-person").unwrap()
            ),
            npb::VerificationMethod::IdentityDocumentInPerson
        );
        assert_eq!(
            npb::VerificationMethod::from(
                enum_word::<VerificationMethodArg>("tracing-agency").unwrap()
            ),
            npb::VerificationMethod::TracingAgencyReferral
        );
        assert_eq!(
            npb::CloseReason::from(enum_word::<CloseReasonArg>("withdrawn").unwrap()),
            npb::CloseReason::WithdrawnByRequester
        );
        assert_eq!(
            npb::ConsentPurpose::from(enum_word::<ConsentPurposeArg>("other-party").unwrap()),
            npb::ConsentPurpose::ShareWithOtherParty
        );
        assert_eq!(enum_word::<LanguageArg>("UK").unwrap().tag(), "uk");
        assert!(enum_word::<LanguageArg>("de").is_err());
        assert_eq!(
            NotificationStateArg::Embargoed.code(),
            NOTIFICATION_STATE_EMBARGOED
        );
        assert_eq!(
            NotificationStateArg::InPerson.code(),
            npb::NotificationState::InPerson as i32
        );
        assert_eq!(
            npb::DeliveryState::from(enum_word::<DeliveryStateArg>("dead-letter").unwrap()),
            npb::DeliveryState::DeadLetter
        );
    }

    #[test]
    fn a_time_read_from_a_flag_is_written_back_the_same() {
        let t = timestamp("2025-05-20T09:00:00.5Z").unwrap();
        assert_eq!(timestamp(&timestamp_text(&t)), Ok(t));
    }

    #[test]
    fn flags_read_yes_and_no_in_the_usual_spellings() {
        assert_eq!(flag(""), Ok(false));
        assert_eq!(flag("Yes"), Ok(true));
        assert_eq!(flag("0"), Ok(false));
        assert!(flag("maybe").is_err());
    }
}
