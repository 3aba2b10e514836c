//! A snapshot's status machine: [`SnapshotStatus`] (Cinder's `fields.SnapshotStatus`,
//! spelt as on the wire), [`SnapshotEvent`] and [`snapshot_transition`], through which
//! every snapshot status write goes. Every (status, event) pair is written out.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SnapshotStatus {
    Error,
    Available,
    Creating,
    Deleting,
    Deleted,
    Updating,
    ErrorDeleting,
    Unmanaging,
    BackingUp,
    Restoring,
}

impl SnapshotStatus {
    /// In Cinder's order (`SnapshotStatus.ALL`), which its messages print.
    pub const ALL: [SnapshotStatus; 10] = [
        SnapshotStatus::Error,
        SnapshotStatus::Available,
        SnapshotStatus::Creating,
        SnapshotStatus::Deleting,
        SnapshotStatus::Deleted,
        SnapshotStatus::Updating,
        SnapshotStatus::ErrorDeleting,
        SnapshotStatus::Unmanaging,
        SnapshotStatus::BackingUp,
        SnapshotStatus::Restoring,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotStatus::Error => "error",
            SnapshotStatus::Available => "available",
            SnapshotStatus::Creating => "creating",
            SnapshotStatus::Deleting => "deleting",
            SnapshotStatus::Deleted => "deleted",
            SnapshotStatus::Updating => "updating",
            SnapshotStatus::ErrorDeleting => "error_deleting",
            SnapshotStatus::Unmanaging => "unmanaging",
            SnapshotStatus::BackingUp => "backing-up",
            SnapshotStatus::Restoring => "restoring",
        }
    }

    /// Cinder's tuple of every status, as its validation messages print it.
    pub fn python_tuple() -> String {
        let inner: Vec<String> = Self::ALL
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        format!("({})", inner.join(", "))
    }
}

impl fmt::Display for SnapshotStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SnapshotStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SnapshotStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown snapshot status {s:?}"))
    }
}

/// Everything that can move a snapshot's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotEvent {
    /// The backend finished copying the volume.
    CreateSucceeded,
    /// The copy failed (or the service restarted mid-create).
    CreateFailed,
    /// `DELETE /snapshots/{id}` (and a cascading volume delete): `available` or `error`.
    DeleteRequested,
    /// `os-force_delete` (admin): any status.
    ForceDeleteRequested,
    DeleteFailed,
    /// Admin `os-reset_status`: any status to any status, as in Cinder.
    Reset(SnapshotStatus),
    /// `os-update_snapshot_status`: `creating` → creating/available/error,
    /// `deleting` → deleting/error_deleting.
    UpdateStatus(SnapshotStatus),
    /// A backup of the snapshot started (`available` → `backing-up`).
    BackupStarted,
    /// The backup ended, either way (`backing-up` → `available`).
    BackupEnded,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("snapshot cannot go from {from} on {event:?}")]
pub struct InvalidSnapshotTransition {
    pub from: SnapshotStatus,
    pub event: SnapshotEvent,
}

/// The one place that decides which snapshot status follows which.
pub fn snapshot_transition(
    from: SnapshotStatus,
    event: SnapshotEvent,
) -> Result<SnapshotStatus, InvalidSnapshotTransition> {
    use SnapshotEvent as E;
    use SnapshotStatus as S;
    let refuse = || Err(InvalidSnapshotTransition { from, event });
    // Every pair is written out: a new status or event does not compile until placed.
    match (from, event) {
        (S::Creating, E::CreateSucceeded) => Ok(S::Available),
        (
            S::Error
            | S::Available
            | S::Deleting
            | S::Deleted
            | S::Updating
            | S::ErrorDeleting
            | S::Unmanaging
            | S::BackingUp
            | S::Restoring,
            E::CreateSucceeded,
        ) => refuse(),
        (S::Creating, E::CreateFailed) => Ok(S::Error),
        (
            S::Error
            | S::Available
            | S::Deleting
            | S::Deleted
            | S::Updating
            | S::ErrorDeleting
            | S::Unmanaging
            | S::BackingUp
            | S::Restoring,
            E::CreateFailed,
        ) => refuse(),
        (S::Available | S::Error, E::DeleteRequested) => Ok(S::Deleting),
        (
            S::Creating
            | S::Deleting
            | S::Deleted
            | S::Updating
            | S::ErrorDeleting
            | S::Unmanaging
            | S::BackingUp
            | S::Restoring,
            E::DeleteRequested,
        ) => refuse(),
        (
            S::Error
            | S::Available
            | S::Creating
            | S::Deleting
            | S::Deleted
            | S::Updating
            | S::ErrorDeleting
            | S::Unmanaging
            | S::BackingUp
            | S::Restoring,
            E::ForceDeleteRequested,
        ) => Ok(S::Deleting),
        (S::Deleting, E::DeleteFailed) => Ok(S::ErrorDeleting),
        (
            S::Error
            | S::Available
            | S::Creating
            | S::Deleted
            | S::Updating
            | S::ErrorDeleting
            | S::Unmanaging
            | S::BackingUp
            | S::Restoring,
            E::DeleteFailed,
        ) => refuse(),
        (
            S::Error
            | S::Available
            | S::Creating
            | S::Deleting
            | S::Deleted
            | S::Updating
            | S::ErrorDeleting
            | S::Unmanaging
            | S::BackingUp
            | S::Restoring,
            E::Reset(to),
        ) => Ok(to),
        (S::Creating, E::UpdateStatus(to @ (S::Creating | S::Available | S::Error))) => Ok(to),
        (S::Deleting, E::UpdateStatus(to @ (S::Deleting | S::ErrorDeleting))) => Ok(to),
        (
            S::Creating,
            E::UpdateStatus(
                S::Deleting
                | S::Deleted
                | S::Updating
                | S::ErrorDeleting
                | S::Unmanaging
                | S::BackingUp
                | S::Restoring,
            ),
        ) => refuse(),
        (
            S::Deleting,
            E::UpdateStatus(
                S::Error
                | S::Available
                | S::Creating
                | S::Deleted
                | S::Updating
                | S::Unmanaging
                | S::BackingUp
                | S::Restoring,
            ),
        ) => refuse(),
        (
            S::Error
            | S::Available
            | S::Deleted
            | S::Updating
            | S::ErrorDeleting
            | S::Unmanaging
            | S::BackingUp
            | S::Restoring,
            E::UpdateStatus(_),
        ) => refuse(),
        (S::Available, E::BackupStarted) => Ok(S::BackingUp),
        (
            S::Error
            | S::Creating
            | S::Deleting
            | S::Deleted
            | S::Updating
            | S::ErrorDeleting
            | S::Unmanaging
            | S::BackingUp
            | S::Restoring,
            E::BackupStarted,
        ) => refuse(),
        (S::BackingUp, E::BackupEnded) => Ok(S::Available),
        (
            S::Error
            | S::Available
            | S::Creating
            | S::Deleting
            | S::Deleted
            | S::Updating
            | S::ErrorDeleting
            | S::Unmanaging
            | S::Restoring,
            E::BackupEnded,
        ) => refuse(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SnapshotEvent as E;
    use SnapshotStatus as S;

    fn check(from: S, event: E, expected: Option<S>) {
        assert_eq!(
            snapshot_transition(from, event).ok(),
            expected,
            "{from} on {event:?}"
        );
    }

    #[test]
    fn table() {
        check(S::Creating, E::CreateSucceeded, Some(S::Available));
        check(S::Available, E::CreateSucceeded, None);
        check(S::Creating, E::CreateFailed, Some(S::Error));
        check(S::Deleting, E::CreateFailed, None);
        check(S::Available, E::DeleteRequested, Some(S::Deleting));
        check(S::Error, E::DeleteRequested, Some(S::Deleting));
        check(S::Creating, E::DeleteRequested, None);
        check(S::ErrorDeleting, E::DeleteRequested, None);
        check(S::BackingUp, E::DeleteRequested, None);
        check(S::Creating, E::ForceDeleteRequested, Some(S::Deleting));
        check(S::ErrorDeleting, E::ForceDeleteRequested, Some(S::Deleting));
        check(S::Deleting, E::DeleteFailed, Some(S::ErrorDeleting));
        check(S::Available, E::DeleteFailed, None);
        check(S::Deleting, E::Reset(S::Available), Some(S::Available));
        check(S::Available, E::Reset(S::Error), Some(S::Error));
        check(
            S::Creating,
            E::UpdateStatus(S::Available),
            Some(S::Available),
        );
        check(S::Creating, E::UpdateStatus(S::Creating), Some(S::Creating));
        check(S::Creating, E::UpdateStatus(S::Error), Some(S::Error));
        check(S::Creating, E::UpdateStatus(S::Deleting), None);
        check(
            S::Deleting,
            E::UpdateStatus(S::ErrorDeleting),
            Some(S::ErrorDeleting),
        );
        check(S::Deleting, E::UpdateStatus(S::Available), None);
        check(S::Available, E::UpdateStatus(S::Available), None);
        check(S::Available, E::BackupStarted, Some(S::BackingUp));
        check(S::Error, E::BackupStarted, None);
        check(S::BackingUp, E::BackupEnded, Some(S::Available));
        check(S::Available, E::BackupEnded, None);
    }

    #[test]
    fn names_round_trip_in_cinders_order() {
        for s in S::ALL {
            assert_eq!(s.as_str().parse::<S>(), Ok(s));
        }
        assert!("in-use".parse::<S>().is_err());
        assert!(S::python_tuple().starts_with("('error', 'available', 'creating'"));
    }
}
