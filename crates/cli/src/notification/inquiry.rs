//! `homewardctl inquiry`: a family's inquiry about a person held or missing, from intake to
//! closing. Creating one issues the family's reference and access code; the code is printed
//! then (and by `reissue-code`) and never again, since the service keeps only its hash.
//!
//! There is no search by name, as the service has none: inquiries are found by id, reference or
//! filters, so that this client cannot be used to find out who is held. `inquiry status` is the
//! family's own check, by reference and access code.

use clap::{ArgGroup, Args, Subcommand};
use homeward_proto::{common::v1 as common, notification::v1 as pb};
use tonic::Code;

use super::{InquiryStep, contacts::ContactArgs, link, now, requester, text};
use crate::{
    Context, RequestId, args,
    args::{
        CategoryArg, CloseReasonArg, ConsentMethodArg, InquiryStateArg, IntakeArg, LanguageArg,
        RelationshipArg, SexArg, VerificationStateArg,
    },
    client::all_pages,
    error::{CliError, code_name},
    output::{self, OutputFormat},
    view::notification::{FamilyStatusView, InquiryListView, InquiryView, IssuedCodeView},
};

#[derive(Debug, Subcommand)]
pub enum InquiryCommand {
    /// Record a family's inquiry; prints its reference and the family's access code.
    Create(Box<CreateArgs>),
    /// Show one inquiry in full, the requester's contacts included.
    Get(InquiryArg),
    /// List inquiries by state, verification, office, linked person or reference, newest first.
    List(ListArgs),
    /// Close an inquiry; its pending deliveries and open tasks are cancelled.
    Close(CloseArgs),
    /// Replace a lost access code; the old one stops working at once.
    ReissueCode(ReissueArgs),
    /// Record that the requester's identity and relationship were verified, or rejected.
    Verify(requester::VerifyArgs),
    /// Record a further purpose the requester consented to.
    Consent(requester::ConsentArgs),
    /// Withdraw the requester's consent for one purpose, or all.
    WithdrawConsent(requester::WithdrawArgs),
    /// Ask the registry which persons the sought person may be (an audited read).
    Candidates(link::CandidatesArgs),
    /// Propose that the inquiry is about a registered person; another officer confirms it with
    /// `homewardctl link confirm`.
    Link(link::ProposeArgs),
    /// List links between inquiries and registered persons.
    Links(link::LinksArgs),
    /// The family's status check: reference and access code in, a coarse status out.
    Status(StatusArgs),
}

pub async fn run(command: InquiryCommand, ctx: &Context) -> Result<(), CliError> {
    match command {
        InquiryCommand::Create(a) => create(*a, ctx).await,
        InquiryCommand::Get(a) => get(a, ctx).await,
        InquiryCommand::List(a) => list(a, ctx).await,
        InquiryCommand::Close(a) => close(a, ctx).await,
        InquiryCommand::ReissueCode(a) => reissue_code(a, ctx).await,
        InquiryCommand::Verify(a) => requester::verify(a, ctx).await,
        InquiryCommand::Consent(a) => requester::consent(a, ctx).await,
        InquiryCommand::WithdrawConsent(a) => requester::withdraw_consent(a, ctx).await,
        InquiryCommand::Candidates(a) => link::candidates(a, ctx).await,
        InquiryCommand::Link(a) => link::propose(a, ctx).await,
        InquiryCommand::Links(a) => link::links(a, ctx).await,
        InquiryCommand::Status(a) => status(a, ctx).await,
    }
}

const REQUESTER: &str = "Requester";
const SOUGHT: &str = "Sought person";

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("requester_name")
        .required(true)
        .multiple(true)
        .args(["requester_given", "requester_family"])
))]
#[command(group(
    ArgGroup::new("sought_name")
        .required(true)
        .multiple(true)
        .args(["given", "family", "names"])
))]
pub struct CreateArgs {
    /// Family name of the relative asking.
    #[arg(long, help_heading = REQUESTER)]
    requester_family: Option<String>,
    /// Given name of the relative asking.
    #[arg(long, help_heading = REQUESTER)]
    requester_given: Option<String>,
    /// Patronymic of the relative asking.
    #[arg(long, help_heading = REQUESTER)]
    requester_patronymic: Option<String>,
    /// How the requester is related to the person sought.
    #[arg(long, value_enum, ignore_case = true, help_heading = REQUESTER)]
    relationship: RelationshipArg,
    /// The relationship in the requester's words, such as mother-in-law.
    #[arg(long, help_heading = REQUESTER)]
    relationship_detail: Option<String>,
    /// The language the family is written to in.
    #[arg(long, value_enum, ignore_case = true, help_heading = REQUESTER)]
    language: LanguageArg,
    #[command(flatten)]
    contacts: ContactArgs,
    /// Family name of the person sought, as the family spells it.
    #[arg(long, help_heading = SOUGHT)]
    family: Option<String>,
    /// Given name of the person sought.
    #[arg(long, help_heading = SOUGHT)]
    given: Option<String>,
    /// Patronymic of the person sought.
    #[arg(long, help_heading = SOUGHT)]
    patronymic: Option<String>,
    /// A further spelling of the sought person's name; repeatable. The script is cyrillic,
    /// latin or left empty to be detected.
    #[arg(
        long = "name",
        value_name = "GIVEN|FAMILY|PATRONYMIC|SCRIPT",
        value_parser = args::name_variant,
        help_heading = SOUGHT
    )]
    names: Vec<common::PersonName>,
    /// Date of birth, as far as the family knows it.
    #[arg(long, value_name = "YYYY[-MM[-DD]]", value_parser = args::partial_date, help_heading = SOUGHT)]
    birth_date: Option<common::PartialDate>,
    /// Place of birth.
    #[arg(long, help_heading = SOUGHT)]
    birth_place: Option<String>,
    /// Left out when not known.
    #[arg(long, value_enum, ignore_case = true, help_heading = SOUGHT)]
    sex: Option<SexArg>,
    /// Whether the person sought is a service member or a civilian.
    #[arg(long, value_enum, ignore_case = true, help_heading = SOUGHT)]
    category: Option<CategoryArg>,
    /// Military rank.
    #[arg(long, help_heading = SOUGHT)]
    rank: Option<String>,
    /// Military unit.
    #[arg(long, help_heading = SOUGHT)]
    unit: Option<String>,
    /// Military service number.
    #[arg(long, help_heading = SOUGHT)]
    service_number: Option<String>,
    /// When the family last heard from the person.
    #[arg(long, value_name = "YYYY[-MM[-DD]]", value_parser = args::partial_date, help_heading = SOUGHT)]
    last_contact_date: Option<common::PartialDate>,
    /// Where the person was then.
    #[arg(long, help_heading = SOUGHT)]
    last_contact_place: Option<String>,
    /// What the family knows of how the person went missing, in their words.
    #[arg(long, help_heading = SOUGHT)]
    circumstances: Option<String>,
    /// Scars, tattoos and the like, for officers comparing candidates.
    #[arg(long, help_heading = SOUGHT)]
    features: Option<String>,
    /// How the requester consented; consent to the search itself (tracing) is always recorded.
    #[arg(long, value_enum, ignore_case = true)]
    consent_method: ConsentMethodArg,
    /// The requester also consented to be contacted through the contacts given.
    #[arg(long)]
    contact_consent: bool,
    /// When the requester consented, RFC 3339 [default: now].
    #[arg(long, value_name = "RFC3339", value_parser = args::timestamp)]
    consent_time: Option<prost_types::Timestamp>,
    /// How the inquiry reached the office.
    #[arg(long, value_enum, ignore_case = true)]
    intake: IntakeArg,
    /// The liaison office handling the inquiry.
    #[arg(long)]
    office: Option<String>,
    /// The tracing agency's case number, when it is involved.
    #[arg(long)]
    tracing_agency_reference: Option<String>,
    #[command(flatten)]
    request_id: RequestId,
}

/// A command about one inquiry.
#[derive(Debug, Args)]
pub struct InquiryArg {
    /// The inquiry's id, as `inquiry create` or `inquiry list` prints it.
    #[arg(value_name = "INQUIRY")]
    id: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only inquiries in this state.
    #[arg(long, value_enum, ignore_case = true)]
    state: Option<InquiryStateArg>,
    /// Only inquiries whose requester is in this verification state.
    #[arg(long, value_enum, ignore_case = true)]
    verification: Option<VerificationStateArg>,
    /// Only inquiries handled by this office.
    #[arg(long)]
    office: Option<String>,
    /// Only inquiries linked (proposed or confirmed) to this registered person.
    #[arg(long, value_name = "PERSON")]
    person: Option<String>,
    /// Only inquiries with risk flags, such as a contact shared with other inquiries.
    #[arg(long)]
    flagged: bool,
    /// The inquiry with this reference, exactly, such as HW-4K7Q-9MZD.
    #[arg(long)]
    reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct CloseArgs {
    #[command(flatten)]
    step: InquiryStep,
    /// Why the inquiry is closed.
    #[arg(long, value_enum, ignore_case = true)]
    reason: CloseReasonArg,
    /// For --reason duplicate: the inquiry that goes on.
    #[arg(long, value_name = "INQUIRY")]
    duplicate_of: Option<String>,
    /// A note kept with the inquiry.
    #[arg(long)]
    note: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReissueArgs {
    #[command(flatten)]
    step: InquiryStep,
    /// How you made sure the person asking is the requester.
    #[arg(long)]
    note: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The family's reference, such as HW-4K7Q-9MZD.
    reference: String,
    /// The family's access code.
    #[arg(long)]
    code: String,
}

impl CreateArgs {
    fn into_request(
        self,
        request_id: String,
        grant_time: prost_types::Timestamp,
    ) -> pb::CreateInquiryRequest {
        // The family told us both; the source says so.
        let family = common::InformationSource::Family as i32;
        let requester_name = common::PersonName {
            given: text(self.requester_given),
            family: text(self.requester_family),
            patronymic: text(self.requester_patronymic),
            source: family,
            ..Default::default()
        };
        let mut names = Vec::with_capacity(1 + self.names.len());
        if self.given.is_some() || self.family.is_some() || self.patronymic.is_some() {
            names.push(common::PersonName {
                given: text(self.given),
                family: text(self.family),
                patronymic: text(self.patronymic),
                ..Default::default()
            });
        }
        names.extend(self.names);
        for n in &mut names {
            n.source = family;
        }
        let consent = |purpose: pb::ConsentPurpose| pb::Consent {
            purpose: purpose as i32,
            method: pb::ConsentMethod::from(self.consent_method) as i32,
            grant_time: Some(grant_time),
            ..Default::default()
        };
        let mut consents = vec![consent(pb::ConsentPurpose::Tracing)];
        if self.contact_consent {
            consents.push(consent(pb::ConsentPurpose::Contact));
        }
        let inquiry = pb::Inquiry {
            requester: Some(pb::Requester {
                names: vec![requester_name],
                relationship: pb::Relationship::from(self.relationship) as i32,
                relationship_detail: text(self.relationship_detail),
                contacts: self.contacts.contacts,
                preferred_language: self.language.tag().to_string(),
            }),
            sought_person: Some(pb::SoughtPerson {
                names,
                birth_date: self.birth_date,
                birth_place: text(self.birth_place),
                sex: self.sex.map(common::Sex::from).unwrap_or_default() as i32,
                category: self
                    .category
                    .map(common::PersonCategory::from)
                    .unwrap_or_default() as i32,
                rank: text(self.rank),
                unit: text(self.unit),
                service_number: text(self.service_number),
                last_contact_date: self.last_contact_date,
                last_contact_place: text(self.last_contact_place),
                circumstances: text(self.circumstances),
                distinguishing_features: text(self.features),
                ..Default::default()
            }),
            consents,
            intake_channel: pb::IntakeChannel::from(self.intake) as i32,
            office: text(self.office),
            tracing_agency_reference: text(self.tracing_agency_reference),
            ..Default::default()
        };
        pb::CreateInquiryRequest {
            request_id,
            inquiry: Some(inquiry),
        }
    }
}

/// Shows a newly issued access code and tells the officer, on stderr whatever the output
/// format, that it will not be shown again. `if_lost` says what to do when the answer is lost.
fn show_code(
    ctx: &Context,
    inquiry: Option<pb::Inquiry>,
    access_code: String,
    if_lost: &str,
) -> Result<(), CliError> {
    let view = IssuedCodeView {
        inquiry: InquiryView::masked(&inquiry.unwrap_or_default()),
        access_code,
    };
    output::show(ctx.output, &view)?;
    if view.access_code.is_empty() {
        output::note(&format!(
            "the service sent no access code (a replay after it forgot the code?): issue a new one \
             with `homewardctl inquiry reissue-code {}`",
            view.inquiry.id
        ));
        return Ok(());
    }
    output::note(&format!(
        "the access code is shown only now: give it to the family together with the reference {}; \
         they need both to check the status. If this answer is lost, {}",
        view.inquiry.reference,
        if_lost.replace("INQUIRY", &view.inquiry.id)
    ));
    Ok(())
}

async fn create(a: CreateArgs, ctx: &Context) -> Result<(), CliError> {
    let request_id = a.request_id.get();
    let mut retry_flags = String::new();
    let grant_time = match a.consent_time {
        Some(t) => t,
        None => {
            let t = now();
            retry_flags = format!("--consent-time {}", args::timestamp_text(&t));
            t
        }
    };
    let (has_contacts, contact_consent) = (!a.contacts.contacts.is_empty(), a.contact_consent);
    let request = a.into_request(request_id.clone(), grant_time);
    let response = ctx
        .notification()?
        .create_inquiry(request)
        .await
        .map_err(|s| CliError::from(s).with_retry(&request_id, &retry_flags))?
        .into_inner();
    let id = response
        .inquiry
        .as_ref()
        .map(|i| i.id.clone())
        .unwrap_or_default();
    let flags = if retry_flags.is_empty() {
        String::new()
    } else {
        format!(" {retry_flags}")
    };
    show_code(
        ctx,
        response.inquiry,
        response.access_code,
        &format!(
            "run the same command again soon with --request-id {request_id}{flags} to see it again"
        ),
    )?;
    if ctx.output == OutputFormat::Table {
        if has_contacts && !contact_consent {
            output::note(&format!(
                "the requester did not consent to be contacted, so nothing will be sent to the \
                 contacts given until `homewardctl inquiry consent {id} --purpose contact --method M` \
                 records it"
            ));
        }
        output::note(&format!(
            "next: verify the requester with `homewardctl inquiry verify {id} --verified --method M`, \
             and look for the person with `homewardctl inquiry candidates {id}`"
        ));
    }
    Ok(())
}

async fn get(a: InquiryArg, ctx: &Context) -> Result<(), CliError> {
    let response = ctx
        .notification()?
        .get_inquiry(pb::GetInquiryRequest {
            id: a.id.trim().to_string(),
        })
        .await?
        .into_inner();
    output::show(
        ctx.output,
        &InquiryView::revealed(&response.inquiry.unwrap_or_default()),
    )
}

impl ListArgs {
    fn into_request(self) -> pb::ListInquiriesRequest {
        pb::ListInquiriesRequest {
            page_size: 0,
            page_token: String::new(),
            state: self.state.map(pb::InquiryState::from).unwrap_or_default() as i32,
            verification_state: self
                .verification
                .map(pb::VerificationState::from)
                .unwrap_or_default() as i32,
            office: text(self.office),
            person_id: text(self.person),
            flagged_only: self.flagged,
            reference: text(self.reference),
        }
    }
}

async fn list(a: ListArgs, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.notification()?;
    let request = a.into_request();
    let inquiries = all_pages(|page_token| {
        let mut client = client.clone();
        let request = pb::ListInquiriesRequest {
            page_token,
            ..request.clone()
        };
        async move {
            let page = client.list_inquiries(request).await?.into_inner();
            Ok((page.inquiries, page.next_page_token))
        }
    })
    .await?;
    output::show(
        ctx.output,
        &InquiryListView {
            inquiries: inquiries.iter().map(InquiryView::masked).collect(),
        },
    )
}

async fn close(a: CloseArgs, ctx: &Context) -> Result<(), CliError> {
    let mut p = a.step.prepare(ctx).await?;
    let request = pb::CloseInquiryRequest {
        request_id: p.request_id.clone(),
        inquiry_id: p.id.clone(),
        etag: p.etag.clone(),
        reason: pb::CloseReason::from(a.reason) as i32,
        duplicate_of: text(a.duplicate_of),
        note: text(a.note),
    };
    let response = match p.client.close_inquiry(request).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(p.failed(s)),
    };
    output::show(
        ctx.output,
        &InquiryView::masked(&response.inquiry.unwrap_or_default()),
    )
}

async fn reissue_code(a: ReissueArgs, ctx: &Context) -> Result<(), CliError> {
    let mut p = a.step.prepare(ctx).await?;
    let request = pb::ReissueAccessCodeRequest {
        request_id: p.request_id.clone(),
        inquiry_id: p.id.clone(),
        etag: p.etag.clone(),
        note: text(a.note),
    };
    let response = match p.client.reissue_access_code(request).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(p.failed(s)),
    };
    show_code(
        ctx,
        response.inquiry,
        response.access_code,
        "issue another with `homewardctl inquiry reissue-code INQUIRY`. The old code no longer works",
    )
}

/// What a refused status check means, said without telling a wrong code from an unknown
/// reference, as the service does not either.
fn status_refusal(status: tonic::Status, reference: &str) -> CliError {
    match status.code() {
        Code::NotFound => CliError::Failed(format!(
            "{}: no inquiry has the reference {reference} with that access code: check both as \
             the family has them; a lost code is replaced by the liaison office with \
             `homewardctl inquiry reissue-code <inquiry-id>` once it knows who is asking",
            code_name(Code::NotFound)
        )),
        Code::ResourceExhausted => CliError::Failed(format!(
            "{}: too many failed checks for this reference or from here; wait before checking \
             again, or ask the liaison office",
            code_name(Code::ResourceExhausted)
        )),
        _ => status.into(),
    }
}

async fn status(a: StatusArgs, ctx: &Context) -> Result<(), CliError> {
    let reference = a.reference.trim().to_string();
    let code = a.code.trim().to_string();
    if reference.is_empty() || code.is_empty() {
        return Err(CliError::input(
            "the status check needs the reference and the access code the family was given",
        ));
    }
    let response = ctx
        .notification()?
        .check_inquiry_status(pb::CheckInquiryStatusRequest {
            reference: reference.clone(),
            access_code: code,
        })
        .await
        .map_err(|s| status_refusal(s, &reference))?
        .into_inner();
    output::show(ctx.output, &FamilyStatusView::new(reference, &response))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::tests::parse_inquiry as parse;

    const MINIMAL: [&str; 12] = [
        "create",
        "--requester-family",
        "Коваленко",
        "--relationship",
        "mother",
        "--language",
        "uk",
        "--family",
        "Коваленко",
        "--consent-method",
        "oral",
        "--intake=phone",
    ];

    fn create(extra: &[&str]) -> Result<CreateArgs, clap::Error> {
        let mut argv = MINIMAL.to_vec();
        argv.extend_from_slice(extra);
        parse(&argv).map(|c| match c {
            InquiryCommand::Create(a) => *a,
            other => panic!("not create: {other:?}"),
        })
    }

    fn at(seconds: i64) -> prost_types::Timestamp {
        prost_types::Timestamp { seconds, nanos: 0 }
    }

    #[test]
    fn create_flags_become_one_inquiry_with_tracing_consent_always_recorded() {
        let a = create(&[
            "--requester-given",
            "Олена",
            "--relationship-detail",
            "mother",
            "--phone",
            "+380671234567",
            "--email",
            "olena@example.org",
            "--given",
            "Олександр",
            "--name",
            "Oleksandr|Kovalenko||latin",
            "--birth-date",
            "1990-05",
            "--category",
            "service-member",
            "--unit",
            "36th brigade",
            "--last-contact-date",
            "2024-03-02",
            "--contact-consent",
            "--office",
            "Kyiv",
            "--request-id",
            "r-1",
        ])
        .unwrap();
        let request_id = a.request_id.get();
        let r = a.into_request(request_id, at(100));
        assert_eq!(r.request_id, "r-1");
        let i = r.inquiry.unwrap();
        let requester = i.requester.unwrap();
        assert_eq!(requester.relationship, pb::Relationship::Parent as i32);
        assert_eq!(requester.relationship_detail, "mother");
        assert_eq!(requester.preferred_language, "uk");
        assert_eq!(requester.names[0].given, "Олена");
        assert_eq!(requester.contacts.len(), 2);
        assert!(requester.contacts[0].preferred && !requester.contacts[1].preferred);
        let sought = i.sought_person.unwrap();
        assert_eq!(sought.names.len(), 2);
        assert_eq!(sought.names[1].script, common::Script::Latin as i32);
        assert!(
            sought
                .names
                .iter()
                .all(|n| n.source == common::InformationSource::Family as i32)
        );
        assert_eq!(
            sought.category,
            common::PersonCategory::ServiceMember as i32
        );
        assert_eq!(sought.last_contact_date.unwrap().day, 2);
        let purposes: Vec<i32> = i.consents.iter().map(|c| c.purpose).collect();
        assert_eq!(
            purposes,
            [
                pb::ConsentPurpose::Tracing as i32,
                pb::ConsentPurpose::Contact as i32
            ]
        );
        assert!(i.consents.iter().all(|c| {
            c.method == pb::ConsentMethod::Oral as i32 && c.grant_time == Some(at(100))
        }));
        assert_eq!(i.intake_channel, pb::IntakeChannel::Phone as i32);
        assert_eq!(i.office, "Kyiv");
    }

    #[test]
    fn without_contact_consent_only_tracing_is_recorded() {
        let i = create(&[])
            .unwrap()
            .into_request("r".into(), at(1))
            .inquiry
            .unwrap();
        assert_eq!(i.consents.len(), 1);
        assert_eq!(i.consents[0].purpose, pb::ConsentPurpose::Tracing as i32);
    }

    #[test]
    fn an_inquiry_needs_both_names_a_relationship_a_language_consent_and_an_intake() {
        for missing in [
            "--requester-family",
            "--relationship",
            "--language",
            "--family",
            "--consent-method",
        ] {
            let i = MINIMAL.iter().position(|a| *a == missing).unwrap();
            let mut argv = MINIMAL.to_vec();
            argv.drain(i..i + 2);
            assert!(parse(&argv).is_err(), "{missing} is required");
        }
        let mut argv = MINIMAL.to_vec();
        argv.pop();
        assert!(parse(&argv).is_err(), "--intake is required");
    }

    #[test]
    fn bad_words_and_values_in_create_are_usage_errors() {
        for bad in [
            &["--relationship", "cousin"][..],
            &["--language", "de"],
            &["--intake", "carrier-pigeon"],
            &["--consent-method", "nodded"],
            &["--birth-date", "1990-13"],
            &["--phone", "12345"],
            &["--messenger", "telegram:"],
            &["--consent-time", "yesterday"],
        ] {
            assert!(create(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn list_filters_become_the_request() {
        let InquiryCommand::List(a) = parse(&[
            "list",
            "--state",
            "open",
            "--verification",
            "unverified",
            "--office",
            " Kyiv ",
            "--person",
            "p1",
            "--flagged",
            "--reference",
            "HW-4K7Q-9MZD",
        ])
        .unwrap() else {
            panic!("not list");
        };
        let r = a.into_request();
        assert_eq!(r.state, pb::InquiryState::Open as i32);
        assert_eq!(
            r.verification_state,
            pb::VerificationState::Unverified as i32
        );
        assert_eq!(r.office, "Kyiv");
        assert_eq!(r.person_id, "p1");
        assert!(r.flagged_only);
        assert_eq!(r.reference, "HW-4K7Q-9MZD");
        assert!(parse(&["list", "--state", "pending"]).is_err());
    }

    #[test]
    fn a_refused_status_check_does_not_tell_a_wrong_code_from_an_unknown_reference() {
        let err = status_refusal(tonic::Status::not_found("not found"), "HW-1");
        let text = err.to_string();
        assert!(text.contains("HW-1 with that access code"), "{text}");
        assert!(text.contains("reissue-code"), "{text}");
        let err = status_refusal(tonic::Status::resource_exhausted("slow down"), "HW-1");
        assert!(err.to_string().contains("too many failed checks"), "{err}");
        let err = status_refusal(tonic::Status::unavailable("down"), "HW-1");
        assert!(matches!(err, CliError::Rpc { .. }));
        assert!(parse(&["status", "HW-1"]).is_err(), "the code is required");
    }
}
