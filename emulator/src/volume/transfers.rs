//! Volume transfers: a project offers an `available` volume (it goes
//! `awaiting-transfer`), another project accepts it with the one-time `auth_key`, and
//! the volume — with its quota usage — moves there. Only a salted hash of the key is kept.

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::model::{now, Timestamp};
use super::ops::{self, Caller};
use super::status::{VolumeEvent, VolumeStatus};
use super::store::{Record, Tx};
use crate::config::World;
use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transfer {
    pub id: Uuid,
    pub volume_id: Uuid,
    pub name: Option<String>,
    pub source_project_id: String,
    pub no_snapshots: bool,
    pub salt: String,
    /// Hex SHA-256 of salt + auth key.
    pub crypt_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
}

impl Record for Transfer {
    const KIND: &'static str = "transfer";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

fn step(v: &mut super::model::Volume, event: VolumeEvent) -> Result<(), ApiError> {
    ops::apply(v, event).map_err(|e| ApiError::bad_request(format!("Invalid volume: {e}")))
}

pub fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Transfer {id} could not be found."))
}

fn hash(salt: &str, key: &str) -> String {
    let digest = Sha256::digest(format!("{salt}{key}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_hex(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// A transfer the caller's project may see (admins see all).
pub fn get(tx: &Tx<'_>, caller: &Caller, raw: &str) -> Result<Transfer, ApiError> {
    Uuid::parse_str(raw)
        .ok()
        .and_then(|id| tx.record::<Transfer>(&id.to_string()))
        .filter(|t| caller.is_admin || t.source_project_id == caller.project_id)
        .ok_or_else(|| not_found(raw))
}

/// Offers a volume; returns the transfer and its auth key (shown this once).
pub fn create(
    tx: &mut Tx<'_>,
    caller: &Caller,
    volume_id: Uuid,
    name: Option<String>,
    no_snapshots: bool,
) -> Result<(Transfer, String), ApiError> {
    let mut v = tx
        .volume(volume_id)
        .filter(|v| caller.is_admin || v.project_id == caller.project_id)
        .cloned()
        .ok_or_else(|| ApiError::volume_not_found(volume_id))?;
    if v.status != VolumeStatus::Available {
        return Err(ApiError::bad_request(
            "Invalid volume: Status of volume must be available",
        ));
    }
    step(&mut v, VolumeEvent::TransferRequested)?;
    let key = random_hex(16);
    let salt = random_hex(8);
    let t = Transfer {
        id: Uuid::new_v4(),
        volume_id,
        name,
        source_project_id: v.project_id.clone(),
        no_snapshots,
        crypt_hash: hash(&salt, &key),
        salt,
        created_at: now(),
    };
    tx.put_volume(v);
    tx.put_record(&t);
    Ok((t, key))
}

/// Cancels a transfer; the volume is `available` again.
pub fn delete(tx: &mut Tx<'_>, caller: &Caller, raw: &str) -> Result<(), ApiError> {
    let t = get(tx, caller, raw)?;
    if let Some(mut v) = tx.volume(t.volume_id).cloned() {
        if v.status == VolumeStatus::AwaitingTransfer {
            step(&mut v, VolumeEvent::TransferEnded)?;
            tx.put_volume(v);
        }
    }
    tx.remove_record::<Transfer>(&t.key());
    Ok(())
}

/// Accepts a transfer into the caller's project (any project may accept by id and
/// key): the recipient's quota is checked, then the volume changes hands.
pub fn accept(
    tx: &mut Tx<'_>,
    world: &World,
    caller: &Caller,
    raw: &str,
    auth_key: &str,
) -> Result<Transfer, ApiError> {
    let t = Uuid::parse_str(raw)
        .ok()
        .and_then(|id| tx.record::<Transfer>(&id.to_string()))
        .ok_or_else(|| not_found(raw))?;
    if hash(&t.salt, auth_key) != t.crypt_hash {
        return Err(ApiError::bad_request(format!(
            "Invalid auth key: Attempt to transfer {} with invalid auth key.",
            t.id
        )));
    }
    let mut v = tx
        .volume(t.volume_id)
        .cloned()
        .ok_or_else(|| ApiError::volume_not_found(t.volume_id))?;
    if v.status != VolumeStatus::AwaitingTransfer {
        return Err(ApiError::bad_request(format!(
            "Invalid volume: Transfer {} failed: Volume status is {}.",
            t.id, v.status
        )));
    }
    let type_name = tx
        .volume_type(v.volume_type_id)
        .map(|t| t.name.clone())
        .unwrap_or_default();
    super::quotas::check_quota(tx, world, &caller.project_id, &type_name, 1, v.size_gb)?;
    step(&mut v, VolumeEvent::TransferEnded)?;
    v.project_id = caller.project_id.clone();
    v.user_id = caller.user_id.clone();
    tx.put_volume(v);
    tx.remove_record::<Transfer>(&t.key());
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hashed_with_their_salt() {
        let key = random_hex(16);
        assert_eq!(key.len(), 16);
        assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
        let h = hash("salt", &key);
        assert_eq!(h, hash("salt", &key));
        assert_ne!(h, hash("other", &key));
        assert_ne!(h, hash("salt", "wrong"));
    }
}
