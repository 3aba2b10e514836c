//! Volume lifecycle steps shared by add/get/delete: status waits, attach/detach, cleanup.

use std::time::{Duration, Instant};

use crate::backoff::{attachment_retry_delay, schedule};
use crate::client::{CinderClient, Volume};
use crate::config::CinderOptions;
use crate::connector::{connector_for, host_connector, AccessMode, Connector, VolumeIo};
use crate::error::DriverError;

/// Polls `GET /volumes/{id}` until `expected`, on `backoff::schedule` (fast first polls, then
/// 0.5·2ⁿ s up to 15 s) while the status is one of `transitional`, for at most `budget` in
/// total. Any other status ends the wait.
pub fn wait_for_status(
    client: &CinderClient,
    volume_id: &str,
    transitional: &[&str],
    expected: &str,
    budget: Duration,
) -> Result<Volume, DriverError> {
    let started = Instant::now();
    let sleeps = schedule(budget);
    let mut last_status = String::from("(unknown)");
    for sleep in sleeps.iter().map(Some).chain([None]) {
        let volume = client.show_volume(volume_id)?;
        if volume.status == expected {
            return Ok(volume);
        }
        if !transitional.contains(&volume.status.as_str()) {
            return Err(DriverError::UnexpectedStatus {
                volume_id: volume_id.into(),
                expected: expected.into(),
                status: volume.status,
            });
        }
        last_status = volume.status;
        if let Some(sleep) = sleep {
            std::thread::sleep(*sleep);
        }
    }
    Err(DriverError::Timeout {
        volume_id: volume_id.into(),
        expected: expected.into(),
        last_status,
        waited_s: started.elapsed().as_secs(),
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

fn is_busy(err: &DriverError) -> bool {
    matches!(err, DriverError::Http { status: 400, message, .. }
        if message.contains("to reserve") || message.contains("status must be"))
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
    let attempts = options.attachment_retry_attempts.max(1);
    let mut attempt = 0;
    let attachment = loop {
        match client.create_attachment(volume_id, mode.as_str()) {
            Ok(a) => break a,
            Err(e) if is_busy(&e) && attempt + 1 < attempts => {
                tracing::debug!(
                    volume_id,
                    attempt,
                    "volume busy, retrying attachment create"
                );
                std::thread::sleep(attachment_retry_delay(attempt));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    };
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
