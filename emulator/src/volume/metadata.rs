//! Volume metadata and the plain field updates of a volume: Cinder's key/value rules,
//! the statuses that refuse writes, and every write (update, merge, replace, set one
//! key, delete one key) as a function over a [`Tx`].

use std::collections::BTreeMap;

use uuid::Uuid;

use super::model::{now, Volume};
use super::ops::{visible, Caller};
use super::status::VolumeStatus;
use super::store::Tx;
use crate::error::ApiError;

/// Validates metadata as Cinder does: keys 1..255 chars, values up to 255.
pub fn check(md: &BTreeMap<String, String>) -> Result<(), ApiError> {
    for (k, v) in md {
        // Cinder's schema: keys match ^[a-zA-Z0-9-_:. /]{1,255}$.
        let key_ok = (1..=255).contains(&k.len())
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_:. /".contains(c));
        if !key_ok {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute metadata. Value: {k}. '{k}' does not match any of the regexes: '^[a-zA-Z0-9-_:. /]{{1,255}}$'"
            )));
        }
        if v.chars().count() > 255 {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute metadata. Value: {v}. Metadata property value greater than 255 characters."
            )));
        }
    }
    Ok(())
}

/// Refuses metadata writes while the volume is busy in ways Cinder forbids.
pub fn check_writable(v: &Volume) -> Result<(), ApiError> {
    match v.status {
        VolumeStatus::Maintenance | VolumeStatus::Uploading => Err(ApiError::bad_request(format!(
            "Invalid volume: Volume status must be in available or in-use state to update metadata, currently {}.",
            v.status
        ))),
        _ => Ok(()),
    }
}

/// `PUT /volumes/{id}`: what to change; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct VolumeUpdate {
    /// `Some(None)` clears it.
    pub name: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub metadata: Option<BTreeMap<String, String>>,
}

/// `PUT /volumes/{id}`: refused in maintenance; metadata as for the metadata API.
pub fn update(
    tx: &mut Tx<'_>,
    caller: &Caller,
    id: Uuid,
    change: VolumeUpdate,
) -> Result<Volume, ApiError> {
    let mut v = visible(tx, caller, id)?.clone();
    if v.status == VolumeStatus::Maintenance {
        return Err(ApiError::bad_request(format!(
            "Invalid volume: Volume {id} is in maintenance mode."
        )));
    }
    if let Some(name) = change.name {
        v.name = name;
    }
    if let Some(description) = change.description {
        v.description = description;
    }
    if let Some(md) = change.metadata {
        check_writable(&v)?;
        v.metadata = md;
    }
    v.updated_at = Some(now());
    tx.put_volume(v.clone());
    Ok(v)
}

/// How a metadata write changes the volume's metadata.
#[derive(Debug, Clone)]
pub enum MetadataChange {
    /// `POST .../metadata`: add or overwrite these keys.
    Merge(BTreeMap<String, String>),
    /// `PUT .../metadata`: exactly these keys.
    Replace(BTreeMap<String, String>),
    /// `PUT .../metadata/{key}`.
    Set(String, String),
    /// `DELETE .../metadata/{key}` (404 when absent).
    Delete(String),
}

/// Every metadata write; returns the volume as written.
pub fn change(
    tx: &mut Tx<'_>,
    caller: &Caller,
    id: Uuid,
    change: MetadataChange,
) -> Result<Volume, ApiError> {
    let mut v = visible(tx, caller, id)?.clone();
    check_writable(&v)?;
    match change {
        MetadataChange::Merge(md) => v.metadata.extend(md),
        MetadataChange::Replace(md) => v.metadata = md,
        MetadataChange::Set(k, val) => {
            v.metadata.insert(k, val);
        }
        MetadataChange::Delete(k) => {
            if v.metadata.remove(&k).is_none() {
                return Err(ApiError::not_found(format!(
                    "Volume {id} has no metadata with key {k}."
                )));
            }
        }
    }
    v.updated_at = Some(now());
    tx.put_volume(v.clone());
    Ok(v)
}

/// Puts back a volume's name, description and metadata as they were (how an
/// acknowledged-then-undone write is made). A volume gone since is left gone.
pub fn restore(
    tx: &mut Tx<'_>,
    id: Uuid,
    name: Option<String>,
    description: Option<String>,
    metadata: BTreeMap<String, String>,
) -> Result<(), ApiError> {
    if let Some(mut v) = tx.volume(id).cloned() {
        v.name = name;
        v.description = description;
        v.metadata = metadata;
        v.updated_at = Some(now());
        tx.put_volume(v);
    }
    Ok(())
}
