//! A small SMTP server for the end-to-end tests: it speaks enough of RFC 5321 for a mail relay
//! client (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), records what it accepts, and can
//! defer the first messages with 451 to exercise retries.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
    task::JoinHandle,
};

/// One accepted message.
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub from: String,
    pub recipients: Vec<String>,
    pub data: String,
}

pub struct SmtpServer {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl SmtpServer {
    /// Listens on a free port; the first `defer` messages are refused with 451.
    pub async fn start(defer: u32) -> Self {
        Self::listen(TcpListener::bind("127.0.0.1:0").await.expect("bind"), defer)
    }

    /// Listens on `port` again (after `stop`).
    pub async fn start_on(port: u16, defer: u32) -> Self {
        Self::listen(
            TcpListener::bind(("127.0.0.1", port)).await.expect("bind"),
            defer,
        )
    }

    fn listen(listener: TcpListener, defer: u32) -> Self {
        let addr = listener.local_addr().expect("addr");
        let received = Arc::new(Mutex::new(Vec::new()));
        let deferrals = Arc::new(AtomicU32::new(defer));
        let store = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let store = store.clone();
                let deferrals = deferrals.clone();
                tokio::spawn(async move {
                    let _ = session(socket, store, deferrals).await;
                });
            }
        });
        Self {
            addr,
            received,
            task,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Stops listening; the port refuses connections afterwards.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn session(
    socket: tokio::net::TcpStream,
    store: Arc<Mutex<Vec<Received>>>,
    deferrals: Arc<AtomicU32>,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 test.local ESMTP\r\n").await?;
    let mut current = Received::default();
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-test.local\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 ok\r\n"
        } else if upper.starts_with("RSET") {
            current = Received::default();
            b"250 ok\r\n"
        } else if upper.starts_with("MAIL FROM") {
            let deferred = deferrals
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if deferred {
                b"451 try again later\r\n"
            } else {
                current = Received {
                    from: line[10..].trim().to_string(),
                    ..Default::default()
                };
                b"250 ok\r\n"
            }
        } else if upper.starts_with("RCPT TO") {
            current.recipients.push(line[8..].trim().to_string());
            b"250 ok\r\n"
        } else if upper.starts_with("DATA") {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            while let Some(l) = lines.next_line().await? {
                if l == "." {
                    break;
                }
                data.push_str(&l);
                data.push('\n');
            }
            current.data = data;
            if let Ok(mut r) = store.lock() {
                r.push(std::mem::take(&mut current));
            }
            b"250 queued\r\n"
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
    Ok(())
}
