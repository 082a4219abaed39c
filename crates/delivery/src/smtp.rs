//! Email through an SMTP relay (lettre's tokio transport): plain for a relay on a trusted network,
//! STARTTLS or implicit TLS with the `tls` feature.
//!
//! The Message-ID is derived from the delivery id, so a message sent again after a lost reply is
//! recognisable as the same message by the relay, the mailbox and the family. Relay replies are
//! redacted before they become error text: relays echo the recipient's address.

use std::time::Duration;

use async_trait::async_trait;
use lettre::{
    Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Mailbox, SinglePart,
        header::{HeaderName, HeaderValue},
    },
    transport::smtp::{AsyncSmtpTransportBuilder, authentication::Credentials},
};
use tracing::debug;

use crate::{
    channel::{Channel, Outgoing, SendError, Sent, redact, safe_id},
    config::{ConfigError, SmtpConfig, TlsMode},
};

/// Sends email through one SMTP relay. One connection per message: notifications are few, and a
/// fresh connection never inherits a half-broken session from the last failure.
pub struct SmtpChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl SmtpChannel {
    /// `timeout` bounds each step of the conversation and the whole send.
    pub fn new(config: &SmtpConfig, timeout: Duration) -> Result<Self, ConfigError> {
        if config.host.trim().is_empty() {
            return Err(ConfigError::EmptyHost);
        }
        let address: Address = config
            .from
            .trim()
            .parse()
            .map_err(|e: lettre::address::AddressError| ConfigError::InvalidFrom(e.to_string()))?;
        let name = config
            .from_name
            .as_ref()
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty());
        let credentials = match (&config.username, &config.password) {
            (Some(user), Some(password)) => {
                Some(Credentials::new(user.clone(), password.expose().to_owned()))
            }
            (None, None) => None,
            _ => return Err(ConfigError::HalfCredentials),
        };
        if credentials.is_some() && config.tls == TlsMode::None {
            return Err(ConfigError::CredentialsWithoutTls);
        }

        let mut builder = relay(config)?.port(config.port()).timeout(Some(timeout));
        if let Some(credentials) = credentials {
            builder = builder.credentials(credentials);
        }
        Ok(Self {
            transport: builder.build(),
            from: Mailbox::new(name, address),
            timeout,
        })
    }

    /// The Message-ID a delivery is sent with, the same on every attempt.
    pub fn message_id(&self, delivery_id: &str) -> String {
        format!("<{}@{}>", safe_id(delivery_id), self.from.email.domain())
    }

    fn compose(&self, message: &Outgoing, message_id: &str) -> Result<Message, SendError> {
        let to: Address = message
            .to
            .trim()
            .parse()
            .map_err(|_| SendError::Permanent("the email address is not valid".into()))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(message.subject.clone())
            .message_id(Some(message_id.to_owned()))
            // RFC 3834: tells vacation responders and list servers not to answer.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ));
        if is_language_tag(&message.language) {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Content-Language"),
                message.language.clone(),
            ));
        }
        builder
            .singlepart(SinglePart::plain(message.body.clone()))
            .map_err(|e| SendError::Permanent(format!("the email could not be built: {e}")))
    }
}

#[cfg(feature = "tls")]
fn relay(config: &SmtpConfig) -> Result<AsyncSmtpTransportBuilder, ConfigError> {
    let host = config.host.trim();
    match config.tls {
        TlsMode::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            host,
        )),
        TlsMode::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
            .map_err(|e| ConfigError::Smtp(e.to_string())),
        TlsMode::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
            .map_err(|e| ConfigError::Smtp(e.to_string())),
    }
}

#[cfg(not(feature = "tls"))]
fn relay(config: &SmtpConfig) -> Result<AsyncSmtpTransportBuilder, ConfigError> {
    match config.tls {
        TlsMode::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            config.host.trim(),
        )),
        mode => Err(ConfigError::TlsUnavailable {
            what: format!("smtp.tls = \"{mode}\""),
        }),
    }
}

fn is_language_tag(tag: &str) -> bool {
    !tag.is_empty() && tag.len() <= 35 && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// SMTP reply codes in the 5xx range that are about our own authentication with the relay, not
/// about the family's address: retrying after an operator fixes the credentials delivers.
const AUTHENTICATION_CODES: [u16; 4] = [530, 534, 535, 538];

/// Sorts a lettre failure into "try again" and "give up".
fn classify(error: &lettre::transport::smtp::Error) -> SendError {
    use std::error::Error as _;

    let said = error.source().map(|s| redact(&s.to_string()));
    if let Some(code) = error.status() {
        let code = u16::from(code);
        let reason = match said {
            Some(said) if !said.is_empty() => format!("the relay answered {code} {said}"),
            _ => format!("the relay answered {code}"),
        };
        return if error.is_permanent() && !AUTHENTICATION_CODES.contains(&code) {
            SendError::Permanent(reason)
        } else {
            SendError::Transient(reason)
        };
    }
    if error.is_timeout() {
        return SendError::Transient("the relay did not answer in time".into());
    }
    // Connection, network, TLS and protocol trouble: all on the relay's side or ours, none about
    // the recipient, so worth another attempt.
    SendError::Transient(redact(&error.to_string()))
}

#[async_trait]
impl Channel for SmtpChannel {
    #[tracing::instrument(name = "smtp_send", skip_all, fields(delivery_id = %message.delivery_id))]
    async fn send(&self, message: &Outgoing) -> Result<Sent, SendError> {
        let message_id = self.message_id(&message.delivery_id);
        let email = self.compose(message, &message_id)?;
        let result = match tokio::time::timeout(self.timeout, self.transport.send(email)).await {
            Err(_) => Err(SendError::Transient(format!(
                "the relay did not finish within {} ms",
                self.timeout.as_millis()
            ))),
            Ok(Err(error)) => Err(classify(&error)),
            Ok(Ok(_)) => Ok(Sent {
                provider_message_id: message_id,
            }),
        };
        match &result {
            Ok(_) => debug!("relay accepted the email"),
            Err(error) => debug!(%error, "email not sent"),
        }
        result
    }
}
