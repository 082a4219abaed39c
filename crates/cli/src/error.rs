//! What can go wrong in a command and how it is told: the gRPC code, the server's message, every
//! field the server refused, and what to do next. Exit codes: 1 when the call or check failed,
//! 2 when the input was refused before anything was sent (as clap does for bad flags).
//!
//! Errors are printed to stderr only, so `--output json` on stdout stays parseable. A hint names
//! the service the command talked to, its address and the flag that changes it.

use std::{fmt, process::ExitCode};

use tonic::Code;
use tonic_types::StatusExt;

/// A service homewardctl talks to: what a hint calls it and how its address is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Registry,
    Exchange,
    Notification,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Self::Registry => "registry",
            Self::Exchange => "exchange service",
            Self::Notification => "notification service",
        }
    }

    /// The flag and the environment variable that set the service's address.
    pub fn address_setting(self) -> &'static str {
        match self {
            Self::Registry => "--registry or HOMEWARD_REGISTRY_URL",
            Self::Exchange => "--exchange-url or HOMEWARD_EXCHANGE_URL",
            Self::Notification => "--notification-url or HOMEWARD_NOTIFICATION_URL",
        }
    }

    pub fn example_url(self) -> &'static str {
        match self {
            Self::Registry => "http://127.0.0.1:50051",
            Self::Exchange => "http://127.0.0.1:50052",
            Self::Notification => "http://127.0.0.1:50053",
        }
    }
}

#[derive(Debug)]
pub enum CliError {
    /// Bad input caught before anything was sent.
    Input(String),
    /// The server refused or failed the call.
    Rpc {
        status: tonic::Status,
        /// The request id of a mutation, so it can be retried without doing it twice.
        request_id: Option<String>,
        /// Further flags a retry must repeat to be the same request (such as an etag the command
        /// read for itself), each with a leading space.
        retry_flags: String,
    },
    /// The command ran and printed its result, but the result is a failure (a broken audit chain,
    /// rejected import rows); scripts must see a non-zero exit.
    Failed(String),
}

impl CliError {
    pub fn input(message: impl Into<String>) -> Self {
        Self::Input(message.into())
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Input(_) => ExitCode::from(2),
            Self::Rpc { .. } | Self::Failed(_) => ExitCode::from(1),
        }
    }

    /// Attaches the request id of the mutation that failed.
    pub fn with_request_id(self, id: &str) -> Self {
        self.with_retry(id, "")
    }

    /// Attaches the request id of the mutation that failed and the other flags (`--etag E`) a
    /// retry needs: the registry knows a replay by its request id and its content together.
    pub fn with_retry(self, id: &str, flags: &str) -> Self {
        match self {
            Self::Rpc { status, .. } => Self::Rpc {
                status,
                request_id: Some(id.to_string()),
                retry_flags: if flags.is_empty() {
                    String::new()
                } else {
                    format!(" {flags}")
                },
            },
            other => other,
        }
    }

    /// The full report for a person at a terminal: error, details, hint. `service` at `url` is
    /// the service the command talked to.
    pub fn report(&self, service: Service, url: &str) -> String {
        match self {
            Self::Input(message) => format!("error: {message}"),
            Self::Failed(message) => format!("error: {message}"),
            Self::Rpc {
                status,
                request_id,
                retry_flags,
            } => rpc_report(status, request_id.as_deref(), retry_flags, service, url),
        }
    }
}

/// `value` as one shell word, so a retry hint can be pasted as it is: etags are often quoted
/// strings (`"2"`), which a shell would otherwise strip.
pub fn shell_word(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/=+@".contains(c));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

impl From<tonic::Status> for CliError {
    fn from(status: tonic::Status) -> Self {
        Self::Rpc {
            status,
            request_id: None,
            retry_flags: String::new(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Input(m) | Self::Failed(m) => f.write_str(m),
            Self::Rpc { status, .. } => {
                write!(f, "{}: {}", code_name(status.code()), status.message())
            }
        }
    }
}

fn rpc_report(
    status: &tonic::Status,
    request_id: Option<&str>,
    retry_flags: &str,
    service: Service,
    url: &str,
) -> String {
    let code = status.code();
    let mut out = format!("error: {}: {}", code_name(code), status.message());
    let details = status.get_error_details();
    if let Some(bad) = details.bad_request() {
        for v in &bad.field_violations {
            out.push_str(&format!("\n  {}: {}", v.field, v.description));
        }
    }
    let reason = details.error_info().map(|info| info.reason.as_str());
    if let Some(info) = details.error_info() {
        // The reason says more than the code only when the service chose a specific one.
        if info.reason != code_name(code) && !info.reason.is_empty() {
            out.push_str(&format!("\n  reason: {} ({})", info.reason, info.domain));
        }
        if let Some(id) = info.metadata.get("error_id") {
            out.push_str(&format!("\n  error id: {id}"));
        }
    }
    if let Some(id) = request_id
        && matches!(
            code,
            Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::Internal
        )
    {
        out.push_str(&format!(
            "\n  request id: {id} (retry with --request-id {id}{retry_flags} so the change is not made twice)"
        ));
    }
    let hint = reason
        .and_then(reason_hint)
        .map(String::from)
        .or_else(|| hint(code, service, url));
    if let Some(hint) = hint {
        out.push_str(&format!("\nhint: {hint}"));
    }
    out
}

/// What to do next for the reasons whose code alone would send the reader the wrong way.
fn reason_hint(reason: &str) -> Option<&'static str> {
    Some(match reason {
        "PERSON_MERGED" => {
            "that record was merged into another person (the survivor named above): work on the \
             survivor's id, or undo the merge first with `homewardctl person unmerge <id> --reason TEXT`"
        }
        "PERSON_NOT_MERGED" => {
            "the person is not merged into anyone, so there is nothing to undo; \
             `homewardctl person get <id>` shows the record"
        }
        "SELF_MERGE" => {
            "the survivor and the duplicate are the same record: pass two different ids \
             (`homewardctl person duplicates` lists likely pairs)"
        }
        "RESERVED_FOR_EXCHANGE" => {
            "a person reserved for an exchange cannot be merged: have the exchange officer take them \
             off that exchange (or wait until it is completed or cancelled), then merge again"
        }
        "LIST_VERSION_MOVED" => {
            "another version of that list was submitted meanwhile: look at it with \
             `homewardctl exchange list versions <phase-id>` and `list compare`, then submit \
             against it with --base-version and a new --request-id"
        }
        "RECONCILIATION_STALE" | "RECONCILIATION_NOT_LATEST" => {
            "a list changed after that reconciliation: run `homewardctl exchange reconcile \
             <phase-id>` again and review and freeze the new one"
        }
        "OPEN_REVIEWS" => {
            "list the items still to decide with `homewardctl exchange reconciliation show <id> \
             --open`, decide each with `homewardctl exchange review`, then freeze again"
        }
        "COUNTS_DO_NOT_BALANCE" => {
            "see the counts with `homewardctl exchange counts <phase-id>`; amend the lists, or, when \
             both parties accept the imbalance, freeze with --imbalance-reason TEXT"
        }
        "PARTIAL_HANDOVER" => {
            "see who was not handed over with `homewardctl exchange report <phase-id>`; to record \
             a partial exchange, complete with --allow-partial and a --note saying why"
        }
        "HOLD_BACK_NOT_INFORMED" => {
            "tell the other side of each hold-back and record it with `homewardctl exchange \
             hold-back-update <id> --phase <phase-id> --informed`; `homewardctl exchange \
             hold-backs <phase-id>` lists them"
        }
        "CONSENT_MISSING" | "NO_CONSENT" => {
            "nobody is handed over without a recorded wish to return: record the interview with \
             `homewardctl exchange consent <phase-id> --party P --reference REF --willing|--refuses \
             --interviewer NAME`"
        }
        "NOT_RECONCILED" => {
            "reconcile the phase's lists first: `homewardctl exchange reconcile <phase-id>`"
        }
        _ => return None,
    })
}

/// What to do next, per code.
fn hint(code: Code, service: Service, url: &str) -> Option<String> {
    let name = service.name();
    let exchange = service == Service::Exchange;
    let notification = service == Service::Notification;
    Some(match code {
        Code::Unauthenticated => {
            "mint a token with `homewardctl token mint --dev --subject me --role admin --party UA` \
             and pass --token or HOMEWARD_TOKEN"
                .into()
        }
        Code::PermissionDenied => {
            "your token lacks a role this call needs: mint one with the role named above (--role)"
                .into()
        }
        Code::Unavailable => format!(
            "is the {name} running? `make run` (this client talks to {url}; change it with {})",
            service.address_setting()
        ),
        Code::InvalidArgument => "correct the fields listed above and run the command again".into(),
        Code::NotFound if exchange => "check the id; `homewardctl agreement list` and \
             `homewardctl exchange phase list` show agreements and phases"
            .into(),
        Code::NotFound if notification => {
            "check the id; `homewardctl inquiry list` finds inquiries (by --reference, --office or \
             --state), `homewardctl inquiry links` links, `homewardctl notification list` \
             notifications and `homewardctl task list` tasks"
                .into()
        }
        Code::NotFound => {
            "check the id; `homewardctl person search <name>` finds persons by name".into()
        }
        Code::AlreadyExists if exchange => {
            "the record already exists: `homewardctl exchange phase get <phase-id>` shows the phase \
             and what it holds"
                .into()
        }
        Code::AlreadyExists if notification => {
            "the record already exists: `homewardctl inquiry get <inquiry-id>` shows the inquiry \
             with its links and consents"
                .into()
        }
        Code::AlreadyExists => {
            "the record already exists: look it up with `homewardctl person search`".into()
        }
        Code::FailedPrecondition if exchange => {
            "the phase's current state does not allow this (the message above says why): \
             `homewardctl exchange phase get <phase-id>` shows its state, `homewardctl exchange \
             counts <phase-id>` its counts and `homewardctl exchange reconciliation show <id> \
             --open` the reviews still open"
                .into()
        }
        Code::FailedPrecondition if notification => {
            "the record's current state does not allow this (the message above says why): \
             `homewardctl inquiry get <inquiry-id>` shows the inquiry's state, verification, \
             consents and links, `homewardctl task get <task-id>` a task; a link is confirmed by \
             an officer other than the one who proposed it"
                .into()
        }
        Code::FailedPrecondition => {
            "the record's current state does not allow this; see `homewardctl person history <id>`"
                .into()
        }
        Code::Aborted if exchange => {
            "the record changed meanwhile, another list version was submitted, or the request id \
             was used for something else: read it again (`homewardctl exchange list versions \
             <phase-id>` for lists, then --base-version) and retry with a new --request-id"
                .into()
        }
        Code::Aborted if notification => {
            "the record changed meanwhile, or the request id was used for something else: read \
             it again (`homewardctl inquiry get <inquiry-id>`, `homewardctl task get <task-id>`) \
             and retry with a new --request-id"
                .into()
        }
        Code::Aborted => {
            "the record changed meanwhile, or the request id was used for something else: \
             read the record again and retry with a new --request-id"
                .into()
        }
        Code::DeadlineExceeded => {
            "the call took too long; retry it with the same --request-id".into()
        }
        Code::Unimplemented => {
            format!("the server at {url} does not offer this call: is it the {name}?")
        }
        Code::Internal => format!("the {name} failed; give the error id above to its operators"),
        Code::ResourceExhausted => format!("the {name} is overloaded; wait a little and retry"),
        _ => return None,
    })
}

/// The canonical upper-case name of a gRPC code, as grpcurl and the gRPC docs print it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tonic_types::{ErrorDetails, FieldViolation};

    use super::*;

    #[test]
    fn a_refused_request_lists_each_field_and_says_what_to_do() {
        let mut details = ErrorDetails::new();
        details.set_bad_request(vec![
            FieldViolation::new("person.names", "at least one name is required"),
            FieldViolation::new("person.holding_party", "required: a party code such as UA"),
        ]);
        details.set_error_info("INVALID_ARGUMENT", "homeward.registry", HashMap::new());
        let status =
            tonic::Status::with_error_details(Code::InvalidArgument, "invalid request", details);
        let report = CliError::from(status).report(Service::Registry, "http://x");
        assert!(
            report.starts_with("error: INVALID_ARGUMENT: invalid request"),
            "{report}"
        );
        assert!(
            report.contains("\n  person.names: at least one name is required"),
            "{report}"
        );
        assert!(
            report.contains("\n  person.holding_party: required"),
            "{report}"
        );
        assert!(!report.contains("reason:"), "{report}");
        assert!(report.contains("hint: correct the fields"), "{report}");
    }

    #[test]
    fn an_unreachable_registry_names_the_address_and_the_request_id_to_retry_with() {
        let err =
            CliError::from(tonic::Status::unavailable("tcp connect error")).with_request_id("r-1");
        let report = err.report(Service::Registry, "http://127.0.0.1:1");
        assert!(report.contains("--request-id r-1"), "{report}");
        assert!(report.contains("make run"), "{report}");
        assert!(report.contains("http://127.0.0.1:1"), "{report}");
        assert_eq!(err.exit_code(), ExitCode::from(1));
        assert_eq!(CliError::input("x").exit_code(), ExitCode::from(2));
    }

    #[test]
    fn a_missing_token_points_at_token_mint() {
        let report = CliError::from(tonic::Status::unauthenticated("missing token"))
            .report(Service::Registry, "u");
        assert!(report.contains("homewardctl token mint --dev"), "{report}");
        assert!(report.contains("HOMEWARD_TOKEN"), "{report}");
    }

    fn refused(reason: &str, message: &str) -> CliError {
        let mut details = ErrorDetails::new();
        details.set_error_info(reason, "homeward.registry", HashMap::new());
        CliError::from(tonic::Status::with_error_details(
            Code::FailedPrecondition,
            message,
            details,
        ))
    }

    #[test]
    fn merge_refusals_say_what_to_do_instead_of_pointing_at_the_history() {
        let cases = [
            ("PERSON_MERGED", "homewardctl person unmerge"),
            ("PERSON_NOT_MERGED", "nothing to undo"),
            ("SELF_MERGE", "two different ids"),
            ("RESERVED_FOR_EXCHANGE", "exchange officer"),
        ];
        for (reason, advice) in cases {
            let report = refused(reason, "refused").report(Service::Registry, "u");
            assert!(report.contains(&format!("reason: {reason}")), "{report}");
            assert!(report.contains("\nhint: "), "{report}");
            assert!(report.contains(advice), "{reason}: {report}");
            assert!(!report.contains("person history"), "{reason}: {report}");
        }
        let other = refused("INVALID_STATUS_TRANSITION", "refused").report(Service::Registry, "u");
        assert!(other.contains("homewardctl person history"), "{other}");
    }

    #[test]
    fn exchange_errors_name_the_exchange_service_its_address_and_its_commands() {
        let report = CliError::from(tonic::Status::unavailable("tcp connect error"))
            .report(Service::Exchange, "http://127.0.0.1:50052");
        assert!(
            report.contains("is the exchange service running?"),
            "{report}"
        );
        assert!(report.contains("http://127.0.0.1:50052"), "{report}");
        assert!(report.contains("--exchange-url"), "{report}");
        let report = CliError::from(tonic::Status::not_found("phase x not found"))
            .report(Service::Exchange, "u");
        assert!(
            report.contains("homewardctl exchange phase list"),
            "{report}"
        );
        assert!(!report.contains("person search"), "{report}");
        let report = CliError::from(tonic::Status::failed_precondition("open reviews"))
            .report(Service::Exchange, "u");
        assert!(
            report.contains("homewardctl exchange phase get"),
            "{report}"
        );
        assert!(!report.contains("person history"), "{report}");
    }

    #[test]
    fn notification_errors_name_the_notification_service_its_address_and_its_commands() {
        let report = CliError::from(tonic::Status::unavailable("tcp connect error"))
            .report(Service::Notification, "http://127.0.0.1:50053");
        assert!(
            report.contains("is the notification service running?"),
            "{report}"
        );
        assert!(report.contains("--notification-url"), "{report}");
        for (status, advice) in [
            (
                tonic::Status::not_found("inquiry x"),
                "homewardctl inquiry list",
            ),
            (
                tonic::Status::failed_precondition("proposed by you"),
                "other than the one who proposed it",
            ),
            (tonic::Status::aborted("etag"), "homewardctl inquiry get"),
            (
                tonic::Status::already_exists("link"),
                "homewardctl inquiry get",
            ),
        ] {
            let report = CliError::from(status).report(Service::Notification, "u");
            assert!(report.contains(advice), "{report}");
            assert!(!report.contains("person search"), "{report}");
            assert!(!report.contains("exchange phase"), "{report}");
        }
    }

    #[test]
    fn exchange_refusals_name_the_command_that_resolves_them() {
        let refused = |reason: &str| {
            let mut details = ErrorDetails::new();
            details.set_error_info(reason, "homeward.exchange", HashMap::new());
            CliError::from(tonic::Status::with_error_details(
                Code::FailedPrecondition,
                "refused",
                details,
            ))
            .report(Service::Exchange, "u")
        };
        for (reason, advice) in [
            ("OPEN_REVIEWS", "reconciliation show <id> --open"),
            ("COUNTS_DO_NOT_BALANCE", "--imbalance-reason"),
            ("PARTIAL_HANDOVER", "--allow-partial"),
            ("HOLD_BACK_NOT_INFORMED", "--informed"),
            ("CONSENT_MISSING", "exchange consent"),
            ("RECONCILIATION_STALE", "exchange reconcile"),
            ("LIST_VERSION_MOVED", "--base-version"),
        ] {
            let report = refused(reason);
            assert!(report.contains(advice), "{reason}: {report}");
        }
    }

    #[test]
    fn values_in_a_retry_hint_survive_being_pasted_into_a_shell() {
        assert_eq!(shell_word("abc-1"), "abc-1");
        assert_eq!(shell_word("\"2\""), "'\"2\"'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn a_retry_repeats_the_flags_the_command_filled_in_itself() {
        let err = CliError::from(tonic::Status::unavailable("gone")).with_retry("r-1", "--etag 7");
        let report = err.report(Service::Registry, "u");
        assert!(
            report.contains("retry with --request-id r-1 --etag 7 so"),
            "{report}"
        );
    }
}
