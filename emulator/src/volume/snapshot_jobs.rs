//! The emulated volume service's snapshot work: the asynchronous halves of a snapshot
//! create (copy the volume's file as it is now) and delete (remove the copy, then the
//! row), run through `jobs::spawn` so the hooks plan them like volume jobs, and the
//! start-up recovery of snapshots caught mid-way.

use std::path::PathBuf;

use uuid::Uuid;

use super::domain::Domain;
use super::files::VolumeFiles;
use super::group_snapshots::{self, GroupSnapshot};
use super::hooks::Job;
use super::jobs;
use super::model::Volume;
use super::snapshot_status::{SnapshotEvent, SnapshotStatus};
use super::snapshots::{self, Snapshot};
use crate::error::ApiError;

/// The file a new volume's bytes come from: its snapshot's copy, or its source volume's.
pub fn source_file(files: &VolumeFiles, v: &Volume) -> Option<PathBuf> {
    match (v.snapshot_id, v.source_volid) {
        (Some(s), _) => Some(files.snapshot_path(s)),
        (None, Some(src)) => Some(files.path(src)),
        (None, None) => None,
    }
}

/// Starts a snapshot's create job (planned against its volume).
pub fn spawn_create(domain: &Domain, s: &Snapshot) {
    jobs::spawn(
        domain,
        s.volume_id,
        Job::SnapshotCreate { snapshot_id: s.id },
    );
}

/// Starts a snapshot's delete job.
pub fn spawn_delete(domain: &Domain, volume_id: Uuid, snapshot_id: Uuid) {
    jobs::spawn(domain, volume_id, Job::SnapshotDelete { snapshot_id });
}

fn internal(what: &str) -> impl FnOnce(std::io::Error) -> ApiError + '_ {
    move |e| ApiError::Internal(format!("{what}: {e}"))
}

/// The end of a snapshot job, `ok` as the hooks planned it.
pub async fn finish(domain: &Domain, job: Job, ok: bool) -> Result<(), ApiError> {
    let files = domain.files.clone();
    match job {
        Job::SnapshotCreate { snapshot_id } => {
            let current = domain.read(|s| s.record::<Snapshot>(&snapshot_id.to_string()));
            let Some(snap) = current.filter(|s| s.status == SnapshotStatus::Creating) else {
                return Ok(());
            };
            let mut ok = ok;
            if ok {
                // The copy is on disk before the snapshot is reported available.
                let copied = tokio::task::spawn_blocking(move || {
                    files.snapshot(snap.volume_id, snapshot_id)
                })
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?;
                match copied {
                    Ok(kind) => tracing::debug!(%snapshot_id, ?kind, "snapshot copied"),
                    Err(e) => {
                        tracing::error!(%snapshot_id, error = %e, "snapshot copy failed");
                        ok = false;
                    }
                }
            }
            domain
                .write(move |tx| snapshots::finish_create(tx, snapshot_id, ok))
                .await
        }
        Job::SnapshotDelete { snapshot_id } => {
            if ok {
                // File first, row second: a crash in between resumes the delete.
                tokio::task::spawn_blocking(move || files.remove_snapshot(snapshot_id))
                    .await
                    .map_err(|e| ApiError::Internal(e.to_string()))?
                    .map_err(internal("remove snapshot file"))?;
            }
            domain
                .write(move |tx| snapshots::finish_delete(tx, snapshot_id, ok))
                .await
        }
        Job::Create
        | Job::Extend { .. }
        | Job::Delete
        | Job::Backup { .. }
        | Job::Retype { .. } => Err(ApiError::Internal(format!(
            "{} is not a snapshot job",
            job.name()
        ))),
    }
}

/// Resolves snapshots a previous run left mid-transition, as Cinder's services do: a
/// `creating` snapshot becomes `error` (the workers' cleanup of a cleanable snapshot);
/// a `deleting` one resumes its delete (its copy is removed, then its row). Also
/// removes half-written copies (`*.part`) and snapshot files that belong to no row.
pub async fn recover(domain: &Domain) -> Result<(), ApiError> {
    let resume = domain
        .write(|tx| {
            let mut resume = Vec::new();
            for mut s in tx.records::<Snapshot>() {
                match s.status {
                    SnapshotStatus::Creating => {
                        snapshots::apply(&mut s, SnapshotEvent::CreateFailed).ok();
                        tx.put_record(&s);
                    }
                    SnapshotStatus::Deleting => resume.push((s.volume_id, s.id)),
                    // Settled statuses (and the admin-set ones a reset may leave, which
                    // Cinder's cleanup does not touch either).
                    SnapshotStatus::Error
                    | SnapshotStatus::Available
                    | SnapshotStatus::Deleted
                    | SnapshotStatus::Updating
                    | SnapshotStatus::ErrorDeleting
                    | SnapshotStatus::Unmanaging
                    | SnapshotStatus::BackingUp
                    | SnapshotStatus::Restoring => {}
                }
            }
            Ok(resume)
        })
        .await?;
    // Group snapshots follow their snapshots as settled above.
    domain
        .write(|tx| {
            for gs in tx.records::<GroupSnapshot>() {
                match gs.status.as_str() {
                    "creating" => group_snapshots::settle(tx, gs.id),
                    "deleting" => group_snapshots::after_member_deleted(tx, gs.id),
                    _ => {}
                }
            }
            Ok(())
        })
        .await?;
    let files = domain.files.clone();
    let partials = files
        .remove_partials()
        .map_err(internal("remove partial copies"))?;
    if partials > 0 {
        tracing::warn!(partials, "removed half-written copies");
    }
    for (volume_id, snapshot_id) in resume {
        tracing::info!(%snapshot_id, "resuming interrupted snapshot delete");
        spawn_delete(domain, volume_id, snapshot_id);
    }
    let known: std::collections::HashSet<Uuid> = domain.read(|s| {
        s.records::<Snapshot>()
            .into_iter()
            .map(|snap| snap.id)
            .collect()
    });
    let on_disk = files
        .list_snapshots()
        .map_err(internal("list snapshot files"))?;
    for id in on_disk.into_iter().filter(|id| !known.contains(id)) {
        tracing::warn!(snapshot_id = %id, "removing orphan snapshot file");
        files
            .remove_snapshot(id)
            .map_err(internal("remove orphan snapshot"))?;
    }
    Ok(())
}
