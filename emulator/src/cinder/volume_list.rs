//! `GET /volumes[/detail]`: Cinder's filters (who may use which), sort keys, markers,
//! offsets and page links, then typed summaries or detail views under one read.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use axum::response::Response;
use serde_json::Value;

use super::params::{truthy, Paging};
use super::views::{self, LinkBases, VolumeView};
use super::Req;
use crate::error::ApiError;
use crate::volume::model::Volume;

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

/// One page of a volume list: typed summaries, or detail views.
enum Page<'a> {
    Summary(Vec<views::VolumeSummary<'a>>),
    Detail(Vec<views::VolumeDetail<'a>>),
}

impl Page<'_> {
    fn len(&self) -> usize {
        match self {
            Page::Summary(p) => p.len(),
            Page::Detail(p) => p.len(),
        }
    }
}

/// `{"volumes": [...], "volumes_links"?: [...], "count"?: n}`.
struct VolumeList<'a> {
    volumes: Page<'a>,
    volumes_links: Option<Vec<views::Link>>,
    count: Option<usize>,
}

impl VolumeList<'_> {
    /// The body's bytes; the entries' links appended by [`views::write_linked`].
    fn render(&self, capacity: usize) -> Result<Vec<u8>, ApiError> {
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(br#"{"volumes":"#);
        match &self.volumes {
            Page::Summary(p) => views::write_linked(&mut out, p)?,
            Page::Detail(p) => views::write_linked(&mut out, p)?,
        }
        if let Some(links) = &self.volumes_links {
            out.extend_from_slice(br#","volumes_links":"#);
            out.extend(views::to_json_sized(links, 256)?);
        }
        if let Some(count) = self.count {
            out.extend_from_slice(format!(r#","count":{count}"#).as_bytes());
        }
        out.push(b'}');
        Ok(out)
    }
}

pub async fn list(req: &Req, detail: bool) -> Result<Response, ApiError> {
    let paging = Paging::parse(req.query("limit"), req.query("offset"), req.query("marker"))?;
    let sort = parse_sort(req)?;
    let all_tenants = req.caller.is_admin && req.query("all_tenants").is_some_and(truthy);
    let filters: Vec<(&str, &str)> = req
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .filter(|(k, _)| !PAGING_KEYS.contains(k) || (*k == "project_id" && req.caller.is_admin))
        .filter(|(k, _)| req.caller.is_admin || USER_FILTERS.contains(k))
        .collect();
    let needs_type = filters
        .iter()
        .any(|(k, _)| matches!(*k, "volume_type" | "volume_type_id"));
    let bases = LinkBases::for_list(req);
    let default_order = matches!(sort[..], [(SortKey::CreatedAt, true)]);
    let with_count = req.mv.at_least(45) && req.query("with_count").is_some_and(truthy);
    // Filter, sort, page and serialize under one read: the page borrows the state.
    let body = req
        .app
        .domain
        .store
        .read(|s| -> Result<Vec<u8>, ApiError> {
            let keep = |v: &Volume| -> Result<bool, ApiError> {
                let project_ok = all_tenants
                    || v.project_id == req.project_id
                    || filters.iter().any(|(k, _)| *k == "project_id");
                if !project_ok || !req.caller.sees(v) {
                    return Ok(false);
                }
                let tname = if needs_type {
                    s.types
                        .get(&v.volume_type_id)
                        .map(|t| t.name.as_str())
                        .unwrap_or("")
                } else {
                    ""
                };
                for (k, val) in &filters {
                    if !matches_filter(req, v, k, val, tname)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            };
            let max_page = paging.page_size();
            let (vols, start, count) = if default_order && !with_count {
                // Newest first is the order the store keeps: walk it from the marker and
                // stop once the offset and the page are filled.
                let before = match paging.marker_id()? {
                    Some(id) => match s.volumes.get(&id) {
                        Some(marker) if keep(marker)? => Some(marker.seq),
                        _ => return Err(paging.marker_not_found()),
                    },
                    None => None,
                };
                let wanted = paging.offset.saturating_add(max_page);
                let mut vols: Vec<&Volume> = Vec::new();
                for v in s.volumes_newest_first(before) {
                    if vols.len() >= wanted {
                        break;
                    }
                    if keep(v)? {
                        vols.push(v);
                    }
                }
                (vols, paging.offset, None)
            } else {
                let mut vols: Vec<&Volume> = Vec::new();
                for v in s.volumes.values() {
                    if keep(v)? {
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
                let start = paging.start(&vols, |v| v.id)?;
                let count = vols.len();
                (vols, start, Some(count))
            };
            let rest: &[&Volume] = vols.get(start..).unwrap_or_default();
            let shown = rest.iter().take(max_page);
            let page = if detail {
                Page::Detail(
                    shown
                        .map(|v| views::volume(req, &bases, s, v, VolumeView::Detail))
                        .collect(),
                )
            } else {
                Page::Summary(shown.map(|v| views::volume_summary(&bases, v)).collect())
            };
            let mut body = VolumeList {
                volumes: page,
                volumes_links: None,
                count: None,
            };
            // A full page gets a "next" link, as Cinder builds it.
            let full = body.volumes.len() == max_page && max_page > 0 && rest.len() >= max_page;
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
                let coll = if detail { "volumes/detail" } else { "volumes" };
                body.volumes_links = Some(vec![views::Link {
                    rel: "next",
                    href: format!("{}/{coll}?{q}", req.self_base()),
                }]);
            }
            if with_count {
                body.count = count;
            }
            // About 250 bytes per summary (id, name, two links), 1.5 KiB per detail.
            let per = if detail { 1536 } else { 256 };
            body.render(64 + per * body.volumes.len())
        })?;
    Ok(views::json_bytes(body))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
