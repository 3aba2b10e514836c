//! Attachment handlers (3.27+; `os-complete` 3.44; `mode` 3.54): each checks the body
//! as Cinder's JSON schema does, calls one `volume::attach` operation and renders the
//! view. Also builds the connection info that hands out the volume's file: `local` (a
//! path), or `nfs` (Cinder's NFS driver shape) for volumes on an NFS backend.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use std::cmp::Reverse;
use uuid::Uuid;

use super::params::{uuid_field, Paging};
use super::views::{self, py_quoted, py_repr};
use super::Req;
use crate::edge::Edge;
use crate::error::ApiError;
use crate::volume::attach::{self, NewAttachment};
use crate::volume::model::Attachment;

/// The absolute path of a volume's file, as `device_path` hands it out.
pub fn device_path(app: &Edge, volume_id: Uuid) -> String {
    let path = app.domain.files.path(volume_id);
    std::path::absolute(&path)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// The `data` of a `local` connection: what os-brick's local connector reads.
/// `access_mode` follows the attachment's mode (Cinder's own local driver always
/// says `rw`; the issue asks for the mode, so a read-only attach is visible).
pub fn connection_data(app: &Edge, volume_id: Uuid, access_mode: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("device_path".into(), json!(device_path(app, volume_id)));
    m.insert("access_mode".into(), json!(access_mode));
    m.insert("qos_specs".into(), Value::Null);
    m.insert("encrypted".into(), json!(false));
    m.insert("cacheable".into(), json!(false));
    m
}

/// The NFS driver's `data` when the volume is on an NFS backend.
pub fn nfs_data(app: &Edge, volume_id: Uuid, access_mode: &str) -> Option<Map<String, Value>> {
    crate::nfs::connection_data(&app.domain, app.nfs.get().copied(), volume_id, access_mode)
}

/// The attachments API's flat `connection_info`: `{}` until a connector was given.
fn connection_info(app: &Edge, a: &Attachment) -> Value {
    if a.connector.is_none() {
        return json!({});
    }
    let mode = a.attach_mode.as_deref().unwrap_or("rw");
    let (mut m, kind) = match nfs_data(app, a.volume_id, mode) {
        Some(m) => (m, "nfs"),
        None => (connection_data(app, a.volume_id, mode), "local"),
    };
    m.insert("driver_volume_type".into(), json!(kind));
    m.insert("attachment_id".into(), json!(a.id.to_string()));
    m.insert("enforce_multipath".into(), json!(false));
    Value::Object(m)
}

fn parse_attachment_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| attach::not_found(raw))
}

/// jsonschema's `additionalProperties: false` wording for the `attachment` object.
fn no_extra_keys(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    let extra: Vec<String> = obj
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| format!("'{k}'"))
        .collect();
    let reason = match extra.len() {
        0 => return Ok(()),
        1 => format!(
            "Additional properties are not allowed ({} was unexpected)",
            extra[0]
        ),
        _ => format!(
            "Additional properties are not allowed ({} were unexpected)",
            extra.join(", ")
        ),
    };
    Err(ApiError::invalid_field(
        "attachment",
        py_repr(&Value::Object(obj.clone())),
        &reason,
    ))
}

fn required(obj: &Map<String, Value>, key: &str) -> ApiError {
    ApiError::invalid_field(
        "attachment",
        py_repr(&Value::Object(obj.clone())),
        &format!("'{key}' is a required property"),
    )
}

fn render(req: &Req, shown: &Attachment, connection_from: &Attachment) -> Response {
    let info = connection_info(&req.app, connection_from);
    Json(json!({"attachment": views::attachment(shown, info, true)})).into_response()
}

pub async fn create(req: &Req) -> Result<Response, ApiError> {
    let obj = req.json_object("attachment")?;
    let mode = match obj.get("mode") {
        Some(_) if !req.mv.at_least(54) => None, // refused below as an extra key
        None => None,
        Some(Value::String(m)) if m == "rw" || m == "ro" => Some(m.clone()),
        Some(other) => {
            let reason = match other {
                Value::String(_) => format!("{} is not one of ['rw', 'ro']", py_quoted(other)),
                _ => format!("{} is not of type 'string'", py_quoted(other)),
            };
            return Err(ApiError::invalid_field("mode", py_repr(other), &reason));
        }
    };
    let instance_uuid = obj
        .get("instance_uuid")
        .map(|v| uuid_field("instance_uuid", v))
        .transpose()?;
    let connector = match obj.get("connector") {
        None | Some(Value::Null) => None,
        Some(c @ Value::Object(_)) => Some(c.clone()),
        Some(other) => {
            return Err(ApiError::invalid_field(
                "connector",
                py_repr(other),
                &format!("{} is not of type 'object', 'null'", py_quoted(other)),
            ))
        }
    };
    let volume_id = match obj.get("volume_uuid") {
        Some(v) => uuid_field("volume_uuid", v)?,
        None => return Err(required(&obj, "volume_uuid")),
    };
    let allowed: &[&str] = if req.mv.at_least(54) {
        &["volume_uuid", "instance_uuid", "connector", "mode"]
    } else {
        &["volume_uuid", "instance_uuid", "connector"]
    };
    no_extra_keys(&obj, allowed)?;
    let new = NewAttachment {
        volume_id,
        instance_uuid,
        connector,
        mode,
    };
    let changed = req
        .app
        .domain
        .create_attachment(req.caller.clone(), new)
        .await?;
    Ok(render(req, &changed.reported, &changed.stored))
}

pub async fn show(req: &Req, raw_id: &str) -> Result<Response, ApiError> {
    let id = parse_attachment_id(raw_id)?;
    let a = req
        .app
        .domain
        .store
        .view(|tx| attach::visible(tx, &req.caller, id).cloned())?;
    Ok(render(req, &a, &a))
}

/// Filters a non-admin may use (Cinder's resource_filters for attachments).
const USER_FILTERS: &[&str] = &["volume_id", "status", "attach_status", "instance_id"];
const PAGING_KEYS: &[&str] = &[
    "limit",
    "marker",
    "offset",
    "sort",
    "sort_key",
    "sort_dir",
    "all_tenants",
];

pub async fn list(req: &Req, detail: bool) -> Result<Response, ApiError> {
    if !req.caller.is_admin && req.mv.at_least(33) {
        let invalid: Vec<&str> = req
            .query
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !USER_FILTERS.contains(k) && !PAGING_KEYS.contains(k))
            .collect();
        if !invalid.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Invalid input received: Invalid filters {} are found in query options.",
                invalid.join(",")
            )));
        }
    }
    let all_tenants = req.caller.is_admin
        && req
            .query("all_tenants")
            .is_some_and(|v| !matches!(v, "0" | "false" | "False" | "no"));
    let volume_id = req.query("volume_id");
    let status = req.query("status").or(req.query("attach_status"));
    let instance = req.query("instance_id");
    let paging = Paging::parse(req.query("limit"), req.query("offset"), req.query("marker"))?;
    let mut found: Vec<Attachment> = req.app.domain.store.read(|s| {
        s.attachments
            .values()
            .filter(|a| {
                s.volumes.get(&a.volume_id).is_some_and(|v| {
                    req.caller.sees(v) && (all_tenants || v.project_id == req.project_id)
                })
            })
            .filter(|a| volume_id.is_none_or(|f| a.volume_id.to_string() == f))
            .filter(|a| status.is_none_or(|f| a.status.as_str() == f))
            .filter(|a| {
                instance
                    .is_none_or(|f| a.instance_uuid.map(|u| u.to_string()).as_deref() == Some(f))
            })
            .cloned()
            .collect()
    });
    found.sort_by_key(|a| (Reverse(a.created_at), a.id));
    let start = paging.start(&found, |a| a.id)?;
    let found: Vec<Attachment> = found
        .into_iter()
        .skip(start)
        .take(paging.page_size())
        .collect();
    let items: Vec<Value> = found
        .iter()
        .map(|a| {
            let info = if detail {
                connection_info(&req.app, a)
            } else {
                Value::Null
            };
            views::attachment(a, info, detail)
        })
        .collect();
    Ok(Json(json!({ "attachments": items })).into_response())
}

pub async fn update(req: &Req, raw_id: &str) -> Result<Response, ApiError> {
    let id = parse_attachment_id(raw_id)?;
    let obj = req.json_object("attachment")?;
    let connector = match obj.get("connector") {
        Some(Value::Object(c)) if c.is_empty() => {
            return Err(ApiError::invalid_field(
                "connector",
                "{}",
                "{} does not have enough properties",
            ))
        }
        Some(c @ Value::Object(_)) => c.clone(),
        Some(other) => {
            return Err(ApiError::invalid_field(
                "connector",
                py_repr(other),
                &format!("{} is not of type 'object'", py_quoted(other)),
            ))
        }
        None => return Err(required(&obj, "connector")),
    };
    no_extra_keys(&obj, &["connector"])?;
    let changed = req
        .app
        .domain
        .update_attachment(req.caller.clone(), id, connector)
        .await?;
    Ok(render(req, &changed.reported, &changed.stored))
}

pub async fn delete(req: &Req, raw_id: &str) -> Result<Response, ApiError> {
    let id = parse_attachment_id(raw_id)?;
    let caller = req.caller.clone();
    let rest = req.app.domain.delete_attachment(caller, id).await?;
    let items: Vec<Value> = rest
        .iter()
        .map(|a| views::attachment(a, Value::Null, false))
        .collect();
    Ok(Json(json!({ "attachments": items })).into_response())
}

/// `POST /attachments/{id}/action`: only `os-complete` exists.
pub async fn action(req: &Req, raw_id: &str) -> Result<Response, ApiError> {
    let body = req.json_value()?;
    let name = match body.as_object() {
        Some(o) if o.len() == 1 => o.keys().next().cloned().unwrap_or_default(),
        _ => return Err(ApiError::bad_request("Malformed request body")),
    };
    if name != "os-complete" {
        return Err(ApiError::bad_request(format!(
            "There is no such action: {name}"
        )));
    }
    let id = parse_attachment_id(raw_id)?;
    let caller = req.caller.clone();
    req.app.domain.complete_attachment(caller, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
