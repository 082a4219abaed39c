//! Where results go: a table for people by default, JSON for scripts with `--output json`.
//! Results go to stdout and nothing else does, so a script can pipe them; notes, progress and
//! errors go to stderr.

use std::{
    io::{self, IsTerminal, Write},
    time::Duration,
};

use clap::ValueEnum;
use comfy_table::{ContentArrangement, Table, presets};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::error::CliError;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
}

/// A result that can be shown both ways.
pub trait Render: Serialize {
    /// The human form: usually a table, ending without a newline.
    fn table(&self) -> String;
}

pub fn show<R: Render>(format: OutputFormat, result: &R) -> Result<(), CliError> {
    let text = match format {
        OutputFormat::Table => result.table(),
        OutputFormat::Json => serde_json::to_string_pretty(result)
            .map_err(|e| CliError::Failed(format!("could not write JSON: {e}")))?,
    };
    print(&text)
}

/// Writes one block to stdout. A closed pipe (`| head`) ends the output quietly instead of
/// panicking as `println!` would.
pub fn print(text: &str) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(CliError::Failed(format!("could not write output: {e}")))
        }
        _ => Ok(()),
    }
}

/// A note for the person at the terminal (paging hints, replays); never part of the result.
pub fn note(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// A table with a header row, in the style every command uses.
pub fn table<I, S>(header: I) -> Table
where
    I: IntoIterator<Item = S>,
    S: Into<comfy_table::Cell>,
{
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    t
}

/// A two-column field/value table for one record.
pub fn record(rows: Vec<(&str, String)>) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    for (field, value) in rows {
        t.add_row(vec![field.to_string(), value]);
    }
    t
}

/// A progress bar on stderr for long work: a bar towards `total`, or a spinner when the total is
/// not known. Hidden when stderr is not a terminal, so logs and pipes get no control characters.
pub fn progress(total: Option<u64>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total {
        Some(total) => (
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
            "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}",
        ),
        None => (
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            "{spinner} [{elapsed_precise}] {msg}",
        ),
    };
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // Ticks between updates show that the client is waiting for the registry, not stuck.
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
