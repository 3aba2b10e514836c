//! Volume operations as plain functions over a store transaction: validation, quota,
//! and status changes through `transition`. No HTTP here; errors carry Cinder's wording.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::model::{now, Volume};
use super::status::{transition, AttachStatus, VolumeEvent, VolumeStatus};
use super::store::Tx;
use crate::config::World;
use crate::error::ApiError;

/// The caller of a domain operation, as far as the domain cares.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    pub project_id: String,
    pub is_admin: bool,
}

impl Caller {
    /// Whether this caller may see `v` (admins see every project's volumes).
    pub fn sees(&self, v: &Volume) -> bool {
        self.is_admin || v.project_id == self.project_id
    }
}

/// Cinder's refusal for a delete from the wrong status.
pub const DELETE_REFUSED: &str = "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.";

/// Moves `v` by `event`, stamping `updated_at`; the only way statuses change.
pub fn apply(v: &mut Volume, event: VolumeEvent) -> Result<(), super::status::InvalidTransition> {
    v.status = transition(v.status, event)?;
    v.updated_at = Some(now());
    Ok(())
}

/// A volume the caller may see, or Cinder's 404.
pub fn visible<'t>(tx: &'t Tx<'_>, caller: &Caller, id: Uuid) -> Result<&'t Volume, ApiError> {
    tx.volume(id)
        .filter(|v| caller.sees(v))
        .ok_or_else(|| ApiError::volume_not_found(id))
}

/// Parses a volume id from a URL or body; anything but a UUID is simply not found.
pub fn parse_volume_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::volume_not_found(raw))
}

pub struct CreateVolume {
    /// None: the source's size (a create without a source requires a size).
    pub size_gb: Option<u64>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub volume_type: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub availability_zone: Option<String>,
    pub bootable: bool,
    /// `group_id` (3.13): the group to create it in.
    pub group_id: Option<String>,
    /// `snapshot_id` or `source_volid`: whose bytes it starts with.
    pub source: Option<VolumeSource>,
}

/// What a new volume is made from (ids as sent; anything but a UUID is not found).
#[derive(Debug, Clone)]
pub enum VolumeSource {
    Snapshot(String),
    Volume(String),
}

pub use super::types::{default_type, find as find_type};

/// Creates a volume in `creating`; the caller schedules its completion.
pub fn create(
    tx: &mut Tx<'_>,
    world: &World,
    caller: &Caller,
    req: CreateVolume,
) -> Result<Volume, ApiError> {
    let source = match &req.source {
        Some(src) => Some(super::sources::resolve(tx, caller, src, req.size_gb)?),
        None => None,
    };
    let vtype = match (&req.volume_type, &source) {
        (Some(t), _) => find_type(tx, caller, t)?.clone(),
        (None, Some(src)) => tx
            .volume_type(src.volume_type_id)
            .cloned()
            .ok_or_else(|| ApiError::Internal("source's volume type is gone".into()))?,
        (None, None) => default_type(tx, world)?.clone(),
    };
    if let Some(src) = &source {
        src.check_type(vtype.id)?;
    }
    let size_gb = match (req.size_gb, &source) {
        (Some(n), _) => n,
        (None, Some(src)) => src.size_gb,
        (None, None) => return Err(ApiError::bad_request("'size' is a required property")),
    };
    let az = req
        .availability_zone
        .clone()
        .unwrap_or_else(|| world.availability_zone.clone());
    if az != world.availability_zone {
        return Err(ApiError::bad_request(format!(
            "Invalid input received: Availability zone '{az}' is invalid."
        )));
    }
    check_quota(tx, world, &caller.project_id, &vtype.name, 1, size_gb)?;
    let group_id = match &req.group_id {
        Some(g) => Some(super::groups::admit(tx, caller, g, vtype.id)?),
        None => None,
    };
    let host = match &source {
        // A clone or a volume from a snapshot is made by the source's backend.
        Some(src) => src.host.clone(),
        None => schedule(tx, world, &vtype.extra_specs, size_gb),
    };
    let seq = tx.next_seq();
    let v = Volume {
        id: Uuid::new_v4(),
        seq,
        project_id: caller.project_id.clone(),
        user_id: caller.user_id.clone(),
        name: req.name,
        description: req.description,
        size_gb,
        status: VolumeStatus::Creating,
        volume_type_id: vtype.id,
        availability_zone: az,
        bootable: req.bootable || source.as_ref().is_some_and(|s| s.bootable),
        multiattach: vtype.multiattach(),
        metadata: req.metadata,
        admin_metadata: BTreeMap::new(),
        migration_status: None,
        host,
        group_id,
        snapshot_id: source.as_ref().and_then(|s| s.snapshot_id),
        source_volid: source.as_ref().and_then(|s| s.source_volid),
        created_at: now(),
        updated_at: None,
    };
    tx.put_volume(v.clone());
    Ok(v)
}

/// The pool for a new volume, as Cinder's scheduler picks it: enabled volume services
/// only, capabilities filter on the type's extra specs, most free space wins.
fn schedule(
    tx: &Tx<'_>,
    world: &World,
    extra_specs: &BTreeMap<String, String>,
    size_gb: u64,
) -> Option<String> {
    let state = tx.committed();
    let enabled: Vec<crate::topology::Backend> = world
        .backends
        .iter()
        .filter(|b| super::services::volume_service_enabled(state, &b.service_host()))
        .cloned()
        .collect();
    let allocated = |pool_host: &str| -> u64 {
        tx.volumes()
            .filter(|v| v.host.as_deref() == Some(pool_host))
            .map(|v| v.size_gb)
            .sum()
    };
    crate::topology::schedule(&enabled, extra_specs, size_gb, allocated)
        .map(|(b, p)| b.pool_host(p))
}

/// `DELETE /volumes/{id}`: moves the volume to `deleting`; a volume with snapshots is
/// refused (see [`begin_delete_cascade`]).
pub fn begin_delete(
    tx: &mut Tx<'_>,
    caller: &Caller,
    id: Uuid,
    force: bool,
) -> Result<Volume, ApiError> {
    begin_delete_cascade(tx, caller, id, force, false).map(|(v, _)| v)
}

/// `DELETE /volumes/{id}?cascade=true`: also moves its snapshots to `deleting`; returns
/// their ids with the volume, for their jobs.
pub fn begin_delete_cascade(
    tx: &mut Tx<'_>,
    caller: &Caller,
    id: Uuid,
    force: bool,
    cascade: bool,
) -> Result<(Volume, Vec<Uuid>), ApiError> {
    let mut v = visible(tx, caller, id)?.clone();
    let live_attachments = !tx.attachments_of(id).is_empty();
    if live_attachments
        || v.migration_status
            .as_deref()
            .is_some_and(|m| m != "success")
    {
        return Err(ApiError::bad_request(DELETE_REFUSED));
    }
    let event = if force {
        VolumeEvent::ForceDeleteRequested
    } else {
        VolumeEvent::DeleteRequested
    };
    apply(&mut v, event).map_err(|_| ApiError::bad_request(DELETE_REFUSED))?;
    let snapshots = super::snapshots::cascade_volume_delete(tx, caller, id, force, cascade)?;
    tx.put_volume(v.clone());
    Ok((v, snapshots))
}

/// `os-extend`: moves the volume to `extending`.
pub fn begin_extend(
    tx: &mut Tx<'_>,
    world: &World,
    caller: &Caller,
    id: Uuid,
    new_size_gb: u64,
    attached_ok: bool,
) -> Result<Volume, ApiError> {
    let mut v = visible(tx, caller, id)?.clone();
    let expected = if attached_ok {
        "'{'status': ('available', 'in-use')}'"
    } else {
        "'{'status': 'available'}'"
    };
    if transition(v.status, VolumeEvent::ExtendRequested { attached_ok }).is_err() {
        return Err(ApiError::bad_request(format!(
            "Invalid volume: Volume {id} status must be {expected} to extend, currently {}.",
            v.status
        )));
    }
    if new_size_gb <= v.size_gb {
        return Err(ApiError::bad_request(format!(
            "Invalid input received: New size for extend must be greater than current size. (current: {}, extended: {new_size_gb}).",
            v.size_gb
        )));
    }
    let type_name = tx
        .volume_type(v.volume_type_id)
        .map(|t| t.name.clone())
        .unwrap_or_default();
    check_quota(
        tx,
        world,
        &v.project_id,
        &type_name,
        0,
        new_size_gb - v.size_gb,
    )?;
    apply(&mut v, VolumeEvent::ExtendRequested { attached_ok })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    tx.put_volume(v.clone());
    Ok(v)
}

/// Finishes an extend: the new size is recorded, the status goes back.
pub fn finish_extend(
    tx: &mut Tx<'_>,
    id: Uuid,
    new_size_gb: u64,
    ok: bool,
) -> Result<(), ApiError> {
    let Some(mut v) = tx.volume(id).cloned() else {
        return Ok(());
    };
    let attached = attach_status(tx, id) == AttachStatus::Attached;
    let event = if ok {
        v.size_gb = new_size_gb;
        VolumeEvent::ExtendSucceeded { attached }
    } else {
        VolumeEvent::ExtendFailed
    };
    if apply(&mut v, event).is_ok() {
        tx.put_volume(v);
    }
    Ok(())
}

/// The volume's `attach_status`: the highest of its live attachments.
pub fn attach_status(tx: &Tx<'_>, volume_id: Uuid) -> AttachStatus {
    tx.attachments_of(volume_id)
        .iter()
        .map(|a| a.status)
        .max()
        .unwrap_or(AttachStatus::Detached)
}

/// Recomputes a volume's status from its attachments, as Cinder does after each change.
pub fn recompute_from_attachments(tx: &mut Tx<'_>, volume_id: Uuid) -> Result<(), ApiError> {
    let Some(mut v) = tx.volume(volume_id).cloned() else {
        return Ok(());
    };
    let attach = attach_status(tx, volume_id);
    apply(&mut v, VolumeEvent::AttachmentsChanged(attach))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if attach == AttachStatus::Detached {
        v.admin_metadata.remove("attached_mode");
    }
    tx.put_volume(v);
    Ok(())
}

pub use super::metadata::{check as check_metadata, check_writable as check_metadata_writable};

/// `os-reset_status` (admin): what to set; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct ResetStatus {
    pub status: Option<VolumeStatus>,
    /// `attach_status: detached`: every attachment is dropped. (`attached` changes
    /// nothing here: the volume's attach status is derived from its attachments.)
    pub detach_all: bool,
    /// `Some(None)` clears it (`"none"` on the wire).
    pub migration_status: Option<Option<String>>,
}

/// `os-reset_status`: any status but `deleting`, and `in-use` only with attachments.
pub fn reset_status(
    tx: &mut Tx<'_>,
    caller: &Caller,
    id: Uuid,
    req: ResetStatus,
) -> Result<(), ApiError> {
    let mut v = visible(tx, caller, id)?.clone();
    if let Some(to) = req.status {
        if transition(v.status, VolumeEvent::Reset(to)).is_err() {
            return Err(ApiError::bad_request(format!("Cannot reset-state to {to}")));
        }
        if to == VolumeStatus::InUse && tx.attachments_of(id).is_empty() {
            return Err(ApiError::bad_request(
                "Cannot reset-state to in-use because volume does not have any attachments.",
            ));
        }
    }
    if let Some(m) = req.migration_status {
        v.migration_status = m;
    }
    if req.detach_all {
        let ids: Vec<Uuid> = tx.attachments_of(id).iter().map(|a| a.id).collect();
        for aid in ids {
            tx.remove_attachment(aid);
        }
        v.admin_metadata.remove("attached_mode");
    }
    v.updated_at = Some(now());
    match req.status {
        Some(to) => {
            apply(&mut v, VolumeEvent::Reset(to)).map_err(|e| ApiError::Internal(e.to_string()))?;
            tx.put_volume(v);
        }
        None => {
            tx.put_volume(v);
            if req.detach_all {
                recompute_from_attachments(tx, id)?;
            }
        }
    }
    Ok(())
}

/// `os-set_bootable`: refused only in maintenance, as Cinder's volume update is.
pub fn set_bootable(
    tx: &mut Tx<'_>,
    caller: &Caller,
    id: Uuid,
    bootable: bool,
) -> Result<(), ApiError> {
    let mut v = visible(tx, caller, id)?.clone();
    if v.status == VolumeStatus::Maintenance {
        return Err(ApiError::bad_request(
            "Invalid volume: The volume cannot be updated during maintenance.",
        ));
    }
    v.bootable = bootable;
    v.updated_at = Some(now());
    tx.put_volume(v);
    Ok(())
}

/// `os-update_readonly_flag`: only `available`; kept in admin metadata `readonly`
/// ("True"/"False", Python's spelling) so it shows in `metadata.readonly`.
pub fn update_readonly_flag(
    tx: &mut Tx<'_>,
    caller: &Caller,
    id: Uuid,
    readonly: bool,
) -> Result<(), ApiError> {
    let mut v = visible(tx, caller, id)?.clone();
    if v.status != VolumeStatus::Available {
        return Err(ApiError::bad_request(format!(
            "Invalid volume: Volume {id} status must be available to update readonly flag, but current status is: {}.",
            v.status
        )));
    }
    let flag = if readonly { "True" } else { "False" };
    v.admin_metadata.insert("readonly".into(), flag.into());
    v.updated_at = Some(now());
    tx.put_volume(v);
    Ok(())
}

pub use super::quotas::{
    check_quota, default_quota_limit, quota_in_use, quota_limit, quota_resources, reset_quotas,
    set_quotas, usage, FIXED_QUOTAS,
};
