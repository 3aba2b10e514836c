//! `GET /resource_filters` (3.33): the query filters each resource's list accepts,
//! from Cinder's default `resource_filters.json`, for the resources the emulator has.
//! `?resource=` narrows it to one; an unknown resource gives an empty list, as Cinder.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::Req;
use crate::error::ApiError;

/// Cinder's `etc/cinder/resource_filters.json`, in its order, limited to the resources
/// emulated here (a new resource adds its row: Cinder's has `backup`, `snapshot` and
/// `group_snapshot` too).
pub const FILTERS: &[(&str, &[&str])] = &[
    (
        "volume",
        &[
            "name",
            "status",
            "metadata",
            "bootable",
            "migration_status",
            "availability_zone",
            "group_id",
            "size",
            "created_at",
            "updated_at",
            "consumes_quota",
        ],
    ),
    ("group", &["name"]),
    (
        "attachment",
        &["volume_id", "status", "instance_id", "attach_status"],
    ),
    (
        "message",
        &[
            "resource_uuid",
            "resource_type",
            "event_id",
            "request_id",
            "message_level",
        ],
    ),
    ("pool", &["name", "volume_type"]),
    ("volume_type", &["is_public", "extra_specs"]),
];

pub async fn list(req: &Req) -> Result<Response, ApiError> {
    // Cinder treats an empty `resource=` as absent.
    let wanted = req.query("resource").filter(|r| !r.is_empty());
    let shown: Vec<Value> = FILTERS
        .iter()
        .filter(|(resource, _)| wanted.is_none_or(|w| w == *resource))
        .map(|(resource, filters)| json!({"resource": resource, "filters": filters}))
        .collect();
    Ok(Json(json!({ "resource_filters": shown })).into_response())
}
