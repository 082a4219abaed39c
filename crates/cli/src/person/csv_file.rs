//! CSV files of persons, shared by `person import`, `person match` and `exchange list submit`:
//! the header line names the columns, in any order, from the set a command knows; cells are read
//! with the same parsers as the flags, so a word that works on the command line works in a file
//! too.
//!
//! Line numbers are the file's own (the header is line 1), so every problem points at the line to
//! fix. Like `args`, this checks form only; whether a record makes sense is the service's call.

use std::{
    fs::File,
    io::{BufReader, Read},
    path::Path,
};

use clap::ValueEnum;
use csv::StringRecord;
use homeward_proto::common::v1 as common;
use indicatif::ProgressBar;
use serde::Serialize;
use tonic_types::{FieldViolation, StatusExt};

use crate::{
    args::{self, CategoryArg, SexArg},
    error::CliError,
};

/// The columns one kind of file may have.
#[derive(Debug)]
pub struct Schema {
    /// Every column, in the documented order.
    pub columns: &'static [&'static str],
    /// Columns without which every row would be refused.
    pub required: &'static [&'static str],
    /// Columns of which the header needs at least one, such as `family` or `given`.
    pub any_of: &'static [&'static str],
}

/// Where each column of a schema sits in one file.
#[derive(Debug)]
pub struct Columns {
    schema: &'static Schema,
    index: Vec<Option<usize>>,
}

impl Columns {
    pub fn from_header(header: &StringRecord, schema: &'static Schema) -> Result<Self, String> {
        let mut index = vec![None; schema.columns.len()];
        let mut unknown = Vec::new();
        for (position, raw) in header.iter().enumerate() {
            let name = raw
                .trim()
                .trim_start_matches('\u{feff}')
                .to_lowercase()
                .replace(['-', ' '], "_");
            match schema.columns.iter().position(|c| *c == name) {
                Some(i) if index[i].is_some() => {
                    return Err(format!("the column `{name}` appears twice"));
                }
                Some(i) => index[i] = Some(position),
                None => unknown.push(raw.to_string()),
            }
        }
        if !unknown.is_empty() {
            return Err(format!(
                "unknown columns {}; the columns are {}",
                quoted(&unknown),
                schema.columns.join(",")
            ));
        }
        let columns = Self { schema, index };
        let missing: Vec<String> = schema
            .required
            .iter()
            .filter(|c| !columns.has(c))
            .map(|c| c.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "the header lacks the required columns {}",
                quoted(&missing)
            ));
        }
        if !schema.any_of.is_empty() && !schema.any_of.iter().any(|c| columns.has(c)) {
            return Err(format!(
                "the header needs a {} column",
                alternatives(schema.any_of)
            ));
        }
        Ok(columns)
    }

    fn has(&self, column: &str) -> bool {
        self.position(column).is_some()
    }

    fn position(&self, column: &str) -> Option<usize> {
        self.schema
            .columns
            .iter()
            .position(|c| *c == column)
            .and_then(|i| self.index[i])
    }

    /// The cells of one record, read through this header.
    pub fn cells<'a>(&'a self, record: &'a StringRecord) -> Cells<'a> {
        Cells {
            columns: self,
            record,
            problems: Vec::new(),
        }
    }
}

/// "`a`, `b` or `c`".
fn alternatives(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The problems of one record: the column and what is wrong with its cell.
pub type Problems = Vec<(&'static str, String)>;

/// One record being read: each typed getter notes an unreadable cell and goes on, so a row's
/// report lists every bad cell at once.
pub struct Cells<'a> {
    columns: &'a Columns,
    record: &'a StringRecord,
    problems: Problems,
}

impl<'a> Cells<'a> {
    /// The trimmed cell of `column`, empty when the file has no such column.
    pub fn text(&self, column: &str) -> &'a str {
        self.columns
            .position(column)
            .and_then(|position| self.record.get(position))
            .map(str::trim)
            .unwrap_or_default()
    }

    pub fn problem(&mut self, column: &'static str, description: impl Into<String>) {
        self.problems.push((column, description.into()));
    }

    /// One of the words of a flag's value enum, as the protobuf value; 0 when empty or unreadable.
    fn word<T: ValueEnum>(&mut self, column: &'static str, to_pb: impl Fn(T) -> i32) -> i32 {
        match self.text(column) {
            "" => 0,
            v => args::enum_word::<T>(v).map(to_pb).unwrap_or_else(|e| {
                self.problem(column, e);
                0
            }),
        }
    }

    /// `category`: service-member (or service_member), civilian, or empty.
    pub fn category(&mut self) -> i32 {
        self.word("category", |c: CategoryArg| {
            common::PersonCategory::from(c) as i32
        })
    }

    /// `sex`: male, female (m, f), or empty.
    pub fn sex(&mut self) -> i32 {
        self.word("sex", |s: SexArg| common::Sex::from(s) as i32)
    }

    /// A partial date, None when the cell is empty.
    pub fn date(&mut self, column: &'static str) -> Option<common::PartialDate> {
        match self.text(column) {
            "" => None,
            v => args::partial_date(v)
                .map_err(|e| self.problem(column, e))
                .ok(),
        }
    }

    /// A yes/no cell; empty means no.
    pub fn flag(&mut self, column: &'static str) -> bool {
        args::flag(self.text(column)).unwrap_or_else(|e| {
            self.problem(column, e);
            false
        })
    }

    /// The name in `family`, `given` and `patronymic`, if any part is filled in. The script is
    /// left for the registry to detect, so names may be written in any script.
    pub fn name(&self, source: common::InformationSource) -> Option<common::PersonName> {
        let (family, given, patronymic) = (
            self.text("family"),
            self.text("given"),
            self.text("patronymic"),
        );
        if family.is_empty() && given.is_empty() && patronymic.is_empty() {
            return None;
        }
        Some(common::PersonName {
            given: given.to_string(),
            family: family.to_string(),
            patronymic: patronymic.to_string(),
            source: source as i32,
            ..Default::default()
        })
    }

    /// `value` when every cell could be read, otherwise every problem found.
    pub fn finish<T>(self, value: T) -> Result<T, Problems> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(self.problems)
        }
    }
}

/// One problem with one cell (or, with an empty column, the whole record) found before sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalError {
    pub line: u64,
    pub column: String,
    pub description: String,
}

impl LocalError {
    pub fn new(line: u64, column: &str, description: String) -> Self {
        Self {
            line,
            column: column.to_string(),
            description,
        }
    }

    /// A record the csv reader refused (wrong number of fields, not UTF-8).
    pub fn of_record(e: &csv::Error) -> Self {
        let line = e.position().map(csv::Position::line).unwrap_or_default();
        Self::new(line, "", record_problem(e))
    }
}

impl std::fmt::Display for LocalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.column.is_empty() {
            write!(f, "line {}: {}", self.line, self.description)
        } else {
            write!(
                f,
                "line {}, column {}: {}",
                self.line, self.column, self.description
            )
        }
    }
}

fn record_problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("the record has {len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "the record is not valid UTF-8".into(),
        _ => e.to_string(),
    }
}

/// The line a record starts on.
pub fn line_of(record: &StringRecord) -> u64 {
    record
        .position()
        .map(csv::Position::line)
        .unwrap_or_default()
}

/// A file opened and its header read and checked.
pub struct Opened {
    pub reader: csv::Reader<BufReader<File>>,
    pub columns: Columns,
    pub total_bytes: u64,
}

/// Opens `path` and reads its header line against `schema`; every failure says what to fix.
pub fn open(path: &Path, schema: &'static Schema) -> Result<Opened, CliError> {
    let name = path.display();
    let file = File::open(path).map_err(|e| CliError::input(format!("cannot open {name}: {e}")))?;
    let total_bytes = file.metadata().map(|m| m.len()).unwrap_or_default();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(BufReader::new(file));
    let header = reader
        .headers()
        .map_err(|e| CliError::input(format!("cannot read the header line of {name}: {e}")))?
        .clone();
    if header.is_empty() {
        return Err(CliError::input(format!(
            "{name} is empty: it needs a header line naming its columns (see --help)"
        )));
    }
    let columns = Columns::from_header(&header, schema)
        .map_err(|e| CliError::input(format!("{name}: {e}")))?;
    Ok(Opened {
        reader,
        columns,
        total_bytes,
    })
}

/// Reads every record of a file through `row`: each value with the line it starts on, or every
/// problem found in the file. A file that breaks midway ends the reading with that as its last
/// problem. `progress` follows the bytes read.
pub fn read_all<R: Read, T>(
    mut records: csv::StringRecordsIntoIter<R>,
    progress: &ProgressBar,
    mut row: impl FnMut(&StringRecord) -> Result<T, Problems>,
) -> Result<Vec<(u64, T)>, Vec<LocalError>> {
    let mut values = Vec::new();
    let mut problems = Vec::new();
    while let Some(record) = records.next() {
        progress.set_position(records.reader().position().byte());
        let record = match record {
            Ok(record) => record,
            Err(e) if e.is_io_error() => {
                let line = e.position().map(csv::Position::line).unwrap_or_default();
                problems.push(LocalError::new(
                    line,
                    "",
                    format!("the file could not be read from here on: {e}"),
                ));
                break;
            }
            Err(e) => {
                problems.push(LocalError::of_record(&e));
                continue;
            }
        };
        let line = line_of(&record);
        match row(&record) {
            Ok(value) => values.push((line, value)),
            Err(found) => problems.extend(
                found
                    .into_iter()
                    .map(|(column, description)| LocalError::new(line, column, description)),
            ),
        }
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

/// At most this many unreadable lines are listed; the rest are counted.
const LISTED_PROBLEMS: usize = 20;

/// The report of a file that cannot be sent as it is; `verb` names the command to run again.
pub fn unreadable(path: &str, problems: &[LocalError], verb: &str) -> String {
    let mut lines: Vec<u64> = problems.iter().map(|p| p.line).collect();
    lines.dedup();
    let count = match lines.len() {
        1 => "1 line".to_string(),
        n => format!("{n} lines"),
    };
    let mut out = format!(
        "{path} has {count} that cannot be read; nothing was sent. Fix them and run the {verb} again:"
    );
    for p in problems.iter().take(LISTED_PROBLEMS) {
        out.push_str(&format!("\n  {p}"));
    }
    if problems.len() > LISTED_PROBLEMS {
        out.push_str(&format!(
            "\n  ... and {} more problems",
            problems.len() - LISTED_PROBLEMS
        ));
    }
    out
}

/// Rewrites a service's `{list}[i].field` in a refused call, in its details and its message, as
/// the file's line and column (`lines[i]` is the line of the i-th item sent), so the report
/// points at what to fix.
pub fn point_at_lines(status: tonic::Status, list: &str, lines: &[u64]) -> tonic::Status {
    let mut details = status.get_error_details();
    let Some(bad) = details.bad_request() else {
        return status;
    };
    let mut renamed = Vec::new();
    let violations: Vec<FieldViolation> = bad
        .field_violations
        .iter()
        .map(|v| {
            let mut v = v.clone();
            if let Some(place) = line_and_column(&v.field, list, lines) {
                renamed.push((std::mem::replace(&mut v.field, place.clone()), place));
            }
            v
        })
        .collect();
    // Longest first, so `identities[1]` never rewrites part of `identities[12].unit`.
    renamed.sort_by_key(|(field, _)| std::cmp::Reverse(field.len()));
    let message = renamed
        .iter()
        .fold(status.message().to_string(), |m, (field, place)| {
            m.replace(field.as_str(), place)
        });
    details.set_bad_request(violations);
    tonic::Status::with_error_details(status.code(), message, details)
}

fn line_and_column(field: &str, list: &str, lines: &[u64]) -> Option<String> {
    let rest = field.strip_prefix(list)?.strip_prefix('[')?;
    let (index, rest) = rest.split_once(']')?;
    let line = lines.get(index.parse::<usize>().ok()?)?;
    // A file has one name per row, and its identity fields are columns of their own names.
    let column = rest.trim_start_matches('.');
    let column = column.strip_prefix("identity.").unwrap_or(column);
    let column = column.strip_prefix("names[0].").unwrap_or(column);
    Some(if column.is_empty() {
        format!("line {line}")
    } else {
        format!("line {line}, column {column}")
    })
}
