//! What the exchange commands show: agreements, phases, lists and their versions,
//! reconciliations, counts, consent, hold-backs, handover checks, reports and events, built from
//! the exchange service's answers. The conventions are the person views': enum values as the
//! words the flags take, times in RFC 3339 UTC, partial dates as YYYY[-MM[-DD]].
//!
//! Names appear only where the service sent them (list entries, presented identities); nothing
//! here adds to what the embargo on a pending exchange lets the caller see.

use homeward_proto::exchange::v1 as pb;
use serde::Serialize;
use time::OffsetDateTime;

use super::{
    DocumentView, NameView, category_word, check_method_word, check_result_word, confidence_text,
    consent_word, count, date_text, document_word, hold_back_reason_word, list_kind_word, or_dash,
    outcome_word, phase_state_word, review_decision_word, sex_word, short_time, source_word,
    time_of, yes_no,
};
use crate::output::{self, Render};

fn health_text(seriously_ill: bool, wounded: bool) -> String {
    match (seriously_ill, wounded) {
        (false, false) => String::new(),
        (true, false) => "seriously ill".into(),
        (false, true) => "wounded".into(),
        (true, true) => "seriously ill, wounded".into(),
    }
}

/// One quota line; `None` in a filter means any.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuotaView {
    /// Empty: the line applies to each party alike.
    pub party: String,
    pub category: Option<String>,
    pub sex: Option<String>,
    pub min_age: Option<u32>,
    /// None: no upper bound.
    pub max_age: Option<u32>,
    pub count: u32,
}

impl From<&pb::Quota> for QuotaView {
    fn from(q: &pb::Quota) -> Self {
        let band = q.age_band.as_ref();
        Self {
            party: q.party.clone(),
            category: (q.category != 0).then(|| category_word(q.category)),
            sex: (q.sex != 0).then(|| sex_word(q.sex)),
            min_age: band.map(|b| b.min_age),
            max_age: band.and_then(|b| (b.max_age > 0).then_some(b.max_age)),
            count: q.count,
        }
    }
}

impl QuotaView {
    fn party_text(&self) -> String {
        if self.party.is_empty() {
            "each party".into()
        } else {
            self.party.clone()
        }
    }

    /// Whom the line counts: "service-member, female, age 18-60", or "total".
    pub fn line(&self) -> String {
        let mut parts: Vec<String> = self
            .category
            .iter()
            .chain(self.sex.iter())
            .cloned()
            .collect();
        match (self.min_age, self.max_age) {
            (Some(0) | None, Some(max)) => parts.push(format!("age up to {max}")),
            (Some(min), Some(max)) => parts.push(format!("age {min}-{max}")),
            (Some(min), None) => parts.push(format!("age {min}+")),
            (None, None) => {}
        }
        if parts.is_empty() {
            "total".into()
        } else {
            parts.join(", ")
        }
    }

    fn text(&self) -> String {
        format!("{}, {}: {}", self.party_text(), self.line(), self.count)
    }
}

fn quotas_text(quotas: &[QuotaView]) -> String {
    or_dash(
        &quotas
            .iter()
            .map(QuotaView::text)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

#[derive(Debug, Serialize)]
pub struct ProgressView {
    pub party: String,
    pub handed_over: u32,
    pub seriously_ill_or_wounded: u32,
    pub remaining: u32,
}

#[derive(Debug, Serialize)]
pub struct AgreementView {
    pub id: String,
    pub etag: String,
    pub title: String,
    pub parties: Vec<String>,
    pub mediators: Vec<String>,
    pub agreement_date: Option<String>,
    pub place: String,
    pub quotas: Vec<QuotaView>,
    pub one_for_one: bool,
    pub document_reference: String,
    pub progress: Vec<ProgressView>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub create_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub update_time: Option<OffsetDateTime>,
}

impl From<&pb::Agreement> for AgreementView {
    fn from(a: &pb::Agreement) -> Self {
        Self {
            id: a.id.clone(),
            etag: a.etag.clone(),
            title: a.title.clone(),
            parties: a.parties.clone(),
            mediators: a.mediators.clone(),
            agreement_date: date_text(a.agreement_date.as_ref()),
            place: a.place.clone(),
            quotas: a.quotas.iter().map(QuotaView::from).collect(),
            one_for_one: a.one_for_one,
            document_reference: a.document_reference.clone(),
            progress: a
                .progress
                .iter()
                .map(|p| ProgressView {
                    party: p.party.clone(),
                    handed_over: p.handed_over,
                    seriously_ill_or_wounded: p.seriously_ill_or_wounded,
                    remaining: p.remaining,
                })
                .collect(),
            create_time: time_of(a.create_time.as_ref()),
            update_time: time_of(a.update_time.as_ref()),
        }
    }
}

impl AgreementView {
    fn progress_text(&self) -> String {
        self.progress
            .iter()
            .map(|p| {
                format!(
                    "{}: {} handed over, {} remaining, {} seriously ill or wounded beside the quotas",
                    p.party, p.handed_over, p.remaining, p.seriously_ill_or_wounded
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Render for AgreementView {
    fn table(&self) -> String {
        output::record(vec![
            ("id", self.id.clone()),
            ("title", or_dash(&self.title)),
            ("parties", self.parties.join(", ")),
            ("mediators", or_dash(&self.mediators.join(", "))),
            (
                "concluded",
                self.agreement_date.clone().unwrap_or_else(|| "-".into()),
            ),
            ("place", or_dash(&self.place)),
            ("one for one", yes_no(self.one_for_one)),
            ("quotas", quotas_text(&self.quotas)),
            ("document", or_dash(&self.document_reference)),
            ("progress", or_dash(&self.progress_text())),
            ("created", short_time(self.create_time)),
            ("updated", short_time(self.update_time)),
            ("etag", self.etag.clone()),
        ])
        .to_string()
    }
}

#[derive(Debug, Serialize)]
pub struct AgreementListView {
    pub agreements: Vec<AgreementView>,
}

impl Render for AgreementListView {
    fn table(&self) -> String {
        let mut t = output::table([
            "ID",
            "TITLE",
            "PARTIES",
            "CONCLUDED",
            "PLACE",
            "1:1",
            "HANDED OVER",
        ]);
        for a in &self.agreements {
            t.add_row(vec![
                a.id.clone(),
                a.title.clone(),
                a.parties.join(", "),
                a.agreement_date.clone().unwrap_or_default(),
                a.place.clone(),
                yes_no(a.one_for_one),
                a.progress
                    .iter()
                    .map(|p| format!("{} {}", p.party, p.handed_over))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]);
        }
        format!(
            "{t}\n{}",
            count(self.agreements.len(), "agreement", "agreements")
        )
    }
}

/// One version of one party's list: "RU offer v3".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListRefView {
    pub party: String,
    pub kind: String,
    pub version: u32,
}

impl From<&pb::ListVersionRef> for ListRefView {
    fn from(r: &pb::ListVersionRef) -> Self {
        Self {
            party: r.party.clone(),
            kind: list_kind_word(r.kind),
            version: r.version,
        }
    }
}

impl ListRefView {
    fn text(&self) -> String {
        format!("{} {} v{}", self.party, self.kind, self.version)
    }
}

fn lists_text(lists: &[ListRefView]) -> String {
    or_dash(
        &lists
            .iter()
            .map(ListRefView::text)
            .collect::<Vec<_>>()
            .join(", "),
    )
}

#[derive(Debug, Serialize)]
pub struct PhaseView {
    pub id: String,
    pub etag: String,
    pub agreement_id: String,
    pub number: u32,
    pub title: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub planned_time: Option<OffsetDateTime>,
    pub place: String,
    pub quotas: Vec<QuotaView>,
    pub state: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub state_time: Option<OffsetDateTime>,
    pub latest_reconciliation_id: String,
    pub frozen_lists: Vec<ListRefView>,
    pub frozen_reconciliation_id: String,
    pub imbalance_reason: String,
    pub outcome_note: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub create_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub update_time: Option<OffsetDateTime>,
}

impl From<&pb::Phase> for PhaseView {
    fn from(p: &pb::Phase) -> Self {
        Self {
            id: p.id.clone(),
            etag: p.etag.clone(),
            agreement_id: p.agreement_id.clone(),
            number: p.number,
            title: p.title.clone(),
            planned_time: time_of(p.planned_time.as_ref()),
            place: p.place.clone(),
            quotas: p.quotas.iter().map(QuotaView::from).collect(),
            state: phase_state_word(p.state),
            state_time: time_of(p.state_time.as_ref()),
            latest_reconciliation_id: p.latest_reconciliation_id.clone(),
            frozen_lists: p.frozen_lists.iter().map(ListRefView::from).collect(),
            frozen_reconciliation_id: p.frozen_reconciliation_id.clone(),
            imbalance_reason: p.imbalance_reason.clone(),
            outcome_note: p.outcome_note.clone(),
            create_time: time_of(p.create_time.as_ref()),
            update_time: time_of(p.update_time.as_ref()),
        }
    }
}

impl Render for PhaseView {
    fn table(&self) -> String {
        let mut rows = vec![
            ("id", self.id.clone()),
            ("agreement", self.agreement_id.clone()),
            ("number", self.number.to_string()),
            ("title", or_dash(&self.title)),
            (
                "state",
                format!("{} since {}", self.state, short_time(self.state_time)),
            ),
            ("planned", or_dash(&short_time(self.planned_time))),
            ("place", or_dash(&self.place)),
            ("quotas", quotas_text(&self.quotas)),
            (
                "latest reconciliation",
                or_dash(&self.latest_reconciliation_id),
            ),
        ];
        if !self.frozen_lists.is_empty() || !self.frozen_reconciliation_id.is_empty() {
            rows.push(("frozen lists", lists_text(&self.frozen_lists)));
            rows.push((
                "frozen reconciliation",
                or_dash(&self.frozen_reconciliation_id),
            ));
        }
        if !self.imbalance_reason.is_empty() {
            rows.push(("imbalance accepted", self.imbalance_reason.clone()));
        }
        if !self.outcome_note.is_empty() {
            rows.push(("outcome note", self.outcome_note.clone()));
        }
        rows.extend([
            ("created", short_time(self.create_time)),
            ("updated", short_time(self.update_time)),
            ("etag", self.etag.clone()),
        ]);
        output::record(rows).to_string()
    }
}

#[derive(Debug, Serialize)]
pub struct PhaseListView {
    pub phases: Vec<PhaseView>,
}

impl Render for PhaseListView {
    fn table(&self) -> String {
        let mut t = output::table(["ID", "AGREEMENT", "#", "TITLE", "STATE", "PLANNED", "PLACE"]);
        for p in &self.phases {
            t.add_row(vec![
                p.id.clone(),
                p.agreement_id.clone(),
                p.number.to_string(),
                p.title.clone(),
                p.state.clone(),
                short_time(p.planned_time),
                p.place.clone(),
            ]);
        }
        format!("{t}\n{}", count(self.phases.len(), "phase", "phases"))
    }
}

/// A phase whose lists were just frozen, and the registry persons reserved for it. The phase's
/// fields stay at the top level of the JSON, as `phase get` prints them.
#[derive(Debug, Serialize)]
pub struct FrozenView {
    #[serde(flatten)]
    pub phase: PhaseView,
    pub reserved_person_ids: Vec<String>,
}

impl Render for FrozenView {
    fn table(&self) -> String {
        format!(
            "{}\n{} reserved in the registry for this phase",
            self.phase.table(),
            count(self.reserved_person_ids.len(), "person", "persons")
        )
    }
}

/// A person as a list's author wrote them.
#[derive(Debug, Serialize)]
pub struct IdentityView {
    pub names: Vec<NameView>,
    pub birth_date: Option<String>,
    pub birth_place: String,
    pub sex: String,
    pub category: String,
    pub rank: String,
    pub unit: String,
    pub service_number: String,
    pub documents: Vec<DocumentView>,
    pub citizenship: String,
    pub detention_place: String,
    pub original_text: String,
}

impl From<&pb::ListedIdentity> for IdentityView {
    fn from(i: &pb::ListedIdentity) -> Self {
        Self {
            names: i.names.iter().map(NameView::from).collect(),
            birth_date: date_text(i.birth_date.as_ref()),
            birth_place: i.birth_place.clone(),
            sex: sex_word(i.sex),
            category: category_word(i.category),
            rank: i.rank.clone(),
            unit: i.unit.clone(),
            service_number: i.service_number.clone(),
            documents: i
                .documents
                .iter()
                .map(|d| DocumentView {
                    kind: document_word(d.r#type),
                    number: d.number.clone(),
                    issuing_country: d.issuing_country.clone(),
                })
                .collect(),
            citizenship: i.citizenship.clone(),
            detention_place: i.detention_place.clone(),
            original_text: i.original_text.clone(),
        }
    }
}

impl IdentityView {
    pub fn first_name(&self) -> String {
        self.names.first().map(NameView::full).unwrap_or_default()
    }

    /// "rank, unit, no. 123" as far as known.
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
}

/// The words of an enum field that was left unset: shown as empty, not "unspecified".
fn known(word: &str) -> String {
    if word == "unspecified" {
        String::new()
    } else {
        word.to_string()
    }
}

#[derive(Debug, Serialize)]
pub struct ListEntryView {
    pub reference: String,
    /// Set when the entry names a registry person; `identity` is set otherwise.
    pub person_id: String,
    pub identity: Option<IdentityView>,
    pub seriously_ill: bool,
    pub wounded: bool,
    pub source_line: String,
    pub note: String,
}

impl From<&pb::ListEntry> for ListEntryView {
    fn from(e: &pb::ListEntry) -> Self {
        use pb::list_entry::Subject;
        let (person_id, identity) = match &e.subject {
            Some(Subject::PersonId(id)) => (id.clone(), None),
            Some(Subject::Identity(i)) => (String::new(), Some(IdentityView::from(i))),
            None => (String::new(), None),
        };
        Self {
            reference: e.reference.clone(),
            person_id,
            identity,
            seriously_ill: e.seriously_ill,
            wounded: e.wounded,
            source_line: e.source_line.clone(),
            note: e.note.clone(),
        }
    }
}

impl ListEntryView {
    /// The registry person, or the first name as listed.
    fn who(&self) -> String {
        match &self.identity {
            Some(i) => i.first_name(),
            None if !self.person_id.is_empty() => format!("person {}", self.person_id),
            None => String::new(),
        }
    }

    fn row(&self) -> Vec<String> {
        let i = self.identity.as_ref();
        vec![
            self.reference.clone(),
            self.who(),
            i.and_then(|i| i.birth_date.clone()).unwrap_or_default(),
            i.map(|i| known(&i.sex)).unwrap_or_default(),
            i.map(|i| known(&i.category)).unwrap_or_default(),
            i.map(IdentityView::service_text).unwrap_or_default(),
            health_text(self.seriously_ill, self.wounded),
            self.source_line.clone(),
            self.note.clone(),
        ]
    }
}

const ENTRY_HEADER: [&str; 9] = [
    "REF",
    "PERSON / NAME AS LISTED",
    "BORN",
    "SEX",
    "CATEGORY",
    "RANK, UNIT, NUMBER",
    "HEALTH",
    "LINE",
    "NOTE",
];

#[derive(Debug, Serialize)]
pub struct ListVersionView {
    pub phase_id: String,
    pub party: String,
    pub kind: String,
    pub version: u32,
    pub entry_count: u32,
    pub source: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub receive_time: Option<OffsetDateTime>,
    pub note: String,
    pub submitted_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub submit_time: Option<OffsetDateTime>,
    pub content_hash: String,
    /// Empty for a list of versions and after a submission.
    pub entries: Vec<ListEntryView>,
}

impl From<&pb::ListVersion> for ListVersionView {
    fn from(l: &pb::ListVersion) -> Self {
        let r = l.list.clone().unwrap_or_default();
        Self {
            phase_id: l.phase_id.clone(),
            party: r.party,
            kind: list_kind_word(r.kind),
            version: r.version,
            entry_count: l.entry_count,
            source: source_word(l.source),
            receive_time: time_of(l.receive_time.as_ref()),
            note: l.note.clone(),
            submitted_by: l.submitted_by.clone(),
            submit_time: time_of(l.submit_time.as_ref()),
            content_hash: l.content_hash.clone(),
            entries: l.entries.iter().map(ListEntryView::from).collect(),
        }
    }
}

impl Render for ListVersionView {
    fn table(&self) -> String {
        let header = output::record(vec![
            ("phase", self.phase_id.clone()),
            (
                "list",
                format!("{} {} version {}", self.party, self.kind, self.version),
            ),
            ("entries", self.entry_count.to_string()),
            ("source", known(&self.source)),
            ("received", or_dash(&short_time(self.receive_time))),
            (
                "submitted",
                format!("{} by {}", short_time(self.submit_time), self.submitted_by),
            ),
            ("note", or_dash(&self.note)),
            ("content hash", self.content_hash.clone()),
        ]);
        if self.entries.is_empty() {
            return header.to_string();
        }
        let mut t = output::table(ENTRY_HEADER);
        for e in &self.entries {
            t.add_row(e.row());
        }
        format!("{header}\n{t}")
    }
}

#[derive(Debug, Serialize)]
pub struct ListVersionsView {
    pub lists: Vec<ListVersionView>,
}

impl Render for ListVersionsView {
    fn table(&self) -> String {
        if self.lists.is_empty() {
            return "no lists submitted yet".into();
        }
        let mut t = output::table([
            "PARTY",
            "KIND",
            "VERSION",
            "ENTRIES",
            "SUBMITTED",
            "BY",
            "SOURCE",
            "HASH",
            "NOTE",
        ]);
        for l in &self.lists {
            t.add_row(vec![
                l.party.clone(),
                l.kind.clone(),
                l.version.to_string(),
                l.entry_count.to_string(),
                short_time(l.submit_time),
                l.submitted_by.clone(),
                known(&l.source),
                // Enough of the hash to compare by eye; --output json has all of it.
                l.content_hash.chars().take(12).collect(),
                l.note.clone(),
            ]);
        }
        t.to_string()
    }
}

#[derive(Debug, Serialize)]
pub struct EntryChangeView {
    pub reference: String,
    pub before: Option<ListEntryView>,
    pub after: Option<ListEntryView>,
    pub changed_fields: Vec<String>,
    /// The entry now describes someone else: how substitutions usually show first.
    pub identity_changed: bool,
}

#[derive(Debug, Serialize)]
pub struct ListComparisonView {
    pub party: String,
    pub kind: String,
    pub from_version: u32,
    /// 0: the latest.
    pub to_version: u32,
    pub added: Vec<ListEntryView>,
    pub removed: Vec<ListEntryView>,
    pub changed: Vec<EntryChangeView>,
}

impl ListComparisonView {
    pub fn new(
        party: String,
        kind: String,
        from_version: u32,
        to_version: u32,
        r: &pb::CompareListVersionsResponse,
    ) -> Self {
        Self {
            party,
            kind,
            from_version,
            to_version,
            added: r.added.iter().map(ListEntryView::from).collect(),
            removed: r.removed.iter().map(ListEntryView::from).collect(),
            changed: r
                .changed
                .iter()
                .map(|c| EntryChangeView {
                    reference: c.reference.clone(),
                    before: c.before.as_ref().map(ListEntryView::from),
                    after: c.after.as_ref().map(ListEntryView::from),
                    changed_fields: c.changed_fields.clone(),
                    identity_changed: c.identity_changed,
                })
                .collect(),
        }
    }
}

impl Render for ListComparisonView {
    fn table(&self) -> String {
        let to = if self.to_version == 0 {
            "the latest version".to_string()
        } else {
            format!("version {}", self.to_version)
        };
        let heading = format!(
            "{} {} list, version {} to {to}",
            self.party, self.kind, self.from_version
        );
        if self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty() {
            return format!("{heading}: no differences");
        }
        let mut t = output::table(["", "REF", "PERSON / NAME AS LISTED", "WHAT CHANGED"]);
        for e in &self.added {
            t.add_row(vec![
                "added".into(),
                e.reference.clone(),
                e.who(),
                String::new(),
            ]);
        }
        for e in &self.removed {
            t.add_row(vec![
                "removed".into(),
                e.reference.clone(),
                e.who(),
                String::new(),
            ]);
        }
        for c in &self.changed {
            let who = |e: &Option<ListEntryView>| e.as_ref().map(ListEntryView::who);
            let names = match (who(&c.before), who(&c.after)) {
                (Some(b), Some(a)) if a != b => format!("{b}\n-> {a}"),
                (b, a) => a.or(b).unwrap_or_default(),
            };
            let mut what = c.changed_fields.join(", ");
            if c.identity_changed {
                what = format!("IDENTITY CHANGED: now someone else\n{what}");
            }
            t.add_row(vec!["changed".into(), c.reference.clone(), names, what]);
        }
        let substituted = self.changed.iter().filter(|c| c.identity_changed).count();
        let mut summary = format!(
            "{} added, {} removed, {} changed",
            self.added.len(),
            self.removed.len(),
            self.changed.len()
        );
        if substituted > 0 {
            let verb = if substituted == 1 {
                "describes"
            } else {
                "describe"
            };
            summary.push_str(&format!(
                "; warning: {} now {verb} someone else",
                count(substituted, "entry", "entries")
            ));
        }
        format!("{heading}\n{t}\n{summary}")
    }
}

#[derive(Debug, Serialize)]
pub struct SummaryView {
    pub paired: u32,
    pub unmatched_requests: u32,
    pub unmatched_offers: u32,
    pub suspected_substitutions: u32,
    pub needs_review: u32,
    pub open_reviews: u32,
}

impl From<&pb::ReconciliationSummary> for SummaryView {
    fn from(s: &pb::ReconciliationSummary) -> Self {
        Self {
            paired: s.paired,
            unmatched_requests: s.unmatched_requests,
            unmatched_offers: s.unmatched_offers,
            suspected_substitutions: s.suspected_substitutions,
            needs_review: s.needs_review,
            open_reviews: s.open_reviews,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ReconciliationView {
    pub id: String,
    pub phase_id: String,
    pub lists: Vec<ListRefView>,
    pub summary: SummaryView,
    /// A newer list version exists: this reconciliation can no longer be frozen.
    pub stale: bool,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub create_time: Option<OffsetDateTime>,
}

impl From<&pb::Reconciliation> for ReconciliationView {
    fn from(r: &pb::Reconciliation) -> Self {
        Self {
            id: r.id.clone(),
            phase_id: r.phase_id.clone(),
            lists: r.lists.iter().map(ListRefView::from).collect(),
            summary: SummaryView::from(&r.summary.unwrap_or_default()),
            stale: r.stale,
            created_by: r.created_by.clone(),
            create_time: time_of(r.create_time.as_ref()),
        }
    }
}

impl Render for ReconciliationView {
    fn table(&self) -> String {
        let s = &self.summary;
        let mut rows = vec![
            ("id", self.id.clone()),
            ("phase", self.phase_id.clone()),
            ("lists compared", lists_text(&self.lists)),
            ("paired", s.paired.to_string()),
            ("unmatched requests", s.unmatched_requests.to_string()),
            ("unmatched offers", s.unmatched_offers.to_string()),
            (
                "suspected substitutions",
                s.suspected_substitutions.to_string(),
            ),
            ("needs review", s.needs_review.to_string()),
            ("open reviews", s.open_reviews.to_string()),
            (
                "created",
                format!("{} by {}", short_time(self.create_time), self.created_by),
            ),
        ];
        if self.stale {
            rows.push((
                "STALE",
                "a newer list version exists; reconcile again before freezing".into(),
            ));
        }
        output::record(rows).to_string()
    }
}

#[derive(Debug, Serialize)]
pub struct ReviewView {
    pub decision: String,
    pub counterpart_reference: String,
    pub person_id: String,
    pub note: String,
    pub reviewed_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub review_time: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize)]
pub struct ReconciliationItemView {
    pub id: String,
    pub reconciliation_id: String,
    pub receiving_party: String,
    pub handing_party: String,
    pub outcome: String,
    pub request_reference: String,
    pub offer_reference: String,
    pub person_id: String,
    pub confidence: f64,
    pub explanation: Vec<String>,
    pub alternative_references: Vec<String>,
    /// None until an officer reviews the item.
    pub review: Option<ReviewView>,
}

impl From<&pb::ReconciliationItem> for ReconciliationItemView {
    fn from(i: &pb::ReconciliationItem) -> Self {
        Self {
            id: i.id.clone(),
            reconciliation_id: i.reconciliation_id.clone(),
            receiving_party: i.receiving_party.clone(),
            handing_party: i.handing_party.clone(),
            outcome: outcome_word(i.outcome),
            request_reference: i.request_reference.clone(),
            offer_reference: i.offer_reference.clone(),
            person_id: i.person_id.clone(),
            confidence: i.confidence,
            explanation: i.explanation.clone(),
            alternative_references: i.alternative_references.clone(),
            review: i.review.as_ref().map(|r| ReviewView {
                decision: review_decision_word(r.decision),
                counterpart_reference: r.counterpart_reference.clone(),
                person_id: r.person_id.clone(),
                note: r.note.clone(),
                reviewed_by: r.reviewed_by.clone(),
                review_time: time_of(r.review_time.as_ref()),
            }),
        }
    }
}

impl ReconciliationItemView {
    /// Whether matching left the decision to an officer.
    fn must_be_reviewed(&self) -> bool {
        matches!(
            self.outcome.as_str(),
            "suspected-substitution" | "needs-review"
        )
    }

    /// The first reason, every contradiction (what makes a substitution suspect) and the other
    /// plausible partners; the full explanation is in --output json.
    fn why(&self) -> String {
        let mut lines: Vec<String> = Vec::new();
        for (i, line) in self.explanation.iter().enumerate() {
            if i == 0 || line.starts_with("contradicting") {
                lines.push(line.clone());
            }
        }
        if !self.alternative_references.is_empty() {
            lines.push(format!("also: {}", self.alternative_references.join(", ")));
        }
        lines.join("\n")
    }

    fn review_text(&self) -> String {
        match &self.review {
            Some(r) if !r.counterpart_reference.is_empty() => {
                format!(
                    "{} {} ({})",
                    r.decision, r.counterpart_reference, r.reviewed_by
                )
            }
            Some(r) => format!("{} ({})", r.decision, r.reviewed_by),
            None if self.must_be_reviewed() => "OPEN".into(),
            None => "-".into(),
        }
    }
}

fn items_table(items: &[ReconciliationItemView]) -> String {
    let mut t = output::table([
        "ITEM",
        "OUTCOME",
        "HANDED BY",
        "REQUEST",
        "OFFER",
        "PERSON",
        "CONFIDENCE",
        "WHY",
        "REVIEW",
    ]);
    for i in items {
        t.add_row(vec![
            i.id.clone(),
            i.outcome.clone(),
            i.handing_party.clone(),
            i.request_reference.clone(),
            i.offer_reference.clone(),
            i.person_id.clone(),
            confidence_text(i.confidence),
            i.why(),
            i.review_text(),
        ]);
    }
    t.to_string()
}

#[derive(Debug, Serialize)]
pub struct ReconciliationItemsView {
    pub reconciliation: ReconciliationView,
    pub items: Vec<ReconciliationItemView>,
}

impl Render for ReconciliationItemsView {
    fn table(&self) -> String {
        let s = &self.reconciliation.summary;
        let mut out = format!(
            "reconciliation {}: {} paired, {} unmatched requests, {} unmatched offers, {} suspected \
             substitutions, {} to review; {} reviews open",
            self.reconciliation.id,
            s.paired,
            s.unmatched_requests,
            s.unmatched_offers,
            s.suspected_substitutions,
            s.needs_review,
            s.open_reviews
        );
        if self.reconciliation.stale {
            out.push_str("\nSTALE: a newer list version exists; reconcile again before freezing");
        }
        if self.items.is_empty() {
            out.push_str("\nno items match");
        } else {
            out.push('\n');
            out.push_str(&items_table(&self.items));
            out.push('\n');
            out.push_str(&count(self.items.len(), "item", "items"));
        }
        out
    }
}

/// The items a review changed and the reconciliation after it.
#[derive(Debug, Serialize)]
pub struct ReviewedView {
    pub items: Vec<ReconciliationItemView>,
    pub reconciliation: ReconciliationView,
}

impl Render for ReviewedView {
    fn table(&self) -> String {
        format!(
            "{}\n{} still open in reconciliation {}",
            items_table(&self.items),
            count(
                self.reconciliation.summary.open_reviews as usize,
                "review",
                "reviews"
            ),
            self.reconciliation.id
        )
    }
}

#[derive(Debug, Serialize)]
pub struct QuotaCountView {
    pub quota: QuotaView,
    pub counted: u32,
    /// Negative: a shortfall; positive: an excess.
    pub difference: i32,
    /// Not counted because sex or birth date is not known well enough.
    pub undetermined: u32,
}

#[derive(Debug, Serialize)]
pub struct PartyCountView {
    pub handing_party: String,
    pub total: u32,
    pub seriously_ill_or_wounded: u32,
    pub quotas: Vec<QuotaCountView>,
}

#[derive(Debug, Serialize)]
pub struct CountCheckView {
    pub balanced: bool,
    pub parties: Vec<PartyCountView>,
    pub problems: Vec<String>,
}

impl From<&pb::CountCheck> for CountCheckView {
    fn from(c: &pb::CountCheck) -> Self {
        Self {
            balanced: c.balanced,
            parties: c
                .parties
                .iter()
                .map(|p| PartyCountView {
                    handing_party: p.handing_party.clone(),
                    total: p.total,
                    seriously_ill_or_wounded: p.seriously_ill_or_wounded,
                    quotas: p
                        .quotas
                        .iter()
                        .map(|q| QuotaCountView {
                            quota: QuotaView::from(&q.quota.clone().unwrap_or_default()),
                            counted: q.counted,
                            difference: q.difference,
                            undetermined: q.undetermined,
                        })
                        .collect(),
                })
                .collect(),
            problems: c.problems.clone(),
        }
    }
}

impl Render for CountCheckView {
    fn table(&self) -> String {
        let mut t = output::table([
            "HANDED BY",
            "LINE",
            "QUOTA",
            "COUNTED",
            "DIFFERENCE",
            "UNDETERMINED",
        ]);
        for p in &self.parties {
            t.add_row(vec![
                p.handing_party.clone(),
                "everyone".into(),
                String::new(),
                p.total.to_string(),
                String::new(),
                String::new(),
            ]);
            t.add_row(vec![
                String::new(),
                "seriously ill or wounded (beside the quotas)".into(),
                String::new(),
                p.seriously_ill_or_wounded.to_string(),
                String::new(),
                String::new(),
            ]);
            for q in &p.quotas {
                let difference = match q.difference {
                    0 => "0".to_string(),
                    d if d > 0 => format!("+{d} excess"),
                    d => format!("{d} short"),
                };
                t.add_row(vec![
                    String::new(),
                    q.quota.line(),
                    q.quota.count.to_string(),
                    q.counted.to_string(),
                    difference,
                    if q.undetermined == 0 {
                        String::new()
                    } else {
                        q.undetermined.to_string()
                    },
                ]);
            }
        }
        let mut out = format!(
            "{t}\nbalanced: {}",
            if self.balanced { "yes" } else { "NO" }
        );
        for p in &self.problems {
            out.push_str(&format!("\n  - {p}"));
        }
        out
    }
}

/// The counts of a phase now, and the reconciliation they were taken from.
#[derive(Debug, Serialize)]
pub struct CountsView {
    pub reconciliation_id: String,
    #[serde(flatten)]
    pub counts: CountCheckView,
}

impl Render for CountsView {
    fn table(&self) -> String {
        format!(
            "counted from reconciliation {}\n{}",
            or_dash(&self.reconciliation_id),
            self.counts.table()
        )
    }
}

/// Names an entry of a party's list across versions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryKeyView {
    pub party: String,
    pub kind: String,
    pub reference: String,
}

impl From<&pb::ListEntryKey> for EntryKeyView {
    fn from(k: &pb::ListEntryKey) -> Self {
        Self {
            party: k.party.clone(),
            kind: list_kind_word(k.kind),
            reference: k.reference.clone(),
        }
    }
}

impl EntryKeyView {
    fn text(&self) -> String {
        format!("{} {} {}", self.party, self.kind, self.reference)
    }
}

fn entry_text(entry: &Option<EntryKeyView>) -> String {
    entry.as_ref().map(EntryKeyView::text).unwrap_or_default()
}

#[derive(Debug, Serialize)]
pub struct ConsentView {
    pub id: String,
    pub phase_id: String,
    pub entry: Option<EntryKeyView>,
    pub person_id: String,
    pub decision: String,
    pub interviewed_by: String,
    pub interviewer_organisation: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub interview_time: Option<OffsetDateTime>,
    pub interview_place: String,
    pub language: String,
    pub interpreter_present: bool,
    pub interviewed_in_private: bool,
    pub note: String,
    pub recorded_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub record_time: Option<OffsetDateTime>,
    pub superseded_by: String,
}

impl From<&pb::ConsentRecord> for ConsentView {
    fn from(c: &pb::ConsentRecord) -> Self {
        Self {
            id: c.id.clone(),
            phase_id: c.phase_id.clone(),
            entry: c.entry.as_ref().map(EntryKeyView::from),
            person_id: c.person_id.clone(),
            decision: consent_word(c.decision),
            interviewed_by: c.interviewed_by.clone(),
            interviewer_organisation: c.interviewer_organisation.clone(),
            interview_time: time_of(c.interview_time.as_ref()),
            interview_place: c.interview_place.clone(),
            language: c.language.clone(),
            interpreter_present: c.interpreter_present,
            interviewed_in_private: c.interviewed_in_private,
            note: c.note.clone(),
            recorded_by: c.recorded_by.clone(),
            record_time: time_of(c.record_time.as_ref()),
            superseded_by: c.superseded_by.clone(),
        }
    }
}

impl ConsentView {
    fn interviewer(&self) -> String {
        if self.interviewer_organisation.is_empty() {
            self.interviewed_by.clone()
        } else {
            format!(
                "{} ({})",
                self.interviewed_by, self.interviewer_organisation
            )
        }
    }

    fn conditions(&self) -> String {
        let mut c = Vec::new();
        if self.interviewed_in_private {
            c.push("in private".to_string());
        }
        if self.interpreter_present {
            c.push("interpreter".to_string());
        }
        if !self.language.is_empty() {
            c.push(format!("in {}", self.language));
        }
        c.join(", ")
    }
}

impl Render for ConsentView {
    fn table(&self) -> String {
        let mut rows = vec![
            ("id", self.id.clone()),
            ("phase", self.phase_id.clone()),
            ("entry", entry_text(&self.entry)),
            ("person", or_dash(&self.person_id)),
            ("decision", self.decision.clone()),
            ("interviewed by", self.interviewer()),
            ("interviewed", or_dash(&short_time(self.interview_time))),
            ("place", or_dash(&self.interview_place)),
            ("conditions", or_dash(&self.conditions())),
            ("note", or_dash(&self.note)),
            (
                "recorded",
                format!("{} by {}", short_time(self.record_time), self.recorded_by),
            ),
        ];
        if !self.superseded_by.is_empty() {
            rows.push(("superseded by", self.superseded_by.clone()));
        }
        output::record(rows).to_string()
    }
}

#[derive(Debug, Serialize)]
pub struct ConsentListView {
    pub consents: Vec<ConsentView>,
}

impl Render for ConsentListView {
    fn table(&self) -> String {
        if self.consents.is_empty() {
            return "no consent records".into();
        }
        let mut t = output::table([
            "ID",
            "ENTRY",
            "PERSON",
            "DECISION",
            "INTERVIEWED BY",
            "WHEN",
            "CONDITIONS",
            "SUPERSEDED BY",
        ]);
        for c in &self.consents {
            t.add_row(vec![
                c.id.clone(),
                entry_text(&c.entry),
                c.person_id.clone(),
                c.decision.clone(),
                c.interviewer(),
                short_time(c.interview_time),
                c.conditions(),
                c.superseded_by.clone(),
            ]);
        }
        let refusals = self
            .consents
            .iter()
            .filter(|c| c.decision == "refuses" && c.superseded_by.is_empty())
            .count();
        format!(
            "{t}\n{}, {}",
            count(self.consents.len(), "record", "records"),
            count(refusals, "refusal", "refusals")
        )
    }
}

#[derive(Debug, Serialize)]
pub struct HoldBackView {
    pub id: String,
    pub etag: String,
    pub phase_id: String,
    pub entry: Option<EntryKeyView>,
    pub person_id: String,
    pub reason: String,
    pub reason_detail: String,
    pub other_side_informed: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub inform_time: Option<OffsetDateTime>,
    pub informed_via: String,
    pub lifted: bool,
    pub recorded_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub create_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub update_time: Option<OffsetDateTime>,
}

impl From<&pb::HoldBack> for HoldBackView {
    fn from(h: &pb::HoldBack) -> Self {
        Self {
            id: h.id.clone(),
            etag: h.etag.clone(),
            phase_id: h.phase_id.clone(),
            entry: h.entry.as_ref().map(EntryKeyView::from),
            person_id: h.person_id.clone(),
            reason: hold_back_reason_word(h.reason),
            reason_detail: h.reason_detail.clone(),
            other_side_informed: h.other_side_informed,
            inform_time: time_of(h.inform_time.as_ref()),
            informed_via: h.informed_via.clone(),
            lifted: h.lifted,
            recorded_by: h.recorded_by.clone(),
            create_time: time_of(h.create_time.as_ref()),
            update_time: time_of(h.update_time.as_ref()),
        }
    }
}

impl HoldBackView {
    fn informed(&self) -> String {
        match (self.other_side_informed, self.informed_via.as_str()) {
            (false, _) => "NOT YET".into(),
            (true, "") => format!("yes, {}", short_time(self.inform_time)),
            (true, via) => format!("yes, {} via {via}", short_time(self.inform_time)),
        }
    }

    fn reason_text(&self) -> String {
        if self.reason_detail.is_empty() {
            self.reason.clone()
        } else {
            format!("{}: {}", self.reason, self.reason_detail)
        }
    }
}

impl Render for HoldBackView {
    fn table(&self) -> String {
        output::record(vec![
            ("id", self.id.clone()),
            ("phase", self.phase_id.clone()),
            ("entry", entry_text(&self.entry)),
            ("person", or_dash(&self.person_id)),
            ("reason", self.reason_text()),
            ("other side informed", self.informed()),
            ("lifted", yes_no(self.lifted)),
            (
                "recorded",
                format!("{} by {}", short_time(self.create_time), self.recorded_by),
            ),
            ("updated", short_time(self.update_time)),
            ("etag", self.etag.clone()),
        ])
        .to_string()
    }
}

#[derive(Debug, Serialize)]
pub struct HoldBackListView {
    pub hold_backs: Vec<HoldBackView>,
}

impl Render for HoldBackListView {
    fn table(&self) -> String {
        if self.hold_backs.is_empty() {
            return "no hold-backs".into();
        }
        let mut t = output::table(["ID", "ENTRY", "PERSON", "REASON", "INFORMED", "LIFTED"]);
        for h in &self.hold_backs {
            t.add_row(vec![
                h.id.clone(),
                entry_text(&h.entry),
                h.person_id.clone(),
                h.reason_text(),
                h.informed(),
                yes_no(h.lifted),
            ]);
        }
        let uninformed = self
            .hold_backs
            .iter()
            .filter(|h| !h.other_side_informed && !h.lifted)
            .count();
        let mut out = format!(
            "{t}\n{}",
            count(self.hold_backs.len(), "hold-back", "hold-backs")
        );
        if uninformed > 0 {
            out.push_str(&format!(
                "; {uninformed} not yet told to the other side (the handover cannot start until they are)"
            ));
        }
        out
    }
}

#[derive(Debug, Serialize)]
pub struct HandoverCheckView {
    pub id: String,
    pub phase_id: String,
    pub handing_party: String,
    /// None for someone presented who is on no list.
    pub entry: Option<EntryKeyView>,
    pub person_id: String,
    pub result: String,
    pub presented_identity: Option<IdentityView>,
    pub methods: Vec<String>,
    pub checked_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub check_time: Option<OffsetDateTime>,
    pub note: String,
    pub superseded_by: String,
}

impl From<&pb::HandoverCheck> for HandoverCheckView {
    fn from(c: &pb::HandoverCheck) -> Self {
        Self {
            id: c.id.clone(),
            phase_id: c.phase_id.clone(),
            handing_party: c.handing_party.clone(),
            entry: c.entry.as_ref().map(EntryKeyView::from),
            person_id: c.person_id.clone(),
            result: check_result_word(c.result),
            presented_identity: c.presented_identity.as_ref().map(IdentityView::from),
            methods: c.methods.iter().map(|m| check_method_word(*m)).collect(),
            checked_by: c.checked_by.clone(),
            check_time: time_of(c.check_time.as_ref()),
            note: c.note.clone(),
            superseded_by: c.superseded_by.clone(),
        }
    }
}

impl HandoverCheckView {
    fn presented(&self) -> String {
        self.presented_identity
            .as_ref()
            .map(|i| {
                let mut text = i.first_name();
                if let Some(born) = &i.birth_date {
                    text.push_str(&format!(", born {born}"));
                }
                text
            })
            .unwrap_or_default()
    }
}

impl Render for HandoverCheckView {
    fn table(&self) -> String {
        let mut rows = vec![
            ("id", self.id.clone()),
            ("phase", self.phase_id.clone()),
            ("handed by", self.handing_party.clone()),
            ("entry", or_dash(&entry_text(&self.entry))),
            ("person", or_dash(&self.person_id)),
            ("result", self.result.clone()),
        ];
        if self.presented_identity.is_some() {
            rows.push(("presented", self.presented()));
        }
        rows.extend([
            ("methods", or_dash(&self.methods.join(", "))),
            ("checked by", or_dash(&self.checked_by)),
            ("checked", short_time(self.check_time)),
            ("note", or_dash(&self.note)),
        ]);
        if !self.superseded_by.is_empty() {
            rows.push(("superseded by", self.superseded_by.clone()));
        }
        output::record(rows).to_string()
    }
}

fn checks_table(checks: &[HandoverCheckView]) -> String {
    let mut t = output::table([
        "ID",
        "HANDED BY",
        "ENTRY",
        "PERSON",
        "RESULT",
        "PRESENTED",
        "METHODS",
        "CHECKED BY",
        "WHEN",
    ]);
    for c in checks {
        t.add_row(vec![
            c.id.clone(),
            c.handing_party.clone(),
            entry_text(&c.entry),
            c.person_id.clone(),
            c.result.clone(),
            c.presented(),
            c.methods.join(", "),
            c.checked_by.clone(),
            short_time(c.check_time),
        ]);
    }
    t.to_string()
}

#[derive(Debug, Serialize)]
pub struct CheckListView {
    pub checks: Vec<HandoverCheckView>,
}

impl Render for CheckListView {
    fn table(&self) -> String {
        if self.checks.is_empty() {
            return "no handover checks".into();
        }
        let verified = self
            .checks
            .iter()
            .filter(|c| c.result == "verified")
            .count();
        format!(
            "{}\n{}, {verified} verified",
            checks_table(&self.checks),
            count(self.checks.len(), "check", "checks")
        )
    }
}

#[derive(Debug, Serialize)]
pub struct TallyView {
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

impl From<&pb::PartyHandoverTally> for TallyView {
    fn from(t: &pb::PartyHandoverTally) -> Self {
        Self {
            handing_party: t.handing_party.clone(),
            planned: t.planned,
            verified: t.verified,
            mismatched: t.mismatched,
            missing: t.missing,
            not_on_list: t.not_on_list,
            refused: t.refused,
            held_back: t.held_back,
            seriously_ill_or_wounded: t.seriously_ill_or_wounded,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ReportView {
    pub phase: PhaseView,
    pub agreement: AgreementView,
    pub tallies: Vec<TallyView>,
    pub planned_counts: CountCheckView,
    pub handed_over_counts: CountCheckView,
    pub refusals: Vec<ConsentView>,
    pub hold_backs: Vec<HoldBackView>,
    pub exceptions: Vec<HandoverCheckView>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub generate_time: Option<OffsetDateTime>,
    pub audit_head_sequence: u64,
    pub audit_head_hash: String,
}

impl From<&pb::PhaseReport> for ReportView {
    fn from(r: &pb::PhaseReport) -> Self {
        Self {
            phase: PhaseView::from(&r.phase.clone().unwrap_or_default()),
            agreement: AgreementView::from(&r.agreement.clone().unwrap_or_default()),
            tallies: r.tallies.iter().map(TallyView::from).collect(),
            planned_counts: CountCheckView::from(&r.planned_counts.clone().unwrap_or_default()),
            handed_over_counts: CountCheckView::from(
                &r.handed_over_counts.clone().unwrap_or_default(),
            ),
            refusals: r.refusals.iter().map(ConsentView::from).collect(),
            hold_backs: r.hold_backs.iter().map(HoldBackView::from).collect(),
            exceptions: r.exceptions.iter().map(HandoverCheckView::from).collect(),
            generate_time: time_of(r.generate_time.as_ref()),
            audit_head_sequence: r.audit_head_sequence,
            audit_head_hash: r.audit_head_hash.clone(),
        }
    }
}

impl Render for ReportView {
    fn table(&self) -> String {
        let p = &self.phase;
        let title = if p.title.is_empty() {
            String::new()
        } else {
            format!(" ({})", p.title)
        };
        let mut out = format!(
            "phase {}{title} of agreement {} ({}): {}, planned {} at {}",
            p.number,
            self.agreement.id,
            self.agreement.title,
            p.state,
            or_dash(&short_time(p.planned_time)),
            or_dash(&p.place)
        );
        if !p.outcome_note.is_empty() {
            out.push_str(&format!("\noutcome note: {}", p.outcome_note));
        }
        if !p.imbalance_reason.is_empty() {
            out.push_str(&format!("\nimbalance accepted: {}", p.imbalance_reason));
        }
        let mut t = output::table([
            "HANDED BY",
            "PLANNED",
            "VERIFIED",
            "MISMATCHED",
            "MISSING",
            "NOT ON LIST",
            "REFUSED",
            "HELD BACK",
            "SICK/WOUNDED",
        ]);
        for x in &self.tallies {
            t.add_row(vec![
                x.handing_party.clone(),
                x.planned.to_string(),
                x.verified.to_string(),
                x.mismatched.to_string(),
                x.missing.to_string(),
                x.not_on_list.to_string(),
                x.refused.to_string(),
                x.held_back.to_string(),
                x.seriously_ill_or_wounded.to_string(),
            ]);
        }
        out.push_str(&format!("\n\nplanned against handed over\n{t}"));
        out.push_str(&format!(
            "\n\ncounts of the frozen lists\n{}",
            self.planned_counts.table()
        ));
        out.push_str(&format!(
            "\n\ncounts of those verified at the handover\n{}",
            self.handed_over_counts.table()
        ));
        if !self.refusals.is_empty() {
            let mut t = output::table(["ENTRY", "PERSON", "INTERVIEWED BY", "WHEN", "CONDITIONS"]);
            for c in &self.refusals {
                t.add_row(vec![
                    entry_text(&c.entry),
                    c.person_id.clone(),
                    c.interviewer(),
                    short_time(c.interview_time),
                    c.conditions(),
                ]);
            }
            out.push_str(&format!("\n\nrefused to return\n{t}"));
        }
        if !self.hold_backs.is_empty() {
            let mut t = output::table(["ENTRY", "PERSON", "REASON", "INFORMED"]);
            for h in &self.hold_backs {
                t.add_row(vec![
                    entry_text(&h.entry),
                    h.person_id.clone(),
                    h.reason_text(),
                    h.informed(),
                ]);
            }
            out.push_str(&format!("\n\nheld back\n{t}"));
        }
        if !self.exceptions.is_empty() {
            out.push_str(&format!(
                "\n\nexceptions at the handover\n{}",
                checks_table(&self.exceptions)
            ));
        }
        out.push_str(&format!(
            "\n\ngenerated {}; audit log head {} {}",
            short_time(self.generate_time),
            self.audit_head_sequence,
            self.audit_head_hash
        ));
        out
    }
}

/// What a manifest file holds, by outcome.
#[derive(Debug, Serialize)]
pub struct ManifestView {
    pub file: String,
    pub phase_id: String,
    pub phase_state: String,
    pub frozen_lists: Vec<ListRefView>,
    pub rows: usize,
    /// Each outcome with its number of rows, in the order outcomes first appear.
    pub outcomes: Vec<(String, usize)>,
}

impl Render for ManifestView {
    fn table(&self) -> String {
        let mut t = output::table(["OUTCOME", "ROWS"]);
        for (outcome, n) in &self.outcomes {
            t.add_row(vec![outcome.clone(), n.to_string()]);
        }
        format!(
            "wrote {} to {} (phase {}, {}; frozen lists {})\n{t}",
            count(self.rows, "row", "rows"),
            self.file,
            self.phase_id,
            self.phase_state,
            lists_text(&self.frozen_lists)
        )
    }
}

#[cfg(test)]
mod tests {
    use homeward_proto::common::v1 as common;

    use super::*;

    #[test]
    fn quota_lines_read_as_whom_they_count() {
        let q = |party: &str, category: i32, sex: i32, band: Option<(u32, u32)>| {
            QuotaView::from(&pb::Quota {
                party: party.into(),
                category,
                sex,
                age_band: band.map(|(min_age, max_age)| pb::AgeBand { min_age, max_age }),
                count: 3,
            })
        };
        assert_eq!(q("", 0, 0, None).text(), "each party, total: 3");
        assert_eq!(
            q("UA", 1, 2, Some((18, 60))).text(),
            "UA, service-member, female, age 18-60: 3"
        );
        assert_eq!(q("RU", 0, 0, Some((60, 0))).line(), "age 60+");
        assert_eq!(q("RU", 0, 0, Some((0, 17))).line(), "age up to 17");
        let json = serde_json::to_value(q("UA", 2, 0, Some((60, 0)))).unwrap();
        assert_eq!(json["category"], "civilian");
        assert_eq!(json["sex"], serde_json::Value::Null);
        assert_eq!(json["max_age"], serde_json::Value::Null);
    }

    #[test]
    fn a_review_item_shows_its_first_reason_every_contradiction_and_that_it_is_open() {
        let item = ReconciliationItemView::from(&pb::ReconciliationItem {
            id: "i7".into(),
            outcome: pb::ReconciliationOutcome::SuspectedSubstitution as i32,
            request_reference: "UA-17".into(),
            offer_reference: "RU-0017".into(),
            person_id: "p1".into(),
            confidence: 0.614,
            explanation: vec![
                "family name: transliteration of Коваленко".into(),
                "given name: same".into(),
                "contradicting: birth date".into(),
            ],
            alternative_references: vec!["RU-0018".into()],
            ..Default::default()
        });
        let table = items_table(std::slice::from_ref(&item));
        let row = table.lines().find(|l| l.contains("i7")).unwrap();
        assert!(row.contains("suspected-substitution"), "{table}");
        assert!(row.contains("UA-17") && row.contains("RU-0017"), "{table}");
        assert!(row.contains("0.61") && row.contains("OPEN"), "{table}");
        assert!(table.contains("contradicting: birth date"), "{table}");
        assert!(table.contains("also: RU-0018"), "{table}");
        assert!(!table.contains("given name: same"), "{table}");
    }

    #[test]
    fn counts_show_shortfalls_and_excesses_and_every_problem() {
        let view = CountCheckView::from(&pb::CountCheck {
            parties: vec![pb::PartyCount {
                handing_party: "RU".into(),
                total: 388,
                seriously_ill_or_wounded: 4,
                quotas: vec![pb::QuotaCount {
                    quota: Some(pb::Quota {
                        category: common::PersonCategory::ServiceMember as i32,
                        count: 270,
                        ..Default::default()
                    }),
                    counted: 268,
                    difference: -2,
                    undetermined: 1,
                }],
            }],
            balanced: false,
            problems: vec!["RU hands over 268 service members of 270".into()],
        });
        let table = view.table();
        let row = table.lines().find(|l| l.contains("268")).unwrap();
        assert!(
            row.contains("service-member") && row.contains("-2 short"),
            "{table}"
        );
        assert!(table.contains("balanced: NO"), "{table}");
        assert!(table.contains("  - RU hands over 268"), "{table}");
    }

    #[test]
    fn a_comparison_warns_when_an_entry_now_describes_someone_else() {
        let entry = |family: &str| pb::ListEntry {
            reference: "RU-1".into(),
            subject: Some(pb::list_entry::Subject::Identity(pb::ListedIdentity {
                names: vec![common::PersonName {
                    family: family.into(),
                    ..Default::default()
                }],
                ..Default::default()
            })),
            ..Default::default()
        };
        let response = pb::CompareListVersionsResponse {
            added: vec![],
            removed: vec![],
            changed: vec![pb::ListEntryChange {
                reference: "RU-1".into(),
                before: Some(entry("Коваленко")),
                after: Some(entry("Бондаренко")),
                changed_fields: vec!["identity.names".into()],
                identity_changed: true,
            }],
        };
        let table = ListComparisonView::new("RU".into(), "offer".into(), 1, 0, &response).table();
        assert!(table.contains("IDENTITY CHANGED"), "{table}");
        assert!(
            table.contains("Коваленко") && table.contains("Бондаренко"),
            "{table}"
        );
        assert!(
            table.ends_with("1 entry now describes someone else"),
            "{table}"
        );
    }
}
