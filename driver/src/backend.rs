//! One configured cinder store: its client, its state (checked lazily, once) and which
//! volume types it owns.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::client::{CinderClient, Volume};
use crate::config::{CinderOptions, GIB};
use crate::error::DriverError;
use crate::location::Location;

/// Whether a cinder store accepts writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreState {
    Enabled,
    /// The volume type is missing (or no credentials): add and delete refused, reads served.
    Disabled {
        reason: String,
    },
    /// Cinder/Keystone could not be asked at start; checked again on the next write.
    Unverified {
        reason: String,
    },
}

impl StoreState {
    pub fn label(&self) -> String {
        match self {
            StoreState::Enabled => "enabled".into(),
            StoreState::Disabled { reason } => format!("disabled({reason})"),
            StoreState::Unverified { reason } => format!("unverified({reason})"),
        }
    }
}

/// One configured cinder store with its own client and state.
pub struct CinderStore {
    pub name: String,
    pub options: CinderOptions,
    pub client: CinderClient,
    /// `cinder://name/<id>` in multi-store mode, `cinder://<id>` for the legacy store.
    pub(crate) location_store: Option<String>,
    state: Mutex<StoreState>,
    default_type: OnceLock<String>,
    /// Test-only (see `Stores::trust_cinder_for_tests`): skip the read-back checks and
    /// the waits for a detach to take effect.
    trusting: AtomicBool,
    /// Whether the state was asked for yet.
    asked: AtomicBool,
}

impl CinderStore {
    pub(crate) fn new(
        name: &str,
        options: &CinderOptions,
        client: CinderClient,
        location_store: Option<String>,
    ) -> CinderStore {
        CinderStore {
            name: name.to_string(),
            options: options.clone(),
            client,
            location_store,
            state: Mutex::new(StoreState::Unverified {
                reason: "not checked yet".into(),
            }),
            default_type: OnceLock::new(),
            trusting: AtomicBool::new(false),
            asked: AtomicBool::new(false),
        }
    }

    /// Test-only: see `Stores::trust_cinder_for_tests`.
    pub(crate) fn trust_cinder(&self) {
        self.trusting.store(true, Ordering::Relaxed);
    }

    /// The store's state, asking Cinder first if it is not known yet.
    pub fn state(&self) -> StoreState {
        self.refresh();
        self.known_state()
    }

    /// The state as last found, without asking.
    pub(crate) fn known_state(&self) -> StoreState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether the read-back checks of Cinder's answers run (always, outside tests).
    pub(crate) fn checks_cinder(&self) -> bool {
        !self.trusting.load(Ordering::Relaxed)
    }

    pub fn location(&self, volume_id: &str) -> String {
        Location::new(self.location_store.as_deref(), volume_id).to_string()
    }

    /// Asks Cinder whether the configured type exists (or, without one, which type is the
    /// default). `Err` means Cinder could not be asked.
    fn verify(&self) -> Result<StoreState, DriverError> {
        if self.options.credentials.is_none() {
            return Ok(StoreState::Disabled {
                reason: "no service credentials (cinder_store_auth_address, cinder_store_user_name, cinder_store_password, cinder_store_project_name)".into(),
            });
        }
        match &self.options.volume_type {
            Some(t) => Ok(if self.client.type_exists(t)? {
                StoreState::Enabled
            } else {
                StoreState::Disabled {
                    reason: format!("volume type '{t}' does not exist in Cinder; create it or fix cinder_volume_type in [{}]", self.name),
                }
            }),
            None => self.default_type().map(|_| StoreState::Enabled),
        }
    }

    fn default_type(&self) -> Result<String, DriverError> {
        if let Some(t) = self.default_type.get() {
            return Ok(t.clone());
        }
        let t = self.client.default_type()?;
        Ok(self.default_type.get_or_init(|| t).clone())
    }

    /// Whether a volume of this type belongs to this store (see `type_matches`); `Err` when
    /// Cinder's default type was needed and could not be asked.
    pub(crate) fn owns(&self, volume_type: Option<&str>) -> Result<bool, DriverError> {
        let mut failure = None;
        let owned = type_matches(volume_type, self.options.volume_type.as_deref(), || {
            self.default_type().map_err(|e| failure = Some(e)).ok()
        });
        failure.map_or(Ok(owned), Err)
    }

    /// Asks Cinder once, the first time the state is wanted; a store that could not be
    /// checked then is checked again by its next write (`ensure_writable`), not here.
    pub(crate) fn refresh(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !self.asked.swap(true, Ordering::Relaxed) {
            *state = self.verify().unwrap_or_else(|e| StoreState::Unverified {
                reason: e.to_string(),
            });
            match &*state {
                StoreState::Enabled => tracing::info!(store = %self.name, "store enabled"),
                other => {
                    tracing::warn!(store = %self.name, state = %other.label(), "store not writable")
                }
            }
        }
    }

    /// Refuses `operation` on a disabled store; re-checks an unverified one first.
    pub(crate) fn ensure_writable(&self, operation: &'static str) -> Result<(), DriverError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.asked.store(true, Ordering::Relaxed);
        if let StoreState::Unverified { .. } = *state {
            match self.verify() {
                Ok(new) => *state = new,
                Err(e) => {
                    *state = StoreState::Unverified {
                        reason: e.to_string(),
                    };
                    return Err(e);
                }
            }
        }
        match &*state {
            StoreState::Enabled => Ok(()),
            StoreState::Disabled { reason } | StoreState::Unverified { reason } => {
                Err(DriverError::StoreDisabled {
                    store: self.name.clone(),
                    operation,
                    reason: reason.clone(),
                })
            }
        }
    }

    pub(crate) fn show(&self, volume_id: &str) -> Result<Volume, DriverError> {
        self.client
            .show_volume(volume_id)
            .map_err(|e| not_found(e, volume_id))
    }
}

pub(crate) fn not_found(err: DriverError, volume_id: &str) -> DriverError {
    match err {
        DriverError::Http { status: 404, .. } => DriverError::NotFound {
            what: format!("volume {volume_id}"),
        },
        other => other,
    }
}

/// Image size from `metadata.image_size`, else the volume size in bytes.
pub fn image_size(volume: &Volume) -> u64 {
    volume
        .metadata
        .get("image_size")
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(volume.size.saturating_mul(GIB))
}

/// Whether a volume of `volume_type` belongs to a store configured with `store_type`:
/// equal names, where a missing type on either side means Cinder's default type
/// (`default_type` is only asked when needed: it may cost an API call).
pub fn type_matches(
    volume_type: Option<&str>,
    store_type: Option<&str>,
    default_type: impl FnOnce() -> Option<String>,
) -> bool {
    match (volume_type, store_type) {
        (Some(v), Some(s)) => v == s,
        (None, None) => true,
        (Some(one), None) | (None, Some(one)) => default_type().as_deref() == Some(one),
    }
}
