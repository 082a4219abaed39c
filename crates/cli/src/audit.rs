//! `homewardctl audit`: checks of the registry's hash-chained audit log.
//!
//! A broken chain is a failed command (exit 1) after the result is printed, so a cron job or CI
//! step notices it.

use clap::{Args, Subcommand};
use homeward_proto::registry::v1 as pb;

use crate::{Context, error::CliError, output, view::AuditView};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check that every audit entry is present, in order, and hashes to the chain.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Sequence number of a head recorded earlier; the log must still hold it with --anchor-hash.
    #[arg(long, requires = "anchor_hash")]
    anchor_sequence: Option<u64>,
    /// Hash of the entry at --anchor-sequence, as printed by an earlier verify.
    #[arg(long, requires = "anchor_sequence")]
    anchor_hash: Option<String>,
}

pub async fn run(command: AuditCommand, ctx: &Context) -> Result<(), CliError> {
    match command {
        AuditCommand::Verify(a) => verify(a, ctx).await,
    }
}

async fn verify(a: VerifyArgs, ctx: &Context) -> Result<(), CliError> {
    let mut client = ctx.registry()?;
    let response = client
        .verify_audit_log(pb::VerifyAuditLogRequest {
            anchor_sequence: a.anchor_sequence.unwrap_or_default(),
            anchor_hash: a.anchor_hash.unwrap_or_default(),
        })
        .await?
        .into_inner();
    let verification = response.verification.unwrap_or_default();
    let view = AuditView::from(&verification);
    output::show(ctx.output, &view)?;
    if view.intact {
        if ctx.output == output::OutputFormat::Table {
            output::note(
                "record the head sequence and hash elsewhere; pass them as --anchor-sequence/--anchor-hash later to detect truncation",
            );
        }
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "the audit log is broken at entry {}: {}",
            view.first_bad_sequence, view.problem
        )))
    }
}
