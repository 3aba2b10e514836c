//! Small read-only endpoints: availability zones and extensions.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::Req;
use crate::error::ApiError;

pub async fn availability_zones(req: &Req) -> Result<Response, ApiError> {
    Ok(Json(json!({"availabilityZoneInfo": [
        {"zoneName": req.app.domain.world.availability_zone, "zoneState": {"available": true}}
    ]}))
    .into_response())
}

/// The extensions whose APIs the emulator has (Tempest wants "Hosts" among them).
const EXTENSIONS: &[(&str, &str, &str)] = &[
    ("Services", "os-services", "Services support."),
    (
        "ExtendedServices",
        "os-extended-services",
        "Extended services support.",
    ),
    ("Qos_specs_manage", "qos-specs", "QoS specs support."),
    (
        "VolumeTransfer",
        "os-volume-transfer",
        "Volume transfer management support.",
    ),
    (
        "Scheduler_stats",
        "scheduler-stats",
        "Scheduler stats support.",
    ),
    ("Capabilities", "capabilities", "Capabilities support."),
    (
        "AvailabilityZones",
        "os-availability-zone",
        "Describe Availability Zones.",
    ),
    ("Hosts", "os-hosts", "Admin-only host administration."),
    ("QuotaSets", "os-quota-sets", "Quota management support."),
    ("Backups", "backups", "Backups support."),
    (
        "BackupAdminActions",
        "os-backup-admin-actions",
        "Enable admin actions.",
    ),
    (
        "QuotaClasses",
        "os-quota-class-sets",
        "Quota classes management support.",
    ),
    ("TypesManage", "os-types-manage", "Types manage support."),
    (
        "TypesExtraSpecs",
        "os-types-extra-specs",
        "Type extra specs support.",
    ),
    (
        "VolumeActions",
        "os-volume-actions",
        "Enable volume actions.",
    ),
    (
        "VolumeAdminActions",
        "os-admin-actions",
        "Enable admin actions.",
    ),
    (
        "VolumeTypeAccess",
        "os-volume-type-access",
        "Volume type access support.",
    ),
    (
        "VolumeTenantAttribute",
        "os-vol-tenant-attr",
        "Expose the internal project_id as an attribute of a volume.",
    ),
    (
        "VolumeHostAttribute",
        "os-vol-host-attr",
        "Expose host as an attribute of a volume.",
    ),
    (
        "VolumeMigStatusAttribute",
        "os-vol-mig-status-attr",
        "Expose migration_status as an attribute of a volume.",
    ),
];

pub async fn extensions(_req: &Req) -> Result<Response, ApiError> {
    let list: Vec<_> = EXTENSIONS
        .iter()
        .map(|(name, alias, desc)| {
            json!({"name": name, "alias": alias, "description": desc,
                   "updated": "2013-04-18T00:00:00+00:00", "links": []})
        })
        .collect();
    Ok(Json(json!({ "extensions": list })).into_response())
}
