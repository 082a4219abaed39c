//! `homewardctl exchange list`: each party's request and offer lists in a phase. A submission is
//! a whole new version read from CSV (see `list_file`); versions are immutable, so what each side
//! proposed at each step stays on record, and two versions can be compared entry by entry.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use homeward_proto::{common::v1 as common, exchange::v1 as pb};

use super::{
    all_pages,
    list_file::{self, SCHEMA},
    text,
};
use crate::{
    Context, RequestId, args,
    args::{ListKindArg, SourceArg},
    error::CliError,
    output::{self, OutputFormat},
    person::csv_file,
    view::{
        exchange::{ListComparisonView, ListVersionView, ListVersionsView},
        list_kind_word,
    },
};

/// Files larger than this show a progress bar while they are read.
const LARGE_FILE: u64 = 256 * 1024;

#[derive(Debug, Subcommand)]
pub enum ListCommand {
    /// Submit a new version of a party's list from a CSV file.
    #[command(long_about = list_file::LONG_ABOUT)]
    Submit(SubmitArgs),
    /// Show one version of a list with all its entries.
    // --version names the list's version here, not homewardctl's.
    #[command(disable_version_flag = true)]
    Show(ShowArgs),
    /// List the versions of a phase's lists, oldest first.
    Versions(VersionsArgs),
    /// What changed between two versions of a list, entry by entry.
    Compare(CompareArgs),
}

pub async fn run(command: ListCommand, ctx: &Context) -> Result<(), CliError> {
    match command {
        ListCommand::Submit(a) => submit(a, ctx).await,
        ListCommand::Show(a) => show(a, ctx).await,
        ListCommand::Versions(a) => versions(a, ctx).await,
        ListCommand::Compare(a) => compare(a, ctx).await,
    }
}

/// One of a phase's lists: which party wrote it, and whether it asks back or hands over.
#[derive(Debug, Args)]
pub struct WhichList {
    /// The phase's id.
    #[arg(value_name = "PHASE")]
    phase_id: String,
    /// The party that wrote the list, such as RU.
    #[arg(long)]
    party: String,
    /// request: the people the party asks back; offer: the people it hands over.
    #[arg(long, value_enum, ignore_case = true)]
    kind: ListKindArg,
}

impl WhichList {
    fn phase_id(&self) -> String {
        self.phase_id.trim().to_string()
    }

    fn party(&self) -> String {
        self.party.trim().to_string()
    }

    fn kind(&self) -> i32 {
        pb::ListKind::from(self.kind) as i32
    }

    /// "request" or "offer", as the flag takes it.
    fn kind_word(&self) -> String {
        list_kind_word(self.kind())
    }
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    list: WhichList,
    /// The CSV file (UTF-8, comma-separated, with a header line; see --help).
    #[arg(long)]
    file: PathBuf,
    /// The version this one replaces, 0 for the first [default: the latest, read just before].
    #[arg(long)]
    base_version: Option<u32>,
    /// How the list reached the bureau.
    #[arg(long, value_enum, ignore_case = true)]
    source: Option<SourceArg>,
    /// When the list was received from its author, RFC 3339.
    #[arg(long, value_name = "RFC3339", value_parser = args::timestamp)]
    received: Option<prost_types::Timestamp>,
    /// A note kept with the version.
    #[arg(long)]
    note: Option<String>,
    #[command(flatten)]
    request_id: RequestId,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    list: WhichList,
    /// The version to show [default: the latest].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    version: Option<u32>,
}

#[derive(Debug, Args)]
pub struct VersionsArgs {
    /// The phase's id.
    #[arg(value_name = "PHASE")]
    phase_id: String,
    /// Only this party's lists.
    #[arg(long)]
    party: Option<String>,
    /// Only request lists or only offer lists.
    #[arg(long, value_enum, ignore_case = true)]
    kind: Option<ListKindArg>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    list: WhichList,
    /// The earlier version.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    from: u32,
    /// The later version [default: the latest].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    to: Option<u32>,
}

/// Every version of one phase's lists, oldest first, without their entries.
async fn list_versions(
    ctx: &Context,
    phase_id: &str,
    party: &str,
    kind: i32,
) -> Result<Vec<pb::ListVersion>, CliError> {
    let client = ctx.exchange()?;
    all_pages(|page_token| {
        let mut client = client.clone();
        let request = pb::ListListVersionsRequest {
            page_size: 0,
            page_token,
            phase_id: phase_id.to_string(),
            party: party.to_string(),
            kind,
        };
        async move {
            let page = client.list_list_versions(request).await?.into_inner();
            Ok((page.lists, page.next_page_token))
        }
    })
    .await
}

async fn submit(a: SubmitArgs, ctx: &Context) -> Result<(), CliError> {
    let path = a.file.display().to_string();
    let csv_file::Opened {
        reader,
        columns,
        total_bytes,
    } = csv_file::open(&a.file, &SCHEMA)?;
    let source = a
        .source
        .map(common::InformationSource::from)
        .unwrap_or_default();
    let progress = if total_bytes > LARGE_FILE {
        let bar = output::progress(Some(total_bytes));
        bar.set_message(format!("checking {path}"));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let read = list_file::read_entries(reader.into_records(), &columns, source, &progress);
    progress.finish_and_clear();
    let entries = read.map_err(|problems| {
        CliError::input(csv_file::unreadable(&path, &problems, "list submit"))
    })?;
    if entries.is_empty() {
        return Err(CliError::input(format!(
            "{path} has no entries after its header: nothing to submit"
        )));
    }

    let (phase_id, party, kind) = (a.list.phase_id(), a.list.party(), a.list.kind());
    let (base_version, retry_flags) = match a.base_version {
        Some(v) => (v, String::new()),
        None => {
            // The service refuses a base that is not the latest, so nobody replaces a list they
            // have not seen; without --base-version, the latest is named so the officer sees it.
            let versions = list_versions(ctx, &phase_id, &party, kind).await?;
            let latest = versions
                .last()
                .map(|l| l.list.clone().unwrap_or_default().version)
                .unwrap_or_default();
            if latest > 0 && ctx.output == OutputFormat::Table {
                output::note(&format!(
                    "replacing version {latest} of the {party} {} list",
                    a.list.kind_word()
                ));
            }
            (latest, format!("--base-version {latest}"))
        }
    };

    let lines: Vec<u64> = entries.iter().map(|e| e.line).collect();
    let request_id = a.request_id.get();
    let request = pb::SubmitListRequest {
        request_id: request_id.clone(),
        phase_id: phase_id.clone(),
        party: party.clone(),
        kind,
        base_version,
        entries: entries.into_iter().map(|e| e.entry).collect(),
        source: source as i32,
        receive_time: a.received,
        note: text(a.note),
    };
    let waiting = if total_bytes > LARGE_FILE {
        let bar = output::progress(None);
        bar.set_message(format!(
            "{} entries sent, waiting for the exchange service",
            lines.len()
        ));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let answer = ctx.exchange()?.submit_list(request).await;
    waiting.finish_and_clear();
    let response = answer
        .map_err(|s| {
            CliError::from(csv_file::point_at_lines(s, "entries", &lines))
                .with_retry(&request_id, &retry_flags)
        })?
        .into_inner();
    let view = ListVersionView::from(&response.list.unwrap_or_default());
    output::show(ctx.output, &view)?;
    if ctx.output == OutputFormat::Table {
        let next = if view.version > 1 {
            format!(
                "see what changed: `homewardctl exchange list compare {phase_id} --party {party} --kind {} --from {}`; ",
                view.kind,
                view.version - 1
            )
        } else {
            String::new()
        };
        output::note(&format!(
            "{next}when both parties' lists are in, run `homewardctl exchange reconcile {phase_id}`"
        ));
    }
    Ok(())
}

async fn show(a: ShowArgs, ctx: &Context) -> Result<(), CliError> {
    let response = ctx
        .exchange()?
        .get_list_version(pb::GetListVersionRequest {
            phase_id: a.list.phase_id(),
            party: a.list.party(),
            kind: a.list.kind(),
            version: a.version.unwrap_or_default(),
        })
        .await?
        .into_inner();
    output::show(
        ctx.output,
        &ListVersionView::from(&response.list.unwrap_or_default()),
    )
}

async fn versions(a: VersionsArgs, ctx: &Context) -> Result<(), CliError> {
    let lists = list_versions(
        ctx,
        a.phase_id.trim(),
        &text(a.party),
        a.kind.map(pb::ListKind::from).unwrap_or_default() as i32,
    )
    .await?;
    output::show(
        ctx.output,
        &ListVersionsView {
            lists: lists.iter().map(ListVersionView::from).collect(),
        },
    )
}

async fn compare(a: CompareArgs, ctx: &Context) -> Result<(), CliError> {
    let to_version = a.to.unwrap_or_default();
    let response = ctx
        .exchange()?
        .compare_list_versions(pb::CompareListVersionsRequest {
            phase_id: a.list.phase_id(),
            party: a.list.party(),
            kind: a.list.kind(),
            from_version: a.from,
            to_version,
        })
        .await?
        .into_inner();
    output::show(
        ctx.output,
        &ListComparisonView::new(
            a.list.party(),
            a.list.kind_word(),
            a.from,
            to_version,
            &response,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{ExchangeCommand, tests::parse};

    #[test]
    fn submit_needs_a_party_a_kind_and_a_file_and_takes_a_base_version() {
        let ExchangeCommand::List(ListCommand::Submit(a)) = parse(&[
            "list",
            "submit",
            "ph1",
            "--party",
            "RU",
            "--kind",
            "Offer",
            "--file",
            "list.csv",
            "--base-version",
            "2",
            "--source",
            "other-party-list",
        ])
        .unwrap() else {
            panic!("not list submit");
        };
        assert_eq!(a.list.kind(), pb::ListKind::Offer as i32);
        assert_eq!(a.base_version, Some(2));
        assert_eq!(a.list.kind_word(), "offer");
        for bad in [
            &["list", "submit", "ph1", "--party", "RU", "--file", "l.csv"][..],
            &[
                "list", "submit", "ph1", "--kind", "offer", "--file", "l.csv",
            ],
            &["list", "submit", "ph1", "--party", "RU", "--kind", "offer"],
            &[
                "list", "submit", "ph1", "--party", "RU", "--kind", "wish", "--file", "l.csv",
            ],
            &["list", "compare", "ph1", "--party", "RU", "--kind", "offer"],
            &[
                "list", "compare", "ph1", "--party", "RU", "--kind", "offer", "--from", "0",
            ],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(
            parse(&[
                "list", "compare", "ph1", "--party", "RU", "--kind", "request", "--from", "1",
                "--to", "3"
            ])
            .is_ok()
        );
        assert!(parse(&["list", "versions", "ph1"]).is_ok());
        // --version names the list's version here, not homewardctl's.
        let ExchangeCommand::List(ListCommand::Show(a)) = parse(&[
            "list",
            "show",
            "ph1",
            "--party",
            "RU",
            "--kind",
            "offer",
            "--version",
            "2",
        ])
        .unwrap() else {
            panic!("not list show");
        };
        assert_eq!(a.version, Some(2));
    }
}
