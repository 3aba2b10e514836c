//! `POST /snapshots/{id}/action` (`os-reset_status` and `os-force_delete` for admins,
//! `os-update_snapshot_status` for the snapshot's project) and the snapshot metadata
//! endpoints (list, merge, replace, show/update/delete one key), as Cinder's snapshot
//! action, admin action and snapshot metadata controllers answer them.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::views::{py_quoted, py_repr};
use super::volumes::field_metadata;
use super::Req;
use crate::error::ApiError;
use crate::volume::metadata::MetadataChange;
use crate::volume::ops;
use crate::volume::snapshot_status::SnapshotStatus;
use crate::volume::snapshots::{self, Snapshot};

const ACTIONS: [&str; 3] = [
    "os-reset_status",
    "os-force_delete",
    "os-update_snapshot_status",
];

fn args_object<'a>(
    name: &str,
    args: &'a Value,
) -> Result<&'a serde_json::Map<String, Value>, ApiError> {
    args.as_object().ok_or_else(|| {
        ApiError::invalid_field(
            name,
            py_repr(args),
            &format!("{} is not of type 'object'", py_quoted(args)),
        )
    })
}

/// A required string argument `status`, and no keys beyond `allowed`.
fn status_arg(name: &str, args: &Value, allowed: &[&str]) -> Result<String, ApiError> {
    let o = args_object(name, args)?;
    if let Some(extra) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::invalid_field(
            name,
            py_repr(args),
            &format!("Additional properties are not allowed ('{extra}' was unexpected)"),
        ));
    }
    match o.get("status") {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(ApiError::invalid_field(
            "status",
            py_repr(other),
            &format!("{} is not of type 'string'", py_quoted(other)),
        )),
        None => Err(ApiError::invalid_field(
            name,
            py_repr(args),
            "'status' is a required property",
        )),
    }
}

fn snapshot_of(req: &Req, raw: &str) -> Result<Snapshot, ApiError> {
    req.app
        .domain
        .view(|tx| snapshots::visible(tx, &req.caller, raw))
}

pub async fn dispatch(req: &Req, raw: &str) -> Result<Response, ApiError> {
    let body = req.json_value()?;
    let (name, args) = match body.as_object() {
        Some(o) if o.len() == 1 => o.iter().next().map(|(k, v)| (k.clone(), v.clone())),
        _ => None,
    }
    .ok_or_else(|| ApiError::bad_request("Malformed request body"))?;
    if !ACTIONS.contains(&name.as_str()) {
        return Err(ApiError::bad_request(format!(
            "There is no such action: {name}"
        )));
    }
    let caller = req.caller.clone();
    let raw = raw.to_string();
    match name.as_str() {
        "os-reset_status" => {
            let status = status_arg(&name, &args, &["status"])?.to_lowercase();
            let to: SnapshotStatus = status.parse().map_err(|_| {
                ApiError::invalid_field(
                    "status",
                    &status,
                    &format!("'{status}' is not a 'snapshot_status'"),
                )
            })?;
            snapshot_of(req, &raw)?;
            req.require_admin("volume_extension:snapshot_admin_actions:reset_status")?;
            req.app
                .domain
                .write(move |tx| snapshots::reset_status(tx, &caller, &raw, to))
                .await?;
        }
        "os-force_delete" => {
            args_object(&name, &args)?;
            snapshot_of(req, &raw)?;
            req.require_admin("volume_extension:snapshot_admin_actions:force_delete")?;
            req.app.domain.delete_snapshot(caller, raw, true).await?;
        }
        _ => {
            let status = status_arg(&name, &args, &["status", "progress"])?;
            let progress = match args.get("progress") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) => Some(p.clone()),
                Some(other) => Some(py_repr(other)),
            };
            req.app
                .domain
                .write(move |tx| snapshots::update_status(tx, &caller, &raw, &status, progress))
                .await?;
        }
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

// ---- metadata --------------------------------------------------------------------

pub async fn metadata_show(req: &Req, raw: &str) -> Result<Response, ApiError> {
    let s = snapshot_of(req, raw)?;
    Ok(Json(json!({ "metadata": s.metadata })).into_response())
}

async fn change(req: &Req, raw: &str, change: MetadataChange) -> Result<Snapshot, ApiError> {
    let caller = req.caller.clone();
    let raw = raw.to_string();
    req.app
        .domain
        .write(move |tx| snapshots::change_metadata(tx, &caller, &raw, change))
        .await
}

/// POST merges, PUT replaces; both answer with the resulting metadata.
pub async fn metadata_write(req: &Req, raw: &str, replace: bool) -> Result<Response, ApiError> {
    let body = req.json_value()?;
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("Malformed request body"))?;
    let md = field_metadata(obj, "metadata")?
        .ok_or_else(|| ApiError::bad_request("'metadata' is a required property"))?;
    let how = if replace {
        MetadataChange::Replace(md)
    } else {
        MetadataChange::Merge(md)
    };
    let s = change(req, raw, how).await?;
    Ok(Json(json!({ "metadata": s.metadata })).into_response())
}

pub async fn metadata_key_show(req: &Req, raw: &str, key: &str) -> Result<Response, ApiError> {
    let s = snapshot_of(req, raw)?;
    let val = s.metadata.get(key).ok_or_else(|| {
        ApiError::not_found(format!("Snapshot {raw} has no metadata with key {key}."))
    })?;
    Ok(Json(json!({ "meta": { key: val } })).into_response())
}

pub async fn metadata_key_update(req: &Req, raw: &str, key: &str) -> Result<Response, ApiError> {
    let body = req.json_value()?;
    let meta = body
        .get("meta")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request("'meta' is a required property"))?;
    if meta.len() != 1 {
        return Err(ApiError::bad_request(
            "Request body contains too many items",
        ));
    }
    let Some((k, v)) = meta.iter().next() else {
        return Err(ApiError::bad_request("Malformed request body"));
    };
    if k != key {
        return Err(ApiError::bad_request("Request body and URI mismatch"));
    }
    let val = v
        .as_str()
        .ok_or_else(|| {
            ApiError::invalid_field(
                "meta",
                py_repr(v),
                &format!("{} is not of type 'string'", py_quoted(v)),
            )
        })?
        .to_string();
    ops::check_metadata(&BTreeMap::from([(k.clone(), val.clone())]))?;
    change(req, raw, MetadataChange::Set(key.to_string(), val.clone())).await?;
    Ok(Json(json!({ "meta": { key: val } })).into_response())
}

pub async fn metadata_key_delete(req: &Req, raw: &str, key: &str) -> Result<Response, ApiError> {
    change(req, raw, MetadataChange::Delete(key.to_string())).await?;
    Ok(StatusCode::OK.into_response())
}
