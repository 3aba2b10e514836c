//! Request bodies of the backups API, checked with Cinder's schema wording
//! (`cinder/api/schemas/backups.py`, the backup admin actions).

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::views::{py_quoted, py_repr};
use crate::error::ApiError;
use crate::volume::backup_status::BackupStatus;
use crate::volume::backups::CreateBackup;

/// `additionalProperties: false` of the object at `field`.
pub fn refuse_unknown(
    body: &Map<String, Value>,
    allowed: &[&str],
    field: &str,
) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(ApiError::invalid_field(
            field,
            py_repr(&Value::Object(body.clone())),
            &format!("Additional properties are not allowed ('{extra}' was unexpected)"),
        )),
        None => Ok(()),
    }
}

/// A `['string', 'null']` field of at most 255 characters.
pub fn nullable_string(path: &str, v: Option<&Value>) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= 255 => Ok(Some(s.clone())),
        Some(Value::String(s)) => Err(ApiError::invalid_field(
            path,
            py_quoted(&Value::String(s.clone())),
            &format!("{} is too long", py_quoted(&Value::String(s.clone()))),
        )),
        Some(other) => Err(ApiError::invalid_field(
            path,
            py_repr(other),
            &format!("{} is not of type 'string', 'null'", py_quoted(other)),
        )),
    }
}

/// `parameter_types.boolean`: a JSON bool or one of its strings.
pub fn boolean(path: &str, v: Option<&Value>) -> Result<bool, ApiError> {
    const TRUE: &[&str] = &[
        "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes", "y", "t",
    ];
    const FALSE: &[&str] = &[
        "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", "n", "f",
    ];
    match v {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if TRUE.contains(&s.as_str()) => Ok(true),
        Some(Value::String(s)) if FALSE.contains(&s.as_str()) => Ok(false),
        Some(other) => Err(ApiError::invalid_field(
            path,
            py_repr(other),
            &format!("{} is not one of the allowed values", py_quoted(other)),
        )),
    }
}

fn uuid(path: &str, v: &Value) -> Result<Uuid, ApiError> {
    match v {
        Value::String(s) => Uuid::parse_str(s).map_err(|_| {
            ApiError::invalid_field(
                path,
                py_quoted(v),
                &format!("{} is not a 'uuid'", py_quoted(v)),
            )
        }),
        other => Err(ApiError::invalid_field(
            path,
            py_repr(other),
            &format!("{} is not of type 'string'", py_quoted(other)),
        )),
    }
}

fn optional_uuid(path: &str, v: Option<&Value>) -> Result<Option<Uuid>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => uuid(path, v).map(Some),
    }
}

/// Metadata: string keys of 1–255 and string values of at most 255 characters.
pub fn metadata(path: &str, v: Option<&Value>) -> Result<BTreeMap<String, String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s)
                    if (1..=255).contains(&k.chars().count()) && s.chars().count() <= 255 =>
                {
                    Ok((k.clone(), s.clone()))
                }
                other => Err(ApiError::invalid_field(
                    path,
                    py_repr(&Value::Object(m.clone())),
                    &format!(
                        "{} is not a valid metadata value for key '{k}'",
                        py_quoted(other)
                    ),
                )),
            })
            .collect(),
        Some(other) => Err(ApiError::invalid_field(
            path,
            py_repr(other),
            &format!("{} is not of type 'object', 'null'", py_quoted(other)),
        )),
    }
}

/// The `backup` object of `POST /backups` at microversion `minor`.
pub fn create(body: &Map<String, Value>, minor: u16) -> Result<CreateBackup, ApiError> {
    let mut allowed = vec![
        "volume_id",
        "container",
        "description",
        "incremental",
        "force",
        "name",
        "snapshot_id",
    ];
    if minor >= 43 {
        allowed.push("metadata");
    }
    if minor >= 51 {
        allowed.push("availability_zone");
    }
    refuse_unknown(body, &allowed, "backup")?;
    let volume_id = match body.get("volume_id") {
        Some(v) => uuid("backup/volume_id", v)?,
        None => {
            return Err(ApiError::invalid_field(
                "backup",
                py_repr(&Value::Object(body.clone())),
                "'volume_id' is a required property",
            ))
        }
    };
    Ok(CreateBackup {
        volume_id,
        name: nullable_string("backup/name", body.get("name"))?.map(|s| s.trim().to_string()),
        description: nullable_string("backup/description", body.get("description"))?
            .map(|s| s.trim().to_string()),
        container: nullable_string("backup/container", body.get("container"))?,
        incremental: boolean("backup/incremental", body.get("incremental"))?,
        force: boolean("backup/force", body.get("force"))?,
        snapshot_id: optional_uuid("backup/snapshot_id", body.get("snapshot_id"))?,
        metadata: metadata("backup/metadata", body.get("metadata"))?,
        availability_zone: nullable_string(
            "backup/availability_zone",
            body.get("availability_zone"),
        )?,
    })
}

/// `{"restore": {name?, volume_id?} | null}`.
pub fn restore(body: &Value) -> Result<(Option<Uuid>, Option<String>), ApiError> {
    let obj = match body {
        Value::Object(o) => o,
        _ => return Err(ApiError::bad_request("Malformed request body")),
    };
    refuse_unknown(obj, &["restore"], "restore")?;
    match obj.get("restore") {
        None => Err(ApiError::bad_request("Invalid input for field/attribute restore. Value: {}. 'restore' is a required property")),
        Some(Value::Null) => Ok((None, None)),
        Some(Value::Object(r)) => {
            refuse_unknown(r, &["name", "volume_id"], "restore")?;
            Ok((
                optional_uuid("restore/volume_id", r.get("volume_id"))?,
                nullable_string("restore/name", r.get("name"))?,
            ))
        }
        Some(other) => Err(ApiError::invalid_field(
            "restore",
            py_repr(other),
            &format!("{} is not of type 'object', 'null'", py_quoted(other)),
        )),
    }
}

/// `os-reset_status`'s `status`: `available` or `error` (any case).
pub fn reset_status(args: &Value) -> Result<BackupStatus, ApiError> {
    let status = match args.get("status") {
        Some(Value::String(s)) => s.to_ascii_lowercase(),
        Some(other) => {
            return Err(ApiError::invalid_field(
                "os-reset_status/status",
                py_repr(other),
                &format!("{} is not of type 'string'", py_quoted(other)),
            ))
        }
        None => {
            return Err(ApiError::invalid_field(
                "os-reset_status",
                py_repr(args),
                "'status' is a required property",
            ))
        }
    };
    match status.as_str() {
        "available" => Ok(BackupStatus::Available),
        "error" => Ok(BackupStatus::Error),
        _ => Err(ApiError::bad_request(format!(
            "Backup status: {} is invalid, valid statuses are: ['available', 'error'].",
            args["status"].as_str().unwrap_or_default()
        ))),
    }
}
