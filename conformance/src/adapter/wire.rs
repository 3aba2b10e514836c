//! The protocol's wire types (`docs/adapter-protocol.md`), shared by the runner's client
//! and the adapters written in Rust.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol's error classes; the wire names are the snake_case forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    NotFound,
    Disabled,
    BadLocation,
    StorageFull,
    SizeMismatch,
    Invalid,
    Backend,
    Unsupported,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::NotFound => "not_found",
            ErrorClass::Disabled => "disabled",
            ErrorClass::BadLocation => "bad_location",
            ErrorClass::StorageFull => "storage_full",
            ErrorClass::SizeMismatch => "size_mismatch",
            ErrorClass::Invalid => "invalid",
            ErrorClass::Backend => "backend",
            ErrorClass::Unsupported => "unsupported",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as it travels on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    pub class: ErrorClass,
    pub message: String,
}

/// One request line.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    pub op: String,
    #[serde(default)]
    pub args: Value,
}

/// One response line: `ok` with a `result`, or not `ok` with an `error`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Response {
    pub id: Option<u64>,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WireError>,
}

impl Response {
    pub fn ok(id: u64, result: Value) -> Response {
        Response {
            id: Some(id),
            ok: true,
            result: Some(result),
            error: None,
        }
    }

    pub fn err(id: Option<u64>, class: ErrorClass, message: impl Into<String>) -> Response {
        Response {
            id,
            ok: false,
            result: None,
            error: Some(WireError {
                class,
                message: message.into(),
            }),
        }
    }
}

/// Whether a store accepts writes, as the adapter reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreState {
    Enabled,
    Disabled,
    Unverified,
}

/// One configured store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Store {
    pub name: String,
    #[serde(rename = "type")]
    pub volume_type: Option<String>,
    pub default: bool,
    pub state: StoreState,
    pub reason: Option<String>,
}

/// What `add` returns: Glance's 5-tuple.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Added {
    pub location: String,
    pub size: u64,
    /// md5 hex.
    pub checksum: String,
    /// Hex digest with the requested `hashing_algo`.
    pub multihash: String,
    pub store: String,
}
