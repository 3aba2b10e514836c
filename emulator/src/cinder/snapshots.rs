//! Snapshot handlers: create (`force`, and 3.66's implicit in-use permission), show,
//! list and detail list (filters, sort, paging, `all_tenants`), update and delete.
//! Each validates input with Cinder's schema wording, calls one domain operation and
//! renders Cinder's view (`os-extended-snapshot-attributes:*` on show and detail lists).

use std::cmp::Ordering;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::actions::boolean_field;
use super::params::{truthy, Paging};
use super::views::{self, py_repr};
use super::volume_list::parse_metadata_filter;
use super::volumes::{field_metadata, field_str};
use super::Req;
use crate::error::ApiError;
use crate::timefmt;
use crate::volume::snapshots::{self, CreateSnapshot, Snapshot};

/// Since 3.66 a snapshot of an in-use volume needs no `force`; `force: false` is refused.
const SNAPSHOT_IN_USE: u16 = 66;

const SNAPSHOT_IN_USE_FLAG_MSG: &str = "Since microversion 3.66 the 'force' flag is invalid for this request.  For backward compatability, however, when the 'force' flag is passed with a value evaluating to True, it is silently ignored.";

/// Where a snapshot is shown: show and detail lists carry the extended attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotView {
    /// Create and update answers, and v3 detail fields.
    Detail,
    /// Show and detail lists: also `os-extended-snapshot-attributes:*`.
    Extended,
}

fn summary(s: &Snapshot) -> Map<String, Value> {
    let v = json!({
        "id": s.id.to_string(),
        "created_at": timefmt::cinder(s.created_at),
        "updated_at": s.updated_at.map(timefmt::cinder),
        "name": s.name,
        "description": s.description,
        "volume_id": s.volume_id.to_string(),
        "status": s.status.as_str(),
        "size": s.size_gb,
        "metadata": s.metadata,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Cinder's v3 detail view of a snapshot.
pub fn detail(req: &Req, s: &Snapshot, view: SnapshotView) -> Value {
    let mut o = summary(s);
    if req.mv.at_least(14) {
        o.insert("group_snapshot_id".into(), Value::Null);
    }
    if req.mv.at_least(41) {
        o.insert("user_id".into(), json!(s.user_id));
    }
    if req.mv.at_least(65) {
        o.insert("consumes_quota".into(), json!(true));
    }
    if view == SnapshotView::Extended {
        o.insert(
            "os-extended-snapshot-attributes:project_id".into(),
            json!(s.project_id),
        );
        o.insert(
            "os-extended-snapshot-attributes:progress".into(),
            json!(s.progress),
        );
    }
    Value::Object(o)
}

fn refuse_unknown(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute snapshot. Value: {}. Additional properties are not allowed ('{extra}' was unexpected)",
            py_repr(&Value::Object(body.clone()))
        ))),
        None => Ok(()),
    }
}

/// Cinder's `clean_name_and_description`: surrounding whitespace goes.
fn trimmed(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string())
}

pub async fn create(req: &Req) -> Result<Response, ApiError> {
    let body = req.json_object("snapshot")?;
    refuse_unknown(
        &body,
        &[
            "name",
            "display_name",
            "description",
            "volume_id",
            "force",
            "metadata",
        ],
    )?;
    let volume_id = match body.get("volume_id") {
        None => {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute snapshot. Value: {}. 'volume_id' is a required property",
                py_repr(&Value::Object(body.clone()))
            )))
        }
        Some(Value::Null) => return Err(ApiError::volume_not_found("None")),
        Some(Value::String(s)) => Uuid::parse_str(s).map_err(|_| {
            ApiError::invalid_field(
                "volume_id",
                s,
                &format!("'{s}' is not valid under any of the given schemas"),
            )
        })?,
        Some(other) => {
            return Err(ApiError::invalid_field(
                "volume_id",
                py_repr(other),
                &format!(
                    "{} is not valid under any of the given schemas",
                    py_repr(other)
                ),
            ))
        }
    };
    let force = match body.get("force") {
        None | Some(Value::Null) => None,
        Some(v) => Some(boolean_field("force", v)?),
    };
    if req.mv.at_least(SNAPSHOT_IN_USE) && force == Some(false) {
        return Err(ApiError::bad_request(SNAPSHOT_IN_USE_FLAG_MSG));
    }
    let name = match field_str(&body, "name", 255)? {
        Some(n) => Some(n),
        None => field_str(&body, "display_name", 255)?,
    };
    let create = CreateSnapshot {
        volume_id,
        name: trimmed(name),
        description: trimmed(field_str(&body, "description", 255)?),
        metadata: field_metadata(&body, "metadata")?.unwrap_or_default(),
        allow_in_use: force == Some(true) || req.mv.at_least(SNAPSHOT_IN_USE),
    };
    let s = req
        .app
        .domain
        .create_snapshot(req.caller.clone(), create)
        .await?;
    let body = json!({ "snapshot": detail(req, &s, SnapshotView::Detail) });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

pub async fn show(req: &Req, raw: &str) -> Result<Response, ApiError> {
    let s = req
        .app
        .domain
        .view(|tx| snapshots::visible(tx, &req.caller, raw))?;
    Ok(Json(json!({ "snapshot": detail(req, &s, SnapshotView::Extended) })).into_response())
}

pub async fn update(req: &Req, raw: &str) -> Result<Response, ApiError> {
    let body = req.json_object("snapshot")?;
    const KEYS: [&str; 4] = ["name", "description", "display_name", "display_description"];
    refuse_unknown(&body, &KEYS)?;
    if !KEYS.iter().any(|k| body.contains_key(*k)) {
        let shown = py_repr(&Value::Object(body.clone()));
        return Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute snapshot. Value: {shown}. {shown} is not valid under any of the given schemas"
        )));
    }
    let pick = |a: &str, b: &str| -> Result<Option<Option<String>>, ApiError> {
        let first = field_str(&body, a, 255)?;
        let second = field_str(&body, b, 255)?;
        Ok(if body.contains_key(a) {
            Some(trimmed(first))
        } else if body.contains_key(b) {
            Some(trimmed(second))
        } else {
            None
        })
    };
    let name = pick("name", "display_name")?;
    let description = pick("description", "display_description")?;
    let caller = req.caller.clone();
    let raw = raw.to_string();
    let s = req
        .app
        .domain
        .write(move |tx| snapshots::update(tx, &caller, &raw, name, description))
        .await?;
    Ok(Json(json!({ "snapshot": detail(req, &s, SnapshotView::Detail) })).into_response())
}

pub async fn delete(req: &Req, raw: &str) -> Result<Response, ApiError> {
    req.app
        .domain
        .delete_snapshot(req.caller.clone(), raw.to_string(), false)
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

#[derive(Debug, Clone, Copy)]
enum SortKey {
    CreatedAt,
    UpdatedAt,
    Id,
    Name,
    Size,
    Status,
    VolumeId,
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
    spec.into_iter()
        .map(|(k, d)| {
            let key = match k.as_str() {
                "created_at" => SortKey::CreatedAt,
                "updated_at" => SortKey::UpdatedAt,
                "id" => SortKey::Id,
                "name" | "display_name" => SortKey::Name,
                "size" | "volume_size" => SortKey::Size,
                "status" => SortKey::Status,
                "volume_id" => SortKey::VolumeId,
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
            Ok((key, desc))
        })
        .collect()
}

fn compare(a: &Snapshot, b: &Snapshot, key: SortKey) -> Ordering {
    match key {
        SortKey::CreatedAt => a.seq.cmp(&b.seq),
        SortKey::UpdatedAt => a.updated_at.cmp(&b.updated_at),
        SortKey::Id => a.id.cmp(&b.id),
        SortKey::Name => a.name.cmp(&b.name),
        SortKey::Size => a.size_gb.cmp(&b.size_gb),
        SortKey::Status => a.status.as_str().cmp(b.status.as_str()),
        SortKey::VolumeId => a.volume_id.cmp(&b.volume_id),
    }
}

/// Whether `s` passes the filter `key=value`; filters Cinder does not know for
/// snapshots were dropped before, as its `remove_invalid_filter_options` drops them.
fn matches(s: &Snapshot, key: &str, value: &str) -> Result<bool, ApiError> {
    Ok(match key {
        "name" | "display_name" => s.name.as_deref() == Some(value),
        "status" => s.status.as_str() == value,
        "volume_id" => s.volume_id.to_string() == value,
        "metadata" => {
            let want = parse_metadata_filter(value)?;
            want.iter().all(|(k, v)| s.metadata.get(k) == Some(v))
        }
        "project_id" => s.project_id == value,
        "consumes_quota" => truthy(value),
        _ => true,
    })
}

/// `GET /snapshots[/detail]`.
pub async fn list(req: &Req, with_detail: bool) -> Result<Response, ApiError> {
    let paging = Paging::parse(req.query("limit"), req.query("offset"), req.query("marker"))?;
    let sort = parse_sort(req)?;
    let admin = req.caller.is_admin;
    let all_tenants = admin && req.query("all_tenants").is_some_and(truthy);
    let mut filters: Vec<(&str, &str)> = Vec::new();
    for (k, v) in &req.query {
        let allowed = match k.as_str() {
            "name" | "display_name" | "status" | "volume_id" => true,
            "metadata" => req.mv.at_least(22),
            "consumes_quota" => req.mv.at_least(65),
            "project_id" => admin && all_tenants,
            _ => false,
        };
        if allowed {
            filters.push((k.as_str(), v.as_str()));
        }
    }
    let mut all: Vec<Snapshot> = req.app.domain.read(|s| s.records::<Snapshot>());
    all.retain(|s| all_tenants || s.project_id == req.project_id);
    let mut kept = Vec::with_capacity(all.len());
    for s in all {
        let mut keep = true;
        for (k, v) in &filters {
            keep = keep && matches(&s, k, v)?;
        }
        if keep {
            kept.push(s);
        }
    }
    kept.sort_by(|a, b| {
        for (key, desc) in &sort {
            let o = compare(a, b, *key);
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        b.seq.cmp(&a.seq)
    });
    let count = kept.len();
    let start = paging.start(&kept, |s| s.id)?;
    let rest: Vec<&Snapshot> = kept.iter().skip(start).collect();
    let max_page = paging.page_size();
    let shown: Vec<Value> = rest
        .iter()
        .take(max_page)
        .map(|s| {
            if with_detail {
                detail(req, s, SnapshotView::Extended)
            } else {
                Value::Object(summary(s))
            }
        })
        .collect();
    let mut body = Map::new();
    let full = shown.len() == max_page && max_page > 0 && rest.len() >= max_page;
    body.insert("snapshots".into(), Value::Array(shown));
    if full {
        let mut params: Vec<(String, String)> = req
            .query
            .iter()
            .filter(|(k, _)| k != "marker")
            .cloned()
            .collect();
        params.push(("marker".into(), rest[max_page - 1].id.to_string()));
        let q = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let coll = if with_detail {
            "snapshots/detail"
        } else {
            "snapshots"
        };
        let link = views::Link {
            rel: "next",
            href: format!("{}/{coll}?{q}", req.self_base()),
        };
        body.insert("snapshots_links".into(), json!([link]));
    }
    if req.mv.at_least(45) && req.query("with_count").is_some_and(truthy) {
        body.insert("count".into(), json!(count));
    }
    Ok(Json(Value::Object(body)).into_response())
}
