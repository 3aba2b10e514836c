//! Carrying out a fired HTTP effect: an error in Cinder's or Keystone's envelope, a
//! delay, a hang, a closed connection, or a lie. `next` runs the real handler with the
//! (possibly rewritten) body.

use std::future::Future;
use std::io;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use uuid::Uuid;

use super::matching::attachment_id_in_path;
use super::operations;
use super::rule::{ErrorSpec, HttpEffect, Lie};
use super::{Call, Faults, Service};
use crate::error::{cinder_fault, keystone_fault, ApiError};
use crate::volume::metadata;
use crate::volume::status::VolumeStatus;

pub async fn apply<F, Fut>(
    faults: &Faults,
    call: &Call<'_>,
    effect: HttpEffect,
    body: Bytes,
    next: F,
) -> Response
where
    F: FnOnce(Bytes) -> Fut,
    Fut: Future<Output = Response>,
{
    match effect {
        HttpEffect::Error(spec) => {
            if spec.applied {
                let real = next(body).await;
                call.note(&format!("applied, then answered {}", spec.status));
                drop(real);
            }
            error_response(faults, call.service, &spec)
        }
        HttpEffect::Latency { min_ms, .. } => {
            call.note(&format!("delayed {min_ms} ms"));
            faults.wait(Duration::from_millis(min_ms)).await;
            next(body).await
        }
        HttpEffect::Hang { max_ms } => {
            call.note("hang");
            faults.wait(Duration::from_millis(max_ms)).await;
            call.closed("hang ended: connection closed");
            closed_connection()
        }
        HttpEffect::Close => {
            call.closed("connection closed");
            closed_connection()
        }
        HttpEffect::Lie(Lie::VolumeType(t)) => {
            call.note(&format!("lie: volume_type rewritten to {t}"));
            next(rewrite_volume_type(&body, &t)).await
        }
        HttpEffect::Lie(Lie::Ack) => ack(faults, call, body, next).await,
        HttpEffect::Lie(Lie::Status(status)) => {
            let real = next(body).await;
            if !real.status().is_success() {
                return real;
            }
            call.note(&format!("lie: status reported as {status}"));
            rewrite_volume_status(real, status).await
        }
        HttpEffect::RefuseReserve { status } => {
            let Some(spec) = refusal(faults, &body, status) else {
                // no such volume: the real handler's 404 (or 400) stays
                return next(body).await;
            };
            call.note(&format!("refused: reservation as if {status}"));
            error_response(faults, call.service, &spec)
        }
    }
}

/// Cinder's `attachment_create` refusal (cinder/volume/api.py), for the volume the
/// request body names, as if it were in `status`.
fn refusal(faults: &Faults, body: &Bytes, status: VolumeStatus) -> Option<ErrorSpec> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let id = v
        .pointer("/attachment/volume_uuid")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())?;
    let multiattach = faults
        .store
        .read(|s| s.volumes.get(&id).map(|v| v.multiattach))?;
    let statuses = if multiattach {
        "available or in-use or downloading"
    } else {
        "available or downloading"
    };
    Some(ErrorSpec {
        status: 400,
        key: "badRequest".into(),
        message: format!(
            "Invalid volume: Volume {id} status must be {statuses} to reserve, but the current status is {status}."
        ),
        retry_after_s: None,
        applied: false,
    })
}

/// Cinder's `{"<key>": {"code", "message"}}`, Keystone's `{"error": {...}}`, or (401)
/// the expired-token answer keystonemiddleware gives, with `WWW-Authenticate`: all
/// rendered by `error.rs`, as every other error is.
pub fn error_response(faults: &Faults, service: Service, spec: &ErrorSpec) -> Response {
    if spec.status == 401 {
        return ApiError::Unauthorized {
            identity_uri: faults.identity_url.clone(),
        }
        .into_response();
    }
    let status = StatusCode::from_u16(spec.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match service {
        Service::Cinder => cinder_fault(status, &spec.key, &spec.message, spec.retry_after_s),
        Service::Keystone => keystone_fault(status, &spec.message, spec.retry_after_s),
    }
}

/// A response whose body fails at once: hyper then aborts the connection without
/// sending anything (the status line is still in its write buffer), which a client
/// sees as a connection closed before any response — the closest axum gets to
/// dropping the socket from inside a handler.
pub fn closed_connection() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, io::Error>(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "cinderbox fault: connection closed",
        ))
    });
    Response::new(Body::from_stream(failing))
}

fn rewrite_volume_type(body: &Bytes, type_name: &str) -> Bytes {
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
        return body.clone();
    };
    match v.get_mut("volume").and_then(Value::as_object_mut) {
        Some(vol) => {
            vol.insert("volume_type".into(), json!(type_name));
            Bytes::from(v.to_string())
        }
        None => body.clone(),
    }
}

/// The show answer with `volume.status` replaced (headers and code kept); an answer that is
/// not a volume passes unchanged.
async fn rewrite_volume_status(resp: Response, status: VolumeStatus) -> Response {
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return closed_connection();
    };
    let rewritten = match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut v) => match v.pointer_mut("/volume/status") {
            Some(s) => {
                *s = json!(status.as_str());
                Bytes::from(v.to_string())
            }
            None => bytes,
        },
        Err(_) => bytes,
    };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(rewritten))
}

/// Acknowledges without applying. Metadata writes run and are then undone (so the
/// answer is exactly what Cinder would say); the rest get a canned success when the
/// thing they name exists, and run normally otherwise (a 404 stays a 404).
async fn ack<F, Fut>(faults: &Faults, call: &Call<'_>, body: Bytes, next: F) -> Response
where
    F: FnOnce(Bytes) -> Fut,
    Fut: Future<Output = Response>,
{
    let volume_id = call.volume_id.and_then(|v| Uuid::parse_str(v).ok());
    let own_volume = volume_id.filter(|id| {
        faults.store.read(|s| {
            s.volumes
                .get(id)
                .is_some_and(|v| Some(v.project_id.as_str()) == call.project_id)
        })
    });
    let op = call.operation;
    if operations::METADATA_WRITES.contains(&op) {
        let Some(id) = own_volume else {
            return next(body).await;
        };
        let before = faults.store.read(|s| {
            s.volumes
                .get(&id)
                .map(|v| (v.name.clone(), v.description.clone(), v.metadata.clone()))
        });
        let resp = next(body).await;
        if let (true, Some((name, description, metadata))) = (resp.status().is_success(), before) {
            call.note("lie: acknowledged, then undone");
            let undone = faults
                .store
                .write(move |tx| metadata::restore(tx, id, name, description, metadata))
                .await;
            if let Err(e) = undone {
                tracing::error!(volume_id = %id, error = %e, "fault: could not undo a write");
            }
        }
        return resp;
    }
    let attachment_exists = || {
        attachment_id_in_path(call.path)
            .and_then(|a| Uuid::parse_str(a).ok())
            .is_some_and(|id| faults.store.read(|s| s.attachments.contains_key(&id)))
    };
    let canned = match op {
        "volume.delete" | "volume.action.os-extend" if own_volume.is_some() => {
            Some(StatusCode::ACCEPTED.into_response())
        }
        "attachment.complete" if attachment_exists() => {
            Some(StatusCode::NO_CONTENT.into_response())
        }
        "attachment.delete" if attachment_exists() => {
            Some(Json(json!({"attachments": []})).into_response())
        }
        _ => None,
    };
    match canned {
        Some(resp) => {
            call.note("lie: acknowledged, not applied");
            resp
        }
        None => next(body).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_lie_rewrites_only_a_volume_body() {
        let b = Bytes::from(r#"{"volume": {"size": 1, "volume_type": "glance-fast"}}"#);
        let out: Value = serde_json::from_slice(&rewrite_volume_type(&b, "glance-old")).unwrap();
        assert_eq!(out["volume"]["volume_type"], "glance-old");
        assert_eq!(out["volume"]["size"], 1);
        let none = Bytes::from(r#"{"volume": {"size": 1}}"#);
        let out: Value = serde_json::from_slice(&rewrite_volume_type(&none, "x")).unwrap();
        assert_eq!(out["volume"]["volume_type"], "x");
        let junk = Bytes::from("not json");
        assert_eq!(rewrite_volume_type(&junk, "x"), junk);
    }
}
