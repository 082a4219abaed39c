//! `homewardctl exchange reconcile|reconciliation|review|counts`: matching the latest request and
//! offer lists of a phase against each other and the registry, the officers' decisions on what
//! matching could not settle, and the counts that follow against the quotas.
//!
//! Matching proposes; only an officer decides that two entries are the same human. Nothing here
//! confirms a pair on its own.

use clap::{ArgGroup, Args, Subcommand};
use homeward_proto::exchange::v1 as pb;

use super::{PhaseArg, all_pages, text};
use crate::{
    Context, RequestId, args,
    args::OutcomeArg,
    error::CliError,
    output::{self, OutputFormat},
    view::exchange::{
        CountCheckView, CountsView, ReconciliationItemView, ReconciliationItemsView,
        ReconciliationView, ReviewedView,
    },
};

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The phase's id.
    #[arg(value_name = "PHASE")]
    phase_id: String,
    /// Leave matches below this confidence unpaired, above 0 and at most 1 [default: the
    /// service's].
    #[arg(long, value_parser = args::confidence)]
    min_confidence: Option<f64>,
    #[command(flatten)]
    request_id: RequestId,
}

#[derive(Debug, Subcommand)]
pub enum ReconciliationCommand {
    /// Show a reconciliation's summary and its items.
    Show(ShowArgs),
}

pub async fn run(command: ReconciliationCommand, ctx: &Context) -> Result<(), CliError> {
    match command {
        ReconciliationCommand::Show(a) => show(a, ctx).await,
    }
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The reconciliation's id, as printed by `exchange reconcile`.
    #[arg(value_name = "RECONCILIATION")]
    id: String,
    /// Only items with this outcome (substitution and review are short for the two that must be
    /// reviewed).
    #[arg(long, value_enum, ignore_case = true)]
    outcome: Option<OutcomeArg>,
    /// Only items that must be reviewed and are not yet.
    #[arg(long)]
    open: bool,
}

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("decision")
        .required(true)
        .args(["confirm", "reject", "pair_with", "accept_unmatched"])
))]
pub struct ReviewArgs {
    /// The reconciliation's id.
    #[arg(value_name = "RECONCILIATION")]
    reconciliation_id: String,
    /// The item's id, as `exchange reconciliation show` prints it.
    #[arg(value_name = "ITEM")]
    item_id: String,
    /// The proposed pair is the same person.
    #[arg(long)]
    confirm: bool,
    /// The proposed pair is not the same person; both entries become unmatched.
    #[arg(long)]
    reject: bool,
    /// Pair this item's entry with this reference on the opposite list instead.
    #[arg(long, value_name = "REFERENCE")]
    pair_with: Option<String>,
    /// Leave the unmatched entry unmatched, knowingly (say why in --note).
    #[arg(long)]
    accept_unmatched: bool,
    /// The registry person the pair is, when it differs from the proposal or there was none.
    #[arg(long, value_name = "PERSON_ID")]
    person: Option<String>,
    /// Why, kept with the decision.
    #[arg(long)]
    note: Option<String>,
    #[command(flatten)]
    request_id: RequestId,
}

impl ReviewArgs {
    fn into_request(self, request_id: String) -> pb::ReviewReconciliationItemRequest {
        let decision = if self.confirm {
            pb::ReviewDecision::ConfirmPair
        } else if self.reject {
            pb::ReviewDecision::RejectPair
        } else if self.pair_with.is_some() {
            pb::ReviewDecision::PairWith
        } else {
            pb::ReviewDecision::AcceptUnmatched
        };
        pb::ReviewReconciliationItemRequest {
            request_id,
            reconciliation_id: self.reconciliation_id.trim().to_string(),
            item_id: self.item_id.trim().to_string(),
            decision: decision as i32,
            counterpart_reference: text(self.pair_with),
            person_id: text(self.person),
            note: text(self.note),
        }
    }
}

pub async fn reconcile(a: ReconcileArgs, ctx: &Context) -> Result<(), CliError> {
    let request_id = a.request_id.get();
    let response = ctx
        .exchange()?
        .reconcile_phase(pb::ReconcilePhaseRequest {
            request_id: request_id.clone(),
            phase_id: a.phase_id.trim().to_string(),
            min_confidence: a.min_confidence.unwrap_or_default(),
        })
        .await
        .map_err(|s| CliError::from(s).with_request_id(&request_id))?
        .into_inner();
    let view = ReconciliationView::from(&response.reconciliation.unwrap_or_default());
    output::show(ctx.output, &view)?;
    if ctx.output == OutputFormat::Table {
        output::note(&if view.summary.open_reviews > 0 {
            format!(
                "review the open items: `homewardctl exchange reconciliation show {} --open`, \
                 then `homewardctl exchange review {} ITEM --confirm|--reject|--pair-with REF|--accept-unmatched`",
                view.id, view.id
            )
        } else {
            format!(
                "nothing left to review; check the counts with `homewardctl exchange counts {}`",
                view.phase_id
            )
        });
    }
    Ok(())
}

async fn show(a: ShowArgs, ctx: &Context) -> Result<(), CliError> {
    let mut client = ctx.exchange()?;
    let id = a.id.trim().to_string();
    let reconciliation = client
        .get_reconciliation(pb::GetReconciliationRequest { id: id.clone() })
        .await?
        .into_inner()
        .reconciliation
        .unwrap_or_default();
    let outcome = a
        .outcome
        .map(pb::ReconciliationOutcome::from)
        .unwrap_or_default() as i32;
    let items = all_pages(|page_token| {
        let mut client = client.clone();
        let request = pb::ListReconciliationItemsRequest {
            page_size: 0,
            page_token,
            reconciliation_id: id.clone(),
            outcome,
            open_reviews_only: a.open,
        };
        async move {
            let page = client
                .list_reconciliation_items(request)
                .await?
                .into_inner();
            Ok((page.items, page.next_page_token))
        }
    })
    .await?;
    output::show(
        ctx.output,
        &ReconciliationItemsView {
            reconciliation: ReconciliationView::from(&reconciliation),
            items: items.iter().map(ReconciliationItemView::from).collect(),
        },
    )
}

pub async fn review(a: ReviewArgs, ctx: &Context) -> Result<(), CliError> {
    let request_id = a.request_id.get();
    let request = a.into_request(request_id.clone());
    let response = ctx
        .exchange()?
        .review_reconciliation_item(request)
        .await
        .map_err(|s| CliError::from(s).with_request_id(&request_id))?
        .into_inner();
    output::show(
        ctx.output,
        &ReviewedView {
            items: response
                .items
                .iter()
                .map(ReconciliationItemView::from)
                .collect(),
            reconciliation: ReconciliationView::from(&response.reconciliation.unwrap_or_default()),
        },
    )
}

pub async fn counts(a: PhaseArg, ctx: &Context) -> Result<(), CliError> {
    let response = ctx
        .exchange()?
        .check_phase_counts(pb::CheckPhaseCountsRequest {
            phase_id: a.phase_id.trim().to_string(),
        })
        .await?
        .into_inner();
    output::show(
        ctx.output,
        &CountsView {
            reconciliation_id: response.reconciliation_id,
            counts: CountCheckView::from(&response.counts.unwrap_or_default()),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{ExchangeCommand, tests::parse};

    fn review_request(args: &[&str]) -> pb::ReviewReconciliationItemRequest {
        let mut argv = vec!["review", "r1", "i1"];
        argv.extend_from_slice(args);
        let ExchangeCommand::Review(a) = parse(&argv).unwrap() else {
            panic!("not review");
        };
        a.into_request("r-1".into())
    }

    #[test]
    fn each_review_flag_sends_its_decision() {
        let r = review_request(&["--confirm"]);
        assert_eq!(r.decision, pb::ReviewDecision::ConfirmPair as i32);
        assert_eq!(
            (r.reconciliation_id.as_str(), r.item_id.as_str()),
            ("r1", "i1")
        );
        let r = review_request(&["--reject", "--note", "different unit"]);
        assert_eq!(r.decision, pb::ReviewDecision::RejectPair as i32);
        assert_eq!(r.note, "different unit");
        let r = review_request(&["--pair-with", " RU-0018 ", "--person", "p7"]);
        assert_eq!(r.decision, pb::ReviewDecision::PairWith as i32);
        assert_eq!(r.counterpart_reference, "RU-0018");
        assert_eq!(r.person_id, "p7");
        let r = review_request(&["--accept-unmatched"]);
        assert_eq!(r.decision, pb::ReviewDecision::AcceptUnmatched as i32);
        assert!(parse(&["review", "r1", "i1", "--reject", "--accept-unmatched"]).is_err());
    }

    #[test]
    fn outcome_filters_take_the_short_and_the_full_words() {
        for (word, outcome) in [
            ("substitution", OutcomeArg::SuspectedSubstitution),
            ("suspected-substitution", OutcomeArg::SuspectedSubstitution),
            ("review", OutcomeArg::NeedsReview),
            ("unmatched-request", OutcomeArg::UnmatchedRequest),
            ("unmatched-offer", OutcomeArg::UnmatchedOffer),
            ("paired", OutcomeArg::Paired),
        ] {
            let ExchangeCommand::Reconciliation(ReconciliationCommand::Show(a)) =
                parse(&["reconciliation", "show", "r1", "--outcome", word]).unwrap()
            else {
                panic!("not reconciliation show");
            };
            assert_eq!(a.outcome, Some(outcome), "{word}");
        }
    }
}
