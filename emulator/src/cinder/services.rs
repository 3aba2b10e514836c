//! `/os-services` (admin only): list with `host`/`binary` filters, and the
//! `PUT /os-services/{action}` actions enable, disable, disable-log-reason, freeze, thaw.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::views::py_repr;
use super::Req;
use crate::error::ApiError;
use crate::timefmt;
use crate::volume::services::{self, host_matches, Switch, VOLUME_BINARY};

pub async fn list(req: &Req) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:services:index")?;
    let world = req.app.domain.world.clone();
    let listed = req.app.domain.read(|s| services::list(&world, s));
    let shown: Vec<Value> = listed
        .into_iter()
        .filter(|s| req.query("host").is_none_or(|h| host_matches(h, &s.host)))
        .filter(|s| req.query("binary").is_none_or(|b| b == s.binary))
        .map(|s| {
            let mut o = json!({
                "binary": s.binary,
                "host": s.host,
                "zone": s.zone,
                "status": if s.disabled { "disabled" } else { "enabled" },
                "state": "up",
                "updated_at": timefmt::cinder(s.updated_at),
                "disabled_reason": s.disabled_reason,
            });
            if req.mv.at_least(7) {
                o["cluster"] = Value::Null;
            }
            if s.binary == VOLUME_BINARY {
                if req.mv.at_least(49) {
                    o["backend_state"] = json!("up");
                }
                o["replication_status"] = json!("disabled");
                o["active_backend_id"] = Value::Null;
                o["frozen"] = json!(s.frozen);
            }
            o
        })
        .collect();
    Ok(Json(json!({ "services": shown })).into_response())
}

/// A string field of at most 255 characters (Cinder's schema), or None when absent.
fn string_field(
    body: &Map<String, Value>,
    key: &str,
    nullable: bool,
) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Null) if nullable => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= 255 && (nullable || !s.is_empty()) => {
            Ok(Some(s.clone()))
        }
        Some(other @ Value::String(_)) => Err(ApiError::invalid_field(
            key,
            py_repr(other),
            &format!("{} is too long", py_repr(other)),
        )),
        Some(other) => Err(ApiError::invalid_field(
            key,
            py_repr(other),
            &format!("{} is not of type 'string'", py_repr(other)),
        )),
    }
}

fn refuse_unknown(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(ApiError::bad_request(format!(
            "Additional properties are not allowed ('{extra}' was unexpected)"
        ))),
        None => Ok(()),
    }
}

pub async fn update(req: &Req, action: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:services:update")?;
    let body = match req.json_value()? {
        Value::Object(m) => m,
        _ => return Err(ApiError::bad_request("Malformed request body")),
    };
    let world = req.app.domain.world.clone();
    match action {
        "enable" | "disable" | "disable-log-reason" => {
            let with_reason = action == "disable-log-reason";
            let mut allowed = vec!["binary", "host", "cluster", "service"];
            if with_reason {
                allowed.push("disabled_reason");
            }
            refuse_unknown(&body, &allowed)?;
            let host = string_field(&body, "host", false)?;
            let binary = string_field(&body, "binary", false)?;
            let service = string_field(&body, "service", false)?;
            string_field(&body, "cluster", true)?;
            if binary.is_none() && service.is_none() {
                return Err(ApiError::bad_request(format!(
                    "Invalid input for field/attribute body. Value: {}. {} is not valid under any of the given schemas",
                    py_repr(&Value::Object(body.clone())),
                    py_repr(&Value::Object(body.clone()))
                )));
            }
            let reason = if with_reason {
                match body.get("disabled_reason") {
                    Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 255 => {
                        Some(s.clone())
                    }
                    other => {
                        let shown = other.map(py_repr).unwrap_or_else(|| "None".into());
                        return Err(ApiError::invalid_field(
                            "disabled_reason",
                            &shown,
                            &format!("{shown} is not of type 'string'"),
                        ));
                    }
                }
            } else {
                None
            };
            let host = host.ok_or_else(|| {
                ApiError::bad_request("Invalid input received: Host field is missing.")
            })?;
            let binary_key = binary.clone().or(service.clone()).unwrap_or_default();
            let switch = if action == "enable" {
                Switch::Enable
            } else {
                Switch::Disable {
                    reason: reason.clone(),
                }
            };
            let (h, b) = (host.clone(), binary_key.clone());
            req.app
                .domain
                .write(move |tx| services::set_enabled(tx, &world, &h, &b, switch))
                .await?;
            let disabled = action != "enable";
            let mut o = json!({
                "host": host,
                "service": service.unwrap_or_default(),
                "binary": binary.unwrap_or_default(),
                "status": if disabled { "disabled" } else { "enabled" },
                "disabled": disabled,
            });
            if with_reason {
                o["disabled_reason"] = json!(reason);
            }
            Ok(Json(o).into_response())
        }
        "freeze" | "thaw" => {
            refuse_unknown(&body, &["cluster", "host"])?;
            let cluster = string_field(&body, "cluster", true)?.filter(|c| !c.is_empty());
            let host = string_field(&body, "host", true)?.filter(|h| !h.is_empty());
            // `get_cluster_host`: from 3.26 exactly one of cluster and host; no clusters
            // exist here, so a cluster name finds no service.
            let host = match (req.mv.at_least(26), host, cluster) {
                (true, Some(_), Some(_)) | (true, None, None) => {
                    return Err(ApiError::bad_request(
                        "Invalid input received: One and only one of cluster and host must be set.",
                    ))
                }
                (true, None, Some(c)) => {
                    return Err(ApiError::bad_request(format!(
                        "No service found with cluster={c}"
                    )))
                }
                (_, Some(h), _) => h,
                (false, None, _) => {
                    return Err(ApiError::bad_request(
                        "Invalid input received: Host field is missing.",
                    ))
                }
            };
            let frozen = action == "freeze";
            req.app
                .domain
                .write(move |tx| services::set_frozen(tx, &world, &host, frozen))
                .await?;
            Ok(Json(Value::Null).into_response())
        }
        _ => Err(ApiError::bad_request(
            "Invalid input received: Unknown action",
        )),
    }
}
