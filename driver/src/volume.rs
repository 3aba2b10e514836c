//! Volume lifecycle steps shared by add/get/delete: status waits, attach/detach, cleanup.

use std::time::{Duration, Instant};

use crate::backoff::{retry, Next, Schedule};
use crate::client::{CinderClient, Volume};
use crate::config::CinderOptions;
use crate::connector::{connector_for, host_connector, AccessMode, Connector, VolumeIo};
use crate::error::DriverError;

/// Polls `GET /volumes/{id}` until `expected`, on `Schedule::status_polls` (fast first
/// polls, then 0.5·2ⁿ s up to 15 s) while the status is one of `transitional`, for at most
/// `budget` in total. Any other status ends the wait.
pub fn wait_for_status(
    client: &CinderClient,
    volume_id: &str,
    transitional: &[&str],
    expected: &str,
    budget: Duration,
) -> Result<Volume, DriverError> {
    wait_until(client, volume_id, expected, budget, |volume| {
        if volume.status == expected {
            Seen::Reached
        } else if transitional.contains(&volume.status.as_str()) {
            Seen::Passing
        } else {
            Seen::Unexpected
        }
    })
}

/// Waits until the detach of `attachment_id` has taken effect, within `budget`: our
/// attachment is no longer listed and the volume is `available` again, or held by someone
/// else (a multiattach volume's other reader `in-use`, a worker attaching right after ours
/// left, or deleting it; gone counts too). `detaching`, and `in-use` with our attachment
/// still listed, are passing; anything else is unexpected.
pub fn wait_detached(
    client: &CinderClient,
    volume_id: &str,
    attachment_id: &str,
    budget: Duration,
) -> Result<(), DriverError> {
    let waited = wait_until(client, volume_id, "available", budget, |volume| {
        let ours = volume
            .attachments
            .iter()
            .any(|a| a.attachment_id == attachment_id);
        match (volume.status.as_str(), ours) {
            ("detaching", _) | ("in-use", true) => Seen::Passing,
            ("available" | "in-use" | "reserved" | "attaching" | "deleting", false) => {
                Seen::Reached
            }
            (_, _) => Seen::Unexpected,
        }
    });
    match waited {
        Ok(_) | Err(DriverError::Http { status: 404, .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// How a polled volume stands against what a wait expects.
enum Seen {
    Reached,
    /// On its way: poll again.
    Passing,
    /// Neither: the wait ends with `UnexpectedStatus`.
    Unexpected,
}

/// The one status wait: polls on `Schedule::status_polls(budget)` until `judge` finds
/// the volume `Reached` (`expected` names that in the errors).
fn wait_until(
    client: &CinderClient,
    volume_id: &str,
    expected: &str,
    budget: Duration,
    judge: impl Fn(&Volume) -> Seen,
) -> Result<Volume, DriverError> {
    let started = Instant::now();
    retry(&Schedule::status_polls(budget), |_| {
        let volume = match client.show_volume(volume_id) {
            Ok(v) => v,
            Err(e) => return Next::Done(Err(e)),
        };
        match judge(&volume) {
            Seen::Reached => Next::Done(Ok(volume)),
            Seen::Unexpected => Next::Done(Err(DriverError::UnexpectedStatus {
                volume_id: volume_id.into(),
                expected: expected.into(),
                status: volume.status,
            })),
            Seen::Passing => Next::Again(DriverError::Timeout {
                volume_id: volume_id.into(),
                expected: expected.into(),
                last_status: volume.status,
                waited_s: started.elapsed().as_secs(),
            }),
        }
    })
}

/// Waits until the volume is gone (404) after an acknowledged delete, within `budget`.
/// Cinder moves the volume to `deleting` before it answers 202, so finding it in any
/// other status but `error_deleting` means the delete was acknowledged and not applied.
pub fn wait_deleted(
    client: &CinderClient,
    volume_id: &str,
    budget: Duration,
) -> Result<(), DriverError> {
    match wait_for_status(client, volume_id, &["deleting"], "(deleted)", budget) {
        Err(DriverError::Http { status: 404, .. }) => Ok(()),
        Err(DriverError::UnexpectedStatus { status, .. }) if status != "error_deleting" => {
            Err(DriverError::Inconsistent(format!(
                "Cinder acknowledged the delete of volume {volume_id} but the volume is still '{status}'"
            )))
        }
        Err(e) => Err(e),
        Ok(_) => Ok(()),
    }
}

/// A volume attached to this host and opened.
pub struct Attached {
    pub attachment_id: String,
    pub file: Box<dyn VolumeIo>,
    connector: Box<dyn Connector>,
}

impl Attached {
    pub fn connector(&self) -> &dyn Connector {
        self.connector.as_ref()
    }
}

/// Cinder's 400s for a volume another attach or detach is changing: the only errors an
/// attachment create is retried on (glance_store 5.7's `_retry_on_bad_request`, the same
/// two messages, case-insensitive).
fn is_busy(err: &DriverError) -> bool {
    const BUSY: [&str; 2] = [
        "status must be available or downloading to reserve",
        "status must be available or in-use or downloading to reserve",
    ];
    match err {
        DriverError::Http {
            status: 400,
            message,
            ..
        } => {
            let message = message.to_lowercase();
            BUSY.iter().any(|busy| message.contains(busy))
        }
        _ => false,
    }
}

/// Attachment create → update (connector) → os-complete → open. Create is retried while
/// Cinder says the volume is busy (`cinder_attachment_retry_attempts`, 2/4/8/10 s waits).
/// On any failure after create, the attachment is deleted before the error is returned.
pub fn attach(
    client: &CinderClient,
    options: &CinderOptions,
    volume_id: &str,
    mode: AccessMode,
) -> Result<Attached, DriverError> {
    let schedule = Schedule::attachment(options.attachment_retry_attempts);
    let attachment = retry(&schedule, |attempt| {
        match client.create_attachment(volume_id, mode.as_str()) {
            Err(e) if is_busy(&e) => {
                tracing::debug!(
                    volume_id,
                    attempt,
                    "volume busy, retrying attachment create"
                );
                Next::Again(e)
            }
            other => Next::Done(other),
        }
    })?;
    let finish = || -> Result<Attached, DriverError> {
        let updated = client.update_attachment(&attachment.id, &host_connector(options, mode))?;
        let info = updated.connection_info.unwrap_or_default();
        let connector = connector_for(&info, options)?;
        client.complete_attachment(&attachment.id)?;
        let file = connector.open(mode)?;
        Ok(Attached {
            attachment_id: attachment.id.clone(),
            file,
            connector,
        })
    };
    finish().inspect_err(|_| {
        if let Err(e) = client.delete_attachment(&attachment.id) {
            tracing::warn!(volume_id, attachment_id = %attachment.id, error = %e, "could not delete attachment");
        }
    })
}

/// Closes the device (syncing writes), disconnects and deletes the attachment.
pub fn detach(client: &CinderClient, attached: Attached, synced: bool) -> Result<(), DriverError> {
    let Attached {
        attachment_id,
        mut file,
        connector,
    } = attached;
    let sync = if synced {
        file.sync().map_err(|source| DriverError::Io {
            path: format!("attachment {attachment_id}"),
            source,
        })
    } else {
        Ok(())
    };
    drop(file);
    let disconnect = connector.disconnect();
    client.delete_attachment(&attachment_id)?;
    sync?;
    disconnect
}

/// Best-effort removal after a failure: every known and listed attachment, then the volume
/// (force-deleted when a plain delete is refused), waiting until it is gone.
pub fn cleanup_volume(
    client: &CinderClient,
    options: &CinderOptions,
    volume_id: &str,
    known_attachments: &[String],
) -> Result<(), DriverError> {
    let mut ids: Vec<String> = known_attachments.to_vec();
    match client.list_attachments(volume_id) {
        Ok(listed) => ids.extend(listed.into_iter().map(|a| a.id)),
        Err(e) => {
            tracing::warn!(volume_id, error = %e, "could not list attachments during cleanup")
        }
    }
    ids.sort();
    ids.dedup();
    for id in &ids {
        match client.delete_attachment(id) {
            Ok(()) | Err(DriverError::Http { status: 404, .. }) => {}
            Err(e) => {
                tracing::warn!(volume_id, attachment_id = %id, error = %e, "could not delete attachment")
            }
        }
    }
    let deleted = match client.delete_volume(volume_id) {
        Err(DriverError::Http { status: 400, .. }) => {
            client.volume_action(volume_id, serde_json::json!({"os-force_delete": {}}))
        }
        other => other,
    };
    match deleted {
        Ok(()) => wait_deleted(client, volume_id, options.state_transition_timeout()),
        Err(DriverError::Http { status: 404, .. }) => Ok(()),
        Err(e) => Err(e),
    }
    .inspect_err(|e| tracing::error!(volume_id, error = %e, "volume left behind after a failure"))
}
