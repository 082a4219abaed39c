//! `homewardctl exchange hold-back|hold-back-update|hold-backs`: a party keeping back a person on
//! its offer list (proceedings, unfit to travel, not available). The other side must be told
//! before the handover starts, so that a missing person is expected rather than read as a breach.
//!
//! An update changes only the fields it names (an update mask) and sends the hold-back's etag,
//! read just before unless given.

use clap::{ArgGroup, Args};
use homeward_proto::exchange::v1 as pb;

use super::{all_pages, now, text};
use crate::{
    Context, RequestId, args,
    args::HoldBackReasonArg,
    client::Exchange,
    error::{CliError, shell_word},
    output,
    view::exchange::{HoldBackListView, HoldBackView},
};

#[derive(Debug, Args)]
pub struct HoldBackArgs {
    /// The phase's id.
    #[arg(value_name = "PHASE")]
    phase_id: String,
    /// The party keeping the person back, whose offer list holds the entry.
    #[arg(long)]
    party: String,
    /// The entry's reference on that offer list.
    #[arg(long)]
    reference: String,
    /// Why the person is kept back.
    #[arg(long, value_enum, ignore_case = true)]
    reason: HoldBackReasonArg,
    /// More on the reason, such as the court or the doctor's finding.
    #[arg(long)]
    detail: Option<String>,
    #[command(flatten)]
    request_id: RequestId,
}

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("change")
        .required(true)
        .multiple(true)
        .args(["informed", "lifted", "detail"])
))]
pub struct UpdateArgs {
    /// The hold-back's id, as `exchange hold-backs` prints it.
    #[arg(value_name = "HOLD_BACK")]
    id: String,
    /// The phase the hold-back belongs to.
    #[arg(long)]
    phase: String,
    /// The other side has been told.
    #[arg(long)]
    informed: bool,
    /// When they were told, RFC 3339 [default: now].
    #[arg(long, value_name = "RFC3339", value_parser = args::timestamp, requires = "informed")]
    informed_at: Option<prost_types::Timestamp>,
    /// How they were told, such as directly or through a mediator.
    #[arg(long, requires = "informed")]
    via: Option<String>,
    /// Lift the hold-back: the person goes back into the handover.
    #[arg(long)]
    lifted: bool,
    /// A new description of the reason.
    #[arg(long)]
    detail: Option<String>,
    /// Refuse the change unless the hold-back still has this etag [default: the hold-back as it
    /// is read just before].
    #[arg(long)]
    etag: Option<String>,
    #[command(flatten)]
    request_id: RequestId,
}

#[derive(Debug, Args)]
pub struct HoldBacksArgs {
    /// The phase's id.
    #[arg(value_name = "PHASE")]
    phase_id: String,
    /// Include lifted hold-backs.
    #[arg(long)]
    include_lifted: bool,
}

impl HoldBackArgs {
    fn into_request(self, request_id: String) -> pb::HoldBackPersonRequest {
        let party = self.party.trim().to_string();
        pb::HoldBackPersonRequest {
            request_id,
            hold_back: Some(pb::HoldBack {
                phase_id: self.phase_id.trim().to_string(),
                entry: Some(pb::ListEntryKey {
                    party,
                    kind: pb::ListKind::Offer as i32,
                    reference: self.reference.trim().to_string(),
                }),
                reason: pb::HoldBackReason::from(self.reason) as i32,
                reason_detail: text(self.detail),
                ..Default::default()
            }),
        }
    }
}

impl UpdateArgs {
    /// The request for `etag`: only the fields the flags name are in the mask, so a flag left
    /// out never undoes an earlier change.
    fn into_request(
        self,
        request_id: String,
        etag: String,
        now: prost_types::Timestamp,
    ) -> pb::UpdateHoldBackRequest {
        let mut paths = Vec::new();
        let mut hold_back = pb::HoldBack {
            id: self.id.trim().to_string(),
            etag,
            phase_id: self.phase.trim().to_string(),
            ..Default::default()
        };
        if self.informed {
            hold_back.other_side_informed = true;
            hold_back.inform_time = Some(self.informed_at.unwrap_or(now));
            paths.extend(["other_side_informed", "inform_time"]);
            if let Some(via) = self.via {
                hold_back.informed_via = via.trim().to_string();
                paths.push("informed_via");
            }
        }
        if let Some(detail) = self.detail {
            hold_back.reason_detail = detail.trim().to_string();
            paths.push("reason_detail");
        }
        if self.lifted {
            hold_back.lifted = true;
            paths.push("lifted");
        }
        pb::UpdateHoldBackRequest {
            request_id,
            hold_back: Some(hold_back),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.into_iter().map(String::from).collect(),
            }),
        }
    }
}

pub async fn hold_back(a: HoldBackArgs, ctx: &Context) -> Result<(), CliError> {
    let request_id = a.request_id.get();
    let request = a.into_request(request_id.clone());
    let response = ctx
        .exchange()?
        .hold_back_person(request)
        .await
        .map_err(|s| CliError::from(s).with_request_id(&request_id))?
        .into_inner();
    let view = HoldBackView::from(&response.hold_back.unwrap_or_default());
    output::show(ctx.output, &view)?;
    if ctx.output == output::OutputFormat::Table && !view.other_side_informed {
        output::note(&format!(
            "tell the other side before the handover starts, then record it: \
             `homewardctl exchange hold-back-update {} --phase {} --informed --via mediator`",
            view.id, view.phase_id
        ));
    }
    Ok(())
}

/// Every hold-back of a phase, lifted ones included when asked.
async fn list_hold_backs(
    client: &Exchange,
    phase_id: &str,
    include_lifted: bool,
) -> Result<Vec<pb::HoldBack>, CliError> {
    all_pages(|page_token| {
        let mut client = client.clone();
        let request = pb::ListHoldBacksRequest {
            page_size: 0,
            page_token,
            phase_id: phase_id.to_string(),
            include_lifted,
        };
        async move {
            let page = client.list_hold_backs(request).await?.into_inner();
            Ok((page.hold_backs, page.next_page_token))
        }
    })
    .await
}

pub async fn update(a: UpdateArgs, ctx: &Context) -> Result<(), CliError> {
    let mut client = ctx.exchange()?;
    let (etag, retry_flags) = match text(a.etag.clone()) {
        given if !given.is_empty() => (given, String::new()),
        _ => {
            // There is no call to read one hold-back, so it is found in its phase's list.
            let id = a.id.trim();
            let found = list_hold_backs(&client, a.phase.trim(), true)
                .await?
                .into_iter()
                .find(|h| h.id == id)
                .ok_or_else(|| {
                    CliError::input(format!(
                        "phase {} has no hold-back {id}: `homewardctl exchange hold-backs {} --include-lifted` lists them",
                        a.phase.trim(),
                        a.phase.trim()
                    ))
                })?;
            let flags = format!("--etag {}", shell_word(&found.etag));
            (found.etag, flags)
        }
    };
    let request_id = a.request_id.get();
    let request = a.into_request(request_id.clone(), etag, now());
    let response = client
        .update_hold_back(request)
        .await
        .map_err(|s| CliError::from(s).with_retry(&request_id, &retry_flags))?
        .into_inner();
    output::show(
        ctx.output,
        &HoldBackView::from(&response.hold_back.unwrap_or_default()),
    )
}

pub async fn hold_backs(a: HoldBacksArgs, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.exchange()?;
    let found = list_hold_backs(&client, a.phase_id.trim(), a.include_lifted).await?;
    output::show(
        ctx.output,
        &HoldBackListView {
            hold_backs: found.iter().map(HoldBackView::from).collect(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{ExchangeCommand, tests::parse};

    fn update_request(args: &[&str]) -> pb::UpdateHoldBackRequest {
        let mut argv = vec!["hold-back-update", "h1", "--phase", "ph1"];
        argv.extend_from_slice(args);
        let ExchangeCommand::HoldBackUpdate(a) = parse(&argv).unwrap() else {
            panic!("not hold-back-update");
        };
        a.into_request(
            "r-1".into(),
            "e7".into(),
            prost_types::Timestamp {
                seconds: 100,
                nanos: 0,
            },
        )
    }

    #[test]
    fn an_update_masks_only_the_fields_its_flags_name() {
        let r = update_request(&["--informed", "--via", "mediator"]);
        let h = r.hold_back.unwrap();
        assert_eq!((h.id.as_str(), h.etag.as_str()), ("h1", "e7"));
        assert!(h.other_side_informed && !h.lifted);
        assert_eq!(h.inform_time.unwrap().seconds, 100);
        assert_eq!(h.informed_via, "mediator");
        assert_eq!(
            r.update_mask.unwrap().paths,
            ["other_side_informed", "inform_time", "informed_via"]
        );
        let r = update_request(&["--lifted"]);
        assert_eq!(r.update_mask.unwrap().paths, ["lifted"]);
        assert!(r.hold_back.unwrap().lifted);
        assert!(parse(&["hold-back-update", "h1", "--phase", "ph1"]).is_err());
        assert!(parse(&["hold-back-update", "h1", "--phase", "ph1", "--via", "x"]).is_err());
        assert!(parse(&["hold-back-update", "h1", "--informed"]).is_err());
    }

    #[test]
    fn a_hold_back_names_the_entry_on_the_partys_offer_list() {
        let ExchangeCommand::HoldBack(a) = parse(&[
            "hold-back",
            "ph1",
            "--party",
            "RU",
            "--reference",
            "RU-0017",
            "--reason",
            "criminal-proceedings",
            "--detail",
            "sentenced 2024",
        ])
        .unwrap() else {
            panic!("not hold-back");
        };
        let h = a.into_request("r-1".into()).hold_back.unwrap();
        let entry = h.entry.unwrap();
        assert_eq!(entry.kind, pb::ListKind::Offer as i32);
        assert_eq!(
            (entry.party.as_str(), entry.reference.as_str()),
            ("RU", "RU-0017")
        );
        assert_eq!(h.reason, pb::HoldBackReason::CriminalProceedings as i32);
        assert!(
            parse(&[
                "hold-back",
                "ph1",
                "--party",
                "RU",
                "--reference",
                "R",
                "--reason",
                "bored"
            ])
            .is_err()
        );
    }
}
