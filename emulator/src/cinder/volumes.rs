//! Volume handlers: create, show, list (filters, sort, paging), update, delete,
//! summary and the metadata endpoints. Each validates input, calls one domain
//! operation and renders a view.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::params::truthy;
use super::views::{self, py_quoted, py_repr, LinkBases, VolumeBody, VolumeView};
use super::Req;
use crate::error::ApiError;
use crate::volume::metadata::{self, MetadataChange, VolumeUpdate};
use crate::volume::model::Volume;
use crate::volume::ops::{self, parse_volume_id, CreateVolume, VolumeSource};

/// Cinder's DB_MAX_INT, the largest size it accepts.
const MAX_SIZE_GB: u64 = 0x7FFF_FFFF;

pub fn field_str(
    obj: &Map<String, Value>,
    key: &str,
    max_len: usize,
) -> Result<Option<String>, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max_len => Ok(Some(s.clone())),
        Some(Value::String(s)) => Err(ApiError::invalid_field(
            key,
            s,
            &format!("'{s}' is too long"),
        )),
        Some(other) => Err(ApiError::invalid_field(
            key,
            py_repr(other),
            &format!("{} is not of type 'string', 'null'", py_quoted(other)),
        )),
    }
}

pub fn field_metadata(
    obj: &Map<String, Value>,
    key: &str,
) -> Result<Option<BTreeMap<String, String>>, ApiError> {
    match obj.get(key) {
        // Cinder's schema is `metadata_allows_null`; openstacksdk sends `"metadata": null`.
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => {
            let mut out = BTreeMap::new();
            for (k, v) in m {
                match v {
                    Value::String(s) => {
                        out.insert(k.clone(), s.clone());
                    }
                    other => {
                        return Err(ApiError::invalid_field(
                            key,
                            py_repr(&Value::Object(m.clone())),
                            &format!("{} is not of type 'string'", py_quoted(other)),
                        ))
                    }
                }
            }
            ops::check_metadata(&out)?;
            Ok(Some(out))
        }
        Some(other) => Err(ApiError::invalid_field(
            key,
            py_repr(other),
            &format!("{} is not of type 'object'", py_quoted(other)),
        )),
    }
}

/// Cinder's `size` schema: a positive integer (or a string of digits), at most DB_MAX_INT.
pub fn parse_size(v: Option<&Value>, field: &str) -> Result<u64, ApiError> {
    let v = v.ok_or_else(|| ApiError::bad_request(format!("'{field}' is a required property")))?;
    let n: Option<i128> = match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            n.as_i64().map(i128::from).or(n.as_u64().map(i128::from))
        }
        Value::String(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    };
    match n {
        None => Err(ApiError::invalid_field(
            field,
            py_repr(v),
            &format!("{} is not of type 'integer', 'string'", py_quoted(v)),
        )),
        Some(n) if n < 1 => Err(ApiError::invalid_field(
            field,
            n,
            &format!("{n} is less than the minimum of 1"),
        )),
        Some(n) if n > MAX_SIZE_GB as i128 => Err(ApiError::invalid_field(
            field,
            n,
            &format!("{n} is greater than the maximum of {MAX_SIZE_GB}"),
        )),
        Some(n) => Ok(n as u64),
    }
}

const CREATE_KEYS: &[&str] = &[
    "size",
    "name",
    "description",
    "display_name",
    "display_description",
    "volume_type",
    "metadata",
    "availability_zone",
    "snapshot_id",
    "source_volid",
    "imageRef",
    "backup_id",
    "group_id",
    "consistencygroup_id",
    "multiattach",
    "scheduler_hints",
    "source_replica",
];

/// The sources a volume may be made from: a snapshot (`snapshot_id`) or a volume
/// (`source_volid`, a clone), looked up by the domain (404 when unknown, as Cinder).
/// No backups exist here, so a `backup_id` is Cinder's 404; an image is refused as
/// not emulated.
fn check_sources(body: &Map<String, Value>) -> Result<Option<VolumeSource>, ApiError> {
    let given = |key: &str| body.get(key).filter(|v| !v.is_null());
    let id_of = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| py_repr(v));
    if let Some(v) = given("backup_id") {
        return Err(ApiError::not_found(format!(
            "Backup {} could not be found.",
            id_of(v)
        )));
    }
    if given("imageRef").is_some() {
        return Err(ApiError::bad_request(
            "Invalid input received: imageRef is not supported by this emulator (no images).",
        ));
    }
    // Cinder looks the snapshot up first, then the source volume.
    if let Some(v) = given("snapshot_id") {
        return Ok(Some(VolumeSource::Snapshot(id_of(v))));
    }
    Ok(given("source_volid").map(|v| VolumeSource::Volume(id_of(v))))
}

pub async fn create(req: &Req) -> Result<Response, ApiError> {
    let body = req.json_object("volume")?;
    if req.mv.at_least(53) {
        if let Some(extra) = body.keys().find(|k| !CREATE_KEYS.contains(&k.as_str())) {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute volume. Value: {}. Additional properties are not allowed ('{extra}' was unexpected)",
                py_repr(&Value::Object(body.clone()))
            )));
        }
    }
    let source = check_sources(&body)?;
    if body.get("multiattach") == Some(&Value::Bool(true)) {
        return Err(ApiError::bad_request(
            "Invalid input received: multiattach is no longer supported as a volume create argument; use a volume type with multiattach=\"<is> True\".",
        ));
    }
    // With a source, the size may be left out (or null): the source's.
    let size_gb = match body.get("size") {
        None | Some(Value::Null) if source.is_some() => None,
        size => Some(parse_size(size, "size")?),
    };
    let name = match field_str(&body, "name", 255)? {
        Some(n) => Some(n),
        None => field_str(&body, "display_name", 255)?,
    };
    let description = match field_str(&body, "description", 255)? {
        Some(d) => Some(d),
        None => field_str(&body, "display_description", 255)?,
    };
    let cv = CreateVolume {
        size_gb,
        name,
        description,
        volume_type: field_str(&body, "volume_type", 255)?,
        metadata: field_metadata(&body, "metadata")?.unwrap_or_default(),
        availability_zone: field_str(&body, "availability_zone", 255)?,
        bootable: false,
        group_id: if req.mv.at_least(13) {
            field_str(&body, "group_id", 255)?
        } else {
            None
        },
        source,
    };
    let v = req.app.domain.create_volume(req.caller.clone(), cv).await?;
    let body = volume_body(req, &v, VolumeView::CreateOrUpdate)?;
    Ok((StatusCode::ACCEPTED, body).into_response())
}

/// `{"volume": <view>}` of a volume just written.
fn volume_body(req: &Req, v: &Volume, view: VolumeView) -> Result<Response, ApiError> {
    let bases = LinkBases::of(req);
    let body = req.app.domain.store.read(|s| {
        views::to_json(&VolumeBody {
            volume: views::volume(req, &bases, s, v, view),
        })
    })?;
    Ok(views::json_bytes(body))
}

fn visible_volume(req: &Req, raw_id: &str) -> Result<Volume, ApiError> {
    let id = parse_volume_id(raw_id)?;
    req.app
        .domain
        .store
        .read(|s| s.volumes.get(&id).cloned())
        .filter(|v| req.caller.sees(v))
        .ok_or_else(|| ApiError::volume_not_found(raw_id))
}

pub async fn show(req: &Req, raw_id: &str) -> Result<Response, ApiError> {
    // One look at the state: find, check visibility and render under the same read.
    let id = parse_volume_id(raw_id)?;
    let bases = LinkBases::of(req);
    let body = req
        .app
        .domain
        .store
        .read(|s| {
            s.volumes.get(&id).filter(|v| req.caller.sees(v)).map(|v| {
                views::to_json(&VolumeBody {
                    volume: views::volume(req, &bases, s, v, VolumeView::Detail),
                })
            })
        })
        .ok_or_else(|| ApiError::volume_not_found(raw_id))??;
    Ok(views::json_bytes(body))
}

pub async fn update(req: &Req, raw_id: &str) -> Result<Response, ApiError> {
    let id = parse_volume_id(raw_id)?;
    let body = req.json_object("volume")?;
    const KEYS: &[&str] = &[
        "name",
        "description",
        "display_name",
        "display_description",
        "metadata",
    ];
    if req.mv.at_least(53) {
        if body.is_empty() {
            return Err(ApiError::bad_request(
                "Invalid input for field/attribute volume. Value: {}. {} does not have enough properties",
            ));
        }
        if let Some(extra) = body.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute volume. Value: {}. Additional properties are not allowed ('{extra}' was unexpected)",
                py_repr(&Value::Object(body.clone()))
            )));
        }
    }
    let name = field_str(&body, "name", 255)?.or(field_str(&body, "display_name", 255)?);
    let has_name = body.contains_key("name") || body.contains_key("display_name");
    let description =
        field_str(&body, "description", 255)?.or(field_str(&body, "display_description", 255)?);
    let has_description =
        body.contains_key("description") || body.contains_key("display_description");
    let change = VolumeUpdate {
        name: has_name.then_some(name),
        description: has_description.then_some(description),
        metadata: field_metadata(&body, "metadata")?,
    };
    let caller = req.caller.clone();
    let v = req
        .app
        .domain
        .write(move |tx| metadata::update(tx, &caller, id, change))
        .await?;
    volume_body(req, &v, VolumeView::CreateOrUpdate)
}

pub async fn delete(req: &Req, raw_id: &str) -> Result<Response, ApiError> {
    let id = parse_volume_id(raw_id)?;
    let force = req.query("force").is_some_and(truthy);
    if force {
        if !req.mv.at_least(23) {
            return Err(ApiError::bad_request(
                "Invalid input received: force is not supported below microversion 3.23.",
            ));
        }
        req.require_admin("volume:force_delete")?;
    }
    let cascade = req.query("cascade").is_some_and(truthy);
    req.app
        .domain
        .delete_volume(req.caller.clone(), id, force, cascade)
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn summary(req: &Req) -> Result<Response, ApiError> {
    let all = req.caller.is_admin && req.query("all_tenants").is_some_and(truthy);
    let (count, size) = req.app.domain.store.read(|s| {
        s.volumes
            .values()
            .filter(|v| all || v.project_id == req.project_id)
            .fold((0u64, 0u64), |(n, g), v| (n + 1, g + v.size_gb))
    });
    let mut body = json!({"total_size": size, "total_count": count});
    if req.mv.at_least(36) {
        body["metadata"] = json!({});
    }
    Ok(Json(json!({ "volume-summary": body })).into_response())
}

// ---- metadata --------------------------------------------------------------------

pub async fn metadata_show(req: &Req, raw_id: &str) -> Result<Response, ApiError> {
    let v = visible_volume(req, raw_id)?;
    Ok(Json(json!({ "metadata": v.metadata })).into_response())
}

/// POST merges, PUT replaces; both answer with the resulting metadata.
pub async fn metadata_write(req: &Req, raw_id: &str, replace: bool) -> Result<Response, ApiError> {
    let id = parse_volume_id(raw_id)?;
    let body = req.json_value()?;
    let md_obj = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("Malformed request body"))?;
    let md = field_metadata(md_obj, "metadata")?
        .ok_or_else(|| ApiError::bad_request("'metadata' is a required property"))?;
    let change = if replace {
        MetadataChange::Replace(md)
    } else {
        MetadataChange::Merge(md)
    };
    let v = change_metadata(req, id, change).await?;
    Ok(Json(json!({ "metadata": v.metadata })).into_response())
}

async fn change_metadata(
    req: &Req,
    id: uuid::Uuid,
    change: MetadataChange,
) -> Result<Volume, ApiError> {
    let caller = req.caller.clone();
    req.app
        .domain
        .write(move |tx| metadata::change(tx, &caller, id, change))
        .await
}

pub async fn metadata_key_show(req: &Req, raw_id: &str, key: &str) -> Result<Response, ApiError> {
    let v = visible_volume(req, raw_id)?;
    let val = v.metadata.get(key).ok_or_else(|| {
        ApiError::not_found(format!("Volume {raw_id} has no metadata with key {key}."))
    })?;
    Ok(Json(json!({ "meta": { key: val } })).into_response())
}

pub async fn metadata_key_update(req: &Req, raw_id: &str, key: &str) -> Result<Response, ApiError> {
    let id = parse_volume_id(raw_id)?;
    let body = req.json_value()?;
    let meta = body
        .get("meta")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request("'meta' is a required property"))?;
    if meta.len() != 1 {
        return Err(ApiError::bad_request(
            "Request body contains too many items",
        ));
    }
    let (k, v) = meta.iter().next().expect("one item");
    if k != key {
        return Err(ApiError::bad_request("Request body and URI mismatch"));
    }
    let val = v
        .as_str()
        .ok_or_else(|| ApiError::invalid_field("meta", py_repr(v), "is not of type 'string'"))?
        .to_string();
    let mut check = BTreeMap::new();
    check.insert(k.clone(), val.clone());
    ops::check_metadata(&check)?;
    change_metadata(req, id, MetadataChange::Set(key.to_string(), val.clone())).await?;
    Ok(Json(json!({ "meta": { key: val } })).into_response())
}

pub async fn metadata_key_delete(req: &Req, raw_id: &str, key: &str) -> Result<Response, ApiError> {
    let id = parse_volume_id(raw_id)?;
    change_metadata(req, id, MetadataChange::Delete(key.to_string())).await?;
    Ok(StatusCode::OK.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: Value, expected: Result<u64, &str>) {
        let got = parse_size(Some(&input), "size").map_err(|e| e.to_string());
        match expected {
            Ok(n) => assert_eq!(got, Ok(n), "{input}"),
            Err(fragment) => {
                let msg = got.expect_err(&input.to_string());
                assert!(msg.contains(fragment), "{msg:?} lacks {fragment:?}");
            }
        }
    }

    #[test]
    fn sizes() {
        check(json!(1), Ok(1));
        check(json!("5"), Ok(5));
        check(json!(0), Err("0 is less than the minimum of 1"));
        check(json!(-3), Err("less than the minimum"));
        check(
            json!(99999999999u64),
            Err("greater than the maximum of 2147483647"),
        );
        check(json!(1.5), Err("is not of type 'integer', 'string'"));
        check(json!("abc"), Err("'abc' is not of type"));
        check(json!(null), Err("None is not of type"));
        check(json!([1]), Err("is not of type"));
    }

    /// openstacksdk's `create_volume` sends `"metadata": null`; Cinder accepts it.
    #[test]
    fn metadata_null_is_absent() {
        let obj = |v: Value| json!({ "metadata": v }).as_object().cloned().unwrap();
        assert_eq!(field_metadata(&obj(json!(null)), "metadata").unwrap(), None);
        let md = field_metadata(&obj(json!({"k": "v"})), "metadata").unwrap();
        assert_eq!(md.unwrap().get("k").map(String::as_str), Some("v"));
        assert!(field_metadata(&obj(json!("x")), "metadata").is_err());
        assert!(field_metadata(&obj(json!({"k": 1})), "metadata").is_err());
    }
}
