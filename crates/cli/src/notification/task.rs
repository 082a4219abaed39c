//! `homewardctl task`: news a trained officer delivers in person. Capture and death are never
//! sent by SMS, email or messenger; they become a task, assigned to an officer and closed by a
//! recorded visit or call. A family not reached leaves the task open for another attempt.
//!
//! Changes send the task's etag, read just before unless given.

use clap::{ArgGroup, Args, Subcommand};
use homeward_proto::notification::v1 as pb;

use super::{Prepared, now, text};
use crate::{
    Context, RequestId, args,
    args::TaskStateArg,
    client::all_pages,
    error::CliError,
    output::{self, OutputFormat},
    view::notification::{TaskListView, TaskView},
};

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// List tasks, oldest due first.
    List(ListArgs),
    /// Show one task with its attempts.
    Get(TaskArg),
    /// Assign a task to an officer.
    Assign(AssignArgs),
    /// Record a visit or call: delivered, not reached, or referred elsewhere.
    Attempt(AttemptArgs),
}

pub async fn run(command: TaskCommand, ctx: &Context) -> Result<(), CliError> {
    match command {
        TaskCommand::List(a) => list(a, ctx).await,
        TaskCommand::Get(a) => get(a, ctx).await,
        TaskCommand::Assign(a) => assign(a, ctx).await,
        TaskCommand::Attempt(a) => attempt(a, ctx).await,
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only tasks in this state.
    #[arg(long, value_enum, ignore_case = true)]
    state: Option<TaskStateArg>,
    /// Only tasks assigned to this officer.
    #[arg(long, value_name = "OFFICER")]
    assignee: Option<String>,
    /// Only tasks of this office.
    #[arg(long)]
    office: Option<String>,
}

#[derive(Debug, Args)]
pub struct TaskArg {
    /// The task's id, as `task list` prints it.
    #[arg(value_name = "TASK")]
    id: String,
}

/// The task a change is made to, and how the change is sent.
#[derive(Debug, Args)]
pub struct TaskStep {
    /// The task's id, as `task list` prints it.
    #[arg(value_name = "TASK")]
    task_id: String,
    /// Refuse the change unless the task still has this etag (from `task get`) [default: the
    /// task as it is read just before].
    #[arg(long)]
    etag: Option<String>,
    #[command(flatten)]
    request_id: RequestId,
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    #[command(flatten)]
    step: TaskStep,
    /// The officer who delivers the news, as their token names them.
    #[arg(long, value_name = "OFFICER")]
    to: String,
    /// When it must be done by, RFC 3339.
    #[arg(long, value_name = "RFC3339", value_parser = args::timestamp)]
    due: Option<prost_types::Timestamp>,
}

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("outcome")
        .required(true)
        .args(["delivered", "not_reached", "referred"])
))]
pub struct AttemptArgs {
    #[command(flatten)]
    step: TaskStep,
    /// The family was told; the task is done.
    #[arg(long)]
    delivered: bool,
    /// Nobody could be reached; the task stays open.
    #[arg(long)]
    not_reached: bool,
    /// Handed to another office or the tracing agency; the task is done here.
    #[arg(long)]
    referred: bool,
    /// With --referred: who took it over.
    #[arg(long, value_name = "WHERE", conflicts_with_all = ["delivered", "not_reached"])]
    to: Option<String>,
    /// The officer who visited or called.
    #[arg(long, value_name = "NAME")]
    officer: String,
    /// Psychological or social support was offered to the family.
    #[arg(long)]
    support_offered: bool,
    /// What happened, for the next officer.
    #[arg(long)]
    note: Option<String>,
    /// When the family was visited or called, RFC 3339 [default: now].
    #[arg(long, value_name = "RFC3339", value_parser = args::timestamp)]
    time: Option<prost_types::Timestamp>,
}

impl TaskStep {
    async fn prepare(self, ctx: &Context) -> Result<Prepared, CliError> {
        let mut client = ctx.notification()?;
        let id = self.task_id.trim().to_string();
        let request_id = self.request_id.get();
        let given = text(self.etag);
        if !given.is_empty() {
            return Ok(Prepared::new(client, id, given, false, request_id));
        }
        let etag = client
            .get_task(pb::GetTaskRequest { id: id.clone() })
            .await?
            .into_inner()
            .task
            .unwrap_or_default()
            .etag;
        Ok(Prepared::new(client, id, etag, true, request_id))
    }
}

impl AttemptArgs {
    fn outcome(&self) -> pb::TaskAttemptOutcome {
        if self.delivered {
            pb::TaskAttemptOutcome::Delivered
        } else if self.referred {
            pb::TaskAttemptOutcome::Referred
        } else {
            pb::TaskAttemptOutcome::NotReached
        }
    }

    /// The attempt as recorded at `occur_time`.
    fn attempt(&self, occur_time: prost_types::Timestamp) -> pb::TaskAttempt {
        pb::TaskAttempt {
            outcome: self.outcome() as i32,
            occur_time: Some(occur_time),
            officer: self.officer.trim().to_string(),
            note: text(self.note.clone()),
            support_offered: self.support_offered,
            referred_to: text(self.to.clone()),
        }
    }
}

/// Shows a task and, at a terminal, where the family's contacts are and what is still to do.
fn show_task(ctx: &Context, task: Option<pb::Task>) -> Result<(), CliError> {
    let view = TaskView::from(&task.unwrap_or_default());
    output::show(ctx.output, &view)?;
    if ctx.output != OutputFormat::Table {
        return Ok(());
    }
    if view.kind == "withholding-review" {
        output::note(&format!(
            "decide whether the news would harm the person: the link awaiting review is listed by \
             `homewardctl inquiry links --inquiry {} --withholding-pending`; decide it with \
             `homewardctl link review-withholding <link-id> --withhold|--release`",
            view.inquiry_id
        ));
    } else if view.state == "open" || view.state == "assigned" {
        output::note(&format!(
            "the family's contacts: `homewardctl inquiry get {}`; after the visit or call, \
             `homewardctl task attempt {} --delivered|--not-reached|--referred --officer NAME`",
            view.inquiry_id, view.id
        ));
    }
    Ok(())
}

impl ListArgs {
    fn into_request(self) -> pb::ListTasksRequest {
        pb::ListTasksRequest {
            page_size: 0,
            page_token: String::new(),
            state: self.state.map(pb::TaskState::from).unwrap_or_default() as i32,
            assignee: text(self.assignee),
            office: text(self.office),
        }
    }
}

async fn list(a: ListArgs, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.notification()?;
    let request = a.into_request();
    let tasks = all_pages(|page_token| {
        let mut client = client.clone();
        let request = pb::ListTasksRequest {
            page_token,
            ..request.clone()
        };
        async move {
            let page = client.list_tasks(request).await?.into_inner();
            Ok((page.tasks, page.next_page_token))
        }
    })
    .await?;
    output::show(
        ctx.output,
        &TaskListView {
            tasks: tasks.iter().map(TaskView::from).collect(),
        },
    )
}

async fn get(a: TaskArg, ctx: &Context) -> Result<(), CliError> {
    let response = ctx
        .notification()?
        .get_task(pb::GetTaskRequest {
            id: a.id.trim().to_string(),
        })
        .await?
        .into_inner();
    show_task(ctx, response.task)
}

async fn assign(a: AssignArgs, ctx: &Context) -> Result<(), CliError> {
    let mut p = a.step.prepare(ctx).await?;
    let request = pb::AssignTaskRequest {
        request_id: p.request_id.clone(),
        task_id: p.id.clone(),
        etag: p.etag.clone(),
        assignee: a.to.trim().to_string(),
        due_time: a.due,
    };
    let response = match p.client.assign_task(request).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(p.failed(s)),
    };
    show_task(ctx, response.task)
}

async fn attempt(a: AttemptArgs, ctx: &Context) -> Result<(), CliError> {
    let (occur_time, filled_in) = match a.time {
        Some(t) => (t, false),
        None => (now(), true),
    };
    let attempt = a.attempt(occur_time);
    let mut p = a.step.prepare(ctx).await?;
    if filled_in {
        // A retry must send the same time to be the same request.
        p.repeat_on_retry("--time", &args::timestamp_text(&occur_time));
    }
    let request = pb::RecordTaskAttemptRequest {
        request_id: p.request_id.clone(),
        task_id: p.id.clone(),
        etag: p.etag.clone(),
        attempt: Some(attempt),
    };
    let response = match p.client.record_task_attempt(request).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(p.failed(s)),
    };
    show_task(ctx, response.task)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::tests::parse_task as parse;

    #[test]
    fn an_attempt_takes_one_outcome_and_a_referral_names_where() {
        let TaskCommand::Attempt(a) = parse(&[
            "attempt",
            "t1",
            "--referred",
            "--to",
            "Lviv office",
            "--officer",
            "liaison-2",
            "--support-offered",
            "--note",
            "the family moved",
        ])
        .unwrap() else {
            panic!("not attempt");
        };
        let attempt = a.attempt(prost_types::Timestamp {
            seconds: 100,
            nanos: 0,
        });
        assert_eq!(attempt.outcome, pb::TaskAttemptOutcome::Referred as i32);
        assert_eq!(attempt.referred_to, "Lviv office");
        assert!(attempt.support_offered);
        assert_eq!(attempt.occur_time.unwrap().seconds, 100);
        let base = ["attempt", "t1", "--officer", "liaison-2"];
        assert!(parse(&base).is_err(), "an outcome is required");
        for bad in [
            &["--delivered", "--not-reached"][..],
            &["--delivered", "--to", "Lviv office"],
            &["--delivered", "--time", "tomorrow"],
        ] {
            let mut argv = base.to_vec();
            argv.extend_from_slice(bad);
            assert!(parse(&argv).is_err(), "{bad:?}");
        }
        assert!(
            parse(&["attempt", "t1", "--delivered"]).is_err(),
            "an officer is required"
        );
    }

    #[test]
    fn assigning_needs_an_officer_and_takes_a_due_time() {
        let TaskCommand::Assign(a) = parse(&[
            "assign",
            "t1",
            "--to",
            "liaison-2",
            "--due",
            "2025-05-23T10:00:00Z",
        ])
        .unwrap() else {
            panic!("not assign");
        };
        assert_eq!(a.to, "liaison-2");
        assert_eq!(a.due.unwrap().seconds, 1_747_994_400);
        assert!(parse(&["assign", "t1"]).is_err());
        assert!(parse(&["list", "--state", "done", "--assignee", "liaison-2"]).is_ok());
        assert!(parse(&["list", "--state", "finished"]).is_err());
    }
}
