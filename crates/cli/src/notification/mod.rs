//! The commands of the family notification service: `homewardctl inquiry` (families' inquiries,
//! the requester's verification and consent, candidate persons, the family's status check),
//! `homewardctl link` (confirming, rejecting and withholding the news of an inquiry's link to a
//! registered person), `homewardctl notification` (what families were told and its deliveries,
//! the event stream, the audit log) and `homewardctl task` (grave news an officer delivers in
//! person).
//!
//! Like `person` and `exchange`, each verb builds one request from its flags and shows the
//! answer; whether a step is allowed is the service's decision, never this client's. Mutations
//! send a fresh request id and the record's etag, read just before unless given. A family's
//! contact addresses are printed in full by `inquiry get` only, and an access code only when it
//! is issued.

mod contacts;
mod delivery;
mod events;
pub mod inquiry;
pub mod link;
mod requester;
pub mod task;

use clap::{Args, Subcommand};
use homeward_proto::notification::v1 as pb;

use crate::{
    Context, RequestId,
    audit::{self, AuditCommand},
    client::Notification,
    error::{CliError, Service, shell_word},
    events::EventsArgs,
};

#[derive(Debug, Subcommand)]
pub enum NotificationCommand {
    /// List what families were told or are to be told, newest first.
    List(delivery::ListArgs),
    /// Show one notification: its text and each of its deliveries.
    Get(delivery::GetArgs),
    /// List deliveries by state, channel or notification, such as the dead-letter queue.
    Deliveries(delivery::DeliveriesArgs),
    /// Put a dead-lettered or failed delivery back in the queue, once its cause is fixed.
    Retry(delivery::RetryArgs),
    /// Show the notification service's events after a cursor, or follow them as they happen.
    Events(EventsArgs),
    /// The notification service's audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

pub async fn run(command: NotificationCommand, ctx: &Context) -> Result<(), CliError> {
    match command {
        NotificationCommand::List(a) => delivery::list(a, ctx).await,
        NotificationCommand::Get(a) => delivery::get(a, ctx).await,
        NotificationCommand::Deliveries(a) => delivery::deliveries(a, ctx).await,
        NotificationCommand::Retry(a) => delivery::retry(a, ctx).await,
        NotificationCommand::Events(a) => events::events(a, ctx).await,
        NotificationCommand::Audit(c) => audit::run(c, ctx, Service::Notification).await,
    }
}

fn text(value: Option<String>) -> String {
    value.map(|v| v.trim().to_string()).unwrap_or_default()
}

/// The time now, for a time a flag leaves out.
fn now() -> prost_types::Timestamp {
    let now = time::OffsetDateTime::now_utc();
    prost_types::Timestamp {
        seconds: now.unix_timestamp(),
        nanos: now.nanosecond() as i32,
    }
}

/// What a change of one record sends besides its own fields: the record's id and etag, the
/// request id, and the flags a retry must repeat to be the same request.
struct Prepared {
    client: Notification,
    id: String,
    etag: String,
    request_id: String,
    retry_flags: Vec<String>,
}

impl Prepared {
    /// `etag` is the one given, or the one read just before when `read` is set; a read etag must
    /// be repeated by a retry.
    fn new(client: Notification, id: String, etag: String, read: bool, request_id: String) -> Self {
        let retry_flags = if read {
            vec![format!("--etag {}", shell_word(&etag))]
        } else {
            Vec::new()
        };
        Self {
            client,
            id,
            etag,
            request_id,
            retry_flags,
        }
    }

    /// A value this command filled in itself (such as a time that defaults to now), which a
    /// retry must send again.
    fn repeat_on_retry(&mut self, flag: &str, value: &str) {
        self.retry_flags
            .push(format!("{flag} {}", shell_word(value)));
    }

    fn failed(&self, status: tonic::Status) -> CliError {
        CliError::from(status).with_retry(&self.request_id, &self.retry_flags.join(" "))
    }
}

/// The inquiry a change is made to, and how the change is sent.
#[derive(Debug, Args)]
pub struct InquiryStep {
    /// The inquiry's id, as `inquiry create` or `inquiry list` prints it.
    #[arg(value_name = "INQUIRY")]
    inquiry_id: String,
    /// Refuse the change unless the inquiry still has this etag (from `inquiry get`) [default:
    /// the inquiry as it is read just before].
    #[arg(long)]
    etag: Option<String>,
    #[command(flatten)]
    request_id: RequestId,
}

impl InquiryStep {
    /// Reads the inquiry's etag unless it was given.
    async fn prepare(self, ctx: &Context) -> Result<Prepared, CliError> {
        let mut client = ctx.notification()?;
        let id = self.inquiry_id.trim().to_string();
        let given = text(self.etag);
        let request_id = self.request_id.get();
        if !given.is_empty() {
            return Ok(Prepared::new(client, id, given, false, request_id));
        }
        let etag = client
            .get_inquiry(pb::GetInquiryRequest { id: id.clone() })
            .await?
            .into_inner()
            .inquiry
            .unwrap_or_default()
            .etag;
        Ok(Prepared::new(client, id, etag, true, request_id))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Harness<C: Subcommand> {
        #[command(subcommand)]
        command: C,
    }

    /// Parses `args` as the words after `homewardctl <noun>`.
    fn parse<C: Subcommand>(noun: &str, args: &[&str]) -> Result<C, clap::Error> {
        let mut argv = vec![noun];
        argv.extend_from_slice(args);
        Harness::<C>::try_parse_from(argv).map(|h| h.command)
    }

    pub(crate) fn parse_inquiry(args: &[&str]) -> Result<inquiry::InquiryCommand, clap::Error> {
        parse("inquiry", args)
    }

    pub(crate) fn parse_link(args: &[&str]) -> Result<link::LinkCommand, clap::Error> {
        parse("link", args)
    }

    pub(crate) fn parse_notification(args: &[&str]) -> Result<NotificationCommand, clap::Error> {
        parse("notification", args)
    }

    pub(crate) fn parse_task(args: &[&str]) -> Result<task::TaskCommand, clap::Error> {
        parse("task", args)
    }

    #[tokio::test]
    async fn a_retry_repeats_a_read_etag_and_every_value_filled_in() {
        let client = crate::client::notification("http://127.0.0.1:1", Some("t")).unwrap();
        let mut p = Prepared::new(client, "t1".into(), "\"3\"".into(), true, "r-1".into());
        p.repeat_on_retry("--time", "2025-05-20T09:00:00Z");
        let report = p
            .failed(tonic::Status::unavailable("gone"))
            .report(Service::Notification, "u");
        assert!(
            report.contains("--request-id r-1 --etag '\"3\"' --time 2025-05-20T09:00:00Z so"),
            "{report}"
        );
    }
}
