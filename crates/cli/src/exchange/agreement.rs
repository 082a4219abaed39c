//! `homewardctl agreement`: record an exchange agreement between two parties, look one up, list
//! them. Quotas are given as `--quota` lines in the form `args::quota` reads; whether they make
//! sense together is the exchange service's call.

use clap::{Args, Subcommand};
use homeward_proto::{common::v1 as common, exchange::v1 as pb};

use super::{all_pages, text};
use crate::{
    Context, RequestId, args,
    error::CliError,
    output::{self, OutputFormat},
    view::exchange::{AgreementListView, AgreementView},
};

const CREATE_ABOUT: &str = "\
Record an agreement between two parties to exchange detained persons.

Each --quota is one line of how many people a party hands over, over all phases together:
key=value pairs joined by commas, from
  party     the handing party, such as UA; left out, the line applies to each party alike
  category  service-member or civilian
  sex       male or female
  age       completed years, both ends included: 18-60, 60+ (60 and older), -17 (up to 17)
  count     how many people (required)
Keys left out mean any. A line with only a count is a party's total; further lines are counted
within it, not added to it. The seriously ill and wounded go home regardless of numbers and are
counted beside the quotas.

Example (the May 2025 exchange):
  homewardctl agreement create --title \"1000 for 1000\" --party UA --party RU \\
    --mediator TR --date 2025-05 --place Istanbul --one-for-one --quota count=1000";

#[derive(Debug, Subcommand)]
pub enum AgreementCommand {
    /// Record an agreement between two parties.
    #[command(long_about = CREATE_ABOUT)]
    Create(CreateArgs),
    /// Show one agreement with its progress over completed phases.
    Get(GetArgs),
    /// List agreements, newest first.
    List(ListArgs),
}

pub async fn run(command: AgreementCommand, ctx: &Context) -> Result<(), CliError> {
    match command {
        AgreementCommand::Create(a) => create(a, ctx).await,
        AgreementCommand::Get(a) => get(a, ctx).await,
        AgreementCommand::List(a) => list(a, ctx).await,
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A title people will recognise, such as "1000 for 1000".
    #[arg(long)]
    title: String,
    /// One of the two parties, such as UA; give it twice.
    #[arg(long = "party", required = true)]
    parties: Vec<String>,
    /// A state or organisation that brokered the agreement; repeatable.
    #[arg(long = "mediator")]
    mediators: Vec<String>,
    /// When the agreement was concluded, as far as it is known.
    #[arg(long, value_name = "YYYY[-MM[-DD]]", value_parser = args::partial_date)]
    date: Option<common::PartialDate>,
    /// Where it was concluded, such as the city of the talks.
    #[arg(long)]
    place: Option<String>,
    /// Both parties hand over the same number of people in each category in every phase.
    #[arg(long)]
    one_for_one: bool,
    /// Reference of the agreement text, which is kept outside Homeward.
    #[arg(long)]
    document_ref: Option<String>,
    /// A quota line, such as count=1000 or party=UA,category=civilian,count=120; repeatable
    /// (see --help).
    #[arg(long = "quota", value_name = "SPEC", required = true, value_parser = args::quota)]
    quotas: Vec<pb::Quota>,
    #[command(flatten)]
    request_id: RequestId,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The agreement's id, as printed by create or list.
    id: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only agreements this party is a party to, such as UA.
    #[arg(long)]
    party: Option<String>,
}

impl CreateArgs {
    fn into_request(self, request_id: String) -> pb::CreateAgreementRequest {
        pb::CreateAgreementRequest {
            request_id,
            agreement: Some(pb::Agreement {
                title: self.title.trim().to_string(),
                parties: self.parties.iter().map(|p| p.trim().to_string()).collect(),
                mediators: self
                    .mediators
                    .iter()
                    .map(|m| m.trim().to_string())
                    .collect(),
                agreement_date: self.date,
                place: text(self.place),
                quotas: self.quotas,
                one_for_one: self.one_for_one,
                document_reference: text(self.document_ref),
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
        .create_agreement(request)
        .await
        .map_err(|s| CliError::from(s).with_request_id(&request_id))?
        .into_inner();
    let view = AgreementView::from(&response.agreement.unwrap_or_default());
    output::show(ctx.output, &view)?;
    if ctx.output == OutputFormat::Table {
        output::note(&format!(
            "add its first phase with `homewardctl exchange phase create --agreement {} --quota SPEC`",
            view.id
        ));
    }
    Ok(())
}

async fn get(a: GetArgs, ctx: &Context) -> Result<(), CliError> {
    let response = ctx
        .exchange()?
        .get_agreement(pb::GetAgreementRequest {
            id: a.id.trim().to_string(),
        })
        .await?
        .into_inner();
    output::show(
        ctx.output,
        &AgreementView::from(&response.agreement.unwrap_or_default()),
    )
}

async fn list(a: ListArgs, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.exchange()?;
    let party = text(a.party);
    let agreements = all_pages(|page_token| {
        let mut client = client.clone();
        let request = pb::ListAgreementsRequest {
            page_size: 0,
            page_token,
            party: party.clone(),
        };
        async move {
            let page = client.list_agreements(request).await?.into_inner();
            Ok((page.agreements, page.next_page_token))
        }
    })
    .await?;
    output::show(
        ctx.output,
        &AgreementListView {
            agreements: agreements.iter().map(AgreementView::from).collect(),
        },
    )
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Harness {
        #[command(subcommand)]
        command: AgreementCommand,
    }

    fn parse(args: &[&str]) -> Result<AgreementCommand, clap::Error> {
        let mut argv = vec!["agreement"];
        argv.extend_from_slice(args);
        Harness::try_parse_from(argv).map(|h| h.command)
    }

    #[test]
    fn create_flags_become_one_agreement_with_every_quota_line() {
        let AgreementCommand::Create(a) = parse(&[
            "create",
            "--title",
            "1000 for 1000",
            "--party",
            "UA",
            "--party",
            "RU",
            "--mediator",
            "TR",
            "--mediator",
            "AE",
            "--date",
            "2025-05",
            "--place",
            "Istanbul",
            "--one-for-one",
            "--quota",
            "count=1000",
            "--quota",
            "category=service-member,count=270",
            "--quota",
            "party=UA,sex=female,count=3",
            "--request-id",
            "r-1",
        ])
        .unwrap() else {
            panic!("not create");
        };
        let request_id = a.request_id.get();
        let r = a.into_request(request_id);
        assert_eq!(r.request_id, "r-1");
        let agreement = r.agreement.unwrap();
        assert_eq!(agreement.parties, ["UA", "RU"]);
        assert_eq!(agreement.mediators, ["TR", "AE"]);
        assert_eq!(
            agreement.agreement_date,
            Some(common::PartialDate {
                year: 2025,
                month: 5,
                day: 0
            })
        );
        assert!(agreement.one_for_one);
        assert_eq!(agreement.quotas.len(), 3);
        assert_eq!(agreement.quotas[2].party, "UA");
        assert_eq!(agreement.quotas[2].sex, common::Sex::Female as i32);
    }

    #[test]
    fn a_bad_quota_line_is_a_usage_error_that_shows_the_form() {
        let err = parse(&[
            "create",
            "--title",
            "T",
            "--party",
            "UA",
            "--party",
            "RU",
            "--quota",
            "count=lots",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("not a whole number"), "{err}");
        assert!(
            parse(&["create", "--title", "T", "--party", "UA", "--party", "RU"]).is_err(),
            "a quota is required"
        );
    }
}
