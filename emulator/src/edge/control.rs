//! The control API beside the services, under `/_cinderbox/`: list, add, show and
//! delete fault rules (with their counters), reset to the configured world, and read
//! the request log. Every call needs the token of a user with the `admin` role.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::Edge;
use crate::error::ApiError;
use crate::faults::AddError;
use crate::keystone::authenticate;
use crate::reqlog::CAPACITY;

pub fn router() -> Router<Arc<Edge>> {
    Router::new()
        .route("/_cinderbox/faults", get(list).post(add))
        .route("/_cinderbox/faults/{id}", get(show).delete(remove))
        .route("/_cinderbox/reset", post(reset))
        .route("/_cinderbox/requests", get(requests))
}

/// 401 (Keystone's body) without a valid token, 403 (Cinder's) without the admin role.
pub(super) fn require_admin(app: &Edge, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = headers.get("x-auth-token").and_then(|v| v.to_str().ok());
    let ctx = authenticate(app, token)?;
    if ctx.is_admin() {
        Ok(())
    } else {
        Err(ApiError::policy("cinderbox:control"))
    }
}

fn no_rule(id: &str) -> ApiError {
    ApiError::not_found(format!("Fault rule {id} could not be found."))
}

async fn list(State(app): State<Arc<Edge>>, headers: HeaderMap) -> Result<Response, ApiError> {
    require_admin(&app, &headers)?;
    let scenario = app.faults.scenario().map(|s| s.origin.clone());
    Ok(Json(json!({"scenario": scenario, "faults": app.faults.list()})).into_response())
}

async fn add(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_admin(&app, &headers)?;
    let spec: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("Malformed request body: {e}")))?;
    match app.faults.add(&spec) {
        Ok(rule) => Ok((StatusCode::CREATED, Json(json!({ "fault": rule }))).into_response()),
        Err(e @ AddError::Invalid(_)) => Err(ApiError::bad_request(e.to_string())),
        Err(e @ AddError::Duplicate(_)) => Err(ApiError::Conflict(e.to_string())),
    }
}

async fn show(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require_admin(&app, &headers)?;
    let rule = app.faults.get(&id).ok_or_else(|| no_rule(&id))?;
    Ok(Json(json!({ "fault": rule })).into_response())
}

async fn remove(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require_admin(&app, &headers)?;
    if !app.faults.remove(&id) {
        return Err(no_rule(&id));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Drops API rules (scenario rules come back with fresh counters), ends hangs, clears
/// the log, and resets the world: volumes, attachments, quota overrides, revocations
/// and volume files are gone, the world's volume types are seeded again.
async fn reset(State(app): State<Arc<Edge>>, headers: HeaderMap) -> Result<Response, ApiError> {
    require_admin(&app, &headers)?;
    app.faults.reset();
    app.log.clear();
    app.timeline.clear();
    let domain = app.domain.clone();
    tokio::task::spawn_blocking(move || domain.wipe())
        .await
        .map_err(|e| ApiError::Internal(format!("reset task: {e}")))??;
    Ok(Json(json!({"reset": {"faults": app.faults.list().len()}})).into_response())
}

#[derive(Deserialize)]
struct LogQuery {
    limit: Option<String>,
}

async fn requests(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Query(q): Query<LogQuery>,
) -> Result<Response, ApiError> {
    require_admin(&app, &headers)?;
    let limit = match q.limit.as_deref() {
        None => CAPACITY,
        Some(s) => s.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!("Invalid limit {s:?}: a non-negative integer"))
        })?,
    };
    Ok(Json(json!({"requests": app.log.recent(limit)})).into_response())
}
