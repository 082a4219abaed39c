//! `homewardctl person match FILE.csv`: matches a list of identities, as another party or a
//! family wrote them, against the registry, and shows per reference the best candidates.
//!
//! Unlike `import`, the whole file is read and checked before anything is sent: a list matched
//! with some entries silently missing would be taken for a complete answer. Identities go out in
//! batches, and a batch the registry refuses is reported by the file's line numbers, not by its
//! position in the batch. Matching changes nothing in the registry.

use std::{io::Read, path::PathBuf};

use clap::Args;
use csv::StringRecord;
use homeward_proto::{common::v1 as common, registry::v1 as pb};

use super::csv_file::{self, Columns, LocalError, Problems, Schema};
use crate::{
    Context, args,
    error::CliError,
    output,
    view::{CandidateView, IdentityMatchView, MatchView},
};

/// Every column a file may have, in the documented order.
pub const COLUMNS: [&str; 9] = [
    "reference",
    "family",
    "given",
    "patronymic",
    "birth_date",
    "sex",
    "category",
    "unit",
    "service_number",
];

pub static SCHEMA: Schema = Schema {
    columns: &COLUMNS,
    required: &["reference"],
    any_of: &["family", "given"],
};

/// Identities per call. The registry takes up to 5,000; smaller calls keep each one short and
/// let the progress bar move.
pub const BATCH: usize = 1_000;

pub const LONG_ABOUT: &str = "\
Match a list of identities, as another party or a family wrote them, against the registry.

The first line names the columns, in any order; unknown column names are refused. Columns:
  reference       your reference for the entry, shown with its results   (required)
  family          family name, in any script           (family or given required)
  given           given name
  patronymic      patronymic
  birth_date      YYYY, YYYY-MM or YYYY-MM-DD
  sex             male, female (m, f) or empty
  category        service-member (service_member), civilian or empty
  unit            military unit
  service_number  military service number

Example:
  reference,family,given,patronymic,birth_date,sex,category,unit,service_number
  RU-0017,Коваленко,Александр,Петрович,1990-05,male,service_member,,

The whole file is checked first: when any line cannot be read, every problem is reported with
its line (the header is line 1) and column, and nothing is sent. Identities are sent in batches
of 1,000. For each reference the best candidates are shown, best first, with their confidence
(0 to 1) and the reasons for it; a reference without a candidate at --min-confidence is shown
as \"no match\". Matching changes nothing in the registry.";

#[derive(Debug, Args)]
pub struct MatchArgs {
    /// The CSV file (UTF-8, comma-separated, with a header line).
    file: PathBuf,
    /// Leave out candidates below this confidence, above 0 and at most 1 [default: the
    /// registry's, 0.5].
    #[arg(long, value_parser = args::confidence)]
    min_confidence: Option<f64>,
    /// At most this many candidates per identity, up to 20 [default: the registry's, 5].
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=20))]
    max_candidates: Option<i32>,
}

/// One identity of the file and the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub line: u64,
    pub identity: pb::CandidateIdentity,
}

/// Turns one record into an identity, or lists every cell that cannot be read. A reference and
/// a name are checked here too: without them the registry would refuse the whole batch.
pub fn row_to_identity(
    columns: &Columns,
    record: &StringRecord,
) -> Result<pb::CandidateIdentity, Problems> {
    let mut cells = columns.cells(record);
    let reference = cells.text("reference");
    if reference.is_empty() {
        cells.problem(
            "reference",
            "empty: every identity needs a reference, by which its results are shown",
        );
    }
    let name = cells.name(common::InformationSource::Unspecified);
    if name
        .as_ref()
        .is_none_or(|n| n.family.is_empty() && n.given.is_empty())
    {
        cells.problem(
            "family",
            "empty, and so is `given`: an identity needs a family or a given name to be matched",
        );
    }
    let birth_date = cells.date("birth_date");
    let sex = cells.sex();
    let category = cells.category();
    let identity = pb::CandidateIdentity {
        reference: reference.to_string(),
        names: name.into_iter().collect(),
        birth_date,
        sex,
        category,
        unit: cells.text("unit").to_string(),
        service_number: cells.text("service_number").to_string(),
        documents: Vec::new(),
    };
    cells.finish(identity)
}

/// Reads every record of the file: all its identities, or every problem found in it. A file that
/// breaks midway ends the reading with that as its last problem.
pub fn read_identities<R: Read>(
    records: csv::StringRecordsIntoIter<R>,
    columns: &Columns,
) -> Result<Vec<Entry>, Vec<LocalError>> {
    let read = csv_file::read_all(records, &indicatif::ProgressBar::hidden(), |record| {
        row_to_identity(columns, record)
    })?;
    Ok(read
        .into_iter()
        .map(|(line, identity)| Entry { line, identity })
        .collect())
}

/// The report of a file that cannot be matched as it is.
fn unreadable(path: &str, problems: &[LocalError]) -> String {
    csv_file::unreadable(path, problems, "match")
}

/// Rewrites the registry's `identities[i].field` in a refused batch, in its details and its
/// message, as the file's line and column, so the report points at what to fix.
pub fn point_at_lines(status: tonic::Status, batch: &[Entry]) -> tonic::Status {
    let lines: Vec<u64> = batch.iter().map(|e| e.line).collect();
    csv_file::point_at_lines(status, "identities", &lines)
}

/// Pairs each identity of a batch with its answer; the registry answers one per identity, in
/// request order, and anything else is not an answer this client can trust.
fn answers(
    batch: &[Entry],
    response: pb::MatchPersonsResponse,
) -> Result<Vec<IdentityMatchView>, CliError> {
    if response.matches.len() != batch.len() {
        return Err(CliError::Failed(format!(
            "the registry answered {} of {} identities; nothing is shown rather than a partial \
             match. Is --registry a registry of this version?",
            response.matches.len(),
            batch.len()
        )));
    }
    batch
        .iter()
        .zip(response.matches)
        .map(|(entry, matches)| {
            if matches.reference != entry.identity.reference {
                return Err(CliError::Failed(format!(
                    "the registry answered for reference `{}` where line {} has `{}`; \
                     nothing is shown rather than a mixed-up match",
                    matches.reference, entry.line, entry.identity.reference
                )));
            }
            Ok(IdentityMatchView {
                line: entry.line,
                reference: matches.reference,
                candidates: matches.candidates.iter().map(CandidateView::from).collect(),
            })
        })
        .collect()
}

pub async fn match_persons(a: MatchArgs, ctx: &Context) -> Result<(), CliError> {
    let path = a.file.display().to_string();
    let csv_file::Opened {
        reader, columns, ..
    } = csv_file::open(&a.file, &SCHEMA)?;
    let entries = read_identities(reader.into_records(), &columns)
        .map_err(|problems| CliError::input(unreadable(&path, &problems)))?;
    if entries.is_empty() {
        return Err(CliError::input(format!(
            "{path} has no identities after its header: nothing to match"
        )));
    }
    let mut client = ctx.registry()?;
    let total = entries.len();
    let progress = if total > BATCH {
        output::progress(Some(total as u64))
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut identities = Vec::with_capacity(total);
    for batch in entries.chunks(BATCH) {
        progress.set_message(format!(
            "{} of {total} identities matched",
            identities.len()
        ));
        let request = pb::MatchPersonsRequest {
            identities: batch.iter().map(|e| e.identity.clone()).collect(),
            min_confidence: a.min_confidence.unwrap_or_default(),
            max_candidates: a.max_candidates.unwrap_or_default(),
        };
        let response = match client.match_persons(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => {
                progress.finish_and_clear();
                return Err(CliError::from(point_at_lines(status, batch)));
            }
        };
        identities.extend(answers(batch, response)?);
        progress.inc(batch.len() as u64);
    }
    progress.finish_and_clear();
    output::show(ctx.output, &MatchView { identities })
}

#[cfg(test)]
mod tests {
    use tonic::Code;
    use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

    use super::*;
    use crate::output::Render;

    fn read(text: &str) -> Result<Vec<Entry>, Vec<LocalError>> {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let columns = Columns::from_header(reader.headers().unwrap(), &SCHEMA).unwrap();
        read_identities(reader.into_records(), &columns)
    }

    const HEADER: &str =
        "reference,family,given,patronymic,birth_date,sex,category,unit,service_number\n";

    #[test]
    fn good_rows_become_identities_in_any_script_with_their_lines() {
        let entries = read(&format!(
            "{HEADER}\
             RU-1,Коваленко,Александр,Петрович,1990-05,male,service_member,36th brigade,12345\n\
             RU-2,Shevchenko,Olena,,1988,F,civilian,,\n\
             RU-3,,Микола,,,,,,\n"
        ))
        .unwrap();
        assert_eq!(
            entries.iter().map(|e| e.line).collect::<Vec<_>>(),
            [2, 3, 4]
        );
        let first = &entries[0].identity;
        assert_eq!(first.reference, "RU-1");
        assert_eq!(first.names.len(), 1);
        assert_eq!(first.names[0].family, "Коваленко");
        assert_eq!(first.names[0].patronymic, "Петрович");
        // The registry detects the script.
        assert_eq!(first.names[0].script, common::Script::Unspecified as i32);
        assert_eq!(
            first.birth_date,
            Some(common::PartialDate {
                year: 1990,
                month: 5,
                day: 0
            })
        );
        assert_eq!(first.sex, common::Sex::Male as i32);
        assert_eq!(first.category, common::PersonCategory::ServiceMember as i32);
        assert_eq!(
            (first.unit.as_str(), first.service_number.as_str()),
            ("36th brigade", "12345")
        );
        let second = &entries[1].identity;
        assert_eq!(second.sex, common::Sex::Female as i32);
        assert_eq!(second.category, common::PersonCategory::Civilian as i32);
        let third = &entries[2].identity;
        assert_eq!(third.names[0].given, "Микола");
        assert_eq!(third.birth_date, None);
        assert_eq!(third.sex, common::Sex::Unspecified as i32);
    }

    #[test]
    fn columns_may_come_in_any_order_and_only_reference_and_a_name_are_needed() {
        let entries = read("family,reference\nKovalenko,A-1\n").unwrap();
        assert_eq!(entries[0].identity.reference, "A-1");
        assert_eq!(entries[0].identity.names[0].family, "Kovalenko");
        let mut reader = csv::Reader::from_reader("family,birth_date\n".as_bytes());
        let err = Columns::from_header(reader.headers().unwrap(), &SCHEMA).unwrap_err();
        assert!(err.contains("`reference`"), "{err}");
        let mut reader = csv::Reader::from_reader("reference,rank\n".as_bytes());
        let err = Columns::from_header(reader.headers().unwrap(), &SCHEMA).unwrap_err();
        assert!(err.contains("unknown columns `rank`"), "{err}");
    }

    #[test]
    fn a_bad_date_is_reported_with_its_line_and_column() {
        let problems = read(&format!(
            "{HEADER}RU-1,Kovalenko,Oleksandr,,1990-05,,,,\nRU-2,Bondarenko,Mykola,,1979-13-30,,,,\n"
        ))
        .unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            (problems[0].line, problems[0].column.as_str()),
            (3, "birth_date")
        );
        assert!(
            problems[0]
                .description
                .contains("YYYY, YYYY-MM or YYYY-MM-DD"),
            "{problems:?}"
        );
        assert_eq!(
            problems[0].to_string(),
            format!("line 3, column birth_date: {}", problems[0].description)
        );
    }

    #[test]
    fn a_bad_sex_is_reported_with_the_words_that_are_accepted() {
        let problems = read(&format!("{HEADER}RU-1,Kovalenko,Oleksandr,,,x,,,\n")).unwrap_err();
        assert_eq!((problems[0].line, problems[0].column.as_str()), (2, "sex"));
        assert!(
            problems[0].description.contains("male, female"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_row_with_the_wrong_number_of_fields_is_reported_by_its_line() {
        let problems = read(&format!(
            "{HEADER}RU-1,Kovalenko,Oleksandr,,,,,,\nRU-2,Bondarenko,Mykola\nRU-3,Shevchenko,Olena,,,,,,\n"
        ))
        .unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!((problems[0].line, problems[0].column.as_str()), (3, ""));
        assert!(
            problems[0]
                .description
                .contains("3 fields where the header has 9"),
            "{problems:?}"
        );
    }

    #[test]
    fn every_problem_of_every_line_is_reported_and_nothing_is_kept() {
        let problems = read(&format!(
            "{HEADER},,,,1990,,soldier,,\nRU-2,Kovalenko,,,,m,,,\nRU-3,Bondarenko,,,199,,,,\n"
        ))
        .unwrap_err();
        let found: Vec<(u64, &str)> = problems
            .iter()
            .map(|p| (p.line, p.column.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (2, "reference"),
                (2, "family"),
                (2, "category"),
                (4, "birth_date")
            ]
        );
        let report = unreadable("list.csv", &problems);
        assert!(
            report.starts_with("list.csv has 2 lines that cannot be read; nothing was sent"),
            "{report}"
        );
        assert!(
            report.contains("\n  line 4, column birth_date: "),
            "{report}"
        );
    }

    #[test]
    fn a_refused_batch_names_the_lines_and_columns_of_the_file() {
        let entry = |line: u64| Entry {
            line,
            identity: pb::CandidateIdentity::default(),
        };
        let batch = [entry(1002), entry(1003)];
        let mut details = ErrorDetails::new();
        details.set_bad_request(vec![
            FieldViolation::new("identities[1].birth_date", "in the future"),
            FieldViolation::new("identities[0].names[0].family", "at most 200 characters"),
            FieldViolation::new("min_confidence", "between 0 and 1"),
        ]);
        details.set_error_info(
            "INVALID_ARGUMENT",
            "homeward.registry",
            std::collections::HashMap::new(),
        );
        let status = tonic::Status::with_error_details(
            Code::InvalidArgument,
            "invalid request: identities[1].birth_date: in the future (and 2 more)",
            details,
        );
        let report = CliError::from(point_at_lines(status, &batch))
            .report(crate::error::Service::Registry, "u");
        assert!(
            report.starts_with(
                "error: INVALID_ARGUMENT: invalid request: line 1003, column birth_date: in the future"
            ),
            "{report}"
        );
        assert!(
            report.contains("\n  line 1003, column birth_date: in the future"),
            "{report}"
        );
        assert!(
            report.contains("\n  line 1002, column family: at most 200 characters"),
            "{report}"
        );
        assert!(
            report.contains("\n  min_confidence: between 0 and 1"),
            "{report}"
        );
        assert!(report.contains("hint: correct the fields"), "{report}");
    }

    fn candidate(id: &str, confidence: f64, why: &[&str]) -> pb::MatchCandidate {
        pb::MatchCandidate {
            person_id: id.into(),
            confidence,
            explanation: why.iter().map(|w| w.to_string()).collect(),
            ..Default::default()
        }
    }

    fn entries(references: &[&str]) -> Vec<Entry> {
        references
            .iter()
            .enumerate()
            .map(|(i, r)| Entry {
                line: i as u64 + 2,
                identity: pb::CandidateIdentity {
                    reference: r.to_string(),
                    ..Default::default()
                },
            })
            .collect()
    }

    #[test]
    fn a_match_shows_each_reference_with_its_candidates_or_no_match() {
        let batch = entries(&["RU-1", "RU-2"]);
        let response = pb::MatchPersonsResponse {
            matches: vec![
                pb::IdentityMatches {
                    reference: "RU-1".into(),
                    candidates: vec![
                        candidate(
                            "p-olena",
                            0.9712,
                            &["family name: same", "birth date: day and month swapped"],
                        ),
                        candidate("p-other", 0.5, &["family name: same"]),
                    ],
                },
                pb::IdentityMatches {
                    reference: "RU-2".into(),
                    candidates: vec![],
                },
            ],
        };
        let view = MatchView {
            identities: answers(&batch, response).unwrap(),
        };
        let table = view.table();
        let lines: Vec<&str> = table.lines().collect();
        let row = |needle: &str| {
            lines
                .iter()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no {needle} in\n{table}"))
                .to_string()
        };
        let best = row("p-olena");
        assert!(best.contains("RU-1") && best.contains("0.97"), "{table}");
        assert!(best.contains("family name: same"), "{table}");
        assert!(
            table.contains("birth date: day and month swapped"),
            "{table}"
        );
        let second = row("p-other");
        assert!(
            !second.contains("RU-1") && second.contains("0.50"),
            "{table}"
        );
        assert!(row("RU-2").contains("no match"), "{table}");
        assert!(
            table.ends_with("2 identities: 1 with candidates, 1 no match"),
            "{table}"
        );
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["identities"][0]["line"], 2);
        assert_eq!(
            json["identities"][0]["candidates"][0]["person_id"],
            "p-olena"
        );
        assert_eq!(json["identities"][0]["candidates"][0]["confidence"], 0.9712);
        assert_eq!(json["identities"][1]["candidates"], serde_json::json!([]));
    }

    #[test]
    fn an_answer_that_does_not_fit_the_batch_is_refused_rather_than_shown() {
        let batch = entries(&["RU-1", "RU-2"]);
        let short = pb::MatchPersonsResponse {
            matches: vec![pb::IdentityMatches {
                reference: "RU-1".into(),
                candidates: vec![],
            }],
        };
        assert!(answers(&batch, short).is_err());
        let swapped = pb::MatchPersonsResponse {
            matches: vec![
                pb::IdentityMatches {
                    reference: "RU-2".into(),
                    candidates: vec![],
                },
                pb::IdentityMatches {
                    reference: "RU-1".into(),
                    candidates: vec![],
                },
            ],
        };
        let err = answers(&batch, swapped).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }
}
