//! CSV files of persons, shared by `person import` and `person match`: the header line names the
//! columns, in any order, from the set a command knows; cells are read with the same parsers as
//! the flags, so a word that works on the command line works in a file too.
//!
//! Line numbers are the file's own (the header is line 1), so every problem points at the line to
//! fix. Like `args`, this checks form only; whether a record makes sense is the registry's call.

use std::{fs::File, io::BufReader, path::Path};

use clap::ValueEnum;
use csv::StringRecord;
use homeward_proto::common::v1 as common;
use serde::Serialize;

use crate::{
    args::{self, CategoryArg, SexArg},
    error::CliError,
};

/// The columns one kind of file may have.
#[derive(Debug)]
pub struct Schema {
    /// Every column, in the documented order.
    pub columns: &'static [&'static str],
    /// Columns without which every row would be refused. A `family` or a `given` column is always
    /// needed as well.
    pub required: &'static [&'static str],
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
        if !columns.has("family") && !columns.has("given") {
            return Err("the header needs a `family` or a `given` column".into());
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
