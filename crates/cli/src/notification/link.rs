//! Links between an inquiry and a registered person: `homewardctl inquiry candidates|link|links`
//! find and propose them from the inquiry, and `homewardctl link` decides them. A confirmed link
//! is what lets news about the person reach the family, so the service has another officer
//! confirm it; news that might harm the person (GC IV art. 137) can be held for review with
//! `link withhold`.
//!
//! Commands on one link send its etag. There is no call to read one link, so the etag is found
//! in the list of links (of --inquiry, when given), unless --etag gives it.

use clap::{ArgGroup, Args, Subcommand};
use homeward_proto::notification::v1 as pb;

use super::{Prepared, text};
use crate::{
    Context, RequestId, args,
    args::LinkStateArg,
    client::{Notification, all_pages},
    error::CliError,
    output::{self, OutputFormat},
    view::notification::{
        CandidateView, CandidatesView, LinkListView, LinkView, WithholdingReviewedView,
    },
};

/// The lowest confidence `inquiry link` asks the matcher for when it copies the matcher's
/// reasons: any candidate at all, since the officer already chose the person.
const ANY_CONFIDENCE: f64 = 0.01;
/// The most candidates the service returns.
const MAX_CANDIDATES: i32 = 20;

#[derive(Debug, Subcommand)]
pub enum LinkCommand {
    /// Confirm a proposed link: news about the person will reach the family. The officer who
    /// proposed it cannot confirm it.
    Confirm(DecideArgs),
    /// Reject a link: the inquiry is not about that person.
    Reject(DecideArgs),
    /// Hold the news of a link for review, because telling might harm the person or their
    /// relatives (GC IV art. 137); the tracing agency is still informed.
    Withhold(WithholdArgs),
    /// Decide a withholding flag: keep the news held, or release it to the family.
    ReviewWithholding(ReviewArgs),
}

pub async fn run(command: LinkCommand, ctx: &Context) -> Result<(), CliError> {
    match command {
        LinkCommand::Confirm(a) => confirm(a, ctx).await,
        LinkCommand::Reject(a) => reject(a, ctx).await,
        LinkCommand::Withhold(a) => withhold(a, ctx).await,
        LinkCommand::ReviewWithholding(a) => review_withholding(a, ctx).await,
    }
}

#[derive(Debug, Args)]
pub struct CandidatesArgs {
    /// The inquiry's id.
    #[arg(value_name = "INQUIRY")]
    inquiry_id: String,
    /// Leave out candidates below this confidence, above 0 and at most 1 [default: the
    /// service's, 0.5].
    #[arg(long, value_parser = args::confidence)]
    min_confidence: Option<f64>,
    /// At most this many candidates, up to 20 [default: the service's, 5].
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=20))]
    max: Option<i32>,
}

#[derive(Debug, Args)]
pub struct ProposeArgs {
    /// The inquiry's id.
    #[arg(value_name = "INQUIRY")]
    inquiry_id: String,
    /// The registered person the inquiry is about.
    #[arg(long, value_name = "PERSON")]
    person: String,
    /// How sure you are, above 0 and at most 1 [default: the matcher's confidence and reasons,
    /// copied from `inquiry candidates` when the person is among them; none otherwise].
    #[arg(long, value_parser = args::confidence)]
    confidence: Option<f64>,
    /// What you relied on beyond matching: documents, photos, the family's description.
    #[arg(long, value_name = "NOTE")]
    evidence: Option<String>,
    #[command(flatten)]
    request_id: RequestId,
}

#[derive(Debug, Args)]
pub struct LinksArgs {
    /// Only the links of this inquiry.
    #[arg(long, value_name = "INQUIRY")]
    inquiry: Option<String>,
    /// Only links to this registered person.
    #[arg(long, value_name = "PERSON")]
    person: Option<String>,
    /// Only links in this state.
    #[arg(long, value_enum, ignore_case = true)]
    state: Option<LinkStateArg>,
    /// Only links whose news is held awaiting a withholding review.
    #[arg(long)]
    withholding_pending: bool,
}

/// The link a decision is about, and how the decision is sent.
#[derive(Debug, Args)]
pub struct LinkStep {
    /// The link's id, as `inquiry links` or `inquiry get` prints it.
    #[arg(value_name = "LINK")]
    link_id: String,
    /// The inquiry the link belongs to, so its etag is found faster [default: look through
    /// every link].
    #[arg(long, value_name = "INQUIRY")]
    inquiry: Option<String>,
    /// Refuse the change unless the link still has this etag [default: the link as it is read
    /// just before].
    #[arg(long)]
    etag: Option<String>,
    #[command(flatten)]
    request_id: RequestId,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    #[command(flatten)]
    step: LinkStep,
    /// Why, kept with the link.
    #[arg(long)]
    note: Option<String>,
}

#[derive(Debug, Args)]
pub struct WithholdArgs {
    #[command(flatten)]
    step: LinkStep,
    /// Why the news might harm the person or their relatives.
    #[arg(long)]
    reason: String,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("decision").required(true).args(["withhold", "release"])))]
pub struct ReviewArgs {
    #[command(flatten)]
    step: LinkStep,
    /// Telling would harm the person or their relatives: the news stays held.
    #[arg(long)]
    withhold: bool,
    /// No reason to withhold: the held news goes to the family.
    #[arg(long)]
    release: bool,
    /// Why, kept with the link.
    #[arg(long)]
    note: Option<String>,
}

impl ReviewArgs {
    fn decision(&self) -> pb::WithholdingDecision {
        if self.withhold {
            pb::WithholdingDecision::Withhold
        } else {
            pb::WithholdingDecision::Release
        }
    }
}

/// Looks through the links of `inquiry_id` (empty: every link) for `link_id`, page by page,
/// and stops at the first page that holds it.
async fn find_link(
    client: &mut Notification,
    link_id: &str,
    inquiry_id: &str,
) -> Result<Option<pb::Link>, CliError> {
    let mut request = pb::ListLinksRequest {
        inquiry_id: inquiry_id.to_string(),
        ..Default::default()
    };
    loop {
        let page = client.list_links(request.clone()).await?.into_inner();
        if let Some(link) = page.links.into_iter().find(|l| l.id == link_id) {
            return Ok(Some(link));
        }
        if page.next_page_token.is_empty() || page.next_page_token == request.page_token {
            return Ok(None);
        }
        request.page_token = page.next_page_token;
    }
}

impl LinkStep {
    async fn prepare(self, ctx: &Context) -> Result<Prepared, CliError> {
        let mut client = ctx.notification()?;
        let id = self.link_id.trim().to_string();
        let request_id = self.request_id.get();
        let given = text(self.etag);
        if !given.is_empty() {
            return Ok(Prepared::new(client, id, given, false, request_id));
        }
        let inquiry = text(self.inquiry);
        let Some(link) = find_link(&mut client, &id, &inquiry).await? else {
            let place = if inquiry.is_empty() {
                String::new()
            } else {
                format!(" among the links of inquiry {inquiry}")
            };
            return Err(CliError::input(format!(
                "there is no link {id}{place}: `homewardctl inquiry links --inquiry <inquiry-id>` \
                 lists an inquiry's links"
            )));
        };
        Ok(Prepared::new(client, id, link.etag, true, request_id))
    }
}

pub async fn candidates(a: CandidatesArgs, ctx: &Context) -> Result<(), CliError> {
    let inquiry_id = a.inquiry_id.trim().to_string();
    let response = ctx
        .notification()?
        .find_candidates(pb::FindCandidatesRequest {
            inquiry_id: inquiry_id.clone(),
            min_confidence: a.min_confidence.unwrap_or_default(),
            max_candidates: a.max.unwrap_or_default(),
        })
        .await?
        .into_inner();
    let view = CandidatesView {
        inquiry_id,
        candidates: response
            .candidates
            .iter()
            .map(CandidateView::from)
            .collect(),
    };
    output::show(ctx.output, &view)?;
    if ctx.output == OutputFormat::Table {
        if view.candidates.iter().any(|c| c.link_id.is_empty()) {
            output::note(&format!(
                "compare with `homewardctl person get <person-id>`, then propose the one it is with \
                 `homewardctl inquiry link {} --person <person-id> --evidence NOTE`",
                view.inquiry_id
            ));
        } else if view.candidates.is_empty() {
            output::note(
                "try a lower --min-confidence, or add what the family knows to the inquiry",
            );
        }
    }
    Ok(())
}

/// The matcher's confidence and reasons for `person_id`, when the registry still finds them a
/// candidate for the inquiry.
async fn matcher_reasons(
    client: &mut Notification,
    inquiry_id: &str,
    person_id: &str,
) -> Result<Option<(f64, Vec<String>)>, tonic::Status> {
    let found = client
        .find_candidates(pb::FindCandidatesRequest {
            inquiry_id: inquiry_id.to_string(),
            min_confidence: ANY_CONFIDENCE,
            max_candidates: MAX_CANDIDATES,
        })
        .await?
        .into_inner()
        .candidates;
    Ok(found
        .into_iter()
        .find(|c| c.person_id == person_id)
        .map(|c| (c.confidence, c.explanation)))
}

pub async fn propose(a: ProposeArgs, ctx: &Context) -> Result<(), CliError> {
    let mut client = ctx.notification()?;
    let inquiry_id = a.inquiry_id.trim().to_string();
    let person_id = a.person.trim().to_string();
    let (confidence, explanation) = match a.confidence {
        Some(c) => (c, Vec::new()),
        None => match matcher_reasons(&mut client, &inquiry_id, &person_id).await {
            Ok(Some(found)) => found,
            Ok(None) => {
                output::note(&format!(
                    "{person_id} is not among the matcher's candidates for this inquiry: the link is \
                     proposed by hand; say what it rests on with --evidence"
                ));
                (0.0, Vec::new())
            }
            // Proposing does not need the registry; without it the link is one by hand.
            Err(status) => {
                output::note(&format!(
                    "could not copy the matcher's reasons ({}); the link is proposed by hand",
                    status.message()
                ));
                (0.0, Vec::new())
            }
        },
    };
    let request_id = a.request_id.get();
    let request = pb::ProposeLinkRequest {
        request_id: request_id.clone(),
        inquiry_id,
        person_id,
        confidence,
        explanation,
        evidence_note: text(a.evidence),
    };
    let response = client
        .propose_link(request)
        .await
        .map_err(|s| CliError::from(s).with_request_id(&request_id))?
        .into_inner();
    let view = LinkView::from(&response.link.unwrap_or_default());
    output::show(ctx.output, &view)?;
    if ctx.output == OutputFormat::Table {
        output::note(&format!(
            "another officer confirms it with `homewardctl link confirm {}` or rejects it with \
             `homewardctl link reject {}`",
            view.id, view.id
        ));
    }
    Ok(())
}

impl LinksArgs {
    fn into_request(self) -> pb::ListLinksRequest {
        pb::ListLinksRequest {
            page_size: 0,
            page_token: String::new(),
            inquiry_id: text(self.inquiry),
            person_id: text(self.person),
            state: self.state.map(pb::LinkState::from).unwrap_or_default() as i32,
            withholding_pending_only: self.withholding_pending,
        }
    }
}

pub async fn links(a: LinksArgs, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.notification()?;
    let request = a.into_request();
    let links = all_pages(|page_token| {
        let mut client = client.clone();
        let request = pb::ListLinksRequest {
            page_token,
            ..request.clone()
        };
        async move {
            let page = client.list_links(request).await?.into_inner();
            Ok((page.links, page.next_page_token))
        }
    })
    .await?;
    output::show(
        ctx.output,
        &LinkListView {
            links: links.iter().map(LinkView::from).collect(),
        },
    )
}

/// Shows a link after a decision and, at a terminal, what comes next.
fn show_link(ctx: &Context, link: Option<pb::Link>, next: &str) -> Result<(), CliError> {
    let view = LinkView::from(&link.unwrap_or_default());
    output::show(ctx.output, &view)?;
    if ctx.output == OutputFormat::Table && !next.is_empty() {
        output::note(&next.replace("LINK", &view.id));
    }
    Ok(())
}

async fn confirm(a: DecideArgs, ctx: &Context) -> Result<(), CliError> {
    let mut p = a.step.prepare(ctx).await?;
    let request = pb::ConfirmLinkRequest {
        request_id: p.request_id.clone(),
        link_id: p.id.clone(),
        etag: p.etag.clone(),
        note: text(a.note),
    };
    let response = match p.client.confirm_link(request).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(p.failed(s)),
    };
    show_link(
        ctx,
        response.link,
        "news about the person now goes to the family once the requester is verified; if telling \
         might harm the person or their relatives, hold it with \
         `homewardctl link withhold LINK --reason TEXT`",
    )
}

async fn reject(a: DecideArgs, ctx: &Context) -> Result<(), CliError> {
    let mut p = a.step.prepare(ctx).await?;
    let request = pb::RejectLinkRequest {
        request_id: p.request_id.clone(),
        link_id: p.id.clone(),
        etag: p.etag.clone(),
        note: text(a.note),
    };
    let response = match p.client.reject_link(request).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(p.failed(s)),
    };
    show_link(ctx, response.link, "")
}

async fn withhold(a: WithholdArgs, ctx: &Context) -> Result<(), CliError> {
    let mut p = a.step.prepare(ctx).await?;
    let request = pb::FlagWithholdingRequest {
        request_id: p.request_id.clone(),
        link_id: p.id.clone(),
        etag: p.etag.clone(),
        reason: a.reason.trim().to_string(),
    };
    let response = match p.client.flag_withholding(request).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(p.failed(s)),
    };
    show_link(
        ctx,
        response.link,
        "news for this link is held until the flag is reviewed: \
         `homewardctl link review-withholding LINK --withhold|--release --note TEXT`",
    )
}

async fn review_withholding(a: ReviewArgs, ctx: &Context) -> Result<(), CliError> {
    let decision = a.decision();
    let mut p = a.step.prepare(ctx).await?;
    let request = pb::ReviewWithholdingRequest {
        request_id: p.request_id.clone(),
        link_id: p.id.clone(),
        etag: p.etag.clone(),
        decision: decision as i32,
        note: text(a.note),
    };
    let response = match p.client.review_withholding(request).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(p.failed(s)),
    };
    output::show(
        ctx.output,
        &WithholdingReviewedView {
            link: LinkView::from(&response.link.unwrap_or_default()),
            released_notification_ids: response.released_notification_ids,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::{
        inquiry::InquiryCommand,
        tests::{parse_inquiry, parse_link},
    };

    #[test]
    fn every_link_verb_parses_with_its_required_flags() {
        for argv in [
            &["confirm", "l1"][..],
            &["confirm", "l1", "--note", "same unit", "--inquiry", "i1"],
            &["reject", "l1", "--etag", "e2"],
            &[
                "withhold",
                "l1",
                "--reason",
                "the family would tell the captors",
            ],
            &["review-withholding", "l1", "--release", "--note", "no risk"],
            &["review-withholding", "l1", "--withhold"],
        ] {
            assert!(
                parse_link(argv).is_ok(),
                "{argv:?}: {:?}",
                parse_link(argv).err()
            );
        }
        for argv in [
            &["withhold", "l1"][..],
            &["review-withholding", "l1"],
            &["review-withholding", "l1", "--withhold", "--release"],
            &["confirm"],
        ] {
            assert!(parse_link(argv).is_err(), "{argv:?}");
        }
        let LinkCommand::ReviewWithholding(a) =
            parse_link(&["review-withholding", "l1", "--release"]).unwrap()
        else {
            panic!("not review-withholding");
        };
        assert_eq!(a.decision(), pb::WithholdingDecision::Release);
    }

    #[test]
    fn proposing_and_finding_candidates_check_their_numbers() {
        assert!(parse_inquiry(&["link", "i1", "--person", "p1", "--confidence", "0.9"]).is_ok());
        assert!(
            parse_inquiry(&["link", "i1"]).is_err(),
            "a person is required"
        );
        assert!(parse_inquiry(&["link", "i1", "--person", "p1", "--confidence", "2"]).is_err());
        assert!(parse_inquiry(&["candidates", "i1", "--max", "20"]).is_ok());
        assert!(parse_inquiry(&["candidates", "i1", "--max", "21"]).is_err());
        assert!(parse_inquiry(&["candidates", "i1", "--min-confidence", "0"]).is_err());
    }

    #[test]
    fn link_filters_become_the_request() {
        let InquiryCommand::Links(a) = parse_inquiry(&[
            "links",
            "--person",
            "p1",
            "--state",
            "confirmed",
            "--withholding-pending",
        ])
        .unwrap() else {
            panic!("not links");
        };
        let r = a.into_request();
        assert_eq!(r.person_id, "p1");
        assert_eq!(r.state, pb::LinkState::Confirmed as i32);
        assert!(r.withholding_pending_only);
        assert_eq!(r.inquiry_id, "");
    }
}
