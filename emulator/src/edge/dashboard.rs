//! The live dashboard under `/_cinderbox/`: a static page (HTML and a little JS compiled
//! into the binary, no build step, no CDN) that polls `/_cinderbox/dashboard.json` —
//! volumes with their status timeline, attachments, fault rules with their counters, and
//! the request log. The page holds no data; the JSON needs an admin token
//! (`X-Auth-Token`; the page takes it from its URL fragment, `#token=…`, which browsers
//! never send), or, with `--dashboard-open`, no token from a loopback client. A token
//! that is not an admin's is refused even then.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use super::Edge;
use crate::error::ApiError;

const PAGE: &str = include_str!("assets/dashboard.html");
const SCRIPT: &str = include_str!("assets/dashboard.js");

/// How many requests the dashboard shows (newest last).
const REQUESTS: usize = 200;

pub fn router() -> Router<Arc<Edge>> {
    Router::new()
        .route("/_cinderbox/", get(page))
        .route("/_cinderbox/dashboard.js", get(script))
        .route("/_cinderbox/dashboard.json", get(data))
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

/// Admin token: yes. Any other token: 401/403 as the control API. No token: only with
/// `--dashboard-open` and from a loopback address.
fn allowed(app: &Edge, headers: &HeaderMap, peer: Option<SocketAddr>) -> Result<(), ApiError> {
    let open = app.dashboard_open.load(Ordering::Relaxed);
    let loopback = peer.is_some_and(|p| p.ip().is_loopback());
    if headers.get("x-auth-token").is_none() && open && loopback {
        return Ok(());
    }
    super::control::require_admin(app, headers)
}

async fn data(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Result<Response, ApiError> {
    allowed(&app, &headers, peer.map(|Extension(ConnectInfo(p))| p))?;
    let steps = app.timeline.all();
    let (volumes, attachments) = app.domain.read(|s| {
        let volumes: Vec<Value> = s
            .volumes
            .values()
            .map(|v| {
                let timeline: Vec<Value> = steps
                    .iter()
                    .filter(|t| t.volume_id == v.id)
                    .map(|t| json!({"time": t.time, "from": t.from, "to": t.to}))
                    .collect();
                json!({
                    "id": v.id, "name": v.name, "project_id": v.project_id,
                    "size": v.size_gb, "status": v.status.as_str(),
                    "attachments": s.attachments_of(v.id).count(),
                    "timeline": timeline,
                })
            })
            .collect();
        let attachments: Vec<Value> = s
            .attachments
            .values()
            .map(|a| {
                json!({
                    "id": a.id, "volume_id": a.volume_id, "status": a.status.as_str(),
                    "instance_uuid": a.instance_uuid, "attach_mode": a.attach_mode,
                })
            })
            .collect();
        (volumes, attachments)
    });
    Ok(Json(json!({
        "volumes": volumes,
        "attachments": attachments,
        "faults": app.faults.list(),
        "requests": app.log.recent(REQUESTS),
    }))
    .into_response())
}
