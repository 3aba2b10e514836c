//! `/backups`: list (filters, sort, paging, `with_count` from 3.45), show, create,
//! update (3.9), delete, restore, the admin actions (`os-reset_status`,
//! `os-force_delete`) and export/import of a record, with Cinder's views (metadata from
//! 3.43, the project attribute from 3.18 and `user_id` from 3.56, for admins).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use uuid::Uuid;

use super::backup_params as p;
use super::params::{truthy, Paging};
use super::views::links;
use super::Req;
use crate::error::ApiError;
use crate::timefmt;
use crate::volume::backup_jobs;
use crate::volume::backups::{self, Backup};

fn summary(req: &Req, b: &Backup) -> Value {
    let mut o = json!({
        "id": b.id.to_string(),
        "name": b.name,
        "links": links(req, "backups", &b.id.to_string()),
    });
    if req.mv.at_least(43) {
        o["metadata"] = json!(b.metadata);
    }
    o
}

fn detail(req: &Req, b: &Backup, dependents: bool) -> Value {
    let mut o = json!({
        "id": b.id.to_string(),
        "status": b.status.as_str(),
        "size": b.size_gb,
        "object_count": b.object_count,
        "availability_zone": b.availability_zone,
        "container": b.container,
        "created_at": timefmt::cinder(b.created_at),
        "updated_at": b.updated_at.map(timefmt::cinder),
        "name": b.name,
        "description": b.description,
        "fail_reason": b.fail_reason,
        "volume_id": b.volume_id.to_string(),
        "links": links(req, "backups", &b.id.to_string()),
        "is_incremental": b.parent_id.is_some(),
        "has_dependent_backups": dependents,
        "snapshot_id": b.snapshot_id.map(|s| s.to_string()),
        "data_timestamp": timefmt::cinder(b.data_timestamp),
    });
    if req.mv.at_least(43) {
        o["metadata"] = json!(b.metadata);
    }
    if req.caller.is_admin && req.mv.at_least(18) {
        o["os-backup-project-attr:project_id"] = json!(b.project_id);
    }
    if req.caller.is_admin && req.mv.at_least(56) {
        o["user_id"] = json!(b.user_id);
    }
    o
}

fn has_dependents(all: &[Backup], id: Uuid) -> bool {
    all.iter().any(|d| d.parent_id == Some(id))
}

/// Sort keys a backup list may use.
const SORT_KEYS: &[&str] = &[
    "created_at",
    "updated_at",
    "id",
    "name",
    "display_name",
    "status",
    "size",
    "volume_id",
    "project_id",
];

fn sort_value(b: &Backup, key: &str) -> Option<String> {
    Some(match key {
        "created_at" => format!("{:020}{:020}", b.created_at.unix_timestamp_nanos(), b.seq),
        "updated_at" => b
            .updated_at
            .map(|t| t.unix_timestamp_nanos().to_string())
            .unwrap_or_default(),
        "id" => b.id.to_string(),
        "name" | "display_name" => b.name.clone().unwrap_or_default(),
        "status" => b.status.as_str().to_string(),
        "size" => format!("{:020}", b.size_gb),
        "volume_id" => b.volume_id.to_string(),
        "project_id" => b.project_id.clone(),
        _ => return None,
    })
}

fn parse_sort(req: &Req) -> Result<Vec<(String, bool)>, ApiError> {
    let raw: Vec<(String, Option<String>)> = match req.query("sort") {
        Some(s) => s
            .split(',')
            .map(|part| match part.split_once(':') {
                Some((k, d)) => (k.trim().to_string(), Some(d.trim().to_string())),
                None => (part.trim().to_string(), None),
            })
            .collect(),
        None => vec![(
            req.query("sort_key").unwrap_or("created_at").to_string(),
            req.query("sort_dir").map(String::from),
        )],
    };
    raw.into_iter()
        .map(|(k, d)| {
            let desc = match d.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None | Some("desc") => true,
                Some("asc") => false,
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid input received: Invalid sort dirs passed: {other}"
                    )))
                }
            };
            Ok((k, desc))
        })
        .collect()
}

pub async fn list(req: &Req, with_detail: bool) -> Result<Response, ApiError> {
    let caller = req.caller.clone();
    let all_tenants = req.query("all_tenants").is_some_and(truthy);
    if let Some(v) = req.query("all_tenants") {
        if super::params::parse_bool(v).is_none() {
            return Err(ApiError::bad_request(format!(
                "Invalid input received: all_tenants must be a boolean, got '{v}'."
            )));
        }
    }
    let paging = Paging::parse(req.query("limit"), req.query("offset"), req.query("marker"))?;
    let sort = parse_sort(req)?;
    let all: Vec<Backup> = req.app.domain.read(|s| s.records::<Backup>());
    let mut shown: Vec<&Backup> = all
        .iter()
        .filter(|b| (caller.is_admin && all_tenants) || b.project_id == caller.project_id)
        .filter(|b| {
            req.query("name")
                .is_none_or(|n| b.name.as_deref() == Some(n))
                && req.query("status").is_none_or(|s| b.status.as_str() == s)
                && req
                    .query("volume_id")
                    .is_none_or(|v| b.volume_id.to_string() == v)
                && (!caller.is_admin || req.query("project_id").is_none_or(|p| b.project_id == p))
        })
        .collect();
    for (key, _) in &sort {
        if !SORT_KEYS.contains(&key.as_str()) {
            return Err(ApiError::bad_request(format!(
                "Invalid input received: Invalid sort key {key}"
            )));
        }
    }
    shown.sort_by(|a, b| {
        for (key, desc) in &sort {
            let (x, y) = (sort_value(a, key), sort_value(b, key));
            let o = if *desc { y.cmp(&x) } else { x.cmp(&y) };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        b.seq.cmp(&a.seq)
    });
    let count = shown.len();
    let start = paging.start(&shown, |b| b.id)?.min(shown.len());
    let page: Vec<&Backup> = shown
        .iter()
        .skip(start)
        .take(paging.page_size())
        .copied()
        .collect();
    let items: Vec<Value> = page
        .iter()
        .map(|b| {
            if with_detail {
                detail(req, b, has_dependents(&all, b.id))
            } else {
                summary(req, b)
            }
        })
        .collect();
    let mut body = json!({ "backups": items });
    if let (Some(limit), Some(last)) = (paging.limit, page.last()) {
        if page.len() == limit && start + limit < count {
            let coll = if with_detail {
                "backups/detail"
            } else {
                "backups"
            };
            body["backups_links"] = json!([{
                "rel": "next",
                "href": format!("{}/{coll}?limit={limit}&marker={}", req.self_base(), last.id),
            }]);
        }
    }
    if req.mv.at_least(45) && req.query("with_count").is_some_and(truthy) {
        body["count"] = json!(count);
    }
    Ok(Json(body).into_response())
}

fn get(req: &Req, raw: &str) -> Result<(Backup, bool), ApiError> {
    let id = backups::parse_id(raw)?;
    req.app.domain.view(|tx| {
        let b = backups::visible(tx, &req.caller, id)?;
        let deps = has_dependents(&backups::all(tx), id);
        Ok((b, deps))
    })
}

pub async fn show(req: &Req, raw: &str) -> Result<Response, ApiError> {
    let (b, deps) = get(req, raw)?;
    Ok(Json(json!({ "backup": detail(req, &b, deps) })).into_response())
}

pub async fn create(req: &Req) -> Result<Response, ApiError> {
    let body = req.json_value()?;
    if let Some(o) = body.as_object() {
        p::refuse_unknown(o, &["backup"], "backup")?;
    }
    let inner = req.json_object("backup")?;
    let parsed = p::create(&inner, req.mv.0)?;
    let b = backup_jobs::create(&req.app.domain, req.caller.clone(), parsed).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "backup": summary(req, &b) })),
    )
        .into_response())
}

pub async fn update(req: &Req, raw: &str) -> Result<Response, ApiError> {
    let id = backups::parse_id(raw)?;
    let inner = req.json_object("backup")?;
    let allowed: &[&str] = if req.mv.at_least(43) {
        &["name", "description", "metadata"]
    } else {
        &["name", "description"]
    };
    p::refuse_unknown(&inner, allowed, "backup")?;
    let name = inner
        .contains_key("name")
        .then(|| p::nullable_string("backup/name", inner.get("name")))
        .transpose()?;
    let description = inner
        .contains_key("description")
        .then(|| p::nullable_string("backup/description", inner.get("description")))
        .transpose()?;
    let metadata = inner
        .contains_key("metadata")
        .then(|| p::metadata("backup/metadata", inner.get("metadata")))
        .transpose()?;
    let caller = req.caller.clone();
    let b = req
        .app
        .domain
        .write(move |tx| backups::update(tx, &caller, id, name, description, metadata))
        .await?;
    Ok(Json(json!({ "backup": summary(req, &b) })).into_response())
}

pub async fn delete(req: &Req, raw: &str) -> Result<Response, ApiError> {
    let id = backups::parse_id(raw)?;
    backup_jobs::delete(&req.app.domain, req.caller.clone(), id, false).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn restore(req: &Req, raw: &str) -> Result<Response, ApiError> {
    let id = backups::parse_id(raw)?;
    let (volume_id, name) = p::restore(&req.json_value()?)?;
    let r = backup_jobs::restore(&req.app.domain, req.caller.clone(), id, volume_id, name).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"restore": {
            "backup_id": r.backup.id.to_string(),
            "volume_id": r.volume.id.to_string(),
            "volume_name": r.volume.name,
        }})),
    )
        .into_response())
}

/// `POST /backups/{id}/action`: `os-reset_status` or `os-force_delete` (admin).
pub async fn action(req: &Req, raw: &str) -> Result<Response, ApiError> {
    let body = req.json_value()?;
    let (name, args) = match body.as_object() {
        Some(o) if o.len() == 1 => o.iter().next().map(|(k, v)| (k.clone(), v.clone())),
        _ => None,
    }
    .ok_or_else(|| ApiError::bad_request("Malformed request body"))?;
    let id = backups::parse_id(raw)?;
    get(req, raw)?;
    match name.as_str() {
        "os-reset_status" => {
            req.require_admin("volume_extension:backup_admin_actions:reset_status")?;
            if let Some(o) = args.as_object() {
                p::refuse_unknown(o, &["status"], "os-reset_status")?;
            }
            let status = p::reset_status(&args)?;
            let caller = req.caller.clone();
            req.app
                .domain
                .write(move |tx| backups::reset_status(tx, &caller, id, status))
                .await?;
        }
        "os-force_delete" => {
            req.require_admin("volume_extension:backup_admin_actions:force_delete")?;
            backup_jobs::delete(&req.app.domain, req.caller.clone(), id, true).await?;
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "There is no such action: {other}"
            )))
        }
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn export_record(req: &Req, raw: &str) -> Result<Response, ApiError> {
    let id = backups::parse_id(raw)?;
    get(req, raw)?;
    req.require_admin("backup:export-import")?;
    let (service, url) = req
        .app
        .domain
        .view(|tx| backups::export_record(tx, &req.caller, id))?;
    Ok(
        Json(json!({"backup-record": {"backup_service": service, "backup_url": url}}))
            .into_response(),
    )
}

pub async fn import_record(req: &Req) -> Result<Response, ApiError> {
    req.require_admin("backup:backup-import")?;
    let body = req.json_value()?;
    if let Some(o) = body.as_object() {
        p::refuse_unknown(o, &["backup-record"], "backup-record")?;
    }
    let rec = req.json_object("backup-record")?;
    p::refuse_unknown(&rec, &["backup_service", "backup_url"], "backup-record")?;
    let field = |k: &str| -> Result<String, ApiError> {
        match rec.get(k) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(ApiError::invalid_field(
                &format!("backup-record/{k}"),
                super::views::py_repr(other),
                &format!("{} is not of type 'string'", super::views::py_quoted(other)),
            )),
            None => Err(ApiError::invalid_field(
                "backup-record",
                super::views::py_repr(&Value::Object(rec.clone())),
                &format!("'{k}' is a required property"),
            )),
        }
    };
    let (service, url) = (field("backup_service")?, field("backup_url")?);
    let b = backup_jobs::import(&req.app.domain, req.caller.clone(), service, url).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "backup": summary(req, &b) })),
    )
        .into_response())
}
