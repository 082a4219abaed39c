//! `homewardctl exchange phase`: the phases of an agreement and the steps between their states:
//! draft -> negotiating -> lists frozen -> in handover -> completed or partially completed, and
//! cancelled from any state before completion.
//!
//! Every step sends the phase's etag: the one given with --etag, or the phase as it is read just
//! before. The service decides whether the step is allowed; this module never guesses.

use clap::{Args, Subcommand};
use homeward_proto::exchange::v1 as pb;

use super::{all_pages, phase_etag, text};
use crate::{
    Context, RequestId, args,
    args::PhaseStateArg,
    error::CliError,
    output::{self, OutputFormat},
    view::exchange::{FrozenView, PhaseListView, PhaseView},
};

#[derive(Debug, Subcommand)]
pub enum PhaseCommand {
    /// Create a phase of an agreement, as a draft.
    Create(CreateArgs),
    /// Show one phase.
    Get(GetArgs),
    /// List phases, by agreement and phase number.
    List(ListArgs),
    /// Draft -> negotiating: the terms are set and lists may be submitted.
    Start(StepArgs),
    /// Negotiating -> lists frozen: fix the list versions of a reviewed reconciliation and
    /// reserve the persons in the registry.
    Freeze(FreezeArgs),
    /// Lists frozen -> negotiating: release the reservations so the lists can change again.
    Unfreeze(ReasonArgs),
    /// Lists frozen -> in handover.
    HandoverStart(StepArgs),
    /// In handover -> completed (or partially completed, with --allow-partial).
    Complete(CompleteArgs),
    /// Cancel the phase and release every reservation.
    Cancel(ReasonArgs),
}

pub async fn run(command: PhaseCommand, ctx: &Context) -> Result<(), CliError> {
    match command {
        PhaseCommand::Create(a) => create(a, ctx).await,
        PhaseCommand::Get(a) => get(a, ctx).await,
        PhaseCommand::List(a) => list(a, ctx).await,
        PhaseCommand::Start(a) => start(a, ctx).await,
        PhaseCommand::Freeze(a) => freeze(a, ctx).await,
        PhaseCommand::Unfreeze(a) => unfreeze(a, ctx).await,
        PhaseCommand::HandoverStart(a) => handover_start(a, ctx).await,
        PhaseCommand::Complete(a) => complete(a, ctx).await,
        PhaseCommand::Cancel(a) => cancel(a, ctx).await,
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The agreement the phase belongs to.
    #[arg(long)]
    agreement: String,
    /// A title, such as "first phase".
    #[arg(long)]
    title: Option<String>,
    /// When the handover is planned; ages in age bands are taken on this date.
    #[arg(long, value_name = "RFC3339", value_parser = args::timestamp)]
    planned: Option<prost_types::Timestamp>,
    /// Where the handover takes place, such as a border crossing.
    #[arg(long)]
    place: Option<String>,
    /// A quota line of this phase, in the form `agreement create --help` describes, such as
    /// category=service-member,count=270; repeatable.
    #[arg(long = "quota", value_name = "SPEC", required = true, value_parser = args::quota)]
    quotas: Vec<pb::Quota>,
    #[command(flatten)]
    request_id: RequestId,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The phase's id.
    #[arg(value_name = "PHASE")]
    id: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only phases of this agreement.
    #[arg(long)]
    agreement: Option<String>,
    /// Only phases in this state.
    #[arg(long, value_enum, ignore_case = true)]
    state: Option<PhaseStateArg>,
}

/// The phase a step is taken on, and how the step is sent.
#[derive(Debug, Args)]
pub struct StepArgs {
    /// The phase's id.
    #[arg(value_name = "PHASE")]
    phase_id: String,
    /// Refuse the step unless the phase still has this etag (from `phase get`) [default: the
    /// phase as it is read just before].
    #[arg(long)]
    etag: Option<String>,
    #[command(flatten)]
    request_id: RequestId,
}

#[derive(Debug, Args)]
pub struct FreezeArgs {
    #[command(flatten)]
    step: StepArgs,
    /// The reconciliation both parties agreed on; it must be current and fully reviewed.
    #[arg(long)]
    reconciliation: String,
    /// Freeze although the counts do not balance, because both parties accept it; kept on the
    /// phase and in the audit log.
    #[arg(long)]
    imbalance_reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReasonArgs {
    #[command(flatten)]
    step: StepArgs,
    /// Why (kept on the phase and in the audit log).
    #[arg(long)]
    reason: String,
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    #[command(flatten)]
    step: StepArgs,
    /// Complete although not every expected person was verified: the phase ends partially
    /// completed. Entries without a check are recorded as missing.
    #[arg(long)]
    allow_partial: bool,
    /// A note on the outcome, such as why people were missing.
    #[arg(long)]
    note: Option<String>,
}

/// What a step sends besides its own fields.
struct Prepared {
    client: crate::client::Exchange,
    phase_id: String,
    etag: String,
    request_id: String,
    retry_flags: String,
}

impl StepArgs {
    async fn prepare(self, ctx: &Context) -> Result<Prepared, CliError> {
        let mut client = ctx.exchange()?;
        let phase_id = self.phase_id.trim().to_string();
        let (etag, retry_flags) = phase_etag(&mut client, &phase_id, self.etag).await?;
        Ok(Prepared {
            client,
            phase_id,
            etag,
            request_id: self.request_id.get(),
            retry_flags,
        })
    }
}

impl Prepared {
    fn failed(&self, status: tonic::Status) -> CliError {
        CliError::from(status).with_retry(&self.request_id, &self.retry_flags)
    }
}

/// Shows a phase after a step and, at a terminal, what comes next.
fn show_phase(ctx: &Context, phase: Option<pb::Phase>, next: &str) -> Result<(), CliError> {
    let view = PhaseView::from(&phase.unwrap_or_default());
    output::show(ctx.output, &view)?;
    if ctx.output == OutputFormat::Table && !next.is_empty() {
        output::note(&next.replace("PHASE", &view.id));
    }
    Ok(())
}

impl CreateArgs {
    fn into_request(self, request_id: String) -> pb::CreatePhaseRequest {
        pb::CreatePhaseRequest {
            request_id,
            phase: Some(pb::Phase {
                agreement_id: self.agreement.trim().to_string(),
                title: text(self.title),
                planned_time: self.planned,
                place: text(self.place),
                quotas: self.quotas,
                ..Default::default()
            }),
        }
    }
}

async fn create(a: CreateArgs, ctx: &Context) -> Result<(), CliError> {
    let request_id = a.request_id.get();
    let request = a.into_request(request_id.clone());
    let response = ctx
        .exchange()?
        .create_phase(request)
        .await
        .map_err(|s| CliError::from(s).with_request_id(&request_id))?
        .into_inner();
    show_phase(
        ctx,
        response.phase,
        "when the terms are set, open the negotiation with `homewardctl exchange phase start PHASE`",
    )
}

async fn get(a: GetArgs, ctx: &Context) -> Result<(), CliError> {
    let response = ctx
        .exchange()?
        .get_phase(pb::GetPhaseRequest {
            id: a.id.trim().to_string(),
        })
        .await?
        .into_inner();
    show_phase(ctx, response.phase, "")
}

async fn list(a: ListArgs, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.exchange()?;
    let agreement_id = text(a.agreement);
    let state = a.state.map(pb::PhaseState::from).unwrap_or_default() as i32;
    let phases = all_pages(|page_token| {
        let mut client = client.clone();
        let request = pb::ListPhasesRequest {
            page_size: 0,
            page_token,
            agreement_id: agreement_id.clone(),
            state,
        };
        async move {
            let page = client.list_phases(request).await?.into_inner();
            Ok((page.phases, page.next_page_token))
        }
    })
    .await?;
    output::show(
        ctx.output,
        &PhaseListView {
            phases: phases.iter().map(PhaseView::from).collect(),
        },
    )
}

async fn start(a: StepArgs, ctx: &Context) -> Result<(), CliError> {
    let mut p = a.prepare(ctx).await?;
    let request = pb::StartNegotiationRequest {
        request_id: p.request_id.clone(),
        phase_id: p.phase_id.clone(),
        etag: p.etag.clone(),
    };
    let response = match p.client.start_negotiation(request).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(p.failed(s)),
    };
    show_phase(
        ctx,
        response.phase,
        "submit each party's lists with `homewardctl exchange list submit PHASE --party P --kind request|offer --file LIST.csv`",
    )
}

async fn freeze(a: FreezeArgs, ctx: &Context) -> Result<(), CliError> {
    let mut p = a.step.prepare(ctx).await?;
    let request = pb::FreezeListsRequest {
        request_id: p.request_id.clone(),
        phase_id: p.phase_id.clone(),
        etag: p.etag.clone(),
        reconciliation_id: a.reconciliation.trim().to_string(),
        imbalance_reason: text(a.imbalance_reason),
    };
    let response = match p.client.freeze_lists(request).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(p.failed(s)),
    };
    let view = FrozenView {
        phase: PhaseView::from(&response.phase.unwrap_or_default()),
        reserved_person_ids: response.reserved_person_ids,
    };
    output::show(ctx.output, &view)?;
    if ctx.output == OutputFormat::Table {
        output::note(&format!(
            "record consent and hold-backs (`homewardctl exchange consent`, `homewardctl exchange hold-back`), \
             then start the handover with `homewardctl exchange phase handover-start {}`",
            view.phase.id
        ));
    }
    Ok(())
}

async fn unfreeze(a: ReasonArgs, ctx: &Context) -> Result<(), CliError> {
    let mut p = a.step.prepare(ctx).await?;
    let request = pb::UnfreezeListsRequest {
        request_id: p.request_id.clone(),
        phase_id: p.phase_id.clone(),
        etag: p.etag.clone(),
        reason: a.reason.trim().to_string(),
    };
    let response = match p.client.unfreeze_lists(request).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(p.failed(s)),
    };
    show_phase(
        ctx,
        response.phase,
        "the reservations are released; submit new list versions and reconcile again",
    )
}

async fn handover_start(a: StepArgs, ctx: &Context) -> Result<(), CliError> {
    let mut p = a.prepare(ctx).await?;
    let request = pb::StartHandoverRequest {
        request_id: p.request_id.clone(),
        phase_id: p.phase_id.clone(),
        etag: p.etag.clone(),
    };
    let response = match p.client.start_handover(request).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(p.failed(s)),
    };
    show_phase(
        ctx,
        response.phase,
        "record each person's check with `homewardctl exchange check PHASE --handing-party P --reference REF --result verified`",
    )
}

async fn complete(a: CompleteArgs, ctx: &Context) -> Result<(), CliError> {
    let mut p = a.step.prepare(ctx).await?;
    let request = pb::CompletePhaseRequest {
        request_id: p.request_id.clone(),
        phase_id: p.phase_id.clone(),
        etag: p.etag.clone(),
        allow_partial: a.allow_partial,
        note: text(a.note),
    };
    let response = match p.client.complete_phase(request).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(p.failed(s)),
    };
    show_phase(
        ctx,
        response.phase,
        "the report: `homewardctl exchange report PHASE`; the manifest: `homewardctl exchange manifest PHASE --out FILE.csv`",
    )
}

async fn cancel(a: ReasonArgs, ctx: &Context) -> Result<(), CliError> {
    let mut p = a.step.prepare(ctx).await?;
    let request = pb::CancelPhaseRequest {
        request_id: p.request_id.clone(),
        phase_id: p.phase_id.clone(),
        etag: p.etag.clone(),
        reason: a.reason.trim().to_string(),
    };
    let response = match p.client.cancel_phase(request).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(p.failed(s)),
    };
    show_phase(ctx, response.phase, "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{ExchangeCommand, tests::parse};

    #[test]
    fn create_takes_the_planned_time_and_every_quota_line() {
        let ExchangeCommand::Phase(PhaseCommand::Create(a)) = parse(&[
            "phase",
            "create",
            "--agreement",
            "a1",
            "--planned",
            "2025-05-23T10:00:00Z",
            "--place",
            "Ukrainian-Belarusian border",
            "--quota",
            "category=service-member,count=270",
            "--quota",
            "category=civilian,count=120",
        ])
        .unwrap() else {
            panic!("not phase create");
        };
        let r = a.into_request("r-1".into());
        let phase = r.phase.unwrap();
        assert_eq!(phase.agreement_id, "a1");
        assert_eq!(phase.planned_time.unwrap().seconds, 1_747_994_400);
        assert_eq!(phase.quotas.len(), 2);
        assert!(parse(&["phase", "create", "--agreement", "a1"]).is_err());
        assert!(
            parse(&[
                "phase",
                "create",
                "--agreement",
                "a1",
                "--planned",
                "23 May",
                "--quota",
                "count=1"
            ])
            .is_err()
        );
    }
}
