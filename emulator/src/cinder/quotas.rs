//! Limits and quota sets: `GET /limits`, and `os-quota-sets` show (with `usage`),
//! defaults, admin update and admin delete, per-type keys included.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::params::truthy;
use super::Req;
use crate::error::ApiError;
use crate::volume::ops;

/// Cinder's DB_MAX_INT, the largest limit it stores.
const MAX_LIMIT: i64 = 0x7FFF_FFFF;

/// Keys a quota-set body may carry that are not quotas.
const NON_QUOTA_KEYS: &[&str] = &["tenant_id", "id"];

pub async fn limits(req: &Req) -> Result<Response, ApiError> {
    let world = req.app.domain.world.clone();
    let pid = req.project_id.clone();
    let body = req.app.domain.store.view(|tx| {
        let (n, gb) = ops::usage(tx, &pid, None);
        let (backups, backup_gb) = crate::volume::backups::usage(tx, &pid);
        let l = |r: &str| ops::quota_limit(tx, &world, &pid, r);
        json!({"limits": {"rate": [], "absolute": {
            "maxTotalVolumes": l("volumes"),
            "maxTotalSnapshots": l("snapshots"),
            "maxTotalVolumeGigabytes": l("gigabytes"),
            "maxTotalBackups": l("backups"),
            "maxTotalBackupGigabytes": l("backup_gigabytes"),
            "totalVolumesUsed": n,
            "totalGigabytesUsed": gb,
            "totalSnapshotsUsed": ops::quota_in_use(tx, &pid, "snapshots"),
            "totalBackupsUsed": backups,
            "totalBackupGigabytesUsed": backup_gb,
        }}})
    });
    Ok(Json(body).into_response())
}

/// Anyone may read their own project's quotas; only admins read others'.
fn check_show(req: &Req, pid: &str) -> Result<(), ApiError> {
    if req.caller.is_admin || req.project_id == pid {
        Ok(())
    } else {
        Err(ApiError::policy("volume_extension:quotas:show"))
    }
}

/// Every resource's current limit for `pid`, or `{limit, in_use, reserved}` with usage.
fn quota_set(req: &Req, pid: &str, with_usage: bool) -> Map<String, Value> {
    let world = req.app.domain.world.clone();
    req.app.domain.store.view(|tx| {
        ops::quota_resources(tx)
            .into_iter()
            .map(|r| {
                let limit = ops::quota_limit(tx, &world, pid, &r);
                let v = if with_usage {
                    json!({"limit": limit, "in_use": ops::quota_in_use(tx, pid, &r), "reserved": 0})
                } else {
                    json!(limit)
                };
                (r, v)
            })
            .collect()
    })
}

pub async fn show(req: &Req, pid: &str) -> Result<Response, ApiError> {
    check_show(req, pid)?;
    let usage = req.query("usage").is_some_and(truthy);
    let mut set = quota_set(req, pid, usage);
    set.insert("id".into(), json!(pid));
    Ok(Json(json!({ "quota_set": set })).into_response())
}

pub async fn defaults(req: &Req, pid: &str) -> Result<Response, ApiError> {
    check_show(req, pid)?;
    let world = req.app.domain.world.clone();
    let mut set: Map<String, Value> = req.app.domain.store.view(|tx| {
        ops::quota_resources(tx)
            .into_iter()
            .map(|r| {
                let l = crate::volume::quota_classes::project_default(tx, &world, pid, &r);
                (r, json!(l))
            })
            .collect()
    });
    set.insert("id".into(), json!(pid));
    Ok(Json(json!({ "quota_set": set })).into_response())
}

/// oslo's `validate_integer`: an int (or a string of one) within [-1, DB_MAX_INT].
fn limit_value(key: &str, v: &Value) -> Result<i64, ApiError> {
    let n: Option<i128> = match v {
        Value::Number(n) => n.as_i64().map(i128::from),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    match n {
        None => Err(ApiError::bad_request(format!("{key} must be an integer."))),
        Some(n) if n < -1 => Err(ApiError::bad_request(format!("{key} must be >= -1."))),
        Some(n) if n > MAX_LIMIT as i128 => Err(ApiError::bad_request(format!(
            "{key} must be <= {MAX_LIMIT}."
        ))),
        Some(n) => Ok(n as i64),
    }
}

pub async fn update(req: &Req, pid: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:quotas:update")?;
    // Cinder 29 has no `skip_validation` (the schema refuses it): a limit below the
    // current usage is always refused.
    let set = req.json_object("quota_set")?;
    let known = req.app.domain.store.view(ops::quota_resources);
    let bad: Vec<&str> = set
        .keys()
        .map(String::as_str)
        .filter(|k| !NON_QUOTA_KEYS.contains(k) && !known.iter().any(|r| r == k))
        .collect();
    if !bad.is_empty() {
        // The schema's `quota_set` format checker raises InvalidInput.
        return Err(ApiError::bad_request(format!(
            "Invalid input received: Bad key(s) in quota set: {}",
            bad.join(", ")
        )));
    }
    let mut limits = Vec::new();
    for (k, v) in &set {
        if NON_QUOTA_KEYS.contains(&k.as_str()) {
            continue;
        }
        limits.push((k.clone(), limit_value(k, v)?));
    }
    let project = pid.to_string();
    req.app
        .domain
        .store
        .write(move |tx| ops::set_quotas(tx, &project, &limits, true))
        .await?;
    Ok(Json(json!({ "quota_set": quota_set(req, pid, false) })).into_response())
}

pub async fn delete(req: &Req, pid: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:quotas:delete")?;
    let project = pid.to_string();
    req.app
        .domain
        .store
        .write(move |tx| {
            ops::reset_quotas(tx, &project);
            Ok(())
        })
        .await?;
    Ok(axum::http::StatusCode::OK.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: Value, expected: Result<i64, &str>) {
        let got = limit_value("volumes", &v).map_err(|e| e.to_string());
        assert_eq!(got, expected.map_err(String::from), "{v}");
    }

    #[test]
    fn limits_are_integers_from_minus_one() {
        check(json!(5), Ok(5));
        check(json!("7"), Ok(7));
        check(json!(-1), Ok(-1));
        check(json!(-2), Err("volumes must be >= -1."));
        check(json!(1.5), Err("volumes must be an integer."));
        check(json!("x"), Err("volumes must be an integer."));
        check(json!(true), Err("volumes must be an integer."));
        check(
            json!(4_294_967_296u64),
            Err("volumes must be <= 2147483647."),
        );
    }
}
