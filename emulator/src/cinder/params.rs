//! Request parameter helpers shared by the handlers: oslo's boolean strings, schema
//! `uuid` fields. One definition each, with Cinder's wording.

use serde_json::Value;
use uuid::Uuid;

use super::views::{py_quoted, py_repr};
use crate::error::ApiError;

/// oslo's `TRUE_STRINGS` / `FALSE_STRINGS` for `strutils.bool_from_string` (compared
/// lower-cased), as Cinder's query flags and type fields use them.
const TRUE: &[&str] = &["1", "t", "true", "on", "y", "yes"];
const FALSE: &[&str] = &["0", "f", "false", "off", "n", "no"];

/// `bool_from_string(s, strict=True)`: `None` when `s` is neither.
pub fn parse_bool(s: &str) -> Option<bool> {
    let lower = s.trim().to_ascii_lowercase();
    if TRUE.contains(&lower.as_str()) {
        Some(true)
    } else if FALSE.contains(&lower.as_str()) {
        Some(false)
    } else {
        None
    }
}

/// `bool_from_string(s)`: true only for a true string (a query flag such as
/// `all_tenants=1`).
pub fn truthy(s: &str) -> bool {
    parse_bool(s) == Some(true)
}

/// A schema `uuid` field: a string that parses as a UUID.
pub fn uuid_field(name: &str, v: &Value) -> Result<Uuid, ApiError> {
    match v {
        Value::String(s) => Uuid::parse_str(s)
            .map_err(|_| ApiError::invalid_field(name, s, &format!("'{s}' is not a 'uuid'"))),
        other => Err(ApiError::invalid_field(
            name,
            py_repr(other),
            &format!("{} is not of type 'string'", py_quoted(other)),
        )),
    }
}

/// An optional `uuid` field (`null` is absent).
pub fn optional_uuid(name: &str, v: Option<&Value>) -> Result<Option<Uuid>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => uuid_field(name, v).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn oslo_booleans() {
        for t in ["1", "true", "True", "YES", "on", "y", "t"] {
            assert!(truthy(t), "{t}");
            assert_eq!(parse_bool(t), Some(true));
        }
        for f in ["0", "false", "No", "off", "n", "f"] {
            assert!(!truthy(f), "{f}");
            assert_eq!(parse_bool(f), Some(false));
        }
        assert_eq!(parse_bool("maybe"), None);
        assert!(!truthy(""));
    }

    #[test]
    fn uuid_fields() {
        let id = Uuid::new_v4();
        assert_eq!(uuid_field("x", &json!(id.to_string())).unwrap(), id);
        let e = uuid_field("x", &json!("nope")).unwrap_err().to_string();
        assert!(e.contains("'nope' is not a 'uuid'"), "{e}");
        assert!(uuid_field("x", &json!(1)).is_err());
        assert_eq!(optional_uuid("x", Some(&json!(null))).unwrap(), None);
    }
}
