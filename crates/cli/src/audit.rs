//! `homewardctl audit`, `homewardctl exchange audit` and `homewardctl notification audit`: checks
//! of a service's hash-chained audit log. Every service answers the same question in the same
//! shape, so one verb serves them all.
//!
//! A broken chain is a failed command (exit 1) after the result is printed, so a cron job or CI
//! step notices it.

use clap::{Args, Subcommand};
use homeward_proto::{
    exchange::v1 as exchange_pb, notification::v1 as notification_pb, registry::v1 as registry_pb,
};

use crate::{
    Context,
    error::{CliError, Service},
    output,
    view::AuditView,
};

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

/// Runs `command` against the audit log of `service`.
pub async fn run(command: AuditCommand, ctx: &Context, service: Service) -> Result<(), CliError> {
    match command {
        AuditCommand::Verify(a) => verify(a, ctx, service).await,
    }
}

async fn verify(a: VerifyArgs, ctx: &Context, service: Service) -> Result<(), CliError> {
    let (anchor_sequence, anchor_hash) = (
        a.anchor_sequence.unwrap_or_default(),
        a.anchor_hash.unwrap_or_default(),
    );
    let verification = match service {
        Service::Registry => {
            ctx.registry()?
                .verify_audit_log(registry_pb::VerifyAuditLogRequest {
                    anchor_sequence,
                    anchor_hash,
                })
                .await?
                .into_inner()
                .verification
        }
        Service::Exchange => {
            ctx.exchange()?
                .verify_audit_log(exchange_pb::VerifyAuditLogRequest {
                    anchor_sequence,
                    anchor_hash,
                })
                .await?
                .into_inner()
                .verification
        }
        Service::Notification => {
            ctx.notification()?
                .verify_audit_log(notification_pb::VerifyAuditLogRequest {
                    anchor_sequence,
                    anchor_hash,
                })
                .await?
                .into_inner()
                .verification
        }
    }
    .unwrap_or_default();
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
            "the {}'s audit log is broken at entry {}: {}",
            service.name(),
            view.first_bad_sequence,
            view.problem
        )))
    }
}
