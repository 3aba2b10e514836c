//! `POST /groups/action` with `create-from-src` (3.14): a group from a source group
//! (its volumes cloned) or from a group snapshot (a volume from each snapshot).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::params::uuid_field;
use super::views::py_repr;
use super::volumes::field_str;
use super::Req;
use crate::error::ApiError;

pub async fn create_from_src(req: &Req) -> Result<Response, ApiError> {
    let body = req.json_object("create-from-src")?;
    let shown = || py_repr(&Value::Object(body.clone()));
    if let Some(extra) = body.keys().find(|k| {
        ![
            "name",
            "description",
            "source_group_id",
            "group_snapshot_id",
        ]
        .contains(&k.as_str())
    }) {
        return Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute create-from-src. Value: {}. Additional properties are not allowed ('{extra}' was unexpected)",
            shown()
        )));
    }
    let source = body.get("source_group_id");
    let snapshot = body.get("group_snapshot_id");
    let (source, snapshot) = match (source, snapshot) {
        (Some(s), None) => (uuid_field("source_group_id", s)?, None),
        (None, Some(s)) => (uuid::Uuid::nil(), Some(uuid_field("group_snapshot_id", s)?)),
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute create-from-src. Value: {v}. {v} is valid under each of {{'required': ['group_snapshot_id']}}, {{'required': ['source_group_id']}}",
                v = shown()
            )))
        }
        (None, None) => {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute create-from-src. Value: {v}. {v} is not valid under any of the given schemas",
                v = shown()
            )))
        }
    };
    let trim = |v: Option<String>| v.map(|s| s.trim().to_string());
    let name = trim(field_str(&body, "name", 255)?);
    let description = trim(field_str(&body, "description", 255)?);
    let domain = &req.app.domain;
    let caller = req.caller.clone();
    let g = match snapshot {
        Some(gs) => {
            domain
                .create_group_from_group_snapshot(caller, gs.to_string(), name, description)
                .await?
        }
        None => {
            domain
                .create_group_from_group(caller, source.to_string(), name, description)
                .await?
        }
    };
    let body = json!({"group": {"id": g.id.to_string(), "name": g.name}});
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}
