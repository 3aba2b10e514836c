//! Volume types as a domain resource: lookup by id or name, the default type, and
//! every write — create, update, delete, extra specs, project access — as functions
//! over a [`Tx`], with Cinder's rules and wording.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::model::VolumeType;
use super::ops::Caller;
use super::store::Tx;
use crate::config::World;
use crate::error::ApiError;

/// Cinder's 404 for a type id or name.
pub fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Volume type {id} could not be found."))
}

/// Parses a type id from a URL; anything but a UUID is simply not found.
pub fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| not_found(raw))
}

/// Finds a type by id or name, as volume create accepts either.
pub fn find<'t>(
    tx: &'t Tx<'_>,
    caller: &Caller,
    name_or_id: &str,
) -> Result<&'t VolumeType, ApiError> {
    let by_id = Uuid::parse_str(name_or_id)
        .ok()
        .and_then(|id| tx.volume_type(id));
    by_id
        .or_else(|| tx.types().find(|t| t.name == name_or_id))
        .filter(|t| t.visible_to(&caller.project_id, caller.is_admin))
        .ok_or_else(|| match Uuid::parse_str(name_or_id) {
            Ok(_) => not_found(name_or_id),
            Err(_) => ApiError::not_found(format!(
                "Volume type with name {name_or_id} could not be found."
            )),
        })
}

/// The project's default type (3.62 `/default-types`) if one is set, else the
/// world's: what volume create and `GET /types/default` use.
pub fn default_for<'t>(
    tx: &'t Tx<'_>,
    world: &World,
    project_id: &str,
) -> Result<&'t VolumeType, ApiError> {
    match super::default_types::for_project(tx, project_id) {
        Some(t) => Ok(t),
        None => default_type(tx, world),
    }
}

/// The world's default type.
pub fn default_type<'t>(tx: &'t Tx<'_>, world: &World) -> Result<&'t VolumeType, ApiError> {
    tx.types()
        .find(|t| t.name == world.default_volume_type)
        .or_else(|| tx.types().find(|t| t.name == "__DEFAULT__"))
        .ok_or_else(|| ApiError::not_found("Default volume type can not be found."))
}

fn stored(tx: &Tx<'_>, id: Uuid) -> Result<VolumeType, ApiError> {
    tx.volume_type(id)
        .cloned()
        .ok_or_else(|| not_found(&id.to_string()))
}

/// `POST /types`: names are unique.
pub fn create(tx: &mut Tx<'_>, t: VolumeType) -> Result<VolumeType, ApiError> {
    if tx.types().any(|x| x.name == t.name) {
        return Err(ApiError::Conflict(format!(
            "Volume Type {} already exists.",
            t.name
        )));
    }
    tx.put_type(t.clone());
    Ok(t)
}

/// `PUT /types/{id}`: what to change; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct TypeUpdate {
    pub name: Option<String>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    pub is_public: Option<bool>,
}

/// `PUT /types/{id}`: unique names; `__DEFAULT__` keeps its name.
pub fn update(tx: &mut Tx<'_>, id: Uuid, change: TypeUpdate) -> Result<VolumeType, ApiError> {
    let mut t = stored(tx, id)?;
    if let Some(n) = change.name {
        if n != t.name && tx.types().any(|x| x.name == n) {
            return Err(ApiError::Conflict(format!(
                "Volume Type {n} already exists."
            )));
        }
        if t.name == "__DEFAULT__" && n != t.name {
            return Err(ApiError::bad_request(
                "The default volume type __DEFAULT__ cannot be renamed.",
            ));
        }
        t.name = n;
    }
    if let Some(d) = change.description {
        t.description = d;
    }
    if let Some(p) = change.is_public {
        t.is_public = p;
    }
    tx.put_type(t.clone());
    Ok(t)
}

/// `DELETE /types/{id}`: never a project's default (3.62), never the world's default
/// type, never one in use.
pub fn delete(tx: &mut Tx<'_>, world: &World, id: Uuid) -> Result<(), ApiError> {
    let t = stored(tx, id)?;
    if super::default_types::in_use(tx, id)
        || t.name == "__DEFAULT__"
        || t.name == world.default_volume_type
    {
        return Err(ApiError::bad_request(format!(
            "The volume type {id} is a default volume type and cannot be deleted."
        )));
    }
    if tx.volumes().any(|v| v.volume_type_id == id) {
        return Err(ApiError::bad_request("Target volume type is still in use."));
    }
    tx.remove_type(id);
    Ok(())
}

/// A change to a type's extra specs.
#[derive(Debug, Clone)]
pub enum SpecChange {
    /// Create or overwrite these keys.
    Merge(BTreeMap<String, String>),
    /// Remove one key (404 when absent).
    Remove(String),
}

/// Extra-spec writes: refused while a volume uses the type, as Cinder does.
pub fn change_specs(tx: &mut Tx<'_>, id: Uuid, change: SpecChange) -> Result<VolumeType, ApiError> {
    let mut t = stored(tx, id)?;
    if tx.volumes().any(|v| v.volume_type_id == id) {
        return Err(ApiError::bad_request(format!(
            "Invalid input received: Volume type {} is currently in use; its extra specs cannot be changed.",
            t.id
        )));
    }
    match change {
        SpecChange::Merge(specs) => t.extra_specs.extend(specs),
        SpecChange::Remove(key) => {
            if t.extra_specs.remove(&key).is_none() {
                return Err(ApiError::not_found(format!(
                    "Volume Type {} has no extra specs with key {key}.",
                    t.id
                )));
            }
        }
    }
    tx.put_type(t.clone());
    Ok(t)
}

/// `addProjectAccess` (`add`) / `removeProjectAccess` on a private type.
pub fn change_access(
    tx: &mut Tx<'_>,
    id: Uuid,
    add: bool,
    project: String,
) -> Result<(), ApiError> {
    let mut t = stored(tx, id)?;
    if t.is_public {
        return Err(ApiError::bad_request(
            "Invalid volume type: Type access modification is not applicable to public volume type.",
        ));
    }
    let changed = if add {
        t.access.insert(project.clone())
    } else {
        t.access.remove(&project)
    };
    if !changed {
        return Err(if add {
            ApiError::Conflict(format!(
                "Volume type access for {} / {project} combination already exists.",
                t.id
            ))
        } else {
            ApiError::not_found(format!(
                "Volume type access not found for {} / {project} combination.",
                t.id
            ))
        });
    }
    tx.put_type(t);
    Ok(())
}
