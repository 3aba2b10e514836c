//! The Keystone hook: `POST /identity/v3/auth/tokens` (`keystone.token.create`) goes
//! through the fault rules as a middleware, so Keystone's handlers need not know about
//! faults. Everything else passes straight through.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Edge;
use crate::error::KeystoneError;
use crate::faults::{Call, Service};
use crate::reqlog::Trace;

const TOKENS_PATH: &str = "/identity/v3/auth/tokens";

pub async fn token_create(State(app): State<Arc<Edge>>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || req.uri().path().trim_end_matches('/') != TOKENS_PATH {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match crate::body::read_limited(body).await {
        Ok(b) => b,
        Err(e) => return KeystoneError(e).into_response(),
    };
    let hook = Call {
        service: Service::Keystone,
        operation: "keystone.token.create",
        method: "POST",
        path: TOKENS_PATH,
        project_id: None,
        volume_id: None,
        trace: parts.extensions.get::<Trace>().cloned(),
    };
    let handler =
        move |body| async move { next.run(Request::from_parts(parts, Body::from(body))).await };
    app.faults.intercept(hook, bytes, handler).await
}
