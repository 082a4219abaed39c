//! What the inquiry, link, notification and task commands show, built from the notification
//! service's answers. The conventions are the person views': enum values as the words the flags
//! take, times in RFC 3339 UTC, partial dates as YYYY[-MM[-DD]].
//!
//! A family's contact addresses are personal data: they are shown in full only by the view
//! `inquiry get` asks for ([`InquiryView::revealed`]) and masked everywhere else, here too even
//! when the service sent them in full. The access code is shown only by [`IssuedCodeView`].

use homeward_proto::notification::v1 as pb;
use serde::Serialize;
use time::OffsetDateTime;

use super::{
    DocumentView, NameView, attempt_outcome_word, category_word, channel_word, close_reason_word,
    confidence_text, consent_method_word, consent_purpose_word, count, date_text,
    delivery_state_word, document_word, family_status_word, inquiry_state_word, intake_word,
    link_state_word, notification_kind_word, notification_state_word, or_dash, relationship_word,
    risk_flag_word, sex_word, short_time, task_kind_word, task_state_word, time_of,
    verification_method_word, verification_state_word, withholding_word, yes_no,
};
use crate::output::{self, Render};

const HIDDEN: &str = "•••";

/// `address` with most of it hidden: enough to tell a family's channels apart, not enough to
/// reach them. An address the service masked already (it holds •) is kept as it is.
pub fn mask_address(channel: i32, address: &str) -> String {
    let address = address.trim();
    if address.is_empty() || address.contains('•') {
        return address.to_string();
    }
    let chars: Vec<char> = address.chars().collect();
    let head = |n: usize| chars.iter().take(n).collect::<String>();
    let tail = |n: usize| {
        chars[chars.len().saturating_sub(n)..]
            .iter()
            .collect::<String>()
    };
    let phone_like = address.starts_with('+') && chars.len() > 1;
    match pb::Channel::try_from(channel) {
        Ok(pb::Channel::Email) => match address.rsplit_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                match domain.rsplit_once('.') {
                    Some((_, top)) if !top.is_empty() => format!("{first}{HIDDEN}@{HIDDEN}.{top}"),
                    _ => format!("{first}{HIDDEN}@{HIDDEN}"),
                }
            }
            None => HIDDEN.into(),
        },
        // The country code and the last two digits, as the service masks numbers.
        _ if phone_like && chars.len() >= 8 => format!("{} {HIDDEN} {}", head(4), tail(2)),
        Ok(pb::Channel::Messenger) if chars.len() >= 4 && !phone_like => {
            format!("{}{HIDDEN}", head(2))
        }
        // A postal address, or anything too short to show a part of.
        _ => HIDDEN.into(),
    }
}

/// "by liaison-1 at 2025-05-20 09:00:00Z", leaving out what is not known; "-" for neither.
fn by_at(who: &str, when: Option<OffsetDateTime>) -> String {
    match (who.is_empty(), when.is_some()) {
        (false, true) => format!("by {who} at {}", short_time(when)),
        (false, false) => format!("by {who}"),
        (true, true) => format!("at {}", short_time(when)),
        (true, false) => "-".into(),
    }
}

#[derive(Debug, Serialize)]
pub struct ContactView {
    pub channel: String,
    /// In full only in `inquiry get`; masked everywhere else.
    pub address: String,
    pub messenger: String,
    pub preferred: bool,
    pub verified: bool,
}

impl ContactView {
    fn new(c: &pb::ContactChannel, reveal: bool) -> Self {
        Self {
            channel: channel_word(c.channel),
            address: if reveal {
                c.address.clone()
            } else {
                mask_address(c.channel, &c.address)
            },
            messenger: c.messenger.clone(),
            preferred: c.preferred,
            verified: c.verified,
        }
    }

    /// "messenger telegram @ko••• (preferred, verified)".
    fn text(&self) -> String {
        let mut s = self.channel.clone();
        if !self.messenger.is_empty() {
            s.push_str(&format!(" {}", self.messenger));
        }
        s.push_str(&format!(" {}", self.address));
        let marks: Vec<&str> = [(self.preferred, "preferred"), (self.verified, "verified")]
            .into_iter()
            .filter_map(|(on, mark)| on.then_some(mark))
            .collect();
        if !marks.is_empty() {
            s.push_str(&format!(" ({})", marks.join(", ")));
        }
        s
    }
}

#[derive(Debug, Serialize)]
pub struct RequesterView {
    pub names: Vec<NameView>,
    pub relationship: String,
    pub relationship_detail: String,
    pub contacts: Vec<ContactView>,
    pub preferred_language: String,
}

impl RequesterView {
    fn new(r: &pb::Requester, reveal: bool) -> Self {
        Self {
            names: r.names.iter().map(NameView::from).collect(),
            relationship: relationship_word(r.relationship),
            relationship_detail: r.relationship_detail.clone(),
            contacts: r
                .contacts
                .iter()
                .map(|c| ContactView::new(c, reveal))
                .collect(),
            preferred_language: r.preferred_language.clone(),
        }
    }

    fn name(&self) -> String {
        self.names.first().map(NameView::full).unwrap_or_default()
    }

    /// "parent (mother-in-law)".
    fn relationship_text(&self) -> String {
        if self.relationship_detail.is_empty() {
            self.relationship.clone()
        } else {
            format!("{} ({})", self.relationship, self.relationship_detail)
        }
    }
}

#[derive(Debug, Serialize)]
pub struct SoughtPersonView {
    pub names: Vec<NameView>,
    pub birth_date: Option<String>,
    pub birth_place: String,
    /// None when the family did not say.
    pub sex: Option<String>,
    pub category: Option<String>,
    pub rank: String,
    pub unit: String,
    pub service_number: String,
    pub documents: Vec<DocumentView>,
    pub last_contact_date: Option<String>,
    pub last_contact_place: String,
    pub circumstances: String,
    pub distinguishing_features: String,
}

impl From<&pb::SoughtPerson> for SoughtPersonView {
    fn from(p: &pb::SoughtPerson) -> Self {
        Self {
            names: p.names.iter().map(NameView::from).collect(),
            birth_date: date_text(p.birth_date.as_ref()),
            birth_place: p.birth_place.clone(),
            sex: (p.sex != 0).then(|| sex_word(p.sex)),
            category: (p.category != 0).then(|| category_word(p.category)),
            rank: p.rank.clone(),
            unit: p.unit.clone(),
            service_number: p.service_number.clone(),
            documents: p
                .documents
                .iter()
                .map(|d| DocumentView {
                    kind: document_word(d.r#type),
                    number: d.number.clone(),
                    issuing_country: d.issuing_country.clone(),
                })
                .collect(),
            last_contact_date: date_text(p.last_contact_date.as_ref()),
            last_contact_place: p.last_contact_place.clone(),
            circumstances: p.circumstances.clone(),
            distinguishing_features: p.distinguishing_features.clone(),
        }
    }
}

impl SoughtPersonView {
    fn name(&self) -> String {
        self.names.first().map(NameView::full).unwrap_or_default()
    }

    /// "rank, unit, no. 1234", as far as known.
    fn service_text(&self) -> String {
        let number =
            (!self.service_number.is_empty()).then(|| format!("no. {}", self.service_number));
        [Some(self.rank.clone()), Some(self.unit.clone()), number]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn last_contact_text(&self) -> String {
        match (&self.last_contact_date, self.last_contact_place.as_str()) {
            (Some(d), "") => d.clone(),
            (Some(d), p) => format!("{d}, {p}"),
            (None, p) => or_dash(p),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ConsentView {
    pub purpose: String,
    pub method: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub grant_time: Option<OffsetDateTime>,
    pub recorded_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub withdraw_time: Option<OffsetDateTime>,
    pub withdraw_note: String,
}

impl From<&pb::Consent> for ConsentView {
    fn from(c: &pb::Consent) -> Self {
        Self {
            purpose: consent_purpose_word(c.purpose),
            method: consent_method_word(c.method),
            grant_time: time_of(c.grant_time.as_ref()),
            recorded_by: c.recorded_by.clone(),
            withdraw_time: time_of(c.withdraw_time.as_ref()),
            withdraw_note: c.withdraw_note.clone(),
        }
    }
}

impl ConsentView {
    /// "contact, written, given 2025-05-20 09:00:00Z (recorded by liaison-1); WITHDRAWN ...".
    fn text(&self) -> String {
        let mut s = format!(
            "{}, {}, given {}",
            self.purpose,
            self.method,
            short_time(self.grant_time)
        );
        if !self.recorded_by.is_empty() {
            s.push_str(&format!(" (recorded by {})", self.recorded_by));
        }
        if self.withdraw_time.is_some() {
            s.push_str(&format!("; WITHDRAWN {}", short_time(self.withdraw_time)));
            if !self.withdraw_note.is_empty() {
                s.push_str(&format!(": {}", self.withdraw_note));
            }
        }
        s
    }
}

#[derive(Debug, Serialize)]
pub struct VerificationView {
    pub state: String,
    pub method: Option<String>,
    pub decided_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decide_time: Option<OffsetDateTime>,
    pub note: String,
}

impl From<&pb::RequesterVerification> for VerificationView {
    fn from(v: &pb::RequesterVerification) -> Self {
        Self {
            state: verification_state_word(v.state),
            method: (v.method != 0).then(|| verification_method_word(v.method)),
            decided_by: v.decided_by.clone(),
            decide_time: time_of(v.decide_time.as_ref()),
            note: v.note.clone(),
        }
    }
}

impl VerificationView {
    /// "verified (document-copy) by liaison-2 at ...: note".
    fn text(&self) -> String {
        let mut s = self.state.clone();
        if let Some(method) = &self.method {
            s.push_str(&format!(" ({method})"));
        }
        if !self.decided_by.is_empty() {
            s.push_str(&format!(" by {}", self.decided_by));
        }
        if self.decide_time.is_some() {
            s.push_str(&format!(" at {}", short_time(self.decide_time)));
        }
        if !self.note.is_empty() {
            s.push_str(&format!(": {}", self.note));
        }
        s
    }
}

#[derive(Debug, Serialize)]
pub struct RiskFlagView {
    pub kind: String,
    pub detail: String,
    pub related_inquiry_ids: Vec<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub raise_time: Option<OffsetDateTime>,
}

impl From<&pb::RiskFlag> for RiskFlagView {
    fn from(f: &pb::RiskFlag) -> Self {
        Self {
            kind: risk_flag_word(f.kind),
            detail: f.detail.clone(),
            related_inquiry_ids: f.related_inquiry_ids.clone(),
            raise_time: time_of(f.raise_time.as_ref()),
        }
    }
}

impl RiskFlagView {
    fn warning(&self) -> String {
        let mut s = format!("warning: {}", self.kind);
        if !self.detail.is_empty() {
            s.push_str(&format!(": {}", self.detail));
        }
        if !self.related_inquiry_ids.is_empty() {
            s.push_str(&format!(
                " (related inquiries: {})",
                self.related_inquiry_ids.join(", ")
            ));
        }
        s
    }
}

#[derive(Debug, Serialize)]
pub struct WithholdingView {
    pub decision: String,
    pub reason: String,
    pub raised_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub raise_time: Option<OffsetDateTime>,
    pub decided_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decide_time: Option<OffsetDateTime>,
    pub decision_note: String,
}

impl From<&pb::WithholdingFlag> for WithholdingView {
    fn from(w: &pb::WithholdingFlag) -> Self {
        Self {
            decision: withholding_word(w.decision),
            reason: w.reason.clone(),
            raised_by: w.raised_by.clone(),
            raise_time: time_of(w.raise_time.as_ref()),
            decided_by: w.decided_by.clone(),
            decide_time: time_of(w.decide_time.as_ref()),
            decision_note: w.decision_note.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct LinkView {
    pub id: String,
    pub etag: String,
    pub inquiry_id: String,
    pub person_id: String,
    pub state: String,
    pub confidence: f64,
    pub explanation: Vec<String>,
    pub evidence_note: String,
    pub proposed_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub propose_time: Option<OffsetDateTime>,
    pub decided_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decide_time: Option<OffsetDateTime>,
    pub decision_note: String,
    /// None when nobody flagged the link's news for withholding.
    pub withholding: Option<WithholdingView>,
}

impl From<&pb::Link> for LinkView {
    fn from(l: &pb::Link) -> Self {
        Self {
            id: l.id.clone(),
            etag: l.etag.clone(),
            inquiry_id: l.inquiry_id.clone(),
            person_id: l.person_id.clone(),
            state: link_state_word(l.state),
            confidence: l.confidence,
            explanation: l.explanation.clone(),
            evidence_note: l.evidence_note.clone(),
            proposed_by: l.proposed_by.clone(),
            propose_time: time_of(l.propose_time.as_ref()),
            decided_by: l.decided_by.clone(),
            decide_time: time_of(l.decide_time.as_ref()),
            decision_note: l.decision_note.clone(),
            withholding: l.withholding.as_ref().map(WithholdingView::from),
        }
    }
}

impl LinkView {
    /// A proposal by hand has no matching confidence.
    fn confidence_cell(&self) -> String {
        if self.confidence > 0.0 {
            confidence_text(self.confidence)
        } else {
            "by hand".into()
        }
    }

    fn withholding_cell(&self) -> String {
        self.withholding
            .as_ref()
            .map(|w| w.decision.clone())
            .unwrap_or_default()
    }

    fn decided_text(&self) -> String {
        if self.decided_by.is_empty() && self.decide_time.is_none() {
            return "-".into();
        }
        let mut s = format!(
            "by {} at {}",
            or_dash(&self.decided_by),
            short_time(self.decide_time)
        );
        if !self.decision_note.is_empty() {
            s.push_str(&format!(": {}", self.decision_note));
        }
        s
    }
}

fn links_table(links: &[LinkView]) -> String {
    let mut t = output::table([
        "LINK",
        "INQUIRY",
        "PERSON",
        "STATE",
        "CONFIDENCE",
        "WITHHOLDING",
        "PROPOSED BY",
        "DECIDED BY",
    ]);
    for l in links {
        t.add_row(vec![
            l.id.clone(),
            l.inquiry_id.clone(),
            l.person_id.clone(),
            l.state.clone(),
            l.confidence_cell(),
            l.withholding_cell(),
            l.proposed_by.clone(),
            l.decided_by.clone(),
        ]);
    }
    t.to_string()
}

impl Render for LinkView {
    fn table(&self) -> String {
        let mut rows = vec![
            ("id", self.id.clone()),
            ("inquiry", self.inquiry_id.clone()),
            ("person", self.person_id.clone()),
            ("state", self.state.clone()),
            ("confidence", self.confidence_cell()),
            ("why", or_dash(&self.explanation.join("\n"))),
            ("evidence", or_dash(&self.evidence_note)),
            ("proposed", by_at(&self.proposed_by, self.propose_time)),
            ("decided", self.decided_text()),
        ];
        if let Some(w) = &self.withholding {
            let mut text = format!("{}: {}", w.decision, w.reason);
            let flagged = by_at(&w.raised_by, w.raise_time);
            if flagged != "-" {
                text.push_str(&format!(" (flagged {flagged})"));
            }
            let decided = by_at(&w.decided_by, w.decide_time);
            if decided != "-" {
                text.push_str(&format!("\ndecided {decided}"));
                if !w.decision_note.is_empty() {
                    text.push_str(&format!(": {}", w.decision_note));
                }
            }
            rows.push(("withholding", text));
        }
        rows.push(("etag", self.etag.clone()));
        output::record(rows).to_string()
    }
}

#[derive(Debug, Serialize)]
pub struct LinkListView {
    pub links: Vec<LinkView>,
}

impl Render for LinkListView {
    fn table(&self) -> String {
        if self.links.is_empty() {
            return "no links".into();
        }
        format!(
            "{}\n{}",
            links_table(&self.links),
            count(self.links.len(), "link", "links")
        )
    }
}

/// A link after a withholding review, and the news the review released.
#[derive(Debug, Serialize)]
pub struct WithholdingReviewedView {
    #[serde(flatten)]
    pub link: LinkView,
    pub released_notification_ids: Vec<String>,
}

impl Render for WithholdingReviewedView {
    fn table(&self) -> String {
        let mut out = self.link.table();
        if !self.released_notification_ids.is_empty() {
            out.push_str(&format!(
                "\nreleased {}: {}",
                count(
                    self.released_notification_ids.len(),
                    "notification",
                    "notifications"
                ),
                self.released_notification_ids.join(", ")
            ));
        }
        out
    }
}

#[derive(Debug, Serialize)]
pub struct InquiryView {
    pub id: String,
    pub etag: String,
    pub reference: String,
    pub state: String,
    pub close_reason: Option<String>,
    pub close_note: String,
    pub duplicate_of: String,
    pub office: String,
    pub intake_channel: String,
    pub tracing_agency_reference: String,
    pub requester: RequesterView,
    pub sought_person: SoughtPersonView,
    pub consents: Vec<ConsentView>,
    pub verification: VerificationView,
    pub links: Vec<LinkView>,
    pub risk_flags: Vec<RiskFlagView>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub create_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub update_time: Option<OffsetDateTime>,
}

impl InquiryView {
    /// The inquiry with its contacts' addresses in full: for `inquiry get` only.
    pub fn revealed(i: &pb::Inquiry) -> Self {
        Self::new(i, true)
    }

    /// The inquiry with its contacts' addresses masked, as every command but `inquiry get`
    /// shows it.
    pub fn masked(i: &pb::Inquiry) -> Self {
        Self::new(i, false)
    }

    fn new(i: &pb::Inquiry, reveal: bool) -> Self {
        Self {
            id: i.id.clone(),
            etag: i.etag.clone(),
            reference: i.reference.clone(),
            state: inquiry_state_word(i.state),
            close_reason: (i.close_reason != 0).then(|| close_reason_word(i.close_reason)),
            close_note: i.close_note.clone(),
            duplicate_of: i.duplicate_of.clone(),
            office: i.office.clone(),
            intake_channel: intake_word(i.intake_channel),
            tracing_agency_reference: i.tracing_agency_reference.clone(),
            requester: RequesterView::new(&i.requester.clone().unwrap_or_default(), reveal),
            sought_person: SoughtPersonView::from(&i.sought_person.clone().unwrap_or_default()),
            consents: i.consents.iter().map(ConsentView::from).collect(),
            verification: VerificationView::from(&i.verification.clone().unwrap_or_default()),
            links: i.links.iter().map(LinkView::from).collect(),
            risk_flags: i.risk_flags.iter().map(RiskFlagView::from).collect(),
            create_time: time_of(i.create_time.as_ref()),
            update_time: time_of(i.update_time.as_ref()),
        }
    }

    /// "closed: duplicate of X (note)", or just the state.
    fn state_text(&self) -> String {
        let mut s = self.state.clone();
        if let Some(reason) = &self.close_reason {
            s.push_str(&format!(": {reason}"));
            if !self.duplicate_of.is_empty() {
                s.push_str(&format!(" of {}", self.duplicate_of));
            }
        }
        if !self.close_note.is_empty() {
            s.push_str(&format!(" ({})", self.close_note));
        }
        s
    }

    fn contacts_text(&self) -> String {
        or_dash(
            &self
                .requester
                .contacts
                .iter()
                .map(ContactView::text)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }

    fn consents_text(&self) -> String {
        or_dash(
            &self
                .consents
                .iter()
                .map(ConsentView::text)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }

    /// Risk flags as warnings, one per line; empty without flags.
    fn warnings(&self) -> String {
        self.risk_flags
            .iter()
            .map(RiskFlagView::warning)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// One name a line, with its script when known.
fn names_text(names: &[NameView]) -> String {
    or_dash(
        &names
            .iter()
            .map(|n| match n.script.as_str() {
                "unspecified" => n.full(),
                script => format!("{} ({script})", n.full()),
            })
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

impl Render for InquiryView {
    fn table(&self) -> String {
        let r = &self.requester;
        let p = &self.sought_person;
        let documents = p
            .documents
            .iter()
            .map(|d| {
                format!("{} {} {}", d.kind, d.number, d.issuing_country)
                    .trim()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n");
        let record = output::record(vec![
            ("id", self.id.clone()),
            ("reference", self.reference.clone()),
            ("state", self.state_text()),
            ("office", or_dash(&self.office)),
            ("intake", self.intake_channel.clone()),
            (
                "tracing agency ref",
                or_dash(&self.tracing_agency_reference),
            ),
            ("requester", names_text(&r.names)),
            ("relationship", r.relationship_text()),
            ("language", or_dash(&r.preferred_language)),
            ("contacts", self.contacts_text()),
            ("verification", self.verification.text()),
            ("consents", self.consents_text()),
            ("sought person", names_text(&p.names)),
            ("born", p.birth_date.clone().unwrap_or_else(|| "-".into())),
            ("birth place", or_dash(&p.birth_place)),
            ("sex", p.sex.clone().unwrap_or_else(|| "-".into())),
            ("category", p.category.clone().unwrap_or_else(|| "-".into())),
            ("service", or_dash(&p.service_text())),
            ("documents", or_dash(&documents)),
            ("last contact", p.last_contact_text()),
            ("circumstances", or_dash(&p.circumstances)),
            ("features", or_dash(&p.distinguishing_features)),
            ("created", or_dash(&short_time(self.create_time))),
            ("updated", or_dash(&short_time(self.update_time))),
            ("etag", self.etag.clone()),
        ]);
        let mut out = record.to_string();
        if !self.links.is_empty() {
            out.push_str(&format!("\nlinks:\n{}", links_table(&self.links)));
        }
        let warnings = self.warnings();
        if !warnings.is_empty() {
            out.push_str(&format!("\n{warnings}"));
        }
        out
    }
}

#[derive(Debug, Serialize)]
pub struct InquiryListView {
    pub inquiries: Vec<InquiryView>,
}

impl Render for InquiryListView {
    fn table(&self) -> String {
        if self.inquiries.is_empty() {
            return "no inquiries".into();
        }
        let mut t = output::table([
            "REFERENCE",
            "ID",
            "STATE",
            "REQUESTER",
            "VERIFICATION",
            "SOUGHT",
            "BORN",
            "OFFICE",
            "LINKS",
            "FLAGS",
            "CREATED",
        ]);
        for i in &self.inquiries {
            let flags = i
                .risk_flags
                .iter()
                .map(|f| f.kind.clone())
                .collect::<Vec<_>>()
                .join("\n");
            t.add_row(vec![
                i.reference.clone(),
                i.id.clone(),
                i.state.clone(),
                format!("{} ({})", i.requester.name(), i.requester.relationship),
                i.verification.state.clone(),
                i.sought_person.name(),
                i.sought_person.birth_date.clone().unwrap_or_default(),
                i.office.clone(),
                i.links
                    .iter()
                    .map(|l| format!("{} {}", l.person_id, l.state))
                    .collect::<Vec<_>>()
                    .join("\n"),
                flags,
                short_time(i.create_time),
            ]);
        }
        format!(
            "{t}\n{}",
            count(self.inquiries.len(), "inquiry", "inquiries")
        )
    }
}

/// An inquiry with the access code just issued for it: by `inquiry create` and
/// `inquiry reissue-code`, the only times the code is ever shown. The inquiry's fields stay at
/// the top level of the JSON, as `inquiry get` prints them.
#[derive(Debug, Serialize)]
pub struct IssuedCodeView {
    #[serde(flatten)]
    pub inquiry: InquiryView,
    pub access_code: String,
}

impl Render for IssuedCodeView {
    fn table(&self) -> String {
        let i = &self.inquiry;
        let mut out = output::record(vec![
            ("inquiry", i.id.clone()),
            ("reference", i.reference.clone()),
            ("ACCESS CODE", self.access_code.clone()),
            ("state", i.state_text()),
            ("verification", i.verification.text()),
            ("office", or_dash(&i.office)),
            ("contacts", i.contacts_text()),
            ("consents", i.consents_text()),
        ])
        .to_string();
        let warnings = i.warnings();
        if !warnings.is_empty() {
            out.push_str(&format!("\n{warnings}"));
        }
        out
    }
}

#[derive(Debug, Serialize)]
pub struct CandidateView {
    pub person_id: String,
    pub confidence: f64,
    pub explanation: Vec<String>,
    /// The inquiry's existing link to this person; empty when there is none.
    pub link_id: String,
}

impl From<&pb::Candidate> for CandidateView {
    fn from(c: &pb::Candidate) -> Self {
        Self {
            person_id: c.person_id.clone(),
            confidence: c.confidence,
            explanation: c.explanation.clone(),
            link_id: c.link_id.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CandidatesView {
    pub inquiry_id: String,
    /// Best first.
    pub candidates: Vec<CandidateView>,
}

impl Render for CandidatesView {
    fn table(&self) -> String {
        if self.candidates.is_empty() {
            return format!("no candidates for inquiry {}", self.inquiry_id);
        }
        let mut t = output::table(["PERSON", "CONFIDENCE", "WHY", "LINK"]);
        for c in &self.candidates {
            t.add_row(vec![
                c.person_id.clone(),
                confidence_text(c.confidence),
                c.explanation.first().cloned().unwrap_or_default(),
                c.link_id.clone(),
            ]);
        }
        format!(
            "{t}\n{}",
            count(self.candidates.len(), "candidate", "candidates")
        )
    }
}

#[derive(Debug, Serialize)]
pub struct DeliveryView {
    pub id: String,
    pub notification_id: String,
    pub channel: String,
    pub masked_address: String,
    pub state: String,
    pub attempts: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_time: Option<OffsetDateTime>,
    pub last_error: String,
    pub provider_message_id: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub create_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub update_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deliver_time: Option<OffsetDateTime>,
}

impl From<&pb::Delivery> for DeliveryView {
    fn from(d: &pb::Delivery) -> Self {
        Self {
            id: d.id.clone(),
            notification_id: d.notification_id.clone(),
            channel: channel_word(d.channel),
            masked_address: mask_address(d.channel, &d.masked_address),
            state: delivery_state_word(d.state),
            attempts: d.attempts,
            next_attempt_time: time_of(d.next_attempt_time.as_ref()),
            last_error: d.last_error.clone(),
            provider_message_id: d.provider_message_id.clone(),
            create_time: time_of(d.create_time.as_ref()),
            update_time: time_of(d.update_time.as_ref()),
            deliver_time: time_of(d.deliver_time.as_ref()),
        }
    }
}

fn deliveries_table(deliveries: &[DeliveryView], with_notification: bool) -> String {
    let mut header = vec!["DELIVERY"];
    if with_notification {
        header.push("NOTIFICATION");
    }
    header.extend([
        "CHANNEL",
        "ADDRESS",
        "STATE",
        "ATTEMPTS",
        "NEXT ATTEMPT",
        "DELIVERED",
        "LAST ERROR",
    ]);
    let mut t = output::table(header);
    for d in deliveries {
        let mut row = vec![d.id.clone()];
        if with_notification {
            row.push(d.notification_id.clone());
        }
        row.extend([
            d.channel.clone(),
            d.masked_address.clone(),
            d.state.clone(),
            d.attempts.to_string(),
            short_time(d.next_attempt_time),
            short_time(d.deliver_time),
            d.last_error.clone(),
        ]);
        t.add_row(row);
    }
    t.to_string()
}

impl Render for DeliveryView {
    fn table(&self) -> String {
        output::record(vec![
            ("id", self.id.clone()),
            ("notification", self.notification_id.clone()),
            ("channel", self.channel.clone()),
            ("address", or_dash(&self.masked_address)),
            ("state", self.state.clone()),
            ("attempts", self.attempts.to_string()),
            ("next attempt", or_dash(&short_time(self.next_attempt_time))),
            ("last error", or_dash(&self.last_error)),
            ("provider id", or_dash(&self.provider_message_id)),
            ("delivered", or_dash(&short_time(self.deliver_time))),
            ("created", or_dash(&short_time(self.create_time))),
            ("updated", or_dash(&short_time(self.update_time))),
        ])
        .to_string()
    }
}

#[derive(Debug, Serialize)]
pub struct DeliveryListView {
    pub deliveries: Vec<DeliveryView>,
}

impl Render for DeliveryListView {
    fn table(&self) -> String {
        if self.deliveries.is_empty() {
            return "no deliveries".into();
        }
        format!(
            "{}\n{}",
            deliveries_table(&self.deliveries, true),
            count(self.deliveries.len(), "delivery", "deliveries")
        )
    }
}

#[derive(Debug, Serialize)]
pub struct NotificationView {
    pub id: String,
    pub inquiry_id: String,
    pub link_id: String,
    pub person_id: String,
    pub kind: String,
    pub state: String,
    pub language: String,
    /// What the family was, or is to be, told.
    pub body: String,
    pub source_event_id: String,
    pub deliveries: Vec<DeliveryView>,
    pub task_id: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub create_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub update_time: Option<OffsetDateTime>,
}

impl From<&pb::Notification> for NotificationView {
    fn from(n: &pb::Notification) -> Self {
        Self {
            id: n.id.clone(),
            inquiry_id: n.inquiry_id.clone(),
            link_id: n.link_id.clone(),
            person_id: n.person_id.clone(),
            kind: notification_kind_word(n.kind),
            state: notification_state_word(n.state),
            language: n.language.clone(),
            body: n.body.clone(),
            source_event_id: n.source_event_id.clone(),
            deliveries: n.deliveries.iter().map(DeliveryView::from).collect(),
            task_id: n.task_id.clone(),
            create_time: time_of(n.create_time.as_ref()),
            update_time: time_of(n.update_time.as_ref()),
        }
    }
}

impl NotificationView {
    /// "2: delivered, dead-letter".
    fn deliveries_text(&self) -> String {
        if self.deliveries.is_empty() {
            return String::new();
        }
        let states = self
            .deliveries
            .iter()
            .map(|d| d.state.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        format!("{}: {states}", self.deliveries.len())
    }
}

impl Render for NotificationView {
    fn table(&self) -> String {
        let mut out = output::record(vec![
            ("id", self.id.clone()),
            ("kind", self.kind.clone()),
            ("state", self.state.clone()),
            ("inquiry", self.inquiry_id.clone()),
            ("link", or_dash(&self.link_id)),
            ("person", or_dash(&self.person_id)),
            ("task", or_dash(&self.task_id)),
            ("language", or_dash(&self.language)),
            ("text", or_dash(&self.body)),
            ("source event", or_dash(&self.source_event_id)),
            ("created", or_dash(&short_time(self.create_time))),
            ("updated", or_dash(&short_time(self.update_time))),
        ])
        .to_string();
        if self.deliveries.is_empty() {
            out.push_str("\nno deliveries");
        } else {
            out.push_str(&format!(
                "\ndeliveries:\n{}",
                deliveries_table(&self.deliveries, false)
            ));
        }
        out
    }
}

#[derive(Debug, Serialize)]
pub struct NotificationListView {
    pub notifications: Vec<NotificationView>,
}

impl Render for NotificationListView {
    fn table(&self) -> String {
        if self.notifications.is_empty() {
            return "no notifications".into();
        }
        let mut t = output::table([
            "ID",
            "KIND",
            "STATE",
            "INQUIRY",
            "PERSON",
            "DELIVERIES",
            "TASK",
            "CREATED",
        ]);
        for n in &self.notifications {
            t.add_row(vec![
                n.id.clone(),
                n.kind.clone(),
                n.state.clone(),
                n.inquiry_id.clone(),
                n.person_id.clone(),
                n.deliveries_text(),
                n.task_id.clone(),
                short_time(n.create_time),
            ]);
        }
        format!(
            "{t}\n{}",
            count(self.notifications.len(), "notification", "notifications")
        )
    }
}

#[derive(Debug, Serialize)]
pub struct AttemptView {
    pub outcome: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub occur_time: Option<OffsetDateTime>,
    pub officer: String,
    pub note: String,
    pub support_offered: bool,
    pub referred_to: String,
}

impl From<&pb::TaskAttempt> for AttemptView {
    fn from(a: &pb::TaskAttempt) -> Self {
        Self {
            outcome: attempt_outcome_word(a.outcome),
            occur_time: time_of(a.occur_time.as_ref()),
            officer: a.officer.clone(),
            note: a.note.clone(),
            support_offered: a.support_offered,
            referred_to: a.referred_to.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TaskView {
    pub id: String,
    pub etag: String,
    pub inquiry_id: String,
    pub notification_id: String,
    pub person_id: String,
    pub kind: String,
    pub state: String,
    pub office: String,
    pub assignee: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub due_time: Option<OffsetDateTime>,
    /// Oldest first.
    pub attempts: Vec<AttemptView>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub create_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub update_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub close_time: Option<OffsetDateTime>,
}

impl From<&pb::Task> for TaskView {
    fn from(t: &pb::Task) -> Self {
        Self {
            id: t.id.clone(),
            etag: t.etag.clone(),
            inquiry_id: t.inquiry_id.clone(),
            notification_id: t.notification_id.clone(),
            person_id: t.person_id.clone(),
            kind: task_kind_word(t.kind),
            state: task_state_word(t.state),
            office: t.office.clone(),
            assignee: t.assignee.clone(),
            due_time: time_of(t.due_time.as_ref()),
            attempts: t.attempts.iter().map(AttemptView::from).collect(),
            create_time: time_of(t.create_time.as_ref()),
            update_time: time_of(t.update_time.as_ref()),
            close_time: time_of(t.close_time.as_ref()),
        }
    }
}

impl Render for TaskView {
    fn table(&self) -> String {
        let mut out = output::record(vec![
            ("id", self.id.clone()),
            ("kind", self.kind.clone()),
            ("state", self.state.clone()),
            ("inquiry", self.inquiry_id.clone()),
            ("notification", or_dash(&self.notification_id)),
            ("person", or_dash(&self.person_id)),
            ("office", or_dash(&self.office)),
            ("assignee", or_dash(&self.assignee)),
            ("due", or_dash(&short_time(self.due_time))),
            ("created", or_dash(&short_time(self.create_time))),
            ("updated", or_dash(&short_time(self.update_time))),
            ("closed", or_dash(&short_time(self.close_time))),
            ("etag", self.etag.clone()),
        ])
        .to_string();
        if self.attempts.is_empty() {
            out.push_str("\nno attempts yet");
            return out;
        }
        let mut t = output::table(["WHEN", "OUTCOME", "OFFICER", "SUPPORT OFFERED", "NOTE"]);
        for a in &self.attempts {
            let outcome = if a.referred_to.is_empty() {
                a.outcome.clone()
            } else {
                format!("{} to {}", a.outcome, a.referred_to)
            };
            t.add_row(vec![
                short_time(a.occur_time),
                outcome,
                a.officer.clone(),
                yes_no(a.support_offered),
                a.note.clone(),
            ]);
        }
        out.push_str(&format!("\nattempts:\n{t}"));
        out
    }
}

#[derive(Debug, Serialize)]
pub struct TaskListView {
    pub tasks: Vec<TaskView>,
}

impl Render for TaskListView {
    fn table(&self) -> String {
        if self.tasks.is_empty() {
            return "no tasks".into();
        }
        let mut t = output::table([
            "ID", "KIND", "STATE", "DUE", "ASSIGNEE", "OFFICE", "ATTEMPTS", "INQUIRY",
        ]);
        for task in &self.tasks {
            t.add_row(vec![
                task.id.clone(),
                task.kind.clone(),
                task.state.clone(),
                short_time(task.due_time),
                task.assignee.clone(),
                task.office.clone(),
                task.attempts.len().to_string(),
                task.inquiry_id.clone(),
            ]);
        }
        format!("{t}\n{}", count(self.tasks.len(), "task", "tasks"))
    }
}

/// What the family's own status check answers, and what that status means to them.
#[derive(Debug, Serialize)]
pub struct FamilyStatusView {
    pub reference: String,
    pub status: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub status_time: Option<OffsetDateTime>,
    pub office_contact: String,
}

impl FamilyStatusView {
    pub fn new(reference: String, r: &pb::CheckInquiryStatusResponse) -> Self {
        Self {
            reference,
            status: family_status_word(r.status),
            status_time: time_of(r.status_time.as_ref()),
            office_contact: r.office_contact.clone(),
        }
    }

    /// The status in words for the family, as the contract defines it; never more than that.
    fn meaning(&self) -> &'static str {
        match self.status.as_str() {
            "received" => "the inquiry is registered; the requester is not yet verified",
            "searching" => "the search is under way",
            "news-sent" => "news was sent through the family's contact channel",
            "officer-contact" => "an officer will contact the family, or has",
            "closed" => "the inquiry is closed",
            _ => "",
        }
    }
}

impl Render for FamilyStatusView {
    fn table(&self) -> String {
        let status = match self.meaning() {
            "" => self.status.clone(),
            meaning => format!("{}: {meaning}", self.status),
        };
        output::record(vec![
            ("reference", self.reference.clone()),
            ("status", status),
            ("since", or_dash(&short_time(self.status_time))),
            ("office contact", or_dash(&self.office_contact)),
        ])
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use homeward_proto::common::v1 as common;

    use super::*;

    fn contact(channel: pb::Channel, address: &str, messenger: &str) -> pb::ContactChannel {
        pb::ContactChannel {
            channel: channel as i32,
            address: address.into(),
            messenger: messenger.into(),
            preferred: false,
            verified: false,
        }
    }

    fn inquiry() -> pb::Inquiry {
        pb::Inquiry {
            id: "i1".into(),
            etag: "e1".into(),
            reference: "HW-4K7Q-9MZD".into(),
            state: pb::InquiryState::Open as i32,
            office: "Kyiv".into(),
            intake_channel: pb::IntakeChannel::Phone as i32,
            requester: Some(pb::Requester {
                names: vec![common::PersonName {
                    given: "Олена".into(),
                    family: "Коваленко".into(),
                    ..Default::default()
                }],
                relationship: pb::Relationship::Parent as i32,
                relationship_detail: "mother".into(),
                contacts: vec![
                    pb::ContactChannel {
                        preferred: true,
                        ..contact(pb::Channel::Sms, "+380671234567", "")
                    },
                    contact(pb::Channel::Email, "olena.kovalenko@example.org", ""),
                    contact(pb::Channel::Messenger, "@olena_k", "telegram"),
                    contact(pb::Channel::File, "вул. Хрещатик 1, Київ", ""),
                ],
                preferred_language: "uk".into(),
            }),
            sought_person: Some(pb::SoughtPerson {
                names: vec![common::PersonName {
                    given: "Олександр".into(),
                    family: "Коваленко".into(),
                    ..Default::default()
                }],
                birth_date: Some(common::PartialDate {
                    year: 1990,
                    month: 5,
                    day: 0,
                }),
                unit: "36th brigade".into(),
                ..Default::default()
            }),
            consents: vec![pb::Consent {
                purpose: pb::ConsentPurpose::Tracing as i32,
                method: pb::ConsentMethod::Oral as i32,
                ..Default::default()
            }],
            verification: Some(pb::RequesterVerification {
                state: pb::VerificationState::Unverified as i32,
                ..Default::default()
            }),
            risk_flags: vec![pb::RiskFlag {
                kind: pb::RiskFlagKind::SharedContact as i32,
                detail: "the phone number appears in 3 other inquiries".into(),
                related_inquiry_ids: vec!["i7".into()],
                raise_time: None,
            }],
            ..Default::default()
        }
    }

    const FULL_ADDRESSES: [&str; 4] = [
        "+380671234567",
        "olena.kovalenko@example.org",
        "@olena_k",
        "Хрещатик",
    ];

    #[test]
    fn an_inquiry_shows_its_contacts_masked_everywhere_but_in_inquiry_get() {
        let masked = InquiryView::masked(&inquiry());
        let table = masked.table();
        let json = serde_json::to_string(&masked).unwrap();
        for full in FULL_ADDRESSES {
            assert!(!table.contains(full), "{full} shown in\n{table}");
            assert!(!json.contains(full), "{full} in {json}");
        }
        assert!(table.contains("sms +380 ••• 67 (preferred)"), "{table}");
        assert!(table.contains("email o•••@•••.org"), "{table}");
        assert!(table.contains("messenger telegram @o•••"), "{table}");
        assert!(table.contains("file •••"), "{table}");
        let revealed = InquiryView::revealed(&inquiry()).table();
        for full in FULL_ADDRESSES {
            assert!(revealed.contains(full), "{full} missing from\n{revealed}");
        }
    }

    #[test]
    fn an_inquiry_reads_as_its_state_people_and_risk_flags() {
        let table = InquiryView::masked(&inquiry()).table();
        for expected in [
            "HW-4K7Q-9MZD",
            "Коваленко Олена",
            "parent (mother)",
            "unverified",
            "tracing, oral",
            "Коваленко Олександр",
            "1990-05",
            "36th brigade",
            "phone",
        ] {
            assert!(table.contains(expected), "{expected} missing from\n{table}");
        }
        let warning = table.lines().last().unwrap();
        assert!(warning.starts_with("warning: shared-contact"), "{table}");
        assert!(warning.contains("related inquiries: i7"), "{table}");
        let json = serde_json::to_value(InquiryView::masked(&inquiry())).unwrap();
        assert_eq!(json["requester"]["relationship"], "parent");
        assert_eq!(json["close_reason"], serde_json::Value::Null);
    }

    #[test]
    fn a_new_inquiry_shows_its_access_code_once_with_the_contacts_masked() {
        let view = IssuedCodeView {
            inquiry: InquiryView::masked(&inquiry()),
            access_code: "7QK4-M9ZD".into(),
        };
        let table = view.table();
        let row = table.lines().find(|l| l.contains("ACCESS CODE")).unwrap();
        assert!(row.contains("7QK4-M9ZD"), "{table}");
        assert!(!table.contains("+380671234567"), "{table}");
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["access_code"], "7QK4-M9ZD");
        assert_eq!(json["reference"], "HW-4K7Q-9MZD");
    }

    #[test]
    fn masking_keeps_what_tells_channels_apart_and_never_panics() {
        let sms = pb::Channel::Sms as i32;
        let email = pb::Channel::Email as i32;
        let messenger = pb::Channel::Messenger as i32;
        let file = pb::Channel::File as i32;
        assert_eq!(mask_address(sms, "+380671234567"), "+380 ••• 67");
        assert_eq!(mask_address(sms, "+380 •• ••• •• 34"), "+380 •• ••• •• 34");
        assert_eq!(mask_address(sms, "+3806"), "•••");
        assert_eq!(mask_address(email, "o@x"), "o•••@•••");
        assert_eq!(mask_address(email, "no-at-sign"), "•••");
        assert_eq!(mask_address(messenger, "+380671234567"), "+380 ••• 67");
        assert_eq!(mask_address(messenger, "@ab"), "•••");
        assert_eq!(mask_address(file, "Київ"), "•••");
        assert_eq!(mask_address(99, "ёжик-ёжик"), "•••");
        for odd in ["", "@", "+", ".", "@.", "Ж@Ж.Ж", "+Ж", "\u{301}\u{301}"] {
            for channel in [0, sms, email, messenger, file, -1] {
                let _ = mask_address(channel, odd);
            }
        }
    }

    #[test]
    fn a_task_shows_its_attempts_and_a_kind_the_contract_announced() {
        let task = pb::Task {
            id: "t1".into(),
            etag: "e3".into(),
            inquiry_id: "i1".into(),
            kind: crate::args::TASK_KIND_WITHHOLDING_REVIEW,
            state: pb::TaskState::Assigned as i32,
            office: "Kyiv".into(),
            assignee: "liaison-2".into(),
            due_time: Some(prost_types::Timestamp {
                seconds: 1_747_994_400,
                nanos: 0,
            }),
            attempts: vec![
                pb::TaskAttempt {
                    outcome: pb::TaskAttemptOutcome::NotReached as i32,
                    officer: "liaison-2".into(),
                    note: "nobody home".into(),
                    ..Default::default()
                },
                pb::TaskAttempt {
                    outcome: pb::TaskAttemptOutcome::Referred as i32,
                    officer: "liaison-2".into(),
                    referred_to: "Lviv office".into(),
                    support_offered: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let view = TaskView::from(&task);
        let table = view.table();
        assert!(table.contains("withholding-review"), "{table}");
        assert!(table.contains("2025-05-23 10:00:00Z"), "{table}");
        let referred = table.lines().find(|l| l.contains("referred")).unwrap();
        assert!(
            referred.contains("to Lviv office") && referred.contains("yes"),
            "{table}"
        );
        assert!(table.contains("nobody home"), "{table}");
        let unknown = TaskView::from(&pb::Task {
            kind: 42,
            state: 42,
            ..Default::default()
        });
        assert_eq!(unknown.kind, "unknown(42)");
        assert!(unknown.table().contains("no attempts yet"));
        let list = TaskListView { tasks: vec![view] }.table();
        assert!(list.ends_with("1 task"), "{list}");
    }

    #[test]
    fn a_notification_lists_its_deliveries_with_masked_addresses() {
        let view = NotificationView::from(&pb::Notification {
            id: "n1".into(),
            inquiry_id: "i1".into(),
            kind: pb::NotificationKind::StatusUpdate as i32,
            state: crate::args::NOTIFICATION_STATE_EMBARGOED,
            deliveries: vec![pb::Delivery {
                id: "d1".into(),
                channel: pb::Channel::Sms as i32,
                masked_address: "+380671234567".into(),
                state: pb::DeliveryState::DeadLetter as i32,
                attempts: 5,
                last_error: "number blocked".into(),
                ..Default::default()
            }],
            ..Default::default()
        });
        let table = view.table();
        assert!(table.contains("embargoed"), "{table}");
        let row = table.lines().find(|l| l.contains("d1")).unwrap();
        assert!(
            row.contains("dead-letter") && row.contains("+380 ••• 67"),
            "{table}"
        );
        assert!(!table.contains("+380671234567"), "{table}");
    }

    #[test]
    fn a_link_shows_who_proposed_it_and_its_pending_withholding_flag() {
        let view = LinkView::from(&pb::Link {
            id: "l9".into(),
            inquiry_id: "i1".into(),
            person_id: "p1".into(),
            state: pb::LinkState::Confirmed as i32,
            proposed_by: "liaison-1".into(),
            withholding: Some(pb::WithholdingFlag {
                decision: pb::WithholdingDecision::Pending as i32,
                reason: "the family would tell the captors".into(),
                raised_by: "liaison-2".into(),
                ..Default::default()
            }),
            ..Default::default()
        });
        let table = view.table();
        let row = |field: &str| {
            table
                .lines()
                .find(|l| l.contains(field))
                .unwrap_or_else(|| panic!("{field} missing from\n{table}"))
                .to_string()
        };
        assert!(row("proposed").contains("by liaison-1"), "{table}");
        assert!(!row("proposed").contains(" at"), "{table}");
        assert!(row("decided").contains('-'), "{table}");
        assert!(row("confidence").contains("by hand"), "{table}");
        assert!(
            row("withholding")
                .contains("pending: the family would tell the captors (flagged by liaison-2)"),
            "{table}"
        );
        let list = LinkListView { links: vec![view] }.table();
        let line = list.lines().find(|l| l.contains("l9")).unwrap();
        assert!(
            line.contains("confirmed") && line.contains("pending"),
            "{list}"
        );
    }

    #[test]
    fn candidates_show_the_first_reason_and_an_existing_link() {
        let view = CandidatesView {
            inquiry_id: "i1".into(),
            candidates: vec![CandidateView::from(&pb::Candidate {
                person_id: "p1".into(),
                confidence: 0.914,
                explanation: vec![
                    "family name: transliteration of Коваленко".into(),
                    "birth date: same year".into(),
                ],
                link_id: "l1".into(),
            })],
        };
        let table = view.table();
        let row = table.lines().find(|l| l.contains("p1")).unwrap();
        assert!(row.contains("0.91") && row.contains("l1"), "{table}");
        assert!(row.contains("transliteration"), "{table}");
        assert!(!table.contains("same year"), "{table}");
    }
}
