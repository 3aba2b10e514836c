//! The points where the world outside the domain may intervene: how a background job
//! runs, and what happens to a volume's file before it is handed to a client. The
//! domain calls these through [`Hooks`] and never knows who implements them (the
//! emulator's fault injection does; [`NoHooks`] is the quiet world).

use std::path::Path;
use std::time::Duration;

use uuid::Uuid;

/// Which asynchronous job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Create,
    Extend {
        new_size_gb: u64,
    },
    Delete,
    /// A backup service job; the hooks are given the backup's volume (`restore`: the
    /// volume restored to).
    Backup {
        backup_id: Uuid,
        step: BackupStep,
    },
    /// `os-retype` to `new_type_id`; `migrate` when the new type needs another backend
    /// and the policy is `on-demand`.
    Retype {
        new_type_id: Uuid,
        migrate: bool,
    },
    /// A snapshot's point-in-time copy of its volume (`snapshot.create`).
    SnapshotCreate {
        snapshot_id: Uuid,
    },
    /// A snapshot's delete (`snapshot.delete`).
    SnapshotDelete {
        snapshot_id: Uuid,
    },
}

/// Which backup job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupStep {
    Create,
    Restore,
    Delete,
    Import,
}

impl Job {
    pub fn name(self) -> &'static str {
        match self {
            Job::Create => "create",
            Job::Extend { .. } => "extend",
            Job::Delete => "delete",
            Job::Backup { step, .. } => match step {
                BackupStep::Create => "backup.create",
                BackupStep::Restore => "backup.restore",
                BackupStep::Delete => "backup.delete",
                BackupStep::Import => "backup.import_record",
            },
            Job::Retype { .. } => "retype",
            Job::SnapshotCreate { .. } => "snapshot_create",
            Job::SnapshotDelete { .. } => "snapshot_delete",
        }
    }
}

/// How a background transition should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeed,
    /// End in the operation's error status (`error`, `error_extending`, `error_deleting`).
    Fail,
    /// Never finish: the volume stays in its transitional status.
    Stay,
    /// Finish, discarding the bytes the volume held (an extend grows it zeroed, the
    /// truncation of a broken backend); as `Succeed` for the other jobs.
    Truncate,
}

/// When and how a job ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub delay: Duration,
    pub outcome: Outcome,
}

/// What becomes of one NFS call on an exported volume (see [`Hooks::nfs_call`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NfsPlan {
    /// Wait this long before serving (or dropping) the call.
    pub delay: Duration,
    pub outcome: NfsOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NfsOutcome {
    Serve,
    /// Close the client's connection without answering.
    Drop,
    /// Answer `NFS3ERR_IO`.
    Fail,
    /// Serve a READ with `bytes` bytes of its data flipped (dice from `seed`).
    Corrupt {
        bytes: u32,
        seed: u64,
    },
}

impl NfsPlan {
    pub const SERVE: NfsPlan = NfsPlan {
        delay: Duration::ZERO,
        outcome: NfsOutcome::Serve,
    };
}

/// An attachment call after which the volume may be held in a transitional status
/// (see [`Hooks::hold`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachCall {
    /// `POST /attachments`.
    Create,
    /// `PUT /attachments/{id}`.
    Update,
    /// `POST /attachments/{id}/action` `os-complete`.
    Complete,
    /// `DELETE /attachments/{id}`.
    Delete,
}

impl AttachCall {
    /// The operation name fault rules match (`attachment.create`, ...).
    pub fn operation(self) -> &'static str {
        match self {
            AttachCall::Create => "attachment.create",
            AttachCall::Update => "attachment.update",
            AttachCall::Complete => "attachment.complete",
            AttachCall::Delete => "attachment.delete",
        }
    }
}

/// Show the volume in `status` for `duration` after the call, then the status its
/// attachments give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    pub status: super::status::VolumeStatus,
    pub duration: Duration,
}

/// What the domain lets others decide.
pub trait Hooks: Send + Sync {
    /// How `job` on `volume_id` runs (for a snapshot job, the snapshot's volume); `base`
    /// is the world's configured delay.
    fn plan(&self, volume_id: Uuid, job: Job, base: Duration) -> Plan;

    /// Called when an attachment of `volume_id` gets its connection info, before the
    /// client can open `file`. Runs on a blocking thread, outside the store's lock.
    fn before_attach(&self, volume_id: Uuid, file: &Path);

    /// Called for every NFS call on an export, before it is served. `operation` is
    /// `nfs.<procedure>` (`nfs.read`, `nfs.write`, ...) or `mount.<procedure>`;
    /// `volume_id` is the volume file the call names, when it names one.
    fn nfs_call(&self, operation: &str, volume_id: Option<Uuid>) -> NfsPlan;

    /// Called after the attachment call `call` on `volume_id` committed: whether the
    /// volume stays in a transitional status for a while. By default it does not.
    fn hold(&self, _volume_id: Uuid, _call: AttachCall) -> Option<Hold> {
        None
    }
}

/// No intervention: every job succeeds after its configured delay.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;

impl Hooks for NoHooks {
    fn plan(&self, _volume_id: Uuid, _job: Job, base: Duration) -> Plan {
        Plan {
            delay: base,
            outcome: Outcome::Succeed,
        }
    }

    fn before_attach(&self, _volume_id: Uuid, _file: &Path) {}

    fn nfs_call(&self, _operation: &str, _volume_id: Option<Uuid>) -> NfsPlan {
        NfsPlan::SERVE
    }
}

/// Told of every committed change of a volume's status (`None`: no volume — before its
/// create, after its delete), in commit order, after the commit. The store calls it
/// under the writers' lock, so it must be quick and must not write. The dashboard's
/// timeline implements it; [`NoHooks`] ignores everything.
pub trait Observer: Send + Sync {
    fn volume_status(
        &self,
        volume_id: Uuid,
        before: Option<super::status::VolumeStatus>,
        after: Option<super::status::VolumeStatus>,
    );
}

impl Observer for NoHooks {
    fn volume_status(
        &self,
        _volume_id: Uuid,
        _before: Option<super::status::VolumeStatus>,
        _after: Option<super::status::VolumeStatus>,
    ) {
    }
}
