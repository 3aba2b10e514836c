//! The statuses: [`VolumeStatus`] (with its [`StatusClass`]) and [`AttachStatus`], as
//! spelt on the wire. What moves them is in `transition.rs` (re-exported here).

use std::fmt;
use std::str::FromStr;

/// Every status Cinder gives a volume, spelt as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VolumeStatus {
    Creating,
    Available,
    Deleting,
    Error,
    ErrorDeleting,
    ErrorManaging,
    Managing,
    Attaching,
    InUse,
    Detaching,
    Maintenance,
    RestoringBackup,
    ErrorRestoring,
    Reserved,
    AwaitingTransfer,
    BackingUp,
    ErrorBackingUp,
    ErrorExtending,
    Downloading,
    Uploading,
    Retyping,
    Extending,
}

impl VolumeStatus {
    pub const ALL: [VolumeStatus; 22] = [
        VolumeStatus::Creating,
        VolumeStatus::Available,
        VolumeStatus::Deleting,
        VolumeStatus::Error,
        VolumeStatus::ErrorDeleting,
        VolumeStatus::ErrorManaging,
        VolumeStatus::Managing,
        VolumeStatus::Attaching,
        VolumeStatus::InUse,
        VolumeStatus::Detaching,
        VolumeStatus::Maintenance,
        VolumeStatus::RestoringBackup,
        VolumeStatus::ErrorRestoring,
        VolumeStatus::Reserved,
        VolumeStatus::AwaitingTransfer,
        VolumeStatus::BackingUp,
        VolumeStatus::ErrorBackingUp,
        VolumeStatus::ErrorExtending,
        VolumeStatus::Downloading,
        VolumeStatus::Uploading,
        VolumeStatus::Retyping,
        VolumeStatus::Extending,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VolumeStatus::Creating => "creating",
            VolumeStatus::Available => "available",
            VolumeStatus::Deleting => "deleting",
            VolumeStatus::Error => "error",
            VolumeStatus::ErrorDeleting => "error_deleting",
            VolumeStatus::ErrorManaging => "error_managing",
            VolumeStatus::Managing => "managing",
            VolumeStatus::Attaching => "attaching",
            VolumeStatus::InUse => "in-use",
            VolumeStatus::Detaching => "detaching",
            VolumeStatus::Maintenance => "maintenance",
            VolumeStatus::RestoringBackup => "restoring-backup",
            VolumeStatus::ErrorRestoring => "error_restoring",
            VolumeStatus::Reserved => "reserved",
            VolumeStatus::AwaitingTransfer => "awaiting-transfer",
            VolumeStatus::BackingUp => "backing-up",
            VolumeStatus::ErrorBackingUp => "error_backing-up",
            VolumeStatus::ErrorExtending => "error_extending",
            VolumeStatus::Downloading => "downloading",
            VolumeStatus::Uploading => "uploading",
            VolumeStatus::Retyping => "retyping",
            VolumeStatus::Extending => "extending",
        }
    }

    /// What a status means for the machine. Exhaustive with no wildcard: a new status
    /// must be classified here before it compiles.
    pub fn class(self) -> StatusClass {
        use StatusClass::*;
        match self {
            VolumeStatus::Available => Idle,
            VolumeStatus::InUse => Idle,
            VolumeStatus::Reserved => AttachFlow,
            VolumeStatus::Attaching => AttachFlow,
            VolumeStatus::Detaching => AttachFlow,
            VolumeStatus::Creating => Busy,
            VolumeStatus::Deleting => Busy,
            VolumeStatus::Extending => Busy,
            VolumeStatus::Managing => Busy,
            VolumeStatus::Maintenance => Busy,
            VolumeStatus::RestoringBackup => Busy,
            VolumeStatus::AwaitingTransfer => Busy,
            VolumeStatus::BackingUp => Busy,
            VolumeStatus::Downloading => Busy,
            VolumeStatus::Uploading => Busy,
            VolumeStatus::Retyping => Busy,
            VolumeStatus::Error => Failed,
            VolumeStatus::ErrorDeleting => Failed,
            VolumeStatus::ErrorManaging => Failed,
            VolumeStatus::ErrorRestoring => Failed,
            VolumeStatus::ErrorBackingUp => Failed,
            VolumeStatus::ErrorExtending => Failed,
        }
    }

    /// The statuses from which a plain (non-force) delete is allowed.
    pub fn deletable(self) -> bool {
        matches!(
            self,
            VolumeStatus::Available
                | VolumeStatus::Error
                | VolumeStatus::ErrorRestoring
                | VolumeStatus::ErrorExtending
                | VolumeStatus::ErrorManaging
        )
    }

    /// True for the statuses an asynchronous job is still working on.
    pub fn is_transitional(self) -> bool {
        matches!(
            self,
            VolumeStatus::Creating | VolumeStatus::Deleting | VolumeStatus::Extending
        )
    }
}

/// Coarse meaning of a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// `available` or `in-use`: ready for any request.
    Idle,
    /// `reserved`, `attaching`, `detaching`: an attachment is being set up or torn down.
    AttachFlow,
    /// A job (create, delete, extend, ...) owns the volume.
    Busy,
    /// An `error*` status.
    Failed,
}

impl fmt::Display for VolumeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VolumeStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VolumeStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown volume status {s:?}"))
    }
}

/// The volume's `attach_status`, derived from its live attachments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AttachStatus {
    Detached,
    Reserved,
    Detaching,
    Attaching,
    Attached,
}

impl AttachStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AttachStatus::Detached => "detached",
            AttachStatus::Reserved => "reserved",
            AttachStatus::Detaching => "detaching",
            AttachStatus::Attaching => "attaching",
            AttachStatus::Attached => "attached",
        }
    }
}

impl FromStr for AttachStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            AttachStatus::Detached,
            AttachStatus::Reserved,
            AttachStatus::Detaching,
            AttachStatus::Attaching,
            AttachStatus::Attached,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| format!("unknown attach status {s:?}"))
    }
}

pub use super::transition::{
    attachment_transition, transition, AttachmentEvent, InvalidAttachmentTransition,
    InvalidTransition, VolumeEvent,
};
