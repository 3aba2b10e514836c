//! The stable operation names a rule can match: one per Cinder endpoint (the names
//! `cinder::endpoint::Endpoint::operation` produces), the volume actions, and Keystone's
//! token issue. Names are validated against this list so a typo is a 400, not a rule
//! that silently never fires.

/// Every Cinder operation name except the per-action ones.
pub const CINDER: &[&str] = &[
    "versions.show",
    "volume.list",
    "volume.list_detail",
    "volume.create",
    "volume.summary",
    "volume.show",
    "volume.update",
    "volume.delete",
    "volume.metadata.show",
    "volume.metadata.create",
    "volume.metadata.replace",
    "volume.metadata.show_key",
    "volume.metadata.update_key",
    "volume.metadata.delete_key",
    "type.list",
    "type.create",
    "type.default",
    "type.show",
    "type.update",
    "type.delete",
    "type.extra_specs.show",
    "type.extra_specs.create",
    "type.extra_specs.show_key",
    "type.extra_specs.update_key",
    "type.extra_specs.delete_key",
    "type.access.list",
    "type.action",
    "attachment.list",
    "attachment.list_detail",
    "attachment.create",
    "attachment.show",
    "attachment.update",
    "attachment.delete",
    "attachment.complete",
    "limits.show",
    "quota.show",
    "quota.defaults",
    "quota.update",
    "quota.delete",
    "availability_zone.list",
    "extension.list",
];

/// `POST /volumes/{id}/action` bodies, named `volume.action.<key>`.
pub const VOLUME_ACTIONS: &[&str] = &[
    "os-extend",
    "os-reserve",
    "os-unreserve",
    "os-begin_detaching",
    "os-roll_detaching",
    "os-attach",
    "os-detach",
    "os-initialize_connection",
    "os-terminate_connection",
    "os-reset_status",
    "os-force_delete",
    "os-set_bootable",
    "os-update_readonly_flag",
    "os-retype",
    "os-volume_upload_image",
    "os-set_image_metadata",
    "os-unset_image_metadata",
    "os-show_image_metadata",
];

/// NFS calls on a volume export (`nfs.<NFSv3 procedure>`, `mount.<MOUNTv3 procedure>`):
/// matched only by rules that name them.
pub const NFS: &[&str] = &[
    "nfs.null",
    "nfs.getattr",
    "nfs.setattr",
    "nfs.lookup",
    "nfs.access",
    "nfs.readlink",
    "nfs.read",
    "nfs.write",
    "nfs.create",
    "nfs.mkdir",
    "nfs.symlink",
    "nfs.mknod",
    "nfs.remove",
    "nfs.rmdir",
    "nfs.rename",
    "nfs.link",
    "nfs.readdir",
    "nfs.readdirplus",
    "nfs.fsstat",
    "nfs.fsinfo",
    "nfs.pathconf",
    "nfs.commit",
    "mount.null",
    "mount.mnt",
    "mount.dump",
    "mount.umnt",
    "mount.umntall",
    "mount.export",
    "portmap.call",
];

/// Keystone operations that consult fault rules.
pub const KEYSTONE: &[&str] = &["keystone.token.create"];

/// Operations whose work finishes in a background job: the only ones a `transition`
/// effect can change.
pub const JOBS: &[&str] = &["volume.create", "volume.action.os-extend", "volume.delete"];

/// Operations a `lie = "ack"` can acknowledge without applying.
pub const ACKABLE: &[&str] = &[
    "volume.delete",
    "volume.update",
    "volume.metadata.create",
    "volume.metadata.replace",
    "volume.metadata.update_key",
    "volume.metadata.delete_key",
    "volume.action.os-extend",
    "attachment.complete",
    "attachment.delete",
];

/// Operations that rewrite metadata: an `ack` lie runs them and then puts the old
/// metadata back.
pub const METADATA_WRITES: &[&str] = &[
    "volume.update",
    "volume.metadata.create",
    "volume.metadata.replace",
    "volume.metadata.update_key",
    "volume.metadata.delete_key",
];

/// Every known operation name, in documentation order.
pub fn all() -> Vec<String> {
    let mut out: Vec<String> = CINDER.iter().map(|s| s.to_string()).collect();
    out.extend(VOLUME_ACTIONS.iter().map(|a| format!("volume.action.{a}")));
    out.extend(KEYSTONE.iter().map(|s| s.to_string()));
    out.extend(NFS.iter().map(|s| s.to_string()));
    out
}

pub fn is_known(op: &str) -> bool {
    CINDER.contains(&op)
        || KEYSTONE.contains(&op)
        || NFS.contains(&op)
        || op
            .strip_prefix("volume.action.")
            .is_some_and(|a| VOLUME_ACTIONS.contains(&a))
}

pub fn is_keystone(op: &str) -> bool {
    op.starts_with("keystone.")
}

/// NFS, MOUNT and portmapper calls on the NFS export.
pub fn is_nfs(op: &str) -> bool {
    op.starts_with("nfs.") || op.starts_with("mount.") || op.starts_with("portmap.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cinder::endpoint::Endpoint;
    use axum::http::Method;

    /// Every endpoint the dispatcher knows yields a name in our list.
    #[test]
    fn every_endpoint_operation_is_listed() {
        let table: &[(Method, &str)] = &[
            (Method::GET, ""),
            (Method::GET, "volumes"),
            (Method::POST, "volumes"),
            (Method::GET, "volumes/detail"),
            (Method::GET, "volumes/summary"),
            (Method::GET, "volumes/v"),
            (Method::PUT, "volumes/v"),
            (Method::DELETE, "volumes/v"),
            (Method::GET, "volumes/v/metadata"),
            (Method::POST, "volumes/v/metadata"),
            (Method::PUT, "volumes/v/metadata"),
            (Method::GET, "volumes/v/metadata/k"),
            (Method::PUT, "volumes/v/metadata/k"),
            (Method::DELETE, "volumes/v/metadata/k"),
            (Method::GET, "types"),
            (Method::POST, "types"),
            (Method::GET, "types/default"),
            (Method::GET, "types/t"),
            (Method::PUT, "types/t"),
            (Method::DELETE, "types/t"),
            (Method::GET, "types/t/extra_specs"),
            (Method::POST, "types/t/extra_specs"),
            (Method::GET, "types/t/extra_specs/k"),
            (Method::PUT, "types/t/extra_specs/k"),
            (Method::DELETE, "types/t/extra_specs/k"),
            (Method::GET, "types/t/os-volume-type-access"),
            (Method::POST, "types/t/action"),
            (Method::GET, "attachments"),
            (Method::POST, "attachments"),
            (Method::GET, "attachments/detail"),
            (Method::GET, "attachments/a"),
            (Method::PUT, "attachments/a"),
            (Method::DELETE, "attachments/a"),
            (Method::POST, "attachments/a/action"),
            (Method::GET, "limits"),
            (Method::GET, "os-quota-sets/p"),
            (Method::GET, "os-quota-sets/p/defaults"),
            (Method::PUT, "os-quota-sets/p"),
            (Method::DELETE, "os-quota-sets/p"),
            (Method::GET, "os-availability-zone"),
            (Method::GET, "extensions"),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for (m, path) in table {
            let seg: Vec<&str> = if path.is_empty() {
                vec![]
            } else {
                path.split('/').collect()
            };
            let op = Endpoint::parse(m, &seg).expect(path).operation();
            assert!(is_known(&op), "{m} {path} -> {op} is not listed");
            seen.insert(op);
        }
        assert_eq!(seen.len(), CINDER.len(), "every listed name is reachable");
        assert!(is_known("volume.action.os-extend"));
        assert!(!is_known("volume.action.os-frobnicate"));
        assert!(!is_known("volume.craete"));
        assert!(all().contains(&"keystone.token.create".to_string()));
    }
}
