//! `homewardctl person import FILE.csv`: streams a CSV file to ImportPersons, one row per record.
//!
//! The file has a header line naming its columns, in any order. The columns are:
//!
//! | column           | value                                               | needed |
//! |------------------|-----------------------------------------------------|--------|
//! | category         | service-member or civilian                          | yes    |
//! | sex              | male, female (m, f) or empty                        |        |
//! | family           | family name                                         | family or given |
//! | given            | given name                                          | family or given |
//! | patronymic       | patronymic                                          |        |
//! | birth_date       | YYYY, YYYY-MM or YYYY-MM-DD                         |        |
//! | affiliated_party | party code the person belongs to, such as UA        | yes    |
//! | holding_party    | party code of the holder, such as RU                | yes    |
//! | service_number   | text                                                |        |
//! | rank             | text                                                |        |
//! | unit             | text                                                |        |
//! | capture_date     | YYYY, YYYY-MM or YYYY-MM-DD                         |        |
//! | capture_place    | text                                                |        |
//! | detention_place  | text                                                |        |
//! | wounded          | true/false, yes/no, 1/0 or empty (no)               |        |
//! | seriously_ill    | true/false, yes/no, 1/0 or empty (no)               |        |
//! | file_reference   | the bureau's file reference, unique when set        |        |
//!
//! Each person starts as captured. The row number sent for a record is its line in the file (the
//! header is line 1), so the registry's row errors point at the line to fix. A record this client
//! cannot read (wrong number of fields, bad date, unknown word) is reported with its line and
//! not sent; the registry judges everything else and rejects bad rows one by one without stopping
//! the import. A file that cannot be read to the end cancels the call instead of ending it,
//! so a truncated file is never taken for a complete one.

use std::{
    io::Read,
    path::PathBuf,
    pin::Pin,
    sync::mpsc,
    task::{Context as TaskContext, Poll},
};

use clap::Args;
use csv::StringRecord;
use homeward_proto::{common::v1 as common, registry::v1 as pb};
use indicatif::ProgressBar;
use serde::Serialize;
use tokio::sync::oneshot;
use tokio_stream::Stream;

use super::csv_file::{self, Columns, LocalError, Problems, Schema};
use crate::{
    Context, RequestId,
    args::{ReliabilityArg, SourceArg},
    error::CliError,
    output::{self, Render},
};

/// Every column a file may have, in the documented order.
pub const COLUMNS: [&str; 17] = [
    "category",
    "sex",
    "family",
    "given",
    "patronymic",
    "birth_date",
    "affiliated_party",
    "holding_party",
    "service_number",
    "rank",
    "unit",
    "capture_date",
    "capture_place",
    "detention_place",
    "wounded",
    "seriously_ill",
    "file_reference",
];

pub static SCHEMA: Schema = Schema {
    columns: &COLUMNS,
    required: &["category", "affiliated_party", "holding_party"],
    any_of: &["family", "given"],
};

pub const LONG_ABOUT: &str = "\
Import persons from a CSV file, streamed to the registry one row per record.

The first line names the columns, in any order; unknown column names are refused. Columns:
  category          service-member or civilian                        (required)
  sex               male, female (m, f) or empty
  family            family name                        (family or given required)
  given             given name
  patronymic        patronymic
  birth_date        YYYY, YYYY-MM or YYYY-MM-DD
  affiliated_party  party code the person belongs to, such as UA      (required)
  holding_party     party code of the holder, such as RU              (required)
  service_number, rank, unit, capture_place, detention_place          text
  capture_date      YYYY, YYYY-MM or YYYY-MM-DD
  wounded           true/false, yes/no, 1/0 or empty (no)
  seriously_ill     true/false, yes/no, 1/0 or empty (no)
  file_reference    the bureau's file reference, unique when set

Example:
  category,sex,family,given,patronymic,birth_date,affiliated_party,holding_party,wounded
  service-member,male,Коваленко,Олександр,Петрович,1990-05,UA,RU,yes

Each person starts as captured. Errors are reported by line number (the header is line 1).
A record that cannot be read (wrong number of fields, bad date, unknown word) is reported and
skipped; the registry checks the rest and rejects bad rows one by one. The command exits with 1
when any row was skipped or rejected, after printing the summary. Retrying with the same
--request-id does not import anything twice.";

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file (UTF-8, comma-separated, with a header line).
    file: PathBuf,
    /// Where the information in the file came from.
    #[arg(long, value_enum, ignore_case = true)]
    source: Option<SourceArg>,
    /// How reliable the source is (A to F or the words).
    #[arg(long, value_enum, ignore_case = true)]
    reliability: Option<ReliabilityArg>,
    #[command(flatten)]
    request_id: RequestId,
}

/// Turns one record into a person, or lists every cell that cannot be read. Only form is
/// checked; missing names or parties are left for the registry to report.
pub fn row_to_person(
    columns: &Columns,
    record: &StringRecord,
    source: common::InformationSource,
) -> Result<pb::Person, Problems> {
    let mut cells = columns.cells(record);
    let category = cells.category();
    let sex = cells.sex();
    let birth_date = cells.date("birth_date");
    let capture_date = cells.date("capture_date");
    let health = pb::Health {
        wounded: cells.flag("wounded"),
        seriously_ill: cells.flag("seriously_ill"),
    };
    let capture_place = cells.text("capture_place");
    let person = pb::Person {
        category,
        sex,
        names: cells.name(source).into_iter().collect(),
        birth_date,
        affiliated_party: cells.text("affiliated_party").to_string(),
        holding_party: cells.text("holding_party").to_string(),
        service_number: cells.text("service_number").to_string(),
        rank: cells.text("rank").to_string(),
        unit: cells.text("unit").to_string(),
        capture: (capture_date.is_some() || !capture_place.is_empty()).then(|| pb::Capture {
            date: capture_date,
            place: capture_place.to_string(),
        }),
        detention_place: cells.text("detention_place").to_string(),
        health: Some(health),
        status: pb::PersonStatus::Captured as i32,
        file_reference: cells.text("file_reference").to_string(),
        ..Default::default()
    };
    cells.finish(person)
}

/// The request stream: the header, then one row per readable record, read from the file as the
/// call pulls them (reads of a local file are short enough to do on the runtime).
struct Rows<R> {
    header: Option<pb::ImportHeader>,
    records: csv::StringRecordsIntoIter<R>,
    columns: Columns,
    source: common::InformationSource,
    skipped: mpsc::Sender<LocalError>,
    unreadable: Option<oneshot::Sender<String>>,
    progress: ProgressBar,
    sent: u64,
}

impl<R> Rows<R> {
    fn skip(&self, error: LocalError) {
        // The receiver lives until the call is over; after that nobody needs the report.
        let _ = self.skipped.send(error);
    }
}

impl<R: Read + Unpin> Stream for Rows<R> {
    type Item = pb::ImportPersonsRequest;

    fn poll_next(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        use pb::import_persons_request::Item;
        let this = self.get_mut();
        if let Some(header) = this.header.take() {
            return Poll::Ready(Some(pb::ImportPersonsRequest {
                item: Some(Item::Header(header)),
            }));
        }
        if this.unreadable.is_none() {
            // The file broke earlier: never end the stream, the call is being cancelled.
            return Poll::Pending;
        }
        loop {
            let record = match this.records.next() {
                None => {
                    // The registry still writes the last chunk; show that the client waits.
                    this.progress
                        .set_message(format!("{} rows sent, waiting for the registry", this.sent));
                    return Poll::Ready(None);
                }
                Some(Ok(record)) => record,
                Some(Err(e)) if e.is_io_error() => {
                    if let Some(tx) = this.unreadable.take() {
                        let _ = tx.send(e.to_string());
                    }
                    return Poll::Pending;
                }
                Some(Err(e)) => {
                    this.skip(LocalError::of_record(&e));
                    continue;
                }
            };
            let line = csv_file::line_of(&record);
            match row_to_person(&this.columns, &record, this.source) {
                Err(problems) => {
                    for (column, description) in problems {
                        this.skip(LocalError::new(line, column, description));
                    }
                }
                Ok(person) => {
                    this.sent += 1;
                    this.progress
                        .set_position(this.records.reader().position().byte());
                    this.progress
                        .set_message(format!("{} rows sent", this.sent));
                    return Poll::Ready(Some(pb::ImportPersonsRequest {
                        item: Some(Item::Row(pb::ImportRow {
                            row_number: line,
                            person: Some(person),
                        })),
                    }));
                }
            }
        }
    }
}

#[derive(Debug, Serialize)]
struct RowErrorView {
    row_number: u64,
    field: String,
    description: String,
}

#[derive(Debug, Serialize)]
struct ImportSummary {
    request_id: String,
    replayed: bool,
    rows_received: u64,
    rows_imported: u64,
    rows_rejected: u64,
    /// Rows the registry refused.
    errors: Vec<RowErrorView>,
    /// Records this client could not read and did not send.
    skipped: Vec<LocalError>,
    /// Imported rows that may be a person registered before (at most 1,000 are listed).
    possible_duplicates: Vec<ImportDuplicateView>,
}

/// The registry lists at most this many possible duplicates per import.
const LISTED_DUPLICATES: usize = 1_000;

#[derive(Debug, Serialize)]
struct ImportDuplicateView {
    row_number: u64,
    /// The id the row was registered under.
    person_id: String,
    /// The registered person it may duplicate.
    duplicate_id: String,
    confidence: f64,
    explanation: Vec<String>,
}

impl From<pb::ImportDuplicate> for ImportDuplicateView {
    fn from(d: pb::ImportDuplicate) -> Self {
        let duplicate = d.duplicate.unwrap_or_default();
        Self {
            row_number: d.row_number,
            person_id: d.person_id,
            duplicate_id: duplicate.person_id,
            confidence: duplicate.confidence,
            explanation: duplicate.explanation,
        }
    }
}

impl Render for ImportSummary {
    fn table(&self) -> String {
        let mut out = format!(
            "received {}, imported {}, rejected {}; {} not sent (request id {})",
            self.rows_received,
            self.rows_imported,
            self.rows_rejected,
            records(skipped_records(&self.skipped)),
            self.request_id
        );
        if self.replayed {
            out.push_str("\nthis request id was used before: these are the first import's results, nothing new was imported");
        }
        if !self.errors.is_empty() || !self.skipped.is_empty() {
            let mut t = output::table(["LINE", "FIELD", "PROBLEM", "FOUND BY"]);
            let mut rows: Vec<(u64, &str, &str, &str)> = self
                .errors
                .iter()
                .map(|e| {
                    (
                        e.row_number,
                        e.field.as_str(),
                        e.description.as_str(),
                        "registry",
                    )
                })
                .chain(self.skipped.iter().map(|e| {
                    (
                        e.line,
                        e.column.as_str(),
                        e.description.as_str(),
                        "homewardctl (not sent)",
                    )
                }))
                .collect();
            rows.sort_by_key(|r| r.0);
            for (line, field, problem, by) in rows {
                t.add_row(vec![
                    line.to_string(),
                    field.to_string(),
                    problem.to_string(),
                    by.to_string(),
                ]);
            }
            out.push('\n');
            out.push_str(&t.to_string());
        }
        if !self.possible_duplicates.is_empty() {
            let n = self.possible_duplicates.len();
            out.push_str(&match n {
                1 => "\nwarning: 1 imported row may be a person registered before:".to_string(),
                n if n >= LISTED_DUPLICATES => format!(
                    "\nwarning: at least {n} imported rows may be persons registered before \
                     (the registry lists {LISTED_DUPLICATES}; `homewardctl person duplicates` finds all):"
                ),
                n => format!("\nwarning: {n} imported rows may be persons registered before:"),
            });
            let mut t =
                output::table(["LINE", "NEW PERSON", "POSSIBLE DUPLICATE OF", "CONFIDENCE"]);
            for d in &self.possible_duplicates {
                t.add_row(vec![
                    d.row_number.to_string(),
                    d.person_id.clone(),
                    d.duplicate_id.clone(),
                    format!("{:.2}", d.confidence),
                ]);
            }
            out.push('\n');
            out.push_str(&t.to_string());
        }
        out
    }
}

fn records(n: usize) -> String {
    if n == 1 {
        "1 record".into()
    } else {
        format!("{n} records")
    }
}

fn skipped_records(skipped: &[LocalError]) -> usize {
    let mut lines: Vec<u64> = skipped.iter().map(|e| e.line).collect();
    lines.dedup();
    lines.len()
}

pub async fn import(a: ImportArgs, ctx: &Context) -> Result<(), CliError> {
    let path = a.file.display().to_string();
    let csv_file::Opened {
        reader,
        columns,
        total_bytes,
    } = csv_file::open(&a.file, &SCHEMA)?;
    let mut client = ctx.registry()?;

    let request_id = a.request_id.get();
    let source = a
        .source
        .map(common::InformationSource::from)
        .unwrap_or_default();
    let (skipped_tx, skipped_rx) = mpsc::channel();
    let (unreadable_tx, unreadable_rx) = oneshot::channel();
    let progress = output::progress(Some(total_bytes));
    let rows = Rows {
        header: Some(pb::ImportHeader {
            request_id: request_id.clone(),
            source: source as i32,
            reliability: a
                .reliability
                .map(common::Reliability::from)
                .unwrap_or_default() as i32,
        }),
        records: reader.into_records(),
        columns,
        source,
        skipped: skipped_tx,
        unreadable: Some(unreadable_tx),
        progress: progress.clone(),
        sent: 0,
    };

    let answer = tokio::select! {
        answer = client.import_persons(rows) => answer,
        Ok(why) = unreadable_rx => {
            // Dropping the call cancels it, so the registry does not take the part read so far
            // for the whole file. Rows in chunks already written stay; the same request id makes
            // a retry skip them.
            progress.finish_and_clear();
            return Err(CliError::Failed(format!(
                "{path} could not be read to the end ({why}); the import was cancelled. \
                 Fix the file and run the import again with --request-id {request_id}"
            )));
        }
    };
    progress.finish_and_clear();
    let response = answer
        .map_err(|s| CliError::from(s).with_request_id(&request_id))?
        .into_inner();
    let summary = ImportSummary {
        request_id,
        replayed: response.replayed,
        rows_received: response.rows_received,
        rows_imported: response.rows_imported,
        rows_rejected: response.rows_rejected,
        errors: response
            .errors
            .into_iter()
            .map(|e| RowErrorView {
                row_number: e.row_number,
                field: e.field,
                description: e.description,
            })
            .collect(),
        skipped: skipped_rx.try_iter().collect(),
        possible_duplicates: response
            .possible_duplicates
            .into_iter()
            .map(ImportDuplicateView::from)
            .collect(),
    };
    output::show(ctx.output, &summary)?;
    if !summary.possible_duplicates.is_empty() && ctx.output == output::OutputFormat::Table {
        output::note(
            "compare each pair with `homewardctl person get <id>`; when two records are one person, \
             join them with `homewardctl person merge <survivor-id> <duplicate-id> --reason TEXT`",
        );
    }
    if summary.rows_received == 0 && summary.skipped.is_empty() && !summary.replayed {
        output::note(&format!(
            "{path} has no records after its header: nothing was imported"
        ));
    }
    let not_imported = summary.rows_rejected as usize + skipped_records(&summary.skipped);
    if not_imported > 0 {
        return Err(CliError::Failed(format!(
            "{} of {path} not imported; fix the lines listed above and import them again \
             (with a new --request-id)",
            records(not_imported)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::{fs::File, io::BufReader};

    use super::*;

    fn columns(header: &[&str]) -> Result<Columns, String> {
        Columns::from_header(&StringRecord::from(header.to_vec()), &SCHEMA)
    }

    fn all_columns() -> Columns {
        columns(&COLUMNS).unwrap()
    }

    fn record(cells: &[&str]) -> StringRecord {
        StringRecord::from(cells.to_vec())
    }

    #[test]
    fn a_full_row_becomes_a_captured_person_with_one_name() {
        let row = record(&[
            "service-member",
            "M",
            "Коваленко",
            "Олександр",
            "Петрович",
            "1990-05",
            "UA",
            "RU",
            "1234567",
            "sergeant",
            "36th brigade",
            "2022-04-12",
            "Mariupol",
            "Olenivka",
            "yes",
            "",
            "UA-2024-0001",
        ]);
        let p = row_to_person(
            &all_columns(),
            &row,
            common::InformationSource::OtherPartyList,
        )
        .unwrap();
        assert_eq!(p.category, common::PersonCategory::ServiceMember as i32);
        assert_eq!(p.sex, common::Sex::Male as i32);
        assert_eq!(p.names.len(), 1);
        assert_eq!(p.names[0].family, "Коваленко");
        assert_eq!(p.names[0].patronymic, "Петрович");
        assert_eq!(
            p.names[0].source,
            common::InformationSource::OtherPartyList as i32
        );
        assert_eq!(
            p.birth_date,
            Some(common::PartialDate {
                year: 1990,
                month: 5,
                day: 0
            })
        );
        let capture = p.capture.unwrap();
        assert_eq!(
            capture.date,
            Some(common::PartialDate {
                year: 2022,
                month: 4,
                day: 12
            })
        );
        assert_eq!(capture.place, "Mariupol");
        assert_eq!(
            p.health,
            Some(pb::Health {
                wounded: true,
                seriously_ill: false
            })
        );
        assert_eq!(
            (p.affiliated_party.as_str(), p.holding_party.as_str()),
            ("UA", "RU")
        );
        assert_eq!(p.status, pb::PersonStatus::Captured as i32);
        assert_eq!(p.file_reference, "UA-2024-0001");
    }

    #[test]
    fn a_bad_row_lists_every_unreadable_cell() {
        let cols = columns(&[
            "category",
            "family",
            "birth_date",
            "affiliated_party",
            "holding_party",
            "wounded",
            "sex",
        ])
        .unwrap();
        let row = record(&[
            "soldier",
            "Kovalenko",
            "1990-13-01",
            "UA",
            "RU",
            "perhaps",
            "x",
        ]);
        let problems =
            row_to_person(&cols, &row, common::InformationSource::Unspecified).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.0).collect();
        assert_eq!(fields, ["category", "sex", "birth_date", "wounded"]);
        assert!(
            problems[0].1.contains("service-member, civilian"),
            "{:?}",
            problems[0]
        );
    }

    #[test]
    fn columns_may_come_in_any_order_and_missing_optional_ones_read_as_empty() {
        let cols = columns(&["Holding Party", "family", "affiliated-party", "category"]).unwrap();
        let p = row_to_person(
            &cols,
            &record(&["RU", "Shevchenko", "UA", "civilian"]),
            common::InformationSource::Unspecified,
        )
        .unwrap();
        assert_eq!(p.holding_party, "RU");
        assert_eq!(p.category, common::PersonCategory::Civilian as i32);
        assert_eq!(p.birth_date, None);
        assert_eq!(p.capture, None);
        // Blank required cells are the registry's to judge, not a local error.
        let p = row_to_person(
            &cols,
            &record(&["", "", "", ""]),
            common::InformationSource::Unspecified,
        )
        .unwrap();
        assert!(p.names.is_empty());
    }

    #[test]
    fn a_header_with_unknown_repeated_or_missing_columns_is_refused() {
        let err = columns(&["category", "famly", "affiliated_party", "holding_party"]).unwrap_err();
        assert!(err.contains("`famly`"), "{err}");
        assert!(
            columns(&[
                "category",
                "family",
                "family",
                "affiliated_party",
                "holding_party"
            ])
            .is_err()
        );
        let err = columns(&["family", "holding_party"]).unwrap_err();
        assert!(err.contains("`category`, `affiliated_party`"), "{err}");
        assert!(columns(&["category", "affiliated_party", "holding_party", "sex"]).is_err());
        assert!(
            columns(&[
                "\u{feff}category",
                "given",
                "affiliated_party",
                "holding_party"
            ])
            .is_ok()
        );
    }

    #[test]
    fn rows_are_numbered_by_their_line_and_unreadable_records_are_skipped() {
        let dir = std::env::temp_dir().join(format!("homewardctl-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.csv");
        std::fs::write(
            &path,
            "category,family,affiliated_party,holding_party,birth_date\n\
             civilian,A,UA,RU,1990\n\
             civilian,B,UA\n\
             civilian,\"C\nmultiline\",UA,RU,\n\
             civilian,D,UA,RU,1990-99\n\
             civilian,E,UA,RU,\n",
        )
        .unwrap();
        let mut reader = csv::Reader::from_reader(BufReader::new(File::open(&path).unwrap()));
        let columns = Columns::from_header(reader.headers().unwrap(), &SCHEMA).unwrap();
        let (skipped_tx, skipped_rx) = mpsc::channel();
        let (unreadable_tx, _unreadable_rx) = oneshot::channel();
        let mut rows = Rows {
            header: Some(pb::ImportHeader::default()),
            records: reader.into_records(),
            columns,
            source: common::InformationSource::Unspecified,
            skipped: skipped_tx,
            unreadable: Some(unreadable_tx),
            progress: ProgressBar::hidden(),
            sent: 0,
        };
        let waker = std::task::Waker::noop();
        let mut cx = TaskContext::from_waker(waker);
        let mut items = Vec::new();
        while let Poll::Ready(Some(item)) = Pin::new(&mut rows).poll_next(&mut cx) {
            items.push(item.item.unwrap());
        }
        use pb::import_persons_request::Item;
        assert!(matches!(items[0], Item::Header(_)));
        let numbers: Vec<u64> = items[1..]
            .iter()
            .map(|i| match i {
                Item::Row(r) => r.row_number,
                Item::Header(_) => 0,
            })
            .collect();
        assert_eq!(numbers, [2, 4, 7]);
        let skipped: Vec<LocalError> = skipped_rx.try_iter().collect();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert_eq!((skipped[0].line, skipped[0].column.as_str()), (3, ""));
        assert!(
            skipped[0]
                .description
                .contains("3 fields where the header has 5"),
            "{skipped:?}"
        );
        assert_eq!(
            (skipped[1].line, skipped[1].column.as_str()),
            (6, "birth_date")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
    #[test]
    fn a_file_that_breaks_midway_never_ends_the_stream_and_says_why() {
        /// Gives `data`, then fails as a disk or network mount can.
        struct Breaks(std::io::Cursor<Vec<u8>>);
        impl Read for Breaks {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                match self.0.read(buf)? {
                    0 => Err(std::io::Error::other("device gone")),
                    n => Ok(n),
                }
            }
        }
        let data = b"category,family,affiliated_party,holding_party\ncivilian,A,UA,RU\ncivilian,B"
            .to_vec();
        let mut reader = csv::Reader::from_reader(Breaks(std::io::Cursor::new(data)));
        let columns = Columns::from_header(reader.headers().unwrap(), &SCHEMA).unwrap();
        let (skipped_tx, _skipped_rx) = mpsc::channel();
        let (unreadable_tx, mut unreadable_rx) = oneshot::channel();
        let mut rows = Rows {
            header: Some(pb::ImportHeader::default()),
            records: reader.into_records(),
            columns,
            source: common::InformationSource::Unspecified,
            skipped: skipped_tx,
            unreadable: Some(unreadable_tx),
            progress: ProgressBar::hidden(),
            sent: 0,
        };
        let mut cx = TaskContext::from_waker(std::task::Waker::noop());
        let mut poll = || Pin::new(&mut rows).poll_next(&mut cx);
        assert!(matches!(poll(), Poll::Ready(Some(_))), "header");
        assert!(matches!(poll(), Poll::Ready(Some(_))), "row A");
        assert!(
            poll().is_pending(),
            "the broken read must not end the stream"
        );
        assert!(poll().is_pending(), "nor may a later poll");
        assert!(unreadable_rx.try_recv().unwrap().contains("device gone"));
    }

    fn summary(possible_duplicates: Vec<ImportDuplicateView>) -> ImportSummary {
        ImportSummary {
            request_id: "r-1".into(),
            replayed: false,
            rows_received: 2,
            rows_imported: 2,
            rows_rejected: 0,
            errors: vec![],
            skipped: vec![],
            possible_duplicates,
        }
    }

    #[test]
    fn imported_rows_that_may_be_registered_already_are_counted_and_listed() {
        let duplicate = ImportDuplicateView::from(pb::ImportDuplicate {
            row_number: 7,
            person_id: "new-1".into(),
            duplicate: Some(pb::PossibleDuplicate {
                person_id: "old-1".into(),
                confidence: 0.912,
                explanation: vec!["names: same".into()],
            }),
        });
        let table = summary(vec![duplicate]).table();
        assert!(
            table.contains("warning: 1 imported row may be a person registered before"),
            "{table}"
        );
        let row = table.lines().find(|l| l.contains("new-1")).unwrap();
        assert!(
            row.contains(" 7 ") && row.contains("old-1") && row.contains("0.91"),
            "{table}"
        );
        assert!(!summary(vec![]).table().contains("warning"));
        let many = (0..LISTED_DUPLICATES as u64)
            .map(|row_number| ImportDuplicateView {
                row_number,
                person_id: String::new(),
                duplicate_id: String::new(),
                confidence: 0.9,
                explanation: vec![],
            })
            .collect();
        let table = summary(many).table();
        assert!(
            table.contains("at least 1000 imported rows") && table.contains("person duplicates"),
            "{}",
            table.lines().next().unwrap_or_default()
        );
    }
}
