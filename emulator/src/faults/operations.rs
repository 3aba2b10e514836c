//! The stable operation names a rule can match, all taken from the endpoint catalogue
//! (`cinder::endpoint::CATALOGUE`) and the volume actions (`cinder::actions::ACTIONS`),
//! plus Keystone's token issue. Names are validated against them so a typo is a 400,
//! not a rule that silently never fires.

use crate::cinder::actions::ACTIONS;
use crate::cinder::endpoint::{CATALOGUE, VOLUME_ACTION};

/// Actions real Cinder has that the emulator refuses; rules may still name them.
const UNIMPLEMENTED_ACTIONS: &[&str] = &[
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

/// Every Cinder operation name except the per-action ones: the endpoint catalogue's.
pub fn cinder() -> impl Iterator<Item = &'static str> {
    CATALOGUE
        .iter()
        .map(|e| e.operation)
        .filter(|op| *op != VOLUME_ACTION)
}

/// Volume actions a rule may name (`volume.action.<key>`): the ones the emulator
/// implements, and those real Cinder has that it refuses (a fault can still fire first).
pub fn volume_actions() -> impl Iterator<Item = &'static str> {
    ACTIONS.iter().chain(UNIMPLEMENTED_ACTIONS).copied()
}

/// Keystone operations that consult fault rules: its operation catalogue's.
pub const KEYSTONE: &[&str] = crate::keystone::catalogue::OPERATIONS;

/// Operations whose work finishes in a background job: the only ones a `transition`
/// effect can change.
pub const JOBS: &[&str] = &[
    "volume.create",
    "volume.action.os-extend",
    "volume.delete",
    "volume.action.os-retype",
    "backup.create",
    "backup.restore",
    "backup.delete",
    "backup.import_record",
    "snapshot.create",
    "snapshot.delete",
];

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
    let mut out: Vec<String> = cinder().map(str::to_string).collect();
    out.extend(volume_actions().map(|a| format!("{VOLUME_ACTION}.{a}")));
    out.extend(KEYSTONE.iter().map(|s| s.to_string()));
    out.extend(NFS.iter().map(|s| s.to_string()));
    out
}

pub fn is_known(op: &str) -> bool {
    cinder().any(|c| c == op)
        || KEYSTONE.contains(&op)
        || NFS.contains(&op)
        || op
            .strip_prefix("volume.action.")
            .is_some_and(|a| volume_actions().any(|x| x == a))
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

    #[test]
    fn names_come_from_the_catalogue() {
        assert!(is_known("volume.create"));
        assert!(is_known("attachment.complete"));
        assert!(is_known("volume.action.os-extend"));
        assert!(is_known("volume.action.os-force_detach"));
        assert!(is_known("volume.action.os-retype"));
        assert!(!is_known("volume.action"));
        assert!(!is_known("volume.action.os-frobnicate"));
        assert!(!is_known("volume.craete"));
        assert_eq!(cinder().count(), CATALOGUE.len() - 1);
        assert!(all().contains(&"keystone.token.create".to_string()));
    }
}
