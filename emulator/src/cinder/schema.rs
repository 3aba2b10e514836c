//! A JSON-schema (draft 4) checker for request bodies, as Cinder's
//! `cinder.api.validation` runs one: the keywords Cinder's schemas use, python-jsonschema's
//! messages (Python reprs: `'x' is not of type 'integer'`), Cinder's wrapping
//! (`Invalid input for field/attribute {key}. Value: {value}. {message}`), its numeric
//! strings for `minimum`/`maximum`, and its custom formats with their own refusals.
//!
//! Why not a JSON-schema crate: the wire contract here is the wording of Python's
//! validator and Cinder's format checkers (which raise their own errors), which no Rust
//! validator produces; the keyword logic itself is small. Schemas are `serde_json`
//! values written like Cinder's dicts (`schemas.rs`); keywords are checked in one fixed
//! order (Cinder writes its dicts in this order), and the first failure is reported.
//! Patterns are the fixed character classes Cinder's `parameter_types` use, matched by
//! name ([`pattern_matches`]); a schema naming any other pattern fails its unit test.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::views::{py_quoted, py_repr};
use crate::error::ApiError;

/// Keywords in the order they are checked.
const ORDER: &[&str] = &[
    "type",
    "enum",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "format",
    "items",
    "minItems",
    "uniqueItems",
    "properties",
    "patternProperties",
    "required",
    "anyOf",
    "oneOf",
    "additionalProperties",
    "minProperties",
    "maxProperties",
];

/// A refusal: where (the last key on the path), the value there, and the message.
#[derive(Debug, Clone, PartialEq)]
enum Failure {
    /// A schema keyword failed: python-jsonschema's `ValidationError`.
    Schema {
        field: Option<String>,
        value: Value,
        message: String,
    },
    /// A Cinder format checker raised its own error (the whole message).
    Raised(String),
}

/// Checks `body` against `schema`; the first failure is Cinder's 400.
pub fn check(schema: &Value, body: &Value) -> Result<(), ApiError> {
    match walk(schema, body, None) {
        Ok(()) => Ok(()),
        Err(Failure::Raised(msg)) => Err(ApiError::bad_request(msg)),
        Err(Failure::Schema {
            field: Some(field),
            value,
            message,
        }) => Err(ApiError::invalid_field(&field, py_repr(&value), &message)),
        Err(Failure::Schema {
            field: None,
            message,
            ..
        }) => Err(ApiError::bad_request(message)),
    }
}

fn fail(field: Option<&str>, value: &Value, message: String) -> Result<(), Failure> {
    Err(Failure::Schema {
        field: field.map(str::to_string),
        value: value.clone(),
        message,
    })
}

/// Whether `v` is of JSON-schema type `ty` (draft 4: a bool is no integer, 1.0 is none).
fn is_type(v: &Value, ty: &str) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        _ => false,
    }
}

/// Cinder's `_number_from_str`: numbers as they are, strings through `int` then `float`.
fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let t = s.trim();
            t.parse::<i128>()
                .map(|i| i as f64)
                .ok()
                .or_else(|| t.parse::<f64>().ok())
        }
        _ => None,
    }
}

/// How Python prints the number a bound was compared with.
fn number_repr(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let t = s.trim();
            t.parse::<i128>()
                .map(|i| i.to_string())
                .unwrap_or_else(|_| t.parse::<f64>().map(|f| f.to_string()).unwrap_or_default())
        }
        other => py_repr(other),
    }
}

fn chars_in(s: &str, extra: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// The patterns Cinder's schemas use, each as the character class it is. `None` for a
/// pattern this module does not know (a bug in a schema, caught by the unit tests).
pub fn pattern_matches(pattern: &str, s: &str) -> Option<bool> {
    let n = s.chars().count();
    Some(match pattern {
        "^[0-9]+$" => n > 0 && s.chars().all(|c| c.is_ascii_digit()),
        "^[0-9]*$" => s.chars().all(|c| c.is_ascii_digit()),
        "^[a-zA-Z0-9-._#@:/+]*$" => chars_in(s, "-._#@:/+"),
        r"^[a-zA-Z0-9-._#@:/+\[\]]*$" => chars_in(s, "-._#@:/+[]"),
        "^[a-zA-Z0-9-_:. /]{1,255}$" => (1..=255).contains(&n) && chars_in(s, "-_:. /"),
        "^[a-zA-Z0-9-_:.]{1,255}$" => (1..=255).contains(&n) && chars_in(s, "-_:."),
        "^[a-zA-Z0-9-_:. ]{1,300}$" => (1..=300).contains(&n) && chars_in(s, "-_:. "),
        PRINTABLE => s.chars().all(printable),
        _ => return None,
    })
}

/// Stands for Cinder's `valid_description_regex` (every printable character), whose
/// generated text is thousands of ranges long.
pub const PRINTABLE: &str = "^[printable characters]*$";

/// Cinder's `_is_printable`: not a control/format/unassigned character, and no space
/// but the plain (`Zs`) ones.
fn printable(c: char) -> bool {
    !(c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200b}'..='\u{200f}' | '\u{feff}'
        ))
}

/// Cinder's format checkers for a string (other types pass, as in python-jsonschema).
fn check_format(format: &str, field: Option<&str>, v: &Value) -> Result<(), Failure> {
    let Value::String(s) = v else {
        return Ok(());
    };
    let invalid_name = |reason: &str| {
        Err(Failure::Raised(format!(
            "An invalid 'name' value was provided. {reason}"
        )))
    };
    // `_validate_string_length`: Cinder's InvalidInput wording from oslo's check.
    let length = |name: &str, max: usize| {
        let n = s.trim().chars().count();
        if !s.is_empty() && n > max {
            Err(Failure::Raised(format!(
                "Invalid input received: {name} has {n} characters, more than {max}."
            )))
        } else {
            Ok(())
        }
    };
    let not_a = || fail(field, v, format!("{} is not a '{format}'", py_quoted(v)));
    match format {
        "uuid" => match Uuid::parse_str(s) {
            Ok(_) => Ok(()),
            Err(_) => not_a(),
        },
        "name" if s.is_empty() => invalid_name("The 'name' can not be None."),
        "name" if s.trim().is_empty() => invalid_name("The 'name' can not be empty."),
        "name_skip_leading_trailing_spaces" if s.is_empty() => {
            invalid_name("The 'name' can not be None.")
        }
        "name_skip_leading_trailing_spaces" if s.trim().is_empty() => {
            invalid_name("The 'name' can not be empty.")
        }
        "name_skip_leading_trailing_spaces" if s.trim().chars().count() > 255 => {
            invalid_name("The 'name' can not be greater than 255 characters.")
        }
        "name_non_mandatory_remove_white_spaces" => length("name", 255),
        "description_non_mandatory_remove_white_spaces" => length("description", 255),
        // Its InvalidInput is caught by the checker: the generic "is not a" message.
        "disabled_reason" if !s.is_empty() && s.trim().is_empty() => not_a(),
        "disabled_reason" if s.trim().chars().count() > 255 => not_a(),
        // Its refusals (HTTPBadRequest, InvalidInput) are caught by the checker.
        "group_type" if s.trim().is_empty() || s.trim().chars().count() > 255 => not_a(),
        // Not caught: Cinder's own refusals reach the client as they are.
        "availability_zone" if s.is_empty() => Err(Failure::Raised(
            "The 'availability_zone' can not be None.".into(),
        )),
        "availability_zone" if s.trim().is_empty() => Err(Failure::Raised(
            "Invalid input received: availability_zone has 0 characters, less than 1.".into(),
        )),
        "availability_zone" => length("availability_zone", 255),
        _ => Ok(()),
    }
}

fn walk(schema: &Value, v: &Value, field: Option<&str>) -> Result<(), Failure> {
    let Some(schema) = schema.as_object() else {
        return Ok(());
    };
    for kw in ORDER {
        if let Some(arg) = schema.get(*kw) {
            keyword(kw, arg, schema, v, field)?;
        }
    }
    Ok(())
}

fn keyword(
    kw: &str,
    arg: &Value,
    schema: &Map<String, Value>,
    v: &Value,
    field: Option<&str>,
) -> Result<(), Failure> {
    let q = || py_quoted(v);
    let count = |s: &str| s.chars().count() as u64;
    match (kw, v) {
        ("type", _) => {
            let types: Vec<&str> = match arg {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if types.iter().any(|t| is_type(v, t)) {
                return Ok(());
            }
            let names: Vec<String> = types.iter().map(|t| format!("'{t}'")).collect();
            fail(
                field,
                v,
                format!("{} is not of type {}", q(), names.join(", ")),
            )
        }
        ("enum", _) => match arg.as_array() {
            Some(options) if !options.contains(v) => {
                fail(field, v, format!("{} is not one of {}", q(), py_repr(arg)))
            }
            _ => Ok(()),
        },
        ("minLength", Value::String(s)) => match arg.as_u64() {
            Some(min) if count(s) < min => {
                let what = if min == 1 {
                    "should be non-empty"
                } else {
                    "is too short"
                };
                fail(field, v, format!("{} {what}", q()))
            }
            _ => Ok(()),
        },
        ("maxLength", Value::String(s)) => match arg.as_u64() {
            Some(max) if count(s) > max => {
                let what = if max == 0 {
                    "is expected to be empty"
                } else {
                    "is too long"
                };
                fail(field, v, format!("{} {what}", q()))
            }
            _ => Ok(()),
        },
        ("pattern", Value::String(s)) => {
            let p = arg.as_str().unwrap_or_default();
            match pattern_matches(p, s) {
                Some(false) => fail(field, v, format!("{} does not match '{p}'", q())),
                _ => Ok(()),
            }
        }
        ("minimum", _) => match (number_of(v), arg.as_f64()) {
            (Some(n), Some(min)) if n < min => fail(
                field,
                v,
                format!("{} is less than the minimum of {arg}", number_repr(v)),
            ),
            _ => Ok(()),
        },
        ("maximum", _) => match (number_of(v), arg.as_f64()) {
            (Some(n), Some(max)) if n > max => fail(
                field,
                v,
                format!("{} is greater than the maximum of {arg}", number_repr(v)),
            ),
            _ => Ok(()),
        },
        ("format", _) => check_format(arg.as_str().unwrap_or_default(), field, v),
        ("items", Value::Array(items)) => {
            for item in items {
                walk(arg, item, field)?;
            }
            Ok(())
        }
        ("minItems", Value::Array(items)) => match arg.as_u64() {
            Some(min) if (items.len() as u64) < min => {
                let what = if min == 1 {
                    "should be non-empty"
                } else {
                    "is too short"
                };
                fail(field, v, format!("{} {what}", q()))
            }
            _ => Ok(()),
        },
        ("uniqueItems", Value::Array(items)) if arg == &Value::Bool(true) => {
            let dup = items
                .iter()
                .enumerate()
                .any(|(i, x)| items[..i].contains(x));
            if dup {
                fail(field, v, format!("{} has non-unique elements", q()))
            } else {
                Ok(())
            }
        }
        ("properties", Value::Object(o)) => {
            if let Some(props) = arg.as_object() {
                for (key, sub) in props {
                    if let Some(child) = o.get(key) {
                        walk(sub, child, Some(key))?;
                    }
                }
            }
            Ok(())
        }
        ("patternProperties", Value::Object(o)) => {
            if let Some(patterns) = arg.as_object() {
                for (key, child) in o {
                    for (p, sub) in patterns {
                        if pattern_matches(p, key) == Some(true) {
                            walk(sub, child, Some(key))?;
                        }
                    }
                }
            }
            Ok(())
        }
        ("required", Value::Object(o)) => {
            for key in arg
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !o.contains_key(key) {
                    return fail(field, v, format!("'{key}' is a required property"));
                }
            }
            Ok(())
        }
        ("anyOf", _) => {
            let options = arg.as_array().map(Vec::as_slice).unwrap_or_default();
            if options.iter().any(|s| walk(s, v, field).is_ok()) {
                Ok(())
            } else {
                fail(
                    field,
                    v,
                    format!("{} is not valid under any of the given schemas", q()),
                )
            }
        }
        ("oneOf", _) => {
            let options = arg.as_array().map(Vec::as_slice).unwrap_or_default();
            match options.iter().filter(|s| walk(s, v, field).is_ok()).count() {
                1 => Ok(()),
                0 => fail(
                    field,
                    v,
                    format!("{} is not valid under any of the given schemas", q()),
                ),
                _ => fail(
                    field,
                    v,
                    format!("{} is valid under each of {}", q(), py_repr(arg)),
                ),
            }
        }
        ("additionalProperties", Value::Object(o)) if arg == &Value::Bool(false) => {
            additional(schema, o, v, field)
        }
        ("minProperties", Value::Object(o)) => match arg.as_u64() {
            Some(min) if (o.len() as u64) < min => {
                let what = if min == 1 {
                    "should be non-empty"
                } else {
                    "does not have enough properties"
                };
                fail(field, v, format!("{} {what}", q()))
            }
            _ => Ok(()),
        },
        ("maxProperties", Value::Object(o)) => match arg.as_u64() {
            Some(max) if (o.len() as u64) > max => {
                let what = if max == 0 {
                    "is expected to be empty"
                } else {
                    "has too many properties"
                };
                fail(field, v, format!("{} {what}", q()))
            }
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// `additionalProperties: false`: keys that neither `properties` nor a
/// `patternProperties` pattern names, with python-jsonschema's two wordings.
fn additional(
    schema: &Map<String, Value>,
    o: &Map<String, Value>,
    v: &Value,
    field: Option<&str>,
) -> Result<(), Failure> {
    let props = schema.get("properties").and_then(Value::as_object);
    let patterns = schema.get("patternProperties").and_then(Value::as_object);
    let mut extras: Vec<&String> = o
        .keys()
        .filter(|k| !props.is_some_and(|p| p.contains_key(*k)))
        .filter(|k| {
            !patterns.is_some_and(|ps| ps.keys().any(|p| pattern_matches(p, k) == Some(true)))
        })
        .collect();
    if extras.is_empty() {
        return Ok(());
    }
    extras.sort();
    let joined = extras
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let message = match patterns {
        Some(ps) => {
            let verb = if extras.len() == 1 { "does" } else { "do" };
            let regexes = ps
                .keys()
                .map(|p| format!("'{p}'"))
                .collect::<Vec<_>>()
                .join(", ");
            format!("{joined} {verb} not match any of the regexes: {regexes}")
        }
        None => {
            let verb = if extras.len() == 1 { "was" } else { "were" };
            format!("Additional properties are not allowed ({joined} {verb} unexpected)")
        }
    };
    fail(field, v, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_msg(schema: Value, body: Value, expected: Result<(), &str>) {
        let got = check(&schema, &body).map_err(|e| e.to_string());
        assert_eq!(got, expected.map_err(str::to_string), "{body}");
    }

    #[test]
    fn python_jsonschema_wording_in_cinder_s_envelope() {
        let size = json!({"type": "object", "properties": {"volume": {
            "type": "object",
            "properties": {"size": {"type": ["integer", "string"], "pattern": "^[0-9]+$",
                                    "minimum": 1, "maximum": 2147483647}},
            "required": ["size"], "additionalProperties": false}},
            "required": ["volume"], "additionalProperties": false});
        check_msg(size.clone(), json!({"volume": {"size": 1}}), Ok(()));
        check_msg(
            size.clone(),
            json!({"notvolume": {}}),
            Err("'volume' is a required property"),
        );
        check_msg(
            size.clone(),
            json!({"volume": {"size": 0}}),
            Err(
                "Invalid input for field/attribute size. Value: 0. 0 is less than the minimum of 1",
            ),
        );
        check_msg(
            size.clone(),
            json!({"volume": {"size": "0"}}),
            Err(
                "Invalid input for field/attribute size. Value: 0. 0 is less than the minimum of 1",
            ),
        );
        check_msg(
            size.clone(),
            json!({"volume": {"size": "-1"}}),
            Err(
                "Invalid input for field/attribute size. Value: -1. '-1' does not match '^[0-9]+$'",
            ),
        );
        check_msg(
            size.clone(),
            json!({"volume": {"size": true}}),
            Err("Invalid input for field/attribute size. Value: True. True is not of type 'integer', 'string'"),
        );
        check_msg(
            size.clone(),
            json!({"volume": {"size": 1, "b": 1, "a": 2}}),
            Err("Invalid input for field/attribute volume. Value: {'a': 2, 'b': 1, 'size': 1}. Additional properties are not allowed ('a', 'b' were unexpected)"),
        );
        check_msg(
            size,
            json!({"volume": {}}),
            Err("Invalid input for field/attribute volume. Value: {}. 'size' is a required property"),
        );
    }

    #[test]
    fn enums_formats_and_pattern_properties() {
        let mode = json!({"type": "object", "properties": {"mode": {"type": "string", "enum": ["rw", "ro"]},
            "id": {"type": "string", "format": "uuid"},
            "name": {"type": "string", "minLength": 1, "maxLength": 3, "format": "name"}}});
        check_msg(
            mode.clone(),
            json!({"mode": "xx"}),
            Err("Invalid input for field/attribute mode. Value: xx. 'xx' is not one of ['rw', 'ro']"),
        );
        check_msg(
            mode.clone(),
            json!({"id": "nope"}),
            Err("Invalid input for field/attribute id. Value: nope. 'nope' is not a 'uuid'"),
        );
        check_msg(
            mode.clone(),
            json!({"name": ""}),
            Err("Invalid input for field/attribute name. Value: . '' should be non-empty"),
        );
        check_msg(
            mode.clone(),
            json!({"name": "  "}),
            Err("An invalid 'name' value was provided. The 'name' can not be empty."),
        );
        check_msg(
            mode,
            json!({"name": "abcd"}),
            Err("Invalid input for field/attribute name. Value: abcd. 'abcd' is too long"),
        );
        let specs = json!({"type": "object", "patternProperties": {
            "^[a-zA-Z0-9-_:. /]{1,255}$": {"type": "string", "maxLength": 255}},
            "additionalProperties": false});
        check_msg(specs.clone(), json!({"a:b": "c"}), Ok(()));
        check_msg(
            specs.clone(),
            json!({"a": 1}),
            Err("Invalid input for field/attribute a. Value: 1. 1 is not of type 'string'"),
        );
        check_msg(
            specs,
            json!({"a!": "x"}),
            Err("'a!' does not match any of the regexes: '^[a-zA-Z0-9-_:. /]{1,255}$'"),
        );
    }

    #[test]
    fn one_of_and_any_of() {
        let s = json!({"type": "object", "properties": {
            "id": {"oneOf": [{"type": "null"}, {"type": "string", "format": "uuid"}]}},
            "anyOf": [{"required": ["id"]}, {"required": ["other"]}]});
        check_msg(s.clone(), json!({"id": null}), Ok(()));
        check_msg(
            s.clone(),
            json!({"id": 5}),
            Err("Invalid input for field/attribute id. Value: 5. 5 is not valid under any of the given schemas"),
        );
        check_msg(
            s,
            json!({}),
            Err("{} is not valid under any of the given schemas"),
        );
    }

    #[test]
    fn known_patterns_only() {
        assert_eq!(pattern_matches("^[0-9]+$", "12"), Some(true));
        assert_eq!(pattern_matches("^[0-9]+$", ""), Some(false));
        assert_eq!(pattern_matches(PRINTABLE, "a\u{7}"), Some(false));
        assert_eq!(pattern_matches("^x+$", "x"), None);
    }
}
