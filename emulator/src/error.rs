//! The emulator's one error type and its single mapping to HTTP: Cinder's fault
//! envelope (`{"itemNotFound": {"code": 404, "message": ..}}`) or Keystone's
//! (`{"error": {"code", "title", "message"}}`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// Missing, invalid, expired or revoked token. `identity_uri` goes in `WWW-Authenticate`.
    #[error("The request you have made requires authentication.")]
    Unauthorized { identity_uri: String },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{0}")]
    Conflict(String),
    /// Quota exceeded or request too large (Cinder answers both with 413 `overLimit`).
    #[error("{message}")]
    OverLimit { message: String },
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A bug or I/O failure on our side: logged once, answered as a bare 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::OverLimit { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The key of Cinder's fault envelope: the status decides it, as in Cinder's fault
    /// wrapper.
    pub fn cinder_key(&self) -> &'static str {
        cinder_key_for(self.status().as_u16())
    }

    pub fn bad_request(msg: impl Into<String>) -> Self {
        ApiError::BadRequest(msg.into())
    }

    pub fn not_found(msg: impl Into<String>) -> Self {
        ApiError::NotFound(msg.into())
    }

    pub fn volume_not_found(id: impl std::fmt::Display) -> Self {
        ApiError::NotFound(format!("Volume {id} could not be found."))
    }

    /// Cinder's wording for a policy refusal.
    pub fn policy(action: &str) -> Self {
        ApiError::Forbidden(format!("Policy doesn't allow {action} to be performed."))
    }

    /// Cinder's schema-validation wording.
    pub fn invalid_field(field: &str, value: impl std::fmt::Display, reason: &str) -> Self {
        ApiError::BadRequest(format!(
            "Invalid input for field/attribute {field}. Value: {value}. {reason}"
        ))
    }

    fn log_internal(&self) {
        if let ApiError::Internal(detail) = self {
            tracing::error!(%detail, "internal error");
        }
    }

    fn unauthorized_response(identity_uri: &str) -> Response {
        let body = json!({"error": {
            "code": 401,
            "title": "Unauthorized",
            "message": "The request you have made requires authentication."
        }});
        let mut resp = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("Keystone uri=\"{identity_uri}\"")) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

/// The `title` Keystone gives an error status.
fn keystone_title_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "Bad Request",
        StatusCode::UNAUTHORIZED => "Unauthorized",
        StatusCode::FORBIDDEN => "Forbidden",
        StatusCode::NOT_FOUND => "Not Found",
        StatusCode::METHOD_NOT_ALLOWED => "Method Not Allowed",
        StatusCode::CONFLICT => "Conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "Request Entity Too Large",
        StatusCode::SERVICE_UNAVAILABLE => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

/// Cinder's fault envelope `{"<key>": {"code", "message"[, "retryAfter"]}}`, with
/// `Retry-After` when given: the one place it is built, for errors and injected faults.
pub fn cinder_fault(
    status: StatusCode,
    key: &str,
    message: &str,
    retry_after_s: Option<u64>,
) -> Response {
    let mut inner = json!({"code": status.as_u16(), "message": message});
    if let (StatusCode::PAYLOAD_TOO_LARGE, Some(r)) = (status, retry_after_s) {
        inner["retryAfter"] = json!(r.to_string());
    }
    let mut resp = (status, axum::Json(json!({ key: inner }))).into_response();
    if let Some(v) = retry_after_s.and_then(|r| HeaderValue::from_str(&r.to_string()).ok()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Keystone's `{"error": {"code", "title", "message"}}`, with `Retry-After` when given.
pub fn keystone_fault(status: StatusCode, message: &str, retry_after_s: Option<u64>) -> Response {
    let body = json!({"error": {
        "code": status.as_u16(),
        "title": keystone_title_for(status),
        "message": message,
    }});
    let mut resp = (status, axum::Json(body)).into_response();
    if let Some(v) = retry_after_s.and_then(|r| HeaderValue::from_str(&r.to_string()).ok()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Cinder's fault-envelope key for an HTTP status: its fault wrapper's table, shared by
/// every error the emulator renders and every injected fault.
pub fn cinder_key_for(status: u16) -> &'static str {
    match status {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 => "overLimit",
        415 => "badMediaType",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    }
}

/// Cinder-flavoured rendering (the default `IntoResponse`).
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log_internal();
        match &self {
            // keystonemiddleware answers before Cinder sees the request.
            ApiError::Unauthorized { identity_uri } => Self::unauthorized_response(identity_uri),
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            ApiError::OverLimit { message } => {
                cinder_fault(self.status(), self.cinder_key(), message, Some(0))
            }
            _ => cinder_fault(self.status(), self.cinder_key(), &self.to_string(), None),
        }
    }
}

/// Keystone-flavoured rendering of the same error.
#[derive(Debug)]
pub struct KeystoneError(pub ApiError);

impl From<ApiError> for KeystoneError {
    fn from(e: ApiError) -> Self {
        KeystoneError(e)
    }
}

impl IntoResponse for KeystoneError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log_internal();
        match &e {
            ApiError::Unauthorized { identity_uri } => {
                ApiError::unauthorized_response(identity_uri)
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            _ => keystone_fault(e.status(), &e.to_string(), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(e: ApiError, status: u16, key: &str) {
        assert_eq!(e.status().as_u16(), status, "{e:?}");
        assert_eq!(e.cinder_key(), key, "{e:?}");
    }

    #[test]
    fn every_variant_maps_to_cinder_s_status_and_key() {
        check(ApiError::bad_request("x"), 400, "badRequest");
        check(
            ApiError::Unauthorized {
                identity_uri: "u".into(),
            },
            401,
            "unauthorized",
        );
        check(ApiError::policy("x"), 403, "forbidden");
        check(ApiError::volume_not_found("v"), 404, "itemNotFound");
        check(ApiError::MethodNotAllowed("x".into()), 405, "badMethod");
        check(ApiError::NotAcceptable("x".into()), 406, "computeFault");
        check(ApiError::Conflict("x".into()), 409, "conflictingRequest");
        check(
            ApiError::OverLimit {
                message: "x".into(),
            },
            413,
            "overLimit",
        );
        check(
            ApiError::UnsupportedMediaType("x".into()),
            415,
            "badMediaType",
        );
        check(ApiError::Internal("x".into()), 500, "computeFault");
        assert_eq!(cinder_key_for(503), "serviceUnavailable");
        assert_eq!(cinder_key_for(501), "notImplemented");
        let injected = cinder_fault(StatusCode::INSUFFICIENT_STORAGE, "x", "m", None);
        assert_eq!(injected.status(), 507);
    }

    #[test]
    fn over_limit_carries_retry_after() {
        let r = ApiError::OverLimit {
            message: "exceeds".into(),
        }
        .into_response();
        assert_eq!(r.status(), 413);
        assert_eq!(r.headers()[header::RETRY_AFTER], "0");
    }
}
