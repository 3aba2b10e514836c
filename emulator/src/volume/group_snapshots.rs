//! Group snapshots (3.14): one snapshot of every volume of a group, taken together.
//! The group snapshot is `creating` until its snapshots' copies are done (then
//! `available`, or `error` if one failed); a delete takes its snapshots with it and the
//! record goes with the last of them. Its member snapshots cannot be deleted alone.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::groups::{self, Group};
use super::model::{now, Timestamp};
use super::ops::{self, Caller};
use super::snapshot_status::{SnapshotEvent, SnapshotStatus};
use super::snapshots::{self, CreateSnapshot, Snapshot};
use super::store::{Record, Tx};
use crate::config::World;
use crate::error::ApiError;

/// Cinder's `GroupSnapshotStatus.ALL`.
pub const STATUSES: [&str; 7] = [
    "error",
    "available",
    "creating",
    "deleting",
    "deleted",
    "updating",
    "error_deleting",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSnapshot {
    pub id: Uuid,
    pub project_id: String,
    pub user_id: String,
    pub group_id: Uuid,
    pub group_type_id: Uuid,
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
}

impl Record for GroupSnapshot {
    const KIND: &'static str = "group_snapshot";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

pub fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("GroupSnapshot {id} could not be found."))
}

pub fn get(tx: &Tx<'_>, caller: &Caller, raw: &str) -> Result<GroupSnapshot, ApiError> {
    Uuid::parse_str(raw)
        .ok()
        .and_then(|id| tx.record::<GroupSnapshot>(&id.to_string()))
        .filter(|g| caller.is_admin || g.project_id == caller.project_id)
        .ok_or_else(|| not_found(raw))
}

/// The snapshots a group snapshot holds.
pub fn members(tx: &Tx<'_>, id: Uuid) -> Vec<Snapshot> {
    tx.records::<Snapshot>()
        .into_iter()
        .filter(|s| s.group_snapshot_id == Some(id))
        .collect()
}

/// `POST /group_snapshots`: the group snapshot and one snapshot per volume, all
/// `creating`; returns the snapshots for their jobs.
pub fn create(
    tx: &mut Tx<'_>,
    world: &World,
    caller: &Caller,
    raw_group: &str,
    name: Option<String>,
    description: Option<String>,
) -> Result<(GroupSnapshot, Vec<Snapshot>), ApiError> {
    let g: Group = groups::get(tx, caller, raw_group)?;
    let gs = GroupSnapshot {
        id: Uuid::new_v4(),
        project_id: caller.project_id.clone(),
        user_id: caller.user_id.clone(),
        group_id: g.id,
        group_type_id: g.group_type_id,
        name: name.clone(),
        description: description.clone(),
        status: "creating".into(),
        created_at: now(),
    };
    let mut snaps = Vec::new();
    for vid in groups::members(tx, g.id) {
        let mut s = snapshots::create(
            tx,
            world,
            caller,
            CreateSnapshot {
                volume_id: vid,
                name: name.clone(),
                description: description.clone(),
                metadata: Default::default(),
                allow_in_use: true,
            },
        )?;
        s.group_snapshot_id = Some(gs.id);
        tx.put_record(&s);
        snaps.push(s);
    }
    let mut gs = gs;
    if snaps.is_empty() {
        gs.status = "available".into();
    }
    tx.put_record(&gs);
    Ok((gs, snaps))
}

/// After a member snapshot's create ended: once none is `creating`, the group
/// snapshot is `available` (or `error` if one failed).
pub fn settle(tx: &mut Tx<'_>, id: Uuid) {
    let Some(mut gs) = tx.record::<GroupSnapshot>(&id.to_string()) else {
        return;
    };
    if gs.status != "creating" {
        return;
    }
    let snaps = members(tx, id);
    if snaps.iter().any(|s| s.status == SnapshotStatus::Creating) {
        return;
    }
    let failed = snaps.iter().any(|s| s.status != SnapshotStatus::Available);
    gs.status = if failed { "error" } else { "available" }.into();
    tx.put_record(&gs);
}

/// After a member snapshot's delete: a deleting group snapshot goes with its last one.
pub fn after_member_deleted(tx: &mut Tx<'_>, id: Uuid) {
    let Some(gs) = tx.record::<GroupSnapshot>(&id.to_string()) else {
        return;
    };
    if gs.status == "deleting" && members(tx, id).is_empty() {
        tx.remove_record::<GroupSnapshot>(&gs.key());
    }
}

/// `DELETE /group_snapshots/{id}`: `deleting`, with its snapshots; returns them (volume,
/// snapshot) for their jobs. One with no snapshots goes at once.
pub fn begin_delete(
    tx: &mut Tx<'_>,
    caller: &Caller,
    raw: &str,
) -> Result<Vec<(Uuid, Uuid)>, ApiError> {
    let mut gs = get(tx, caller, raw)?;
    if !matches!(gs.status.as_str(), "available" | "error") {
        return Err(ApiError::bad_request(
            "Invalid GroupSnapshot: GroupSnapshot status must be available or error, and no Group can be currently using it as source for its creation.",
        ));
    }
    let snaps = members(tx, gs.id);
    if snaps.is_empty() {
        tx.remove_record::<GroupSnapshot>(&gs.key());
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for mut s in snaps {
        snapshots::apply(&mut s, SnapshotEvent::ForceDeleteRequested)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        tx.put_record(&s);
        out.push((s.volume_id, s.id));
    }
    gs.status = "deleting".into();
    tx.put_record(&gs);
    Ok(out)
}

/// `reset_status` (3.19, admin): any of Cinder's group snapshot statuses.
pub fn reset_status(
    tx: &mut Tx<'_>,
    caller: &Caller,
    raw: &str,
    status: &str,
) -> Result<(), ApiError> {
    let mut gs = get(tx, caller, raw)?;
    gs.status = status.to_string();
    tx.put_record(&gs);
    Ok(())
}

/// A group from a group snapshot (`create-from-src`): the snapshot's group type, the
/// source group's volume types (or the snapshots'), a volume from each snapshot.
pub fn create_group_from(
    tx: &mut Tx<'_>,
    world: &World,
    caller: &Caller,
    raw: &str,
    name: Option<String>,
    description: Option<String>,
) -> Result<(Group, Vec<Uuid>), ApiError> {
    let gs = get(tx, caller, raw)?;
    let snaps = members(tx, gs.id);
    if snaps.is_empty() {
        return Err(ApiError::bad_request(
            "Invalid group: Group snapshot is empty. No group will be created.",
        ));
    }
    let mut type_ids: Vec<Uuid> = match tx.record::<Group>(&gs.group_id.to_string()) {
        Some(src) => src.volume_type_ids,
        None => snaps.iter().map(|s| s.volume_type_id).collect(),
    };
    type_ids.dedup();
    let g = Group {
        id: Uuid::new_v4(),
        project_id: caller.project_id.clone(),
        user_id: caller.user_id.clone(),
        name,
        description,
        group_type_id: gs.group_type_id,
        volume_type_ids: type_ids,
        availability_zone: world.availability_zone.clone(),
        status: "available".into(),
        created_at: now(),
    };
    tx.put_record(&g);
    let mut vols = Vec::new();
    for s in snaps {
        let v = ops::create(
            tx,
            world,
            caller,
            ops::CreateVolume {
                size_gb: None,
                name: s.name.clone(),
                description: s.description.clone(),
                volume_type: None,
                metadata: Default::default(),
                availability_zone: None,
                bootable: false,
                group_id: Some(g.id.to_string()),
                source: Some(ops::VolumeSource::Snapshot(s.id.to_string())),
            },
        )?;
        vols.push(v.id);
    }
    Ok((g, vols))
}
