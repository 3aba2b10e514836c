//! Snapshots as a domain resource: the [`Snapshot`] record (a `snapshot` document in
//! the store's `records` table), Cinder's rules for creating one (volume status,
//! `force`, quotas `snapshots`/`gigabytes` and their per-type forms), deleting one,
//! updating its fields and metadata, the admin status writes, and the checks a volume
//! delete makes against its snapshots — each a function over a [`Tx`]. The bytes are
//! copied by the snapshot jobs (`snapshot_jobs.rs`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::metadata::MetadataChange;
use super::model::{now, Timestamp};
use super::ops::{self, Caller};
use super::snapshot_status::{snapshot_transition, SnapshotEvent, SnapshotStatus};
use super::status::VolumeStatus;
use super::store::{Record, Tx};
use crate::config::World;
use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: Uuid,
    /// Creation order, for the default `created_at desc` sort and stable markers.
    pub seq: u64,
    pub project_id: String,
    pub user_id: String,
    pub volume_id: Uuid,
    pub volume_type_id: Uuid,
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(with = "status_serde")]
    pub status: SnapshotStatus,
    /// `0%` until the copy is done, then `100%` (or what `os-update_snapshot_status` set).
    pub progress: String,
    /// The volume's size when the snapshot was taken (`volume_size`).
    pub size_gb: u64,
    pub metadata: BTreeMap<String, String>,
    /// The group snapshot it was taken as part of.
    #[serde(default)]
    pub group_snapshot_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<Timestamp>,
}

impl Record for Snapshot {
    const KIND: &'static str = "snapshot";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

mod status_serde {
    use super::SnapshotStatus;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(s: &SnapshotStatus, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.as_str())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<SnapshotStatus, D::Error> {
        let s = String::deserialize(de)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

pub fn not_found(id: impl std::fmt::Display) -> ApiError {
    ApiError::not_found(format!("Snapshot {id} could not be found."))
}

/// Moves `s` by `event`, stamping `updated_at`; the only way snapshot statuses change.
pub fn apply(
    s: &mut Snapshot,
    event: SnapshotEvent,
) -> Result<(), super::snapshot_status::InvalidSnapshotTransition> {
    s.status = snapshot_transition(s.status, event)?;
    s.updated_at = Some(now());
    Ok(())
}

/// A snapshot the caller may see (admins see every project's), or Cinder's 404.
pub fn visible(tx: &Tx<'_>, caller: &Caller, raw: &str) -> Result<Snapshot, ApiError> {
    Uuid::parse_str(raw)
        .ok()
        .and_then(|id| tx.record::<Snapshot>(&id.to_string()))
        .filter(|s| caller.is_admin || s.project_id == caller.project_id)
        .ok_or_else(|| not_found(raw))
}

/// Every snapshot of a volume, this transaction's writes included.
pub fn of_volume(tx: &Tx<'_>, volume_id: Uuid) -> Vec<Snapshot> {
    tx.records::<Snapshot>()
        .into_iter()
        .filter(|s| s.volume_id == volume_id)
        .collect()
}

/// (snapshot count, gigabytes) a project's snapshots use, overall or for one type.
pub fn usage(tx: &Tx<'_>, project_id: &str, type_id: Option<Uuid>) -> (i64, i64) {
    tx.snapshot_usage(project_id, type_id)
}

/// `POST /snapshots`, as parsed.
#[derive(Debug, Clone)]
pub struct CreateSnapshot {
    pub volume_id: Uuid,
    pub name: Option<String>,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// `force` (below 3.66), or 3.66's implicit permission: `in-use` volumes too.
    pub allow_in_use: bool,
}

/// Refuses a snapshot of `size_gb` when a quota would pass its limit, in the order
/// Cinder reserves them (`snapshots`, `gigabytes`, then the type's).
fn check_quota(
    tx: &Tx<'_>,
    world: &World,
    project_id: &str,
    type_id: Uuid,
    size_gb: u64,
) -> Result<(), ApiError> {
    let type_name = tx
        .volume_type(type_id)
        .map(|t| t.name.clone())
        .unwrap_or_default();
    let scopes = [
        ("snapshots".to_string(), "gigabytes".to_string(), None),
        (
            format!("snapshots_{type_name}"),
            format!("gigabytes_{type_name}"),
            Some(type_id),
        ),
    ];
    for (snap_res, gb_res, scope) in scopes {
        let (snaps, _) = usage(tx, project_id, scope);
        let limit = ops::quota_limit(tx, world, project_id, &snap_res);
        if limit >= 0 && snaps + 1 > limit {
            return Err(ApiError::OverLimit {
                message: format!(
                    "SnapshotLimitExceeded: Maximum number of snapshots allowed ({limit}) exceeded"
                ),
            });
        }
        let (_, vol_gb) = ops::usage(tx, project_id, scope);
        let gb_limit = ops::quota_limit(tx, world, project_id, &gb_res);
        if gb_limit >= 0 && vol_gb + size_gb as i64 > gb_limit {
            return Err(ApiError::OverLimit {
                message: format!(
                    "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed {gb_res} quota. Requested {size_gb}G, quota is {gb_limit}G and {vol_gb}G has been consumed."
                ),
            });
        }
    }
    Ok(())
}

/// `POST /snapshots`: the snapshot in `creating`; the caller starts its job.
pub fn create(
    tx: &mut Tx<'_>,
    world: &World,
    caller: &Caller,
    req: CreateSnapshot,
) -> Result<Snapshot, ApiError> {
    let v = ops::visible(tx, caller, req.volume_id)?.clone();
    let invalid = |why: &str| Err(ApiError::bad_request(format!("Invalid volume: {why}")));
    if v.host.is_none() {
        return invalid(
            "The snapshot cannot be created because volume has not been scheduled to any host.",
        );
    }
    if v.status == VolumeStatus::Maintenance {
        return invalid("The snapshot cannot be created when the volume is in maintenance mode.");
    }
    if v.migration_status
        .as_deref()
        .is_some_and(|m| !matches!(m, "success" | "error"))
    {
        return invalid("Snapshot cannot be created while volume is migrating.");
    }
    if v.status == VolumeStatus::Error {
        return invalid("The snapshot cannot be created when the volume is in error status.");
    }
    ops::check_metadata(&req.metadata)?;
    let valid: &[VolumeStatus] = if req.allow_in_use {
        &[VolumeStatus::Available, VolumeStatus::InUse]
    } else {
        &[VolumeStatus::Available]
    };
    if !valid.contains(&v.status) {
        let names: Vec<&str> = valid.iter().map(|s| s.as_str()).collect();
        return invalid(&format!(
            "Volume {} status must be {}, but current status is: {}.",
            v.id,
            names.join(", "),
            v.status
        ));
    }
    check_quota(tx, world, &caller.project_id, v.volume_type_id, v.size_gb)?;
    let s = Snapshot {
        id: Uuid::new_v4(),
        seq: tx.next_seq(),
        project_id: caller.project_id.clone(),
        user_id: caller.user_id.clone(),
        volume_id: v.id,
        volume_type_id: v.volume_type_id,
        name: req.name,
        description: req.description,
        status: SnapshotStatus::Creating,
        progress: "0%".into(),
        size_gb: v.size_gb,
        metadata: req.metadata,
        group_snapshot_id: None,
        created_at: now(),
        updated_at: None,
    };
    tx.put_record(&s);
    Ok(s)
}

/// Cinder's refusal of a snapshot delete from the wrong status.
pub const DELETE_REFUSED: &str =
    "Invalid snapshot: Snapshot status must be available or error and must not be part of a group.";

/// `DELETE /snapshots/{id}` and `os-force_delete`: the snapshot goes `deleting`.
pub fn begin_delete(
    tx: &mut Tx<'_>,
    caller: &Caller,
    raw: &str,
    force: bool,
) -> Result<Snapshot, ApiError> {
    let mut s = visible(tx, caller, raw)?;
    if s.group_snapshot_id.is_some() {
        return Err(ApiError::bad_request(if force {
            "Invalid snapshot: Snapshot  must not be part of a group."
        } else {
            DELETE_REFUSED
        }));
    }
    let event = if force {
        SnapshotEvent::ForceDeleteRequested
    } else {
        SnapshotEvent::DeleteRequested
    };
    apply(&mut s, event).map_err(|_| ApiError::bad_request(DELETE_REFUSED))?;
    tx.put_record(&s);
    Ok(s)
}

/// What a volume delete does to the volume's snapshots: with none, nothing; without
/// `cascade`, Cinder's refusal; with it, each goes `deleting` (from `available`,
/// `error` or `deleting`, any status when forced) and their ids come back for jobs.
pub fn cascade_volume_delete(
    tx: &mut Tx<'_>,
    caller: &Caller,
    volume_id: Uuid,
    force: bool,
    cascade: bool,
) -> Result<Vec<Uuid>, ApiError> {
    let snaps = of_volume(tx, volume_id);
    if snaps.is_empty() {
        return Ok(Vec::new());
    }
    let refused = || {
        let status = if force {
            ""
        } else {
            "status must be available or error or error_restoring or error_extending or error_managing and"
        };
        ApiError::bad_request(format!(
            "Invalid volume: Volume {status} must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer."
        ))
    };
    if !cascade {
        return Err(refused());
    }
    // Snapshots of a group snapshot go only with it, as Cinder's filters say.
    let deletable = |s: &Snapshot| {
        s.group_snapshot_id.is_none()
            && (force
                || matches!(
                    s.status,
                    SnapshotStatus::Available | SnapshotStatus::Error | SnapshotStatus::Deleting
                ))
    };
    let foreign = |s: &Snapshot| !caller.is_admin && s.project_id != caller.project_id;
    if snaps.iter().any(|s| !deletable(s) || foreign(s)) {
        return Err(refused());
    }
    let mut ids = Vec::new();
    for mut s in snaps {
        if s.status != SnapshotStatus::Deleting {
            apply(&mut s, SnapshotEvent::ForceDeleteRequested)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            tx.put_record(&s);
        }
        ids.push(s.id);
    }
    Ok(ids)
}

/// `PUT /snapshots/{id}`: name and description (`Some(None)` clears one).
pub fn update(
    tx: &mut Tx<'_>,
    caller: &Caller,
    raw: &str,
    name: Option<Option<String>>,
    description: Option<Option<String>>,
) -> Result<Snapshot, ApiError> {
    let mut s = visible(tx, caller, raw)?;
    if let Some(n) = name {
        s.name = n;
    }
    if let Some(d) = description {
        s.description = d;
    }
    s.updated_at = Some(now());
    tx.put_record(&s);
    Ok(s)
}

/// Every snapshot metadata write; returns the snapshot as written.
pub fn change_metadata(
    tx: &mut Tx<'_>,
    caller: &Caller,
    raw: &str,
    change: MetadataChange,
) -> Result<Snapshot, ApiError> {
    let mut s = visible(tx, caller, raw)?;
    match change {
        MetadataChange::Merge(md) => s.metadata.extend(md),
        MetadataChange::Replace(md) => s.metadata = md,
        MetadataChange::Set(k, val) => {
            s.metadata.insert(k, val);
        }
        MetadataChange::Delete(k) => {
            if s.metadata.remove(&k).is_none() {
                return Err(ApiError::not_found(format!(
                    "Snapshot {} has no metadata with key {k}.",
                    s.id
                )));
            }
        }
    }
    ops::check_metadata(&s.metadata)?;
    s.updated_at = Some(now());
    tx.put_record(&s);
    Ok(s)
}

/// Admin `os-reset_status`: any status, as Cinder allows.
pub fn reset_status(
    tx: &mut Tx<'_>,
    caller: &Caller,
    raw: &str,
    to: SnapshotStatus,
) -> Result<(), ApiError> {
    let mut s = visible(tx, caller, raw)?;
    apply(&mut s, SnapshotEvent::Reset(to)).map_err(|e| ApiError::Internal(e.to_string()))?;
    tx.put_record(&s);
    Ok(())
}

/// `os-update_snapshot_status` (a backend's own report): `creating` may become
/// creating/available/error, `deleting` deleting/error_deleting; `progress` if given.
pub fn update_status(
    tx: &mut Tx<'_>,
    caller: &Caller,
    raw: &str,
    status: &str,
    progress: Option<String>,
) -> Result<(), ApiError> {
    let mut s = visible(tx, caller, raw)?;
    if !matches!(
        s.status,
        SnapshotStatus::Creating | SnapshotStatus::Deleting
    ) {
        return Err(ApiError::bad_request(format!(
            "Snapshot status {} not allowed for update_snapshot_status",
            s.status
        )));
    }
    let refused = || {
        ApiError::bad_request(format!(
            "Provided snapshot status {status} not allowed for snapshot with status {}.",
            s.status
        ))
    };
    let to: SnapshotStatus = status.parse().map_err(|_| refused())?;
    let from = s.status;
    apply(&mut s, SnapshotEvent::UpdateStatus(to)).map_err(|_| {
        ApiError::bad_request(format!(
            "Provided snapshot status {status} not allowed for snapshot with status {from}."
        ))
    })?;
    if let Some(p) = progress.filter(|p| !p.is_empty()) {
        s.progress = p;
    }
    tx.put_record(&s);
    Ok(())
}

/// The end of a create job: `available` at 100%, or `error`. A snapshot no longer
/// `creating` (reset, deleted meanwhile) is left as it is.
pub fn finish_create(tx: &mut Tx<'_>, id: Uuid, ok: bool) -> Result<(), ApiError> {
    let Some(mut s) = tx.record::<Snapshot>(&id.to_string()) else {
        return Ok(());
    };
    let event = if ok {
        SnapshotEvent::CreateSucceeded
    } else {
        SnapshotEvent::CreateFailed
    };
    if apply(&mut s, event).is_ok() {
        if ok {
            s.progress = "100%".into();
        }
        tx.put_record(&s);
        if let Some(gs) = s.group_snapshot_id {
            super::group_snapshots::settle(tx, gs);
        }
    }
    Ok(())
}

/// The end of a delete job: the row goes (its file already has), or `error_deleting`.
pub fn finish_delete(tx: &mut Tx<'_>, id: Uuid, ok: bool) -> Result<(), ApiError> {
    let Some(mut s) = tx.record::<Snapshot>(&id.to_string()) else {
        return Ok(());
    };
    if s.status != SnapshotStatus::Deleting {
        return Ok(());
    }
    if ok {
        tx.remove_record::<Snapshot>(&id.to_string());
        if let Some(gs) = s.group_snapshot_id {
            super::group_snapshots::after_member_deleted(tx, gs);
        }
    } else if apply(&mut s, SnapshotEvent::DeleteFailed).is_ok() {
        tx.put_record(&s);
    }
    Ok(())
}

/// A snapshot a new volume is made from: visible, `available`, and its size and type.
pub fn source_for_volume(tx: &Tx<'_>, caller: &Caller, raw: &str) -> Result<Snapshot, ApiError> {
    let s = visible(tx, caller, raw)?;
    if s.status != SnapshotStatus::Available {
        return Err(ApiError::bad_request(
            "Invalid snapshot: Originating snapshot status must be one of 'available' values",
        ));
    }
    Ok(s)
}
