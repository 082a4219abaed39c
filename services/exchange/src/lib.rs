//! The exchange coordination service: agreements between two parties, exchange phases and
//! their state machine, each side's lists, reconciliation against the registry, consent,
//! hold-backs, the handover and the saga that reserves and repatriates people in the registry.
//!
//! This crate so far holds the domain rules (`domain`): quotas and counts, the phase state
//! machine and settlement. The store, the gRPC service and the saga build on them.

#![forbid(unsafe_code)]

pub mod domain;
