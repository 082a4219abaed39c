//! The set of channels a service can send through, by kind, built from `DeliveryConfig`.
//!
//! A kind without configuration is simply absent; sending through it fails permanently rather
//! than falling back to another channel, because choosing where a family's news goes is the
//! notification policy's decision, not this crate's.

use std::{fmt, sync::Arc};

use serde::Deserialize;

use crate::{
    channel::{Channel, Outgoing, SendError, Sent},
    config::{ConfigError, DeliveryConfig},
    file::FileChannel,
    smtp::SmtpChannel,
    webhook::WebhookChannel,
};

/// The ways a message can reach a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Email,
    Sms,
    Messenger,
    File,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 4] = [
        ChannelKind::Email,
        ChannelKind::Sms,
        ChannelKind::Messenger,
        ChannelKind::File,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Sms => "sms",
            ChannelKind::Messenger => "messenger",
            ChannelKind::File => "file",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One optional channel per kind. Cheap to clone; share it between tasks.
#[derive(Clone, Default)]
pub struct Channels {
    by_kind: [Option<Arc<dyn Channel>>; 4],
}

impl Channels {
    /// No channel at all; add them with `with`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every channel that `config` describes.
    pub fn from_config(config: &DeliveryConfig) -> Result<Self, ConfigError> {
        let timeout = config.timeout();
        let mut channels = Self::new();
        if let Some(smtp) = &config.smtp {
            channels = channels.with(
                ChannelKind::Email,
                Arc::new(SmtpChannel::new(smtp, timeout)?),
            );
        }
        if let Some(webhook) = &config.webhook {
            for (kind, field, url) in [
                (ChannelKind::Sms, "sms_url", &webhook.sms_url),
                (
                    ChannelKind::Messenger,
                    "messenger_url",
                    &webhook.messenger_url,
                ),
            ] {
                if let Some(url) = url {
                    let channel = WebhookChannel::new(field, url, webhook.token.clone(), timeout)?;
                    channels = channels.with(kind, Arc::new(channel));
                }
            }
        }
        if let Some(file) = &config.file {
            channels = channels.with(ChannelKind::File, Arc::new(FileChannel::new(&file.dir)));
        }
        Ok(channels)
    }

    /// Sets (or replaces) the channel for `kind`.
    pub fn with(mut self, kind: ChannelKind, channel: Arc<dyn Channel>) -> Self {
        self.by_kind[kind.index()] = Some(channel);
        self
    }

    pub fn get(&self, kind: ChannelKind) -> Option<&Arc<dyn Channel>> {
        self.by_kind[kind.index()].as_ref()
    }

    pub fn is_available(&self, kind: ChannelKind) -> bool {
        self.get(kind).is_some()
    }

    pub fn available(&self) -> Vec<ChannelKind> {
        ChannelKind::ALL
            .into_iter()
            .filter(|kind| self.is_available(*kind))
            .collect()
    }

    /// Sends through the channel for `kind`; a kind without one fails permanently.
    pub async fn send(&self, kind: ChannelKind, message: &Outgoing) -> Result<Sent, SendError> {
        match self.get(kind) {
            Some(channel) => channel.send(message).await,
            None => Err(SendError::Permanent(format!(
                "channel not configured: {kind}"
            ))),
        }
    }
}

impl fmt::Debug for Channels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channels")
            .field("available", &self.available())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SmtpConfig, TlsMode, WebhookConfig};

    fn message() -> Outgoing {
        Outgoing {
            delivery_id: "d-7".into(),
            to: "+380501234567".into(),
            messenger: String::new(),
            subject: "Inquiry HW-7".into(),
            body: "There is news.".into(),
            language: "en".into(),
        }
    }

    fn smtp(tls: TlsMode) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: Some(2525),
            tls,
            username: None,
            password: None,
            from: "bureau@homeward.test".into(),
            from_name: None,
        }
    }

    #[tokio::test]
    async fn a_kind_without_configuration_fails_permanently_as_not_configured() {
        let dir = tempfile::tempdir().unwrap();
        let channels = Channels::from_config(&DeliveryConfig::files_in(dir.path())).unwrap();
        assert_eq!(channels.available(), vec![ChannelKind::File]);
        for kind in [ChannelKind::Email, ChannelKind::Sms, ChannelKind::Messenger] {
            let error = channels.send(kind, &message()).await.unwrap_err();
            assert!(!error.is_transient(), "{kind}: {error}");
            assert!(error.reason().contains("channel not configured"), "{error}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn the_configured_file_channel_delivers_through_the_registry() {
        let dir = tempfile::tempdir().unwrap();
        let channels = Channels::from_config(&DeliveryConfig::files_in(dir.path())).unwrap();
        let sent = channels.send(ChannelKind::File, &message()).await.unwrap();
        assert_eq!(sent.provider_message_id, "d-7.txt");
        assert!(dir.path().join("d-7.txt").is_file());
    }

    #[test]
    fn every_section_of_the_configuration_makes_its_channels_available() {
        let config = DeliveryConfig {
            smtp: Some(smtp(TlsMode::None)),
            webhook: Some(WebhookConfig {
                sms_url: Some("http://127.0.0.1:9/sms".into()),
                messenger_url: Some("http://127.0.0.1:9/messenger".into()),
                token: None,
            }),
            file: Some(crate::FileConfig {
                dir: "/tmp/unused".into(),
            }),
            timeout_ms: 1_000,
        };
        let channels = Channels::from_config(&config).unwrap();
        assert_eq!(channels.available(), ChannelKind::ALL.to_vec());

        let only_sms = DeliveryConfig {
            webhook: Some(WebhookConfig {
                sms_url: Some("http://127.0.0.1:9/sms".into()),
                messenger_url: None,
                token: None,
            }),
            ..DeliveryConfig::default()
        };
        let channels = Channels::from_config(&only_sms).unwrap();
        assert_eq!(channels.available(), vec![ChannelKind::Sms]);
    }

    #[test]
    fn credentials_over_plain_smtp_are_refused() {
        let mut config = smtp(TlsMode::None);
        config.username = Some("nib".into());
        config.password = Some(crate::Secret::new("hunter2"));
        let refused = Channels::from_config(&DeliveryConfig {
            smtp: Some(config),
            ..DeliveryConfig::default()
        });
        assert!(matches!(refused, Err(ConfigError::CredentialsWithoutTls)));
    }

    #[test]
    fn a_username_without_a_password_is_refused() {
        let mut config = smtp(TlsMode::None);
        config.username = Some("nib".into());
        assert!(matches!(
            SmtpChannel::new(&config, std::time::Duration::from_secs(1)),
            Err(ConfigError::HalfCredentials)
        ));
    }

    #[test]
    fn an_invalid_sender_address_is_refused() {
        let mut config = smtp(TlsMode::None);
        config.from = "not an address".into();
        assert!(matches!(
            SmtpChannel::new(&config, std::time::Duration::from_secs(1)),
            Err(ConfigError::InvalidFrom(_))
        ));
    }

    #[cfg(not(feature = "tls"))]
    #[test]
    fn starttls_without_the_tls_feature_is_refused_with_what_to_do() {
        let error = SmtpChannel::new(&smtp(TlsMode::StartTls), std::time::Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(matches!(error, ConfigError::TlsUnavailable { .. }));
        assert!(error.to_string().contains("`tls` feature"), "{error}");
    }

    #[cfg(feature = "tls")]
    #[test]
    fn starttls_and_implicit_tls_build_with_the_tls_feature() {
        for mode in [TlsMode::StartTls, TlsMode::Implicit] {
            let mut config = smtp(mode);
            config.host = "relay.example".into();
            assert!(SmtpChannel::new(&config, std::time::Duration::from_secs(1)).is_ok());
        }
        let channel = WebhookChannel::new(
            "sms_url",
            "https://gw.example/sms",
            None,
            std::time::Duration::from_secs(1),
        );
        assert!(channel.is_ok());
    }
}
