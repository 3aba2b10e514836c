//! Volume type handlers: list, show, default, admin create/update/delete, extra specs
//! and project access for private types.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::views::{self, py_repr};
use super::Req;
use crate::error::ApiError;
use crate::volume::model::VolumeType;
use crate::volume::ops;

fn type_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Volume type {id} could not be found."))
}

/// A type the caller may see, by id (names are accepted too, as Cinder does).
fn visible_type(req: &Req, raw: &str) -> Result<VolumeType, ApiError> {
    req.app
        .domain
        .store
        .read(|s| {
            Uuid::parse_str(raw)
                .ok()
                .and_then(|id| s.types.get(&id))
                .or_else(|| s.type_by_name(raw))
                .cloned()
        })
        .filter(|t| t.visible_to(&req.caller.project_id, req.caller.is_admin))
        .ok_or_else(|| type_not_found(raw))
}

pub async fn list(req: &Req) -> Result<Response, ApiError> {
    // Admins may ask for private types (`is_public=false`) or all (`None`).
    let want_public = match req.query("is_public") {
        Some(v) if v.eq_ignore_ascii_case("none") => None,
        Some(v) if matches!(v.to_ascii_lowercase().as_str(), "false" | "0" | "no") => Some(false),
        _ => Some(true),
    };
    let types: Vec<Value> = req.app.domain.store.read(|s| {
        let mut ts: Vec<&VolumeType> = s
            .types
            .values()
            .filter(|t| t.visible_to(&req.caller.project_id, req.caller.is_admin))
            .filter(|t| match want_public {
                None => true,
                Some(p) if req.caller.is_admin => t.is_public == p || (!p && !t.is_public),
                Some(_) => true,
            })
            .filter(|t| req.query("name").is_none_or(|n| t.name == n))
            .collect();
        ts.sort_by(|a, b| a.name.cmp(&b.name));
        ts.into_iter()
            .map(|t| views::volume_type(req, t, true))
            .collect()
    });
    Ok(Json(json!({ "volume_types": types })).into_response())
}

pub async fn show(req: &Req, raw: &str) -> Result<Response, ApiError> {
    let t = visible_type(req, raw)?;
    Ok(Json(json!({ "volume_type": views::volume_type(req, &t, true) })).into_response())
}

pub async fn show_default(req: &Req) -> Result<Response, ApiError> {
    let world = req.app.domain.world.clone();
    let t = req
        .app
        .domain
        .store
        .view(|tx| ops::default_type(tx, &world).cloned())?;
    Ok(Json(json!({ "volume_type": views::volume_type(req, &t, false) })).into_response())
}

fn specs_from(v: Option<&Value>) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
    let mut out = std::collections::BTreeMap::new();
    match v {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, val) in m {
                let s = match val {
                    Value::String(s) => s.clone(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    other => {
                        return Err(ApiError::invalid_field(
                            "extra_specs",
                            py_repr(other),
                            "Extra spec values must be strings, numbers or booleans.",
                        ))
                    }
                };
                if k.is_empty() || k.len() > 255 || s.len() > 255 {
                    return Err(ApiError::bad_request(format!(
                        "Invalid input received: Extra spec key and value must be 1 to 255 characters: {k}"
                    )));
                }
                out.insert(k.clone(), s);
            }
        }
        Some(other) => {
            return Err(ApiError::invalid_field(
                "extra_specs",
                py_repr(other),
                "is not of type 'object'",
            ))
        }
    }
    Ok(out)
}

fn name_field(body: &Map<String, Value>, required: bool) -> Result<Option<String>, ApiError> {
    match body.get("name") {
        None if required => Err(ApiError::bad_request("'name' is a required property")),
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 255 => {
            Ok(Some(s.trim().to_string()))
        }
        Some(other) => Err(ApiError::invalid_field(
            "name",
            py_repr(other),
            "Name must be a non-empty string of at most 255 characters.",
        )),
        None => Err(ApiError::bad_request("'name' is a required property")),
    }
}

fn bool_field(v: Option<&Value>, field: &str) -> Result<Option<bool>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Some(true)),
            "false" | "0" | "no" | "off" => Ok(Some(false)),
            _ => Err(ApiError::bad_request(format!(
                "Invalid input received: Invalid value '{s}' for {field}"
            ))),
        },
        Some(other) => Err(ApiError::bad_request(format!(
            "Invalid input received: Invalid value '{}' for {field}",
            py_repr(other)
        ))),
    }
}

pub async fn create(req: &Req) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:types_manage")?;
    let body = req.json_object("volume_type")?;
    let name = name_field(&body, true)?.expect("required");
    let description = match body.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= 255 => Some(s.clone()),
        Some(other) => {
            return Err(ApiError::invalid_field(
                "description",
                py_repr(other),
                "is not a string of at most 255 characters",
            ))
        }
    };
    let is_public = bool_field(body.get("os-volume-type-access:is_public"), "is_public")?
        .or(bool_field(body.get("is_public"), "is_public")?)
        .unwrap_or(true);
    let extra_specs = specs_from(body.get("extra_specs"))?;
    let t = VolumeType {
        id: Uuid::new_v4(),
        name,
        description,
        is_public,
        extra_specs,
        access: Default::default(),
    };
    let t2 = t.clone();
    req.app
        .domain
        .store
        .write(move |tx| {
            if tx.types().any(|x| x.name == t2.name) {
                return Err(ApiError::Conflict(format!(
                    "Volume Type {} already exists.",
                    t2.name
                )));
            }
            tx.put_type(t2);
            Ok(())
        })
        .await?;
    Ok(Json(json!({ "volume_type": views::volume_type(req, &t, true) })).into_response())
}

pub async fn update(req: &Req, raw: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:types_manage")?;
    let id = Uuid::parse_str(raw).map_err(|_| type_not_found(raw))?;
    let body = req.json_object("volume_type")?;
    let name = name_field(&body, false)?;
    let description = match body.get("description") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.len() <= 255 => Some(Some(s.clone())),
        Some(other) => {
            return Err(ApiError::invalid_field(
                "description",
                py_repr(other),
                "is not a string of at most 255 characters",
            ))
        }
    };
    let is_public = bool_field(body.get("is_public"), "is_public")?;
    if name.is_none() && description.is_none() && is_public.is_none() {
        return Err(ApiError::bad_request(
            "Specify volume type name, description, is_public or a combination thereof.",
        ));
    }
    let raw_owned = raw.to_string();
    let t = req
        .app
        .domain
        .store
        .write(move |tx| {
            let mut t = tx
                .volume_type(id)
                .cloned()
                .ok_or_else(|| type_not_found(&raw_owned))?;
            if let Some(n) = name {
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
            if let Some(d) = description {
                t.description = d;
            }
            if let Some(p) = is_public {
                t.is_public = p;
            }
            tx.put_type(t.clone());
            Ok(t)
        })
        .await?;
    Ok(Json(json!({ "volume_type": views::volume_type(req, &t, false) })).into_response())
}

pub async fn delete(req: &Req, raw: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:types_manage")?;
    let id = Uuid::parse_str(raw).map_err(|_| type_not_found(raw))?;
    let world = req.app.domain.world.clone();
    let raw_owned = raw.to_string();
    req.app
        .domain
        .store
        .write(move |tx| {
            let t = tx
                .volume_type(id)
                .cloned()
                .ok_or_else(|| type_not_found(&raw_owned))?;
            if t.name == "__DEFAULT__" || t.name == world.default_volume_type {
                return Err(ApiError::bad_request(
                    "Target volume type is the default volume type and cannot be deleted.",
                ));
            }
            if tx.volumes().any(|v| v.volume_type_id == id) {
                return Err(ApiError::bad_request("Target volume type is still in use."));
            }
            tx.remove_type(id);
            Ok(())
        })
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn extra_specs_show(req: &Req, raw: &str) -> Result<Response, ApiError> {
    let t = visible_type(req, raw)?;
    let shown = views::volume_type(req, &t, false);
    Ok(Json(json!({ "extra_specs": shown["extra_specs"] })).into_response())
}

async fn modify_specs(
    req: &Req,
    raw: &str,
    f: impl FnOnce(&mut VolumeType) -> Result<(), ApiError> + Send + 'static,
) -> Result<VolumeType, ApiError> {
    req.require_admin("volume_extension:types_extra_specs:update")?;
    let id = Uuid::parse_str(raw).map_err(|_| type_not_found(raw))?;
    let raw_owned = raw.to_string();
    req.app
        .domain.store
        .write(move |tx| {
            let mut t = tx.volume_type(id).cloned().ok_or_else(|| type_not_found(&raw_owned))?;
            if tx.volumes().any(|v| v.volume_type_id == id) {
                // Cinder refuses to change specs of a type in use (they'd silently diverge).
                return Err(ApiError::bad_request(format!(
                    "Invalid input received: Volume type {} is currently in use; its extra specs cannot be changed.",
                    t.id
                )));
            }
            f(&mut t)?;
            tx.put_type(t.clone());
            Ok(t)
        })
        .await
}

pub async fn extra_specs_create(req: &Req, raw: &str) -> Result<Response, ApiError> {
    let body = req.json_value()?;
    let specs = match body.get("extra_specs") {
        Some(v @ Value::Object(_)) => specs_from(Some(v))?,
        _ => {
            return Err(ApiError::bad_request(
                "'extra_specs' is a required property",
            ))
        }
    };
    let shown = specs.clone();
    modify_specs(req, raw, move |t| {
        t.extra_specs.extend(specs);
        Ok(())
    })
    .await?;
    Ok(Json(json!({ "extra_specs": shown })).into_response())
}

pub async fn extra_spec_show(req: &Req, raw: &str, key: &str) -> Result<Response, ApiError> {
    let t = visible_type(req, raw)?;
    let shown = views::volume_type(req, &t, false);
    let val = shown["extra_specs"].get(key).cloned().ok_or_else(|| {
        ApiError::not_found(format!(
            "Volume Type {} has no extra specs with key {key}.",
            t.id
        ))
    })?;
    Ok(Json(json!({ key: val })).into_response())
}

pub async fn extra_spec_update(req: &Req, raw: &str, key: &str) -> Result<Response, ApiError> {
    let body = req.json_value()?;
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("Malformed request body"))?;
    if obj.len() != 1 {
        return Err(ApiError::bad_request(
            "Request body contains too many items.",
        ));
    }
    if !obj.contains_key(key) {
        return Err(ApiError::bad_request("Request body and URI mismatch"));
    }
    let specs = specs_from(Some(&body))?;
    let shown = specs.clone();
    modify_specs(req, raw, move |t| {
        t.extra_specs.extend(specs);
        Ok(())
    })
    .await?;
    Ok(Json(json!(shown)).into_response())
}

pub async fn extra_spec_delete(req: &Req, raw: &str, key: &str) -> Result<Response, ApiError> {
    let key = key.to_string();
    modify_specs(req, raw, move |t| {
        t.extra_specs.remove(&key).map(|_| ()).ok_or_else(|| {
            ApiError::not_found(format!(
                "Volume Type {} has no extra specs with key {key}.",
                t.id
            ))
        })
    })
    .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn access_list(req: &Req, raw: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:volume_type_access")?;
    let t = visible_type(req, raw)?;
    if t.is_public {
        return Err(ApiError::not_found(
            "Access list not available for public volume types.",
        ));
    }
    let access: Vec<Value> = t
        .access
        .iter()
        .map(|p| json!({"volume_type_id": t.id.to_string(), "project_id": p}))
        .collect();
    Ok(Json(json!({ "volume_type_access": access })).into_response())
}

pub async fn action(req: &Req, raw: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:volume_type_access:addProjectAccess")?;
    let body = req.json_value()?;
    let (add, inner) = if let Some(i) = body.get("addProjectAccess") {
        (true, i)
    } else if let Some(i) = body.get("removeProjectAccess") {
        (false, i)
    } else {
        return Err(ApiError::bad_request(
            "There is no such action: expected addProjectAccess or removeProjectAccess",
        ));
    };
    let project = inner
        .get("project")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::bad_request("Missing required element 'project' in request body.")
        })?
        .to_string();
    modify_access(req, raw, add, project).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn modify_access(req: &Req, raw: &str, add: bool, project: String) -> Result<(), ApiError> {
    let id = Uuid::parse_str(raw).map_err(|_| type_not_found(raw))?;
    let raw_owned = raw.to_string();
    req.app
        .domain.store
        .write(move |tx| {
            let mut t = tx.volume_type(id).cloned().ok_or_else(|| type_not_found(&raw_owned))?;
            if t.is_public {
                return Err(ApiError::bad_request("Invalid volume type: Type access modification is not applicable to public volume type."));
            }
            let changed = if add { t.access.insert(project.clone()) } else { t.access.remove(&project) };
            if !changed {
                return Err(if add {
                    ApiError::Conflict(format!("Volume type access for {} / {project} combination already exists.", t.id))
                } else {
                    ApiError::not_found(format!("Volume type access not found for {} / {project} combination.", t.id))
                });
            }
            tx.put_type(t);
            Ok(())
        })
        .await
}
