//! Volume transfers: `/os-volume-transfer` (3.0) and `/volume-transfers` (3.55), with
//! `no_snapshots` from 3.55 and the history keys from 3.57. Links name
//! `os-volume-transfer` in both, as Cinder's view builder does.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::views::{links, py_repr};
use super::Req;
use crate::error::ApiError;
use crate::timefmt;
use crate::volume::transfers::{self, Transfer};

fn summary(req: &Req, t: &Transfer) -> Value {
    json!({
        "id": t.id.to_string(),
        "volume_id": t.volume_id.to_string(),
        "name": t.name,
        "links": links(req, "os-volume-transfer", &t.id.to_string()),
    })
}

fn detail(req: &Req, t: &Transfer, auth_key: Option<&str>) -> Value {
    let mut o = summary(req, t);
    o["created_at"] = json!(timefmt::cinder(t.created_at));
    if let Some(k) = auth_key {
        o["auth_key"] = json!(k);
    }
    if req.mv.at_least(55) {
        o["no_snapshots"] = json!(t.no_snapshots);
    }
    if req.mv.at_least(57) {
        o["destination_project_id"] = Value::Null;
        o["source_project_id"] = json!(t.source_project_id);
        o["accepted"] = json!(false);
    }
    o
}

pub async fn list(req: &Req, with_detail: bool) -> Result<Response, ApiError> {
    let caller = req.caller.clone();
    let all_tenants = caller.is_admin && req.query("all_tenants").is_some();
    let mut all: Vec<Transfer> = req.app.domain.read(|s| s.records::<Transfer>());
    all.retain(|t| all_tenants || t.source_project_id == caller.project_id);
    all.sort_by_key(|t| std::cmp::Reverse(t.created_at));
    let shown: Vec<Value> = all
        .iter()
        .filter(|t| {
            req.query("name")
                .is_none_or(|n| t.name.as_deref() == Some(n))
        })
        .map(|t| {
            if with_detail {
                detail(req, t, None)
            } else {
                summary(req, t)
            }
        })
        .collect();
    Ok(Json(json!({ "transfers": shown })).into_response())
}

pub async fn show(req: &Req, id: &str) -> Result<Response, ApiError> {
    let caller = req.caller.clone();
    let t = req.app.domain.view(|tx| transfers::get(tx, &caller, id))?;
    Ok(Json(json!({ "transfer": detail(req, &t, None) })).into_response())
}

fn refuse_unknown(
    body: &Map<String, Value>,
    allowed: &[&str],
    field: &str,
) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute {field}. Value: {}. Additional properties are not allowed ('{extra}' was unexpected)",
            py_repr(&Value::Object(body.clone()))
        ))),
        None => Ok(()),
    }
}

pub async fn create(req: &Req) -> Result<Response, ApiError> {
    let body = req.json_object("transfer")?;
    let with_snapshots_flag = req.mv.at_least(55);
    let allowed: &[&str] = if with_snapshots_flag {
        &["volume_id", "name", "no_snapshots"]
    } else {
        &["volume_id", "name"]
    };
    refuse_unknown(&body, allowed, "transfer")?;
    let volume_id = match body.get("volume_id") {
        Some(Value::String(s)) => Uuid::parse_str(s).map_err(|_| {
            ApiError::invalid_field(
                "transfer/volume_id",
                py_repr(&json!(s)),
                &format!("{} is not a 'uuid'", py_repr(&json!(s))),
            )
        })?,
        Some(other) => {
            return Err(ApiError::invalid_field(
                "transfer/volume_id",
                py_repr(other),
                &format!("{} is not of type 'string'", py_repr(other)),
            ))
        }
        None => return Err(ApiError::bad_request("Invalid input for field/attribute transfer. Value: {}. 'volume_id' is a required property")),
    };
    let name = match body.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= 255 => Some(s.trim().to_string()),
        Some(other) => {
            return Err(ApiError::invalid_field(
                "transfer/name",
                py_repr(other),
                &format!("{} is not of type 'string', 'null'", py_repr(other)),
            ))
        }
    };
    let no_snapshots = match body.get("no_snapshots") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(ApiError::invalid_field(
                "transfer/no_snapshots",
                py_repr(other),
                &format!("{} is not of type 'boolean'", py_repr(other)),
            ))
        }
    };
    let caller = req.caller.clone();
    let (t, key) = req
        .app
        .domain
        .write(move |tx| transfers::create(tx, &caller, volume_id, name, no_snapshots))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "transfer": detail(req, &t, Some(&key)) })),
    )
        .into_response())
}

pub async fn delete(req: &Req, id: &str) -> Result<Response, ApiError> {
    let (caller, id) = (req.caller.clone(), id.to_string());
    req.app
        .domain
        .write(move |tx| transfers::delete(tx, &caller, &id))
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn accept(req: &Req, id: &str) -> Result<Response, ApiError> {
    let body = req.json_object("accept")?;
    refuse_unknown(&body, &["auth_key"], "accept")?;
    let key = match body.get("auth_key") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(ApiError::invalid_field(
                "accept/auth_key",
                py_repr(other),
                &format!("{} is not of type 'string'", py_repr(other)),
            ))
        }
        None => return Err(ApiError::bad_request("Invalid input for field/attribute accept. Value: {}. 'auth_key' is a required property")),
    };
    let (caller, world, id) = (
        req.caller.clone(),
        req.app.domain.world.clone(),
        id.to_string(),
    );
    let t = req
        .app
        .domain
        .write(move |tx| transfers::accept(tx, &world, &caller, &id, &key))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "transfer": summary(req, &t) })),
    )
        .into_response())
}
