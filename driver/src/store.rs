//! The multi-store `Stores` object: start-up validation, reads, sizes, deletes and upgrades.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::auth::Session;
use crate::client::{http_client, CinderClient, Volume};
use crate::config::{Backend, CinderOptions, GlanceConfig, StoreMode, GIB};
use crate::connector::AccessMode;
use crate::error::DriverError;
use crate::location::Location;
use crate::volume::{attach, detach, wait_deleted, Attached};

pub use crate::upload::{AddRequest, AddResult};

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
    /// Test-only (see `Stores::trust_cinder_for_tests`): skip the read-back checks.
    trusting: AtomicBool,
}

impl CinderStore {
    pub fn state(&self) -> StoreState {
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
    fn owns(&self, volume_type: Option<&str>) -> Result<bool, DriverError> {
        let mut failure = None;
        let owned = type_matches(volume_type, self.options.volume_type.as_deref(), || {
            self.default_type().map_err(|e| failure = Some(e)).ok()
        });
        failure.map_or(Ok(owned), Err)
    }

    /// Asks Cinder now if the state is not known yet (or could not be asked before).
    fn refresh(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let StoreState::Unverified { .. } = *state {
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

    fn show(&self, volume_id: &str) -> Result<Volume, DriverError> {
        self.client
            .show_volume(volume_id)
            .map_err(|e| not_found(e, volume_id))
    }
}

fn not_found(err: DriverError, volume_id: &str) -> DriverError {
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

/// Which store a volume belongs to.
enum Owner {
    Store(usize),
    /// The volume exists but no store's type matches.
    Nobody {
        volume_type: Option<String>,
    },
    Missing,
}

/// A listed store, for `cinderbox-store stores`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreInfo {
    pub name: String,
    pub kind: String,
    pub volume_type: Option<String>,
    pub is_default: bool,
    pub description: Option<String>,
    pub weight: i64,
    /// `None` for non-cinder backends, which cinderbox lists but does not serve.
    pub state: Option<StoreState>,
}

/// All configured stores.
pub struct Stores {
    config: GlanceConfig,
    cinder: Vec<Arc<CinderStore>>,
}

impl Stores {
    /// Reads the file, logs its warnings, and configures the stores.
    pub fn open(path: &Path) -> Result<Stores, DriverError> {
        let config = GlanceConfig::load(path)?;
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }
        Stores::configure(config)
    }

    /// Builds every cinder store without asking Cinder anything: a store is checked the
    /// first time a command needs it (`ensure_writable`, `stores`). Stores whose auth
    /// address, credentials and HTTP settings are equal share one Keystone session.
    pub fn configure(config: GlanceConfig) -> Result<Stores, DriverError> {
        let mut cinder: Vec<Arc<CinderStore>> = Vec::new();
        for backend in &config.backends {
            let Backend {
                name,
                cinder: Some(options),
                ..
            } = backend
            else {
                continue;
            };
            let client = match cinder
                .iter()
                .find(|other| Session::shareable(&other.options, options))
            {
                Some(other) => CinderClient::with_session(
                    name,
                    options,
                    other.client.session().clone(),
                    http_client(name, options)?,
                ),
                None => CinderClient::new(name, options)?,
            };
            cinder.push(Arc::new(CinderStore {
                name: name.clone(),
                options: options.clone(),
                client,
                location_store: (config.mode == StoreMode::Multi).then(|| name.clone()),
                state: Mutex::new(StoreState::Unverified {
                    reason: "not checked yet".into(),
                }),
                default_type: OnceLock::new(),
                trusting: AtomicBool::new(false),
            }));
        }
        Ok(Stores { config, cinder })
    }

    /// Whether two stores authenticate through the same Keystone session.
    pub fn share_session(&self, a: &str, b: &str) -> Result<bool, DriverError> {
        Ok(Arc::ptr_eq(
            self.store(Some(a))?.client.session(),
            self.store(Some(b))?.client.session(),
        ))
    }

    /// **Test-only.** Turns off the driver's read-back checks of Cinder's answers (the
    /// volume type of a created volume, the recorded `image_size`, that an acknowledged
    /// delete really removed the volume), so a test suite can run planted Cinder bugs
    /// against "a driver that trusts Cinder" and see that they would go unnoticed.
    /// Never call this in an operator's tool.
    #[doc(hidden)]
    pub fn trust_cinder_for_tests(&mut self) {
        for store in &self.cinder {
            store.trusting.store(true, Ordering::Relaxed);
        }
    }

    pub fn config(&self) -> &GlanceConfig {
        &self.config
    }

    /// Every configured store with its state; checks the stores not checked yet (in
    /// parallel) first.
    pub fn stores(&self) -> Vec<StoreInfo> {
        std::thread::scope(|scope| {
            for store in &self.cinder {
                scope.spawn(move || store.refresh());
            }
        });
        self.config
            .backends
            .iter()
            .map(|b| StoreInfo {
                name: b.name.clone(),
                kind: b.kind.clone(),
                volume_type: b.cinder.as_ref().and_then(|c| c.volume_type.clone()),
                is_default: b.name == self.config.default_backend,
                description: b.description.clone(),
                weight: b.weight,
                state: self
                    .cinder
                    .iter()
                    .find(|s| s.name == b.name)
                    .map(|s| s.state()),
            })
            .collect()
    }

    /// The cinder store called `name`, or the default store.
    pub fn store(&self, name: Option<&str>) -> Result<Arc<CinderStore>, DriverError> {
        let name = name.unwrap_or(&self.config.default_backend);
        if let Some(store) = self.cinder.iter().find(|s| s.name == name) {
            return Ok(store.clone());
        }
        match self.config.backend(name) {
            Some(b) => Err(DriverError::InvalidInput(format!(
                "store '{name}' is a '{}' store, which cinderbox does not serve",
                b.kind
            ))),
            None => Err(DriverError::UnknownStore(name.to_string())),
        }
    }

    /// The store a location is read through. Legacy locations go to the matching store
    /// (see `upgrade_location`), else the default cinder store, else the first one.
    fn resolve(&self, location: &Location) -> Result<Arc<CinderStore>, DriverError> {
        if let Some(store) = self.named_store(location)? {
            return Ok(store);
        }
        if let Ok(Owner::Store(index)) = self.find_store_of(&location.volume_id) {
            return Ok(self.cinder[index].clone());
        }
        self.store(None).or_else(|_| {
            self.cinder
                .first()
                .cloned()
                .ok_or_else(|| DriverError::InvalidInput("no cinder store is configured".into()))
        })
    }

    /// The store a `cinder://<store>/<id>` names (`None` for a legacy location).
    fn named_store(&self, location: &Location) -> Result<Option<Arc<CinderStore>>, DriverError> {
        let Some(name) = &location.store else {
            return Ok(None);
        };
        if self.config.mode == StoreMode::Single {
            return Err(DriverError::BadLocation(format!(
                "location names store '{name}' but the configuration is single-store; use cinder://<volume-id>"
            )));
        }
        self.store(Some(name)).map(Some)
    }

    /// Uploads an image into `store` (default store when `None`).
    pub fn add(
        &self,
        store: Option<&str>,
        request: &AddRequest,
        data: &mut dyn Read,
    ) -> Result<AddResult, DriverError> {
        let store = self.store(store)?;
        store.ensure_writable("add")?;
        crate::upload::add(&store, request, data)
    }

    /// Opens an image for reading from `offset`, `length` bytes (to the end when `None`).
    pub fn get(
        &self,
        location: &str,
        offset: u64,
        length: Option<u64>,
    ) -> Result<ImageReader, DriverError> {
        let location = Location::parse(location)?;
        let store = self.resolve(&location)?;
        let volume = store.show(&location.volume_id)?;
        let size = image_size(&volume);
        let remaining = match length {
            _ if offset > size => {
                return Err(DriverError::InvalidInput(format!(
                    "offset {offset} is beyond the image size {size}"
                )))
            }
            Some(length) if offset.saturating_add(length) > size => {
                return Err(DriverError::InvalidInput(format!(
                    "range {offset}+{length} is beyond the image size {size}"
                )))
            }
            Some(length) => length,
            None => size - offset,
        };
        let mut attached = attach(
            &store.client,
            &store.options,
            &location.volume_id,
            AccessMode::ReadOnly,
        )
        .map_err(|e| not_found(e, &location.volume_id))?;
        if let Err(source) = attached.file.seek(SeekFrom::Start(offset)) {
            let _ = detach(&store.client, attached, false);
            return Err(DriverError::Io {
                path: location.to_string(),
                source,
            });
        }
        Ok(ImageReader {
            store,
            attached: Some(attached),
            remaining,
            size,
        })
    }

    /// Image size in bytes. NotFound only for a missing volume; other failures stay typed.
    pub fn get_size(&self, location: &str) -> Result<u64, DriverError> {
        let location = Location::parse(location)?;
        let store = self.resolve(&location)?;
        Ok(image_size(&store.show(&location.volume_id)?))
    }

    /// Deletes the image's volume and waits until Cinder has removed it. NotFound, Forbidden
    /// and other backend errors stay distinct. In multi-store mode a store only deletes
    /// volumes of its own type: a legacy location goes to the store whose type matches, and
    /// a volume no enabled store owns is refused, never deleted through the default store.
    pub fn delete(&self, location: &str) -> Result<(), DriverError> {
        let location = Location::parse(location)?;
        let id = &location.volume_id;
        let store = match (self.config.mode, self.named_store(&location)?) {
            (_, Some(store)) => store,
            (StoreMode::Single, None) => self.resolve(&location)?,
            (StoreMode::Multi, None) => match self.find_store_of(id)? {
                Owner::Store(index) => self.cinder[index].clone(),
                Owner::Missing => {
                    return Err(DriverError::NotFound {
                        what: format!("volume {id}"),
                    })
                }
                Owner::Nobody { volume_type } => return Err(self.not_owned(id, volume_type, None)),
            },
        };
        store.ensure_writable("delete")?;
        if self.config.mode == StoreMode::Multi {
            let volume = store.show(id)?;
            if !store.owns(volume.volume_type.as_deref())? {
                return Err(self.not_owned(id, volume.volume_type, Some(&store.name)));
            }
        }
        store
            .client
            .delete_volume(id)
            .map_err(|e| not_found(e, id))?;
        if !store.checks_cinder() {
            return Ok(());
        }
        wait_deleted(&store.client, id, store.options.state_transition_timeout())
    }

    /// The refusal to delete volume `id` of `volume_type` (through `via`, when named).
    fn not_owned(&self, id: &str, volume_type: Option<String>, via: Option<&str>) -> DriverError {
        let shown = volume_type.as_deref().unwrap_or("(Cinder's default)");
        let owner = self.cinder.iter().find(|s| {
            s.options.volume_type.as_deref() == volume_type.as_deref()
                && Some(s.name.as_str()) != via
        });
        match owner {
            Some(owner) => DriverError::StoreDisabled {
                store: owner.name.clone(),
                operation: "delete",
                reason: format!(
                    "volume {id} is of type '{shown}', which belongs to store '{}' ({}); it is never deleted through another store",
                    owner.name,
                    owner.state().label()
                ),
            },
            None => DriverError::InvalidInput(format!(
                "volume {id} is of type '{shown}', which no configured store serves{}; refusing to delete it",
                via.map(|v| format!(" (not '{v}')")).unwrap_or_default()
            )),
        }
    }

    /// Which store owns `volume_id`: the first whose type matches. Each Keystone session
    /// is asked once. `Err` when nothing matched and some store could not ask Cinder.
    fn find_store_of(&self, volume_id: &str) -> Result<Owner, DriverError> {
        if self.config.mode == StoreMode::Single {
            return Ok(Owner::Missing);
        }
        let mut failure = None;
        let mut seen: Vec<(Arc<Session>, Option<Volume>)> = Vec::new();
        let mut found_type = None;
        for (index, store) in self.cinder.iter().enumerate() {
            let session = store.client.session();
            let volume = match seen.iter().find(|(s, _)| Arc::ptr_eq(s, session)) {
                Some((_, volume)) => volume.clone(),
                None => {
                    let volume = match store.client.show_volume(volume_id) {
                        Ok(v) => Some(v),
                        Err(DriverError::Http { status: 404, .. }) => None,
                        Err(e) => {
                            failure.get_or_insert(e);
                            continue;
                        }
                    };
                    seen.push((session.clone(), volume.clone()));
                    volume
                }
            };
            let Some(volume) = volume else {
                continue;
            };
            match store.owns(volume.volume_type.as_deref()) {
                Ok(true) => return Ok(Owner::Store(index)),
                Ok(false) => found_type = Some(volume.volume_type),
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        match (failure, found_type) {
            (Some(e), _) => Err(e),
            (None, Some(volume_type)) => Ok(Owner::Nobody { volume_type }),
            (None, None) => Ok(Owner::Missing),
        }
    }

    /// Lazy upgrade of one legacy `cinder://<id>`: `cinder://<store>/<id>` for the first store
    /// whose type matches; unchanged when nothing matches or the volume is missing. An
    /// unparsable location is an error, and so is a Cinder that could not be asked ("could
    /// not ask" never looks like "no store matches").
    pub fn upgrade_location(&self, location: &str) -> Result<String, DriverError> {
        let parsed = Location::parse(location)?;
        if parsed.store.is_some() || self.config.mode == StoreMode::Single {
            return Ok(location.to_string());
        }
        Ok(match self.find_store_of(&parsed.volume_id)? {
            Owner::Store(index) => self.cinder[index].location(&parsed.volume_id),
            Owner::Missing | Owner::Nobody { .. } => location.to_string(),
        })
    }

    /// Batch upgrade: one paginated `GET /volumes/detail` per distinct account (plus one
    /// `GET /types/default` for a store without a type), however many locations are given.
    pub fn upgrade_locations(&self, locations: &[&str]) -> Vec<Result<String, DriverError>> {
        let mut out: Vec<Result<String, DriverError>> = Vec::with_capacity(locations.len());
        let mut pending: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, raw) in locations.iter().enumerate() {
            match Location::parse(raw) {
                Ok(l) if l.store.is_none() && self.config.mode == StoreMode::Multi => {
                    pending.entry(l.volume_id).or_default().push(i);
                    out.push(Ok(raw.to_string()));
                }
                Ok(_) => out.push(Ok(raw.to_string())),
                Err(e) => out.push(Err(e)),
            }
        }
        let mut listings: Vec<(Arc<Session>, HashMap<String, Option<String>>)> = Vec::new();
        let mut incomplete = false;
        for store in &self.cinder {
            if pending.is_empty() {
                break;
            }
            let session = store.client.session();
            let known = listings.iter().position(|(s, _)| Arc::ptr_eq(s, session));
            let at = match known {
                Some(at) => at,
                None => match store.client.list_volumes(None) {
                    Ok(volumes) => {
                        let types = volumes.into_iter().map(|v| (v.id, v.volume_type)).collect();
                        listings.push((session.clone(), types));
                        listings.len() - 1
                    }
                    Err(e) => {
                        tracing::debug!(store = %store.name, error = %e, "cannot list volumes for location upgrade");
                        incomplete = true;
                        continue;
                    }
                },
            };
            let listing = &listings[at].1;
            pending.retain(|volume_id, indexes| {
                let matched = listing.get(volume_id).is_some_and(|t| {
                    store.owns(t.as_deref()).unwrap_or_else(|_| {
                        incomplete = true;
                        false
                    })
                });
                if matched {
                    for &i in indexes.iter() {
                        out[i] = Ok(store.location(volume_id));
                    }
                }
                !matched
            });
        }
        if incomplete {
            // Some store could not be asked: the unmatched rows get that store's own
            // error (or their answer, if it can be asked now), never "unchanged".
            for indexes in pending.values() {
                for &i in indexes {
                    out[i] = self.upgrade_location(locations[i]);
                }
            }
        }
        out
    }
}

/// A streaming reader over an attached volume; detaches when finished or dropped.
pub struct ImageReader {
    store: Arc<CinderStore>,
    attached: Option<Attached>,
    remaining: u64,
    size: u64,
}

impl ImageReader {
    /// The whole image's size (not just the requested range).
    pub fn image_size(&self) -> u64 {
        self.size
    }

    /// Bytes left in the requested range.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Detaches now and reports any failure (dropping does the same, logging errors).
    pub fn finish(mut self) -> Result<(), DriverError> {
        match self.attached.take() {
            Some(a) => detach(&self.store.client, a, false),
            None => Ok(()),
        }
    }
}

impl Read for ImageReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(attached) = self.attached.as_mut() else {
            return Ok(0);
        };
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = attached.file.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the volume ended {} bytes before the image", self.remaining),
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

impl Drop for ImageReader {
    fn drop(&mut self) {
        if let Some(a) = self.attached.take() {
            if let Err(e) = detach(&self.store.client, a, false) {
                tracing::warn!(store = %self.store.name, error = %e, "detach after read failed");
            }
        }
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
