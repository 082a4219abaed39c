//! `homewardctl token`: bearer tokens for the services, signed locally with the shared secret.
//!
//! Minting needs the same secret as the services (HOMEWARD_AUTH__SECRET), or `--dev` against a
//! registry in dev mode. The secret is never echoed, not even in `--help`.

use std::time::Duration;

use clap::{Args, Subcommand};
use homeward_kit::auth::{AuthConfig, Role, TokenKeys};
use serde::Serialize;
use time::OffsetDateTime;

use crate::{
    args::{self, RoleArg},
    error::CliError,
    output::{self, OutputFormat, Render},
};

const MAX_TTL: Duration = Duration::from_secs(366 * 86_400);

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a signed bearer token and print it.
    Mint(MintArgs),
}

#[derive(Debug, Args)]
pub struct MintArgs {
    /// Who the token is for (recorded as `recorded_by` in histories and the audit log).
    #[arg(long)]
    subject: String,
    /// A role to grant; repeat for several.
    #[arg(long = "role", value_enum, required = true, ignore_case = true)]
    roles: Vec<RoleArg>,
    /// The party the holder acts for, such as UA.
    #[arg(long)]
    party: String,
    /// How long the token is valid: a number and s, m, h or d.
    #[arg(long, default_value = "12h", value_parser = args::duration)]
    ttl: Duration,
    /// The services' HMAC secret (32 bytes or more).
    #[arg(long, env = "HOMEWARD_AUTH__SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// Sign with the built-in development secret when no secret is given (dev-mode services only).
    #[arg(long)]
    dev: bool,
    /// The issuer the services expect.
    #[arg(long, env = "HOMEWARD_AUTH__ISSUER", default_value = "homeward")]
    issuer: String,
    /// The audience the services expect.
    #[arg(long, env = "HOMEWARD_AUTH__AUDIENCE", default_value = "homeward")]
    audience: String,
}

pub fn run(command: TokenCommand, format: OutputFormat) -> Result<(), CliError> {
    match command {
        TokenCommand::Mint(a) => mint(a, format),
    }
}

#[derive(Serialize)]
struct Minted {
    token: String,
    subject: String,
    roles: Vec<Role>,
    party: String,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

impl Render for Minted {
    /// Only the token, so `export HOMEWARD_TOKEN=$(homewardctl token mint ...)` works.
    fn table(&self) -> String {
        self.token.clone()
    }
}

fn mint(a: MintArgs, format: OutputFormat) -> Result<(), CliError> {
    if a.subject.trim().is_empty() {
        return Err(CliError::input("--subject must not be empty"));
    }
    // Also keeps the expiry arithmetic here and in the kit far from overflow.
    if a.ttl > MAX_TTL {
        return Err(CliError::input(
            "--ttl is at most 366d; mint a new token when it runs out",
        ));
    }
    let config = AuthConfig {
        secret: a.secret.unwrap_or_default(),
        issuer: a.issuer,
        audience: a.audience,
        dev_mode: a.dev,
    };
    let keys = TokenKeys::from_config(&config).map_err(|e| {
        CliError::input(format!(
            "{e} (for a registry started with HOMEWARD_AUTH__DEV_MODE=true, pass --dev instead)"
        ))
    })?;
    let roles: Vec<Role> = a.roles.into_iter().map(Role::from).collect();
    let token = keys
        .mint(a.subject.trim(), &roles, a.party.trim(), a.ttl)
        .map_err(|e| CliError::Failed(format!("could not sign the token: {e}")))?;
    let expires_at = OffsetDateTime::now_utc() + time::Duration::seconds(a.ttl.as_secs() as i64);
    output::show(
        format,
        &Minted {
            token,
            subject: a.subject.trim().to_string(),
            roles,
            party: a.party.trim().to_string(),
            expires_at,
        },
    )
}
