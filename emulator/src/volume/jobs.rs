//! The emulated cinder-volume service: the asynchronous halves of create, extend and
//! delete, run after a delay, and the start-up recovery of volumes caught mid-way.

use uuid::Uuid;

use super::domain::Domain;
pub use super::hooks::{Job, Outcome, Plan};
use super::messages;
use super::ops;
use super::status::{VolumeEvent, VolumeStatus};

/// Starts the job for `volume_id` in the background; the hooks decide how it ends.
pub fn spawn(domain: &Domain, volume_id: Uuid, job: Job) {
    let domain = domain.clone();
    tokio::spawn(async move {
        let plan = plan(&domain, volume_id, job);
        // A zero delay (instant worlds) does not wait for the timer's next tick.
        if !plan.delay.is_zero() {
            tokio::time::sleep(plan.delay).await;
        }
        if plan.outcome == Outcome::Stay {
            tracing::info!(%volume_id, job = job.name(), "transition left unfinished");
            return;
        }
        let (ok, truncate) = match plan.outcome {
            Outcome::Succeed => (true, false),
            Outcome::Truncate => (true, true),
            Outcome::Fail | Outcome::Stay => (false, false),
        };
        if let Err(e) = finish(&domain, volume_id, job, ok, truncate).await {
            tracing::error!(%volume_id, job = job.name(), error = %e, "background job failed");
        }
    });
}

fn plan(domain: &Domain, volume_id: Uuid, job: Job) -> Plan {
    let type_name = domain.read(|s| {
        s.volumes
            .get(&volume_id)
            .and_then(|v| s.types.get(&v.volume_type_id))
            .map(|t| t.name.clone())
            .unwrap_or_default()
    });
    let delays = domain.world.delays_for(&type_name);
    let base = match job {
        Job::Create | Job::SnapshotCreate { .. } => delays.create,
        Job::Extend { .. } => delays.extend,
        Job::Delete | Job::SnapshotDelete { .. } => delays.delete,
        Job::Backup { .. } | Job::Retype { .. } => delays.create,
    };
    domain.hooks.plan(volume_id, job, base)
}

async fn finish(
    domain: &Domain,
    id: Uuid,
    job: Job,
    ok: bool,
    truncate: bool,
) -> Result<(), crate::error::ApiError> {
    let files = domain.files.clone();
    match job {
        Job::Backup { backup_id, step } => {
            super::backup_jobs::finish(domain, backup_id, step, ok).await
        }
        Job::Retype {
            new_type_id,
            migrate,
        } => super::retype::finish(domain, id, new_type_id, migrate, ok).await,
        Job::SnapshotCreate { .. } | Job::SnapshotDelete { .. } => {
            super::snapshot_jobs::finish(domain, job, ok).await
        }
        Job::Create => {
            // No backend qualified: the scheduler fails the create, with a message.
            let scheduled = domain
                .read(|s| s.volumes.get(&id).map(|v| v.host.is_some()))
                .unwrap_or(true);
            let mut ok = ok && scheduled;
            if ok {
                // The backing file exists before the volume is reported available.
                let Some(v) = domain.read(|s| s.volumes.get(&id).cloned()) else {
                    return Ok(());
                };
                let f = files.clone();
                match super::snapshot_jobs::source_file(&files, &v) {
                    // A clone or a volume from a snapshot: the source's bytes now.
                    Some(src) => {
                        let copied =
                            tokio::task::spawn_blocking(move || f.create_from(id, &src, v.size_gb))
                                .await
                                .map_err(|e| crate::error::ApiError::Internal(e.to_string()))?;
                        if let Err(e) = copied {
                            tracing::error!(volume_id = %id, error = %e, "copy from source failed");
                            ok = false;
                        }
                    }
                    None => {
                        tokio::task::spawn_blocking(move || f.create(id, v.size_gb))
                            .await
                            .map_err(|e| crate::error::ApiError::Internal(e.to_string()))?
                            .map_err(|e| {
                                crate::error::ApiError::Internal(format!("create file: {e}"))
                            })?;
                    }
                }
            }
            domain
                .store
                .write(move |tx| {
                    if let Some(mut v) = tx.volume(id).cloned() {
                        let ev = if ok {
                            VolumeEvent::CreateSucceeded
                        } else {
                            VolumeEvent::CreateFailed
                        };
                        if ops::apply(&mut v, ev).is_ok() {
                            if !ok {
                                let event = if scheduled {
                                    messages::Event::CreateFailed
                                } else {
                                    messages::Event::NoValidBackend
                                };
                                messages::record(tx, &v.project_id, v.id, event);
                            }
                            tx.put_volume(v);
                        }
                    }
                    Ok(())
                })
                .await
        }
        Job::Extend { new_size_gb } => {
            if ok {
                let f = files.clone();
                tokio::task::spawn_blocking(move || {
                    if truncate {
                        f.discard(id)?;
                    }
                    f.extend(id, new_size_gb)
                })
                .await
                .map_err(|e| crate::error::ApiError::Internal(e.to_string()))?
                .map_err(|e| crate::error::ApiError::Internal(format!("extend file: {e}")))?;
            }
            domain
                .store
                .write(move |tx| ops::finish_extend(tx, id, new_size_gb, ok))
                .await
        }
        Job::Delete => {
            if !ok {
                return domain
                    .store
                    .write(move |tx| {
                        if let Some(mut v) = tx.volume(id).cloned() {
                            if ops::apply(&mut v, VolumeEvent::DeleteFailed).is_ok() {
                                tx.put_volume(v);
                            }
                        }
                        Ok(())
                    })
                    .await;
            }
            // File first, row second: a crash in between resumes the delete on start.
            let f = files.clone();
            tokio::task::spawn_blocking(move || f.remove(id))
                .await
                .map_err(|e| crate::error::ApiError::Internal(e.to_string()))?
                .map_err(|e| crate::error::ApiError::Internal(format!("remove file: {e}")))?;
            domain
                .store
                .write(move |tx| {
                    if tx
                        .volume(id)
                        .is_some_and(|v| v.status == VolumeStatus::Deleting)
                    {
                        tx.remove_volume(id);
                    }
                    Ok(())
                })
                .await
        }
    }
}

/// Resolves volumes that a previous run left mid-transition, as cinder-volume does at
/// start: `creating` → `error`, `extending` → `error_extending`, `deleting` → the
/// delete resumes. Also removes data files that belong to no volume.
pub async fn recover(domain: &Domain) -> Result<(), crate::error::ApiError> {
    super::snapshot_jobs::recover(domain).await?;
    let resume = domain
        .store
        .write(|tx| {
            let stuck: Vec<_> = tx
                .volumes()
                .filter(|v| v.status.is_transitional())
                .cloned()
                .collect();
            let mut resume = Vec::new();
            for mut v in stuck {
                match v.status {
                    VolumeStatus::Creating => {
                        ops::apply(&mut v, VolumeEvent::CreateFailed).ok();
                        tx.put_volume(v);
                    }
                    VolumeStatus::Extending => {
                        ops::apply(&mut v, VolumeEvent::ExtendFailed).ok();
                        tx.put_volume(v);
                    }
                    VolumeStatus::Deleting => resume.push(v.id),
                    // Only the three above are transitional (the filter); named so a
                    // new transitional status must be given its recovery here.
                    VolumeStatus::Available
                    | VolumeStatus::Error
                    | VolumeStatus::ErrorDeleting
                    | VolumeStatus::ErrorManaging
                    | VolumeStatus::Managing
                    | VolumeStatus::Attaching
                    | VolumeStatus::InUse
                    | VolumeStatus::Detaching
                    | VolumeStatus::Maintenance
                    | VolumeStatus::RestoringBackup
                    | VolumeStatus::ErrorRestoring
                    | VolumeStatus::Reserved
                    | VolumeStatus::AwaitingTransfer
                    | VolumeStatus::BackingUp
                    | VolumeStatus::ErrorBackingUp
                    | VolumeStatus::ErrorExtending
                    | VolumeStatus::Downloading
                    | VolumeStatus::Uploading
                    | VolumeStatus::Retyping => {}
                }
            }
            Ok(resume)
        })
        .await?;
    for id in &resume {
        tracing::info!(volume_id = %id, "resuming interrupted delete");
        spawn(domain, *id, Job::Delete);
    }
    let files = domain.files.clone();
    let known: std::collections::HashSet<Uuid> =
        domain.read(|s| s.volumes.keys().copied().collect());
    let on_disk = files
        .list()
        .map_err(|e| crate::error::ApiError::Internal(format!("list volume files: {e}")))?;
    for id in on_disk.into_iter().filter(|id| !known.contains(id)) {
        tracing::warn!(volume_id = %id, "removing orphan volume file");
        files
            .remove(id)
            .map_err(|e| crate::error::ApiError::Internal(format!("remove orphan: {e}")))?;
    }
    super::backup_jobs::recover(domain).await
}
