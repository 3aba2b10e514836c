//! The Keystone hook: every request Keystone's operation catalogue names
//! (`keystone::catalogue`: `keystone.token.create`, `keystone.project.create`, …) goes
//! through the fault rules as a middleware, so Keystone's handlers need not know about
//! faults. Everything else passes straight through.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Edge;
use crate::error::KeystoneError;
use crate::faults::{Call, Service};
use crate::reqlog::Trace;

pub async fn token_create(State(app): State<Arc<Edge>>, req: Request, next: Next) -> Response {
    let Some(operation) =
        crate::keystone::catalogue::operation(req.method().as_str(), req.uri().path())
    else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let bytes = match crate::body::read_limited(body).await {
        Ok(b) => b,
        Err(e) => return KeystoneError(e).into_response(),
    };
    let hook = Call {
        service: Service::Keystone,
        operation,
        method: &method,
        path: &path,
        project_id: None,
        volume_id: None,
        trace: parts.extensions.get::<Trace>().cloned(),
    };
    let handler =
        move |body| async move { next.run(Request::from_parts(parts, Body::from(body))).await };
    app.faults.intercept(hook, bytes, handler).await
}
