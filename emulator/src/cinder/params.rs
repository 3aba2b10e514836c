//! Request parameter helpers shared by the handlers: oslo's boolean strings, schema
//! `uuid` fields, list paging (`limit`, `offset`, `marker`). One definition each, with
//! Cinder's wording.

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

/// Cinder's `osapi_max_limit`: the longest page a list returns.
pub const MAX_PAGE: usize = 1000;

/// A list's paging query parameters, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging<'q> {
    /// At most [`MAX_PAGE`]; `None` when not given.
    pub limit: Option<usize>,
    pub offset: usize,
    pub marker: Option<&'q str>,
}

impl<'q> Paging<'q> {
    /// From the raw `limit`, `offset` and `marker` query values.
    pub fn parse(
        limit: Option<&str>,
        offset: Option<&str>,
        marker: Option<&'q str>,
    ) -> Result<Paging<'q>, ApiError> {
        let count = |name: &str, raw: &str| {
            raw.parse::<usize>().map_err(|_| {
                ApiError::bad_request(format!(
                    "Invalid input received: {name} must be a non-negative integer"
                ))
            })
        };
        Ok(Paging {
            limit: limit
                .map(|l| count("limit", l).map(|n| n.min(MAX_PAGE)))
                .transpose()?,
            offset: offset.map(|o| count("offset", o)).transpose()?.unwrap_or(0),
            marker,
        })
    }

    /// How many entries a page holds.
    pub fn page_size(&self) -> usize {
        self.limit.unwrap_or(MAX_PAGE)
    }

    /// Where the page starts in `items` (already sorted): just past the marker's entry,
    /// then `offset` more. A marker naming no entry is Cinder's 404.
    pub fn start<T>(&self, items: &[T], id: impl Fn(&T) -> Uuid) -> Result<usize, ApiError> {
        let Some(wanted) = self.marker_id()? else {
            return Ok(self.offset);
        };
        let pos = items
            .iter()
            .position(|i| id(i) == wanted)
            .ok_or_else(|| self.marker_not_found())?;
        Ok(pos + 1 + self.offset)
    }

    /// The marker's id; one that is not a UUID names no entry (Cinder's 404).
    pub fn marker_id(&self) -> Result<Option<Uuid>, ApiError> {
        self.marker
            .map(|m| Uuid::parse_str(m).map_err(|_| self.marker_not_found()))
            .transpose()
    }

    pub fn marker_not_found(&self) -> ApiError {
        ApiError::not_found(format!(
            "Marker {} could not be found.",
            self.marker.unwrap_or_default()
        ))
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

    #[test]
    fn paging() {
        let p = Paging::parse(Some("5000"), Some("2"), None).unwrap();
        assert_eq!(
            (p.limit, p.offset, p.page_size()),
            (Some(MAX_PAGE), 2, MAX_PAGE)
        );
        assert!(Paging::parse(Some("-1"), None, None)
            .unwrap_err()
            .to_string()
            .contains("limit must be a non-negative integer"));
        assert!(Paging::parse(None, Some("x"), None)
            .unwrap_err()
            .to_string()
            .contains("offset must be a non-negative integer"));
        let ids = [Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3)];
        let second = ids[1].to_string();
        let p = Paging::parse(None, Some("1"), Some(&second)).unwrap();
        assert_eq!(p.start(&ids, |u| *u).unwrap(), 3);
        let p = Paging::parse(None, None, Some("nope")).unwrap();
        assert!(p
            .start(&ids, |u| *u)
            .unwrap_err()
            .to_string()
            .contains("Marker nope could not be found."));
        assert_eq!(
            Paging::parse(None, None, None)
                .unwrap()
                .start(&ids, |u| *u)
                .unwrap(),
            0
        );
    }
}
