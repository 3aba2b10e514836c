//! Which store owns a volume: the first whose volume type matches. Used by location
//! upgrades (single and batch) and by the guard that refuses cross-store deletes.

use std::collections::HashMap;
use std::sync::Arc;

use crate::auth::Session;
use crate::backend::{CinderStore, StoreState};
use crate::client::Volume;
use crate::config::StoreMode;
use crate::error::DriverError;
use crate::location::Location;
use crate::store::Stores;

/// Which store a volume belongs to.
pub(crate) enum Owner {
    Store(usize),
    /// The volume exists but no store's type matches.
    Nobody {
        volume_type: Option<String>,
    },
    Missing,
}

/// Volume id → volume type, from one account's listing.
type Listing = HashMap<String, Option<String>>;

impl Stores {
    /// The refusal to delete volume `id` of `volume_type` (through `via`, when named).
    pub(crate) fn not_owned(
        &self,
        id: &str,
        volume_type: Option<String>,
        via: Option<&str>,
    ) -> DriverError {
        let shown = volume_type.as_deref().unwrap_or("(Cinder's default)");
        let owner = self.cinder.iter().find(|s| {
            s.options.volume_type.as_deref() == volume_type.as_deref()
                && Some(s.name.as_str()) != via
        });
        let reason = |owner: &CinderStore| {
            format!("volume {id} is of type '{shown}', which belongs to store '{}'; it is never deleted through another store", owner.name)
        };
        match owner {
            Some(owner) => match owner.state() {
                StoreState::Enabled => DriverError::InvalidInput(format!(
                    "{}: use {}",
                    reason(owner),
                    owner.location(id)
                )),
                StoreState::Disabled { .. } | StoreState::Unverified { .. } => {
                    DriverError::StoreDisabled {
                        store: owner.name.clone(),
                        operation: "delete",
                        reason: format!("{} ({})", reason(owner), owner.state().label()),
                    }
                }
            },
            None => DriverError::InvalidInput(format!(
                "volume {id} is of type '{shown}', which no configured store serves{}; refusing to delete it",
                via.map(|v| format!(" (not '{v}')")).unwrap_or_default()
            )),
        }
    }

    /// Which store owns `volume_id`: the first whose type matches. Each Keystone session
    /// is asked once. `Err` when nothing matched and some store could not ask Cinder.
    pub(crate) fn find_store_of(&self, volume_id: &str) -> Result<Owner, DriverError> {
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
        let mut listings: Vec<(Arc<Session>, Listing)> = Vec::new();
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
