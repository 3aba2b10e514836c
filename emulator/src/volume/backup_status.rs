//! The backup status machine: [`BackupStatus`] as spelt on the wire, [`BackupEvent`]
//! and [`backup_transition`], through which every backup status write goes. Every
//! (status, event) pair is written out, as for volumes.

use std::fmt;
use std::str::FromStr;

/// Cinder's `BackupStatus` (without `deleted`: a deleted backup is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BackupStatus {
    Creating,
    Available,
    Deleting,
    Error,
    ErrorDeleting,
    Restoring,
}

impl BackupStatus {
    pub const ALL: [BackupStatus; 6] = [
        BackupStatus::Creating,
        BackupStatus::Available,
        BackupStatus::Deleting,
        BackupStatus::Error,
        BackupStatus::ErrorDeleting,
        BackupStatus::Restoring,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BackupStatus::Creating => "creating",
            BackupStatus::Available => "available",
            BackupStatus::Deleting => "deleting",
            BackupStatus::Error => "error",
            BackupStatus::ErrorDeleting => "error_deleting",
            BackupStatus::Restoring => "restoring",
        }
    }
}

impl fmt::Display for BackupStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BackupStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BackupStatus::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| format!("unknown backup status {s:?}"))
    }
}

/// Everything that can move a backup's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupEvent {
    /// The backup service wrote every chunk and the metadata (or verified an import).
    CreateSucceeded,
    /// The backup failed (or the service restarted mid-backup).
    CreateFailed,
    /// `DELETE /backups/{id}`: only from `available` or `error`.
    DeleteRequested,
    /// `os-force_delete` (admin): from any status.
    ForceDeleteRequested,
    DeleteFailed,
    /// `POST /backups/{id}/restore`: only from `available`.
    RestoreRequested,
    /// The restore ended, well or not, or the service restarted mid-restore: Cinder
    /// puts the backup back to `available` (the volume carries the failure).
    RestoreEnded,
    /// The restore found the backup's own data damaged: the backup is `error`.
    RestoreFoundCorruption,
    /// Admin `os-reset_status`: `available` or `error` only (the API checks).
    Reset(BackupStatus),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("backup cannot go from {from} on {event:?}")]
pub struct InvalidBackupTransition {
    pub from: BackupStatus,
    pub event: BackupEvent,
}

/// The one place that decides which backup status follows which.
pub fn backup_transition(
    from: BackupStatus,
    event: BackupEvent,
) -> Result<BackupStatus, InvalidBackupTransition> {
    use BackupEvent as E;
    use BackupStatus as S;
    let refuse = || Err(InvalidBackupTransition { from, event });
    match (from, event) {
        (S::Creating, E::CreateSucceeded) => Ok(S::Available),
        (
            S::Available | S::Deleting | S::Error | S::ErrorDeleting | S::Restoring,
            E::CreateSucceeded,
        ) => refuse(),
        (S::Creating, E::CreateFailed) => Ok(S::Error),
        (
            S::Available | S::Deleting | S::Error | S::ErrorDeleting | S::Restoring,
            E::CreateFailed,
        ) => refuse(),
        (S::Available | S::Error, E::DeleteRequested) => Ok(S::Deleting),
        (S::Creating | S::Deleting | S::ErrorDeleting | S::Restoring, E::DeleteRequested) => {
            refuse()
        }
        (
            S::Creating | S::Available | S::Deleting | S::Error | S::ErrorDeleting | S::Restoring,
            E::ForceDeleteRequested,
        ) => Ok(S::Deleting),
        (S::Deleting, E::DeleteFailed) => Ok(S::ErrorDeleting),
        (
            S::Creating | S::Available | S::Error | S::ErrorDeleting | S::Restoring,
            E::DeleteFailed,
        ) => refuse(),
        (S::Available, E::RestoreRequested) => Ok(S::Restoring),
        (
            S::Creating | S::Deleting | S::Error | S::ErrorDeleting | S::Restoring,
            E::RestoreRequested,
        ) => refuse(),
        (S::Restoring, E::RestoreEnded) => Ok(S::Available),
        (
            S::Creating | S::Available | S::Deleting | S::Error | S::ErrorDeleting,
            E::RestoreEnded,
        ) => refuse(),
        (S::Restoring, E::RestoreFoundCorruption) => Ok(S::Error),
        (
            S::Creating | S::Available | S::Deleting | S::Error | S::ErrorDeleting,
            E::RestoreFoundCorruption,
        ) => refuse(),
        (
            S::Creating | S::Available | S::Deleting | S::Error | S::ErrorDeleting | S::Restoring,
            E::Reset(to @ (S::Available | S::Error)),
        ) => Ok(to),
        (
            S::Creating | S::Available | S::Deleting | S::Error | S::ErrorDeleting | S::Restoring,
            E::Reset(S::Creating | S::Deleting | S::ErrorDeleting | S::Restoring),
        ) => refuse(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BackupEvent as E;
    use BackupStatus as S;

    /// An independent statement of Cinder's backup rules, for the table test.
    fn expected(from: S, event: E) -> Option<S> {
        match (from, event) {
            (S::Creating, E::CreateSucceeded) => Some(S::Available),
            (S::Creating, E::CreateFailed) => Some(S::Error),
            (S::Available | S::Error, E::DeleteRequested) => Some(S::Deleting),
            (_, E::ForceDeleteRequested) => Some(S::Deleting),
            (S::Deleting, E::DeleteFailed) => Some(S::ErrorDeleting),
            (S::Available, E::RestoreRequested) => Some(S::Restoring),
            (S::Restoring, E::RestoreEnded) => Some(S::Available),
            (S::Restoring, E::RestoreFoundCorruption) => Some(S::Error),
            (_, E::Reset(S::Available)) => Some(S::Available),
            (_, E::Reset(S::Error)) => Some(S::Error),
            _ => None,
        }
    }

    #[test]
    fn every_backup_status_event_pair_matches_the_table() {
        let mut events = vec![
            E::CreateSucceeded,
            E::CreateFailed,
            E::DeleteRequested,
            E::ForceDeleteRequested,
            E::DeleteFailed,
            E::RestoreRequested,
            E::RestoreEnded,
            E::RestoreFoundCorruption,
        ];
        events.extend(S::ALL.map(E::Reset));
        let (mut allowed, mut refused) = (0, 0);
        for from in S::ALL {
            for event in &events {
                let got = backup_transition(from, *event).ok();
                assert_eq!(got, expected(from, *event), "{from} on {event:?}");
                if got.is_some() {
                    allowed += 1;
                } else {
                    refused += 1;
                }
            }
        }
        assert!(allowed > 15 && refused > 40, "{allowed} / {refused}");
        for s in S::ALL {
            assert_eq!(s.as_str().parse::<S>().unwrap(), s);
        }
        assert!("deleted".parse::<S>().is_err());
    }
}
