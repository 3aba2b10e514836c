//! Volume handlers: create, show, list (filters, sort, paging), update, delete,
//! summary and the metadata endpoints. Each validates input, calls one domain
//! operation and renders a view.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::views::{self, py_quoted, py_repr, VolumeView};
use super::Req;
use crate::error::ApiError;
use crate::volume::model::{now, Volume};
use crate::volume::ops::{self, parse_volume_id, CreateVolume};

/// Cinder's DB_MAX_INT, the largest size it accepts.
const MAX_SIZE_GB: u64 = 0x7FFF_FFFF;

fn field_str(
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

fn field_metadata(
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
    for unsupported in [
        "snapshot_id",
        "source_volid",
        "imageRef",
        "backup_id",
        "group_id",
    ] {
        if body.get(unsupported).is_some_and(|v| !v.is_null()) {
            return Err(ApiError::bad_request(format!(
                "Invalid input received: {unsupported} is not supported by this emulator (no snapshots, clones, images, backups or groups)."
            )));
        }
    }
    if body.get("multiattach") == Some(&Value::Bool(true)) {
        return Err(ApiError::bad_request(
            "Invalid input received: multiattach is no longer supported as a volume create argument; use a volume type with multiattach=\"<is> True\".",
        ));
    }
    let size_gb = parse_size(body.get("size"), "size")?;
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
    };
    let v = req.app.domain.create_volume(req.caller.clone(), cv).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(volume_body(req, &v, VolumeView::CreateOrUpdate)),
    )
        .into_response())
}

/// `{"volume": <view>}` of a volume just written.
fn volume_body(req: &Req, v: &Volume, view: VolumeView) -> Value {
    json!({ "volume": req.app.domain.store.read(|s| views::volume(req, s, v, view)) })
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
    let body = req
        .app
        .domain
        .store
        .read(|s| {
            s.volumes
                .get(&id)
                .filter(|v| req.caller.sees(v))
                .map(|v| json!({ "volume": views::volume(req, s, v, VolumeView::Detail) }))
        })
        .ok_or_else(|| ApiError::volume_not_found(raw_id))?;
    Ok(Json(body).into_response())
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
    let metadata = field_metadata(&body, "metadata")?;
    let caller = req.caller.clone();
    let v = req
        .app
        .domain
        .store
        .write(move |tx| {
            let mut v = ops::visible(tx, &caller, id)?.clone();
            if v.status == crate::volume::status::VolumeStatus::Maintenance {
                return Err(ApiError::bad_request(format!(
                    "Invalid volume: Volume {id} is in maintenance mode."
                )));
            }
            if has_name {
                v.name = name;
            }
            if has_description {
                v.description = description;
            }
            if let Some(md) = metadata {
                ops::check_metadata_writable(&v)?;
                v.metadata = md;
            }
            v.updated_at = Some(now());
            tx.put_volume(v.clone());
            Ok(v)
        })
        .await?;
    Ok(Json(volume_body(req, &v, VolumeView::CreateOrUpdate)).into_response())
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
    req.app
        .domain
        .delete_volume(req.caller.clone(), id, force)
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

fn truthy(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on" | "y" | "t"
    )
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

// ---- list ------------------------------------------------------------------------

/// Filters a non-admin may use; others are dropped silently, as Cinder does.
const USER_FILTERS: &[&str] = &[
    "name",
    "status",
    "metadata",
    "bootable",
    "migration_status",
    "availability_zone",
    "group_id",
    "size",
    "created_at",
    "updated_at",
    "consumes_quota",
    "volume_type",
];
const PAGING_KEYS: &[&str] = &[
    "limit",
    "marker",
    "sort",
    "sort_key",
    "sort_dir",
    "offset",
    "with_count",
    "all_tenants",
    "project_id",
    "is_public",
];

#[derive(Debug, Clone, Copy)]
enum SortKey {
    CreatedAt,
    UpdatedAt,
    Id,
    Name,
    Size,
    Status,
}

fn parse_sort(req: &Req) -> Result<Vec<(SortKey, bool)>, ApiError> {
    let legacy = req.query("sort_key").is_some() || req.query("sort_dir").is_some();
    let spec: Vec<(String, Option<String>)> = match (req.query("sort"), legacy) {
        (Some(_), true) => {
            return Err(ApiError::bad_request(
                "The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with the 'sort' parameter.",
            ))
        }
        (Some(s), false) => s
            .split(',')
            .map(|p| match p.split_once(':') {
                Some((k, d)) => (k.trim().to_string(), Some(d.trim().to_string())),
                None => (p.trim().to_string(), None),
            })
            .collect(),
        (None, true) => vec![(
            req.query("sort_key").unwrap_or("created_at").to_string(),
            req.query("sort_dir").map(String::from),
        )],
        (None, false) => vec![("created_at".into(), None)],
    };
    let mut out = Vec::new();
    for (k, d) in spec {
        let key = match k.as_str() {
            "created_at" => SortKey::CreatedAt,
            "updated_at" => SortKey::UpdatedAt,
            "id" => SortKey::Id,
            "name" | "display_name" => SortKey::Name,
            "size" => SortKey::Size,
            "status" => SortKey::Status,
            other => {
                return Err(ApiError::bad_request(format!(
                    "Invalid input received: Invalid sort key {other}"
                )))
            }
        };
        let desc = match d.as_deref() {
            None | Some("desc") => true,
            Some("asc") => false,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "Invalid input received: Invalid sort dirs passed: {other}"
                )))
            }
        };
        out.push((key, desc));
    }
    Ok(out)
}

fn compare(a: &Volume, b: &Volume, key: SortKey) -> Ordering {
    match key {
        SortKey::CreatedAt => a.seq.cmp(&b.seq),
        SortKey::UpdatedAt => a.updated_at.cmp(&b.updated_at),
        SortKey::Id => a.id.cmp(&b.id),
        SortKey::Name => a.name.cmp(&b.name),
        SortKey::Size => a.size_gb.cmp(&b.size_gb),
        SortKey::Status => a.status.as_str().cmp(b.status.as_str()),
    }
}

/// Parses Cinder's metadata filter, a Python dict literal: `{'k': 'v', "k2": "v2"}`.
pub fn parse_metadata_filter(s: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "Invalid input received: Invalid metadata filter {s}"
        ))
    };
    if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(s) {
        return Ok(m
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    v.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string()),
                )
            })
            .collect());
    }
    let inner = s
        .trim()
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .ok_or_else(bad)?;
    let mut out = BTreeMap::new();
    if inner.trim().is_empty() {
        return Ok(out);
    }
    for pair in inner.split(',') {
        let (k, v) = pair.split_once(':').ok_or_else(bad)?;
        let unq = |t: &str| {
            let t = t.trim();
            t.strip_prefix('\'')
                .and_then(|r| r.strip_suffix('\''))
                .or_else(|| t.strip_prefix('"').and_then(|r| r.strip_suffix('"')))
                .map(String::from)
        };
        out.insert(unq(k).ok_or_else(bad)?, unq(v).ok_or_else(bad)?);
    }
    Ok(out)
}

fn matches_filter(
    req: &Req,
    v: &Volume,
    key: &str,
    value: &str,
    type_name: &str,
) -> Result<bool, ApiError> {
    Ok(match key {
        "name" | "display_name" => v.name.as_deref() == Some(value),
        "status" => v.status.as_str() == value,
        "metadata" => {
            let want = parse_metadata_filter(value)?;
            want.iter().all(|(k, val)| v.metadata.get(k) == Some(val))
        }
        "bootable" => v.bootable == truthy(value),
        "migration_status" => v.migration_status.as_deref() == Some(value),
        "availability_zone" => v.availability_zone == value,
        "size" => value
            .parse::<u64>()
            .map(|s| s == v.size_gb)
            .unwrap_or(false),
        "volume_type" | "volume_type_id" => {
            type_name == value || v.volume_type_id.to_string() == value
        }
        "group_id" => false,
        "consumes_quota" => truthy(value),
        "created_at" | "updated_at" => {
            let t = if key == "created_at" {
                Some(v.created_at)
            } else {
                v.updated_at
            };
            time_filter(t, value)?
        }
        "project_id" if req.caller.is_admin => v.project_id == value,
        "user_id" if req.caller.is_admin => v.user_id == value,
        "id" if req.caller.is_admin => v.id.to_string() == value,
        // Unknown admin filters match nothing, as an unknown DB column would.
        _ => false,
    })
}

/// `gte:2025-01-01T00:00:00` and friends (3.60).
fn time_filter(t: Option<crate::volume::model::Timestamp>, value: &str) -> Result<bool, ApiError> {
    let Some(t) = t else { return Ok(false) };
    for part in value.split(',') {
        let (op, when) = part
            .split_once(':')
            .filter(|(op, _)| ["gt", "gte", "lt", "lte", "eq", "neq"].contains(op))
            .unwrap_or(("eq", part));
        let when = crate::timefmt::parse_cinder(when).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Invalid input received: Invalid time filter {value}"
            ))
        })?;
        let ok = match op {
            "gt" => t > when,
            "gte" => t >= when,
            "lt" => t < when,
            "lte" => t <= when,
            "neq" => t != when,
            _ => t == when,
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

pub async fn list(req: &Req, detail: bool) -> Result<Response, ApiError> {
    let limit = match req.query("limit") {
        None => None,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n.min(1000) as usize),
            _ => {
                return Err(ApiError::bad_request(
                    "Invalid input received: limit must be a non-negative integer",
                ))
            }
        },
    };
    let offset = match req.query("offset") {
        None => 0,
        Some(o) => o.parse::<usize>().map_err(|_| {
            ApiError::bad_request("Invalid input received: offset must be a non-negative integer")
        })?,
    };
    let sort = parse_sort(req)?;
    let all_tenants = req.caller.is_admin && req.query("all_tenants").is_some_and(truthy);
    let filters: Vec<(&str, &str)> = req
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .filter(|(k, _)| !PAGING_KEYS.contains(k) || (*k == "project_id" && req.caller.is_admin))
        .filter(|(k, _)| req.caller.is_admin || USER_FILTERS.contains(k))
        .collect();
    let (page, next, count) = req.app.domain.store.read(|s| -> Result<_, ApiError> {
        let mut vols: Vec<&Volume> = Vec::new();
        for v in s.volumes.values() {
            let project_ok = all_tenants
                || v.project_id == req.project_id
                || filters.iter().any(|(k, _)| *k == "project_id");
            if !project_ok || !req.caller.sees(v) {
                continue;
            }
            let tname = s
                .types
                .get(&v.volume_type_id)
                .map(|t| t.name.as_str())
                .unwrap_or("");
            let mut keep = true;
            for (k, val) in &filters {
                if !matches_filter(req, v, k, val, tname)? {
                    keep = false;
                    break;
                }
            }
            if keep {
                vols.push(v);
            }
        }
        vols.sort_by(|a, b| {
            for (key, desc) in &sort {
                let o = compare(a, b, *key);
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            b.seq.cmp(&a.seq)
        });
        let count = vols.len();
        let start = match req.query("marker") {
            None => offset,
            Some(m) => {
                let pos = vols
                    .iter()
                    .position(|v| v.id.to_string() == m)
                    .ok_or_else(|| {
                        ApiError::not_found(format!("Marker {m} could not be found."))
                    })?;
                pos + 1 + offset
            }
        };
        let rest: Vec<&Volume> = vols.into_iter().skip(start).collect();
        let max_page = limit.unwrap_or(1000);
        let page: Vec<Value> = rest
            .iter()
            .take(max_page)
            .map(|v| {
                if detail {
                    views::volume(req, s, v, VolumeView::Detail)
                } else {
                    views::volume_summary(req, v)
                }
            })
            .collect();
        // A full page gets a "next" link, as Cinder builds it.
        let next = (page.len() == max_page && max_page > 0 && rest.len() >= max_page)
            .then(|| rest[max_page - 1].id.to_string());
        Ok((page, next, count))
    })?;
    let mut body = json!({ "volumes": page });
    if let Some(marker) = next {
        let mut params: Vec<(String, String)> = req
            .query
            .iter()
            .filter(|(k, _)| k != "marker")
            .cloned()
            .collect();
        params.push(("marker".into(), marker));
        let q = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let coll = if detail { "volumes/detail" } else { "volumes" };
        body["volumes_links"] =
            json!([{"rel": "next", "href": format!("{}/{coll}?{q}", req.self_base())}]);
    }
    if req.mv.at_least(45) && req.query("with_count").is_some_and(truthy) {
        body["count"] = json!(count);
    }
    Ok(Json(body).into_response())
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
    let caller = req.caller.clone();
    let v = req
        .app
        .domain
        .store
        .write(move |tx| {
            let mut v = ops::visible(tx, &caller, id)?.clone();
            ops::check_metadata_writable(&v)?;
            if replace {
                v.metadata = md;
            } else {
                v.metadata.extend(md);
            }
            v.updated_at = Some(now());
            tx.put_volume(v.clone());
            Ok(v)
        })
        .await?;
    Ok(Json(json!({ "metadata": v.metadata })).into_response())
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
    let caller = req.caller.clone();
    let key_owned = key.to_string();
    let val2 = val.clone();
    req.app
        .domain
        .store
        .write(move |tx| {
            let mut v = ops::visible(tx, &caller, id)?.clone();
            ops::check_metadata_writable(&v)?;
            v.metadata.insert(key_owned, val2);
            v.updated_at = Some(now());
            tx.put_volume(v);
            Ok(())
        })
        .await?;
    Ok(Json(json!({ "meta": { key: val } })).into_response())
}

pub async fn metadata_key_delete(req: &Req, raw_id: &str, key: &str) -> Result<Response, ApiError> {
    let id = parse_volume_id(raw_id)?;
    let caller = req.caller.clone();
    let key_owned = key.to_string();
    let raw = raw_id.to_string();
    req.app
        .domain
        .store
        .write(move |tx| {
            let mut v = ops::visible(tx, &caller, id)?.clone();
            ops::check_metadata_writable(&v)?;
            if v.metadata.remove(&key_owned).is_none() {
                return Err(ApiError::not_found(format!(
                    "Volume {raw} has no metadata with key {key_owned}."
                )));
            }
            v.updated_at = Some(now());
            tx.put_volume(v);
            Ok(())
        })
        .await?;
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

    #[test]
    fn metadata_filters_parse_python_dicts() {
        let m = parse_metadata_filter("{'a': '1', \"b\": \"x y\"}").unwrap();
        assert_eq!(m.get("a").map(String::as_str), Some("1"));
        assert_eq!(m.get("b").map(String::as_str), Some("x y"));
        assert!(parse_metadata_filter("{\"k\":\"v\"}")
            .unwrap()
            .contains_key("k"));
        assert!(parse_metadata_filter("nope").is_err());
        assert!(parse_metadata_filter("{a: 1}").is_err());
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
