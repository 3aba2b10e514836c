//! `os-quota-class-sets/{class}`: show and update a quota class (admin only, as
//! Cinder's `volume_extension:quota_classes:get`/`update` policies).

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::views::{py_quoted, py_repr};
use super::Req;
use crate::error::ApiError;
use crate::volume::quota_classes;

/// Cinder's DB_MAX_INT.
const MAX_LIMIT: i64 = 0x7FFF_FFFF;

fn class_set(req: &Req, class: &str, with_id: bool) -> Value {
    let world = req.app.domain.world.clone();
    let mut set: Map<String, Value> = req
        .app
        .domain
        .view(|tx| quota_classes::show(tx, &world, class))
        .into_iter()
        .map(|(k, v)| (k, json!(v)))
        .collect();
    if with_id {
        set.insert("id".into(), json!(class));
    }
    json!({ "quota_class_set": set })
}

pub async fn show(req: &Req, class: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:quota_classes:get")?;
    Ok(Json(class_set(req, class, true)).into_response())
}

/// The schema's `quota_class_set` value: an integer from -1, or a string of digits.
fn limit(key: &str, v: &Value) -> Result<i64, ApiError> {
    let bad = |reason: String| ApiError::invalid_field(key, py_repr(v), &reason);
    let n: i128 = match v {
        Value::Number(n) if n.as_i64().is_some() => n.as_i64().map(i128::from).unwrap_or(0),
        Value::Number(n) if n.as_u64().is_some() => n.as_u64().map(i128::from).unwrap_or(0),
        Value::String(s) if s.is_empty() => {
            return Err(bad(format!("{} is too short", py_quoted(v))))
        }
        Value::String(s) if s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().unwrap_or(i128::from(MAX_LIMIT) + 1)
        }
        Value::String(_) => return Err(bad(format!("{} does not match '^[0-9]*$'", py_quoted(v)))),
        other => {
            return Err(bad(format!(
                "{} is not of type 'integer', 'string'",
                py_quoted(other)
            )))
        }
    };
    if n < -1 {
        return Err(bad(format!("{n} is less than the minimum of -1")));
    }
    if n > i128::from(MAX_LIMIT) {
        return Err(bad(format!(
            "{n} is greater than the maximum of {MAX_LIMIT}"
        )));
    }
    Ok(n as i64)
}

fn key_ok(k: &str) -> bool {
    (1..=300).contains(&k.chars().count())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_:. ".contains(c))
}

pub async fn update(req: &Req, class: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:quota_classes:update")?;
    let body = req.json_value()?;
    if let Some(extra) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "quota_class_set"))
    {
        return Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute quota_class_set. Value: {}. Additional properties are not allowed ('{extra}' was unexpected)",
            py_repr(&body)
        )));
    }
    let set = req.json_object("quota_class_set")?;
    let mut limits = Vec::new();
    for (k, v) in &set {
        if !key_ok(k) {
            return Err(ApiError::invalid_field(
                "quota_class_set",
                py_repr(&Value::Object(set.clone())),
                &format!("Additional properties are not allowed ('{k}' was unexpected)"),
            ));
        }
        limits.push((k.clone(), limit(k, v)?));
    }
    let name = class.to_string();
    req.app
        .domain
        .write(move |tx| quota_classes::update(tx, &name, &limits))
        .await?;
    Ok(Json(class_set(req, class, false)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: Value, expected: Result<i64, &str>) {
        let got = limit("volumes", &v).map_err(|e| e.to_string());
        match expected {
            Ok(n) => assert_eq!(got, Ok(n), "{v}"),
            Err(tail) => {
                let msg = got.expect_err("refused");
                assert!(msg.ends_with(tail), "{v}: {msg}");
            }
        }
    }

    #[test]
    fn class_limits_follow_the_schema() {
        check(json!(5), Ok(5));
        check(json!(-1), Ok(-1));
        check(json!("12"), Ok(12));
        check(json!(-2), Err("-2 is less than the minimum of -1"));
        check(json!("-1"), Err("'-1' does not match '^[0-9]*$'"));
        check(json!(""), Err("'' is too short"));
        check(json!(1.5), Err("1.5 is not of type 'integer', 'string'"));
        check(
            json!(2_147_483_648u64),
            Err("2147483648 is greater than the maximum of 2147483647"),
        );
        assert!(key_ok("volumes_my type"));
        assert!(!key_ok("bad/key"));
    }
}
