//! `homewardctl token`: bearer tokens for the services, signed locally, and the key pairs they
//! are signed with.
//!
//! Minting needs a private key the services hold the public half of (the signing key file, or the
//! PEM in HOMEWARD_AUTH__SIGNING_KEY, with its kid), or `--dev` against services in dev mode. A
//! private key is never taken as a command-line argument, where other users and the shell history
//! would see it, and never echoed, not even in `--help`.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

use clap::{Args, Subcommand};
use homeward_kit::auth::{self, AuthConfig, AuthError, Role, TokenKeys};
use serde::Serialize;
use time::OffsetDateTime;

use crate::{
    args::{self, RoleArg},
    error::CliError,
    output::{self, OutputFormat, Render},
};

const MAX_TTL: Duration = Duration::from_secs(366 * 86_400);

/// The signing key as PEM, read from the environment only.
const SIGNING_KEY_ENV: &str = "HOMEWARD_AUTH__SIGNING_KEY";

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a signed bearer token and print it.
    Mint(MintArgs),
    /// Make a new Ed25519 key pair to sign tokens with: a private key for the services' signing
    /// key, a public key for every service's verification keys.
    Keygen(KeygenArgs),
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
    /// The PKCS#8 PEM private key to sign with, as the services have it. Instead of a file, the
    /// PEM itself may be in HOMEWARD_AUTH__SIGNING_KEY (never on the command line).
    #[arg(long, env = "HOMEWARD_AUTH__SIGNING_KEY_FILE")]
    signing_key_file: Option<PathBuf>,
    /// The key id (kid) of that key, which the services look its public half up by.
    #[arg(long, env = "HOMEWARD_AUTH__SIGNING_KEY_ID")]
    kid: Option<String>,
    /// Sign with the built-in development key (kid `dev`) whatever key is configured; only
    /// services in dev mode accept it.
    #[arg(long)]
    dev: bool,
    /// The issuer the services expect.
    #[arg(long, env = "HOMEWARD_AUTH__ISSUER", default_value = "homeward")]
    issuer: String,
    /// The audience the services expect.
    #[arg(long, env = "HOMEWARD_AUTH__AUDIENCE", default_value = "homeward")]
    audience: String,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The key id (kid) tokens signed with the new key carry, such as 2025-07: 1 to 64 of a-z,
    /// 0-9, '.', '_', '-', starting with a letter or digit.
    #[arg(long)]
    kid: String,
    /// Write `<kid>.key` (the private key, readable by its owner only) and `<kid>.pem` (the
    /// public key) into this directory instead of printing them. Existing files are kept.
    #[arg(long)]
    out_dir: Option<PathBuf>,
}

pub fn run(command: TokenCommand, format: OutputFormat) -> Result<(), CliError> {
    match command {
        TokenCommand::Mint(a) => mint(a, format),
        TokenCommand::Keygen(a) => keygen(a, format),
    }
}

#[derive(Serialize)]
struct Minted {
    token: String,
    kid: String,
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
    let config = if a.dev {
        AuthConfig {
            issuer: a.issuer,
            audience: a.audience,
            dev_mode: true,
            ..AuthConfig::default()
        }
    } else {
        AuthConfig {
            signing_key: std::env::var(SIGNING_KEY_ENV).unwrap_or_default(),
            signing_key_file: a.signing_key_file,
            signing_key_id: a.kid.unwrap_or_default(),
            issuer: a.issuer,
            audience: a.audience,
            ..AuthConfig::default()
        }
    };
    let keys = TokenKeys::from_config(&config).map_err(|e| match e {
        AuthError::NoSigningKey => CliError::input(
            "no signing key: pass --signing-key-file and --kid (or set \
             HOMEWARD_AUTH__SIGNING_KEY_FILE and HOMEWARD_AUTH__SIGNING_KEY_ID) as the services \
             have them; for services started with HOMEWARD_AUTH__DEV_MODE=true, pass --dev instead",
        ),
        e => CliError::input(e.to_string()),
    })?;
    let roles: Vec<Role> = a.roles.into_iter().map(Role::from).collect();
    let token = keys
        .mint(a.subject.trim(), &roles, a.party.trim(), a.ttl)
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let expires_at = OffsetDateTime::now_utc() + time::Duration::seconds(a.ttl.as_secs() as i64);
    output::show(
        format,
        &Minted {
            token,
            kid: keys.signing_key_id().to_string(),
            subject: a.subject.trim().to_string(),
            roles,
            party: a.party.trim().to_string(),
            expires_at,
        },
    )
}

#[derive(Serialize)]
struct Generated {
    kid: String,
    /// Present when printed rather than written to a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    private_key_pem: Option<String>,
    public_key_pem: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_key_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key_file: Option<PathBuf>,
}

impl Render for Generated {
    /// The two PEM blocks, private first, as `openssl genpkey` and `openssl pkey -pubout` print
    /// them; or, when written to files, where they went.
    fn table(&self) -> String {
        match (&self.private_key_pem, &self.private_key_file) {
            (Some(private), _) => format!("{private}{}", self.public_key_pem.trim_end()),
            (None, Some(private_file)) => {
                let mut t = output::table(["kid", "private key (secret)", "public key"]);
                t.add_row([
                    self.kid.clone(),
                    private_file.display().to_string(),
                    self.public_key_file
                        .as_deref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                ]);
                t.to_string()
            }
            (None, None) => self.public_key_pem.trim_end().to_string(),
        }
    }
}

fn keygen(a: KeygenArgs, format: OutputFormat) -> Result<(), CliError> {
    auth::check_key_id(&a.kid).map_err(|e| CliError::input(format!("--kid: {e}")))?;
    if a.kid == auth::DEV_KEY_ID {
        return Err(CliError::input(
            "--kid dev is the built-in development key's; choose another, such as a date",
        ));
    }
    let pair = auth::generate_key_pair().map_err(|e| CliError::Failed(e.to_string()))?;
    let generated = match &a.out_dir {
        None => Generated {
            kid: a.kid.clone(),
            private_key_pem: Some(pair.private_key_pem.clone()),
            public_key_pem: pair.public_key_pem.clone(),
            private_key_file: None,
            public_key_file: None,
        },
        Some(dir) => {
            let private_file = dir.join(format!("{}.key", a.kid));
            let public_file = dir.join(format!("{}.pem", a.kid));
            for file in [&private_file, &public_file] {
                if file.exists() {
                    return Err(CliError::input(format!(
                        "{} exists; a key id names one key, so choose a new --kid",
                        file.display()
                    )));
                }
            }
            write_new(&private_file, &pair.private_key_pem, true)?;
            write_new(&public_file, &pair.public_key_pem, false)?;
            Generated {
                kid: a.kid.clone(),
                private_key_pem: None,
                public_key_pem: pair.public_key_pem.clone(),
                private_key_file: Some(private_file),
                public_key_file: Some(public_file),
            }
        }
    };
    output::show(format, &generated)?;
    if format == OutputFormat::Table {
        output::note(&format!(
            "next: add the public key as `{kid}` to every service's verification keys \
             (HOMEWARD_AUTH__VERIFICATION_KEYS_DIR/{kid}.pem) and roll them; then make the \
             private key their signing key with HOMEWARD_AUTH__SIGNING_KEY_ID={kid} \
             (deploy/README.md, \"Rotating the token signing key\")",
            kid = a.kid
        ));
    }
    Ok(())
}

/// Writes a file that must not exist yet; a private key is readable by its owner only from the
/// moment it exists.
fn write_new(path: &Path, contents: &str, private: bool) -> Result<(), CliError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    options
        .open(path)
        .and_then(|mut file| file.write_all(contents.as_bytes()))
        .map_err(|e| CliError::Failed(format!("could not write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_writes_a_private_key_for_its_owner_and_a_public_key_that_verify_together() {
        let dir = tempfile::tempdir().unwrap();
        keygen(
            KeygenArgs {
                kid: "2025-07".into(),
                out_dir: Some(dir.path().to_path_buf()),
            },
            OutputFormat::Json,
        )
        .unwrap();
        let private = dir.path().join("2025-07.key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&private).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        let signing = TokenKeys::from_config(&AuthConfig {
            signing_key_file: Some(private),
            signing_key_id: "2025-07".into(),
            ..AuthConfig::default()
        })
        .unwrap();
        let verifying = TokenKeys::from_config(&AuthConfig {
            signing_key: auth::generate_key_pair().unwrap().private_key_pem,
            signing_key_id: "2025-08".into(),
            verification_keys_dir: Some(dir.path().to_path_buf()),
            ..AuthConfig::default()
        })
        .unwrap();
        let token = signing
            .mint("me", &[Role::Auditor], "UA", Duration::from_secs(60))
            .unwrap();
        assert_eq!(verifying.verify(&token).unwrap().subject, "me");

        let again = keygen(
            KeygenArgs {
                kid: "2025-07".into(),
                out_dir: Some(dir.path().to_path_buf()),
            },
            OutputFormat::Json,
        );
        assert!(matches!(again, Err(CliError::Input(m)) if m.contains("exists")));
    }

    #[test]
    fn keygen_refuses_key_ids_the_services_would_refuse() {
        for kid in ["dev", "Upper", "", "a/b"] {
            let refused = keygen(
                KeygenArgs {
                    kid: kid.into(),
                    out_dir: None,
                },
                OutputFormat::Json,
            );
            assert!(matches!(refused, Err(CliError::Input(_))), "{kid}");
        }
    }
}
