//! `homewardctl`: the Homeward admin client. It mints tokens, registers and imports persons,
//! records status changes, matches lists and merges duplicates, and verifies the audit log,
//! talking gRPC to the registry; and it records exchange agreements and runs their phases (lists,
//! reconciliation, consent, hold-backs, the handover and its report), talking to the exchange
//! service; and it takes families' inquiries, links them to registered persons and follows what
//! families are told (deliveries, in-person tasks), talking to the notification service.
//!
//! One module per noun (`token`, `person`, `audit`, `agreement`, `exchange`, `inquiry`, `link`,
//! `notification`, `task`), one function per verb. Results go to stdout
//! as tables or `--output json`; errors go to stderr with a hint. The client holds no state and
//! never writes personal data anywhere but stdout, and the file a manifest is asked to go to.

#![forbid(unsafe_code)]

mod args;
mod audit;
mod client;
mod error;
mod events;
mod exchange;
mod notification;
mod output;
mod person;
mod token;
mod view;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::{
    error::{CliError, Service},
    output::OutputFormat,
};

const GLOBAL: &str = "Global options";

#[derive(Debug, Parser)]
#[command(
    name = "homewardctl",
    version,
    about = "Homeward admin client",
    propagate_version = true
)]
struct Cli {
    /// Address of the registry service.
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "HOMEWARD_REGISTRY_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    registry: String,
    /// Address of the exchange service.
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "HOMEWARD_EXCHANGE_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    exchange_url: String,
    /// Address of the notification service.
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "HOMEWARD_NOTIFICATION_URL",
        default_value = "http://127.0.0.1:50053"
    )]
    notification_url: String,
    /// Bearer token for the services (see `homewardctl token mint`).
    #[arg(long, global = true, help_heading = GLOBAL, env = "HOMEWARD_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// How to print results: tables for people, JSON for scripts.
    #[arg(long, global = true, help_heading = GLOBAL, value_enum, default_value_t = OutputFormat::Table)]
    output: OutputFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Bearer tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Persons in the registry: register, import, look up, record status changes, match lists,
    /// merge duplicates.
    #[command(subcommand)]
    Person(person::PersonCommand),
    /// The registry's audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Exchange agreements between two parties: record, look up, list.
    #[command(subcommand)]
    Agreement(exchange::agreement::AgreementCommand),
    /// Exchange phases: lists, reconciliation, consent, hold-backs, the handover, its report and
    /// manifest, the event stream and the audit log.
    #[command(subcommand)]
    Exchange(exchange::ExchangeCommand),
    /// Families' inquiries: intake and access codes, verifying the requester, consent, candidate
    /// persons and links, the family's status check.
    #[command(subcommand)]
    Inquiry(notification::inquiry::InquiryCommand),
    /// Decide a link between an inquiry and a registered person: confirm, reject, withhold its
    /// news for review.
    #[command(subcommand)]
    Link(notification::link::LinkCommand),
    /// What families were told and its deliveries, the notification service's event stream and
    /// audit log.
    #[command(subcommand)]
    Notification(notification::NotificationCommand),
    /// Grave news delivered in person: assign, record visits and calls.
    #[command(subcommand)]
    Task(notification::task::TaskCommand),
}

impl Command {
    /// The service the command talks to, which its error hints name.
    fn service(&self) -> Service {
        match self {
            Self::Agreement(_) | Self::Exchange(_) => Service::Exchange,
            Self::Inquiry(_) | Self::Link(_) | Self::Notification(_) | Self::Task(_) => {
                Service::Notification
            }
            Self::Token(_) | Self::Person(_) | Self::Audit(_) => Service::Registry,
        }
    }
}

/// What every command may need: where the services are, the token and the output format.
pub struct Context {
    registry_url: String,
    exchange_url: String,
    notification_url: String,
    token: Option<String>,
    pub output: OutputFormat,
}

impl Context {
    pub fn registry(&self) -> Result<client::Registry, CliError> {
        client::registry(&self.registry_url, self.token.as_deref())
    }

    pub fn exchange(&self) -> Result<client::Exchange, CliError> {
        client::exchange(&self.exchange_url, self.token.as_deref())
    }

    pub fn notification(&self) -> Result<client::Notification, CliError> {
        client::notification(&self.notification_url, self.token.as_deref())
    }

    fn url(&self, service: Service) -> &str {
        match service {
            Service::Registry => &self.registry_url,
            Service::Exchange => &self.exchange_url,
            Service::Notification => &self.notification_url,
        }
    }
}

/// The request id of a mutation: a service does a request at most once per id, so a retry with
/// the same id cannot register a person, or submit a list, twice.
#[derive(Debug, Args)]
pub struct RequestId {
    /// Idempotency key of this change; reuse it to retry safely [default: a fresh UUID v4].
    #[arg(long)]
    request_id: Option<String>,
}

impl RequestId {
    pub fn get(&self) -> String {
        self.request_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = Context {
        registry_url: cli.registry,
        exchange_url: cli.exchange_url,
        notification_url: cli.notification_url,
        token: cli.token,
        output: cli.output,
    };
    let service = cli.command.service();
    let result = match cli.command {
        Command::Token(c) => token::run(c, ctx.output),
        Command::Person(c) => person::run(c, &ctx).await,
        Command::Audit(c) => audit::run(c, &ctx, Service::Registry).await,
        Command::Agreement(c) => exchange::agreement::run(c, &ctx).await,
        Command::Exchange(c) => exchange::run(c, &ctx).await,
        Command::Inquiry(c) => notification::inquiry::run(c, &ctx).await,
        Command::Link(c) => notification::link::run(c, &ctx).await,
        Command::Notification(c) => notification::run(c, &ctx).await,
        Command::Task(c) => notification::task::run(c, &ctx).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::note(&e.report(service, ctx.url(service)));
            e.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_verb() {
        let cli = Cli::try_parse_from([
            "homewardctl",
            "person",
            "get",
            "p1",
            "--output",
            "json",
            "--registry",
            "http://r:1",
        ])
        .unwrap();
        assert_eq!(cli.output, OutputFormat::Json);
        assert_eq!(cli.registry, "http://r:1");
    }

    #[test]
    fn the_exchange_address_is_a_global_flag_and_its_commands_name_the_exchange_in_hints() {
        let cli = Cli::try_parse_from([
            "homewardctl",
            "exchange",
            "phase",
            "get",
            "ph1",
            "--exchange-url",
            "http://x:2",
        ])
        .unwrap();
        assert_eq!(cli.exchange_url, "http://x:2");
        assert_eq!(cli.command.service(), Service::Exchange);
        let cli = Cli::try_parse_from(["homewardctl", "agreement", "get", "a1"]).unwrap();
        assert_eq!(cli.command.service(), Service::Exchange);
        let cli = Cli::try_parse_from(["homewardctl", "audit", "verify"]).unwrap();
        assert_eq!(cli.command.service(), Service::Registry);
    }

    #[test]
    fn the_notification_address_is_a_global_flag_and_its_commands_name_it_in_hints() {
        let cli = Cli::try_parse_from([
            "homewardctl",
            "inquiry",
            "get",
            "i1",
            "--notification-url",
            "http://n:3",
        ])
        .unwrap();
        assert_eq!(cli.notification_url, "http://n:3");
        assert_eq!(cli.command.service(), Service::Notification);
        for argv in [
            &["homewardctl", "link", "confirm", "l1"][..],
            &["homewardctl", "notification", "audit", "verify"],
            &["homewardctl", "notification", "events", "--follow"],
            &["homewardctl", "task", "list"],
            &["homewardctl", "inquiry", "status", "HW-1", "--code", "c"],
        ] {
            let cli = Cli::try_parse_from(argv).unwrap();
            assert_eq!(cli.command.service(), Service::Notification, "{argv:?}");
        }
    }
}
