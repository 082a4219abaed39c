//! `homewardctl person`: register, import, look up and list persons, record their status
//! changes, match lists against the registry and merge duplicates. Each verb builds one request
//! from its flags and shows the answer; validation of the record itself is left to the registry,
//! which reports every refused field at once.

pub(crate) mod csv_file;
mod import;
mod matching;
mod merge;

use clap::{ArgGroup, Args, Subcommand};
use homeward_proto::{common::v1 as common, registry::v1 as pb};

use crate::{
    Context, RequestId,
    args::{self, CategoryArg, InitialStatusArg, ReliabilityArg, SexArg, SourceArg, StatusArg},
    error::CliError,
    output::{self, OutputFormat},
    view::{
        CreatedView, HistoryView, PersonListView, PersonView, SearchView, StatusChangeView,
        StatusChangedView,
    },
};

#[derive(Debug, Subcommand)]
pub enum PersonCommand {
    /// Register one person.
    Create(Box<CreateArgs>),
    /// Show one person's full record.
    Get(GetArgs),
    /// List persons by status, category or party, in registration order.
    List(ListArgs),
    /// Find persons by a name in any script, best match first.
    Search(SearchArgs),
    /// Show a person's status history, oldest first.
    History(GetArgs),
    /// Record a change of status (transfer, hospital stay, release, death, ...).
    Status(StatusArgs),
    /// Import persons from a CSV file.
    #[command(long_about = import::LONG_ABOUT)]
    Import(import::ImportArgs),
    /// Match a CSV list of identities, as another party wrote them, against the registry.
    #[command(long_about = matching::LONG_ABOUT)]
    Match(matching::MatchArgs),
    /// Find pairs of registered persons that may be one person.
    Duplicates(merge::DuplicatesArgs),
    /// Mark a person as the duplicate of another (reversible with unmerge).
    Merge(merge::MergeArgs),
    /// Undo a merge: the duplicate becomes a person of its own again.
    Unmerge(merge::UnmergeArgs),
}

pub async fn run(command: PersonCommand, ctx: &Context) -> Result<(), CliError> {
    match command {
        PersonCommand::Create(a) => create(*a, ctx).await,
        PersonCommand::Get(a) => get(a, ctx).await,
        PersonCommand::List(a) => list(a, ctx).await,
        PersonCommand::Search(a) => search(a, ctx).await,
        PersonCommand::History(a) => history(a, ctx).await,
        PersonCommand::Status(a) => status(a, ctx).await,
        PersonCommand::Import(a) => import::import(a, ctx).await,
        PersonCommand::Match(a) => matching::match_persons(a, ctx).await,
        PersonCommand::Duplicates(a) => merge::duplicates(a, ctx).await,
        PersonCommand::Merge(a) => merge::merge(a, ctx).await,
        PersonCommand::Unmerge(a) => merge::unmerge(a, ctx).await,
    }
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("a_name").required(true).multiple(true).args(["given", "family", "names"])))]
pub struct CreateArgs {
    /// Whether the person is a service member or a civilian.
    #[arg(long, value_enum, ignore_case = true)]
    category: CategoryArg,
    /// Left out when not known.
    #[arg(long, value_enum, ignore_case = true)]
    sex: Option<SexArg>,
    /// Given name of the first name variant.
    #[arg(long)]
    given: Option<String>,
    /// Family name of the first name variant.
    #[arg(long)]
    family: Option<String>,
    /// Patronymic of the first name variant.
    #[arg(long)]
    patronymic: Option<String>,
    /// A further name variant, such as a transliteration; repeatable. The script is cyrillic,
    /// latin or left empty to be detected.
    #[arg(long = "name", value_name = "GIVEN|FAMILY|PATRONYMIC|SCRIPT", value_parser = args::name_variant)]
    names: Vec<common::PersonName>,
    /// Date of birth, as far as it is known.
    #[arg(long, value_name = "YYYY[-MM[-DD]]", value_parser = args::partial_date)]
    birth_date: Option<common::PartialDate>,
    /// Place of birth.
    #[arg(long)]
    birth_place: Option<String>,
    /// ISO 3166-1 alpha-2 code, such as UA.
    #[arg(long)]
    citizenship: Option<String>,
    /// The party the person belongs to, such as UA.
    #[arg(long)]
    affiliated_party: String,
    /// The party holding the person, such as RU.
    #[arg(long)]
    holding_party: String,
    /// Military service number.
    #[arg(long)]
    service_number: Option<String>,
    /// Military rank.
    #[arg(long)]
    rank: Option<String>,
    /// Military unit.
    #[arg(long)]
    unit: Option<String>,
    /// When the person was captured, as far as it is known.
    #[arg(long, value_name = "YYYY[-MM[-DD]]", value_parser = args::partial_date)]
    capture_date: Option<common::PartialDate>,
    /// Where the person was captured.
    #[arg(long)]
    capture_place: Option<String>,
    /// Where the person is held now.
    #[arg(long)]
    detention_place: Option<String>,
    /// The person is wounded (priority for repatriation).
    #[arg(long)]
    wounded: bool,
    /// The person is seriously ill (priority for repatriation).
    #[arg(long)]
    seriously_ill: bool,
    /// The bureau's own file reference; unique when set.
    #[arg(long)]
    file_reference: Option<String>,
    /// The status the person starts in.
    #[arg(long, value_enum, ignore_case = true, default_value = "captured")]
    status: InitialStatusArg,
    /// Where the information came from.
    #[arg(long, value_enum, ignore_case = true)]
    source: Option<SourceArg>,
    /// How reliable the source is (A to F or the words).
    #[arg(long, value_enum, ignore_case = true)]
    reliability: Option<ReliabilityArg>,
    #[command(flatten)]
    request_id: RequestId,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The person's id, as printed by create, list or search.
    id: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only persons with this current status.
    #[arg(long, value_enum, ignore_case = true)]
    status: Option<StatusArg>,
    /// Only service members or only civilians.
    #[arg(long, value_enum, ignore_case = true)]
    category: Option<CategoryArg>,
    /// Only persons held by this party, such as RU.
    #[arg(long)]
    holding_party: Option<String>,
    /// Only persons belonging to this party, such as UA.
    #[arg(long)]
    affiliated_party: Option<String>,
    /// Persons per page, at most 1000 [default: the registry's, 50].
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=1000))]
    page_size: Option<i32>,
    /// Start from a page token printed by an earlier list.
    #[arg(long)]
    page_token: Option<String>,
    /// Follow the pages to the end.
    #[arg(long)]
    all: bool,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// A name in any script and any order, such as "Коваленко Олександр".
    #[arg(required = true, num_args = 1..)]
    query: Vec<String>,
    /// Rank persons born then higher.
    #[arg(long, value_name = "YYYY[-MM[-DD]]", value_parser = args::partial_date)]
    birth_date: Option<common::PartialDate>,
    /// Leave out persons recorded with the other sex.
    #[arg(long, value_enum, ignore_case = true)]
    sex: Option<SexArg>,
    /// Only service members or only civilians.
    #[arg(long, value_enum, ignore_case = true)]
    category: Option<CategoryArg>,
    /// At most this many results, up to 100 [default: the registry's, 20].
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=100))]
    max: Option<i32>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The person's id.
    id: String,
    /// The new status.
    #[arg(long, value_enum, ignore_case = true)]
    to: StatusArg,
    /// Where the information came from.
    #[arg(long, value_enum, ignore_case = true)]
    source: Option<SourceArg>,
    /// How reliable the source is (A to F or the words).
    #[arg(long, value_enum, ignore_case = true)]
    reliability: Option<ReliabilityArg>,
    /// New place of detention (transfers, hospital stays).
    #[arg(long)]
    place: Option<String>,
    /// A free-text note kept with the history entry.
    #[arg(long)]
    note: Option<String>,
    /// When it happened, RFC 3339 [default: now].
    #[arg(long, value_name = "RFC3339", value_parser = args::timestamp)]
    occurred: Option<prost_types::Timestamp>,
    /// Date of a new capture (needed to return to captured after escape, release or repatriation).
    #[arg(long, value_name = "YYYY[-MM[-DD]]", value_parser = args::partial_date)]
    capture_date: Option<common::PartialDate>,
    /// Place of a new capture.
    #[arg(long)]
    capture_place: Option<String>,
    /// Refuse the change unless the record still has this etag (from `person get`).
    #[arg(long)]
    etag: Option<String>,
    #[command(flatten)]
    request_id: RequestId,
}

fn text(value: Option<String>) -> String {
    value.map(|v| v.trim().to_string()).unwrap_or_default()
}

fn capture(date: Option<common::PartialDate>, place: Option<String>) -> Option<pb::Capture> {
    (date.is_some() || place.is_some()).then(|| pb::Capture {
        date,
        place: text(place),
    })
}

impl CreateArgs {
    fn into_request(self, request_id: String) -> pb::CreatePersonRequest {
        let source = self
            .source
            .map(common::InformationSource::from)
            .unwrap_or_default();
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
            n.source = source as i32;
        }
        let person = pb::Person {
            category: common::PersonCategory::from(self.category) as i32,
            sex: self.sex.map(common::Sex::from).unwrap_or_default() as i32,
            names,
            birth_date: self.birth_date,
            birth_place: text(self.birth_place),
            citizenship: text(self.citizenship),
            affiliated_party: self.affiliated_party.trim().to_string(),
            holding_party: self.holding_party.trim().to_string(),
            service_number: text(self.service_number),
            rank: text(self.rank),
            unit: text(self.unit),
            capture: capture(self.capture_date, self.capture_place),
            detention_place: text(self.detention_place),
            health: Some(pb::Health {
                wounded: self.wounded,
                seriously_ill: self.seriously_ill,
            }),
            status: pb::PersonStatus::from(self.status) as i32,
            file_reference: text(self.file_reference),
            ..Default::default()
        };
        pb::CreatePersonRequest {
            request_id,
            person: Some(person),
            source: source as i32,
            reliability: self
                .reliability
                .map(common::Reliability::from)
                .unwrap_or_default() as i32,
        }
    }
}

async fn create(a: CreateArgs, ctx: &Context) -> Result<(), CliError> {
    let request_id = a.request_id.get();
    let request = a.into_request(request_id.clone());
    let response = ctx
        .registry()?
        .create_person(request)
        .await
        .map_err(|s| CliError::from(s).with_request_id(&request_id))?
        .into_inner();
    let view = CreatedView::from(&response);
    output::show(ctx.output, &view)?;
    if !view.possible_duplicates.is_empty() && ctx.output == OutputFormat::Table {
        output::note(&format!(
            "compare with `homewardctl person get <id>`; when they are one person, keep the \
             earlier record: `homewardctl person merge <id> {} --reason TEXT`",
            view.person.id
        ));
    }
    Ok(())
}

async fn get(a: GetArgs, ctx: &Context) -> Result<(), CliError> {
    let response = ctx
        .registry()?
        .get_person(pb::GetPersonRequest {
            id: a.id.trim().to_string(),
        })
        .await?
        .into_inner();
    output::show(
        ctx.output,
        &PersonView::from(&response.person.unwrap_or_default()),
    )
}

async fn list(a: ListArgs, ctx: &Context) -> Result<(), CliError> {
    let mut client = ctx.registry()?;
    let mut request = pb::ListPersonsRequest {
        page_size: a.page_size.unwrap_or_default(),
        page_token: text(a.page_token),
        status: a.status.map(pb::PersonStatus::from).unwrap_or_default() as i32,
        category: a
            .category
            .map(common::PersonCategory::from)
            .unwrap_or_default() as i32,
        holding_party: text(a.holding_party),
        affiliated_party: text(a.affiliated_party),
    };
    let mut persons = Vec::new();
    let next_page_token = loop {
        let page = client.list_persons(request.clone()).await?.into_inner();
        persons.extend(page.persons.iter().map(PersonView::from));
        // A token that does not move would loop forever; treat it as the end.
        if !a.all || page.next_page_token.is_empty() || page.next_page_token == request.page_token {
            break page.next_page_token;
        }
        request.page_token = page.next_page_token;
    };
    let more = !next_page_token.is_empty();
    let view = PersonListView {
        persons,
        next_page_token,
    };
    output::show(ctx.output, &view)?;
    if more && ctx.output == OutputFormat::Table {
        output::note(&format!(
            "more persons: pass --page-token {} for the next page, or --all",
            view.next_page_token
        ));
    }
    Ok(())
}

async fn search(a: SearchArgs, ctx: &Context) -> Result<(), CliError> {
    let query = a.query.join(" ");
    if query.trim().is_empty() {
        return Err(CliError::input("the search needs a name"));
    }
    let response = ctx
        .registry()?
        .search_persons(pb::SearchPersonsRequest {
            query,
            birth_date: a.birth_date,
            sex: a.sex.map(common::Sex::from).unwrap_or_default() as i32,
            category: a
                .category
                .map(common::PersonCategory::from)
                .unwrap_or_default() as i32,
            max_results: a.max.unwrap_or_default(),
        })
        .await?
        .into_inner();
    output::show(ctx.output, &SearchView::from(&response))
}

async fn history(a: GetArgs, ctx: &Context) -> Result<(), CliError> {
    let mut client = ctx.registry()?;
    let mut request = pb::GetPersonHistoryRequest {
        person_id: a.id.trim().to_string(),
        page_size: 0,
        page_token: String::new(),
    };
    let mut changes = Vec::new();
    loop {
        let page = client
            .get_person_history(request.clone())
            .await?
            .into_inner();
        changes.extend(page.changes.iter().map(StatusChangeView::from));
        if page.next_page_token.is_empty() || page.next_page_token == request.page_token {
            break;
        }
        request.page_token = page.next_page_token;
    }
    output::show(
        ctx.output,
        &HistoryView {
            person_id: request.person_id,
            changes,
        },
    )
}

async fn status(a: StatusArgs, ctx: &Context) -> Result<(), CliError> {
    let request_id = a.request_id.get();
    let request = pb::RecordStatusChangeRequest {
        request_id: request_id.clone(),
        person_id: a.id.trim().to_string(),
        etag: text(a.etag),
        change: Some(pb::StatusChange {
            status: pb::PersonStatus::from(a.to) as i32,
            occur_time: a.occurred,
            source: a
                .source
                .map(common::InformationSource::from)
                .unwrap_or_default() as i32,
            reliability: a
                .reliability
                .map(common::Reliability::from)
                .unwrap_or_default() as i32,
            detention_place: text(a.place),
            capture: capture(a.capture_date, a.capture_place),
            note: text(a.note),
            ..Default::default()
        }),
    };
    let response = ctx
        .registry()?
        .record_status_change(request)
        .await
        .map_err(|s| CliError::from(s).with_request_id(&request_id))?
        .into_inner();
    output::show(
        ctx.output,
        &StatusChangedView {
            person: PersonView::from(&response.person.unwrap_or_default()),
            change: response.change.as_ref().map(StatusChangeView::from),
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
        command: PersonCommand,
    }

    fn parse(args: &[&str]) -> Result<PersonCommand, clap::Error> {
        let mut argv = vec!["person"];
        argv.extend_from_slice(args);
        Harness::try_parse_from(argv).map(|h| h.command)
    }

    #[test]
    fn create_flags_become_one_person_with_every_name_variant() {
        let PersonCommand::Create(a) = parse(&[
            "create",
            "--category",
            "service-member",
            "--sex",
            "male",
            "--family",
            "Коваленко",
            "--given",
            "Олександр",
            "--name",
            "Oleksandr|Kovalenko||latin",
            "--birth-date",
            "1990-05",
            "--affiliated-party",
            "UA",
            "--holding-party",
            "RU",
            "--capture-place",
            "Mariupol",
            "--wounded",
            "--status",
            "interned",
            "--source",
            "other-party-list",
            "--reliability",
            "B",
            "--request-id",
            "r-1",
        ])
        .unwrap() else {
            panic!("not create");
        };
        let request_id = a.request_id.get();
        let r = a.into_request(request_id);
        assert_eq!(r.request_id, "r-1");
        assert_eq!(r.source, common::InformationSource::OtherPartyList as i32);
        assert_eq!(r.reliability, common::Reliability::UsuallyReliable as i32);
        let p = r.person.unwrap();
        assert_eq!(p.names.len(), 2);
        assert_eq!(p.names[0].family, "Коваленко");
        assert_eq!(p.names[1].script, common::Script::Latin as i32);
        assert!(p.names.iter().all(|n| n.source == r.source));
        assert_eq!(
            p.birth_date,
            Some(common::PartialDate {
                year: 1990,
                month: 5,
                day: 0
            })
        );
        assert_eq!(p.capture.unwrap().place, "Mariupol");
        assert!(p.health.unwrap().wounded);
        assert_eq!(p.status, pb::PersonStatus::Interned as i32);
        assert_eq!(p.category, common::PersonCategory::ServiceMember as i32);
    }

    #[test]
    fn create_without_any_name_or_with_a_bad_date_is_a_usage_error() {
        let base = [
            "create",
            "--category",
            "civilian",
            "--affiliated-party",
            "UA",
            "--holding-party",
            "RU",
        ];
        assert!(parse(&base).is_err());
        let mut with_bad_date = base.to_vec();
        with_bad_date.extend(["--family", "X", "--birth-date", "1990-02-30"]);
        let err = parse(&with_bad_date).unwrap_err();
        assert!(err.to_string().contains("that day does not exist"), "{err}");
    }

    #[test]
    fn a_fresh_request_id_is_made_for_each_mutation_unless_given() {
        let PersonCommand::Status(a) = parse(&["status", "p1", "--to", "transferred"]).unwrap()
        else {
            panic!("not status");
        };
        let (first, second) = (a.request_id.get(), a.request_id.get());
        assert_ne!(first, second);
        assert!(uuid::Uuid::parse_str(&first).is_ok());
    }

    #[test]
    fn search_joins_the_words_of_the_query() {
        let PersonCommand::Search(a) =
            parse(&["search", "Коваленко", "Олександр", "--max", "5"]).unwrap()
        else {
            panic!("not search");
        };
        assert_eq!(a.query.join(" "), "Коваленко Олександр");
        assert!(parse(&["search", "x", "--max", "500"]).is_err());
    }

    #[test]
    fn match_takes_a_file_and_checks_its_limits_before_anything_is_read() {
        let PersonCommand::Match(_) = parse(&[
            "match",
            "list.csv",
            "--min-confidence",
            "0.7",
            "--max-candidates",
            "3",
        ])
        .unwrap() else {
            panic!("not match");
        };
        assert!(parse(&["match", "list.csv", "--min-confidence", "0"]).is_err());
        assert!(parse(&["match", "list.csv", "--max-candidates", "21"]).is_err());
        assert!(parse(&["duplicates", "--page-size", "10001"]).is_err());
        assert!(
            parse(&[
                "duplicates",
                "--min-confidence",
                "0.9",
                "--page-size",
                "500"
            ])
            .is_ok()
        );
    }

    #[test]
    fn merge_and_unmerge_need_a_reason_and_take_a_request_id() {
        assert!(parse(&["merge", "p1", "p2"]).is_err());
        assert!(parse(&["unmerge", "p2"]).is_err());
        let PersonCommand::Merge(a) = parse(&[
            "merge",
            "p1",
            "p2",
            "--reason",
            "same passport",
            "--etag",
            "7",
            "--request-id",
            "r-9",
        ])
        .unwrap() else {
            panic!("not merge");
        };
        assert_eq!(a.request_id.get(), "r-9");
        assert!(
            parse(&[
                "unmerge",
                "p2",
                "--reason",
                "different persons",
                "--request-id",
                "r-10"
            ])
            .is_ok()
        );
    }
}
