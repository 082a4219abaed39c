//! Delivery of family notifications: the channels a message can leave by (email over SMTP, SMS
//! and messenger gateways over an HTTP webhook, and files in a folder as the embedded default),
//! the registry that picks a channel by kind, the retry backoff, and the message templates.
//!
//! The notification service decides *what* to tell a family and *when*; this crate only turns
//! that into words and puts them on the wire. It knows nothing of gRPC or databases.
//!
//! Never log, trace or put into an error text an address, a phone number, a subject or a body:
//! they are personal data. Log delivery ids only.

#![forbid(unsafe_code)]

mod backoff;
mod channel;
mod config;
mod file;
mod registry;
mod smtp;
pub mod templates;
mod webhook;

pub use backoff::Backoff;
pub use channel::{Channel, Outgoing, SendError, Sent};
pub use config::{
    ConfigError, DeliveryConfig, FileConfig, Secret, SmtpConfig, TlsMode, WebhookConfig,
};
pub use file::FileChannel;
pub use registry::{ChannelKind, Channels};
pub use smtp::SmtpChannel;
pub use webhook::WebhookChannel;
