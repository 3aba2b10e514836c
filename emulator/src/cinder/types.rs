//! Volume type handlers: list, show, default, admin create/update/delete, extra specs
//! and project access for private types.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::params;
use super::views::{self, py_repr, TypeView};
use super::Req;
use crate::error::ApiError;
use crate::volume::model::VolumeType;

use crate::volume::types::{self, not_found as type_not_found, SpecChange, TypeUpdate};

/// A type the caller may see, by id only: Cinder 29 answers 404 for a name here
/// (clients then list and filter).
fn visible_type(req: &Req, raw: &str) -> Result<VolumeType, ApiError> {
    req.app
        .domain
        .store
        .read(|s| {
            Uuid::parse_str(raw)
                .ok()
                .and_then(|id| s.types.get(&id))
                .cloned()
        })
        .filter(|t| t.visible_to(&req.caller.project_id, req.caller.is_admin))
        .ok_or_else(|| type_not_found(raw))
}

/// Cinder's `_parse_is_public` (admins only): absent is public only, `None` is all,
/// otherwise a strict oslo boolean.
fn is_public_filter(raw: Option<&str>) -> Result<Option<bool>, ApiError> {
    match raw {
        None => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("none") => Ok(None),
        Some(v) => params::parse_bool(v)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid is_public filter [{v}]"))),
    }
}

/// `GET /types`: a non-admin sees public types and the private ones shared with its
/// project, whatever it asks; an admin chooses with `is_public` (true: public ones and
/// those shared with its project; false: private ones; `None`: all).
pub async fn list(req: &Req) -> Result<Response, ApiError> {
    let want_public = if req.caller.is_admin {
        is_public_filter(req.query("is_public"))?
    } else {
        Some(true)
    };
    let project = req.caller.project_id.as_str();
    let types: Vec<Value> = req.app.domain.store.read(|s| {
        let mut ts: Vec<&VolumeType> = s
            .types
            .values()
            .filter(|t| match want_public {
                None => true,
                Some(true) => t.is_public || t.access.contains(project),
                Some(false) => !t.is_public,
            })
            .filter(|t| req.query("name").is_none_or(|n| t.name == n))
            .collect();
        ts.sort_by(|a, b| a.name.cmp(&b.name));
        ts.into_iter()
            .map(|t| views::volume_type(req, t, TypeView::Show))
            .collect()
    });
    Ok(Json(json!({ "volume_types": types })).into_response())
}

pub async fn show(req: &Req, raw: &str) -> Result<Response, ApiError> {
    let t = visible_type(req, raw)?;
    Ok(Json(json!({ "volume_type": views::volume_type(req, &t, TypeView::Show) })).into_response())
}

pub async fn show_default(req: &Req) -> Result<Response, ApiError> {
    let world = req.app.domain.world.clone();
    let t = req
        .app
        .domain
        .store
        .view(|tx| types::default_for(tx, &world, &req.caller.project_id).cloned())?;
    Ok(
        Json(json!({ "volume_type": views::volume_type(req, &t, TypeView::Default) }))
            .into_response(),
    )
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
        Some(Value::String(s)) => match params::parse_bool(s) {
            Some(b) => Ok(Some(b)),
            None => Err(ApiError::bad_request(format!(
                "Invalid input received: Invalid value '{s}' for {field}"
            ))),
        },
        Some(other) => Err(ApiError::bad_request(format!(
            "Invalid input received: Invalid value '{}' for {field}",
            py_repr(other)
        ))),
    }
}

/// Cinder's `additionalProperties: False` on the `volume_type` object.
fn refuse_unknown_keys(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute volume_type. Value: {}. Additional properties are not allowed ('{extra}' was unexpected)",
            py_repr(&Value::Object(body.clone()))
        ))),
        None => Ok(()),
    }
}

pub async fn create(req: &Req) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:types_manage")?;
    let body = req.json_object("volume_type")?;
    refuse_unknown_keys(
        &body,
        &[
            "name",
            "description",
            "extra_specs",
            "os-volume-type-access:is_public",
        ],
    )?;
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
    let is_public =
        bool_field(body.get("os-volume-type-access:is_public"), "is_public")?.unwrap_or(true);
    let extra_specs = specs_from(body.get("extra_specs"))?;
    let t = VolumeType {
        id: Uuid::new_v4(),
        name,
        description,
        is_public,
        extra_specs,
        access: Default::default(),
        qos_specs_id: None,
    };
    let t = req.app.domain.write(move |tx| types::create(tx, t)).await?;
    Ok(
        Json(json!({ "volume_type": views::volume_type(req, &t, TypeView::Create) }))
            .into_response(),
    )
}

pub async fn update(req: &Req, raw: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:types_manage")?;
    let id = types::parse_id(raw)?;
    let body = req.json_object("volume_type")?;
    refuse_unknown_keys(&body, &["name", "description", "is_public"])?;
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
    let change = TypeUpdate {
        name,
        description,
        is_public,
    };
    let t = req
        .app
        .domain
        .write(move |tx| types::update(tx, id, change))
        .await?;
    Ok(
        Json(json!({ "volume_type": views::volume_type(req, &t, TypeView::Update) }))
            .into_response(),
    )
}

pub async fn delete(req: &Req, raw: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:types_manage")?;
    let id = types::parse_id(raw)?;
    let world = req.app.domain.world.clone();
    req.app
        .domain
        .write(move |tx| types::delete(tx, &world, id))
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn extra_specs_show(req: &Req, raw: &str) -> Result<Response, ApiError> {
    let t = visible_type(req, raw)?;
    let shown = views::volume_type(req, &t, TypeView::Update);
    Ok(Json(json!({ "extra_specs": shown["extra_specs"] })).into_response())
}

async fn change_specs(req: &Req, raw: &str, change: SpecChange) -> Result<VolumeType, ApiError> {
    req.require_admin("volume_extension:types_extra_specs:update")?;
    let id = types::parse_id(raw)?;
    req.app
        .domain
        .write(move |tx| types::change_specs(tx, id, change))
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
    change_specs(req, raw, SpecChange::Merge(specs)).await?;
    Ok(Json(json!({ "extra_specs": shown })).into_response())
}

pub async fn extra_spec_show(req: &Req, raw: &str, key: &str) -> Result<Response, ApiError> {
    let t = visible_type(req, raw)?;
    let shown = views::volume_type(req, &t, TypeView::Update);
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
    change_specs(req, raw, SpecChange::Merge(specs)).await?;
    Ok(Json(json!(shown)).into_response())
}

pub async fn extra_spec_delete(req: &Req, raw: &str, key: &str) -> Result<Response, ApiError> {
    change_specs(req, raw, SpecChange::Remove(key.to_string())).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn access_list(req: &Req, raw: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:volume_type_access:get_all_for_type")?;
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

/// `POST /types/{id}/action`: `addProjectAccess` / `removeProjectAccess`. The body
/// (one action key, Cinder's schema) is checked before the policy, as Cinder does.
pub async fn action(req: &Req, raw: &str) -> Result<Response, ApiError> {
    let body = req.json_value()?;
    let (name, inner) = match body.as_object() {
        Some(o) if o.len() == 1 => o.iter().next().expect("one key"),
        _ => return Err(ApiError::bad_request("Malformed request body")),
    };
    let add = match name.as_str() {
        "addProjectAccess" => true,
        "removeProjectAccess" => false,
        other => {
            return Err(ApiError::bad_request(format!(
                "There is no such action: {other}"
            )))
        }
    };
    super::schemas::check(super::schemas::type_access(add), &body)?;
    req.require_admin(&format!("volume_extension:volume_type_access:{name}"))?;
    let project = inner["project"].as_str().unwrap_or_default().to_string();
    let id = types::parse_id(raw)?;
    req.app
        .domain
        .write(move |tx| types::change_access(tx, id, add, project))
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
