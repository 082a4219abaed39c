//! `homewardctl exchange consent|consents`: the outcome of an interview about a person's wish to
//! return. Nobody is repatriated against their will (GC III art. 109(3)): a refusal takes the
//! person out of the handover. A later interview of the same person supersedes the earlier
//! record, which stays on record.

use clap::{ArgGroup, Args};
use homeward_proto::exchange::v1 as pb;

use super::{all_pages, text};
use crate::{
    Context, RequestId, args,
    args::{ConsentArg, ListKindArg},
    error::CliError,
    output,
    view::exchange::{ConsentListView, ConsentView},
};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("decision").required(true).args(["willing", "refuses"])))]
pub struct ConsentArgs {
    /// The phase's id.
    #[arg(value_name = "PHASE")]
    phase_id: String,
    /// The party whose list holds the person's entry, normally the party holding them.
    #[arg(long)]
    party: String,
    /// The list the entry is on.
    #[arg(long, value_enum, ignore_case = true, default_value = "offer")]
    kind: ListKindArg,
    /// The entry's reference on that list.
    #[arg(long)]
    reference: String,
    /// The person wishes to return.
    #[arg(long)]
    willing: bool,
    /// The person refuses to return; they are taken out of the handover.
    #[arg(long)]
    refuses: bool,
    /// Who interviewed the person, with their role; preferably a neutral delegate.
    #[arg(long)]
    interviewer: String,
    /// The interviewer's organisation, such as ICRC.
    #[arg(long)]
    organisation: Option<String>,
    /// When the interview took place, RFC 3339.
    #[arg(long, value_name = "RFC3339", value_parser = args::timestamp)]
    time: Option<prost_types::Timestamp>,
    /// Where the interview took place.
    #[arg(long)]
    place: Option<String>,
    /// The language of the interview, as a BCP 47 tag such as uk or ru.
    #[arg(long)]
    language: Option<String>,
    /// Interviewed without representatives of the detaining power present.
    #[arg(long)]
    private: bool,
    /// An interpreter was present.
    #[arg(long)]
    interpreter: bool,
    /// A note kept with the record.
    #[arg(long)]
    note: Option<String>,
    #[command(flatten)]
    request_id: RequestId,
}

#[derive(Debug, Args)]
pub struct ConsentsArgs {
    /// The phase's id.
    #[arg(value_name = "PHASE")]
    phase_id: String,
    /// Only records with this decision.
    #[arg(long, value_enum, ignore_case = true)]
    decision: Option<ConsentArg>,
    /// Include records a later interview superseded.
    #[arg(long)]
    include_superseded: bool,
}

impl ConsentArgs {
    fn into_request(self, request_id: String) -> pb::RecordConsentRequest {
        let decision = if self.willing {
            pb::ConsentDecision::Willing
        } else {
            pb::ConsentDecision::Refuses
        };
        pb::RecordConsentRequest {
            request_id,
            consent: Some(pb::ConsentRecord {
                phase_id: self.phase_id.trim().to_string(),
                entry: Some(pb::ListEntryKey {
                    party: self.party.trim().to_string(),
                    kind: pb::ListKind::from(self.kind) as i32,
                    reference: self.reference.trim().to_string(),
                }),
                decision: decision as i32,
                interviewed_by: self.interviewer.trim().to_string(),
                interviewer_organisation: text(self.organisation),
                interview_time: self.time,
                interview_place: text(self.place),
                language: text(self.language),
                interpreter_present: self.interpreter,
                interviewed_in_private: self.private,
                note: text(self.note),
                ..Default::default()
            }),
        }
    }
}

pub async fn consent(a: ConsentArgs, ctx: &Context) -> Result<(), CliError> {
    let request_id = a.request_id.get();
    let request = a.into_request(request_id.clone());
    let response = ctx
        .exchange()?
        .record_consent(request)
        .await
        .map_err(|s| CliError::from(s).with_request_id(&request_id))?
        .into_inner();
    output::show(
        ctx.output,
        &ConsentView::from(&response.consent.unwrap_or_default()),
    )
}

pub async fn consents(a: ConsentsArgs, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.exchange()?;
    let phase_id = a.phase_id.trim().to_string();
    let decision = a
        .decision
        .map(pb::ConsentDecision::from)
        .unwrap_or_default() as i32;
    let records = all_pages(|page_token| {
        let mut client = client.clone();
        let request = pb::ListConsentRecordsRequest {
            page_size: 0,
            page_token,
            phase_id: phase_id.clone(),
            decision,
            include_superseded: a.include_superseded,
        };
        async move {
            let page = client.list_consent_records(request).await?.into_inner();
            Ok((page.consents, page.next_page_token))
        }
    })
    .await?;
    output::show(
        ctx.output,
        &ConsentListView {
            consents: records.iter().map(ConsentView::from).collect(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{ExchangeCommand, tests::parse};

    #[test]
    fn a_refusal_is_recorded_against_the_offer_entry_with_the_interview_conditions() {
        let ExchangeCommand::Consent(a) = parse(&[
            "consent",
            "ph1",
            "--party",
            "RU",
            "--reference",
            "RU-0017",
            "--refuses",
            "--interviewer",
            "delegate A. Smith",
            "--organisation",
            "ICRC",
            "--language",
            "uk",
            "--private",
            "--time",
            "2025-05-20T09:00:00Z",
        ])
        .unwrap() else {
            panic!("not consent");
        };
        let consent = a.into_request("r-1".into()).consent.unwrap();
        assert_eq!(consent.decision, pb::ConsentDecision::Refuses as i32);
        let entry = consent.entry.unwrap();
        assert_eq!(entry.kind, pb::ListKind::Offer as i32);
        assert_eq!(entry.reference, "RU-0017");
        assert!(consent.interviewed_in_private && !consent.interpreter_present);
        assert_eq!(consent.interviewer_organisation, "ICRC");
        assert!(consent.interview_time.is_some());
        let base = [
            "consent",
            "ph1",
            "--party",
            "RU",
            "--reference",
            "R",
            "--interviewer",
            "X",
        ];
        assert!(parse(&base).is_err(), "a decision is required");
        let mut both = base.to_vec();
        both.extend(["--willing", "--refuses"]);
        assert!(parse(&both).is_err());
    }
}
