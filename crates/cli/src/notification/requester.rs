//! `homewardctl inquiry verify|consent|withdraw-consent`: who is asking and what they agreed to.
//! Until the requester is verified the family is told nothing about the person beyond an
//! acknowledgement; a purpose the requester has not consented to, or withdrew, is not served.

use clap::{ArgGroup, Args};
use homeward_proto::notification::v1 as pb;

use super::{InquiryStep, now, text};
use crate::{
    Context, args,
    args::{ConsentMethodArg, ConsentPurposeArg, VerificationMethodArg},
    error::CliError,
    output::{self, OutputFormat},
    view::notification::InquiryView,
};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("decision").required(true).args(["verified", "rejected"])))]
pub struct VerifyArgs {
    #[command(flatten)]
    step: InquiryStep,
    /// The requester is who they say and related as they say.
    #[arg(long)]
    verified: bool,
    /// The requester is not who they say, or not related as they say.
    #[arg(long)]
    rejected: bool,
    /// How you checked.
    #[arg(long, value_enum, ignore_case = true)]
    method: VerificationMethodArg,
    /// What was checked, or why the requester was rejected.
    #[arg(long)]
    note: Option<String>,
}

#[derive(Debug, Args)]
pub struct ConsentArgs {
    #[command(flatten)]
    step: InquiryStep,
    /// What the requester consented to.
    #[arg(long, value_enum, ignore_case = true)]
    purpose: ConsentPurposeArg,
    /// How they consented.
    #[arg(long, value_enum, ignore_case = true)]
    method: ConsentMethodArg,
    /// When they consented, RFC 3339 [default: now].
    #[arg(long, value_name = "RFC3339", value_parser = args::timestamp)]
    time: Option<prost_types::Timestamp>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["purpose", "all"])))]
pub struct WithdrawArgs {
    #[command(flatten)]
    step: InquiryStep,
    /// The purpose withdrawn; withdrawing tracing closes the inquiry.
    #[arg(long, value_enum, ignore_case = true)]
    purpose: Option<ConsentPurposeArg>,
    /// Withdraw every purpose; the inquiry is closed.
    #[arg(long)]
    all: bool,
    /// When the requester withdrew it, if earlier than now (RFC 3339).
    #[arg(long, value_name = "RFC3339", value_parser = args::timestamp)]
    time: Option<prost_types::Timestamp>,
    /// How the requester said so, or why.
    #[arg(long)]
    note: Option<String>,
}

impl VerifyArgs {
    fn state(&self) -> pb::VerificationState {
        if self.verified {
            pb::VerificationState::Verified
        } else {
            pb::VerificationState::Rejected
        }
    }
}

pub async fn verify(a: VerifyArgs, ctx: &Context) -> Result<(), CliError> {
    let state = a.state();
    let mut p = a.step.prepare(ctx).await?;
    let request = pb::VerifyRequesterRequest {
        request_id: p.request_id.clone(),
        inquiry_id: p.id.clone(),
        etag: p.etag.clone(),
        state: state as i32,
        method: pb::VerificationMethod::from(a.method) as i32,
        note: text(a.note),
    };
    let response = match p.client.verify_requester(request).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(p.failed(s)),
    };
    output::show(
        ctx.output,
        &InquiryView::masked(&response.inquiry.unwrap_or_default()),
    )?;
    if ctx.output == OutputFormat::Table && state == pb::VerificationState::Rejected {
        output::note(&format!(
            "if the requester was not who they said, close the inquiry: \
             `homewardctl inquiry close {} --reason fraudulent --note TEXT`",
            p.id
        ));
    }
    Ok(())
}

pub async fn consent(a: ConsentArgs, ctx: &Context) -> Result<(), CliError> {
    let mut p = a.step.prepare(ctx).await?;
    let grant_time = match a.time {
        Some(t) => t,
        None => {
            // A retry must send the same time to be the same request.
            let t = now();
            p.repeat_on_retry("--time", &args::timestamp_text(&t));
            t
        }
    };
    let request = pb::RecordConsentRequest {
        request_id: p.request_id.clone(),
        inquiry_id: p.id.clone(),
        etag: p.etag.clone(),
        consent: Some(pb::Consent {
            purpose: pb::ConsentPurpose::from(a.purpose) as i32,
            method: pb::ConsentMethod::from(a.method) as i32,
            grant_time: Some(grant_time),
            ..Default::default()
        }),
    };
    let response = match p.client.record_consent(request).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(p.failed(s)),
    };
    output::show(
        ctx.output,
        &InquiryView::masked(&response.inquiry.unwrap_or_default()),
    )
}

impl WithdrawArgs {
    /// The purpose withdrawn; unspecified withdraws them all.
    fn purpose(&self) -> pb::ConsentPurpose {
        self.purpose
            .map(pb::ConsentPurpose::from)
            .unwrap_or_default()
    }
}

pub async fn withdraw_consent(a: WithdrawArgs, ctx: &Context) -> Result<(), CliError> {
    let purpose = a.purpose();
    let mut p = a.step.prepare(ctx).await?;
    let request = pb::WithdrawConsentRequest {
        request_id: p.request_id.clone(),
        inquiry_id: p.id.clone(),
        etag: p.etag.clone(),
        purpose: purpose as i32,
        withdraw_time: a.time,
        note: text(a.note),
    };
    let response = match p.client.withdraw_consent(request).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(p.failed(s)),
    };
    output::show(
        ctx.output,
        &InquiryView::masked(&response.inquiry.unwrap_or_default()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::{inquiry::InquiryCommand, tests::parse_inquiry as parse};

    #[test]
    fn verification_takes_one_decision_and_a_method() {
        let InquiryCommand::Verify(a) = parse(&[
            "verify",
            "i1",
            "--rejected",
            "--method",
            "identity-document-in-person",
        ])
        .unwrap() else {
            panic!("not verify");
        };
        assert_eq!(a.state(), pb::VerificationState::Rejected);
        assert_eq!(a.method, VerificationMethodArg::DocumentInPerson);
        for bad in [
            &["verify", "i1", "--method", "video-call"][..],
            &[
                "verify",
                "i1",
                "--verified",
                "--rejected",
                "--method",
                "video-call",
            ],
            &["verify", "i1", "--verified"],
            &["verify", "i1", "--verified", "--method", "gut-feeling"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn withdrawing_names_one_purpose_or_all_of_them() {
        let InquiryCommand::WithdrawConsent(a) =
            parse(&["withdraw-consent", "i1", "--purpose", "other-party"]).unwrap()
        else {
            panic!("not withdraw-consent");
        };
        assert_eq!(a.purpose(), pb::ConsentPurpose::ShareWithOtherParty);
        let InquiryCommand::WithdrawConsent(a) =
            parse(&["withdraw-consent", "i1", "--all"]).unwrap()
        else {
            panic!("not withdraw-consent");
        };
        assert_eq!(a.purpose(), pb::ConsentPurpose::Unspecified);
        assert!(parse(&["withdraw-consent", "i1"]).is_err());
        assert!(parse(&["withdraw-consent", "i1", "--all", "--purpose", "contact"]).is_err());
        assert!(
            parse(&["consent", "i1", "--purpose", "contact"]).is_err(),
            "a method is required"
        );
    }
}
