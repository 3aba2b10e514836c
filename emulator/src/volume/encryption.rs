//! Volume type encryption specs (`/types/{id}/encryption`): at most one per type, kept
//! while no volume uses the type; a volume of such a type is `encrypted`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{now, Timestamp};
use super::store::{Record, Tx};
use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encryption {
    pub volume_type_id: Uuid,
    pub encryption_id: Uuid,
    pub provider: String,
    pub control_location: String,
    pub cipher: Option<String>,
    pub key_size: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<Timestamp>,
}

impl Record for Encryption {
    const KIND: &'static str = "encryption";
    fn key(&self) -> String {
        self.volume_type_id.to_string()
    }
}

/// The fields a create or update sets; None leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionSpec {
    pub provider: Option<String>,
    pub control_location: Option<String>,
    pub cipher: Option<Option<String>>,
    pub key_size: Option<Option<i64>>,
}

fn type_checked(tx: &Tx<'_>, raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw)
        .ok()
        .filter(|id| tx.volume_type(*id).is_some())
        .ok_or_else(|| ApiError::not_found(format!("Volume type {raw} could not be found.")))
}

fn in_use(tx: &Tx<'_>, type_id: Uuid) -> bool {
    tx.volumes().any(|v| v.volume_type_id == type_id)
}

/// The type's encryption, or None (`{}` on the wire).
pub fn get(tx: &Tx<'_>, raw_type: &str) -> Result<Option<Encryption>, ApiError> {
    let id = type_checked(tx, raw_type)?;
    Ok(tx.record::<Encryption>(&id.to_string()))
}

pub fn create(
    tx: &mut Tx<'_>,
    raw_type: &str,
    spec: EncryptionSpec,
) -> Result<Encryption, ApiError> {
    let id = type_checked(tx, raw_type)?;
    if in_use(tx, id) {
        return Err(ApiError::bad_request(
            "Cannot create encryption specs. Volume type in use.",
        ));
    }
    if tx.record::<Encryption>(&id.to_string()).is_some() {
        return Err(ApiError::bad_request(format!(
            "Volume type encryption for type {id} already exists."
        )));
    }
    let e = Encryption {
        volume_type_id: id,
        encryption_id: Uuid::new_v4(),
        provider: spec.provider.unwrap_or_default(),
        control_location: spec.control_location.unwrap_or_else(|| "front-end".into()),
        cipher: spec.cipher.flatten(),
        key_size: spec.key_size.flatten(),
        created_at: now(),
        updated_at: None,
    };
    tx.put_record(&e);
    Ok(e)
}

pub fn update(tx: &mut Tx<'_>, raw_type: &str, spec: EncryptionSpec) -> Result<(), ApiError> {
    let id = type_checked(tx, raw_type)?;
    if in_use(tx, id) {
        return Err(ApiError::bad_request(
            "Cannot update encryption specs. Volume type in use.",
        ));
    }
    let mut e = tx.record::<Encryption>(&id.to_string()).ok_or_else(|| {
        ApiError::not_found(format!(
            "Volume type encryption for type {id} does not exist."
        ))
    })?;
    if let Some(p) = spec.provider {
        e.provider = p;
    }
    if let Some(c) = spec.control_location {
        e.control_location = c;
    }
    if let Some(c) = spec.cipher {
        e.cipher = c;
    }
    if let Some(k) = spec.key_size {
        e.key_size = k;
    }
    e.updated_at = Some(now());
    tx.put_record(&e);
    Ok(())
}

pub fn delete(tx: &mut Tx<'_>, raw_type: &str) -> Result<(), ApiError> {
    let id = type_checked(tx, raw_type)?;
    if in_use(tx, id) {
        return Err(ApiError::bad_request(
            "Cannot delete encryption specs. Volume type in use.",
        ));
    }
    if tx.record::<Encryption>(&id.to_string()).is_none() {
        return Err(ApiError::not_found(format!(
            "Volume type encryption for type {id} does not exist."
        )));
    }
    tx.remove_record::<Encryption>(&id.to_string());
    Ok(())
}
