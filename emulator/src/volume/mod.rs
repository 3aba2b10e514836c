//! The volume domain: status machine, records, operations, durable store, data files
//! and the background jobs of the emulated volume service.

pub mod attach;
pub mod default_types;
pub mod domain;
pub mod encryption;
pub mod filecopy;
pub mod files;
pub mod group_snapshots;
pub mod group_sources;
pub mod group_types;
pub mod groups;
pub mod hold;
pub mod hooks;
pub mod jobs;
pub mod messages;
pub mod metadata;
pub mod model;
pub mod ops;
pub mod qos;
pub mod quotas;
pub mod services;
pub mod snapshot_jobs;
pub mod snapshot_status;
pub mod snapshots;
pub mod sources;
pub mod sql;
pub mod status;
pub mod store;
pub mod sums;
pub mod transfers;
pub mod transition;
pub mod tx;
pub mod types;
