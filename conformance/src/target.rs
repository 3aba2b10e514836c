//! The one narrow trait through which the runner reaches a store under test, and its
//! implementation for the Rust driver (`cinderbox-driver`). Other drivers plug in through
//! an adapter that implements `Target`.

use std::fmt;
use std::io::{Read, Write};

use cinderbox_driver::{AddRequest, DriverError, GlanceConfig, StoreState, Stores};

pub use crate::adapter::ErrorClass;
use crate::adapter::{self, Added, Store};

/// A failure as the runner sees it: a class to compare and a message to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetError {
    pub class: ErrorClass,
    pub message: String,
}

impl TargetError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> TargetError {
        TargetError {
            class,
            message: message.into(),
        }
    }
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class, self.message)
    }
}

impl std::error::Error for TargetError {}

/// A cinder image store under test. Every method reports failures by class.
pub trait Target {
    /// (Re)configures from the text of a `glance-api.conf`; `file` names it in errors.
    fn configure(&mut self, file: &str, glance_api_conf: &str) -> Result<(), TargetError>;
    fn stores(&self) -> Result<Vec<Store>, TargetError>;
    /// Uploads `data`; `size` is `None` when the length is not declared up front.
    fn add(
        &self,
        store: Option<&str>,
        image_id: &str,
        size: Option<u64>,
        data: &mut dyn Read,
    ) -> Result<Added, TargetError>;
    /// Streams `length` bytes (to the end when `None`) from `offset` into `sink`; returns
    /// the count written.
    fn get(
        &self,
        location: &str,
        offset: u64,
        length: Option<u64>,
        sink: &mut dyn Write,
    ) -> Result<u64, TargetError>;
    fn get_size(&self, location: &str) -> Result<u64, TargetError>;
    fn delete(&self, location: &str) -> Result<(), TargetError>;
    fn upgrade_location(&self, location: &str) -> Result<String, TargetError>;
    fn upgrade_locations(&self, locations: &[&str]) -> Vec<Result<String, TargetError>>;
}

/// The one classification of the driver's typed errors, in the adapter protocol's classes
/// (`docs/adapter-protocol.md`, "Error classes"): used by the in-process target and by
/// `cinderbox-rust-adapter`, so both forms of our driver answer alike. Each variant goes by
/// what it means, not by where it was raised:
/// - `UnknownStore` is `bad_location`: a location (or `store` argument) naming a store that
///   is not configured is a location this config cannot serve;
/// - `SizeMismatch` is `size_mismatch`: the protocol has a class for "the declared size and
///   the bytes received differ", narrower than `invalid`;
/// - `Config` is `invalid` with `InvalidInput`: an unreadable `glance-api.conf` is the
///   caller's input, no backend was asked;
/// - everything raised while talking to Keystone or Cinder (auth, endpoints, HTTP, time-outs,
///   unexpected or inconsistent answers, an unusable connector, local I/O, a failed md5) is
///   `backend`.
///
/// No driver error is `unsupported`: the driver implements every op.
pub fn classify(err: &DriverError) -> ErrorClass {
    match err {
        DriverError::NotFound { .. } => ErrorClass::NotFound,
        DriverError::StoreDisabled { .. } => ErrorClass::Disabled,
        DriverError::BadLocation(_) | DriverError::UnknownStore(_) => ErrorClass::BadLocation,
        DriverError::StorageFull { .. } => ErrorClass::StorageFull,
        DriverError::SizeMismatch(_) => ErrorClass::SizeMismatch,
        DriverError::InvalidInput(_) | DriverError::Config(_) => ErrorClass::Invalid,
        DriverError::Auth { .. }
        | DriverError::Endpoint { .. }
        | DriverError::Http { .. }
        | DriverError::Unreachable { .. }
        | DriverError::RequestTimeout { .. }
        | DriverError::Timeout { .. }
        | DriverError::UnexpectedStatus { .. }
        | DriverError::Forbidden { .. }
        | DriverError::UnsupportedConnector { .. }
        | DriverError::Io { .. }
        | DriverError::Hashing(_)
        | DriverError::Inconsistent(_) => ErrorClass::Backend,
    }
}

/// A cinder store's state in the protocol's terms, with the driver's reason when it is
/// not enabled: shared by the in-process target and `cinderbox-rust-adapter`.
pub fn wire_state(state: StoreState) -> (adapter::StoreState, Option<String>) {
    match state {
        StoreState::Enabled => (adapter::StoreState::Enabled, None),
        StoreState::Disabled { reason } => (adapter::StoreState::Disabled, Some(reason)),
        StoreState::Unverified { reason } => (adapter::StoreState::Unverified, Some(reason)),
    }
}

fn wrap(err: DriverError) -> TargetError {
    TargetError::new(classify(&err), err.to_string())
}

/// The Rust driver as a `Target`.
#[derive(Default)]
pub struct DriverTarget {
    stores: Option<Stores>,
    trust_cinder: bool,
}

impl DriverTarget {
    pub fn new() -> DriverTarget {
        DriverTarget::default()
    }

    /// The driver with its read-back checks of Cinder's answers turned off
    /// (`Stores::trust_cinder_for_tests`): "a driver that trusts Cinder", against which
    /// planted Cinder bugs must be caught by the model's own invariants. Its profile is
    /// `DriverProfile::RUST_TRUSTING`.
    pub fn trusting_cinder() -> DriverTarget {
        DriverTarget {
            stores: None,
            trust_cinder: true,
        }
    }

    fn stores_ref(&self) -> Result<&Stores, TargetError> {
        self.stores
            .as_ref()
            .ok_or_else(|| TargetError::new(ErrorClass::Backend, "target not configured"))
    }
}

impl Target for DriverTarget {
    fn configure(&mut self, file: &str, glance_api_conf: &str) -> Result<(), TargetError> {
        let config =
            GlanceConfig::parse(file, glance_api_conf).map_err(|e| wrap(DriverError::Config(e)))?;
        let mut stores = Stores::configure(config).map_err(wrap)?;
        if self.trust_cinder {
            stores.trust_cinder_for_tests();
        }
        self.stores = Some(stores);
        Ok(())
    }

    fn stores(&self) -> Result<Vec<Store>, TargetError> {
        Ok(self
            .stores_ref()?
            .stores()
            .into_iter()
            .filter_map(|s| {
                let (state, reason) = wire_state(s.state?);
                Some(Store {
                    name: s.name,
                    volume_type: s.volume_type,
                    default: s.is_default,
                    state,
                    reason,
                })
            })
            .collect())
    }

    fn add(
        &self,
        store: Option<&str>,
        image_id: &str,
        size: Option<u64>,
        data: &mut dyn Read,
    ) -> Result<Added, TargetError> {
        let request = AddRequest::new(image_id, size);
        let r = self
            .stores_ref()?
            .add(store, &request, data)
            .map_err(wrap)?;
        Ok(Added {
            location: r.location,
            size: r.size,
            checksum: r.checksum,
            multihash: r.multihash,
            store: r.store,
        })
    }

    fn get(
        &self,
        location: &str,
        offset: u64,
        length: Option<u64>,
        sink: &mut dyn Write,
    ) -> Result<u64, TargetError> {
        let mut reader = self
            .stores_ref()?
            .get(location, offset, length)
            .map_err(wrap)?;
        let copied = std::io::copy(&mut reader, sink).map_err(|e| {
            TargetError::new(ErrorClass::Backend, format!("reading {location}: {e}"))
        })?;
        reader.finish().map_err(wrap)?;
        Ok(copied)
    }

    fn get_size(&self, location: &str) -> Result<u64, TargetError> {
        self.stores_ref()?.get_size(location).map_err(wrap)
    }

    fn delete(&self, location: &str) -> Result<(), TargetError> {
        self.stores_ref()?.delete(location).map_err(wrap)
    }

    fn upgrade_location(&self, location: &str) -> Result<String, TargetError> {
        self.stores_ref()?.upgrade_location(location).map_err(wrap)
    }

    fn upgrade_locations(&self, locations: &[&str]) -> Vec<Result<String, TargetError>> {
        match self.stores_ref() {
            Ok(stores) => stores
                .upgrade_locations(locations)
                .into_iter()
                .map(|r| r.map_err(wrap))
                .collect(),
            Err(e) => locations.iter().map(|_| Err(e.clone())).collect(),
        }
    }
}
