//! Holding a volume in a status of the attach flow (`reserved`, `attaching`,
//! `detaching`) for a while after an attachment call, when the [`Hooks`] ask for it
//! ([`Hooks::hold`]): the slow volume service several Glance workers race against.
//! The hold ends with the status the volume's attachments give, unless something else
//! changed the status meanwhile.
//!
//! [`Hooks`]: super::hooks::Hooks
//! [`Hooks::hold`]: super::hooks::Hooks::hold

use uuid::Uuid;

use super::domain::Domain;
use super::hooks::AttachCall;
use super::ops;
use super::status::{StatusClass, VolumeEvent, VolumeStatus};
use super::store::Tx;
use crate::error::ApiError;

/// Puts `volume_id` in `status` when it is idle or in the attach flow; returns whether
/// it did (a volume a job or an error owns is left alone).
pub fn begin(tx: &mut Tx<'_>, volume_id: Uuid, status: VolumeStatus) -> Result<bool, ApiError> {
    let Some(mut v) = tx.volume(volume_id).cloned() else {
        return Ok(false);
    };
    match v.status.class() {
        StatusClass::Idle | StatusClass::AttachFlow => {}
        StatusClass::Busy | StatusClass::Failed => return Ok(false),
    }
    ops::apply(&mut v, VolumeEvent::Reset(status))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    tx.put_volume(v);
    Ok(true)
}

/// Ends a hold: a volume still in the held `status` takes the status its attachments
/// give; any other status is left as it is.
pub fn end(tx: &mut Tx<'_>, volume_id: Uuid, status: VolumeStatus) -> Result<(), ApiError> {
    match tx.volume(volume_id) {
        Some(v) if v.status == status => ops::recompute_from_attachments(tx, volume_id),
        Some(_) | None => Ok(()),
    }
}

/// After the attachment call `call` on `volume_id` committed: asks the hooks for a
/// hold, shows it, and ends it in the background after its time.
pub async fn after(domain: &Domain, volume_id: Uuid, call: AttachCall) -> Result<(), ApiError> {
    let Some(hold) = domain.hooks.hold(volume_id, call) else {
        return Ok(());
    };
    let status = hold.status;
    let held = domain.write(move |tx| begin(tx, volume_id, status)).await?;
    if !held {
        return Ok(());
    }
    tracing::info!(%volume_id, %status, ms = hold.duration.as_millis() as u64, "volume held");
    let domain = domain.clone();
    tokio::spawn(async move {
        tokio::time::sleep(hold.duration).await;
        if let Err(e) = domain.write(move |tx| end(tx, volume_id, status)).await {
            tracing::error!(%volume_id, error = %e, "could not end a hold");
        }
    });
    Ok(())
}
