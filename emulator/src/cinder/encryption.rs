//! `/types/{id}/encryption` (admin only): show, create, show one key, update, delete.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::views::py_repr;
use super::Req;
use crate::error::ApiError;
use crate::timefmt;
use crate::volume::encryption::{self, Encryption, EncryptionSpec};

fn view(e: &Encryption) -> Value {
    json!({
        "volume_type_id": e.volume_type_id.to_string(),
        "encryption_id": e.encryption_id.to_string(),
        "provider": e.provider,
        "control_location": e.control_location,
        "cipher": e.cipher,
        "key_size": e.key_size,
        "deleted": false,
        "created_at": timefmt::cinder(e.created_at),
        "updated_at": e.updated_at.map(timefmt::cinder),
        "deleted_at": null,
    })
}

fn invalid(field: &str, v: &Value, why: &str) -> ApiError {
    ApiError::invalid_field(
        &format!("encryption/{field}"),
        py_repr(v),
        &format!("{} {why}", py_repr(v)),
    )
}

/// Cinder's `volume_type_encryption` schema; `required` only on create.
fn parse(body: &Map<String, Value>, required: bool) -> Result<EncryptionSpec, ApiError> {
    let mut spec = EncryptionSpec::default();
    for key in ["provider", "control_location"] {
        if required && !body.contains_key(key) {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute encryption. Value: {}. '{key}' is a required property",
                py_repr(&Value::Object(body.clone()))
            )));
        }
    }
    match body.get("provider") {
        None => {}
        Some(Value::String(s)) if s.chars().count() <= 255 => spec.provider = Some(s.clone()),
        Some(v) => return Err(invalid("provider", v, "is not of type 'string'")),
    }
    match body.get("control_location") {
        None => {}
        Some(Value::String(s)) if s == "front-end" || s == "back-end" => {
            spec.control_location = Some(s.clone())
        }
        Some(v) => {
            return Err(invalid(
                "control_location",
                v,
                "is not one of ['front-end', 'back-end']",
            ))
        }
    }
    match body.get("cipher") {
        None => {}
        Some(Value::Null) => spec.cipher = Some(None),
        Some(Value::String(s)) if s.chars().count() <= 255 => spec.cipher = Some(Some(s.clone())),
        Some(v) => return Err(invalid("cipher", v, "is not of type 'string', 'null'")),
    }
    match body.get("key_size") {
        None => {}
        Some(Value::Null) => spec.key_size = Some(None),
        Some(Value::Number(n)) if n.as_i64().is_some_and(|k| k >= 0) => {
            spec.key_size = Some(n.as_i64())
        }
        Some(Value::String(s)) if s.parse::<i64>().is_ok_and(|k| k >= 0) => {
            spec.key_size = Some(s.parse().ok())
        }
        Some(v) => return Err(invalid("key_size", v, "is not a valid key size")),
    }
    Ok(spec)
}

fn encryption_body(req: &Req) -> Result<Map<String, Value>, ApiError> {
    let body = req.json_value()?;
    if let Some(extra) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "encryption"))
    {
        return Err(ApiError::bad_request(format!(
            "Additional properties are not allowed ('{extra}' was unexpected)"
        )));
    }
    req.json_object("encryption")
}

pub async fn show(req: &Req, type_id: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:volume_type_encryption:get")?;
    let e = req.app.domain.view(|tx| encryption::get(tx, type_id))?;
    Ok(Json(e.as_ref().map(view).unwrap_or_else(|| json!({}))).into_response())
}

pub async fn show_key(req: &Req, type_id: &str, key: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:volume_type_encryption:get")?;
    let e = req.app.domain.view(|tx| encryption::get(tx, type_id))?;
    let value = e.as_ref().map(view).and_then(|v| v.get(key).cloned());
    match value {
        Some(v) => Ok(Json(json!({ key: v })).into_response()),
        None => Err(ApiError::not_found(format!(
            "Volume type encryption for type {type_id} does not exist."
        ))),
    }
}

pub async fn create(req: &Req, type_id: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:volume_type_encryption:create")?;
    let body = encryption_body(req)?;
    let spec = parse(&body, true)?;
    let tid = type_id.to_string();
    let e = req
        .app
        .domain
        .write(move |tx| encryption::create(tx, &tid, spec))
        .await?;
    let mut shown = body;
    shown.insert("volume_type_id".into(), json!(e.volume_type_id.to_string()));
    shown.insert("encryption_id".into(), json!(e.encryption_id.to_string()));
    if let Some(k) = e.key_size {
        shown.insert("key_size".into(), json!(k));
    }
    Ok(Json(json!({ "encryption": shown })).into_response())
}

pub async fn update(req: &Req, type_id: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:volume_type_encryption:update")?;
    let mut body = encryption_body(req)?;
    let spec = parse(&body, false)?;
    if let Some(Some(k)) = spec.key_size {
        body.insert("key_size".into(), json!(k));
    }
    let tid = type_id.to_string();
    req.app
        .domain
        .write(move |tx| encryption::update(tx, &tid, spec))
        .await?;
    Ok(Json(json!({ "encryption": body })).into_response())
}

pub async fn delete(req: &Req, type_id: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:volume_type_encryption:delete")?;
    let tid = type_id.to_string();
    req.app
        .domain
        .write(move |tx| encryption::delete(tx, &tid))
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
