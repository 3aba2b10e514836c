//! `os-retype`: changing a volume's type, as Cinder's volume API and scheduler do it.
//! The API checks (type, multiattach, per-type quota, status) and moves the volume to
//! `retyping`; the job then asks the scheduler's question: does the volume's own pool
//! pass the new type's extra specs? If so the type changes in place (the per-type quota
//! usage moves with it, since usage is counted from the volumes' types). If not, with
//! `migration_policy` `never` (the default) the retype is refused as Cinder's scheduler
//! refuses it (`NoValidBackend`: the volume returns to its previous status, type
//! unchanged); with `on-demand` an `available` volume migrates to the best pool that
//! passes (its bytes stay: a volume's file does not depend on its backend) and ends with
//! `migration_status` `success`, while an `in-use` one cannot (Cinder would need Nova to
//! swap the attached volume) and ends with `migration_status` `error`, type unchanged.

use uuid::Uuid;

use super::backups::{attached, move_volume};
use super::domain::Domain;
use super::model::Volume;
use super::ops::{self, Caller};
use super::quotas::{quota_limit, usage};
use super::status::VolumeStatus;
use super::store::Tx;
use super::transition_jobs::VolumeJobEvent;
use crate::config::World;
use crate::error::ApiError;
use crate::topology::{pool_passes, Backend};

fn invalid_input(reason: &str) -> ApiError {
    ApiError::bad_request(format!("Invalid input received: {reason}"))
}

const CONDITIONS: &str = "Invalid volume: Retype needs volume to be in available or in-use state, not be part of an active migration or a consistency group, requested type has to be different that the one from the volume, and for in-use volumes front-end qos specs cannot change.";

/// Whether the pool `host` (`host@backend#pool`) passes `extra_specs`.
fn pool_accepts(
    backends: &[Backend],
    host: &str,
    specs: &std::collections::BTreeMap<String, String>,
) -> bool {
    backends.iter().any(|b| {
        b.pools
            .iter()
            .any(|p| b.pool_host(p) == host && pool_passes(&b.pool_capabilities(p), specs))
    })
}

/// `os-retype`: validates and moves the volume to `retyping`; returns the new type's id
/// and whether the job may migrate (`on-demand`).
pub fn begin(
    tx: &mut Tx<'_>,
    world: &World,
    caller: &Caller,
    id: Uuid,
    new_type: &str,
    on_demand: bool,
) -> Result<(Uuid, bool), ApiError> {
    let v = ops::visible(tx, caller, id)?.clone();
    let elevated = Caller {
        is_admin: true,
        ..caller.clone()
    };
    let t = ops::find_type(tx, &elevated, new_type)
        .map_err(|_| invalid_input(&format!("Invalid volume_type passed: {new_type}.")))?
        .clone();
    let target_multiattach = t.multiattach();
    if v.multiattach != target_multiattach && v.status != VolumeStatus::Available {
        return Err(invalid_input(&format!(
            "Invalid volume_type passed, retypes affecting multiattach are only allowed on available volumes, the specified volume however currently has a status of: {}.",
            v.status
        )));
    }
    if target_multiattach
        && super::encryption::get(tx, &t.id.to_string())
            .ok()
            .flatten()
            .is_some()
    {
        return Err(invalid_input(
            "Retype requested both encryption and multi-attach, which is not supported.",
        ));
    }
    // The new type's own quotas (Cinder reserves per-type quota only).
    let (n, gb) = usage(tx, &v.project_id, Some(t.id));
    let vol_limit = quota_limit(tx, world, &v.project_id, &format!("volumes_{}", t.name));
    if vol_limit >= 0 && n + 1 > vol_limit {
        return Err(ApiError::OverLimit {
            message: format!(
                "VolumeLimitExceeded: Maximum number of volumes allowed ({vol_limit}) exceeded for quota 'volumes_{}'.",
                t.name
            ),
        });
    }
    let gb_limit = quota_limit(tx, world, &v.project_id, &format!("gigabytes_{}", t.name));
    if gb_limit >= 0 && gb + v.size_gb as i64 > gb_limit {
        return Err(ApiError::OverLimit {
            message: format!(
                "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes_{} quota. Requested {}G, quota is {gb_limit}G and {gb}G has been consumed.",
                t.name, v.size_gb
            ),
        });
    }
    let migrating = v
        .migration_status
        .as_deref()
        .is_some_and(|m| !matches!(m, "success" | "error"));
    if migrating || v.group_id.is_some() || v.volume_type_id == t.id {
        return Err(ApiError::bad_request(CONDITIONS));
    }
    move_volume(tx, id, VolumeJobEvent::RetypeRequested)
        .ok_or_else(|| ApiError::bad_request(CONDITIONS))?;
    Ok((t.id, on_demand))
}

/// `os-retype`: `retyping`, and the job started.
pub async fn retype(
    domain: &Domain,
    caller: Caller,
    id: Uuid,
    new_type: String,
    on_demand: bool,
) -> Result<(), ApiError> {
    let world = domain.world.clone();
    let (new_type_id, migrate) = domain
        .write(move |tx| begin(tx, &world, &caller, id, &new_type, on_demand))
        .await?;
    super::jobs::spawn(
        domain,
        id,
        super::hooks::Job::Retype {
            new_type_id,
            migrate,
        },
    );
    Ok(())
}

/// The best pool for a migrating volume: enabled backends, the new type's specs, most
/// free space (the volume's own pool excluded: it did not pass).
fn migration_target(
    tx: &Tx<'_>,
    world: &World,
    v: &Volume,
    specs: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    let state = tx.committed();
    let enabled: Vec<Backend> = world
        .backends
        .iter()
        .filter(|b| super::services::volume_service_enabled(state, &b.service_host()))
        .cloned()
        .collect();
    let allocated = |pool_host: &str| -> u64 {
        tx.volumes()
            .filter(|o| o.host.as_deref() == Some(pool_host))
            .map(|o| o.size_gb)
            .sum()
    };
    crate::topology::schedule(&enabled, specs, v.size_gb, allocated)
        .map(|(b, p)| b.pool_host(p))
        .filter(|h| Some(h.as_str()) != v.host.as_deref())
}

/// The end of the retype job (see the module comment); `ok` false when the hooks
/// failed it (the volume returns to its previous status, type unchanged).
pub async fn finish(
    domain: &Domain,
    id: Uuid,
    new_type_id: Uuid,
    migrate: bool,
    ok: bool,
) -> Result<(), ApiError> {
    let world = domain.world.clone();
    domain
        .write(move |tx| {
            let Some(mut v) = tx.volume(id).cloned() else {
                return Ok(());
            };
            if v.status != VolumeStatus::Retyping {
                return Ok(());
            }
            let at = attached(tx, id);
            let specs = tx
                .volume_type(new_type_id)
                .map(|t| (t.extra_specs.clone(), t.multiattach()));
            if let (true, Some((specs, multiattach))) = (ok, specs) {
                let in_place = v
                    .host
                    .as_deref()
                    .is_some_and(|h| pool_accepts(&world.backends, h, &specs));
                if in_place {
                    v.volume_type_id = new_type_id;
                    v.multiattach = multiattach;
                } else if migrate && !at {
                    if let Some(host) = migration_target(tx, &world, &v, &specs) {
                        v.volume_type_id = new_type_id;
                        v.multiattach = multiattach;
                        v.host = Some(host);
                        v.migration_status = Some("success".into());
                    } else {
                        tracing::info!(volume_id = %id, "retype refused: no valid backend");
                    }
                } else if migrate {
                    v.migration_status = Some("error".into());
                } else {
                    tracing::info!(volume_id = %id, "retype needs a migration, policy is never");
                }
            }
            tx.put_volume(v);
            move_volume(tx, id, VolumeJobEvent::RetypeEnded { attached: at });
            Ok(())
        })
        .await
}
