//! `/groups` (3.13): create, list, detail, show, update (name, description, add and
//! remove volumes), and the `delete` (with `delete-volumes`) and `reset_status` (3.20,
//! admin) actions.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::views::{links, py_repr};
use super::Req;
use crate::error::ApiError;
use crate::timefmt;
use crate::volume::groups::{self, Group, NewGroup};

fn detail(req: &Req, g: &Group, volumes: &[uuid::Uuid]) -> Value {
    let mut o = json!({
        "id": g.id.to_string(),
        "name": g.name,
        "description": g.description,
        "status": g.status,
        "availability_zone": g.availability_zone,
        "created_at": timefmt::cinder(g.created_at),
        "group_type": g.group_type_id.to_string(),
        "volume_types": g.volume_type_ids.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
    });
    if req.mv.at_least(14) {
        o["group_snapshot_id"] = Value::Null;
        o["source_group_id"] = Value::Null;
    }
    if req.mv.at_least(25) {
        o["volumes"] = json!(volumes.iter().map(|v| v.to_string()).collect::<Vec<_>>());
    }
    if req.mv.at_least(38) {
        o["replication_status"] = json!("disabled");
    }
    o
}

fn summary(req: &Req, g: &Group) -> Value {
    json!({"id": g.id.to_string(), "name": g.name, "links": links(req, "groups", &g.id.to_string())})
}

fn opt_string(body: &Map<String, Value>, key: &str) -> Result<Option<Option<String>>, ApiError> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.chars().count() <= 255 => Ok(Some(Some(s.clone()))),
        Some(other) => Err(ApiError::invalid_field(
            &format!("group/{key}"),
            py_repr(other),
            &format!("{} is not of type 'string', 'null'", py_repr(other)),
        )),
    }
}

fn refuse_unknown(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute group. Value: {}. Additional properties are not allowed ('{extra}' was unexpected)",
            py_repr(&Value::Object(body.clone()))
        ))),
        None => Ok(()),
    }
}

pub async fn list(req: &Req, with_detail: bool) -> Result<Response, ApiError> {
    let caller = req.caller.clone();
    let all_tenants = caller.is_admin && req.query("all_tenants").is_some();
    let shown: Vec<Value> = req.app.domain.view(|tx| {
        let mut all: Vec<Group> = tx.records::<Group>();
        all.retain(|g| all_tenants || g.project_id == caller.project_id);
        all.sort_by_key(|g| std::cmp::Reverse(g.created_at));
        all.iter()
            .map(|g| {
                if with_detail {
                    detail(req, g, &groups::members(tx, g.id))
                } else {
                    summary(req, g)
                }
            })
            .collect()
    });
    Ok(Json(json!({ "groups": shown })).into_response())
}

pub async fn show(req: &Req, id: &str) -> Result<Response, ApiError> {
    let caller = req.caller.clone();
    let shown = req.app.domain.view(|tx| {
        groups::get(tx, &caller, id).map(|g| detail(req, &g, &groups::members(tx, g.id)))
    })?;
    Ok(Json(json!({ "group": shown })).into_response())
}

pub async fn create(req: &Req) -> Result<Response, ApiError> {
    let body = req.json_object("group")?;
    refuse_unknown(
        &body,
        &[
            "name",
            "description",
            "group_type",
            "volume_types",
            "availability_zone",
        ],
    )?;
    let group_type = match body.get("group_type") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(other) => {
            return Err(ApiError::invalid_field(
                "group/group_type",
                py_repr(other),
                "is not a valid group type",
            ))
        }
        None => return Err(ApiError::bad_request("'group_type' is a required property")),
    };
    let volume_types = match body.get("volume_types") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| {
                t.as_str().map(str::to_string).ok_or_else(|| {
                    ApiError::invalid_field(
                        "group/volume_types",
                        py_repr(t),
                        "is not of type 'string'",
                    )
                })
            })
            .collect::<Result<Vec<String>, ApiError>>()?,
        Some(other) => {
            return Err(ApiError::invalid_field(
                "group/volume_types",
                py_repr(other),
                "is not of type 'array'",
            ))
        }
        None => {
            return Err(ApiError::bad_request(
                "'volume_types' is a required property",
            ))
        }
    };
    let world_az = req.app.domain.world.availability_zone.clone();
    let availability_zone = match opt_string(&body, "availability_zone")?.flatten() {
        Some(az) if az != world_az => {
            return Err(ApiError::bad_request(format!(
                "Invalid input received: Availability zone '{az}' is invalid."
            )))
        }
        _ => world_az,
    };
    let new = NewGroup {
        name: opt_string(&body, "name")?.flatten(),
        description: opt_string(&body, "description")?.flatten(),
        group_type,
        volume_types,
        availability_zone,
    };
    let caller = req.caller.clone();
    let g = req
        .app
        .domain
        .write(move |tx| groups::create(tx, &caller, new))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"group": {"id": g.id.to_string(), "name": g.name}})),
    )
        .into_response())
}

pub async fn update(req: &Req, id: &str) -> Result<Response, ApiError> {
    let body = req.json_object("group")?;
    refuse_unknown(
        &body,
        &["name", "description", "add_volumes", "remove_volumes"],
    )?;
    let name = opt_string(&body, "name")?;
    let description = opt_string(&body, "description")?;
    let add = opt_string(&body, "add_volumes")?
        .flatten()
        .unwrap_or_default();
    let remove = opt_string(&body, "remove_volumes")?
        .flatten()
        .unwrap_or_default();
    if name.is_none() && description.is_none() && add.is_empty() && remove.is_empty() {
        return Err(ApiError::bad_request(
            "Invalid input received: Name, description, add_volumes, and remove_volumes can not be all empty in the request body.",
        ));
    }
    let (caller, id) = (req.caller.clone(), id.to_string());
    req.app
        .domain
        .write(move |tx| groups::update(tx, &caller, &id, name, description, &add, &remove))
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn action(req: &Req, id: &str) -> Result<Response, ApiError> {
    let body = req.json_value()?;
    let Some((action, inner)) = body.as_object().and_then(|o| o.iter().next()) else {
        return Err(ApiError::bad_request("Malformed request body"));
    };
    match action.as_str() {
        "delete" => {
            let delete_volumes = match inner.get("delete-volumes") {
                None => false,
                Some(v) => match v {
                    Value::Bool(b) => Some(*b),
                    Value::String(s) => super::params::parse_bool(s),
                    _ => None,
                }
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "Invalid input received: Invalid value '{}' for delete-volumes.",
                        py_repr(v)
                    ))
                })?,
            };
            req.app
                .domain
                .delete_group(req.caller.clone(), id.to_string(), delete_volumes)
                .await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "reset_status" if req.mv.at_least(20) => {
            req.require_admin("group:reset_status")?;
            let status = inner
                .get("status")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::bad_request("'status' is a required property"))?
                .to_string();
            let (caller, id) = (req.caller.clone(), id.to_string());
            req.app
                .domain
                .write(move |tx| groups::reset_status(tx, &caller, &id, &status))
                .await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        other => Err(ApiError::bad_request(format!(
            "There is no such action: {other}"
        ))),
    }
}
