//! Attachments (the 3.27+ API) and the legacy attach actions (`os-reserve`,
//! `os-attach`, `os-detach`, ...) as plain operations over a store [`Tx`]. A volume's
//! status changes only through `ops::apply` or `ops::recompute_from_attachments`.

use std::fmt::Display;

use serde_json::Value;
use uuid::Uuid;

use super::model::{now, Attachment};
use super::ops::{self, Caller};
use super::status::{
    attachment_transition, AttachStatus, AttachmentEvent, StatusClass, VolumeEvent, VolumeStatus,
};
use super::store::Tx;
use crate::error::ApiError;

/// Cinder's 404 for an attachment id it does not know (or may not show).
pub fn not_found(raw: impl Display) -> ApiError {
    ApiError::not_found(format!(
        "Volume attachment could not be found with filter: attachment_id = {raw}."
    ))
}

/// An attachment whose volume the caller may see, or Cinder's 404.
pub fn visible<'t>(tx: &'t Tx<'_>, caller: &Caller, id: Uuid) -> Result<&'t Attachment, ApiError> {
    tx.attachment(id)
        .filter(|a| tx.volume(a.volume_id).is_some_and(|v| caller.sees(v)))
        .ok_or_else(|| not_found(id))
}

/// An attachment right after a change: `reported` is what Cinder answers (the record
/// as loaded before the volume service made the connection, so still `reserved` and
/// without `attached_at`), `stored` is what later reads see.
#[derive(Debug, Clone)]
pub struct Changed {
    pub reported: Attachment,
    pub stored: Attachment,
}

/// `POST /attachments`.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub volume_id: Uuid,
    pub instance_uuid: Option<Uuid>,
    pub connector: Option<Value>,
    /// `rw`/`ro` from 3.54; None is Cinder's `"null"`.
    pub mode: Option<String>,
}

fn or_list(statuses: &[VolumeStatus]) -> String {
    statuses
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

fn is_readonly(v: &super::model::Volume) -> bool {
    v.admin_metadata.get("readonly").map(String::as_str) == Some("True")
}

/// Creates an attachment in `reserved` (and connects it at once when a connector
/// is given), as Cinder's `attachment_create` does.
pub fn create(tx: &mut Tx<'_>, caller: &Caller, req: NewAttachment) -> Result<Changed, ApiError> {
    let v = ops::visible(tx, caller, req.volume_id)?.clone();
    let mut allowed = vec![VolumeStatus::Available];
    if v.multiattach {
        allowed.push(VolumeStatus::InUse);
    }
    allowed.push(VolumeStatus::Downloading);
    if !allowed.contains(&v.status) {
        // Cinder lets the same instance reserve again (e.g. during a migration).
        let same_instance = req.instance_uuid.is_some()
            && matches!(v.status, VolumeStatus::InUse | VolumeStatus::Reserved)
            && tx
                .attachments_of(v.id)
                .iter()
                .any(|a| a.instance_uuid == req.instance_uuid);
        if !same_instance {
            return Err(ApiError::bad_request(format!(
                "Invalid volume: Volume {} status must be {} to reserve, but the current status is {}.",
                v.id,
                or_list(&allowed),
                v.status
            )));
        }
    }
    let mode = if is_readonly(&v) {
        Some("ro".to_string())
    } else {
        req.mode
    };
    let reserved = Attachment {
        id: Uuid::new_v4(),
        volume_id: v.id,
        project_id: v.project_id.clone(),
        instance_uuid: req.instance_uuid,
        status: AttachStatus::Reserved,
        attach_mode: mode,
        connector: None,
        host_name: None,
        mountpoint: None,
        attached_at: None,
        created_at: now(),
    };
    tx.put_attachment(reserved.clone());
    let stored = match req.connector {
        Some(connector) => connect(tx, reserved.clone(), connector)?,
        None => reserved.clone(),
    };
    ops::recompute_from_attachments(tx, v.id)?;
    Ok(Changed {
        reported: reserved,
        stored,
    })
}

/// What the volume service records when it makes a connection for `a`.
fn connect(tx: &mut Tx<'_>, mut a: Attachment, connector: Value) -> Result<Attachment, ApiError> {
    let text = |k: &str| connector.get(k).and_then(Value::as_str).map(String::from);
    a.status = attachment_transition(a.status, AttachmentEvent::Connected)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    a.attached_at = Some(now());
    a.host_name = text("host");
    a.mountpoint = text("mountpoint");
    if a.attach_mode.is_none() {
        // Below 3.54 the connector's own `mode` decides, as in Cinder.
        a.attach_mode = Some(match text("mode").as_deref() {
            Some("ro") => "ro".into(),
            _ => "rw".into(),
        });
    }
    a.connector = Some(connector);
    tx.put_attachment(a.clone());
    Ok(a)
}

/// `PUT /attachments/{id}` with a connector: the attachment and volume go `attaching`.
pub fn update(
    tx: &mut Tx<'_>,
    caller: &Caller,
    id: Uuid,
    connector: Value,
) -> Result<Changed, ApiError> {
    let a = visible(tx, caller, id)?.clone();
    let volume_id = a.volume_id;
    if let Some(v) = tx.volume(volume_id) {
        if v.status.as_str().contains("error") {
            return Err(ApiError::Conflict(format!(
                "Volume attachments can not be updated if the volume is in an error state. The Volume {} currently has a status of: {} ",
                v.id, v.status
            )));
        }
    }
    let stored = connect(tx, a.clone(), connector)?;
    ops::recompute_from_attachments(tx, volume_id)?;
    Ok(Changed {
        reported: a,
        stored,
    })
}

/// `os-complete`: the attachment is `attached`, the volume `in-use`. Cinder checks no
/// status here, so a `reserved` attachment may be completed too.
pub fn complete(tx: &mut Tx<'_>, caller: &Caller, id: Uuid) -> Result<(), ApiError> {
    let mut a = visible(tx, caller, id)?.clone();
    a.status = attachment_transition(a.status, AttachmentEvent::Completed)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    a.attached_at.get_or_insert_with(now);
    let volume_id = a.volume_id;
    tx.put_attachment(a);
    ops::recompute_from_attachments(tx, volume_id)
}

/// `DELETE /attachments/{id}`: returns the volume's remaining attachments.
pub fn delete(tx: &mut Tx<'_>, caller: &Caller, id: Uuid) -> Result<Vec<Attachment>, ApiError> {
    let a = visible(tx, caller, id)?.clone();
    tx.remove_attachment(a.id);
    ops::recompute_from_attachments(tx, a.volume_id)?;
    let mut rest: Vec<Attachment> = tx
        .attachments_of(a.volume_id)
        .into_iter()
        .cloned()
        .collect();
    rest.sort_by_key(|x| (x.created_at, x.id));
    Ok(rest)
}

// ---- legacy actions ------------------------------------------------------------

fn maintenance(v: &super::model::Volume, what: &str) -> Result<(), ApiError> {
    if v.status == VolumeStatus::Maintenance {
        return Err(ApiError::bad_request(format!(
            "Invalid volume: The volume {what} in maintenance mode."
        )));
    }
    Ok(())
}

/// `os-reserve`: `available` (or `in-use` when multiattach) → `attaching`.
pub fn reserve(tx: &mut Tx<'_>, caller: &Caller, id: Uuid) -> Result<(), ApiError> {
    let mut v = ops::visible(tx, caller, id)?.clone();
    let (from, multiattach) = (v.status, v.multiattach);
    ops::apply(&mut v, VolumeEvent::Reserve { multiattach }).map_err(|_| {
        let expected = if multiattach {
            "available or in-use"
        } else {
            "available"
        };
        ApiError::bad_request(format!(
            "Invalid volume: Volume status must be {expected} to reserve, but the status is {from}."
        ))
    })?;
    tx.put_volume(v);
    Ok(())
}

/// `os-unreserve`: `attaching` → `in-use` when any attachment exists, else
/// `available`; a no-op from any other status.
pub fn unreserve(tx: &mut Tx<'_>, caller: &Caller, id: Uuid) -> Result<(), ApiError> {
    let mut v = ops::visible(tx, caller, id)?.clone();
    let attached = !tx.attachments_of(id).is_empty();
    let before = v.status;
    ops::apply(&mut v, VolumeEvent::Unreserve { attached })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if v.status != before {
        tx.put_volume(v);
    }
    Ok(())
}

/// `os-begin_detaching`: `in-use` with an attached attachment → `detaching`.
pub fn begin_detaching(tx: &mut Tx<'_>, caller: &Caller, id: Uuid) -> Result<(), ApiError> {
    let mut v = ops::visible(tx, caller, id)?.clone();
    let refused = || {
        ApiError::bad_request(
            "Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.",
        )
    };
    if ops::attach_status(tx, id) != AttachStatus::Attached {
        return Err(refused());
    }
    ops::apply(&mut v, VolumeEvent::BeginDetaching).map_err(|_| refused())?;
    tx.put_volume(v);
    Ok(())
}

/// `os-roll_detaching`: `detaching` → `in-use`; a no-op otherwise.
pub fn roll_detaching(tx: &mut Tx<'_>, caller: &Caller, id: Uuid) -> Result<(), ApiError> {
    let mut v = ops::visible(tx, caller, id)?.clone();
    let before = v.status;
    ops::apply(&mut v, VolumeEvent::RollDetaching)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if v.status != before {
        tx.put_volume(v);
    }
    Ok(())
}

/// `os-attach`.
#[derive(Debug, Clone)]
pub struct LegacyAttach {
    pub instance_uuid: Option<Uuid>,
    pub host_name: Option<String>,
    pub mountpoint: String,
    pub mode: String,
}

/// `os-attach`: records an `attached` attachment, sets admin metadata
/// `attached_mode`, and the volume becomes `in-use`.
pub fn attach(
    tx: &mut Tx<'_>,
    caller: &Caller,
    id: Uuid,
    req: LegacyAttach,
) -> Result<Attachment, ApiError> {
    let mut v = ops::visible(tx, caller, id)?.clone();
    maintenance(&v, "cannot be attached")?;
    let readonly = v
        .admin_metadata
        .entry("readonly".into())
        .or_insert_with(|| "False".into())
        .clone();
    if readonly == "True" && req.mode != "ro" {
        return Err(ApiError::bad_request(format!(
            "Invalid attaching mode '{}' for volume {id}.",
            req.mode
        )));
    }
    let refused = |reason: &str| {
        ApiError::bad_request(format!(
            "Error attaching volume - InvalidVolume: Invalid volume: {reason}"
        ))
    };
    if v.status == VolumeStatus::Attaching
        && v.admin_metadata
            .get("attached_mode")
            .is_some_and(|m| *m != req.mode)
    {
        return Err(refused("being attached by different mode"));
    }
    let existing = tx
        .attachments_of(id)
        .into_iter()
        .find(|a| match req.instance_uuid {
            Some(instance) => a.instance_uuid == Some(instance),
            None => a.instance_uuid.is_none() && a.host_name == req.host_name,
        })
        .cloned();
    if let Some(existing) = existing {
        tx.put_volume(v);
        ops::recompute_from_attachments(tx, id)?;
        return Ok(existing);
    }
    if v.status == VolumeStatus::InUse && !v.multiattach {
        return Err(refused(
            "volume is already attached and multiple attachments are not enabled",
        ));
    }
    if !matches!(
        v.status.class(),
        StatusClass::Idle | StatusClass::AttachFlow
    ) {
        return Err(refused(&format!(
            "Volume status must be available, reserved, attaching or in-use to attach, currently {}.",
            v.status
        )));
    }
    v.admin_metadata
        .insert("attached_mode".into(), req.mode.clone());
    tx.put_volume(v);
    let a = Attachment {
        id: Uuid::new_v4(),
        volume_id: id,
        project_id: tx
            .volume(id)
            .map(|v| v.project_id.clone())
            .unwrap_or_default(),
        instance_uuid: req.instance_uuid,
        status: AttachStatus::Attached,
        attach_mode: Some(req.mode),
        connector: None,
        host_name: req.host_name,
        mountpoint: Some(req.mountpoint),
        attached_at: Some(now()),
        created_at: now(),
    };
    tx.put_attachment(a.clone());
    ops::recompute_from_attachments(tx, id)?;
    Ok(a)
}

/// `os-detach` (and the detach half of `os-force_detach`, whose errors start with
/// `error_prefix`): removes one attachment and recomputes the volume. Without an
/// attachment id the volume's only attachment is meant; an unknown one just
/// recomputes, as Cinder does.
pub fn detach(
    tx: &mut Tx<'_>,
    caller: &Caller,
    id: Uuid,
    attachment_id: Option<Uuid>,
    error_prefix: &str,
) -> Result<(), ApiError> {
    let v = ops::visible(tx, caller, id)?.clone();
    maintenance(&v, "cannot be detached")?;
    let target = match attachment_id {
        Some(aid) => tx
            .attachment(aid)
            .filter(|a| a.volume_id == id)
            .map(|a| a.id),
        None => {
            let all = tx.attachments_of(id);
            if all.len() > 1 {
                return Err(ApiError::bad_request(format!(
                    "{error_prefix} - InvalidVolume: Invalid volume: Detach volume failed: More than one attachment, but no attachment_id provided."
                )));
            }
            all.first().map(|a| a.id)
        }
    };
    if let Some(aid) = target {
        tx.remove_attachment(aid);
    }
    ops::recompute_from_attachments(tx, id)
}

/// `os-initialize_connection`: the access mode the connection gets (`attached_mode`,
/// else `ro` for a read-only volume, else `rw`). Changes nothing.
pub fn initialize_connection(tx: &Tx<'_>, caller: &Caller, id: Uuid) -> Result<String, ApiError> {
    let v = ops::visible(tx, caller, id)?;
    maintenance(v, "connection cannot be initialized")?;
    Ok(match v.admin_metadata.get("attached_mode") {
        Some(mode) => mode.clone(),
        None if is_readonly(v) => "ro".into(),
        None => "rw".into(),
    })
}

/// `os-terminate_connection`: drops the connection, then unreserves, as Cinder does.
pub fn terminate_connection(tx: &mut Tx<'_>, caller: &Caller, id: Uuid) -> Result<(), ApiError> {
    unreserve(tx, caller, id)
}

/// `os-force_detach` (admin): terminate, then detach.
pub fn force_detach(
    tx: &mut Tx<'_>,
    caller: &Caller,
    id: Uuid,
    attachment_id: Option<Uuid>,
) -> Result<(), ApiError> {
    terminate_connection(tx, caller, id)?;
    detach(
        tx,
        caller,
        id,
        attachment_id,
        "Error force detaching volume",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::model::Volume;
    use crate::volume::store::Store;
    use std::collections::BTreeMap;

    fn caller(project: &str) -> Caller {
        Caller {
            user_id: "u".into(),
            project_id: project.into(),
            is_admin: false,
        }
    }

    fn volume(status: VolumeStatus, multiattach: bool) -> Volume {
        Volume {
            id: Uuid::new_v4(),
            seq: 1,
            project_id: "p".into(),
            user_id: "u".into(),
            name: None,
            description: None,
            size_gb: 1,
            status,
            volume_type_id: Uuid::new_v4(),
            availability_zone: "nova".into(),
            bootable: false,
            multiattach,
            metadata: BTreeMap::new(),
            admin_metadata: BTreeMap::new(),
            migration_status: None,
            host: None,
            group_id: None,
            snapshot_id: None,
            source_volid: None,
            created_at: now(),
            updated_at: None,
        }
    }

    /// Runs `f` against a store holding `v`, returning its result and the volume after.
    fn with_volume<R>(
        v: Volume,
        f: impl FnOnce(&mut Tx<'_>, Uuid) -> Result<R, ApiError>,
    ) -> (Result<R, ApiError>, VolumeStatus, usize) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let id = v.id;
        store
            .write_blocking(|tx| {
                if v.status == VolumeStatus::InUse {
                    // An in-use volume has an attached attachment.
                    tx.put_attachment(Attachment {
                        id: Uuid::new_v4(),
                        volume_id: v.id,
                        project_id: v.project_id.clone(),
                        instance_uuid: None,
                        status: AttachStatus::Attached,
                        attach_mode: Some("rw".into()),
                        connector: None,
                        host_name: None,
                        mountpoint: None,
                        attached_at: Some(now()),
                        created_at: now(),
                    });
                }
                tx.put_volume(v);
                Ok(())
            })
            .unwrap();
        let r = store.write_blocking(|tx| f(tx, id));
        let (status, n) = store.read(|s| (s.volumes[&id].status, s.attachments_of(id).count()));
        (r, status, n)
    }

    fn check_create(from: VolumeStatus, multiattach: bool, expected: Result<VolumeStatus, &str>) {
        let (r, status, n) = with_volume(volume(from, multiattach), |tx, id| {
            create(
                tx,
                &caller("p"),
                NewAttachment {
                    volume_id: id,
                    instance_uuid: None,
                    connector: None,
                    mode: None,
                },
            )
        });
        let before = usize::from(from == VolumeStatus::InUse);
        match expected {
            Ok(to) => {
                assert!(r.is_ok(), "{from}: {r:?}");
                assert_eq!((status, n), (to, before + 1), "{from}");
            }
            Err(fragment) => {
                let msg = r.expect_err(from.as_str()).to_string();
                assert!(msg.contains(fragment), "{from}: {msg}");
                assert_eq!((status, n), (from, before), "{from}");
            }
        }
    }

    #[test]
    fn attachment_create_statuses() {
        use VolumeStatus as S;
        check_create(S::Available, false, Ok(S::Reserved));
        check_create(S::Downloading, false, Ok(S::Downloading));
        check_create(
            S::InUse,
            false,
            Err("status must be available or downloading to reserve, but the current status is in-use."),
        );
        check_create(S::InUse, true, Ok(S::InUse));
        check_create(S::Reserved, true, Err("available or in-use or downloading"));
        check_create(S::Error, false, Err("current status is error."));
        check_create(
            S::ErrorExtending,
            true,
            Err("current status is error_extending."),
        );
    }

    #[test]
    fn other_projects_attachments_are_not_found() {
        let (r, status, _) = with_volume(volume(VolumeStatus::Available, false), |tx, id| {
            create(
                tx,
                &caller("other"),
                NewAttachment {
                    volume_id: id,
                    instance_uuid: None,
                    connector: None,
                    mode: None,
                },
            )
        });
        assert!(r.unwrap_err().to_string().contains("could not be found"));
        assert_eq!(status, VolumeStatus::Available);
    }

    #[test]
    fn legacy_cycle_moves_the_volume_through_its_statuses() {
        let (r, status, n) = with_volume(volume(VolumeStatus::Available, false), |tx, id| {
            let c = caller("p");
            reserve(tx, &c, id)?;
            let mut seen = vec![tx.volume(id).unwrap().status];
            attach(
                tx,
                &c,
                id,
                LegacyAttach {
                    instance_uuid: None,
                    host_name: Some("h".into()),
                    mountpoint: "/dev/vdb".into(),
                    mode: "rw".into(),
                },
            )?;
            seen.push(tx.volume(id).unwrap().status);
            assert_eq!(tx.volume(id).unwrap().admin_metadata["attached_mode"], "rw");
            begin_detaching(tx, &c, id)?;
            seen.push(tx.volume(id).unwrap().status);
            roll_detaching(tx, &c, id)?;
            seen.push(tx.volume(id).unwrap().status);
            detach(tx, &c, id, None, "Error detaching volume")?;
            seen.push(tx.volume(id).unwrap().status);
            assert!(!tx
                .volume(id)
                .unwrap()
                .admin_metadata
                .contains_key("attached_mode"));
            Ok(seen)
        });
        use VolumeStatus as S;
        assert_eq!(
            r.unwrap(),
            vec![S::Attaching, S::InUse, S::Detaching, S::InUse, S::Available]
        );
        assert_eq!((status, n), (S::Available, 0));
    }
}
