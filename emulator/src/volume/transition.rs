//! The status machines: [`VolumeEvent`] and [`transition`], through which every
//! volume status write goes, and [`AttachmentEvent`] and [`attachment_transition`] for
//! one attachment's own status. Every (status, event) pair is written out.

use super::status::{AttachStatus, StatusClass, VolumeStatus};

/// Everything that can move a volume's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeEvent {
    /// The backend finished creating the volume.
    CreateSucceeded,
    /// The backend failed to create it (or the service restarted mid-create).
    CreateFailed,
    /// `DELETE /volumes/{id}`.
    DeleteRequested,
    /// `os-force_delete` (admin): any status, attachments checked by the caller.
    ForceDeleteRequested,
    DeleteFailed,
    /// `os-extend`; `attached_ok` when the microversion allows extending in-use volumes.
    ExtendRequested {
        attached_ok: bool,
    },
    /// Back to `in-use` when still attached, else `available`.
    ExtendSucceeded {
        attached: bool,
    },
    ExtendFailed,
    /// The set of live attachments changed; the status follows the highest one.
    AttachmentsChanged(AttachStatus),
    /// Legacy `os-reserve`.
    Reserve {
        multiattach: bool,
    },
    /// Legacy `os-unreserve`: a no-op unless `attaching`.
    Unreserve {
        attached: bool,
    },
    /// Legacy `os-begin_detaching`.
    BeginDetaching,
    /// Legacy `os-roll_detaching`: a no-op unless `detaching`.
    RollDetaching,
    /// Admin `os-reset_status` (and fault injection): any status but `deleting`.
    Reset(VolumeStatus),
    /// A transfer of an `available` volume was created.
    TransferRequested,
    /// The transfer was accepted or deleted: `available` again.
    TransferEnded,
    /// A backup, restore or retype (see `transition_jobs.rs`).
    Job(super::transition_jobs::VolumeJobEvent),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("volume cannot go from {from} on {event:?}")]
pub struct InvalidTransition {
    pub from: VolumeStatus,
    pub event: VolumeEvent,
}

/// The one place that decides which status follows which.
pub fn transition(
    from: VolumeStatus,
    event: VolumeEvent,
) -> Result<VolumeStatus, InvalidTransition> {
    use VolumeStatus as S;
    let refuse = || Err(InvalidTransition { from, event });
    // Every (status, event) pair is written out: no wildcard, so a new status or event
    // does not compile until this table says what it does.
    match (from, event) {
        (S::Creating, VolumeEvent::CreateSucceeded) => Ok(S::Available),
        (
            S::Available
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
            | S::Retyping
            | S::Extending,
            VolumeEvent::CreateSucceeded,
        ) => refuse(),
        (S::Creating, VolumeEvent::CreateFailed) => Ok(S::Error),
        (
            S::Available
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
            | S::Retyping
            | S::Extending,
            VolumeEvent::CreateFailed,
        ) => refuse(),
        (
            S::Available | S::Error | S::ErrorRestoring | S::ErrorExtending | S::ErrorManaging,
            VolumeEvent::DeleteRequested,
        ) => Ok(S::Deleting),
        (
            S::Creating
            | S::Deleting
            | S::ErrorDeleting
            | S::Managing
            | S::Attaching
            | S::InUse
            | S::Detaching
            | S::Maintenance
            | S::RestoringBackup
            | S::Reserved
            | S::AwaitingTransfer
            | S::BackingUp
            | S::ErrorBackingUp
            | S::Downloading
            | S::Uploading
            | S::Retyping
            | S::Extending,
            VolumeEvent::DeleteRequested,
        ) => refuse(),
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
            | S::Retyping
            | S::Extending,
            VolumeEvent::ForceDeleteRequested,
        ) => Ok(S::Deleting),
        (S::Deleting, VolumeEvent::DeleteFailed) => Ok(S::ErrorDeleting),
        (
            S::Creating
            | S::Available
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
            VolumeEvent::DeleteFailed,
        ) => refuse(),
        (S::Available, VolumeEvent::ExtendRequested { .. }) => Ok(S::Extending),
        (S::InUse, VolumeEvent::ExtendRequested { attached_ok: true }) => Ok(S::Extending),
        (S::InUse, VolumeEvent::ExtendRequested { attached_ok: false }) => refuse(),
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
            VolumeEvent::ExtendRequested { .. },
        ) => refuse(),
        (S::Extending, VolumeEvent::ExtendSucceeded { attached: true }) => Ok(S::InUse),
        (S::Extending, VolumeEvent::ExtendSucceeded { attached: false }) => Ok(S::Available),
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
            | S::Retyping,
            VolumeEvent::ExtendSucceeded { .. },
        ) => refuse(),
        (S::Extending, VolumeEvent::ExtendFailed) => Ok(S::ErrorExtending),
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
            | S::Retyping,
            VolumeEvent::ExtendFailed,
        ) => refuse(),
        (from, VolumeEvent::AttachmentsChanged(attach)) => match from.class() {
            StatusClass::Idle | StatusClass::AttachFlow => Ok(match attach {
                AttachStatus::Detached => S::Available,
                AttachStatus::Reserved => S::Reserved,
                AttachStatus::Attaching => S::Attaching,
                AttachStatus::Detaching => S::Detaching,
                AttachStatus::Attached => S::InUse,
            }),
            // A job or an error owns the status; attachments do not override it.
            StatusClass::Busy | StatusClass::Failed => Ok(from),
        },
        (S::Available, VolumeEvent::Reserve { .. }) => Ok(S::Attaching),
        (S::InUse, VolumeEvent::Reserve { multiattach: true }) => Ok(S::Attaching),
        (S::InUse, VolumeEvent::Reserve { multiattach: false }) => refuse(),
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
            VolumeEvent::Reserve { .. },
        ) => refuse(),
        (S::Attaching, VolumeEvent::Unreserve { attached: true }) => Ok(S::InUse),
        (S::Attaching, VolumeEvent::Unreserve { attached: false }) => Ok(S::Available),
        (
            S::Creating
            | S::Available
            | S::Deleting
            | S::Error
            | S::ErrorDeleting
            | S::ErrorManaging
            | S::Managing
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
            VolumeEvent::Unreserve { .. },
        ) => Ok(from),
        (S::InUse, VolumeEvent::BeginDetaching) => Ok(S::Detaching),
        (
            S::Creating
            | S::Available
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
            VolumeEvent::BeginDetaching,
        ) => refuse(),
        (S::Detaching, VolumeEvent::RollDetaching) => Ok(S::InUse),
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
            VolumeEvent::RollDetaching,
        ) => Ok(from),
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
            | S::Retyping
            | S::Extending,
            VolumeEvent::Reset(S::Deleting),
        ) => refuse(),
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
            | S::Retyping
            | S::Extending,
            VolumeEvent::Reset(
                to @ (S::Creating
                | S::Available
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
                | S::Extending),
            ),
        ) => Ok(to),
        (S::Available, VolumeEvent::TransferRequested) => Ok(S::AwaitingTransfer),
        (
            S::Creating
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
            | S::Retyping
            | S::Extending,
            VolumeEvent::TransferRequested,
        ) => refuse(),
        (S::AwaitingTransfer, VolumeEvent::TransferEnded) => Ok(S::Available),
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
            | S::BackingUp
            | S::ErrorBackingUp
            | S::ErrorExtending
            | S::Downloading
            | S::Uploading
            | S::Retyping
            | S::Extending,
            VolumeEvent::TransferEnded,
        ) => refuse(),
        (from, VolumeEvent::Job(e)) => match super::transition_jobs::job_transition(from, e) {
            Some(to) => Ok(to),
            None => refuse(),
        },
    }
}

/// Everything that can move one attachment's own status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentEvent {
    /// A connector was given (create with connector, or update): the volume service
    /// made the connection.
    Connected,
    /// `os-complete` (Cinder checks no status: a reserved attachment may complete).
    Completed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("attachment cannot go from {} on {event:?}", from.as_str())]
pub struct InvalidAttachmentTransition {
    pub from: AttachStatus,
    pub event: AttachmentEvent,
}

/// The one place that decides an attachment's next status. A stored attachment is
/// never `detached` (a detached one is deleted), so nothing moves from there.
pub fn attachment_transition(
    from: AttachStatus,
    event: AttachmentEvent,
) -> Result<AttachStatus, InvalidAttachmentTransition> {
    use AttachStatus as A;
    use AttachmentEvent as E;
    match (from, event) {
        (A::Reserved | A::Attaching | A::Detaching | A::Attached, E::Connected) => Ok(A::Attaching),
        (A::Reserved | A::Attaching | A::Detaching | A::Attached, E::Completed) => Ok(A::Attached),
        (A::Detached, E::Connected | E::Completed) => {
            Err(InvalidAttachmentTransition { from, event })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use VolumeStatus as S;

    fn events() -> Vec<VolumeEvent> {
        use AttachStatus as A;
        let mut v = vec![
            VolumeEvent::CreateSucceeded,
            VolumeEvent::CreateFailed,
            VolumeEvent::DeleteRequested,
            VolumeEvent::ForceDeleteRequested,
            VolumeEvent::DeleteFailed,
            VolumeEvent::ExtendRequested { attached_ok: false },
            VolumeEvent::ExtendRequested { attached_ok: true },
            VolumeEvent::ExtendSucceeded { attached: false },
            VolumeEvent::ExtendSucceeded { attached: true },
            VolumeEvent::ExtendFailed,
            VolumeEvent::Reserve { multiattach: false },
            VolumeEvent::Reserve { multiattach: true },
            VolumeEvent::Unreserve { attached: false },
            VolumeEvent::Unreserve { attached: true },
            VolumeEvent::BeginDetaching,
            VolumeEvent::RollDetaching,
            VolumeEvent::TransferRequested,
            VolumeEvent::TransferEnded,
        ];
        for a in [
            A::Detached,
            A::Reserved,
            A::Attaching,
            A::Detaching,
            A::Attached,
        ] {
            v.push(VolumeEvent::AttachmentsChanged(a));
        }
        for s in S::ALL {
            v.push(VolumeEvent::Reset(s));
        }
        v
    }

    /// An independent statement of Cinder's rules, pair by pair, for the table test.
    fn expected(from: S, event: VolumeEvent) -> Option<S> {
        use AttachStatus as A;
        let idle_or_attach = [
            S::Available,
            S::InUse,
            S::Reserved,
            S::Attaching,
            S::Detaching,
        ];
        match (from, event) {
            (S::Creating, VolumeEvent::CreateSucceeded) => Some(S::Available),
            (S::Creating, VolumeEvent::CreateFailed) => Some(S::Error),
            (
                S::Available | S::Error | S::ErrorRestoring | S::ErrorExtending | S::ErrorManaging,
                VolumeEvent::DeleteRequested,
            ) => Some(S::Deleting),
            (_, VolumeEvent::ForceDeleteRequested) => Some(S::Deleting),
            (S::Deleting, VolumeEvent::DeleteFailed) => Some(S::ErrorDeleting),
            (S::Available, VolumeEvent::ExtendRequested { .. }) => Some(S::Extending),
            (S::InUse, VolumeEvent::ExtendRequested { attached_ok: true }) => Some(S::Extending),
            (S::Extending, VolumeEvent::ExtendSucceeded { attached: true }) => Some(S::InUse),
            (S::Extending, VolumeEvent::ExtendSucceeded { attached: false }) => Some(S::Available),
            (S::Extending, VolumeEvent::ExtendFailed) => Some(S::ErrorExtending),
            (f, VolumeEvent::AttachmentsChanged(a)) if idle_or_attach.contains(&f) => {
                Some(match a {
                    A::Detached => S::Available,
                    A::Reserved => S::Reserved,
                    A::Attaching => S::Attaching,
                    A::Detaching => S::Detaching,
                    A::Attached => S::InUse,
                })
            }
            (f, VolumeEvent::AttachmentsChanged(_)) => Some(f),
            (S::Available, VolumeEvent::Reserve { .. }) => Some(S::Attaching),
            (S::InUse, VolumeEvent::Reserve { multiattach: true }) => Some(S::Attaching),
            (S::Attaching, VolumeEvent::Unreserve { attached: true }) => Some(S::InUse),
            (S::Attaching, VolumeEvent::Unreserve { attached: false }) => Some(S::Available),
            (f, VolumeEvent::Unreserve { .. }) => Some(f),
            (S::InUse, VolumeEvent::BeginDetaching) => Some(S::Detaching),
            (S::Detaching, VolumeEvent::RollDetaching) => Some(S::InUse),
            (f, VolumeEvent::RollDetaching) => Some(f),
            (_, VolumeEvent::Reset(S::Deleting)) => None,
            (_, VolumeEvent::Reset(to)) => Some(to),
            (S::Available, VolumeEvent::TransferRequested) => Some(S::AwaitingTransfer),
            (S::AwaitingTransfer, VolumeEvent::TransferEnded) => Some(S::Available),
            _ => None,
        }
    }

    #[test]
    fn every_status_event_pair_matches_the_table() {
        let mut allowed = 0;
        let mut refused = 0;
        for from in S::ALL {
            for event in events() {
                let got = transition(from, event).ok();
                assert_eq!(got, expected(from, event), "{from} on {event:?}");
                if got.is_some() {
                    allowed += 1
                } else {
                    refused += 1
                }
            }
        }
        // Both kinds of pair exist: the table is not trivially all-yes or all-no.
        assert!(
            allowed > 100 && refused > 100,
            "{allowed} allowed, {refused} refused"
        );
    }

    #[test]
    fn statuses_round_trip_through_their_wire_names() {
        for s in S::ALL {
            assert_eq!(s.as_str().parse::<S>().unwrap(), s);
        }
        assert_eq!(S::InUse.as_str(), "in-use");
        assert!("in_use".parse::<S>().is_err());
        for a in ["detached", "reserved", "attaching", "detaching", "attached"] {
            assert_eq!(a.parse::<AttachStatus>().unwrap().as_str(), a);
        }
    }

    #[test]
    fn attachment_machine() {
        use AttachStatus as A;
        use AttachmentEvent as E;
        assert_eq!(
            attachment_transition(A::Reserved, E::Connected),
            Ok(A::Attaching)
        );
        assert_eq!(
            attachment_transition(A::Reserved, E::Completed),
            Ok(A::Attached)
        );
        assert_eq!(
            attachment_transition(A::Attaching, E::Completed),
            Ok(A::Attached)
        );
        assert!(attachment_transition(A::Detached, E::Connected).is_err());
        assert!(attachment_transition(A::Detached, E::Completed).is_err());
    }

    #[test]
    fn attach_status_order_picks_the_highest_live_attachment() {
        assert!(AttachStatus::Attached > AttachStatus::Attaching);
        assert!(AttachStatus::Attaching > AttachStatus::Detaching);
        assert!(AttachStatus::Detaching > AttachStatus::Reserved);
        assert!(AttachStatus::Reserved > AttachStatus::Detached);
    }
}
