//! `/group_snapshots` (3.14): create, list, detail, show, delete, and the admin
//! `reset_status` action (3.19), with Cinder's views (`project_id` from 3.58).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::params::uuid_field;
use super::views::{py_quoted, py_repr};
use super::volumes::field_str;
use super::Req;
use crate::error::ApiError;
use crate::timefmt;
use crate::volume::group_snapshots::{self, GroupSnapshot, STATUSES};

fn summary(g: &GroupSnapshot) -> Value {
    json!({
        "id": g.id.to_string(),
        "name": g.name,
        "group_type_id": g.group_type_id.to_string(),
    })
}

fn detail(req: &Req, g: &GroupSnapshot) -> Value {
    let mut o = json!({
        "id": g.id.to_string(),
        "group_id": g.group_id.to_string(),
        "group_type_id": g.group_type_id.to_string(),
        "status": g.status,
        "created_at": timefmt::cinder(g.created_at),
        "name": g.name,
        "description": g.description,
    });
    if req.mv.at_least(58) {
        o["project_id"] = json!(g.project_id);
    }
    o
}

pub async fn list(req: &Req, with_detail: bool) -> Result<Response, ApiError> {
    let all_tenants = req.caller.is_admin && req.query("all_tenants").is_some();
    let mut all: Vec<GroupSnapshot> = req.app.domain.read(|s| s.records::<GroupSnapshot>());
    all.retain(|g| all_tenants || g.project_id == req.project_id);
    all.sort_by_key(|g| std::cmp::Reverse(g.created_at));
    let shown: Vec<Value> = all
        .iter()
        .map(|g| {
            if with_detail {
                detail(req, g)
            } else {
                summary(g)
            }
        })
        .collect();
    Ok(Json(json!({ "group_snapshots": shown })).into_response())
}

pub async fn show(req: &Req, raw: &str) -> Result<Response, ApiError> {
    let g = req
        .app
        .domain
        .view(|tx| group_snapshots::get(tx, &req.caller, raw))?;
    Ok(Json(json!({ "group_snapshot": detail(req, &g) })).into_response())
}

fn refuse_unknown(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute group_snapshot. Value: {}. Additional properties are not allowed ('{extra}' was unexpected)",
            py_repr(&Value::Object(body.clone()))
        ))),
        None => Ok(()),
    }
}

pub async fn create(req: &Req) -> Result<Response, ApiError> {
    let body = req.json_object("group_snapshot")?;
    refuse_unknown(&body, &["group_id", "name", "description"])?;
    let group = match body.get("group_id") {
        Some(v) => uuid_field("group_id", v)?,
        None => {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute group_snapshot. Value: {}. 'group_id' is a required property",
                py_repr(&Value::Object(body.clone()))
            )))
        }
    };
    let trim = |v: Option<String>| v.map(|s| s.trim().to_string());
    let name = trim(field_str(&body, "name", 255)?);
    let description = trim(field_str(&body, "description", 255)?);
    let g = req
        .app
        .domain
        .create_group_snapshot(req.caller.clone(), group.to_string(), name, description)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "group_snapshot": summary(&g) })),
    )
        .into_response())
}

pub async fn delete(req: &Req, raw: &str) -> Result<Response, ApiError> {
    req.app
        .domain
        .delete_group_snapshot(req.caller.clone(), raw.to_string())
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `{"reset_status": {"status": ...}}` (admin).
pub async fn action(req: &Req, raw: &str) -> Result<Response, ApiError> {
    let body = req.json_value()?;
    let args = match body.as_object() {
        Some(o) if o.len() == 1 && o.contains_key("reset_status") => o["reset_status"].clone(),
        Some(o) if o.len() == 1 => {
            let name = o.keys().next().cloned().unwrap_or_default();
            return Err(ApiError::bad_request(format!(
                "There is no such action: {name}"
            )));
        }
        _ => return Err(ApiError::bad_request("Malformed request body")),
    };
    let status = match args.get("status") {
        Some(Value::String(s)) => s.to_lowercase(),
        Some(other) => {
            return Err(ApiError::invalid_field(
                "status",
                py_repr(other),
                &format!("{} is not of type 'string'", py_quoted(other)),
            ))
        }
        None => {
            return Err(ApiError::invalid_field(
                "reset_status",
                py_repr(&args),
                "'status' is a required property",
            ))
        }
    };
    if !STATUSES.contains(&status.as_str()) {
        return Err(ApiError::invalid_field(
            "status",
            &status,
            &format!("'{status}' is not a 'group_snapshot_status'"),
        ));
    }
    req.app
        .domain
        .view(|tx| group_snapshots::get(tx, &req.caller, raw))?;
    req.require_admin("group:reset_group_snapshot_status")?;
    let caller = req.caller.clone();
    let raw = raw.to_string();
    req.app
        .domain
        .write(move |tx| group_snapshots::reset_status(tx, &caller, &raw, &status))
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
