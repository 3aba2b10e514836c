//! Quota classes (`os-quota-class-sets`): named sets of default limits, as Cinder's
//! `quota_classes` table. The `default` class supplies every project's defaults: a
//! project's limit is its API override, else its own world entry (where that differs
//! from the world's quotas), else the `default` class's value, else the world's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::quotas::{default_quota_limit, quota_resources};
use super::store::{Record, Tx};
use crate::config::{Quotas, World};
use crate::error::ApiError;

/// The class whose values are every project's defaults.
pub const DEFAULT_CLASS: &str = "default";

/// The limits an API write gave one class (resources it did not name fall back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaClass {
    pub name: String,
    pub limits: BTreeMap<String, i64>,
}

impl Record for QuotaClass {
    const KIND: &'static str = "quota_class";
    fn key(&self) -> String {
        self.name.clone()
    }
}

fn world_field(q: &Quotas, resource: &str) -> Option<i64> {
    Some(match resource {
        "volumes" => q.volumes,
        "gigabytes" => q.gigabytes,
        "snapshots" => q.snapshots,
        "backups" => q.backups,
        "backup_gigabytes" => q.backup_gigabytes,
        "groups" => q.groups,
        "per_volume_gigabytes" => q.per_volume_gigabytes,
        _ => return None,
    })
}

/// One resource of a class: its own value, else the `default` class's, else the
/// world's (Cinder's `get_class_quotas` with defaults).
pub fn class_limit(tx: &Tx<'_>, world: &World, class: &str, resource: &str) -> i64 {
    let own = |name: &str| {
        tx.record::<QuotaClass>(name)
            .and_then(|c| c.limits.get(resource).copied())
    };
    own(class)
        .or_else(|| own(DEFAULT_CLASS))
        .unwrap_or_else(|| world_field(&world.quotas, resource).unwrap_or(-1))
}

/// A project's default for `resource` (no API override considered).
pub fn project_default(tx: &Tx<'_>, world: &World, project_id: &str, resource: &str) -> i64 {
    if let Some(p) = world.project(project_id) {
        let own = world_field(&p.quotas, resource);
        if own.is_some() && own != world_field(&world.quotas, resource) {
            return default_quota_limit(world, project_id, resource);
        }
    }
    class_limit(tx, world, DEFAULT_CLASS, resource)
}

/// Every resource of a class, in quota-set order.
pub fn show(tx: &Tx<'_>, world: &World, class: &str) -> Vec<(String, i64)> {
    quota_resources(tx)
        .into_iter()
        .map(|r| {
            let l = class_limit(tx, world, class, &r);
            (r, l)
        })
        .collect()
}

/// `PUT /os-quota-class-sets/{class}`: writes every given limit, or none.
pub fn update(tx: &mut Tx<'_>, class: &str, limits: &[(String, i64)]) -> Result<(), ApiError> {
    let len = class.chars().count();
    if len > 255 {
        return Err(ApiError::bad_request(format!(
            "Invalid input received: quota_class_name has {len} characters, more than 255."
        )));
    }
    let known = quota_resources(tx);
    let bad: Vec<&str> = limits
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !known.iter().any(|r| r == k))
        .collect();
    if !bad.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Invalid input received: Bad key(s) in quota class set: {}",
            bad.join(", ")
        )));
    }
    let mut rec = tx.record::<QuotaClass>(class).unwrap_or(QuotaClass {
        name: class.to_string(),
        limits: BTreeMap::new(),
    });
    for (k, v) in limits {
        rec.limits.insert(k.clone(), *v);
    }
    tx.put_record(&rec);
    Ok(())
}
