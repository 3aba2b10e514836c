//! Multi-store Glance cinder image store: configuration, Keystone auth, a Cinder v3 client
//! and the `Stores` object that adds, reads, sizes, deletes and upgrades image locations.

pub mod config;
pub mod error;
pub mod ini;

pub use config::GlanceConfig;
pub use error::{ConfigError, DriverError};
pub mod auth;
mod backend;
pub mod backoff;
pub mod cli;
pub mod client;
pub mod connector;
pub mod hashing;
pub mod location;
mod ownership;
pub mod pipeline;
pub mod store;
pub mod upload;
pub mod volume;

pub use hashing::HashAlgo;
pub use store::{ImageReader, StoreInfo, StoreState, Stores};
pub use upload::{AddRequest, AddResult};
