//! What Keystone's admin handlers share: the caller, Keystone's policy checks (as its
//! default policies decide them for project-scoped tokens: `admin_required` is the
//! `admin` role; owners may read their own), request bodies checked the way Keystone's
//! JSON schemas check them (with their messages), and reads/writes over the
//! [`Directory`].

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{HeaderMap, Uri};
use serde_json::{Map, Value};

use super::auth::header_str;
use super::{authenticate, Context};
use crate::edge::Edge;
use crate::error::{ApiError, KeystoneError};
use crate::identity::directory::Directory;

/// The caller of an admin API request (any failure is a 401).
pub fn caller(app: &Edge, headers: &HeaderMap) -> Result<Context, KeystoneError> {
    Ok(authenticate(app, header_str(headers, "x-auth-token"))?)
}

/// Keystone's policy refusal for `identity:<action>`.
pub fn forbidden(action: &str) -> KeystoneError {
    KeystoneError(ApiError::Forbidden(format!(
        "You are not authorized to perform the requested action: identity:{action}."
    )))
}

/// `rule:admin_required`.
pub fn require_admin(ctx: &Context, action: &str) -> Result<(), KeystoneError> {
    if ctx.is_admin() {
        Ok(())
    } else {
        Err(forbidden(action))
    }
}

/// `rule:admin_required or user_id:%(target.user.id)s`.
pub fn require_admin_or_owner(
    ctx: &Context,
    user_id: &str,
    action: &str,
) -> Result<(), KeystoneError> {
    if ctx.is_admin() || ctx.user_id == user_id {
        Ok(())
    } else {
        Err(forbidden(action))
    }
}

/// Runs `f` over the directory of the committed state.
pub fn read<R>(app: &Edge, f: impl FnOnce(&Directory<'_>) -> R) -> R {
    let world = &app.domain.world;
    app.domain.view(|tx| f(&Directory::new(tx, world)))
}

/// The request's path under `/identity/v3/`, with its query: a collection's `self`.
pub fn self_path(uri: &Uri) -> String {
    let path = uri
        .path()
        .trim_start_matches("/identity/v3/")
        .trim_end_matches('/');
    match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    }
}

pub type Query = HashMap<String, String>;

/// The body as a JSON object whose `key` is an object (Keystone's schema messages).
pub async fn body_object(body: Body, key: &str) -> Result<Map<String, Value>, KeystoneError> {
    let bytes = crate::body::read_limited(body).await?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| {
        ApiError::bad_request(
            "Expecting to find valid JSON in request body. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
        )
    })?;
    let Value::Object(mut root) = v else {
        return Err(ApiError::bad_request(format!("{} is not of type 'object'", repr(&v))).into());
    };
    match root.remove(key) {
        Some(Value::Object(o)) => Ok(o),
        Some(other) => Err(ApiError::bad_request(format!(
            "Invalid input for field '{key}': {} is not of type 'object'",
            repr(&other)
        ))
        .into()),
        None => Err(ApiError::bad_request(format!("'{key}' is a required property")).into()),
    }
}

/// Python's `repr` of a JSON value, as jsonschema's messages print it.
fn repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{s}'"),
        Value::Array(a) => format!("[{}]", a.iter().map(repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("'{k}': {}", repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Reads fields of one request object (`project`, `user`, …), refusing bad types with
/// `Invalid input for field '<key>/<field>': …`.
pub struct Fields<'a> {
    key: &'a str,
    obj: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub fn new(key: &'a str, obj: &'a Map<String, Value>) -> Fields<'a> {
        Fields { key, obj }
    }

    fn bad(&self, field: &str, msg: String) -> KeystoneError {
        KeystoneError(ApiError::bad_request(format!(
            "Invalid input for field '{}/{field}': {msg}",
            self.key
        )))
    }

    /// A required string of 1..=max characters.
    pub fn name(&self, field: &str, max: usize) -> Result<String, KeystoneError> {
        match self.obj.get(field) {
            None => Err(KeystoneError(ApiError::bad_request(format!(
                "Invalid input for field '{}': '{field}' is a required property",
                self.key
            )))),
            Some(_) => self
                .string(field, max)?
                .ok_or_else(|| self.bad(field, "None is not of type 'string'".into())),
        }
    }

    /// An optional string (null allowed) of at most `max` characters; an empty string
    /// is refused when `max` is a name's bound.
    pub fn string(&self, field: &str, max: usize) -> Result<Option<String>, KeystoneError> {
        match self.obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.chars().count() > max => {
                Err(self.bad(field, format!("'{s}' is too long")))
            }
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.bad(field, format!("{} is not of type 'string'", repr(v)))),
        }
    }

    /// A required, non-empty, non-blank name.
    pub fn nonblank_name(&self, field: &str, max: usize) -> Result<String, KeystoneError> {
        let s = self.name(field, max)?;
        if s.trim().is_empty() {
            return Err(self.bad(field, format!("'{s}' does not match '[\\\\S]+'")));
        }
        Ok(s)
    }

    pub fn boolean(&self, field: &str) -> Result<Option<bool>, KeystoneError> {
        match self.obj.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.bad(field, format!("{} is not of type 'boolean'", repr(v)))),
        }
    }

    pub fn has(&self, field: &str) -> bool {
        self.obj.contains_key(field)
    }

    pub fn strings(&self, field: &str) -> Result<Option<Vec<String>>, KeystoneError> {
        match self.obj.get(field) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => {
                        Err(self.bad(field, format!("{} is not of type 'string'", repr(other))))
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.bad(field, format!("{} is not of type 'array'", repr(v)))),
        }
    }

    pub fn get(&self, field: &str) -> Option<&'a Value> {
        self.obj.get(field)
    }
}

/// Keystone's truthy query values (`?enabled=false`, `?include_names`).
pub fn query_true(q: &Query, key: &str) -> Option<bool> {
    q.get(key).map(|v| {
        let v = v.to_lowercase();
        !(v == "0" || v == "false" || v == "no" || v == "off")
    })
}

/// `PATCH` bodies may not change the id (Keystone's `_require_matching_id`).
pub fn require_matching_id(f: &Fields<'_>, id: &str) -> Result<(), KeystoneError> {
    match f.get("id") {
        Some(Value::String(s)) if s != id => {
            Err(KeystoneError(ApiError::bad_request("Cannot change ID")))
        }
        _ => Ok(()),
    }
}
