//! The one narrow trait through which the runner reaches a store under test, and its
//! implementation for the Rust driver (`cinderbox-driver`). Other drivers plug in through
//! an adapter that implements `Target`.

use std::fmt;
use std::io::{Read, Write};

use cinderbox_driver::{AddRequest, DriverError, GlanceConfig, StoreState, Stores};

use crate::adapter;
use crate::adapter_target::model_class;
pub use crate::model::ErrorClass;

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

/// Whether a store accepts writes, as the target reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    Enabled,
    Disabled,
    Unverified,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreStatus {
    pub name: String,
    pub volume_type: Option<String>,
    pub is_default: bool,
    pub health: Health,
}

/// Glance's answer to an upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Added {
    pub location: String,
    pub size: u64,
    /// md5 hex.
    pub checksum: String,
    /// sha256 hex.
    pub multihash: String,
    pub store: String,
}

/// A cinder image store under test. Every method reports failures by class.
pub trait Target {
    /// (Re)configures from the text of a `glance-api.conf`; `file` names it in errors.
    fn configure(&mut self, file: &str, glance_api_conf: &str) -> Result<(), TargetError>;
    fn stores(&self) -> Result<Vec<StoreStatus>, TargetError>;
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

/// The one classification of the driver's typed errors, in the adapter protocol's classes:
/// used by the in-process target (through [`classify`]) and by `cinderbox-rust-adapter`,
/// so both forms of our driver answer alike.
pub fn wire_class(err: &DriverError) -> adapter::ErrorClass {
    use adapter::ErrorClass as C;
    match err {
        DriverError::NotFound { .. } => C::NotFound,
        DriverError::StoreDisabled { .. } => C::Disabled,
        DriverError::BadLocation(_) | DriverError::UnknownStore(_) => C::BadLocation,
        DriverError::StorageFull { .. } => C::StorageFull,
        DriverError::SizeMismatch(_) => C::SizeMismatch,
        DriverError::InvalidInput(_) | DriverError::Config(_) => C::Invalid,
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
        | DriverError::Inconsistent(_) => C::Backend,
    }
}

/// The runner's class of a driver error: its protocol class as the model sees it
/// (`adapter_target::model_class`; no driver error is `unsupported`).
pub fn classify(err: &DriverError) -> ErrorClass {
    model_class(wire_class(err)).unwrap_or(ErrorClass::Backend)
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

    fn stores(&self) -> Result<Vec<StoreStatus>, TargetError> {
        Ok(self
            .stores_ref()?
            .stores()
            .into_iter()
            .filter_map(|s| {
                let health = match s.state? {
                    StoreState::Enabled => Health::Enabled,
                    StoreState::Disabled { .. } => Health::Disabled,
                    StoreState::Unverified { .. } => Health::Unverified,
                };
                Some(StoreStatus {
                    name: s.name,
                    volume_type: s.volume_type,
                    is_default: s.is_default,
                    health,
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
