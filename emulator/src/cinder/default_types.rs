//! `/default-types` (3.62, admin only): set (`PUT /default-types/{project}`), show,
//! list and unset (`DELETE`) a project's default volume type. The body is checked
//! against Cinder's schema by the dispatcher (`schemas.rs`) before these run.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::Req;
use crate::error::ApiError;
use crate::volume::default_types::{self as defaults, ProjectDefault};

/// Cinder's `validate_project_and_authorize` refusal.
fn not_authorized() -> ApiError {
    ApiError::Forbidden("You are not authorized to perform this operation.".into())
}

/// The project must exist (404) before the policy (admin only, 403) is checked.
fn project_then_admin(req: &Req, project_id: &str) -> Result<(), ApiError> {
    defaults::known_project(&req.app.domain.world, project_id)?;
    if req.caller.is_admin {
        Ok(())
    } else {
        Err(not_authorized())
    }
}

fn view(d: &ProjectDefault) -> Value {
    json!({"project_id": d.project_id, "volume_type_id": d.volume_type_id.to_string()})
}

pub async fn set(req: &Req, project_id: &str) -> Result<Response, ApiError> {
    let body = req.json_value()?;
    let wanted = body["default_type"]["volume_type"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    project_then_admin(req, project_id)?;
    let (caller, pid) = (req.caller.clone(), project_id.to_string());
    let d = req
        .app
        .domain
        .write(move |tx| defaults::set(tx, &caller, &pid, &wanted))
        .await?;
    Ok(Json(json!({ "default_type": view(&d) })).into_response())
}

pub async fn show(req: &Req, project_id: &str) -> Result<Response, ApiError> {
    project_then_admin(req, project_id)?;
    let d = req.app.domain.view(|tx| defaults::get(tx, project_id))?;
    Ok(Json(json!({ "default_type": view(&d) })).into_response())
}

pub async fn list(req: &Req) -> Result<Response, ApiError> {
    if !req.caller.is_admin {
        return Err(not_authorized());
    }
    let all = req.app.domain.read(defaults::list);
    let shown: Vec<Value> = all.iter().map(view).collect();
    Ok(Json(json!({ "default_types": shown })).into_response())
}

/// An unknown project is unset anyway, without a policy check (Cinder logs the 404
/// and goes on).
pub async fn unset(req: &Req, project_id: &str) -> Result<Response, ApiError> {
    if defaults::known_project(&req.app.domain.world, project_id).is_ok() && !req.caller.is_admin {
        return Err(not_authorized());
    }
    let pid = project_id.to_string();
    req.app
        .domain
        .write(move |tx| {
            defaults::unset(tx, &pid);
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
