//! Volume backups as a domain resource: the record, and the writes of create (full or
//! incremental, `force` for in-use volumes), delete, restore (to a new volume or an
//! existing one), update, reset-status and export/import of a record, each over a
//! [`Tx`], with Cinder's checks, quotas (`backups`, `backup_gigabytes`) and wording.
//! The data side is `backup_data.rs`; the asynchronous halves are `backup_jobs.rs`.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::backup_status::{backup_transition, BackupEvent, BackupStatus};
use super::model::{now, Timestamp, Volume};
use super::ops::{self, Caller};
use super::quotas::quota_limit;
use super::status::VolumeEvent;
use super::store::{Record, Tx};
use super::transition_jobs::VolumeJobEvent;
use crate::config::World;
use crate::error::ApiError;

/// The backup host the emulated cinder-backup service runs on.
pub const BACKUP_HOST: &str = "cinderbox";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    pub id: Uuid,
    pub seq: u64,
    pub project_id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub volume_id: Uuid,
    pub snapshot_id: Option<Uuid>,
    #[serde(with = "status_serde")]
    pub status: BackupStatus,
    pub size_gb: u64,
    pub object_count: u64,
    pub container: Option<String>,
    pub availability_zone: String,
    pub parent_id: Option<Uuid>,
    pub fail_reason: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// The volume's metadata and bootable flag when backed up (restored with the data).
    pub volume_meta: VolumeMeta,
    /// Where the data is: `backups/backup-<storage>/` (the backup's own id, or for an
    /// imported record the id of the backup it was exported from).
    pub storage: Uuid,
    /// The volume a restore is writing to.
    pub restore_volume_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub data_timestamp: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VolumeMeta {
    pub metadata: BTreeMap<String, String>,
    pub bootable: bool,
}

impl Record for Backup {
    const KIND: &'static str = "backup";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

mod status_serde {
    use super::BackupStatus;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(s: &BackupStatus, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.as_str())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<BackupStatus, D::Error> {
        let s = String::deserialize(de)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

pub fn not_found(id: impl std::fmt::Display) -> ApiError {
    ApiError::not_found(format!("Backup {id} could not be found."))
}

fn invalid_backup(reason: &str) -> ApiError {
    ApiError::bad_request(format!("Invalid backup: {reason}"))
}

fn invalid_volume(reason: &str) -> ApiError {
    ApiError::bad_request(format!("Invalid volume: {reason}"))
}

/// A backup id from a URL: anything but a UUID is simply not found.
pub fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| not_found(raw))
}

/// Moves `b` by `event`, stamping `updated_at`; the only way backup statuses change.
pub fn apply(b: &mut Backup, event: BackupEvent) -> Result<(), ApiError> {
    b.status = backup_transition(b.status, event)
        .map_err(|e| ApiError::bad_request(format!("Invalid backup: {e}")))?;
    b.updated_at = Some(now());
    Ok(())
}

/// Moves the volume `id` by a job event (if it is still there); the attach state
/// decides `in-use` or `available` where the event asks.
pub fn move_volume(tx: &mut Tx<'_>, id: Uuid, event: VolumeJobEvent) -> Option<Volume> {
    let mut v = tx.volume(id)?.clone();
    ops::apply(&mut v, VolumeEvent::Job(event)).ok()?;
    tx.put_volume(v.clone());
    Some(v)
}

/// Whether the volume has live attachments (for the status it returns to).
pub fn attached(tx: &Tx<'_>, id: Uuid) -> bool {
    ops::attach_status(tx, id) == super::status::AttachStatus::Attached
}

/// Every backup, this transaction's writes included.
pub fn all(tx: &Tx<'_>) -> Vec<Backup> {
    tx.records::<Backup>()
}

/// A backup the caller may see, or Cinder's 404.
pub fn visible(tx: &Tx<'_>, caller: &Caller, id: Uuid) -> Result<Backup, ApiError> {
    tx.record::<Backup>(&id.to_string())
        .filter(|b| caller.is_admin || b.project_id == caller.project_id)
        .ok_or_else(|| not_found(id))
}

/// (backup count, backup gigabytes) a project uses.
pub fn usage(tx: &Tx<'_>, project_id: &str) -> (i64, i64) {
    all(tx)
        .iter()
        .filter(|b| b.project_id == project_id)
        .fold((0, 0), |(n, g), b| (n + 1, g + b.size_gb as i64))
}

/// Cinder's 413s for one more backup of `size_gb`.
fn check_quota(tx: &Tx<'_>, world: &World, project_id: &str, size_gb: u64) -> Result<(), ApiError> {
    let (n, gb) = usage(tx, project_id);
    let max_n = quota_limit(tx, world, project_id, "backups");
    if max_n >= 0 && n + 1 > max_n {
        return Err(ApiError::OverLimit {
            message: format!(
                "BackupLimitExceeded: Maximum number of backups allowed ({max_n}) exceeded"
            ),
        });
    }
    let max_gb = quota_limit(tx, world, project_id, "backup_gigabytes");
    if max_gb >= 0 && gb + size_gb as i64 > max_gb {
        return Err(ApiError::OverLimit {
            message: format!(
                "VolumeBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed Backup gigabytes quota. Requested {size_gb}G, quota is {max_gb}G and {gb}G has been consumed."
            ),
        });
    }
    Ok(())
}

pub struct CreateBackup {
    pub volume_id: Uuid,
    pub name: Option<String>,
    pub description: Option<String>,
    pub container: Option<String>,
    pub incremental: bool,
    pub force: bool,
    pub snapshot_id: Option<Uuid>,
    pub metadata: BTreeMap<String, String>,
    pub availability_zone: Option<String>,
}

/// `POST /backups`: the backup in `creating`, its volume `backing-up`.
pub fn create(
    tx: &mut Tx<'_>,
    world: &World,
    caller: &Caller,
    req: CreateBackup,
) -> Result<Backup, ApiError> {
    let volume = ops::visible(tx, caller, req.volume_id)?.clone();
    use super::status::VolumeStatus as S;
    let snapshot = match req.snapshot_id {
        Some(sid) => {
            let snap = super::snapshots::visible(tx, caller, &sid.to_string())?;
            if snap.volume_id != volume.id {
                return Err(invalid_volume(&format!(
                    "Volume {} does not match with snapshot.volume_id {}.",
                    volume.id, snap.volume_id
                )));
            }
            if snap.status != super::snapshot_status::SnapshotStatus::Available {
                return Err(ApiError::bad_request(format!(
                    "Invalid snapshot: Snapshot to be backed up must be available, but the current status is \"{}\".",
                    snap.status
                )));
            }
            Some(snap)
        }
        None => {
            match volume.status {
                S::Available => {}
                S::InUse if req.force => {}
                S::InUse => {
                    return Err(invalid_volume(
                        "Backing up an in-use volume must use the force flag.",
                    ))
                }
                other => {
                    return Err(invalid_volume(&format!(
                        "Volume to be backed up must be available or in-use, but the current status is \"{other}\"."
                    )))
                }
            }
            None
        }
    };
    check_quota(tx, world, &caller.project_id, volume.size_gb)?;
    let parent = if req.incremental {
        let latest = all(tx)
            .into_iter()
            .filter(|b| b.volume_id == volume.id && b.project_id == caller.project_id)
            .filter(|b| b.status == BackupStatus::Available)
            // From a snapshot: only backups of data older than the snapshot.
            .filter(|b| {
                snapshot
                    .as_ref()
                    .is_none_or(|s| b.data_timestamp < s.created_at)
            })
            .max_by_key(|b| (b.data_timestamp, b.seq));
        match latest {
            Some(b) => Some(b.id),
            None => {
                return Err(invalid_backup(
                    "No backups available to do an incremental backup.",
                ))
            }
        }
    } else {
        None
    };
    let az = req
        .availability_zone
        .unwrap_or_else(|| world.availability_zone.clone());
    match &snapshot {
        Some(snap) => {
            let mut snap = snap.clone();
            super::snapshots::apply(
                &mut snap,
                super::snapshot_status::SnapshotEvent::BackupStarted,
            )
            .map_err(|e| ApiError::bad_request(format!("Invalid snapshot: {e}")))?;
            tx.put_record(&snap);
        }
        None => {
            move_volume(
                tx,
                volume.id,
                VolumeJobEvent::BackupStarted { force: req.force },
            )
            .ok_or_else(|| invalid_volume("Volume to be backed up must be available or in-use."))?;
        }
    }
    let id = Uuid::new_v4();
    let created = now();
    let seq = tx.next_seq();
    let b = Backup {
        id,
        seq,
        project_id: caller.project_id.clone(),
        user_id: caller.user_id.clone(),
        name: req.name,
        description: req.description,
        volume_id: volume.id,
        snapshot_id: snapshot.as_ref().map(|s| s.id),
        status: BackupStatus::Creating,
        size_gb: volume.size_gb,
        object_count: 0,
        container: req.container,
        availability_zone: az,
        parent_id: parent,
        fail_reason: None,
        metadata: req.metadata,
        volume_meta: VolumeMeta {
            metadata: volume.metadata.clone(),
            bootable: volume.bootable,
        },
        storage: id,
        restore_volume_id: None,
        data_timestamp: snapshot.as_ref().map_or(created, |s| s.created_at),
        created_at: created,
        updated_at: None,
    };
    tx.put_record(&b);
    Ok(b)
}

/// The end of a backup of a snapshot: the snapshot is `available` again.
pub fn release_snapshot(tx: &mut Tx<'_>, snapshot_id: Option<Uuid>) {
    let Some(sid) = snapshot_id else { return };
    if let Some(mut snap) = tx.record::<super::snapshots::Snapshot>(&sid.to_string()) {
        if super::snapshots::apply(
            &mut snap,
            super::snapshot_status::SnapshotEvent::BackupEnded,
        )
        .is_ok()
        {
            tx.put_record(&snap);
        }
    }
}

/// `DELETE /backups/{id}` and `os-force_delete`: `deleting`.
pub fn begin_delete(
    tx: &mut Tx<'_>,
    caller: &Caller,
    id: Uuid,
    force: bool,
) -> Result<Backup, ApiError> {
    let mut b = visible(tx, caller, id)?;
    if !force && !matches!(b.status, BackupStatus::Available | BackupStatus::Error) {
        return Err(invalid_backup("Backup status must be available or error"));
    }
    if all(tx).iter().any(|d| d.parent_id == Some(id)) {
        return Err(invalid_backup("Incremental backups exist for this backup."));
    }
    let event = if force {
        BackupEvent::ForceDeleteRequested
    } else {
        BackupEvent::DeleteRequested
    };
    apply(&mut b, event)?;
    tx.put_record(&b);
    Ok(b)
}

/// What a restore answers: `{backup_id, volume_id, volume_name}`.
pub struct Restore {
    pub backup: Backup,
    pub volume: Volume,
}

/// `POST /backups/{id}/restore`: the backup `restoring`, the volume (given, or new and
/// named `name` or `restore_backup_<id>`) `restoring-backup`.
pub fn begin_restore(
    tx: &mut Tx<'_>,
    world: &World,
    caller: &Caller,
    id: Uuid,
    volume_id: Option<Uuid>,
    name: Option<String>,
) -> Result<Restore, ApiError> {
    let mut b = visible(tx, caller, id)?;
    if b.status != BackupStatus::Available {
        return Err(invalid_backup("Backup status must be available"));
    }
    let volume = match volume_id {
        None => ops::create(
            tx,
            world,
            caller,
            ops::CreateVolume {
                size_gb: Some(b.size_gb),
                name: Some(name.unwrap_or_else(|| format!("restore_backup_{id}"))),
                description: Some("auto-created_from_restore_from_backup".into()),
                volume_type: None,
                metadata: BTreeMap::new(),
                availability_zone: None,
                bootable: false,
                group_id: None,
                source: None,
            },
        )?,
        Some(vid) => {
            let v = ops::visible(tx, caller, vid)?.clone();
            if v.status != super::status::VolumeStatus::Available {
                return Err(invalid_volume("Volume to be restored to must be available"));
            }
            if b.size_gb > v.size_gb {
                return Err(invalid_volume(&format!(
                    "volume size {} is too small to restore backup of size {}.",
                    v.size_gb, b.size_gb
                )));
            }
            v
        }
    };
    let volume = if volume_id.is_none() {
        let mut v = volume;
        ops::apply(&mut v, VolumeEvent::Job(VolumeJobEvent::RestoreStarted))
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        tx.put_volume(v.clone());
        v
    } else {
        move_volume(tx, volume.id, VolumeJobEvent::RestoreStarted)
            .ok_or_else(|| invalid_volume("Volume to be restored to must be available"))?
    };
    apply(&mut b, BackupEvent::RestoreRequested)?;
    b.restore_volume_id = Some(volume.id);
    tx.put_record(&b);
    Ok(Restore { backup: b, volume })
}

/// `PUT /backups/{id}` (3.9): name, description and (3.43) metadata.
pub fn update(
    tx: &mut Tx<'_>,
    caller: &Caller,
    id: Uuid,
    name: Option<Option<String>>,
    description: Option<Option<String>>,
    metadata: Option<BTreeMap<String, String>>,
) -> Result<Backup, ApiError> {
    let mut b = visible(tx, caller, id)?;
    if let Some(n) = name {
        b.name = n;
    }
    if let Some(d) = description {
        b.description = d;
    }
    if let Some(m) = metadata {
        b.metadata = m;
    }
    b.updated_at = Some(now());
    tx.put_record(&b);
    Ok(b)
}

/// Admin `os-reset_status` to `available` or `error`.
pub fn reset_status(
    tx: &mut Tx<'_>,
    caller: &Caller,
    id: Uuid,
    status: BackupStatus,
) -> Result<(), ApiError> {
    let mut b = visible(tx, caller, id)?;
    apply(&mut b, BackupEvent::Reset(status))?;
    tx.put_record(&b);
    Ok(())
}

/// The storage ids to restore, full backup first.
pub fn chain(tx: &Tx<'_>, b: &Backup) -> Result<Vec<Uuid>, String> {
    let mut out = vec![b.storage];
    let mut next = b.parent_id;
    while let Some(pid) = next {
        let p = tx
            .record::<Backup>(&pid.to_string())
            .ok_or_else(|| format!("the parent backup {pid} is gone"))?;
        out.push(p.storage);
        next = p.parent_id;
        if out.len() > 10_000 {
            return Err("the chain of incremental backups does not end".into());
        }
    }
    out.reverse();
    Ok(out)
}

/// The fields `export_record` writes into `backup_url` (base64 of this as JSON).
#[derive(Debug, Serialize, Deserialize)]
struct Exported {
    id: Uuid,
    size: u64,
    display_name: Option<String>,
    display_description: Option<String>,
    volume_id: Uuid,
    container: Option<String>,
    availability_zone: String,
    object_count: u64,
    service: String,
    service_metadata: Uuid,
    parent_id: Option<Uuid>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

/// `GET /backups/{id}/export_record` (admin): `(backup_service, backup_url)`.
pub fn export_record(tx: &Tx<'_>, caller: &Caller, id: Uuid) -> Result<(String, String), ApiError> {
    let b = visible(tx, caller, id)?;
    if b.status != BackupStatus::Available {
        return Err(invalid_backup(&format!(
            "Backup status must be available and not {}.",
            b.status
        )));
    }
    let rec = Exported {
        id: b.id,
        size: b.size_gb,
        display_name: b.name,
        display_description: b.description,
        volume_id: b.volume_id,
        container: b.container,
        availability_zone: b.availability_zone,
        object_count: b.object_count,
        service: super::backup_data::SERVICE.into(),
        service_metadata: b.storage,
        parent_id: b.parent_id,
        metadata: b.metadata,
    };
    let json = serde_json::to_vec(&rec).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        super::backup_data::SERVICE.to_string(),
        base64::engine::general_purpose::STANDARD.encode(json),
    ))
}

/// `POST /backups/import_record` (admin): a record in `creating`, checked against the
/// backup area by the import job.
pub fn import_record(
    tx: &mut Tx<'_>,
    world: &World,
    caller: &Caller,
    service: &str,
    url: &str,
) -> Result<Backup, ApiError> {
    if service != super::backup_data::SERVICE {
        // Cinder's backup manager fails such an import after the fact; refused here.
        return Err(invalid_backup(&format!(
            "Import record failed, cannot find backup service to perform the import. Request service {service}."
        )));
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(url.trim())
        .map_err(|_| ApiError::bad_request("Invalid input received: Can't parse backup record."))?;
    let value: serde_json::Value = serde_json::from_slice(&raw)
        .map_err(|_| ApiError::bad_request("Invalid input received: Can't parse backup record."))?;
    if value.get("id").is_none() {
        return Err(ApiError::bad_request(
            "Invalid input received: Provided backup record is missing an id",
        ));
    }
    if value.get("size").is_none() {
        return Err(ApiError::bad_request(
            "Invalid input received: Provided backup record is missing size attribute",
        ));
    }
    let rec: Exported = serde_json::from_value(value).map_err(|e| {
        ApiError::bad_request(format!(
            "Invalid input received: Can't parse backup record: {e}"
        ))
    })?;
    if tx.record::<Backup>(&rec.id.to_string()).is_some() {
        return Err(invalid_backup("Backup already exists in database."));
    }
    check_quota(tx, world, &caller.project_id, rec.size)?;
    let created = now();
    let seq = tx.next_seq();
    let b = Backup {
        id: rec.id,
        seq,
        project_id: caller.project_id.clone(),
        user_id: caller.user_id.clone(),
        name: rec.display_name,
        description: rec.display_description,
        // Cinder's IMPORT_VOLUME_ID.
        volume_id: Uuid::nil(),
        snapshot_id: None,
        status: BackupStatus::Creating,
        size_gb: rec.size,
        object_count: rec.object_count,
        container: rec.container,
        availability_zone: rec.availability_zone,
        parent_id: rec
            .parent_id
            .filter(|p| tx.record::<Backup>(&p.to_string()).is_some()),
        fail_reason: None,
        metadata: rec.metadata,
        volume_meta: VolumeMeta::default(),
        storage: rec.service_metadata,
        restore_volume_id: None,
        data_timestamp: created,
        created_at: created,
        updated_at: None,
    };
    tx.put_record(&b);
    Ok(b)
}
