//! Default volume types per project (3.62, `/default-types`): an admin sets, shows,
//! lists and unsets a project's default type; volume create and `GET /types/default`
//! use it before the world's default type, as Cinder's `get_default_volume_type` does.
//! Each override is a record keyed by project id.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::VolumeType;
use super::ops::Caller;
use super::store::{Record, State, Tx};
use crate::config::World;
use crate::error::ApiError;

/// One project's default type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectDefault {
    pub project_id: String,
    pub volume_type_id: Uuid,
}

impl Record for ProjectDefault {
    const KIND: &'static str = "default_type";
    fn key(&self) -> String {
        self.project_id.clone()
    }
}

/// `validate_project_and_authorize`: Keystone's 404 for a project it does not know.
pub fn known_project(world: &World, project_id: &str) -> Result<(), ApiError> {
    match world.project(project_id) {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(format!(
            "Project with id {project_id} not found."
        ))),
    }
}

/// `PUT /default-types/{project}`: the type by name or id (any type, as an admin sees
/// them); an unknown type is Cinder's 400 with the not-found text.
pub fn set(
    tx: &mut Tx<'_>,
    caller: &Caller,
    project_id: &str,
    type_name_or_id: &str,
) -> Result<ProjectDefault, ApiError> {
    let volume_type_id = super::types::find(tx, caller, type_name_or_id)
        .map_err(|e| ApiError::bad_request(e.to_string()))?
        .id;
    let d = ProjectDefault {
        project_id: project_id.to_string(),
        volume_type_id,
    };
    tx.put_record(&d);
    Ok(d)
}

/// `GET /default-types/{project}`.
pub fn get(tx: &Tx<'_>, project_id: &str) -> Result<ProjectDefault, ApiError> {
    tx.record::<ProjectDefault>(project_id).ok_or_else(|| {
        ApiError::not_found(format!("Default type for project {project_id} not found."))
    })
}

/// `GET /default-types`: every override, by project id.
pub fn list(state: &State) -> Vec<ProjectDefault> {
    state.records::<ProjectDefault>()
}

/// `DELETE /default-types/{project}`: nothing to do when none is set.
pub fn unset(tx: &mut Tx<'_>, project_id: &str) {
    tx.remove_record::<ProjectDefault>(project_id);
}

/// The project's own default type, if one is set and the type still exists.
pub fn for_project<'t>(tx: &'t Tx<'_>, project_id: &str) -> Option<&'t VolumeType> {
    tx.record::<ProjectDefault>(project_id)
        .and_then(|d| tx.volume_type(d.volume_type_id))
}

/// Whether some project has this type as its default (such a type cannot be deleted).
pub fn in_use(tx: &Tx<'_>, volume_type_id: Uuid) -> bool {
    tx.records::<ProjectDefault>()
        .iter()
        .any(|d| d.volume_type_id == volume_type_id)
}
