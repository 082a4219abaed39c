//! The `homeward-registry` binary as an operator runs it: configured from the environment, it
//! serves, and on SIGTERM it drains and exits cleanly.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

#[tokio::test]
async fn the_binary_starts_from_the_environment_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_homeward-registry"))
        .env("HOMEWARD_SERVER__LISTEN", "127.0.0.1:0")
        .env(
            "HOMEWARD_DATABASE__URL",
            format!("sqlite://{}", dir.path().join("r.db").display()),
        )
        .env(
            "HOMEWARD_AUTH__SECRET",
            "a-secret-of-at-least-thirty-two-bytes!!",
        )
        .env("HOMEWARD_TELEMETRY__LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start homeward-registry");

    // The JSON log line announcing the listener carries the address it got.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the registry announces its address");
        let value: serde_json::Value = serde_json::from_str(&line).expect("log lines are JSON");
        if value["message"] == "registry listening" {
            break value["addr"].as_str().unwrap().to_string();
        }
    };

    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let reply = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "homeward.registry.v1.RegistryService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        reply.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    // The client keeps its connection open: draining must not wait for it to go away.
    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the registry did not stop within its grace period"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status:?}");
    drop(health);
}
