//! The emulated cinder-backup service: the operations that write a record and start a
//! job (create, restore, delete, import), the jobs' ends (data written or restored,
//! statuses moved), and the start-up recovery of backups caught mid-way, as Cinder's
//! backup manager does in `_cleanup_incomplete_backup_operations`.

use std::collections::HashSet;
use std::path::PathBuf;

use uuid::Uuid;

use super::backup_data::{BackupArea, DataError, Header};
use super::backup_status::{BackupEvent, BackupStatus};
use super::backups::{self, apply, attached, move_volume, Backup, CreateBackup, Restore};
use super::domain::Domain;
use super::hooks::{BackupStep, Job};
use super::jobs;
use super::messages;
use super::ops::Caller;
use super::status::VolumeStatus;
use super::transition_jobs::VolumeJobEvent;
use crate::error::ApiError;

fn internal(what: &str) -> impl FnOnce(String) -> ApiError + '_ {
    move |e| ApiError::Internal(format!("{what}: {e}"))
}

/// The backup area beside the volume files, in the same data dir.
pub fn area(domain: &Domain) -> Result<BackupArea, ApiError> {
    let volumes_dir: PathBuf = domain
        .files
        .path(Uuid::nil())
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let data_dir = volumes_dir.parent().map(PathBuf::from).unwrap_or_default();
    BackupArea::open(&data_dir).map_err(|e| internal("open the backup area")(e.to_string()))
}

fn spawn(domain: &Domain, volume_id: Uuid, backup_id: Uuid, step: BackupStep) {
    jobs::spawn(domain, volume_id, Job::Backup { backup_id, step });
}

/// `POST /backups`.
pub async fn create(
    domain: &Domain,
    caller: Caller,
    req: CreateBackup,
) -> Result<Backup, ApiError> {
    let world = domain.world.clone();
    let b = domain
        .write(move |tx| backups::create(tx, &world, &caller, req))
        .await?;
    spawn(domain, b.volume_id, b.id, BackupStep::Create);
    Ok(b)
}

/// `POST /backups/{id}/restore`.
pub async fn restore(
    domain: &Domain,
    caller: Caller,
    id: Uuid,
    volume_id: Option<Uuid>,
    name: Option<String>,
) -> Result<Restore, ApiError> {
    let world = domain.world.clone();
    let r = domain
        .write(move |tx| backups::begin_restore(tx, &world, &caller, id, volume_id, name))
        .await?;
    spawn(domain, r.volume.id, id, BackupStep::Restore);
    Ok(r)
}

/// `DELETE /backups/{id}` and `os-force_delete`.
pub async fn delete(
    domain: &Domain,
    caller: Caller,
    id: Uuid,
    force: bool,
) -> Result<(), ApiError> {
    let b = domain
        .write(move |tx| backups::begin_delete(tx, &caller, id, force))
        .await?;
    spawn(domain, b.volume_id, id, BackupStep::Delete);
    Ok(())
}

/// `POST /backups/import_record`.
pub async fn import(
    domain: &Domain,
    caller: Caller,
    service: String,
    url: String,
) -> Result<Backup, ApiError> {
    let world = domain.world.clone();
    let b = domain
        .write(move |tx| backups::import_record(tx, &world, &caller, &service, &url))
        .await?;
    spawn(domain, b.volume_id, b.id, BackupStep::Import);
    Ok(b)
}

/// The end of a backup job; `ok` is false when the hooks made it fail.
pub async fn finish(domain: &Domain, id: Uuid, step: BackupStep, ok: bool) -> Result<(), ApiError> {
    let Some(b) = domain.read(|s| s.record::<Backup>(&id.to_string())) else {
        return Ok(());
    };
    match step {
        BackupStep::Create => finish_create(domain, b, ok).await,
        BackupStep::Restore => finish_restore(domain, b, ok).await,
        BackupStep::Delete => finish_delete(domain, b, ok).await,
        BackupStep::Import => finish_import(domain, b, ok).await,
    }
}

async fn finish_create(domain: &Domain, b: Backup, ok: bool) -> Result<(), ApiError> {
    let result: Result<u64, String> = if ok {
        let area = area(domain)?;
        // A backup of a snapshot reads the snapshot's point-in-time copy.
        let src = match b.snapshot_id {
            Some(sid) => domain.files.snapshot_path(sid),
            None => domain.files.path(b.volume_id),
        };
        let parent = match b.parent_id {
            Some(p) => domain
                .read(|s| s.record::<Backup>(&p.to_string()))
                .map(|p| Some(p.storage))
                .ok_or_else(|| format!("The parent backup {p} is gone.")),
            None => Ok(None),
        };
        let header = Header {
            backup_id: b.id,
            volume_id: b.volume_id,
            name: b.name.clone(),
            description: b.description.clone(),
            created_at: crate::timefmt::cinder(b.created_at),
            parent_id: b.parent_id,
            volume_meta: serde_json::to_string(&b.volume_meta).unwrap_or_default(),
        };
        let storage = b.storage;
        match parent {
            Err(e) => Err(e),
            Ok(parent) => tokio::task::spawn_blocking(move || {
                area.write(storage, &src, parent, &header).map_err(|e| {
                    let _ = area.remove(storage);
                    e.to_string()
                })
            })
            .await
            .map_err(|e| internal("backup task")(e.to_string()))?,
        }
    } else {
        Err("The backup driver failed to create the backup.".to_string())
    };
    let id = b.id;
    let still_creating = domain
        .write(move |tx| {
            let Some(mut b) = tx.record::<Backup>(&id.to_string()) else {
                return Ok(false);
            };
            backups::release_snapshot(tx, b.snapshot_id);
            let was_backing_up = b.snapshot_id.is_none()
                && tx
                    .volume(b.volume_id)
                    .is_some_and(|v| v.status == VolumeStatus::BackingUp);
            if was_backing_up {
                let at = attached(tx, b.volume_id);
                move_volume(
                    tx,
                    b.volume_id,
                    VolumeJobEvent::BackupEnded { attached: at },
                );
            }
            if b.status != BackupStatus::Creating {
                return Ok(false);
            }
            match &result {
                Ok(count) => {
                    b.object_count = *count;
                    apply(&mut b, BackupEvent::CreateSucceeded)?;
                }
                Err(reason) => {
                    b.fail_reason = Some(reason.clone());
                    apply(&mut b, BackupEvent::CreateFailed)?;
                    let project = b.project_id.clone();
                    messages::record(
                        tx,
                        &project,
                        b.volume_id,
                        messages::Event::BackupCreateFailed,
                    );
                }
            }
            tx.put_record(&b);
            Ok(true)
        })
        .await?;
    if !still_creating {
        // Deleted (forced) while it was being written: drop what was written.
        let gone = domain.read(|s| s.record::<Backup>(&id.to_string()).is_none());
        if gone {
            let area = area(domain)?;
            let storage = b.storage;
            let _ = tokio::task::spawn_blocking(move || area.remove(storage)).await;
        }
    }
    Ok(())
}

async fn finish_restore(domain: &Domain, b: Backup, ok: bool) -> Result<(), ApiError> {
    let Some(vid) = b.restore_volume_id else {
        return Ok(());
    };
    let chain = domain.view(|tx| backups::chain(tx, &b));
    let size_gb = b.size_gb;
    let result: Result<(), DataError> = if !ok {
        Err(DataError::Metadata(
            "the backup service failed the restore".into(),
        ))
    } else {
        match chain {
            Err(e) => Err(DataError::Metadata(e)),
            Ok(chain) => {
                let area = area(domain)?;
                let files = domain.files.clone();
                let target_size = domain
                    .read(|s| s.volumes.get(&vid).map(|v| v.size_gb))
                    .unwrap_or(size_gb);
                tokio::task::spawn_blocking(move || {
                    let is_new = !files.exists(vid);
                    if is_new {
                        files
                            .create(vid, target_size)
                            .map_err(|source| DataError::Io {
                                what: "create the volume".into(),
                                source,
                            })?;
                    }
                    area.restore(
                        &chain,
                        &files.path(vid),
                        size_gb * super::files::GIB,
                        is_new,
                    )
                    .map(|_| ())
                })
                .await
                .map_err(|e| internal("restore task")(e.to_string()))?
            }
        }
    };
    let id = b.id;
    domain
        .write(move |tx| {
            let Some(mut b) = tx.record::<Backup>(&id.to_string()) else {
                return Ok(());
            };
            let restoring = tx
                .volume(vid)
                .is_some_and(|v| v.status == VolumeStatus::RestoringBackup);
            match &result {
                Ok(()) => {
                    if restoring {
                        if let Some(mut v) = move_volume(tx, vid, VolumeJobEvent::RestoreSucceeded)
                        {
                            v.metadata.extend(b.volume_meta.metadata.clone());
                            v.bootable = v.bootable || b.volume_meta.bootable;
                            tx.put_volume(v);
                        }
                    }
                    if b.status == BackupStatus::Restoring {
                        apply(&mut b, BackupEvent::RestoreEnded)?;
                    }
                }
                Err(e) => {
                    if restoring {
                        move_volume(tx, vid, VolumeJobEvent::RestoreFailed);
                        let project = b.project_id.clone();
                        messages::record(tx, &project, vid, messages::Event::BackupRestoreFailed);
                    }
                    let corrupt = matches!(e, DataError::Corrupt { .. } | DataError::ObjectList);
                    if b.status == BackupStatus::Restoring {
                        b.fail_reason = Some(format!("Restore of backup {id} failed: {e}"));
                        let event = if corrupt {
                            BackupEvent::RestoreFoundCorruption
                        } else {
                            BackupEvent::RestoreEnded
                        };
                        apply(&mut b, event)?;
                    }
                }
            }
            b.restore_volume_id = None;
            tx.put_record(&b);
            Ok(())
        })
        .await
}

async fn finish_delete(domain: &Domain, b: Backup, ok: bool) -> Result<(), ApiError> {
    let id = b.id;
    if !ok {
        return domain
            .write(move |tx| {
                if let Some(mut b) = tx.record::<Backup>(&id.to_string()) {
                    if apply(&mut b, BackupEvent::DeleteFailed).is_ok() {
                        tx.put_record(&b);
                    }
                }
                Ok(())
            })
            .await;
    }
    // Data first, record second: a crash between resumes the delete at start-up. Data
    // another record still names (an imported copy) stays.
    let shared = domain.read(|s| {
        s.records::<Backup>()
            .iter()
            .any(|o| o.id != id && o.storage == b.storage)
    });
    if !shared {
        let area = area(domain)?;
        let storage = b.storage;
        tokio::task::spawn_blocking(move || area.remove(storage))
            .await
            .map_err(|e| internal("delete task")(e.to_string()))?
            .map_err(|e| internal("remove backup data")(e.to_string()))?;
    }
    domain
        .write(move |tx| {
            if tx
                .record::<Backup>(&id.to_string())
                .is_some_and(|b| b.status == BackupStatus::Deleting)
            {
                tx.remove_record::<Backup>(&id.to_string());
            }
            Ok(())
        })
        .await
}

async fn finish_import(domain: &Domain, b: Backup, ok: bool) -> Result<(), ApiError> {
    let area = area(domain)?;
    let found = area.read_metadata(b.storage);
    let id = b.id;
    domain
        .write(move |tx| {
            let Some(mut b) = tx.record::<Backup>(&id.to_string()) else {
                return Ok(());
            };
            if b.status != BackupStatus::Creating {
                return Ok(());
            }
            match (&found, ok) {
                (Ok(meta), true) => {
                    b.object_count = meta.objects.len() as u64;
                    if let Ok(vm) = serde_json::from_str(&meta.volume_meta) {
                        b.volume_meta = vm;
                    }
                    apply(&mut b, BackupEvent::CreateSucceeded)?;
                }
                (Err(e), true) => {
                    b.fail_reason = Some(format!("Import record failed: {e}"));
                    apply(&mut b, BackupEvent::CreateFailed)?;
                }
                (_, false) => {
                    b.fail_reason = Some("Import record failed.".into());
                    apply(&mut b, BackupEvent::CreateFailed)?;
                }
            }
            tx.put_record(&b);
            Ok(())
        })
        .await
}

/// Start-up recovery, as Cinder's backup manager does: a backup left `creating`
/// becomes `error` (its volume goes back to its previous status), `restoring` becomes
/// `available` (its volume `error_restoring`), `deleting` resumes its delete. A volume
/// left `retyping` returns to its previous status, type unchanged. Partial backup
/// directories and data no backup names are removed.
pub async fn recover(domain: &Domain) -> Result<(), ApiError> {
    let resume = domain
        .write(|tx| {
            let mut resume = Vec::new();
            for mut b in backups::all(tx) {
                match b.status {
                    BackupStatus::Creating => {
                        b.fail_reason = Some("incomplete backup reset on manager restart".into());
                        apply(&mut b, BackupEvent::CreateFailed)?;
                        let at = attached(tx, b.volume_id);
                        move_volume(
                            tx,
                            b.volume_id,
                            VolumeJobEvent::BackupEnded { attached: at },
                        );
                        tx.put_record(&b);
                    }
                    BackupStatus::Restoring => {
                        if let Some(vid) = b.restore_volume_id.take() {
                            move_volume(tx, vid, VolumeJobEvent::RestoreFailed);
                        }
                        apply(&mut b, BackupEvent::RestoreEnded)?;
                        tx.put_record(&b);
                    }
                    BackupStatus::Deleting => resume.push((b.volume_id, b.id)),
                    BackupStatus::Available | BackupStatus::Error | BackupStatus::ErrorDeleting => {
                    }
                }
            }
            let stuck: Vec<(Uuid, VolumeStatus)> = tx
                .volumes()
                .filter(|v| {
                    matches!(
                        v.status,
                        VolumeStatus::BackingUp
                            | VolumeStatus::RestoringBackup
                            | VolumeStatus::Retyping
                    )
                })
                .map(|v| (v.id, v.status))
                .collect();
            for (vid, status) in stuck {
                let at = attached(tx, vid);
                let event = if status == VolumeStatus::BackingUp {
                    VolumeJobEvent::BackupEnded { attached: at }
                } else if status == VolumeStatus::RestoringBackup {
                    VolumeJobEvent::RestoreFailed
                } else {
                    VolumeJobEvent::RetypeEnded { attached: at }
                };
                move_volume(tx, vid, event);
            }
            Ok(resume)
        })
        .await?;
    for (vid, id) in resume {
        tracing::info!(backup_id = %id, "resuming interrupted backup delete");
        spawn(domain, vid, id, BackupStep::Delete);
    }
    let area = area(domain)?;
    let named: HashSet<Uuid> =
        domain.read(|s| s.records::<Backup>().iter().map(|b| b.storage).collect());
    let (whole, partial) = area
        .list()
        .map_err(|e| internal("list backups")(e.to_string()))?;
    for storage in partial
        .into_iter()
        .chain(whole.into_iter().filter(|s| !named.contains(s)))
    {
        if named.contains(&storage) && area.has(storage) {
            continue;
        }
        tracing::warn!(%storage, "removing incomplete or orphan backup data");
        area.remove(storage)
            .map_err(|e| internal("remove orphan backup")(e.to_string()))?;
    }
    Ok(())
}
