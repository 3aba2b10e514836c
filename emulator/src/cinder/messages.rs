//! `/messages` (3.3): list, show and delete the caller's project's user messages.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::views::links;
use super::Req;
use crate::error::ApiError;
use crate::timefmt;
use crate::volume::messages::{self, UserMessage};

fn view(req: &Req, m: &UserMessage) -> Value {
    json!({
        "id": m.id.to_string(),
        "event_id": m.event_id,
        "user_message": m.user_message,
        "message_level": m.message_level,
        "resource_type": m.resource_type,
        "resource_uuid": m.resource_uuid,
        "created_at": timefmt::cinder(m.created_at),
        "guaranteed_until": timefmt::cinder(m.expires_at),
        "request_id": m.request_id,
        "links": links(req, "messages", &m.id.to_string()),
    })
}

pub async fn list(req: &Req) -> Result<Response, ApiError> {
    let (pid, admin) = (req.caller.project_id.clone(), req.caller.is_admin);
    let all = req.app.domain.view(|tx| messages::visible(tx, &pid, admin));
    let shown: Vec<Value> = all
        .iter()
        .filter(|m| req.query("event_id").is_none_or(|e| m.event_id == e))
        .filter(|m| {
            req.query("resource_uuid")
                .is_none_or(|r| m.resource_uuid.as_deref() == Some(r))
        })
        .filter(|m| {
            req.query("message_level")
                .is_none_or(|l| m.message_level == l)
        })
        .map(|m| view(req, m))
        .collect();
    Ok(Json(json!({ "messages": shown })).into_response())
}

pub async fn show(req: &Req, id: &str) -> Result<Response, ApiError> {
    let (pid, admin) = (req.caller.project_id.clone(), req.caller.is_admin);
    let m = req
        .app
        .domain
        .view(|tx| messages::get(tx, &pid, admin, id))?;
    Ok(Json(json!({ "message": view(req, &m) })).into_response())
}

pub async fn delete(req: &Req, id: &str) -> Result<Response, ApiError> {
    let (pid, admin, id) = (
        req.caller.project_id.clone(),
        req.caller.is_admin,
        id.to_string(),
    );
    req.app
        .domain
        .write(move |tx| messages::delete(tx, &pid, admin, &id))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
