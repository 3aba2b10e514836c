//! `/qos-specs` (admin only): create, list, show, set/unset keys, delete (with
//! `force`), associate/disassociate with volume types, associations.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::views::{links, py_repr};
use super::Req;
use crate::error::ApiError;
use crate::volume::qos::{self, QosSpecs};

fn view(q: &QosSpecs) -> Value {
    json!({"id": q.id.to_string(), "name": q.name, "consumer": q.consumer, "specs": q.specs})
}

fn detail(req: &Req, q: &QosSpecs) -> Response {
    Json(json!({"qos_specs": view(q), "links": links(req, "qos-specs", &q.id.to_string())}))
        .into_response()
}

/// A spec key as Cinder's `extra_specs` schema allows it.
fn valid_key(k: &str) -> bool {
    (1..=255).contains(&k.len())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_:. /".contains(c))
}

/// Values of a specs object: strings (numbers and booleans as Cinder stores them).
fn spec_values(
    obj: &serde_json::Map<String, Value>,
    field: &str,
    skip: &[&str],
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    for (k, v) in obj.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
        let s = match v {
            Value::String(s) if s.len() <= 255 => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
            other => {
                return Err(ApiError::invalid_field(
                    &format!("{field}/{k}"),
                    py_repr(other),
                    &format!("{} is not of type 'string'", py_repr(other)),
                ))
            }
        };
        if !valid_key(k) {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute {field}. Value: {}. Additional properties are not allowed ('{k}' was unexpected)",
                py_repr(&Value::Object(obj.clone()))
            )));
        }
        out.insert(k.clone(), s);
    }
    Ok(out)
}

fn only_key(req: &Req, key: &str) -> Result<serde_json::Map<String, Value>, ApiError> {
    let body = req.json_value()?;
    if let Some(extra) = body.as_object().and_then(|o| o.keys().find(|k| *k != key)) {
        return Err(ApiError::bad_request(format!(
            "Additional properties are not allowed ('{extra}' was unexpected)"
        )));
    }
    req.json_object(key)
}

pub async fn list(req: &Req) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:qos_specs_manage:get_all")?;
    let mut all: Vec<QosSpecs> = req.app.domain.read(|s| s.records::<QosSpecs>());
    all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.name.cmp(&b.name)));
    let shown: Vec<Value> = all
        .iter()
        .filter(|q| req.query("name").is_none_or(|n| q.name == n))
        .filter(|q| req.query("consumer").is_none_or(|c| q.consumer == c))
        .filter(|q| req.query("id").is_none_or(|i| q.id.to_string() == i))
        .map(view)
        .collect();
    Ok(Json(json!({ "qos_specs": shown })).into_response())
}

pub async fn create(req: &Req) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:qos_specs_manage:create")?;
    let body = only_key(req, "qos_specs")?;
    let name =
        match body.get("name") {
            Some(Value::String(s)) if !s.trim().is_empty() && s.trim().len() <= 255 => {
                s.trim().to_string()
            }
            Some(other) => return Err(ApiError::invalid_field(
                "qos_specs/name",
                py_repr(other),
                "Name has leading or trailing spaces, is empty or is longer than 255 characters.",
            )),
            None => return Err(ApiError::bad_request("'name' is a required property")),
        };
    let specs = spec_values(&body, "qos_specs", &["name"])?;
    let q = req
        .app
        .domain
        .write(move |tx| qos::create(tx, name, specs))
        .await?;
    Ok(detail(req, &q))
}

pub async fn show(req: &Req, id: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:qos_specs_manage:get")?;
    let q = req.app.domain.view(|tx| qos::get(tx, id))?;
    Ok(detail(req, &q))
}

pub async fn set_keys(req: &Req, id: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:qos_specs_manage:update")?;
    let body = only_key(req, "qos_specs")?;
    let specs = spec_values(&body, "qos_specs", &[])?;
    let id = id.to_string();
    req.app
        .domain
        .write(move |tx| qos::set_keys(tx, &id, specs))
        .await?;
    Ok(Json(json!({ "qos_specs": body })).into_response())
}

pub async fn unset_keys(req: &Req, id: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:qos_specs_manage:delete")?;
    let body = req.json_value()?;
    let keys = match body.get("keys") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|k| match k {
                Value::String(s) if (1..=255).contains(&s.len()) => Ok(s.clone()),
                other => Err(ApiError::invalid_field(
                    "keys",
                    py_repr(other),
                    &format!("{} is not of type 'string'", py_repr(other)),
                )),
            })
            .collect::<Result<Vec<String>, ApiError>>()?,
        Some(other) => {
            return Err(ApiError::invalid_field(
                "keys",
                py_repr(other),
                &format!("{} is not of type 'array'", py_repr(other)),
            ))
        }
        None => return Err(ApiError::bad_request("'keys' is a required property")),
    };
    let id = id.to_string();
    req.app
        .domain
        .write(move |tx| qos::unset_keys(tx, &id, &keys))
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn delete(req: &Req, id: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:qos_specs_manage:delete")?;
    let force = match req.query("force") {
        None => false,
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "1" | "t" | "true" | "on" | "y" | "yes" => true,
            "0" | "f" | "false" | "off" | "n" | "no" => false,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "Invalid input received: Invalid value '{v}' for force."
                )))
            }
        },
    };
    let id = id.to_string();
    req.app
        .domain
        .write(move |tx| qos::delete(tx, &id, force))
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn associations(req: &Req, id: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:qos_specs_manage:get_all")?;
    let assoc = req.app.domain.view(|tx| qos::associations(tx, id))?;
    let shown: Vec<Value> = assoc
        .into_iter()
        .map(|(tid, name)| json!({"association_type": "volume_type", "name": name, "id": tid.to_string()}))
        .collect();
    Ok(Json(json!({ "qos_associations": shown })).into_response())
}

/// What `GET /qos-specs/{id}/{associate|disassociate|disassociate_all}` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Association {
    Associate,
    Disassociate,
    DisassociateAll,
}

pub async fn associate(req: &Req, id: &str, what: Association) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:qos_specs_manage:update")?;
    let type_id = req
        .query("vol_type_id")
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let id = id.to_string();
    match what {
        Association::DisassociateAll => {
            req.app
                .domain
                .write(move |tx| qos::disassociate_all(tx, &id))
                .await?
        }
        Association::Associate | Association::Disassociate => {
            let type_id =
                type_id.ok_or_else(|| ApiError::bad_request("Volume Type id must not be None."))?;
            req.app
                .domain
                .write(move |tx| match what {
                    Association::Associate => qos::associate(tx, &id, &type_id),
                    Association::Disassociate | Association::DisassociateAll => {
                        qos::disassociate(tx, &id, &type_id)
                    }
                })
                .await?
        }
    }
    Ok(StatusCode::ACCEPTED.into_response())
}
