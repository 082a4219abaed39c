//! The embedded default channel: one file per delivery in a folder, for an office that prints and
//! posts or hands over what would otherwise have been sent.
//!
//! A file is written to a temporary name, flushed to disk and renamed into place, so a reader
//! never sees half a message and writing the same delivery again leaves one file. Files are
//! created readable by their owner only: they hold personal data. Nothing here logs the content.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use async_trait::async_trait;
use tracing::debug;

use crate::channel::{Channel, Outgoing, SendError, Sent, safe_id};

pub struct FileChannel {
    dir: PathBuf,
}

impl FileChannel {
    /// The folder is created on the first send when it is missing.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the file for `delivery_id` is written.
    pub fn path_for(&self, delivery_id: &str) -> PathBuf {
        self.dir.join(file_name(delivery_id))
    }
}

fn file_name(delivery_id: &str) -> String {
    format!("{}.txt", safe_id(delivery_id))
}

/// A header value on one line, so a subject cannot forge further headers.
fn one_line(value: &str) -> String {
    value.split(['\r', '\n']).collect::<Vec<_>>().join(" ")
}

fn render(message: &Outgoing) -> String {
    let mut text = String::new();
    for (name, value) in [
        ("To", &message.to),
        ("Subject", &message.subject),
        ("Language", &message.language),
        ("Delivery-Id", &message.delivery_id),
    ] {
        text.push_str(name);
        text.push_str(": ");
        text.push_str(&one_line(value));
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&message.body);
    if !message.body.ends_with('\n') {
        text.push('\n');
    }
    text
}

fn write_atomically(dir: &Path, name: &str, content: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // Leading dot: never mistaken for a delivery by whoever reads the folder.
    let mut temp = tempfile::Builder::new()
        .prefix(".")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(content)?;
    temp.as_file().sync_all()?;
    temp.persist(dir.join(name)).map_err(|e| e.error)?;
    // The rename itself is durable only once the folder is synced.
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[async_trait]
impl Channel for FileChannel {
    #[tracing::instrument(name = "file_send", skip_all, fields(delivery_id = %message.delivery_id))]
    async fn send(&self, message: &Outgoing) -> Result<Sent, SendError> {
        let dir = self.dir.clone();
        let name = file_name(&message.delivery_id);
        let content = render(message);
        let written = {
            let name = name.clone();
            tokio::task::spawn_blocking(move || write_atomically(&dir, &name, content.as_bytes()))
                .await
        };
        match written {
            Ok(Ok(())) => {
                debug!(file = %name, "delivery written");
                Ok(Sent {
                    provider_message_id: name,
                })
            }
            // A full disk or a wrong permission is the office's to fix, then a retry delivers.
            Ok(Err(error)) => Err(SendError::Transient(format!(
                "the delivery file could not be written: {error}"
            ))),
            Err(error) => Err(SendError::Transient(format!(
                "the delivery file writer stopped: {error}"
            ))),
        }
    }
}
