//! `homewardctl exchange`: running the phases of an exchange agreement with the exchange
//! service: their lists and versions, reconciliation and review, counts against the quotas,
//! consent, hold-backs, the checks at the handover, the report and manifest, the event stream and
//! the audit log. `homewardctl agreement` lives here too, as phases belong to agreements.
//!
//! Like `person`, each verb builds one request from its flags and shows the answer; whether a
//! step is allowed (state, counts, open reviews) is the exchange service's decision, never this
//! client's. Mutations send a fresh request id; state changes send the phase's etag, read just
//! before unless given.

pub mod agreement;
mod consent;
mod events;
mod handover;
mod hold_back;
mod list;
mod list_file;
mod phase;
mod reconcile;
mod report;

use clap::{Args, Subcommand};

use crate::{
    Context,
    audit::{self, AuditCommand},
    client::{Exchange, all_pages},
    error::{CliError, Service, shell_word},
};

#[derive(Debug, Subcommand)]
pub enum ExchangeCommand {
    /// Phases of an agreement: create, look up, list, and move them through negotiation,
    /// freezing, the handover and completion.
    #[command(subcommand)]
    Phase(phase::PhaseCommand),
    /// Each party's request and offer lists: submit a version from CSV, show one, list the
    /// versions, compare two.
    #[command(subcommand)]
    List(list::ListCommand),
    /// Match the latest request and offer lists of a phase against each other and the registry.
    Reconcile(reconcile::ReconcileArgs),
    /// Reconciliations and their items.
    #[command(subcommand)]
    Reconciliation(reconcile::ReconciliationCommand),
    /// Decide one reconciliation item: confirm or reject the pair, pair it by hand, or leave it
    /// unmatched knowingly.
    Review(reconcile::ReviewArgs),
    /// Count the people each party would hand over now against the phase's quotas.
    Counts(PhaseArg),
    /// Record the outcome of an interview about a person's wish to return.
    Consent(consent::ConsentArgs),
    /// List a phase's consent records.
    Consents(consent::ConsentsArgs),
    /// Record that a party keeps back a person on its offer list.
    HoldBack(hold_back::HoldBackArgs),
    /// Record that the other side was told of a hold-back, or lift it.
    HoldBackUpdate(hold_back::UpdateArgs),
    /// List a phase's hold-backs.
    HoldBacks(hold_back::HoldBacksArgs),
    /// Record the check of one person at the handover.
    Check(handover::CheckArgs),
    /// List a phase's handover checks.
    Checks(handover::ChecksArgs),
    /// A phase's report: planned against handed over, per party, with every exception.
    Report(PhaseArg),
    /// Export a phase's manifest as CSV: one row per entry of the frozen offer lists, with its
    /// outcome.
    Manifest(report::ManifestArgs),
    /// Show the exchange service's events after a cursor, or follow them as they happen.
    Events(events::EventsArgs),
    /// The exchange service's audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

pub async fn run(command: ExchangeCommand, ctx: &Context) -> Result<(), CliError> {
    match command {
        ExchangeCommand::Phase(c) => phase::run(c, ctx).await,
        ExchangeCommand::List(c) => list::run(c, ctx).await,
        ExchangeCommand::Reconcile(a) => reconcile::reconcile(a, ctx).await,
        ExchangeCommand::Reconciliation(c) => reconcile::run(c, ctx).await,
        ExchangeCommand::Review(a) => reconcile::review(a, ctx).await,
        ExchangeCommand::Counts(a) => reconcile::counts(a, ctx).await,
        ExchangeCommand::Consent(a) => consent::consent(a, ctx).await,
        ExchangeCommand::Consents(a) => consent::consents(a, ctx).await,
        ExchangeCommand::HoldBack(a) => hold_back::hold_back(a, ctx).await,
        ExchangeCommand::HoldBackUpdate(a) => hold_back::update(a, ctx).await,
        ExchangeCommand::HoldBacks(a) => hold_back::hold_backs(a, ctx).await,
        ExchangeCommand::Check(a) => handover::check(a, ctx).await,
        ExchangeCommand::Checks(a) => handover::checks(a, ctx).await,
        ExchangeCommand::Report(a) => report::report(a, ctx).await,
        ExchangeCommand::Manifest(a) => report::manifest(a, ctx).await,
        ExchangeCommand::Events(a) => events::events(a, ctx).await,
        ExchangeCommand::Audit(c) => audit::run(c, ctx, Service::Exchange).await,
    }
}

/// A command about one phase.
#[derive(Debug, Args)]
pub struct PhaseArg {
    /// The phase's id, as printed by `exchange phase create` or `exchange phase list`.
    #[arg(value_name = "PHASE")]
    phase_id: String,
}

fn text(value: Option<String>) -> String {
    value.map(|v| v.trim().to_string()).unwrap_or_default()
}

/// The time now, for a time a flag leaves out.
fn now() -> prost_types::Timestamp {
    let now = time::OffsetDateTime::now_utc();
    prost_types::Timestamp {
        seconds: now.unix_timestamp(),
        nanos: now.nanosecond() as i32,
    }
}

/// The etag a change of a phase is made on: the one given, or the phase as it is now. A retry
/// must send the same etag to be the same request, so a read etag also comes back as the flag
/// the retry hint repeats.
async fn phase_etag(
    client: &mut Exchange,
    phase_id: &str,
    given: Option<String>,
) -> Result<(String, String), CliError> {
    let given = text(given);
    if !given.is_empty() {
        return Ok((given, String::new()));
    }
    let phase = client
        .get_phase(homeward_proto::exchange::v1::GetPhaseRequest {
            id: phase_id.to_string(),
        })
        .await?
        .into_inner()
        .phase
        .unwrap_or_default();
    let flags = format!("--etag {}", shell_word(&phase.etag));
    Ok((phase.etag, flags))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Harness {
        #[command(subcommand)]
        command: ExchangeCommand,
    }

    pub(super) fn parse(args: &[&str]) -> Result<ExchangeCommand, clap::Error> {
        let mut argv = vec!["exchange"];
        argv.extend_from_slice(args);
        Harness::try_parse_from(argv).map(|h| h.command)
    }

    #[test]
    fn every_exchange_verb_parses_with_its_required_flags() {
        for argv in [
            &["phase", "start", "ph1"][..],
            &["phase", "freeze", "ph1", "--reconciliation", "r1"],
            &["phase", "unfreeze", "ph1", "--reason", "a name was wrong"],
            &["phase", "handover-start", "ph1", "--etag", "e"],
            &[
                "phase",
                "complete",
                "ph1",
                "--allow-partial",
                "--note",
                "2 missing",
            ],
            &["phase", "cancel", "ph1", "--reason", "talks broke down"],
            &["reconcile", "ph1", "--min-confidence", "0.7"],
            &[
                "reconciliation",
                "show",
                "r1",
                "--outcome",
                "substitution",
                "--open",
            ],
            &[
                "review",
                "r1",
                "i1",
                "--pair-with",
                "RU-7",
                "--note",
                "same unit",
            ],
            &["counts", "ph1"],
            &["report", "ph1"],
            &["manifest", "ph1", "--out", "m.csv"],
            &["events", "--after", "c1", "--follow"],
            &["audit", "verify"],
        ] {
            assert!(parse(argv).is_ok(), "{argv:?}: {:?}", parse(argv).err());
        }
        for argv in [
            &["phase", "freeze", "ph1"][..],
            &["phase", "unfreeze", "ph1"],
            &["phase", "cancel", "ph1"],
            &["review", "r1", "i1"],
            &["review", "r1", "i1", "--confirm", "--reject"],
            &["reconciliation", "show", "r1", "--outcome", "maybe"],
            &["reconcile", "ph1", "--min-confidence", "0"],
        ] {
            assert!(parse(argv).is_err(), "{argv:?}");
        }
    }
}
