//! Limits and quota sets. PLACEHOLDER: `GET /limits` only; the quotas issue adds the rest.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::Req;
use crate::error::ApiError;
use crate::volume::ops;

pub async fn limits(req: &Req) -> Result<Response, ApiError> {
    let world = req.app.world.clone();
    let pid = req.project_id.clone();
    let body = req.app.store.view(|tx| {
        let (n, gb) = ops::usage(tx, &pid, None);
        let l = |r: &str| ops::quota_limit(tx, &world, &pid, r);
        json!({"limits": {"rate": [], "absolute": {
            "maxTotalVolumes": l("volumes"),
            "maxTotalSnapshots": l("snapshots"),
            "maxTotalVolumeGigabytes": l("gigabytes"),
            "maxTotalBackups": l("backups"),
            "maxTotalBackupGigabytes": l("backup_gigabytes"),
            "totalVolumesUsed": n,
            "totalGigabytesUsed": gb,
            "totalSnapshotsUsed": 0,
            "totalBackupsUsed": 0,
            "totalBackupGigabytesUsed": 0,
        }}})
    });
    Ok(Json(body).into_response())
}

fn pending() -> ApiError {
    ApiError::not_found("The resource could not be found.")
}

pub async fn show(_req: &Req, _pid: &str) -> Result<Response, ApiError> {
    Err(pending())
}
pub async fn defaults(_req: &Req, _pid: &str) -> Result<Response, ApiError> {
    Err(pending())
}
pub async fn update(_req: &Req, _pid: &str) -> Result<Response, ApiError> {
    Err(pending())
}
pub async fn delete(_req: &Req, _pid: &str) -> Result<Response, ApiError> {
    Err(pending())
}
