//! The CSV file of one party's request or offer list, read for `exchange list submit`: one row per
//! entry, naming either a registry person (`person_id`) or the person as the list's author wrote
//! them (names in any script, birth date as far as known, and so on).
//!
//! Cells are read with the person files' parsers (`person::csv_file`), so words and dates work
//! alike everywhere. The whole file is checked before anything is sent: a list version replaces
//! the previous one, so a version silently missing a row would drop a person from the exchange.

use std::{collections::HashMap, io::Read};

use csv::StringRecord;
use homeward_proto::{common::v1 as common, exchange::v1 as pb};
use indicatif::ProgressBar;

use crate::person::csv_file::{self, Columns, LocalError, Problems, Schema};

/// Every column a file may have, in the documented order.
pub const COLUMNS: [&str; 19] = [
    "reference",
    "person_id",
    "family",
    "given",
    "patronymic",
    "birth_date",
    "birth_place",
    "sex",
    "category",
    "rank",
    "unit",
    "service_number",
    "citizenship",
    "detention_place",
    "seriously_ill",
    "wounded",
    "source_line",
    "note",
    "original_text",
];

/// The columns that describe a person as listed; a row with a `person_id` leaves them empty.
const IDENTITY_COLUMNS: [&str; 13] = [
    "family",
    "given",
    "patronymic",
    "birth_date",
    "birth_place",
    "sex",
    "category",
    "rank",
    "unit",
    "service_number",
    "citizenship",
    "detention_place",
    "original_text",
];

pub static SCHEMA: Schema = Schema {
    columns: &COLUMNS,
    required: &["reference"],
    any_of: &["person_id", "family", "given"],
};

pub const LONG_ABOUT: &str = "\
Submit a new version of one party's request or offer list, read from a CSV file.

A version replaces the previous one as a whole: the file holds the entire list. The first line
names the columns, in any order; unknown column names are refused. Columns:
  reference        the author's key for the entry, unique in the list and kept
                   the same across versions                                  (required)
  person_id        a registry person (typically on the bureau's own lists)
or the person as the author wrote them (typically the other party's lists):
  family, given, patronymic   the name, in any script          (family or given required)
  birth_date       YYYY, YYYY-MM or YYYY-MM-DD
  birth_place, rank, unit, service_number, citizenship, detention_place      text
  sex              male, female (m, f) or empty
  category         service-member (service_member), civilian or empty
  original_text    the entry exactly as it appears in the author's document
and for both kinds of row:
  seriously_ill    true/false, yes/no, 1/0 or empty (no)
  wounded          true/false, yes/no, 1/0 or empty (no)
  source_line      the entry's number in the author's document
  note             free text

Example:
  reference,person_id,family,given,patronymic,birth_date,sex,category,wounded
  RU-0017,,Коваленко,Александр,Петрович,1990-05,m,service-member,yes
  UA-0003,0f6c1f4e-2a55-4c1e-9f0e-6f1c2b7d9a10,,,,,,,

The whole file is checked first: when any line cannot be read, every problem is reported with
its line (the header is line 1) and column, and nothing is sent. --base-version is the version
this one replaces; without it, the latest version is read just before and named in a note.";

/// One entry of the file and the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub line: u64,
    pub entry: pb::ListEntry,
}

/// Turns one record into a list entry, or lists every cell that cannot be read. The names' source
/// is the list's. A reference and a subject (a person id or a name, not both) are checked here
/// too: without them the service would refuse the whole list.
pub fn row_to_entry(
    columns: &Columns,
    record: &StringRecord,
    source: common::InformationSource,
) -> Result<pb::ListEntry, Problems> {
    use pb::list_entry::Subject;
    let mut cells = columns.cells(record);
    let reference = cells.text("reference");
    if reference.is_empty() {
        cells.problem(
            "reference",
            "empty: every entry needs a reference, by which versions are compared and consent, \
             hold-backs and checks find it",
        );
    }
    let person_id = cells.text("person_id");
    let subject = if person_id.is_empty() {
        let name = cells.name(source);
        if name
            .as_ref()
            .is_none_or(|n| n.family.is_empty() && n.given.is_empty())
        {
            cells.problem(
                "family",
                "empty, and so are `given` and `person_id`: an entry names a registry person or \
                 gives at least a family or a given name",
            );
        }
        let birth_date = cells.date("birth_date");
        let sex = cells.sex();
        let category = cells.category();
        Subject::Identity(pb::ListedIdentity {
            names: name.into_iter().collect(),
            birth_date,
            birth_place: cells.text("birth_place").to_string(),
            sex,
            category,
            rank: cells.text("rank").to_string(),
            unit: cells.text("unit").to_string(),
            service_number: cells.text("service_number").to_string(),
            documents: Vec::new(),
            citizenship: cells.text("citizenship").to_string(),
            detention_place: cells.text("detention_place").to_string(),
            original_text: cells.text("original_text").to_string(),
        })
    } else {
        // An entry is one or the other; a row with both would leave the reader to guess which
        // the author meant.
        let described: Vec<&str> = IDENTITY_COLUMNS
            .iter()
            .copied()
            .filter(|c| !cells.text(c).is_empty())
            .collect();
        if uuid::Uuid::parse_str(person_id).is_err() {
            cells.problem(
                "person_id",
                format!(
                    "`{person_id}` is not a registry person id: ids are UUIDs, as \
                     `homewardctl person search` prints them"
                ),
            );
        }
        if !described.is_empty() {
            cells.problem(
                "person_id",
                format!(
                    "set, and so is {}: a row names a registry person or describes one as \
                     listed, not both; empty one or the other",
                    described
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        Subject::PersonId(person_id.to_string())
    };
    let entry = pb::ListEntry {
        reference: reference.to_string(),
        subject: Some(subject),
        seriously_ill: cells.flag("seriously_ill"),
        wounded: cells.flag("wounded"),
        source_line: cells.text("source_line").to_string(),
        note: cells.text("note").to_string(),
    };
    cells.finish(entry)
}

/// Reads every record of the file: all its entries, or every problem found in it, a reference
/// used twice included. `progress` follows the bytes read.
pub fn read_entries<R: Read>(
    records: csv::StringRecordsIntoIter<R>,
    columns: &Columns,
    source: common::InformationSource,
    progress: &ProgressBar,
) -> Result<Vec<Entry>, Vec<LocalError>> {
    let mut first_line: HashMap<String, u64> = HashMap::new();
    let read = csv_file::read_all(records, progress, |record| {
        let mut result = row_to_entry(columns, record, source);
        let reference = columns.cells(record).text("reference");
        let line = csv_file::line_of(record);
        if reference.is_empty() {
            return result;
        }
        match first_line.get(reference) {
            None => {
                first_line.insert(reference.to_string(), line);
            }
            Some(first) => {
                let problem = (
                    "reference",
                    format!(
                        "`{reference}` is the reference of line {first} too: references are unique within a list"
                    ),
                );
                match &mut result {
                    Ok(_) => result = Err(vec![problem]),
                    Err(problems) => problems.push(problem),
                }
            }
        }
        result
    })?;
    Ok(read
        .into_iter()
        .map(|(line, entry)| Entry { line, entry })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<Entry>, Vec<LocalError>> {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let columns = Columns::from_header(reader.headers().unwrap(), &SCHEMA).unwrap();
        read_entries(
            reader.into_records(),
            &columns,
            common::InformationSource::OtherPartyList,
            &ProgressBar::hidden(),
        )
    }

    fn identity(e: &Entry) -> &pb::ListedIdentity {
        match &e.entry.subject {
            Some(pb::list_entry::Subject::Identity(i)) => i,
            other => panic!("line {} is not an identity: {other:?}", e.line),
        }
    }

    const HEADER: &str = "reference,person_id,family,given,patronymic,birth_date,sex,category,\
                          rank,unit,service_number,seriously_ill,wounded,source_line,note,original_text\n";

    #[test]
    fn identity_rows_keep_cyrillic_names_and_partial_dates_with_their_lines() {
        let entries = read(&format!(
            "{HEADER}\
             RU-0017,,Коваленко,Александр,Петрович,1990-05,m,service_member,рядовой,в/ч 12345,АА-123,,yes,17,,\"17. Коваленко Александр Петрович, 05.1990\"\n\
             RU-0018,,Шевченко,Олена,,1988,F,civilian,,,,1,,18,sick,\n\
             RU-0019,,,Микола,,,,,,,,,,,,\n"
        ))
        .unwrap();
        assert_eq!(
            entries.iter().map(|e| e.line).collect::<Vec<_>>(),
            [2, 3, 4]
        );
        let first = identity(&entries[0]);
        assert_eq!(entries[0].entry.reference, "RU-0017");
        assert_eq!(first.names.len(), 1);
        assert_eq!(
            (
                first.names[0].family.as_str(),
                first.names[0].given.as_str(),
                first.names[0].patronymic.as_str()
            ),
            ("Коваленко", "Александр", "Петрович")
        );
        // The service detects the script; the names carry the list's source.
        assert_eq!(first.names[0].script, common::Script::Unspecified as i32);
        assert_eq!(
            first.names[0].source,
            common::InformationSource::OtherPartyList as i32
        );
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
            (
                first.rank.as_str(),
                first.unit.as_str(),
                first.service_number.as_str()
            ),
            ("рядовой", "в/ч 12345", "АА-123")
        );
        assert!(first.original_text.starts_with("17. Коваленко"));
        assert!(entries[0].entry.wounded && !entries[0].entry.seriously_ill);
        assert_eq!(entries[0].entry.source_line, "17");
        let second = identity(&entries[1]);
        assert_eq!(
            second.birth_date,
            Some(common::PartialDate {
                year: 1988,
                month: 0,
                day: 0
            })
        );
        assert!(entries[1].entry.seriously_ill);
        assert_eq!(entries[1].entry.note, "sick");
        let third = identity(&entries[2]);
        assert_eq!(third.names[0].given, "Микола");
        assert_eq!(third.birth_date, None);
        assert_eq!(third.sex, common::Sex::Unspecified as i32);
    }

    #[test]
    fn a_person_id_row_names_a_registry_person_and_keeps_its_flags() {
        let entries = read(&format!(
            "{HEADER}UA-3,0f6c1f4e-2a55-4c1e-9f0e-6f1c2b7d9a10,,,,,,,,,,true,,3,stretcher,\n"
        ))
        .unwrap();
        assert_eq!(
            entries[0].entry.subject,
            Some(pb::list_entry::Subject::PersonId(
                "0f6c1f4e-2a55-4c1e-9f0e-6f1c2b7d9a10".into()
            ))
        );
        assert!(entries[0].entry.seriously_ill);
        assert_eq!(entries[0].entry.note, "stretcher");
        // A file of registry persons needs no name columns at all.
        let entries = read(
            "reference,person_id\n\
             UA-1,0f6c1f4e-2a55-4c1e-9f0e-6f1c2b7d9a10\n\
             UA-2,7d1b6c2e-9a3f-4b8e-8c1d-2e5f6a7b8c9d\n",
        )
        .unwrap();
        assert_eq!(entries.len(), 2);
    }

    #[test]
    fn a_malformed_row_is_reported_with_every_problem_by_line_and_column() {
        let problems = read(&format!(
            "{HEADER}\
             RU-1,,Коваленко,Олександр,,1990-05,,,,,,,,,,\n\
             RU-2,,Бондаренко,Микола,,1979-13-30,x,soldier,,,,maybe,,,,\n\
             ,0f6c1f4e-2a55-4c1e-9f0e-6f1c2b7d9a10,Шевченко,,,,,,,,,,,,,\n\
             RU-4,,,,,,,,,,,,,,,\n\
             RU-5,Бондаренко\n\
             RU-6,Kovalenko Oleksandr,,,,,,,,,,,,,,\n"
        ))
        .unwrap_err();
        let found: Vec<(u64, &str)> = problems
            .iter()
            .map(|p| (p.line, p.column.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (3, "birth_date"),
                (3, "sex"),
                (3, "category"),
                (3, "seriously_ill"),
                (4, "reference"),
                (4, "person_id"),
                (5, "family"),
                (6, ""),
                (7, "person_id"),
            ]
        );
        assert!(
            problems[0]
                .description
                .contains("YYYY, YYYY-MM or YYYY-MM-DD")
        );
        assert!(problems[5].description.contains("`family`"), "{problems:?}");
        assert!(
            problems[7]
                .description
                .contains("2 fields where the header has 16"),
            "{problems:?}"
        );
        let report = csv_file::unreadable("list.csv", &problems, "list submit");
        assert!(
            report.starts_with("list.csv has 5 lines that cannot be read; nothing was sent"),
            "{report}"
        );
        assert!(report.contains("\n  line 3, column sex: "), "{report}");
        assert!(
            problems[8].description.contains("not a registry person id"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_reference_used_twice_is_reported_on_each_later_line() {
        let problems = read(
            "reference,family\nRU-1,Коваленко\nRU-2,Бондаренко\nRU-1,Шевченко\nRU-1,Ткаченко\n",
        )
        .unwrap_err();
        let found: Vec<(u64, &str)> = problems
            .iter()
            .map(|p| (p.line, p.column.as_str()))
            .collect();
        assert_eq!(found, [(4, "reference"), (5, "reference")]);
        assert!(
            problems[1].description.contains("line 2 too"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_header_without_a_reference_or_any_way_to_name_a_person_is_refused() {
        let header = |h: &str| {
            let mut reader = csv::Reader::from_reader(h.as_bytes());
            Columns::from_header(reader.headers().unwrap(), &SCHEMA)
        };
        let err = header("family,given\n").unwrap_err();
        assert!(err.contains("`reference`"), "{err}");
        let err = header("reference,birth_date\n").unwrap_err();
        assert!(err.contains("`person_id`, `family` or `given`"), "{err}");
        let err = header("reference,surname\n").unwrap_err();
        assert!(err.contains("unknown columns `surname`"), "{err}");
        assert!(header("Reference,Given Name\n").is_err());
        assert!(header("Reference,Given\n").is_ok());
    }

    #[test]
    fn a_refused_list_names_the_lines_and_columns_of_the_file() {
        use tonic_types::{ErrorDetails, FieldViolation, StatusExt};
        let mut details = ErrorDetails::new();
        details.set_bad_request(vec![
            FieldViolation::new("entries[1].identity.names[0].family", "too long"),
            FieldViolation::new("entries[0].person_id", "no such person"),
            FieldViolation::new("party", "not a party to the agreement"),
        ]);
        let status = tonic::Status::with_error_details(
            tonic::Code::InvalidArgument,
            "invalid request: entries[1].identity.names[0].family: too long",
            details,
        );
        let status = csv_file::point_at_lines(status, "entries", &[7, 9]);
        assert_eq!(
            status.message(),
            "invalid request: line 9, column family: too long"
        );
        let fields: Vec<String> = status
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(
            fields,
            ["line 9, column family", "line 7, column person_id", "party"]
        );
    }
}
