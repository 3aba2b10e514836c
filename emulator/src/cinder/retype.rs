//! The `os-retype` action's arguments, checked with Cinder's schema wording
//! (`new_type` a string, `migration_policy` `never`, `on-demand` or null).

use serde_json::Value;

use super::views::{py_quoted, py_repr};
use crate::error::ApiError;

/// `(new_type, on_demand)` from the action's arguments.
pub fn parse(
    args: &Value,
    new_type: Option<Value>,
    migration_policy: Option<Value>,
) -> Result<(String, bool), ApiError> {
    if let Some(extra) = args.as_object().and_then(|o| {
        o.keys()
            .find(|k| *k != "new_type" && *k != "migration_policy")
    }) {
        return Err(ApiError::invalid_field(
            "os-retype",
            py_repr(args),
            &format!("Additional properties are not allowed ('{extra}' was unexpected)"),
        ));
    }
    let new_type = match new_type {
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(ApiError::invalid_field(
                "os-retype/new_type",
                py_repr(&other),
                &format!("{} is not of type 'string'", py_quoted(&other)),
            ))
        }
        None => {
            return Err(ApiError::invalid_field(
                "os-retype",
                py_repr(args),
                "'new_type' is a required property",
            ))
        }
    };
    let on_demand = match migration_policy {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) if s == "never" => false,
        Some(Value::String(s)) if s == "on-demand" => true,
        Some(other) => {
            return Err(ApiError::invalid_field(
                "os-retype/migration_policy",
                py_repr(&other),
                &format!("{} is not one of ['on-demand', 'never']", py_quoted(&other)),
            ))
        }
    };
    Ok((new_type, on_demand))
}
