//! `homewardctl exchange check|checks`: the check of each person at the handover. A later check
//! of the same entry supersedes the earlier one, which stays on record.
//!
//! Someone presented who is not the listed person (mismatch), or who is on no list at all, must
//! be put on record as they are: those checks need the presented person's name.

use clap::Args;
use homeward_proto::{common::v1 as common, exchange::v1 as pb};

use super::{all_pages, now, text};
use crate::{
    Context, RequestId, args,
    args::{CheckMethodArg, CheckResultArg, SexArg},
    error::CliError,
    output,
    view::exchange::{CheckListView, HandoverCheckView},
};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The phase's id.
    #[arg(value_name = "PHASE")]
    phase_id: String,
    /// The party handing the person over.
    #[arg(long)]
    handing_party: String,
    /// The entry on the handing party's frozen offer list the person was presented for (not for
    /// not-on-list).
    #[arg(long)]
    reference: Option<String>,
    /// What the check found.
    #[arg(long, value_enum, ignore_case = true)]
    result: CheckResultArg,
    /// How identity was established; repeatable.
    #[arg(long = "method", value_enum, ignore_case = true)]
    methods: Vec<CheckMethodArg>,
    /// Who checked, with their role.
    #[arg(long)]
    checked_by: Option<String>,
    /// When, RFC 3339 [default: now].
    #[arg(long, value_name = "RFC3339", value_parser = args::timestamp)]
    time: Option<prost_types::Timestamp>,
    /// The registry person, when known.
    #[arg(long, value_name = "PERSON_ID")]
    person: Option<String>,
    /// Family name of the person actually presented (mismatch, not-on-list).
    #[arg(long, alias = "presented-surname")]
    presented_family: Option<String>,
    /// Given name of the person actually presented.
    #[arg(long)]
    presented_given: Option<String>,
    /// Patronymic of the person actually presented.
    #[arg(long)]
    presented_patronymic: Option<String>,
    /// Birth date of the person actually presented, as far as known.
    #[arg(long, value_name = "YYYY[-MM[-DD]]", value_parser = args::partial_date)]
    presented_birth_date: Option<common::PartialDate>,
    /// Sex of the person actually presented.
    #[arg(long, value_enum, ignore_case = true)]
    presented_sex: Option<SexArg>,
    /// Service number of the person actually presented.
    #[arg(long)]
    presented_service_number: Option<String>,
    /// A note kept with the check.
    #[arg(long)]
    note: Option<String>,
    #[command(flatten)]
    request_id: RequestId,
}

#[derive(Debug, Args)]
pub struct ChecksArgs {
    /// The phase's id.
    #[arg(value_name = "PHASE")]
    phase_id: String,
    /// Only checks of people this party handed over.
    #[arg(long)]
    handing_party: Option<String>,
    /// Only checks with this result.
    #[arg(long, value_enum, ignore_case = true)]
    result: Option<CheckResultArg>,
    /// Include checks a later check of the same entry superseded.
    #[arg(long)]
    include_superseded: bool,
}

impl CheckArgs {
    /// The request, or what is missing for this result. The service checks the same; saying it
    /// here spares an officer at a border crossing a round trip.
    fn into_request(
        self,
        request_id: String,
        now: prost_types::Timestamp,
    ) -> Result<pb::RecordHandoverCheckRequest, CliError> {
        let reference = text(self.reference);
        let names_presented =
            self.result == CheckResultArg::Mismatch || self.result == CheckResultArg::NotOnList;
        match (self.result, reference.is_empty()) {
            (CheckResultArg::NotOnList, false) => {
                return Err(CliError::input(
                    "a not-on-list check names no list entry: leave out --reference and describe \
                     the person with --presented-family and --presented-given",
                ));
            }
            (CheckResultArg::NotOnList, true) => {}
            (_, true) => {
                return Err(CliError::input(
                    "--reference is required: the entry on the handing party's offer list the person \
                     was presented for (`homewardctl exchange list show PHASE --party P --kind offer`)",
                ));
            }
            _ => {}
        }
        if self.result == CheckResultArg::Verified && self.methods.is_empty() {
            return Err(CliError::input(
                "a verified check says how identity was established: give --method (document, \
                 photo, fingerprints, interview, recognition), repeated for several",
            ));
        }
        let name = common::PersonName {
            family: text(self.presented_family),
            given: text(self.presented_given),
            patronymic: text(self.presented_patronymic),
            ..Default::default()
        };
        let has_name = !name.family.is_empty() || !name.given.is_empty();
        if names_presented && !has_name {
            return Err(CliError::input(
                "a mismatch or not-on-list check puts the person actually presented on record: \
                 give at least --presented-family or --presented-given",
            ));
        }
        let described = has_name
            || !name.patronymic.is_empty()
            || self.presented_birth_date.is_some()
            || self.presented_sex.is_some()
            || self.presented_service_number.is_some();
        let presented_identity = described.then(|| pb::ListedIdentity {
            names: (has_name || !name.patronymic.is_empty())
                .then_some(name)
                .into_iter()
                .collect(),
            birth_date: self.presented_birth_date,
            sex: self
                .presented_sex
                .map(common::Sex::from)
                .unwrap_or_default() as i32,
            service_number: text(self.presented_service_number),
            ..Default::default()
        });
        let handing_party = self.handing_party.trim().to_string();
        Ok(pb::RecordHandoverCheckRequest {
            request_id,
            check: Some(pb::HandoverCheck {
                phase_id: self.phase_id.trim().to_string(),
                entry: (!reference.is_empty()).then(|| pb::ListEntryKey {
                    party: handing_party.clone(),
                    kind: pb::ListKind::Offer as i32,
                    reference,
                }),
                handing_party,
                person_id: text(self.person),
                result: pb::HandoverCheckResult::from(self.result) as i32,
                presented_identity,
                methods: self
                    .methods
                    .into_iter()
                    .map(|m| pb::IdentityCheckMethod::from(m) as i32)
                    .collect(),
                checked_by: text(self.checked_by),
                check_time: Some(self.time.unwrap_or(now)),
                note: text(self.note),
                ..Default::default()
            }),
        })
    }
}

pub async fn check(a: CheckArgs, ctx: &Context) -> Result<(), CliError> {
    let request_id = a.request_id.get();
    let request = a.into_request(request_id.clone(), now())?;
    let response = ctx
        .exchange()?
        .record_handover_check(request)
        .await
        .map_err(|s| CliError::from(s).with_request_id(&request_id))?
        .into_inner();
    output::show(
        ctx.output,
        &HandoverCheckView::from(&response.check.unwrap_or_default()),
    )
}

/// Every check of a phase that matches the filters.
pub async fn list_checks(
    client: &crate::client::Exchange,
    request: pb::ListHandoverChecksRequest,
) -> Result<Vec<pb::HandoverCheck>, CliError> {
    all_pages(|page_token| {
        let mut client = client.clone();
        let request = pb::ListHandoverChecksRequest {
            page_token,
            ..request.clone()
        };
        async move {
            let page = client.list_handover_checks(request).await?.into_inner();
            Ok((page.checks, page.next_page_token))
        }
    })
    .await
}

pub async fn checks(a: ChecksArgs, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.exchange()?;
    let found = list_checks(
        &client,
        pb::ListHandoverChecksRequest {
            page_size: 0,
            page_token: String::new(),
            phase_id: a.phase_id.trim().to_string(),
            handing_party: text(a.handing_party),
            result: a
                .result
                .map(pb::HandoverCheckResult::from)
                .unwrap_or_default() as i32,
            include_superseded: a.include_superseded,
        },
    )
    .await?;
    output::show(
        ctx.output,
        &CheckListView {
            checks: found.iter().map(HandoverCheckView::from).collect(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{ExchangeCommand, tests::parse};

    fn check_request(args: &[&str]) -> Result<pb::RecordHandoverCheckRequest, CliError> {
        let mut argv = vec!["check", "ph1", "--handing-party", "RU"];
        argv.extend_from_slice(args);
        let ExchangeCommand::Check(a) = parse(&argv).unwrap() else {
            panic!("not check");
        };
        a.into_request(
            "r-1".into(),
            prost_types::Timestamp {
                seconds: 100,
                nanos: 0,
            },
        )
    }

    #[test]
    fn a_verified_check_names_the_offer_entry_and_every_method() {
        let check = check_request(&[
            "--reference",
            "RU-0017",
            "--result",
            "verified",
            "--method",
            "document",
            "--method",
            "interview",
            "--checked-by",
            "Maj. Petrenko",
        ])
        .unwrap()
        .check
        .unwrap();
        let entry = check.entry.unwrap();
        assert_eq!(
            (entry.party.as_str(), entry.kind, entry.reference.as_str()),
            ("RU", pb::ListKind::Offer as i32, "RU-0017")
        );
        assert_eq!(
            check.methods,
            [
                pb::IdentityCheckMethod::IdentityDocument as i32,
                pb::IdentityCheckMethod::Interview as i32
            ]
        );
        assert_eq!(check.check_time.unwrap().seconds, 100);
        assert_eq!(check.presented_identity, None);
    }

    #[test]
    fn a_mismatch_or_someone_not_on_the_list_needs_the_presented_name() {
        let err = check_request(&["--reference", "RU-1", "--result", "mismatch"]).unwrap_err();
        assert!(err.to_string().contains("--presented-family"), "{err}");
        let check = check_request(&[
            "--reference",
            "RU-1",
            "--result",
            "mismatch",
            "--presented-surname",
            "Бондаренко",
            "--presented-birth-date",
            "1979",
        ])
        .unwrap()
        .check
        .unwrap();
        let presented = check.presented_identity.unwrap();
        assert_eq!(presented.names[0].family, "Бондаренко");
        assert_eq!(presented.birth_date.unwrap().year, 1979);
        let check = check_request(&["--result", "not-on-list", "--presented-given", "Микола"])
            .unwrap()
            .check
            .unwrap();
        assert_eq!(check.entry, None);
        assert!(
            check_request(&[
                "--result",
                "not-on-list",
                "--reference",
                "RU-1",
                "--presented-given",
                "M"
            ])
            .is_err()
        );
        assert!(
            check_request(&["--result", "missing"]).is_err(),
            "a reference is required"
        );
    }
}
