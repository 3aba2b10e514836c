//! Admin views of the backend topology: `/scheduler-stats/get_pools`,
//! `/capabilities/{host}` and the (deprecated) `/os-hosts`.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::Req;
use crate::error::ApiError;
use crate::timefmt;
use crate::topology::Backend;
use crate::volume::model::now;
use crate::volume::services::{self, host_matches, VOLUME_BINARY};
use crate::volume::store::State;

/// GiB of live volumes placed on `pool_host` (`host@backend#pool`).
pub fn allocated_gb(state: &State, pool_host: &str) -> u64 {
    state.allocated_gb(pool_host)
}

fn pool_view(state: &State, b: &Backend, pool: &crate::topology::Pool, detail: bool) -> Value {
    let name = b.pool_host(pool);
    if !detail {
        return json!({ "name": name });
    }
    let allocated = allocated_gb(state, &name);
    let mut caps: Map<String, Value> = b
        .pool_capabilities(pool)
        .into_iter()
        .map(|(k, v)| (k, v.to_json()))
        .collect();
    let stamp = timefmt::cinder(now());
    caps.insert(
        "free_capacity_gb".into(),
        json!(pool.total_capacity_gb.saturating_sub(allocated)),
    );
    caps.insert("allocated_capacity_gb".into(), json!(allocated));
    caps.insert("provisioned_capacity_gb".into(), json!(allocated));
    caps.insert("reserved_percentage".into(), json!(0));
    caps.insert("QoS_support".into(), json!(false));
    caps.insert("thin_provisioning_support".into(), json!(false));
    caps.insert("thick_provisioning_support".into(), json!(true));
    caps.insert("max_over_subscription_ratio".into(), json!("1.0"));
    caps.insert("backend_state".into(), json!("up"));
    caps.insert("updated".into(), json!(stamp));
    caps.insert("timestamp".into(), json!(stamp));
    json!({ "name": name, "capabilities": caps })
}

pub async fn get_pools(req: &Req) -> Result<Response, ApiError> {
    req.require_admin("scheduler_extension:scheduler_stats:get_pools")?;
    let detail = req.query("detail").is_some_and(|d| {
        matches!(
            d.to_ascii_lowercase().as_str(),
            "1" | "t" | "true" | "on" | "y" | "yes"
        )
    });
    // 3.28: filter by pool name and by the volume type whose specs the pool must pass.
    let name = req.query("name").filter(|_| req.mv.at_least(28));
    let type_specs = match req.query("volume_type").filter(|_| req.mv.at_least(28)) {
        None => None,
        Some(raw) => Some(
            req.app
                .domain
                .read(|s| {
                    uuid::Uuid::parse_str(raw)
                        .ok()
                        .and_then(|id| s.types.get(&id))
                        .or_else(|| s.type_by_name(raw))
                        .map(|t| t.extra_specs.clone())
                })
                .ok_or_else(|| {
                    ApiError::not_found(format!("Volume type {raw} could not be found."))
                })?,
        ),
    };
    let world = req.app.domain.world.clone();
    let pools: Vec<Value> = req.app.domain.read(|s| {
        world
            .backends
            .iter()
            .flat_map(|b| b.pools.iter().map(move |p| (b, p)))
            .filter(|(b, p)| name.is_none_or(|n| b.pool_host(p) == n))
            .filter(|(b, p)| {
                type_specs.as_ref().is_none_or(|specs| {
                    crate::topology::pool_passes(&b.pool_capabilities(p), specs)
                })
            })
            .map(|(b, p)| pool_view(s, b, p, detail))
            .collect()
    });
    Ok(Json(json!({ "pools": pools })).into_response())
}

pub async fn capabilities(req: &Req, host: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:capabilities")?;
    let b = req
        .app
        .domain
        .world
        .backends
        .iter()
        .find(|b| host_matches(host, &b.service_host()))
        .ok_or_else(|| ApiError::not_found(format!("Can't find service: {host}")))?;
    Ok(Json(json!({
        "namespace": format!("OS::Storage::Capabilities::{}", b.service_host()),
        "vendor_name": b.vendor_name,
        "volume_backend_name": b.volume_backend_name,
        "pool_name": null,
        "driver_version": b.driver_version,
        "storage_protocol": b.storage_protocol,
        "display_name": null,
        "description": null,
        "visibility": null,
        "replication_targets": [],
        "properties": {
            "thin_provisioning": {
                "title": "Thin Provisioning",
                "description": "Sets thin provisioning.",
                "type": "boolean"
            }
        },
    }))
    .into_response())
}

pub async fn hosts_list(req: &Req) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:hosts")?;
    let world = req.app.domain.world.clone();
    let listed = req.app.domain.read(|s| services::list(&world, s));
    let hosts: Vec<Value> = listed
        .into_iter()
        .filter(|s| !s.disabled)
        .filter(|s| {
            req.query("zone")
                .is_none_or(|z| z.is_empty() || z == s.zone)
        })
        .map(|s| {
            json!({
                "host_name": s.host,
                "service": s.binary,
                "zone": s.zone,
                "service-status": "available",
                "service-state": "enabled",
                "last-update": timefmt::cinder(s.updated_at),
            })
        })
        .collect();
    Ok(Json(json!({ "hosts": hosts })).into_response())
}

pub async fn host_show(req: &Req, host: &str) -> Result<Response, ApiError> {
    req.require_admin("volume_extension:hosts")?;
    let world = req.app.domain.world.clone();
    let rows = req.app.domain.read(|s| {
        let exists = services::list(&world, s)
            .iter()
            .any(|svc| svc.binary == VOLUME_BINARY && svc.host == host);
        if !exists {
            return None;
        }
        let on_host: Vec<_> = s
            .volumes
            .values()
            .filter(|v| v.host.as_deref().is_some_and(|h| host_matches(host, h)))
            .collect();
        let mut projects: Vec<&str> = on_host.iter().map(|v| v.project_id.as_str()).collect();
        projects.sort_unstable();
        projects.dedup();
        let row = |project: &str, count: usize, gb: u64| {
            json!({"resource": {
                "host": host, "project": project,
                "volume_count": count.to_string(), "total_volume_gb": gb.to_string(),
                "snapshot_count": "0", "total_snapshot_gb": "0",
            }})
        };
        let mut out = vec![row(
            "(total)",
            on_host.len(),
            on_host.iter().map(|v| v.size_gb).sum(),
        )];
        for p in projects {
            let mine: Vec<_> = on_host.iter().filter(|v| v.project_id == p).collect();
            out.push(row(p, mine.len(), mine.iter().map(|v| v.size_gb).sum()));
        }
        Some(out)
    });
    let rows =
        rows.ok_or_else(|| ApiError::not_found(format!("Service {host} could not be found.")))?;
    Ok(Json(json!({ "host": rows })).into_response())
}
