//! The multi-store `Stores` object: configuration, reads, sizes and deletes (uploads in
//! `upload`, ownership and location upgrades in `ownership`).

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use crate::auth::Session;
use crate::client::{http_client, CinderClient};
use crate::config::{Backend, GlanceConfig, StoreMode};
use crate::connector::AccessMode;
use crate::error::DriverError;
use crate::location::Location;
use crate::ownership::Owner;
use crate::volume::{attach, detach, wait_deleted, wait_detached, Attached};

use crate::backend::not_found;
pub use crate::backend::{image_size, type_matches, CinderStore, StoreState};
pub use crate::upload::{AddRequest, AddResult};

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
    pub(crate) config: GlanceConfig,
    pub(crate) cinder: Vec<Arc<CinderStore>>,
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
            let location_store = (config.mode == StoreMode::Multi).then(|| name.clone());
            cinder.push(Arc::new(CinderStore::new(
                name,
                options,
                client,
                location_store,
            )));
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
    /// delete really removed the volume, that a volume to delete is of the store's type,
    /// that an acknowledged detach really left the volume `available`), so a test suite can run planted Cinder bugs against "a driver that trusts Cinder"
    /// and see that they would go unnoticed.
    /// Never call this in an operator's tool.
    #[doc(hidden)]
    pub fn trust_cinder_for_tests(&mut self) {
        for store in &self.cinder {
            store.trust_cinder();
        }
    }

    pub fn config(&self) -> &GlanceConfig {
        &self.config
    }

    /// Every configured store with its state; checks the stores not checked yet (in
    /// parallel) first.
    pub fn stores(&self) -> Vec<StoreInfo> {
        // the checks log where the caller logs (its subscriber, not just the global one)
        let dispatch = tracing::dispatcher::get_default(|d| d.clone());
        std::thread::scope(|scope| {
            for store in &self.cinder {
                let dispatch = dispatch.clone();
                scope.spawn(move || {
                    tracing::dispatcher::with_default(&dispatch, || store.refresh())
                });
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
                    .map(|s| s.known_state()),
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
        let seek = attached.file.seek(SeekFrom::Start(offset));
        let reader = ImageReader {
            store,
            volume_id: location.volume_id.clone(),
            attached: Some(attached),
            remaining,
            size,
        };
        if let Err(source) = seek {
            let _ = reader.finish();
            return Err(DriverError::Io {
                path: location.to_string(),
                source,
            });
        }
        Ok(reader)
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
        // (a trusting driver, in tests only, takes the type Cinder reports on trust too)
        if self.config.mode == StoreMode::Multi && store.checks_cinder() {
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
}

/// A streaming reader over an attached volume; detaches when finished or dropped, and
/// returns only once Cinder has finished the detach, so the image can be deleted at once.
pub struct ImageReader {
    store: Arc<CinderStore>,
    volume_id: String,
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
        self.detach()
    }

    /// Detaches, then waits until Cinder has finished the detach (`wait_detached`): a
    /// delete right after a read must not find the volume still `detaching`. A trusting
    /// driver (tests only) takes the attachment delete's answer as done.
    fn detach(&mut self) -> Result<(), DriverError> {
        let Some(attached) = self.attached.take() else {
            return Ok(());
        };
        let attachment_id = attached.attachment_id.clone();
        let store = &self.store;
        detach(&store.client, attached, false)?;
        if !store.checks_cinder() {
            return Ok(());
        }
        wait_detached(
            &store.client,
            &self.volume_id,
            &attachment_id,
            store.options.state_transition_timeout(),
        )
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
        if let Err(e) = self.detach() {
            tracing::warn!(store = %self.store.name, error = %e, "detach after read failed");
        }
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
