//! SMS and messenger gateways reached by an HTTP POST of the message as JSON.
//!
//! The delivery id travels as the `Idempotency-Key` header, so a gateway that honours it sends a
//! retried message once. What a gateway answers is redacted before it becomes error text:
//! gateways echo phone numbers.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Client, StatusCode, Url, redirect};
use serde::Serialize;
use tracing::debug;

use crate::{
    channel::{Channel, Outgoing, SendError, Sent, redact},
    config::{ConfigError, Secret},
};

/// Posts messages to one gateway URL.
pub struct WebhookChannel {
    client: Client,
    url: Url,
    token: Option<Secret>,
}

/// The JSON body of the POST; the gateway's contract.
#[derive(Serialize)]
struct Payload<'a> {
    delivery_id: &'a str,
    to: &'a str,
    messenger: &'a str,
    body: &'a str,
    language: &'a str,
}

impl WebhookChannel {
    /// `field` names the setting the URL came from, for the error message.
    pub fn new(
        field: &'static str,
        url: &str,
        token: Option<Secret>,
        timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let invalid = |reason: String| ConfigError::InvalidUrl { field, reason };
        let url = Url::parse(url.trim()).map_err(|e| invalid(e.to_string()))?;
        match url.scheme() {
            "http" => {}
            "https" if cfg!(feature = "tls") => {}
            "https" => {
                return Err(ConfigError::TlsUnavailable {
                    what: format!("webhook.{field} (https)"),
                });
            }
            other => return Err(invalid(format!("the scheme {other:?} is not http(s)"))),
        }
        install_crypto_provider();
        let client = Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirected POST is a misconfigured URL, not something to follow with personal data.
            .redirect(redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        Ok(Self { client, url, token })
    }
}

/// reqwest's rustls needs a process-wide crypto provider; ring is the one lettre uses too.
/// Someone else having installed one first is fine.
#[cfg(feature = "tls")]
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(not(feature = "tls"))]
fn install_crypto_provider() {}

/// Sorts an HTTP status that is not a success into "try again" and "give up".
fn classify(status: StatusCode, said: &str) -> SendError {
    let said = redact(said);
    let reason = if said.is_empty() {
        format!("the gateway answered {status}")
    } else {
        format!("the gateway answered {status}: {said}")
    };
    let retry = status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        // Redirects and informational answers are the gateway's set-up, not the recipient's.
        || !status.is_client_error();
    if retry {
        SendError::Transient(reason)
    } else {
        SendError::Permanent(reason)
    }
}

/// The gateway's id for the message, when its answer carries `{"message_id": ...}`.
fn message_id(answer: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(answer) else {
        return String::new();
    };
    match value.get("message_id") {
        Some(serde_json::Value::String(id)) => id.clone(),
        Some(serde_json::Value::Number(id)) => id.to_string(),
        _ => String::new(),
    }
}

#[async_trait]
impl Channel for WebhookChannel {
    #[tracing::instrument(name = "webhook_send", skip_all, fields(delivery_id = %message.delivery_id))]
    async fn send(&self, message: &Outgoing) -> Result<Sent, SendError> {
        let payload = Payload {
            delivery_id: &message.delivery_id,
            to: &message.to,
            messenger: &message.messenger,
            body: &message.body,
            language: &message.language,
        };
        let mut request = self
            .client
            .post(self.url.clone())
            .header("Idempotency-Key", &message.delivery_id)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&payload);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }

        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                let error = if error.is_timeout() {
                    SendError::Transient("the gateway did not answer in time".into())
                } else {
                    SendError::Transient(redact(&error.without_url().to_string()))
                };
                debug!(%error, "webhook message not sent");
                return Err(error);
            }
        };

        let status = response.status();
        // The status decides; a body that cannot be read only costs us the gateway's id.
        let answer = response.bytes().await.unwrap_or_default();
        if status.is_success() {
            debug!(%status, "gateway accepted the message");
            return Ok(Sent {
                provider_message_id: message_id(&answer),
            });
        }
        let error = classify(status, &String::from_utf8_lossy(&answer));
        debug!(%error, "webhook message not sent");
        Err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_sort_into_transient_and_permanent() {
        for code in [500, 502, 503, 504, 408, 429, 302] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(classify(status, "").is_transient(), "{code}");
        }
        for code in [400, 401, 403, 404, 410, 422] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(!classify(status, "").is_transient(), "{code}");
        }
    }

    #[test]
    fn the_gateway_id_is_read_from_a_string_or_a_number_and_is_empty_otherwise() {
        assert_eq!(message_id(br#"{"message_id": "gw-1"}"#), "gw-1");
        assert_eq!(message_id(br#"{"message_id": 42}"#), "42");
        assert_eq!(message_id(br#"{"status": "ok"}"#), "");
        assert_eq!(message_id(b"accepted"), "");
    }

    #[test]
    fn a_url_that_is_not_http_is_refused() {
        let refused = WebhookChannel::new("sms_url", "ftp://gw.example/", None, Duration::ZERO);
        assert!(matches!(
            refused,
            Err(ConfigError::InvalidUrl {
                field: "sms_url",
                ..
            })
        ));
        assert!(WebhookChannel::new("sms_url", "not a url", None, Duration::ZERO).is_err());
    }
}
