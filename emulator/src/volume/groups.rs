//! Generic volume groups (3.13): a group of volumes of given types under a group type;
//! volumes join at create (`group_id`) or by update, leave by update, and go with the
//! group when it is deleted with `delete-volumes`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::group_types::GroupType;
use super::model::{now, Timestamp};
use super::ops::{self, Caller};
use super::status::VolumeStatus;
use super::store::{Record, Tx};
use crate::error::ApiError;

/// The statuses Cinder's `groups` table holds.
pub const STATUSES: [&str; 6] = [
    "creating",
    "available",
    "updating",
    "deleting",
    "error",
    "error_deleting",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub id: Uuid,
    pub project_id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub group_type_id: Uuid,
    pub volume_type_ids: Vec<Uuid>,
    pub availability_zone: String,
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
}

impl Record for Group {
    const KIND: &'static str = "group";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

pub fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Group {id} could not be found."))
}

pub fn get(tx: &Tx<'_>, caller: &Caller, raw: &str) -> Result<Group, ApiError> {
    Uuid::parse_str(raw)
        .ok()
        .and_then(|id| tx.record::<Group>(&id.to_string()))
        .filter(|g| caller.is_admin || g.project_id == caller.project_id)
        .ok_or_else(|| not_found(raw))
}

/// What a create names; the group type and volume types are ids or names.
#[derive(Debug, Clone)]
pub struct NewGroup {
    pub name: Option<String>,
    pub description: Option<String>,
    pub group_type: String,
    pub volume_types: Vec<String>,
    pub availability_zone: String,
}

pub fn create(tx: &mut Tx<'_>, caller: &Caller, new: NewGroup) -> Result<Group, ApiError> {
    let gt = tx
        .records::<GroupType>()
        .into_iter()
        .find(|g| g.id.to_string() == new.group_type || g.name == new.group_type)
        .filter(|g| g.is_public || caller.is_admin)
        .ok_or_else(|| super::group_types::not_found(&new.group_type))?;
    if new.volume_types.is_empty() {
        return Err(ApiError::bad_request(
            "Invalid input received: volume_types must be provided to create group.",
        ));
    }
    let mut type_ids = Vec::new();
    for t in &new.volume_types {
        type_ids.push(ops::find_type(tx, caller, t)?.id);
    }
    let g = Group {
        id: Uuid::new_v4(),
        project_id: caller.project_id.clone(),
        user_id: caller.user_id.clone(),
        name: new.name,
        description: new.description,
        group_type_id: gt.id,
        volume_type_ids: type_ids,
        availability_zone: new.availability_zone,
        status: "available".into(),
        created_at: now(),
    };
    tx.put_record(&g);
    Ok(g)
}

/// Checks that a volume of `type_id` may be created in (or added to) the group.
pub fn admit(
    tx: &Tx<'_>,
    caller: &Caller,
    raw_group: &str,
    type_id: Uuid,
) -> Result<Uuid, ApiError> {
    let g = get(tx, caller, raw_group)?;
    if g.status != "available" {
        return Err(ApiError::bad_request(format!(
            "Invalid group: Group {} status must be available, but current status is: {}.",
            g.id, g.status
        )));
    }
    if !g.volume_type_ids.contains(&type_id) {
        return Err(ApiError::bad_request(format!(
            "Invalid input received: Invalid volume_type provided: {type_id}. The group {} does not support it.",
            g.id
        )));
    }
    Ok(g.id)
}

/// The volumes in a group.
pub fn members(tx: &Tx<'_>, id: Uuid) -> Vec<Uuid> {
    tx.volumes()
        .filter(|v| v.group_id == Some(id))
        .map(|v| v.id)
        .collect()
}

fn ids(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Name, description and membership changes.
pub fn update(
    tx: &mut Tx<'_>,
    caller: &Caller,
    raw: &str,
    name: Option<Option<String>>,
    description: Option<Option<String>>,
    add: &str,
    remove: &str,
) -> Result<(), ApiError> {
    let mut g = get(tx, caller, raw)?;
    for vid in ids(add) {
        let id = ops::parse_volume_id(vid)?;
        let mut v = ops::visible(tx, caller, id)?.clone();
        if v.group_id.is_some() && v.group_id != Some(g.id) {
            return Err(ApiError::bad_request(format!(
                "Invalid volume: Cannot add volume {id} to group {} because it is already in a group.",
                g.id
            )));
        }
        if !matches!(v.status, VolumeStatus::Available | VolumeStatus::InUse) {
            return Err(ApiError::bad_request(format!(
                "Invalid volume: Cannot add volume {id} to group {} because volume is in an invalid state: {}.",
                g.id, v.status
            )));
        }
        admit(tx, caller, raw, v.volume_type_id)?;
        v.group_id = Some(g.id);
        tx.put_volume(v);
    }
    for vid in ids(remove) {
        let id = ops::parse_volume_id(vid)?;
        let mut v = ops::visible(tx, caller, id)?.clone();
        if v.group_id != Some(g.id) {
            return Err(ApiError::bad_request(format!(
                "Invalid volume: Cannot remove volume {id} from group {} because it is not in the group.",
                g.id
            )));
        }
        v.group_id = None;
        tx.put_volume(v);
    }
    if let Some(n) = name {
        g.name = n;
    }
    if let Some(d) = description {
        g.description = d;
    }
    tx.put_record(&g);
    Ok(())
}

/// Removes the group; with `delete_volumes` its volumes start deleting (their ids are
/// returned for the jobs), without it a group with volumes is refused.
pub fn delete(
    tx: &mut Tx<'_>,
    caller: &Caller,
    raw: &str,
    delete_volumes: bool,
) -> Result<Vec<Uuid>, ApiError> {
    let g = get(tx, caller, raw)?;
    let vols = members(tx, g.id);
    if !vols.is_empty() && !delete_volumes {
        return Err(ApiError::bad_request(format!(
            "Invalid group: Group {} still contains volumes. The delete-volumes flag is required to delete it.",
            g.id
        )));
    }
    for id in &vols {
        ops::begin_delete(tx, caller, *id, false)?;
    }
    tx.remove_record::<Group>(&g.key());
    Ok(vols)
}

pub fn reset_status(
    tx: &mut Tx<'_>,
    caller: &Caller,
    raw: &str,
    status: &str,
) -> Result<(), ApiError> {
    let mut g = get(tx, caller, raw)?;
    if !STATUSES.contains(&status) {
        return Err(ApiError::bad_request(format!(
            "Invalid input received: Group status: {status}, is not valid."
        )));
    }
    g.status = status.to_string();
    tx.put_record(&g);
    Ok(())
}
