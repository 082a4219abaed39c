//! The Homeward server kit: everything a Homeward service needs, written once.
//!
//! Each module has one job. Services compose them in their `Application::build`; nothing in
//! here knows about persons, exchanges or families.

#![forbid(unsafe_code)]

pub mod access;
pub mod audit;
pub mod auth;
pub mod check;
pub mod client;
pub mod config;
pub mod db;
pub mod docs;
pub mod error;
pub mod idempotency;
pub mod metrics;
pub mod outbox;
pub mod page;
pub mod server;
pub mod telemetry;
pub mod timestamp;
pub mod tls;

pub use error::{ApiError, StoreError};
