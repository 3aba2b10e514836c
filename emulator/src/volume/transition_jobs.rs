//! The volume side of backups, restores and retypes: [`VolumeJobEvent`] and
//! [`job_transition`], reached through `VolumeEvent::Job` from `transition`. Every
//! (status, event) pair is written out.

use super::status::VolumeStatus;

/// What a backup, restore or retype does to the volume it works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeJobEvent {
    /// `POST /backups` of the volume itself: `available`, or `in-use` with `force`.
    BackupStarted {
        force: bool,
    },
    /// The backup ended (well or not): the volume's previous status.
    BackupEnded {
        attached: bool,
    },
    /// `POST /backups/{id}/restore` onto an `available` volume, or onto the volume
    /// the restore itself is creating.
    RestoreStarted,
    RestoreSucceeded,
    /// The restore failed (or the service restarted mid-restore).
    RestoreFailed,
    /// `os-retype` of an `available` or `in-use` volume.
    RetypeRequested,
    /// The retype ended (done, refused by the scheduler, or interrupted): the volume's
    /// previous status.
    RetypeEnded {
        attached: bool,
    },
}

/// The status `event` moves `from` to, or None when Cinder refuses it.
pub fn job_transition(from: VolumeStatus, event: VolumeJobEvent) -> Option<VolumeStatus> {
    use VolumeJobEvent as E;
    use VolumeStatus as S;
    match (from, event) {
        (S::Available, E::BackupStarted { .. }) => Some(S::BackingUp),
        (S::InUse, E::BackupStarted { force: true }) => Some(S::BackingUp),
        (S::InUse, E::BackupStarted { force: false }) => None,
        (
            S::Creating
            | S::Deleting
            | S::Error
            | S::ErrorDeleting
            | S::ErrorManaging
            | S::Managing
            | S::Attaching
            | S::Detaching
            | S::Maintenance
            | S::RestoringBackup
            | S::ErrorRestoring
            | S::Reserved
            | S::AwaitingTransfer
            | S::BackingUp
            | S::ErrorBackingUp
            | S::ErrorExtending
            | S::Downloading
            | S::Uploading
            | S::Retyping
            | S::Extending,
            E::BackupStarted { .. },
        ) => None,
        (S::BackingUp, E::BackupEnded { attached: true }) => Some(S::InUse),
        (S::BackingUp, E::BackupEnded { attached: false }) => Some(S::Available),
        (S::Available | S::Creating, E::RestoreStarted) => Some(S::RestoringBackup),
        (S::RestoringBackup, E::RestoreSucceeded) => Some(S::Available),
        (S::RestoringBackup, E::RestoreFailed) => Some(S::ErrorRestoring),
        (S::Available | S::InUse, E::RetypeRequested) => Some(S::Retyping),
        (S::Retyping, E::RetypeEnded { attached: true }) => Some(S::InUse),
        (S::Retyping, E::RetypeEnded { attached: false }) => Some(S::Available),
        (
            S::Creating
            | S::Available
            | S::Deleting
            | S::Error
            | S::ErrorDeleting
            | S::ErrorManaging
            | S::Managing
            | S::Attaching
            | S::InUse
            | S::Detaching
            | S::Maintenance
            | S::RestoringBackup
            | S::ErrorRestoring
            | S::Reserved
            | S::AwaitingTransfer
            | S::ErrorBackingUp
            | S::ErrorExtending
            | S::Downloading
            | S::Uploading
            | S::Retyping
            | S::Extending,
            E::BackupEnded { .. },
        ) => None,
        (
            S::Deleting
            | S::Error
            | S::ErrorDeleting
            | S::ErrorManaging
            | S::Managing
            | S::Attaching
            | S::InUse
            | S::Detaching
            | S::Maintenance
            | S::RestoringBackup
            | S::ErrorRestoring
            | S::Reserved
            | S::AwaitingTransfer
            | S::BackingUp
            | S::ErrorBackingUp
            | S::ErrorExtending
            | S::Downloading
            | S::Uploading
            | S::Retyping
            | S::Extending,
            E::RestoreStarted,
        ) => None,
        (
            S::Creating
            | S::Available
            | S::Deleting
            | S::Error
            | S::ErrorDeleting
            | S::ErrorManaging
            | S::Managing
            | S::Attaching
            | S::InUse
            | S::Detaching
            | S::Maintenance
            | S::ErrorRestoring
            | S::Reserved
            | S::AwaitingTransfer
            | S::BackingUp
            | S::ErrorBackingUp
            | S::ErrorExtending
            | S::Downloading
            | S::Uploading
            | S::Retyping
            | S::Extending,
            E::RestoreSucceeded | E::RestoreFailed,
        ) => None,
        (
            S::Creating
            | S::Deleting
            | S::Error
            | S::ErrorDeleting
            | S::ErrorManaging
            | S::Managing
            | S::Attaching
            | S::Detaching
            | S::Maintenance
            | S::RestoringBackup
            | S::ErrorRestoring
            | S::Reserved
            | S::AwaitingTransfer
            | S::BackingUp
            | S::ErrorBackingUp
            | S::ErrorExtending
            | S::Downloading
            | S::Uploading
            | S::Retyping
            | S::Extending,
            E::RetypeRequested,
        ) => None,
        (
            S::Creating
            | S::Available
            | S::Deleting
            | S::Error
            | S::ErrorDeleting
            | S::ErrorManaging
            | S::Managing
            | S::Attaching
            | S::InUse
            | S::Detaching
            | S::Maintenance
            | S::RestoringBackup
            | S::ErrorRestoring
            | S::Reserved
            | S::AwaitingTransfer
            | S::BackingUp
            | S::ErrorBackingUp
            | S::ErrorExtending
            | S::Downloading
            | S::Uploading
            | S::Extending,
            E::RetypeEnded { .. },
        ) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use VolumeJobEvent as E;
    use VolumeStatus as S;

    /// Cinder's rules restated pair by pair.
    fn expected(from: S, event: E) -> Option<S> {
        match (from, event) {
            (S::Available, E::BackupStarted { .. }) => Some(S::BackingUp),
            (S::InUse, E::BackupStarted { force: true }) => Some(S::BackingUp),
            (S::BackingUp, E::BackupEnded { attached }) => {
                Some(if attached { S::InUse } else { S::Available })
            }
            (S::Available | S::Creating, E::RestoreStarted) => Some(S::RestoringBackup),
            (S::RestoringBackup, E::RestoreSucceeded) => Some(S::Available),
            (S::RestoringBackup, E::RestoreFailed) => Some(S::ErrorRestoring),
            (S::Available | S::InUse, E::RetypeRequested) => Some(S::Retyping),
            (S::Retyping, E::RetypeEnded { attached }) => {
                Some(if attached { S::InUse } else { S::Available })
            }
            _ => None,
        }
    }

    #[test]
    fn every_status_job_event_pair_matches_the_table() {
        let events = [
            E::BackupStarted { force: false },
            E::BackupStarted { force: true },
            E::BackupEnded { attached: false },
            E::BackupEnded { attached: true },
            E::RestoreStarted,
            E::RestoreSucceeded,
            E::RestoreFailed,
            E::RetypeRequested,
            E::RetypeEnded { attached: false },
            E::RetypeEnded { attached: true },
        ];
        let mut allowed = 0;
        for from in S::ALL {
            for e in events {
                let got = job_transition(from, e);
                assert_eq!(got, expected(from, e), "{from} on {e:?}");
                allowed += usize::from(got.is_some());
            }
        }
        assert_eq!(allowed, 13);
    }
}
