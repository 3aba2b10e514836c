//! Quotas as a domain resource: limits (world defaults, API overrides), usage, the
//! check a create or extend must pass, and the admin writes, over a [`Tx`].

use uuid::Uuid;

use super::store::Tx;
use crate::config::World;
use crate::error::ApiError;

/// One quota resource's limit for a project: an override, else its default (see
/// `quota_classes::project_default`).
pub fn quota_limit(tx: &Tx<'_>, world: &World, project_id: &str, resource: &str) -> i64 {
    tx.quota_override(project_id, resource)
        .unwrap_or_else(|| super::quota_classes::project_default(tx, world, project_id, resource))
}

/// (volume count, gigabytes) a project uses, overall or for one type. Gigabytes
/// count snapshots too, as Cinder's do (`no_snapshot_gb_quota` is off by default).
pub fn usage(tx: &Tx<'_>, project_id: &str, type_id: Option<Uuid>) -> (i64, i64) {
    let (n, g) = tx.volume_usage(project_id, type_id);
    let (_, snap_gb) = super::snapshots::usage(tx, project_id, type_id);
    (n, g + snap_gb)
}

fn over_gigabytes(requested: i64, limit: i64, used: i64) -> ApiError {
    ApiError::OverLimit {
        message: format!(
            "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested {requested}G, quota is {limit}G and {used}G has been consumed."
        ),
    }
}

/// Refuses with Cinder's 413 wording when adding `add_volumes` volumes and `add_gb`
/// gigabytes to the project (overall and for the type) would pass a limit.
pub fn check_quota(
    tx: &Tx<'_>,
    world: &World,
    project_id: &str,
    type_name: &str,
    add_volumes: i64,
    add_gb: u64,
) -> Result<(), ApiError> {
    let add_gb = add_gb as i64;
    let per_volume = quota_limit(tx, world, project_id, "per_volume_gigabytes");
    if per_volume >= 0 && add_volumes > 0 && add_gb > per_volume {
        return Err(ApiError::OverLimit {
            message: format!(
                "VolumeSizeExceedsLimit: Requested volume size {add_gb}G is larger than maximum allowed limit {per_volume}G."
            ),
        });
    }
    let type_id = tx.types().find(|t| t.name == type_name).map(|t| t.id);
    let scopes = [
        ("volumes".to_string(), "gigabytes".to_string(), None),
        (
            format!("volumes_{type_name}"),
            format!("gigabytes_{type_name}"),
            type_id,
        ),
    ];
    for (vol_res, gb_res, scope) in scopes {
        if scope.is_none() && vol_res != "volumes" {
            continue;
        }
        let (used_n, used_gb) = usage(tx, project_id, scope);
        let vol_limit = quota_limit(tx, world, project_id, &vol_res);
        if add_volumes > 0 && vol_limit >= 0 && used_n + add_volumes > vol_limit {
            return Err(ApiError::OverLimit {
                message: format!(
                    "VolumeLimitExceeded: Maximum number of volumes allowed ({vol_limit}) exceeded for quota '{vol_res}'."
                ),
            });
        }
        let gb_limit = quota_limit(tx, world, project_id, &gb_res);
        if gb_limit >= 0 && used_gb + add_gb > gb_limit {
            return Err(over_gigabytes(add_gb, gb_limit, used_gb));
        }
    }
    Ok(())
}

/// The quota resources that do not depend on volume types, in Cinder's order.
pub const FIXED_QUOTAS: [&str; 7] = [
    "volumes",
    "per_volume_gigabytes",
    "snapshots",
    "gigabytes",
    "backups",
    "backup_gigabytes",
    "groups",
];

/// Every quota resource of a quota set: the fixed ones, then `volumes_<type>`,
/// `gigabytes_<type>` and `snapshots_<type>` for each volume type.
pub fn quota_resources(tx: &Tx<'_>) -> Vec<String> {
    let mut out: Vec<String> = FIXED_QUOTAS.iter().map(|r| r.to_string()).collect();
    let mut names: Vec<&str> = tx.types().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    for name in names {
        for prefix in ["volumes", "gigabytes", "snapshots"] {
            out.push(format!("{prefix}_{name}"));
        }
    }
    out
}

/// A project's limit without API overrides: its own world entry, else the world's.
pub fn default_quota_limit(world: &World, project_id: &str, resource: &str) -> i64 {
    let q = world
        .project(project_id)
        .map(|p| p.quotas)
        .unwrap_or(world.quotas);
    match resource {
        "volumes" => q.volumes,
        "gigabytes" => q.gigabytes,
        "snapshots" => q.snapshots,
        "backups" => q.backups,
        "backup_gigabytes" => q.backup_gigabytes,
        "groups" => q.groups,
        "per_volume_gigabytes" => q.per_volume_gigabytes,
        // Per-type quotas (`volumes_<type>`, ...) default to unlimited.
        _ => -1,
    }
}

/// How much of `resource` the project uses now (volumes and gigabytes, overall or
/// per type; snapshots, overall or per type; backups; groups count 0 here).
pub fn quota_in_use(tx: &Tx<'_>, project_id: &str, resource: &str) -> i64 {
    let of_type = |name: &str| tx.types().find(|t| t.name == name).map(|t| t.id);
    match resource {
        "volumes" => usage(tx, project_id, None).0,
        "gigabytes" => usage(tx, project_id, None).1,
        "backups" => super::backups::usage(tx, project_id).0,
        "backup_gigabytes" => super::backups::usage(tx, project_id).1,
        "snapshots" => super::snapshots::usage(tx, project_id, None).0,
        r => {
            if let Some(t) = r.strip_prefix("volumes_").and_then(of_type) {
                usage(tx, project_id, Some(t)).0
            } else if let Some(t) = r.strip_prefix("gigabytes_").and_then(of_type) {
                usage(tx, project_id, Some(t)).1
            } else if let Some(t) = r.strip_prefix("snapshots_").and_then(of_type) {
                super::snapshots::usage(tx, project_id, Some(t)).0
            } else {
                0
            }
        }
    }
}

/// `PUT /os-quota-sets/{pid}`: writes every limit, or none. With `check_usage` (what
/// Cinder 29 always does) a limit below current usage is refused.
pub fn set_quotas(
    tx: &mut Tx<'_>,
    project_id: &str,
    limits: &[(String, i64)],
    check_usage: bool,
) -> Result<(), ApiError> {
    let known = quota_resources(tx);
    let bad: Vec<&str> = limits
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !known.iter().any(|r| r == k))
        .collect();
    if !bad.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Bad key(s) in quota set: {}",
            bad.join(",")
        )));
    }
    for (key, limit) in limits {
        if check_usage && key != "per_volume_gigabytes" && *limit != -1 {
            let used = quota_in_use(tx, project_id, key);
            if *limit < used {
                return Err(ApiError::bad_request(format!(
                    "Quota {key} limit must be equal or greater than existing resources. Current usage is {used} and the requested limit is {limit}."
                )));
            }
        }
    }
    for (key, limit) in limits {
        tx.set_quota(project_id, key, Some(*limit));
    }
    Ok(())
}

/// `DELETE /os-quota-sets/{pid}`: drops the project's overrides.
pub fn reset_quotas(tx: &mut Tx<'_>, project_id: &str) {
    for resource in tx.quota_overrides_of(project_id) {
        tx.set_quota(project_id, &resource, None);
    }
}
