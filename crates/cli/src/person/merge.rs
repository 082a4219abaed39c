//! `homewardctl person duplicates|merge|unmerge`: finding records that may be one person, and
//! joining them. A merge is reversible: the duplicate keeps its record and history and points to
//! the survivor until it is unmerged.
//!
//! These verbs never decide on their own that two records are one person; a registrar does, and
//! says why in --reason, which the registry keeps in the history and the audit log.

use clap::Args;
use homeward_proto::registry::v1 as pb;

use super::text;
use crate::{
    Context, RequestId, args,
    error::{CliError, shell_word},
    output::{self, OutputFormat},
    view::{DuplicatePairView, DuplicatesView, MergedView, PersonView},
};

#[derive(Debug, Args)]
pub struct DuplicatesArgs {
    /// Leave out pairs below this confidence, above 0 and at most 1 [default: the registry's,
    /// 0.8].
    #[arg(long, value_parser = args::confidence)]
    min_confidence: Option<f64>,
    /// Registered persons the registry examines per call, up to 10,000 [default: the
    /// registry's, 2,000].
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=10_000))]
    page_size: Option<i32>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The record that stays.
    survivor_id: String,
    /// The record to mark as its duplicate; it keeps its history and leaves search and lists.
    duplicate_id: String,
    /// Why they are one person (kept in the history and the audit log).
    #[arg(long)]
    reason: String,
    /// Refuse the merge unless the duplicate still has this etag (from `person get`) [default:
    /// the duplicate as it is read just before the merge].
    #[arg(long)]
    etag: Option<String>,
    #[command(flatten)]
    pub(super) request_id: RequestId,
}

#[derive(Debug, Args)]
pub struct UnmergeArgs {
    /// The merged duplicate.
    id: String,
    /// Why the merge is undone (kept in the history and the audit log).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    request_id: RequestId,
}

pub async fn duplicates(a: DuplicatesArgs, ctx: &Context) -> Result<(), CliError> {
    let mut client = ctx.registry()?;
    let mut request = pb::FindDuplicatesRequest {
        min_confidence: a.min_confidence.unwrap_or_default(),
        page_size: a.page_size.unwrap_or_default(),
        page_token: String::new(),
    };
    // How many persons the registry holds is not known, so the progress is a spinner.
    let progress = output::progress(None);
    let mut pairs = Vec::new();
    let mut calls = 0;
    loop {
        progress.set_message(format!(
            "examining the registry: {calls} pages done, pairs found so far: {}",
            pairs.len()
        ));
        let page = match client.find_duplicates(request.clone()).await {
            Ok(page) => page.into_inner(),
            Err(status) => {
                progress.finish_and_clear();
                return Err(status.into());
            }
        };
        calls += 1;
        pairs.extend(page.pairs.iter().map(DuplicatePairView::from));
        // A token that does not move would loop forever; treat it as the end.
        if page.next_page_token.is_empty() || page.next_page_token == request.page_token {
            break;
        }
        request.page_token = page.next_page_token;
    }
    progress.finish_and_clear();
    let found = !pairs.is_empty();
    output::show(ctx.output, &DuplicatesView { pairs })?;
    if found && ctx.output == OutputFormat::Table {
        output::note(
            "compare each pair with `homewardctl person get <id>`; when two records are one person, \
             join them with `homewardctl person merge <survivor-id> <duplicate-id> --reason TEXT`",
        );
    }
    Ok(())
}

pub async fn merge(a: MergeArgs, ctx: &Context) -> Result<(), CliError> {
    let mut client = ctx.registry()?;
    let duplicate_id = a.duplicate_id.trim().to_string();
    let given_etag = text(a.etag);
    let (etag, retry_flags) = if given_etag.is_empty() {
        // The registry wants the etag the decision was made on; without one, that is the
        // record as it is now. A retry must send the same etag to be the same request.
        let read = client
            .get_person(pb::GetPersonRequest {
                id: duplicate_id.clone(),
            })
            .await?
            .into_inner()
            .person
            .unwrap_or_default();
        let flags = format!("--etag {}", shell_word(&read.etag));
        (read.etag, flags)
    } else {
        (given_etag, String::new())
    };
    let request_id = a.request_id.get();
    let response = client
        .merge_persons(pb::MergePersonsRequest {
            request_id: request_id.clone(),
            survivor_id: a.survivor_id.trim().to_string(),
            duplicate_id,
            duplicate_etag: etag,
            reason: a.reason.trim().to_string(),
        })
        .await
        .map_err(|s| CliError::from(s).with_retry(&request_id, &retry_flags))?
        .into_inner();
    let view = MergedView::from(&response);
    output::show(ctx.output, &view)?;
    if ctx.output == OutputFormat::Table {
        output::note(&format!(
            "undo with `homewardctl person unmerge {} --reason TEXT`",
            view.duplicate.id
        ));
    }
    Ok(())
}

pub async fn unmerge(a: UnmergeArgs, ctx: &Context) -> Result<(), CliError> {
    let request_id = a.request_id.get();
    let response = ctx
        .registry()?
        .unmerge_persons(pb::UnmergePersonsRequest {
            request_id: request_id.clone(),
            person_id: a.id.trim().to_string(),
            reason: a.reason.trim().to_string(),
        })
        .await
        .map_err(|s| CliError::from(s).with_request_id(&request_id))?
        .into_inner();
    let person = PersonView::from(&response.person.unwrap_or_default());
    output::show(ctx.output, &person)?;
    if ctx.output == OutputFormat::Table {
        output::note(&format!(
            "{} is a person of its own again: it shows in search, lists and duplicates",
            person.id
        ));
    }
    Ok(())
}
