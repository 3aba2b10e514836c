//! What a new volume is made from — a snapshot (`snapshot_id`) or another volume
//! (`source_volid`, a clone) — checked as Cinder's create flow checks it: the source
//! visible and in a status it proceeds from, the size no smaller, the type the same.
//! The bytes are copied by the volume's create job.

use uuid::Uuid;

use super::ops::{Caller, VolumeSource};
use super::snapshots;
use super::status::VolumeStatus;
use super::store::Tx;
use crate::error::ApiError;

/// A resolved source: where the new volume's bytes, size, type and host come from.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub snapshot_id: Option<Uuid>,
    pub source_volid: Option<Uuid>,
    pub size_gb: u64,
    pub volume_type_id: Uuid,
    pub host: Option<String>,
    pub bootable: bool,
}

impl Resolved {
    /// Cinder lets another type through only when a retype between the two would be
    /// possible; the emulator keeps to the source's type and refuses with its message.
    pub fn check_type(&self, type_id: Uuid) -> Result<(), ApiError> {
        if type_id == self.volume_type_id {
            return Ok(());
        }
        let advice = if self.snapshot_id.is_some() {
            "recommend omitting the type argument"
        } else {
            "either match source volume, or omit type argument"
        };
        Err(ApiError::bad_request(format!(
            "Invalid input received: Invalid volume_type provided: {type_id} (requested type is not compatible; {advice})."
        )))
    }
}

/// Looks the source up and checks it and the requested size.
pub fn resolve(
    tx: &Tx<'_>,
    caller: &Caller,
    source: &VolumeSource,
    size_gb: Option<u64>,
) -> Result<Resolved, ApiError> {
    match source {
        VolumeSource::Snapshot(raw) => {
            let s = snapshots::source_for_volume(tx, caller, raw)?;
            if let Some(size) = size_gb.filter(|n| *n < s.size_gb) {
                return Err(ApiError::bad_request(format!(
                    "Invalid input received: Volume size '{size}'GB cannot be smaller than the snapshot size {}GB. They must be >= original snapshot size.",
                    s.size_gb
                )));
            }
            let origin = tx.volume(s.volume_id);
            Ok(Resolved {
                snapshot_id: Some(s.id),
                source_volid: None,
                size_gb: s.size_gb,
                volume_type_id: s.volume_type_id,
                host: origin.and_then(|v| v.host.clone()),
                bootable: origin.is_some_and(|v| v.bootable),
            })
        }
        VolumeSource::Volume(raw) => {
            let v = Uuid::parse_str(raw)
                .ok()
                .and_then(|id| tx.volume(id))
                .filter(|v| caller.sees(v))
                .ok_or_else(|| ApiError::volume_not_found(raw))?;
            if !matches!(v.status, VolumeStatus::Available | VolumeStatus::InUse) {
                return Err(ApiError::bad_request(
                    "Invalid volume: Originating source volume status must be one of 'available, in-use' values",
                ));
            }
            if let Some(size) = size_gb.filter(|n| *n < v.size_gb) {
                return Err(ApiError::bad_request(format!(
                    "Invalid input received: Volume size '{size}'GB cannot be smaller than original volume size  {}GB. They must be >= original volume size.",
                    v.size_gb
                )));
            }
            Ok(Resolved {
                snapshot_id: None,
                source_volid: Some(v.id),
                size_gb: v.size_gb,
                volume_type_id: v.volume_type_id,
                host: v.host.clone(),
                bootable: v.bootable,
            })
        }
    }
}
