//! The volume domain: status machine, records, operations, durable store, data files
//! and the background jobs of the emulated volume service.

pub mod attach;
pub mod domain;
pub mod files;
pub mod hooks;
pub mod jobs;
pub mod metadata;
pub mod model;
pub mod ops;
pub mod quotas;
pub mod status;
pub mod store;
pub mod transition;
pub mod types;
