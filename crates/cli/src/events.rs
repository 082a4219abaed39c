//! The services' event streams, read from a cursor: `homewardctl exchange events` and
//! `homewardctl notification events`. A service never ends its stream (it follows new events as
//! they happen), so without --follow a command stops once no event has come for --idle, and
//! names the cursor to go on from.
//!
//! What an event means is its service module's business (a `summary` function); this module
//! only reads and prints, and must never add to what an event carries.

use std::time::Duration;

use clap::Args;
use homeward_proto::common::v1 as common;

use crate::{
    Context, args,
    error::{CliError, Service},
    output::{self, OutputFormat},
    view::{EventView, EventsView},
};

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Start after this cursor, as printed by an earlier run [default: the beginning].
    #[arg(long, value_name = "CURSOR")]
    after: Option<String>,
    /// Only events of this type, such as exchange.phase.state_changed or
    /// notification.task.created; repeatable.
    #[arg(long = "type", value_name = "TYPE")]
    types: Vec<String>,
    /// Keep printing new events as they happen, one per line, until interrupted.
    #[arg(long)]
    follow: bool,
    /// Without --follow, stop once no event has come for this long.
    #[arg(long, default_value = "2s", value_parser = args::duration, conflicts_with = "follow")]
    idle: Duration,
}

impl EventsArgs {
    /// The cursor to start after; empty for the beginning.
    pub fn after(&self) -> String {
        self.after
            .as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .to_string()
    }

    /// The event types asked for; empty for all.
    pub fn types(&self) -> Vec<String> {
        self.types.iter().map(|t| t.trim().to_string()).collect()
    }
}

/// An open event stream of one service and how to read it.
pub struct Feed<R> {
    pub stream: tonic::Streaming<R>,
    /// The event a streamed message carries.
    pub event: fn(R) -> common::Event,
    /// What an event says, in a few words; empty when it is not known.
    pub summary: fn(&common::Event) -> String,
    pub service: Service,
    /// The command that reads this stream, such as `exchange events`, for the resume note.
    pub command: &'static str,
}

/// Prints the events of `feed` as `a` asks: a table once the stream goes quiet, or one line per
/// event as they come with --follow.
pub async fn show<R>(feed: Feed<R>, a: EventsArgs, ctx: &Context) -> Result<(), CliError> {
    let Feed {
        mut stream,
        event: event_of,
        summary,
        service,
        command,
    } = feed;
    let resume_note = |cursor: &str| {
        if !cursor.is_empty() {
            output::note(&format!(
                "go on from here with `homewardctl {command} --after {cursor}`"
            ));
        }
    };
    let mut last_cursor = a.after();
    if a.follow {
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        loop {
            let message = tokio::select! {
                message = stream.message() => message,
                _ = &mut interrupted => break,
            };
            let event = match message {
                Ok(Some(response)) => event_of(response),
                Ok(None) => {
                    output::note(&format!("the {} ended the stream", service.name()));
                    break;
                }
                Err(status) => {
                    resume_note(&last_cursor);
                    return Err(status.into());
                }
            };
            let view = EventView::new(&event, summary(&event));
            let line = match ctx.output {
                OutputFormat::Table => view.line(),
                // One object per line, so a script can read events as they come.
                OutputFormat::Json => serde_json::to_string(&view)
                    .map_err(|e| CliError::Failed(format!("could not write JSON: {e}")))?,
            };
            output::print(&line)?;
            last_cursor = view.cursor;
        }
        resume_note(&last_cursor);
        return Ok(());
    }
    let mut events = Vec::new();
    loop {
        let event = match tokio::time::timeout(a.idle, stream.message()).await {
            // Quiet for --idle: caught up.
            Err(_) | Ok(Ok(None)) => break,
            Ok(Ok(Some(response))) => event_of(response),
            Ok(Err(status)) => return Err(status.into()),
        };
        events.push(EventView::new(&event, summary(&event)));
    }
    if let Some(last) = events.last() {
        last_cursor = last.cursor.clone();
    }
    output::show(
        ctx.output,
        &EventsView {
            events,
            last_cursor: last_cursor.clone(),
        },
    )?;
    if ctx.output == OutputFormat::Table {
        resume_note(&last_cursor);
    }
    Ok(())
}
