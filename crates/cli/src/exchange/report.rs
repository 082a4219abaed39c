//! `homewardctl exchange report|manifest`: what a phase planned against what happened. The report
//! is the service's own (GetPhaseReport); the manifest is a CSV file with one row per entry of
//! the frozen offer lists, put together here from the frozen list versions, the reconciliation
//! that paired them, and the latest consent records, hold-backs and handover checks.
//!
//! The manifest holds names as listed: it is written only to the file named with --out (or to
//! stdout with `--out -`), never over an existing file unless --force says so, and readable by
//! its owner only.

use std::{
    collections::{BTreeSet, HashMap},
    io::Write,
    path::PathBuf,
};

use clap::Args;
use homeward_proto::exchange::v1 as pb;
use serde::Serialize;

use super::{PhaseArg, all_pages, handover::list_checks};
use crate::{
    Context,
    client::Exchange,
    error::CliError,
    output,
    view::{
        category_word, check_result_word, date_text,
        exchange::{ListRefView, ManifestView, ReportView},
        hold_back_reason_word, phase_state_word, sex_word,
    },
};

#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// The phase's id.
    #[arg(value_name = "PHASE")]
    phase_id: String,
    /// The CSV file to write, or - for stdout.
    #[arg(long, value_name = "FILE.csv")]
    out: PathBuf,
    /// Overwrite the file if it exists.
    #[arg(long)]
    force: bool,
}

pub async fn report(a: PhaseArg, ctx: &Context) -> Result<(), CliError> {
    let response = ctx
        .exchange()?
        .get_phase_report(pb::GetPhaseReportRequest {
            phase_id: a.phase_id.trim().to_string(),
        })
        .await?
        .into_inner();
    output::show(
        ctx.output,
        &ReportView::from(&response.report.unwrap_or_default()),
    )
}

/// One row of the manifest: one entry of a frozen offer list and what became of the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestRow {
    pub handing_party: String,
    pub receiving_party: String,
    pub offer_reference: String,
    /// The receiving party's request entry it was paired with; empty when unmatched.
    pub request_reference: String,
    pub person_id: String,
    /// The first name as listed (on the offer entry, or else on the paired request entry).
    pub family: String,
    pub given: String,
    pub patronymic: String,
    /// Further name variants as listed, "family given patronymic" joined by " | ".
    pub other_names: String,
    pub category: String,
    pub sex: String,
    pub birth_date: String,
    pub seriously_ill: bool,
    pub wounded: bool,
    /// verified, mismatch, missing, refused, held-back or not-checked.
    pub outcome: String,
    /// What the outcome rests on: who was presented instead, why held back, the check's note.
    pub detail: String,
}

/// The records of a phase a manifest is made from.
#[derive(Debug, Default)]
pub struct Evidence {
    /// The frozen list versions, with their entries.
    pub lists: Vec<pb::ListVersion>,
    /// The items of the frozen reconciliation.
    pub items: Vec<pb::ReconciliationItem>,
    /// Checks, consent records and hold-backs in force (not superseded, not lifted).
    pub checks: Vec<pb::HandoverCheck>,
    pub consents: Vec<pb::ConsentRecord>,
    pub hold_backs: Vec<pb::HoldBack>,
}

/// An entry's key as the records refer to it: (party, kind, reference).
type Key = (String, i32, String);

fn key_of(entry: Option<&pb::ListEntryKey>) -> Option<Key> {
    entry.map(|e| (e.party.clone(), e.kind, e.reference.clone()))
}

/// The request reference each offer entry, (handing party, offer reference), is paired with.
/// A rejected pair pairs nothing; a pair made by hand pairs the item's entry with the
/// counterpart it names.
fn pairs(items: &[pb::ReconciliationItem]) -> HashMap<(String, String), (String, String)> {
    use pb::ReviewDecision as D;
    let mut paired = HashMap::new();
    for item in items {
        let decision = item.review.as_ref().map(|r| r.decision).unwrap_or_default();
        let (offer, request) = if decision == D::RejectPair as i32 {
            continue;
        } else if decision == D::PairWith as i32 {
            let counterpart = item
                .review
                .as_ref()
                .map(|r| r.counterpart_reference.clone())
                .unwrap_or_default();
            if item.request_reference.is_empty() {
                (item.offer_reference.clone(), counterpart)
            } else {
                (counterpart, item.request_reference.clone())
            }
        } else {
            (item.offer_reference.clone(), item.request_reference.clone())
        };
        if offer.is_empty() || request.is_empty() {
            continue;
        }
        paired.insert(
            (item.handing_party.clone(), offer),
            (item.receiving_party.clone(), request),
        );
    }
    paired
}

/// What became of one entry. A check that found the person (verified) or someone else
/// (mismatch) says what happened at the crossing; a refusal or a hold-back explains why nobody
/// was presented, and so weighs more than the "missing" that completion records for everyone
/// unchecked.
fn outcome(
    check: Option<&pb::HandoverCheck>,
    consent: Option<&pb::ConsentRecord>,
    hold_back: Option<&pb::HoldBack>,
) -> (String, String) {
    use pb::HandoverCheckResult as R;
    let refused = consent.filter(|c| c.decision == pb::ConsentDecision::Refuses as i32);
    match (check, refused, hold_back) {
        (Some(c), _, _) if c.result == R::Verified as i32 => ("verified".into(), c.note.clone()),
        (Some(c), _, _) if c.result == R::Mismatch as i32 => {
            let presented = c
                .presented_identity
                .as_ref()
                .and_then(|i| i.names.first())
                .map(|n| {
                    [n.family.as_str(), n.given.as_str(), n.patronymic.as_str()]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            let detail = [format!("presented: {presented}"), c.note.clone()]
                .into_iter()
                .filter(|s| !s.is_empty() && s != "presented: ")
                .collect::<Vec<_>>()
                .join("; ");
            ("mismatch".into(), detail)
        }
        (_, Some(c), _) => (
            "refused".into(),
            format!("interviewed by {}", c.interviewed_by),
        ),
        (_, _, Some(h)) => {
            let reason = hold_back_reason_word(h.reason);
            let detail = if h.reason_detail.is_empty() {
                reason
            } else {
                format!("{reason}: {}", h.reason_detail)
            };
            ("held-back".into(), detail)
        }
        (Some(c), _, _) => (check_result_word(c.result), c.note.clone()),
        (None, _, _) => ("not-checked".into(), String::new()),
    }
}

/// The newest of several records of one entry, by `time`.
fn newest<'a, T>(
    records: impl Iterator<Item = &'a T>,
    time: impl Fn(&T) -> Option<&prost_types::Timestamp>,
) -> HashMap<Key, &'a T>
where
    T: 'a + HasEntry,
{
    let mut found: HashMap<Key, &T> = HashMap::new();
    for r in records {
        let Some(key) = key_of(r.entry()) else {
            continue;
        };
        let at = |r: &T| time(r).map(|t| (t.seconds, t.nanos));
        match found.get(&key) {
            Some(seen) if at(seen) >= at(r) => {}
            _ => {
                found.insert(key, r);
            }
        }
    }
    found
}

trait HasEntry {
    fn entry(&self) -> Option<&pb::ListEntryKey>;
}

impl HasEntry for pb::HandoverCheck {
    fn entry(&self) -> Option<&pb::ListEntryKey> {
        self.entry.as_ref()
    }
}

impl HasEntry for pb::ConsentRecord {
    fn entry(&self) -> Option<&pb::ListEntryKey> {
        self.entry.as_ref()
    }
}

impl HasEntry for pb::HoldBack {
    fn entry(&self) -> Option<&pb::ListEntryKey> {
        self.entry.as_ref()
    }
}

/// The manifest's rows: every entry of every frozen offer list, in list order.
pub fn build_manifest(evidence: &Evidence) -> Vec<ManifestRow> {
    use pb::list_entry::Subject;
    let offer = pb::ListKind::Offer as i32;
    let request = pb::ListKind::Request as i32;
    let parties: BTreeSet<String> = evidence
        .lists
        .iter()
        .filter_map(|l| l.list.as_ref().map(|r| r.party.clone()))
        .collect();
    let requests: HashMap<(String, String), &pb::ListEntry> = evidence
        .lists
        .iter()
        .filter(|l| l.list.as_ref().is_some_and(|r| r.kind == request))
        .flat_map(|l| {
            let party = l.list.clone().unwrap_or_default().party;
            l.entries
                .iter()
                .map(move |e| ((party.clone(), e.reference.clone()), e))
        })
        .collect();
    let paired = pairs(&evidence.items);
    // The registry person an offer entry resolved to: an officer's choice first, then matching's,
    // from any item that names the entry (pairing by hand leaves it on the counterpart's item).
    let mut resolved: HashMap<(String, String), String> = HashMap::new();
    for pass in 0..2 {
        for i in &evidence.items {
            let id = match pass {
                0 => i
                    .review
                    .as_ref()
                    .map(|r| r.person_id.clone())
                    .unwrap_or_default(),
                _ => i.person_id.clone(),
            };
            if !i.offer_reference.is_empty() && !id.is_empty() {
                resolved
                    .entry((i.handing_party.clone(), i.offer_reference.clone()))
                    .or_insert(id);
            }
        }
    }
    let checks = newest(
        evidence
            .checks
            .iter()
            .filter(|c| c.superseded_by.is_empty()),
        |c| c.check_time.as_ref(),
    );
    let consents = newest(
        evidence
            .consents
            .iter()
            .filter(|c| c.superseded_by.is_empty()),
        |c| c.interview_time.as_ref().or(c.record_time.as_ref()),
    );
    let hold_backs = newest(evidence.hold_backs.iter().filter(|h| !h.lifted), |h| {
        h.create_time.as_ref()
    });

    let mut rows = Vec::new();
    for list in &evidence.lists {
        let Some(r) = list.list.as_ref().filter(|r| r.kind == offer) else {
            continue;
        };
        let handing = r.party.clone();
        for entry in &list.entries {
            let here = (handing.clone(), entry.reference.clone());
            let (receiving, request_reference) = paired.get(&here).cloned().unwrap_or_else(|| {
                // Unpaired: the person would go to the other party of the agreement.
                let other = parties.iter().find(|p| **p != handing).cloned();
                (other.unwrap_or_default(), String::new())
            });
            let request_entry = requests.get(&(receiving.clone(), request_reference.clone()));
            let identity = match (&entry.subject, request_entry.map(|e| &e.subject)) {
                (Some(Subject::Identity(i)), _) => Some(i),
                (_, Some(Some(Subject::Identity(i)))) => Some(i),
                _ => None,
            };
            let key = (handing.clone(), offer, entry.reference.clone());
            let (check, consent, hold_back) = (
                checks.get(&key).copied(),
                consents.get(&key).copied(),
                hold_backs.get(&key).copied(),
            );
            let person_id = match &entry.subject {
                Some(Subject::PersonId(id)) => id.clone(),
                _ => resolved
                    .get(&here)
                    .cloned()
                    .into_iter()
                    .chain(check.map(|c| c.person_id.clone()))
                    .chain(consent.map(|c| c.person_id.clone()))
                    .chain(hold_back.map(|h| h.person_id.clone()))
                    .find(|id| !id.is_empty())
                    .unwrap_or_default(),
            };
            let (outcome, detail) = outcome(check, consent, hold_back);
            let first = identity.and_then(|i| i.names.first());
            let part = |f: fn(&homeward_proto::common::v1::PersonName) -> &String| {
                first.map(|n| f(n).clone()).unwrap_or_default()
            };
            rows.push(ManifestRow {
                handing_party: handing.clone(),
                receiving_party: receiving,
                offer_reference: entry.reference.clone(),
                request_reference,
                person_id,
                family: part(|n| &n.family),
                given: part(|n| &n.given),
                patronymic: part(|n| &n.patronymic),
                other_names: identity
                    .map(|i| {
                        i.names
                            .iter()
                            .skip(1)
                            .map(|n| {
                                [n.family.as_str(), n.given.as_str(), n.patronymic.as_str()]
                                    .into_iter()
                                    .filter(|s| !s.is_empty())
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            })
                            .collect::<Vec<_>>()
                            .join(" | ")
                    })
                    .unwrap_or_default(),
                category: identity
                    .filter(|i| i.category != 0)
                    .map(|i| category_word(i.category))
                    .unwrap_or_default(),
                sex: identity
                    .filter(|i| i.sex != 0)
                    .map(|i| sex_word(i.sex))
                    .unwrap_or_default(),
                birth_date: identity
                    .and_then(|i| date_text(i.birth_date.as_ref()))
                    .unwrap_or_default(),
                seriously_ill: entry.seriously_ill,
                wounded: entry.wounded,
                outcome,
                detail,
            });
        }
    }
    rows
}

/// The rows as CSV, header first.
fn to_csv(rows: &[ManifestRow]) -> Result<Vec<u8>, CliError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let failed = |e: &dyn std::fmt::Display| CliError::Failed(format!("could not write CSV: {e}"));
    if rows.is_empty() {
        // serde writes the header with the first row; an empty manifest still names its columns.
        writer
            .write_record(MANIFEST_COLUMNS)
            .map_err(|e| failed(&e))?;
    }
    for row in rows {
        writer.serialize(row).map_err(|e| failed(&e))?;
    }
    writer.into_inner().map_err(|e| failed(&e))
}

const MANIFEST_COLUMNS: [&str; 16] = [
    "handing_party",
    "receiving_party",
    "offer_reference",
    "request_reference",
    "person_id",
    "family",
    "given",
    "patronymic",
    "other_names",
    "category",
    "sex",
    "birth_date",
    "seriously_ill",
    "wounded",
    "outcome",
    "detail",
];

/// Writes `bytes` to `path`, readable by its owner only, refusing to replace a file unless
/// `force`.
fn write_file(path: &PathBuf, bytes: &[u8], force: bool) -> Result<(), CliError> {
    let name = path.display();
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::input(format!(
                "{name} exists: choose another --out, or pass --force to replace it"
            ))
        } else {
            CliError::input(format!("cannot create {name}: {e}"))
        }
    })?;
    file.write_all(bytes)
        .and_then(|()| file.flush())
        .map_err(|e| CliError::Failed(format!("could not write {name}: {e}")))
}

/// Everything a manifest is made from, read from the service page by page.
async fn gather(client: &Exchange, phase: &pb::Phase) -> Result<Evidence, CliError> {
    let mut evidence = Evidence::default();
    for r in &phase.frozen_lists {
        let list = client
            .clone()
            .get_list_version(pb::GetListVersionRequest {
                phase_id: phase.id.clone(),
                party: r.party.clone(),
                kind: r.kind,
                version: r.version,
            })
            .await?
            .into_inner()
            .list
            .unwrap_or_default();
        evidence.lists.push(list);
    }
    if !phase.frozen_reconciliation_id.is_empty() {
        evidence.items = all_pages(|page_token| {
            let mut client = client.clone();
            let request = pb::ListReconciliationItemsRequest {
                page_size: 0,
                page_token,
                reconciliation_id: phase.frozen_reconciliation_id.clone(),
                outcome: 0,
                open_reviews_only: false,
            };
            async move {
                let page = client
                    .list_reconciliation_items(request)
                    .await?
                    .into_inner();
                Ok((page.items, page.next_page_token))
            }
        })
        .await?;
    }
    evidence.checks = list_checks(
        client,
        pb::ListHandoverChecksRequest {
            phase_id: phase.id.clone(),
            ..Default::default()
        },
    )
    .await?;
    evidence.consents = all_pages(|page_token| {
        let mut client = client.clone();
        let request = pb::ListConsentRecordsRequest {
            page_token,
            phase_id: phase.id.clone(),
            ..Default::default()
        };
        async move {
            let page = client.list_consent_records(request).await?.into_inner();
            Ok((page.consents, page.next_page_token))
        }
    })
    .await?;
    evidence.hold_backs = all_pages(|page_token| {
        let mut client = client.clone();
        let request = pb::ListHoldBacksRequest {
            page_token,
            phase_id: phase.id.clone(),
            ..Default::default()
        };
        async move {
            let page = client.list_hold_backs(request).await?.into_inner();
            Ok((page.hold_backs, page.next_page_token))
        }
    })
    .await?;
    Ok(evidence)
}

pub async fn manifest(a: ManifestArgs, ctx: &Context) -> Result<(), CliError> {
    let mut client = ctx.exchange()?;
    let phase_id = a.phase_id.trim().to_string();
    let phase = client
        .get_phase(pb::GetPhaseRequest {
            id: phase_id.clone(),
        })
        .await?
        .into_inner()
        .phase
        .unwrap_or_default();
    let state = phase_state_word(phase.state);
    if phase.frozen_lists.is_empty() {
        return Err(CliError::input(format!(
            "phase {phase_id} is {state} and has no frozen lists: a manifest is made of the lists \
             frozen with `homewardctl exchange phase freeze`"
        )));
    }
    let progress = output::progress(None);
    progress.set_message("reading the frozen lists, checks, consent records and hold-backs");
    let gathered = gather(&client, &phase).await;
    progress.finish_and_clear();
    let rows = build_manifest(&gathered?);
    let bytes = to_csv(&rows)?;
    let to_stdout = a.out.as_os_str() == "-";
    if to_stdout {
        output::print(String::from_utf8_lossy(&bytes).trim_end())?;
    } else {
        write_file(&a.out, &bytes, a.force)?;
    }
    let mut outcomes: Vec<(String, usize)> = Vec::new();
    for row in &rows {
        match outcomes.iter_mut().find(|(o, _)| *o == row.outcome) {
            Some((_, n)) => *n += 1,
            None => outcomes.push((row.outcome.clone(), 1)),
        }
    }
    let view = ManifestView {
        file: if to_stdout {
            "stdout".into()
        } else {
            a.out.display().to_string()
        },
        phase_id,
        phase_state: state,
        frozen_lists: phase.frozen_lists.iter().map(ListRefView::from).collect(),
        rows: rows.len(),
        outcomes,
    };
    if to_stdout {
        // Stdout holds the CSV; the summary goes with the other notes.
        output::note(&output::Render::table(&view));
        Ok(())
    } else {
        output::show(ctx.output, &view)
    }
}

#[cfg(test)]
mod tests {
    use homeward_proto::common::v1 as common;

    use super::*;

    fn key(party: &str, reference: &str) -> Option<pb::ListEntryKey> {
        Some(pb::ListEntryKey {
            party: party.into(),
            kind: pb::ListKind::Offer as i32,
            reference: reference.into(),
        })
    }

    fn at(seconds: i64) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp { seconds, nanos: 0 })
    }

    fn listed(reference: &str, family: &str, given: &str) -> pb::ListEntry {
        pb::ListEntry {
            reference: reference.into(),
            subject: Some(pb::list_entry::Subject::Identity(pb::ListedIdentity {
                names: vec![common::PersonName {
                    family: family.into(),
                    given: given.into(),
                    ..Default::default()
                }],
                birth_date: Some(common::PartialDate {
                    year: 1990,
                    month: 5,
                    day: 0,
                }),
                sex: common::Sex::Male as i32,
                category: common::PersonCategory::ServiceMember as i32,
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    fn list(party: &str, kind: pb::ListKind, entries: Vec<pb::ListEntry>) -> pb::ListVersion {
        pb::ListVersion {
            list: Some(pb::ListVersionRef {
                party: party.into(),
                kind: kind as i32,
                version: 1,
            }),
            entries,
            ..Default::default()
        }
    }

    fn check(reference: &str, result: pb::HandoverCheckResult, time: i64) -> pb::HandoverCheck {
        pb::HandoverCheck {
            handing_party: "RU".into(),
            entry: key("RU", reference),
            result: result as i32,
            check_time: at(time),
            ..Default::default()
        }
    }

    #[test]
    fn every_frozen_offer_entry_gets_a_row_with_its_pair_names_and_outcome() {
        let own = pb::ListEntry {
            reference: "UA-1".into(),
            subject: Some(pb::list_entry::Subject::PersonId("p-ua-1".into())),
            wounded: true,
            ..Default::default()
        };
        let evidence = Evidence {
            lists: vec![
                list(
                    "RU",
                    pb::ListKind::Offer,
                    vec![
                        listed("RU-1", "Коваленко", "Александр"),
                        listed("RU-2", "Бондаренко", "Николай"),
                        listed("RU-3", "Шевченко", "Елена"),
                        listed("RU-4", "Ткаченко", "Иван"),
                        listed("RU-5", "Мельник", "Петр"),
                    ],
                ),
                list("UA", pb::ListKind::Offer, vec![own]),
                list(
                    "RU",
                    pb::ListKind::Request,
                    vec![listed("RQ-9", "Kovalchuk", "Ivan")],
                ),
                list(
                    "UA",
                    pb::ListKind::Request,
                    vec![listed("UQ-1", "Коваленко", "Олександр")],
                ),
            ],
            items: vec![
                pb::ReconciliationItem {
                    receiving_party: "UA".into(),
                    handing_party: "RU".into(),
                    outcome: pb::ReconciliationOutcome::Paired as i32,
                    request_reference: "UQ-1".into(),
                    offer_reference: "RU-1".into(),
                    person_id: "p1".into(),
                    ..Default::default()
                },
                pb::ReconciliationItem {
                    receiving_party: "RU".into(),
                    handing_party: "UA".into(),
                    outcome: pb::ReconciliationOutcome::UnmatchedOffer as i32,
                    offer_reference: "UA-1".into(),
                    review: Some(pb::Review {
                        decision: pb::ReviewDecision::PairWith as i32,
                        counterpart_reference: "RQ-9".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ],
            checks: vec![
                check("RU-1", pb::HandoverCheckResult::Mismatch, 10),
                check("RU-1", pb::HandoverCheckResult::Verified, 20),
                pb::HandoverCheck {
                    presented_identity: Some(pb::ListedIdentity {
                        names: vec![common::PersonName {
                            family: "Сидоренко".into(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                    ..check("RU-2", pb::HandoverCheckResult::Mismatch, 10)
                },
                check("RU-3", pb::HandoverCheckResult::Missing, 10),
            ],
            consents: vec![pb::ConsentRecord {
                entry: key("RU", "RU-3"),
                decision: pb::ConsentDecision::Refuses as i32,
                interviewed_by: "ICRC delegate".into(),
                ..Default::default()
            }],
            hold_backs: vec![pb::HoldBack {
                entry: key("RU", "RU-4"),
                person_id: "p4".into(),
                reason: pb::HoldBackReason::CriminalProceedings as i32,
                reason_detail: "trial pending".into(),
                ..Default::default()
            }],
        };
        let rows = build_manifest(&evidence);
        let outcomes: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.offer_reference.as_str(), r.outcome.as_str()))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("RU-1", "verified"),
                ("RU-2", "mismatch"),
                ("RU-3", "refused"),
                ("RU-4", "held-back"),
                ("RU-5", "not-checked"),
                ("UA-1", "not-checked"),
            ]
        );
        let first = &rows[0];
        assert_eq!(
            (
                first.receiving_party.as_str(),
                first.request_reference.as_str(),
                first.person_id.as_str()
            ),
            ("UA", "UQ-1", "p1")
        );
        assert_eq!(
            (first.family.as_str(), first.given.as_str()),
            ("Коваленко", "Александр")
        );
        assert_eq!(
            (
                first.category.as_str(),
                first.sex.as_str(),
                first.birth_date.as_str()
            ),
            ("service-member", "male", "1990-05")
        );
        assert!(rows[1].detail.contains("Сидоренко"), "{:?}", rows[1]);
        assert!(
            rows[3]
                .detail
                .contains("criminal-proceedings: trial pending")
        );
        assert_eq!(
            rows[4].receiving_party, "UA",
            "an unpaired entry goes to the other party"
        );
        // An own entry names a registry person; its names come from the request it was paired
        // with by hand.
        let own = &rows[5];
        assert_eq!(
            (own.person_id.as_str(), own.request_reference.as_str()),
            ("p-ua-1", "RQ-9")
        );
        assert_eq!(own.family, "Kovalchuk");
        assert!(own.wounded);

        let csv = String::from_utf8(to_csv(&rows).unwrap()).unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some(MANIFEST_COLUMNS.join(",").as_str()));
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("RU,UA,RU-1,UQ-1,p1,Коваленко,Александр,,,service-member,male,1990-05,false,false,verified")
        );
    }

    #[test]
    fn an_empty_manifest_still_names_its_columns() {
        let csv = String::from_utf8(to_csv(&[]).unwrap()).unwrap();
        assert_eq!(csv.trim_end(), MANIFEST_COLUMNS.join(","));
    }

    #[test]
    fn a_manifest_never_replaces_a_file_unless_forced() {
        let dir = std::env::temp_dir().join(format!("homewardctl-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.csv");
        write_file(&path, b"one", false).unwrap();
        let err = write_file(&path, b"two", false).unwrap_err();
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        write_file(&path, b"two", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
