//! The SMTP channel against a real SMTP server run by the test: a small one on tokio that speaks
//! enough of RFC 5321 for lettre, records what it receives, and can be told to defer or refuse.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use base64::Engine as _;
use homeward_delivery::{Channel, Outgoing, SendError, SmtpChannel, SmtpConfig, TlsMode};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Accept,
    /// 451 to the first MAIL FROM it ever sees, then accepts.
    DeferFirstMail,
    /// 550 to every RCPT TO, echoing the address as real servers do.
    RejectRecipients,
    /// Accepts the connection and never says a word.
    Silent,
}

#[derive(Debug, Clone)]
struct Received {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: String,
}

struct SmtpServer {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpServer {
    async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let mails_seen = Arc::new(AtomicUsize::new(0));
        let task = {
            let received = received.clone();
            let connections = connections.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    connections.fetch_add(1, Ordering::SeqCst);
                    let received = received.clone();
                    let mails_seen = mails_seen.clone();
                    tokio::spawn(async move {
                        let _ = session(stream, behaviour, received, mails_seen).await;
                    });
                }
            })
        };
        Self {
            addr,
            received,
            connections,
            task,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// The address inside `MAIL FROM:<a@b> SIZE=...` or `RCPT TO:<a@b>`.
fn path_argument(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line.rfind('>').unwrap_or(line.len());
    line[start..end].to_owned()
}

async fn session(
    stream: TcpStream,
    behaviour: Behaviour,
    received: Arc<Mutex<Vec<Received>>>,
    mails_seen: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    if behaviour == Behaviour::Silent {
        tokio::time::sleep(Duration::from_secs(30)).await;
        return Ok(());
    }
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    writer
        .write_all(b"220 mx.homeward.test ESMTP test\r\n")
        .await?;
    let (mut mail_from, mut rcpt_to) = (None::<String>, Vec::<String>::new());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end_matches(['\r', '\n']);
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: String = match verb.as_str() {
            "EHLO" => "250-mx.homeward.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n".into(),
            "HELO" => "250 mx.homeward.test\r\n".into(),
            "NOOP" => "250 2.0.0 ok\r\n".into(),
            "RSET" => {
                (mail_from, rcpt_to) = (None, Vec::new());
                "250 2.0.0 ok\r\n".into()
            }
            "QUIT" => {
                writer.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            "MAIL" => {
                let first = mails_seen.fetch_add(1, Ordering::SeqCst) == 0;
                if behaviour == Behaviour::DeferFirstMail && first {
                    "451 4.3.0 try again later\r\n".into()
                } else {
                    mail_from = Some(path_argument(line));
                    "250 2.1.0 ok\r\n".into()
                }
            }
            "RCPT" if mail_from.is_none() => "503 5.5.1 MAIL first\r\n".into(),
            "RCPT" => {
                let to = path_argument(line);
                if behaviour == Behaviour::RejectRecipients {
                    format!("550 5.1.1 <{to}>: Recipient address rejected: user unknown\r\n")
                } else {
                    rcpt_to.push(to);
                    "250 2.1.5 ok\r\n".into()
                }
            }
            "DATA" if rcpt_to.is_empty() => "503 5.5.1 RCPT first\r\n".into(),
            "DATA" => {
                writer
                    .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                loop {
                    let mut data_line = String::new();
                    if reader.read_line(&mut data_line).await? == 0 {
                        return Ok(());
                    }
                    if data_line == ".\r\n" {
                        break;
                    }
                    // Dot-unstuffing (RFC 5321 4.5.2).
                    let data_line = data_line.strip_prefix('.').unwrap_or(&data_line);
                    data.push_str(data_line);
                }
                received.lock().unwrap().push(Received {
                    mail_from: mail_from.take().unwrap_or_default(),
                    rcpt_to: std::mem::take(&mut rcpt_to),
                    data,
                });
                "250 2.0.0 ok: queued as 7E57\r\n".into()
            }
            _ => "502 5.5.2 command not recognised\r\n".into(),
        };
        writer.write_all(reply.as_bytes()).await?;
    }
}

/// A received message, headers unfolded and the body transfer-decoded.
struct Parsed {
    headers: Vec<(String, String)>,
    body: String,
}

impl Parsed {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn subject(&self) -> String {
        decode_words(self.header("Subject").expect("a Subject header"))
    }
}

fn parse(data: &str) -> Parsed {
    let (head, body) = data.split_once("\r\n\r\n").expect("headers and a body");
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().expect("a header to continue");
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else {
            let (name, value) = line.split_once(':').expect("name: value");
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
    }
    let encoding = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Content-Transfer-Encoding"))
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_else(|| "7bit".into());
    let bytes = match encoding.as_str() {
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .expect("valid base64"),
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    };
    let body = String::from_utf8(bytes).expect("a UTF-8 body");
    Parsed {
        headers,
        body: body.replace("\r\n", "\n").trim_end_matches('\n').to_owned(),
    }
}

fn hex_byte(pair: &[u8]) -> u8 {
    u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).expect("two hex digits")
}

fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes[i + 1..].starts_with(b"\r\n") {
                i += 3; // soft line break
            } else {
                out.push(hex_byte(&bytes[i + 1..i + 3]));
                i += 3;
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`); whitespace between two encoded
/// words is dropped, as the RFC says.
fn decode_words(value: &str) -> String {
    let mut out: Vec<u8> = Vec::new();
    let mut previous_was_encoded = false;
    for (i, token) in value.split_whitespace().enumerate() {
        let encoded = token
            .strip_prefix("=?")
            .and_then(|t| t.strip_suffix("?="))
            .and_then(|t| {
                let mut parts = t.splitn(3, '?');
                Some((parts.next()?, parts.next()?, parts.next()?))
            });
        match encoded {
            Some((charset, encoding, text)) => {
                assert!(charset.eq_ignore_ascii_case("utf-8"), "charset {charset}");
                if i > 0 && !previous_was_encoded {
                    out.push(b' ');
                }
                if encoding.eq_ignore_ascii_case("b") {
                    out.extend(
                        base64::engine::general_purpose::STANDARD
                            .decode(text)
                            .expect("base64 word"),
                    );
                } else {
                    out.extend(decode_quoted_printable(&text.replace('_', " ")));
                }
                previous_was_encoded = true;
            }
            None => {
                if i > 0 {
                    out.push(b' ');
                }
                out.extend(token.as_bytes());
                previous_was_encoded = false;
            }
        }
    }
    String::from_utf8(out).expect("a UTF-8 subject")
}

fn channel(port: u16, timeout: Duration) -> SmtpChannel {
    SmtpChannel::new(
        &SmtpConfig {
            host: "127.0.0.1".into(),
            port: Some(port),
            tls: TlsMode::None,
            username: None,
            password: None,
            from: "notify@bureau.homeward.test".into(),
            from_name: Some("National Information Bureau".into()),
        },
        timeout,
    )
    .unwrap()
}

fn message(delivery_id: &str) -> Outgoing {
    Outgoing {
        delivery_id: delivery_id.into(),
        to: "olena.kovalenko@family.homeward.test".into(),
        messenger: String::new(),
        subject: "New information on your inquiry HW-2025-0412".into(),
        body: "Hello,\n\nThere is new information about the person you asked about.\n\n\
               National Information Bureau"
            .into(),
        language: "en".into(),
    }
}

const DELIVERY: &str = "0196b7e2-7c1a-7d2e-9f00-1234567890ab";

#[tokio::test]
async fn an_email_arrives_with_its_recipient_subject_message_id_and_body() {
    let server = SmtpServer::start(Behaviour::Accept).await;
    let sent = channel(server.addr.port(), Duration::from_secs(5))
        .send(&message(DELIVERY))
        .await
        .unwrap();

    let expected_id = format!("<{DELIVERY}@bureau.homeward.test>");
    assert_eq!(sent.provider_message_id, expected_id);
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].mail_from, "notify@bureau.homeward.test");
    assert_eq!(
        received[0].rcpt_to,
        vec!["olena.kovalenko@family.homeward.test".to_owned()]
    );
    let email = parse(&received[0].data);
    assert_eq!(
        email.header("To"),
        Some("olena.kovalenko@family.homeward.test")
    );
    assert_eq!(
        email.header("From"),
        Some("\"National Information Bureau\" <notify@bureau.homeward.test>")
    );
    assert_eq!(email.subject(), message(DELIVERY).subject);
    assert_eq!(email.header("Message-ID"), Some(expected_id.as_str()));
    assert_eq!(email.header("Content-Language"), Some("en"));
    assert_eq!(email.header("Auto-Submitted"), Some("auto-generated"));
    assert_eq!(email.body, message(DELIVERY).body);
}

#[tokio::test]
async fn a_ukrainian_email_arrives_intact_once_its_transfer_encoding_is_undone() {
    let server = SmtpServer::start(Behaviour::Accept).await;
    let mut ukrainian = message(DELIVERY);
    ukrainian.subject = "Нова інформація за вашим зверненням HW-2025-0412".into();
    ukrainian.body = "Добрий день!\n\nЗ’явилася нова інформація про людину, про яку ви \
                      запитували (звернення HW-2025-0412).\n\nЗ повагою,\nНаціональне \
                      інформаційне бюро"
        .into();
    ukrainian.language = "uk".into();
    channel(server.addr.port(), Duration::from_secs(5))
        .send(&ukrainian)
        .await
        .unwrap();

    let received = server.received();
    assert_eq!(received.len(), 1);
    let raw = &received[0].data;
    // Sent 7-bit clean: the Cyrillic is encoded on the wire, not raw UTF-8.
    assert!(raw.is_ascii(), "{raw}");
    let email = parse(raw);
    assert_eq!(email.subject(), ukrainian.subject);
    assert_eq!(email.body, ukrainian.body);
    assert_eq!(email.header("Content-Language"), Some("uk"));
}

#[tokio::test]
async fn a_deferral_is_transient_and_the_next_attempt_delivers_with_the_same_message_id() {
    let server = SmtpServer::start(Behaviour::DeferFirstMail).await;
    let channel = channel(server.addr.port(), Duration::from_secs(5));

    let first = channel.send(&message(DELIVERY)).await.unwrap_err();
    assert!(matches!(first, SendError::Transient(_)), "{first}");
    assert!(first.reason().contains("451"), "{first}");
    assert!(server.received().is_empty());

    let second = channel.send(&message(DELIVERY)).await.unwrap();
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        parse(&received[0].data).header("Message-ID"),
        Some(second.provider_message_id.as_str())
    );
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn a_refused_recipient_is_permanent_and_the_error_does_not_repeat_the_address() {
    let server = SmtpServer::start(Behaviour::RejectRecipients).await;
    let error = channel(server.addr.port(), Duration::from_secs(5))
        .send(&message(DELIVERY))
        .await
        .unwrap_err();
    assert!(matches!(error, SendError::Permanent(_)), "{error}");
    assert!(error.reason().contains("550"), "{error}");
    assert!(error.reason().contains("user unknown"), "{error}");
    assert!(!error.to_string().contains("olena"), "{error}");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_relay_that_is_not_listening_is_transient() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let error = channel(port, Duration::from_secs(5))
        .send(&message(DELIVERY))
        .await
        .unwrap_err();
    assert!(matches!(error, SendError::Transient(_)), "{error}");
}

#[tokio::test]
async fn a_relay_that_never_answers_is_transient_once_the_timeout_passes() {
    let server = SmtpServer::start(Behaviour::Silent).await;
    let started = Instant::now();
    let error = channel(server.addr.port(), Duration::from_millis(300))
        .send(&message(DELIVERY))
        .await
        .unwrap_err();
    assert!(matches!(error, SendError::Transient(_)), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_invalid_address_is_permanent_and_the_relay_is_not_contacted() {
    let server = SmtpServer::start(Behaviour::Accept).await;
    let mut bad = message(DELIVERY);
    bad.to = "olena at family".into();
    let error = channel(server.addr.port(), Duration::from_secs(5))
        .send(&bad)
        .await
        .unwrap_err();
    assert!(matches!(error, SendError::Permanent(_)), "{error}");
    assert!(!error.to_string().contains("olena"), "{error}");
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn a_delivery_id_unfit_for_a_message_id_is_made_safe_the_same_way_every_time() {
    let server = SmtpServer::start(Behaviour::Accept).await;
    let channel = channel(server.addr.port(), Duration::from_secs(5));
    let odd = "inquiry 12/attempt <1>";
    let first = channel.send(&message(odd)).await.unwrap();
    let second = channel.send(&message(odd)).await.unwrap();
    assert_eq!(first, second);
    let id = &first.provider_message_id;
    assert!(id.starts_with("<inquiry_12_attempt__1_-"), "{id}");
    assert!(id.ends_with("@bureau.homeward.test>"), "{id}");
    let received = server.received();
    assert_eq!(received.len(), 2);
    assert_eq!(
        parse(&received[1].data).header("Message-ID"),
        Some(id.as_str())
    );
}
