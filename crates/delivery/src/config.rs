//! The shape of the delivery configuration, as it is read from a file or the environment by the
//! service that embeds this crate, and the errors found while turning it into channels.
//!
//! Passwords and tokens are `Secret`s: they never show in `Debug` output, and the configuration
//! is deliberately not `Serialize`, so it cannot be dumped back out with them in it.

use std::{fmt, path::PathBuf, time::Duration};

use serde::Deserialize;

/// Which channels exist and how to reach them. A channel whose section is missing is not
/// available: sending through it fails permanently with "channel not configured".
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Email.
    pub smtp: Option<SmtpConfig>,
    /// SMS and messenger gateways.
    pub webhook: Option<WebhookConfig>,
    /// Files in a folder: the embedded default, for a liaison office that posts or hands over
    /// what would have been sent.
    pub file: Option<FileConfig>,
    /// The longest one send may take, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            smtp: None,
            webhook: None,
            file: None,
            timeout_ms: 10_000,
        }
    }
}

impl DeliveryConfig {
    /// Only the file channel, writing into `dir`: what the embedded mode runs with.
    pub fn files_in(dir: impl Into<PathBuf>) -> Self {
        Self {
            file: Some(FileConfig { dir: dir.into() }),
            ..Self::default()
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Defaults to 25 without TLS, 587 with STARTTLS and 465 with implicit TLS.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: TlsMode,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// The bureau's sender address.
    pub from: String,
    /// The display name shown with `from`, e.g. "National Information Bureau".
    #[serde(default)]
    pub from_name: Option<String>,
}

impl SmtpConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            TlsMode::None => 25,
            TlsMode::StartTls => 587,
            TlsMode::Implicit => 465,
        })
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum TlsMode {
    /// Plain SMTP, for a relay on the same host or a trusted network only.
    #[serde(rename = "none")]
    None,
    /// Upgrade with STARTTLS and refuse to go on without it.
    #[default]
    #[serde(rename = "starttls")]
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    #[serde(rename = "implicit")]
    Implicit,
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsMode::None => "none",
            TlsMode::StartTls => "starttls",
            TlsMode::Implicit => "implicit",
        })
    }
}

/// The HTTP gateways for SMS and messengers; each URL that is set makes its channel available.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    #[serde(default)]
    pub sms_url: Option<String>,
    #[serde(default)]
    pub messenger_url: Option<String>,
    /// Sent as `Authorization: Bearer <token>` to both gateways.
    #[serde(default)]
    pub token: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Created when missing.
    pub dir: PathBuf,
}

/// A password or token: readable on purpose with `expose`, never through `Debug`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A configuration that cannot be turned into a working channel. Each says what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("smtp.host is empty; set it to the relay's host name")]
    EmptyHost,
    #[error("smtp.from is not a valid email address: {0}")]
    InvalidFrom(String),
    #[error("smtp.username and smtp.password must be set together")]
    HalfCredentials,
    #[error(
        "smtp credentials would be sent unencrypted; set smtp.tls to \"starttls\" or \"implicit\""
    )]
    CredentialsWithoutTls,
    #[error(
        "{what} needs TLS, but homeward-delivery was built without its `tls` feature; enable it, \
         or use plain SMTP/HTTP to a relay on a trusted network"
    )]
    TlsUnavailable { what: String },
    #[error("webhook.{field} is not a usable http(s) URL: {reason}")]
    InvalidUrl { field: &'static str, reason: String },
    #[error("smtp relay settings were refused: {0}")]
    Smtp(String),
    #[error("the HTTP client could not be built: {0}")]
    Http(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_reads_with_defaults_for_what_is_left_out() {
        let config: DeliveryConfig = serde_json::from_str(
            r#"{
                "smtp": {"host": "relay.example", "from": "bureau@example.gov", "username": "nib",
                         "password": "hunter2"},
                "webhook": {"sms_url": "http://sms.example/send", "token": "t0ken"},
                "file": {"dir": "/var/lib/homeward/outbox"}
            }"#,
        )
        .unwrap();
        assert_eq!(config.timeout_ms, 10_000);
        let smtp = config.smtp.as_ref().unwrap();
        assert_eq!(smtp.tls, TlsMode::StartTls);
        assert_eq!(smtp.port(), 587);
        assert_eq!(smtp.password.as_ref().unwrap().expose(), "hunter2");
        let webhook = config.webhook.as_ref().unwrap();
        assert_eq!(webhook.messenger_url, None);
        assert_eq!(
            config.file.as_ref().unwrap().dir,
            PathBuf::from("/var/lib/homeward/outbox")
        );
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let config: DeliveryConfig = serde_json::from_str(
            r#"{"smtp": {"host": "h", "from": "a@b.c", "username": "u", "password": "hunter2"},
                "webhook": {"sms_url": "http://s", "token": "t0ken"}}"#,
        )
        .unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("t0ken"), "{shown}");
        assert!(shown.contains("Secret(<redacted>)"), "{shown}");
    }

    #[test]
    fn an_unknown_setting_is_refused_rather_than_ignored() {
        let parsed = serde_json::from_str::<DeliveryConfig>(r#"{"smtp_host": "relay.example"}"#);
        assert!(parsed.is_err());
    }

    #[test]
    fn the_tls_mode_sets_the_default_port() {
        let mut smtp = SmtpConfig {
            host: "h".into(),
            port: None,
            tls: TlsMode::None,
            username: None,
            password: None,
            from: "a@b.c".into(),
            from_name: None,
        };
        assert_eq!(smtp.port(), 25);
        smtp.tls = TlsMode::Implicit;
        assert_eq!(smtp.port(), 465);
        smtp.port = Some(2525);
        assert_eq!(smtp.port(), 2525);
    }
}
