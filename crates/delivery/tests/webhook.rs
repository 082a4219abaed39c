//! The webhook channel against a real HTTP/1.1 server run by the test: a small one on tokio that
//! records each request and answers with a status and body the test chooses.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use homeward_delivery::{Channel, Outgoing, Secret, SendError, WebhookChannel};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    /// Names in lower case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the gateway answers; `None` means it never answers at all.
type Answer = Option<(u16, &'static str)>;

struct Gateway {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    task: JoinHandle<()>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Gateway {
    async fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let task = {
            let requests = requests.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let requests = requests.clone();
                    tokio::spawn(async move {
                        let _ = exchange(stream, answer, requests).await;
                    });
                }
            })
        };
        Self {
            addr,
            requests,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/v1/sms", self.addr)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

async fn exchange(
    stream: TcpStream,
    answer: Answer,
    requests: Arc<Mutex<Vec<Request>>>,
) -> std::io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).await?;
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    );
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    requests.lock().unwrap().push(Request {
        method,
        path,
        headers,
        body,
    });

    let Some((status, answer_body)) = answer else {
        tokio::time::sleep(Duration::from_secs(30)).await;
        return Ok(());
    };
    let response = format!(
        "HTTP/1.1 {status} Test\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{answer_body}",
        answer_body.len()
    );
    writer.write_all(response.as_bytes()).await?;
    writer.shutdown().await
}

fn message() -> Outgoing {
    Outgoing {
        delivery_id: "0196b7e2-7c1a-7d2e-9f00-00000000sms1".into(),
        to: "+380501234567".into(),
        messenger: "signal".into(),
        subject: "ignored by gateways".into(),
        body: "Добрий день! Є нова інформація за вашим зверненням HW-2025-0412.".into(),
        language: "uk".into(),
    }
}

fn channel(url: &str, token: Option<&str>, timeout: Duration) -> WebhookChannel {
    WebhookChannel::new("sms_url", url, token.map(Secret::new), timeout).unwrap()
}

#[tokio::test]
async fn a_message_is_posted_as_json_with_its_idempotency_key_and_token() {
    let gateway = Gateway::start(Some((200, r#"{"message_id": "gw-4711"}"#))).await;
    let sent = channel(&gateway.url(), Some("s3cret"), Duration::from_secs(5))
        .send(&message())
        .await
        .unwrap();
    assert_eq!(sent.provider_message_id, "gw-4711");

    let requests = gateway.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/sms");
    assert_eq!(
        request.header("idempotency-key"),
        Some("0196b7e2-7c1a-7d2e-9f00-00000000sms1")
    );
    assert_eq!(request.header("authorization"), Some("Bearer s3cret"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({
            "delivery_id": "0196b7e2-7c1a-7d2e-9f00-00000000sms1",
            "to": "+380501234567",
            "messenger": "signal",
            "body": "Добрий день! Є нова інформація за вашим зверненням HW-2025-0412.",
            "language": "uk",
        })
    );
}

#[tokio::test]
async fn without_a_token_no_authorization_header_is_sent() {
    let gateway = Gateway::start(Some((202, ""))).await;
    let sent = channel(&gateway.url(), None, Duration::from_secs(5))
        .send(&message())
        .await
        .unwrap();
    assert_eq!(sent.provider_message_id, "");
    let requests = gateway.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("authorization"), None);
}

#[tokio::test]
async fn an_unavailable_or_busy_gateway_is_transient() {
    for status in [503, 500, 429, 408] {
        let gateway = Gateway::start(Some((status, r#"{"error": "busy"}"#))).await;
        let error = channel(&gateway.url(), None, Duration::from_secs(5))
            .send(&message())
            .await
            .unwrap_err();
        assert!(
            matches!(error, SendError::Transient(_)),
            "{status}: {error}"
        );
        assert!(error.reason().contains(&status.to_string()), "{error}");
        assert_eq!(gateway.requests().len(), 1);
    }
}

#[tokio::test]
async fn a_rejected_request_is_permanent_and_the_error_does_not_repeat_the_number() {
    let gateway = Gateway::start(Some((
        400,
        r#"{"error": "invalid destination +380501234567"}"#,
    )))
    .await;
    let error = channel(&gateway.url(), None, Duration::from_secs(5))
        .send(&message())
        .await
        .unwrap_err();
    assert!(matches!(error, SendError::Permanent(_)), "{error}");
    assert!(error.reason().contains("400"), "{error}");
    assert!(error.reason().contains("invalid destination"), "{error}");
    assert!(!error.to_string().contains("380501234567"), "{error}");
}

#[tokio::test]
async fn a_gateway_that_is_not_listening_is_transient() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let error = channel(
        &format!("http://127.0.0.1:{port}/v1/sms"),
        None,
        Duration::from_secs(5),
    )
    .send(&message())
    .await
    .unwrap_err();
    assert!(matches!(error, SendError::Transient(_)), "{error}");
}

#[tokio::test]
async fn a_gateway_that_never_answers_is_transient_once_the_timeout_passes() {
    let gateway = Gateway::start(None).await;
    let started = Instant::now();
    let error = channel(&gateway.url(), None, Duration::from_millis(300))
        .send(&message())
        .await
        .unwrap_err();
    assert!(matches!(error, SendError::Transient(_)), "{error}");
    assert!(error.reason().contains("in time"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
