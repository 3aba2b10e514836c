//! The volume domain: status machine, records, operations, durable store, data files
//! and the background jobs of the emulated volume service.

pub mod attach;
pub mod domain;
pub mod encryption;
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
pub mod services;
pub mod status;
pub mod store;
pub mod transfers;
pub mod transition;
pub mod types;
