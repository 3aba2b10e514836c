//! The volume domain: status machine, records, operations, durable store, data files
//! and the background jobs of the emulated volume service.

pub mod attach;
pub mod backup_data;
pub mod backup_jobs;
pub mod backup_status;
pub mod backups;
pub mod domain;
pub mod encryption;
pub mod filecopy;
pub mod files;
pub mod group_types;
pub mod groups;
pub mod hooks;
pub mod jobs;
pub mod messages;
pub mod metadata;
pub mod model;
pub mod ops;
pub mod qos;
pub mod quota_classes;
pub mod quotas;
pub mod retype;
pub mod services;
pub mod snapshot_jobs;
pub mod snapshot_status;
pub mod snapshots;
pub mod sources;
pub mod status;
pub mod store;
pub mod transfers;
pub mod transition;
pub mod transition_jobs;
pub mod types;
