//! Every Cinder request is first turned into an [`Endpoint`]: one variant per
//! operation, with a stable operation name (used by fault rules and the request log)
//! and the microversion it needs.

use axum::http::Method;

use crate::error::ApiError;

/// One row of the operation catalogue: what clients send and what the emulator calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub method: &'static str,
    /// Path after `/volume/v3[/{project}]/`; `{name}` marks a segment the variant keeps.
    pub path: &'static str,
    /// The stable operation name (for `VolumeAction`, the prefix of `volume.action.<name>`).
    pub operation: &'static str,
    /// The smallest microversion that has it; below, Cinder says 404.
    pub min_minor: u16,
}

/// Declares [`Endpoint`] and [`CATALOGUE`] from one table, so that a variant, its
/// method, route, operation name and microversion are written once. A new resource's
/// endpoints are new rows here (plus their arm in [`Endpoint::parse`], which the
/// catalogue test checks against every row).
macro_rules! endpoints {
    ($( $(#[$doc:meta])* $variant:ident $( ( $($field:ident),+ ) )? : $method:ident $path:literal => $op:literal, $min:literal; )+) => {
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Endpoint {
            $( $(#[$doc])* $variant $( ( $( endpoints!(@string $field) ),+ ) )?, )+
        }

        /// Every endpoint, in documentation order.
        pub const CATALOGUE: &[Entry] = &[
            $( Entry { method: stringify!($method), path: $path, operation: $op, min_minor: $min }, )+
        ];

        impl Endpoint {
            /// This endpoint's row of the catalogue.
            pub fn entry(&self) -> &'static Entry {
                let mut i = 0usize;
                $(
                    if let Endpoint::$variant $( ( $( endpoints!(@any $field) ),+ ) )? = self {
                        return &CATALOGUE[i];
                    }
                    i += 1;
                )+
                unreachable!("every variant has a row ({i})")
            }
        }
    };
    (@string $field:ident) => { String };
    (@any $field:ident) => { _ };
}

endpoints! {
    Versions: GET "" => "versions.show", 0;
    VolumeList: GET "volumes" => "volume.list", 0;
    VolumeListDetail: GET "volumes/detail" => "volume.list_detail", 0;
    VolumeCreate: POST "volumes" => "volume.create", 0;
    VolumeSummary: GET "volumes/summary" => "volume.summary", 12;
    VolumeShow(id): GET "volumes/{id}" => "volume.show", 0;
    VolumeUpdate(id): PUT "volumes/{id}" => "volume.update", 0;
    VolumeDelete(id): DELETE "volumes/{id}" => "volume.delete", 0;
    /// `POST /volumes/{id}/action`; the action name comes from the body.
    VolumeAction(id, action): POST "volumes/{id}/action" => "volume.action", 0;
    MetadataShow(id): GET "volumes/{id}/metadata" => "volume.metadata.show", 0;
    MetadataMerge(id): POST "volumes/{id}/metadata" => "volume.metadata.create", 0;
    MetadataReplace(id): PUT "volumes/{id}/metadata" => "volume.metadata.replace", 0;
    MetadataKeyShow(id, key): GET "volumes/{id}/metadata/{key}" => "volume.metadata.show_key", 0;
    MetadataKeyUpdate(id, key): PUT "volumes/{id}/metadata/{key}" => "volume.metadata.update_key", 0;
    MetadataKeyDelete(id, key): DELETE "volumes/{id}/metadata/{key}" => "volume.metadata.delete_key", 0;
    TypeList: GET "types" => "type.list", 0;
    TypeCreate: POST "types" => "type.create", 0;
    TypeDefault: GET "types/default" => "type.default", 0;
    TypeShow(id): GET "types/{id}" => "type.show", 0;
    TypeUpdate(id): PUT "types/{id}" => "type.update", 0;
    TypeDelete(id): DELETE "types/{id}" => "type.delete", 0;
    TypeExtraSpecsShow(id): GET "types/{id}/extra_specs" => "type.extra_specs.show", 0;
    TypeExtraSpecsCreate(id): POST "types/{id}/extra_specs" => "type.extra_specs.create", 0;
    TypeExtraSpecShow(id, key): GET "types/{id}/extra_specs/{key}" => "type.extra_specs.show_key", 0;
    TypeExtraSpecUpdate(id, key): PUT "types/{id}/extra_specs/{key}" => "type.extra_specs.update_key", 0;
    TypeExtraSpecDelete(id, key): DELETE "types/{id}/extra_specs/{key}" => "type.extra_specs.delete_key", 0;
    TypeAccessList(id): GET "types/{id}/os-volume-type-access" => "type.access.list", 0;
    TypeAction(id): POST "types/{id}/action" => "type.action", 0;
    AttachmentList: GET "attachments" => "attachment.list", 27;
    AttachmentListDetail: GET "attachments/detail" => "attachment.list_detail", 27;
    AttachmentCreate: POST "attachments" => "attachment.create", 27;
    AttachmentShow(id): GET "attachments/{id}" => "attachment.show", 27;
    AttachmentUpdate(id): PUT "attachments/{id}" => "attachment.update", 27;
    AttachmentDelete(id): DELETE "attachments/{id}" => "attachment.delete", 27;
    AttachmentAction(id): POST "attachments/{id}/action" => "attachment.complete", 44;
    Limits: GET "limits" => "limits.show", 0;
    QuotaShow(project): GET "os-quota-sets/{project}" => "quota.show", 0;
    QuotaDefaults(project): GET "os-quota-sets/{project}/defaults" => "quota.defaults", 0;
    QuotaUpdate(project): PUT "os-quota-sets/{project}" => "quota.update", 0;
    QuotaDelete(project): DELETE "os-quota-sets/{project}" => "quota.delete", 0;
    AvailabilityZones: GET "os-availability-zone" => "availability_zone.list", 0;
    Extensions: GET "extensions" => "extension.list", 0;
    EncryptionShow(id): GET "types/{id}/encryption" => "type.encryption.show", 0;
    EncryptionCreate(id): POST "types/{id}/encryption" => "type.encryption.create", 0;
    EncryptionShowKey(id, key): GET "types/{id}/encryption/{key}" => "type.encryption.show_key", 0;
    EncryptionUpdate(id, key): PUT "types/{id}/encryption/{key}" => "type.encryption.update", 0;
    EncryptionDelete(id, key): DELETE "types/{id}/encryption/{key}" => "type.encryption.delete", 0;
    GroupTypeList: GET "group_types" => "group_type.list", 11;
    GroupTypeCreate: POST "group_types" => "group_type.create", 11;
    GroupTypeDefault: GET "group_types/default" => "group_type.default", 11;
    GroupTypeShow(id): GET "group_types/{id}" => "group_type.show", 11;
    GroupTypeUpdate(id): PUT "group_types/{id}" => "group_type.update", 11;
    GroupTypeDelete(id): DELETE "group_types/{id}" => "group_type.delete", 11;
    GroupSpecsList(id): GET "group_types/{id}/group_specs" => "group_type.specs.list", 11;
    GroupSpecsCreate(id): POST "group_types/{id}/group_specs" => "group_type.specs.create", 11;
    GroupSpecShow(id, key): GET "group_types/{id}/group_specs/{key}" => "group_type.specs.show_key", 11;
    GroupSpecUpdate(id, key): PUT "group_types/{id}/group_specs/{key}" => "group_type.specs.update_key", 11;
    GroupSpecDelete(id, key): DELETE "group_types/{id}/group_specs/{key}" => "group_type.specs.delete_key", 11;
    GroupList: GET "groups" => "group.list", 13;
    GroupListDetail: GET "groups/detail" => "group.list_detail", 13;
    GroupCreate: POST "groups" => "group.create", 13;
    /// `POST /groups/action` `create-from-src` (3.14).
    GroupCreateFromSrc: POST "groups/action" => "group.create_from_src", 14;
    GroupShow(id): GET "groups/{id}" => "group.show", 13;
    GroupUpdate(id): PUT "groups/{id}" => "group.update", 13;
    /// `POST /groups/{id}/action`: `delete` or `reset_status` (3.20).
    GroupAction(id): POST "groups/{id}/action" => "group.action", 13;
    ServiceList: GET "os-services" => "service.list", 0;
    ServiceEnable: PUT "os-services/enable" => "service.enable", 0;
    ServiceDisable: PUT "os-services/disable" => "service.disable", 0;
    ServiceDisableLogReason: PUT "os-services/disable-log-reason" => "service.disable_log_reason", 0;
    ServiceFreeze: PUT "os-services/freeze" => "service.freeze", 0;
    ServiceThaw: PUT "os-services/thaw" => "service.thaw", 0;
    /// Any other `PUT /os-services/{action}`: Cinder's "Unknown action".
    ServiceUpdate(action): PUT "os-services/{action}" => "service.update", 0;
    QosList: GET "qos-specs" => "qos.list", 0;
    QosCreate: POST "qos-specs" => "qos.create", 0;
    QosShow(id): GET "qos-specs/{id}" => "qos.show", 0;
    QosSetKeys(id): PUT "qos-specs/{id}" => "qos.set_keys", 0;
    QosDelete(id): DELETE "qos-specs/{id}" => "qos.delete", 0;
    QosUnsetKeys(id): PUT "qos-specs/{id}/delete_keys" => "qos.unset_keys", 0;
    QosAssociations(id): GET "qos-specs/{id}/associations" => "qos.associations", 0;
    QosAssociate(id): GET "qos-specs/{id}/associate" => "qos.associate", 0;
    QosDisassociate(id): GET "qos-specs/{id}/disassociate" => "qos.disassociate", 0;
    QosDisassociateAll(id): GET "qos-specs/{id}/disassociate_all" => "qos.disassociate_all", 0;
    PoolList: GET "scheduler-stats/get_pools" => "pool.list", 0;
    Capabilities(host): GET "capabilities/{host}" => "capabilities.show", 0;
    HostList: GET "os-hosts" => "host.list", 0;
    HostShow(host): GET "os-hosts/{host}" => "host.show", 0;
    TransferList: GET "os-volume-transfer" => "transfer.list", 0;
    TransferListDetail: GET "os-volume-transfer/detail" => "transfer.list_detail", 0;
    TransferCreate: POST "os-volume-transfer" => "transfer.create", 0;
    TransferShow(id): GET "os-volume-transfer/{id}" => "transfer.show", 0;
    TransferDelete(id): DELETE "os-volume-transfer/{id}" => "transfer.delete", 0;
    TransferAccept(id): POST "os-volume-transfer/{id}/accept" => "transfer.accept", 0;
    /// The 3.55 transfers API: the same transfers under `/volume-transfers`.
    VolumeTransferList: GET "volume-transfers" => "volume_transfer.list", 55;
    VolumeTransferListDetail: GET "volume-transfers/detail" => "volume_transfer.list_detail", 55;
    VolumeTransferCreate: POST "volume-transfers" => "volume_transfer.create", 55;
    VolumeTransferShow(id): GET "volume-transfers/{id}" => "volume_transfer.show", 55;
    VolumeTransferDelete(id): DELETE "volume-transfers/{id}" => "volume_transfer.delete", 55;
    VolumeTransferAccept(id): POST "volume-transfers/{id}/accept" => "volume_transfer.accept", 55;
    MessageList: GET "messages" => "message.list", 3;
    MessageShow(id): GET "messages/{id}" => "message.show", 3;
    MessageDelete(id): DELETE "messages/{id}" => "message.delete", 3;
    GroupSnapshotList: GET "group_snapshots" => "group_snapshot.list", 14;
    GroupSnapshotListDetail: GET "group_snapshots/detail" => "group_snapshot.list_detail", 14;
    GroupSnapshotCreate: POST "group_snapshots" => "group_snapshot.create", 14;
    GroupSnapshotShow(id): GET "group_snapshots/{id}" => "group_snapshot.show", 14;
    GroupSnapshotDelete(id): DELETE "group_snapshots/{id}" => "group_snapshot.delete", 14;
    /// `reset_status` (3.19).
    GroupSnapshotAction(id): POST "group_snapshots/{id}/action" => "group_snapshot.action", 19;
    QuotaClassShow(class): GET "os-quota-class-sets/{class}" => "quota_class.show", 0;
    QuotaClassUpdate(class): PUT "os-quota-class-sets/{class}" => "quota_class.update", 0;
    BackupList: GET "backups" => "backup.list", 0;
    BackupListDetail: GET "backups/detail" => "backup.list_detail", 0;
    BackupCreate: POST "backups" => "backup.create", 0;
    BackupImport: POST "backups/import_record" => "backup.import_record", 0;
    BackupShow(id): GET "backups/{id}" => "backup.show", 0;
    BackupUpdate(id): PUT "backups/{id}" => "backup.update", 9;
    BackupDelete(id): DELETE "backups/{id}" => "backup.delete", 0;
    BackupRestore(id): POST "backups/{id}/restore" => "backup.restore", 0;
    /// `POST /backups/{id}/action`: `os-reset_status`, `os-force_delete` (admin).
    BackupAction(id): POST "backups/{id}/action" => "backup.action", 0;
    BackupExport(id): GET "backups/{id}/export_record" => "backup.export_record", 0;
    SnapshotList: GET "snapshots" => "snapshot.list", 0;
    SnapshotListDetail: GET "snapshots/detail" => "snapshot.list_detail", 0;
    SnapshotCreate: POST "snapshots" => "snapshot.create", 0;
    SnapshotShow(id): GET "snapshots/{id}" => "snapshot.show", 0;
    SnapshotUpdate(id): PUT "snapshots/{id}" => "snapshot.update", 0;
    SnapshotDelete(id): DELETE "snapshots/{id}" => "snapshot.delete", 0;
    /// `os-reset_status`, `os-force_delete`, `os-update_snapshot_status`.
    SnapshotAction(id): POST "snapshots/{id}/action" => "snapshot.action", 0;
    SnapshotMetadataShow(id): GET "snapshots/{id}/metadata" => "snapshot.metadata.show", 0;
    SnapshotMetadataMerge(id): POST "snapshots/{id}/metadata" => "snapshot.metadata.create", 0;
    SnapshotMetadataReplace(id): PUT "snapshots/{id}/metadata" => "snapshot.metadata.replace", 0;
    SnapshotMetadataKeyShow(id, key): GET "snapshots/{id}/metadata/{key}" => "snapshot.metadata.show_key", 0;
    SnapshotMetadataKeyUpdate(id, key): PUT "snapshots/{id}/metadata/{key}" => "snapshot.metadata.update_key", 0;
    SnapshotMetadataKeyDelete(id, key): DELETE "snapshots/{id}/metadata/{key}" => "snapshot.metadata.delete_key", 0;
    DefaultTypeList: GET "default-types" => "default_type.list", 62;
    DefaultTypeSet(project): PUT "default-types/{project}" => "default_type.set", 62;
    DefaultTypeShow(project): GET "default-types/{project}" => "default_type.show", 62;
    DefaultTypeUnset(project): DELETE "default-types/{project}" => "default_type.unset", 62;
    ResourceFilters: GET "resource_filters" => "resource_filter.list", 33;
}

/// The catalogue's operation for `POST /volumes/{id}/action`, completed by the action.
pub const VOLUME_ACTION: &str = "volume.action";

/// First path segments that name a collection, not a project (the 3.67 URL form).
pub const COLLECTIONS: &[&str] = &[
    "volumes",
    "types",
    "attachments",
    "limits",
    "os-quota-sets",
    "os-availability-zone",
    "extensions",
    "os-services",
    "group_types",
    "groups",
    "qos-specs",
    "scheduler-stats",
    "capabilities",
    "os-hosts",
    "os-volume-transfer",
    "volume-transfers",
    "messages",
    "os-quota-class-sets",
    "backups",
    "snapshots",
    "default-types",
    "resource_filters",
    "group_snapshots",
];

fn not_found() -> ApiError {
    ApiError::not_found("The resource could not be found.")
}

impl Endpoint {
    /// Maps a method and the path segments after the project id to an endpoint.
    pub fn parse(method: &Method, seg: &[&str]) -> Result<Endpoint, ApiError> {
        use Endpoint as E;
        let m = method.clone();
        let bad_method = || {
            ApiError::MethodNotAllowed(
                "The method specified is not allowed for this resource.".into(),
            )
        };
        let pick = |options: Vec<(Method, Endpoint)>| -> Result<Endpoint, ApiError> {
            options
                .into_iter()
                .find(|(om, _)| *om == m || (m == Method::HEAD && *om == Method::GET))
                .map(|(_, e)| e)
                .ok_or_else(bad_method)
        };
        let s = |i: usize| seg[i].to_string();
        match seg {
            [] => pick(vec![(Method::GET, E::Versions)]),
            ["volumes"] => pick(vec![
                (Method::GET, E::VolumeList),
                (Method::POST, E::VolumeCreate),
            ]),
            ["volumes", "detail"] => pick(vec![(Method::GET, E::VolumeListDetail)]),
            ["volumes", "summary"] => pick(vec![(Method::GET, E::VolumeSummary)]),
            ["volumes", id] if !id.is_empty() => pick(vec![
                (Method::GET, E::VolumeShow(s(1))),
                (Method::PUT, E::VolumeUpdate(s(1))),
                (Method::DELETE, E::VolumeDelete(s(1))),
            ]),
            ["volumes", id, "action"] if !id.is_empty() => {
                pick(vec![(Method::POST, E::VolumeAction(s(1), String::new()))])
            }
            ["volumes", id, "metadata"] if !id.is_empty() => pick(vec![
                (Method::GET, E::MetadataShow(s(1))),
                (Method::POST, E::MetadataMerge(s(1))),
                (Method::PUT, E::MetadataReplace(s(1))),
            ]),
            ["volumes", id, "metadata", key] if !id.is_empty() && !key.is_empty() => pick(vec![
                (Method::GET, E::MetadataKeyShow(s(1), s(3))),
                (Method::PUT, E::MetadataKeyUpdate(s(1), s(3))),
                (Method::DELETE, E::MetadataKeyDelete(s(1), s(3))),
            ]),
            ["types"] => pick(vec![
                (Method::GET, E::TypeList),
                (Method::POST, E::TypeCreate),
            ]),
            ["types", "default"] => pick(vec![(Method::GET, E::TypeDefault)]),
            ["types", id] if !id.is_empty() => pick(vec![
                (Method::GET, E::TypeShow(s(1))),
                (Method::PUT, E::TypeUpdate(s(1))),
                (Method::DELETE, E::TypeDelete(s(1))),
            ]),
            ["types", id, "extra_specs"] => pick(vec![
                (Method::GET, E::TypeExtraSpecsShow(id.to_string())),
                (Method::POST, E::TypeExtraSpecsCreate(id.to_string())),
            ]),
            ["types", id, "extra_specs", key] if !key.is_empty() => pick(vec![
                (
                    Method::GET,
                    E::TypeExtraSpecShow(id.to_string(), key.to_string()),
                ),
                (
                    Method::PUT,
                    E::TypeExtraSpecUpdate(id.to_string(), key.to_string()),
                ),
                (
                    Method::DELETE,
                    E::TypeExtraSpecDelete(id.to_string(), key.to_string()),
                ),
            ]),
            ["types", id, "os-volume-type-access"] => {
                pick(vec![(Method::GET, E::TypeAccessList(id.to_string()))])
            }
            ["types", id, "action"] => pick(vec![(Method::POST, E::TypeAction(id.to_string()))]),
            ["attachments"] => pick(vec![
                (Method::GET, E::AttachmentList),
                (Method::POST, E::AttachmentCreate),
            ]),
            ["attachments", "detail"] => pick(vec![(Method::GET, E::AttachmentListDetail)]),
            ["attachments", id] if !id.is_empty() => pick(vec![
                (Method::GET, E::AttachmentShow(s(1))),
                (Method::PUT, E::AttachmentUpdate(s(1))),
                (Method::DELETE, E::AttachmentDelete(s(1))),
            ]),
            ["attachments", id, "action"] => {
                pick(vec![(Method::POST, E::AttachmentAction(id.to_string()))])
            }
            ["limits"] => pick(vec![(Method::GET, E::Limits)]),
            ["os-quota-sets", pid] if !pid.is_empty() => pick(vec![
                (Method::GET, E::QuotaShow(s(1))),
                (Method::PUT, E::QuotaUpdate(s(1))),
                (Method::DELETE, E::QuotaDelete(s(1))),
            ]),
            ["os-quota-sets", pid, "defaults"] => {
                pick(vec![(Method::GET, E::QuotaDefaults(pid.to_string()))])
            }
            ["os-availability-zone"] => pick(vec![(Method::GET, E::AvailabilityZones)]),
            ["extensions"] => pick(vec![(Method::GET, E::Extensions)]),
            ["types", id, "encryption"] => pick(vec![
                (Method::GET, E::EncryptionShow(id.to_string())),
                (Method::POST, E::EncryptionCreate(id.to_string())),
            ]),
            ["types", id, "encryption", key] if !key.is_empty() => pick(vec![
                (
                    Method::GET,
                    E::EncryptionShowKey(id.to_string(), key.to_string()),
                ),
                (
                    Method::PUT,
                    E::EncryptionUpdate(id.to_string(), key.to_string()),
                ),
                (
                    Method::DELETE,
                    E::EncryptionDelete(id.to_string(), key.to_string()),
                ),
            ]),
            ["group_types"] => pick(vec![
                (Method::GET, E::GroupTypeList),
                (Method::POST, E::GroupTypeCreate),
            ]),
            ["group_types", "default"] => pick(vec![(Method::GET, E::GroupTypeDefault)]),
            ["group_types", id] if !id.is_empty() => pick(vec![
                (Method::GET, E::GroupTypeShow(s(1))),
                (Method::PUT, E::GroupTypeUpdate(s(1))),
                (Method::DELETE, E::GroupTypeDelete(s(1))),
            ]),
            ["group_types", id, "group_specs"] => pick(vec![
                (Method::GET, E::GroupSpecsList(id.to_string())),
                (Method::POST, E::GroupSpecsCreate(id.to_string())),
            ]),
            ["group_types", id, "group_specs", key] if !key.is_empty() => pick(vec![
                (
                    Method::GET,
                    E::GroupSpecShow(id.to_string(), key.to_string()),
                ),
                (
                    Method::PUT,
                    E::GroupSpecUpdate(id.to_string(), key.to_string()),
                ),
                (
                    Method::DELETE,
                    E::GroupSpecDelete(id.to_string(), key.to_string()),
                ),
            ]),
            ["groups"] => pick(vec![
                (Method::GET, E::GroupList),
                (Method::POST, E::GroupCreate),
            ]),
            ["groups", "detail"] => pick(vec![(Method::GET, E::GroupListDetail)]),
            ["groups", "action"] => pick(vec![(Method::POST, E::GroupCreateFromSrc)]),
            ["groups", id] if !id.is_empty() => pick(vec![
                (Method::GET, E::GroupShow(s(1))),
                (Method::PUT, E::GroupUpdate(s(1))),
            ]),
            ["groups", id, "action"] => pick(vec![(Method::POST, E::GroupAction(id.to_string()))]),
            ["os-services"] => pick(vec![(Method::GET, E::ServiceList)]),
            ["os-services", "enable"] => pick(vec![(Method::PUT, E::ServiceEnable)]),
            ["os-services", "disable"] => pick(vec![(Method::PUT, E::ServiceDisable)]),
            ["os-services", "disable-log-reason"] => {
                pick(vec![(Method::PUT, E::ServiceDisableLogReason)])
            }
            ["os-services", "freeze"] => pick(vec![(Method::PUT, E::ServiceFreeze)]),
            ["os-services", "thaw"] => pick(vec![(Method::PUT, E::ServiceThaw)]),
            ["os-services", action] if !action.is_empty() => {
                pick(vec![(Method::PUT, E::ServiceUpdate(s(1)))])
            }
            ["qos-specs"] => pick(vec![
                (Method::GET, E::QosList),
                (Method::POST, E::QosCreate),
            ]),
            ["qos-specs", id] if !id.is_empty() => pick(vec![
                (Method::GET, E::QosShow(s(1))),
                (Method::PUT, E::QosSetKeys(s(1))),
                (Method::DELETE, E::QosDelete(s(1))),
            ]),
            ["qos-specs", id, "delete_keys"] => {
                pick(vec![(Method::PUT, E::QosUnsetKeys(id.to_string()))])
            }
            ["qos-specs", id, "associations"] => {
                pick(vec![(Method::GET, E::QosAssociations(id.to_string()))])
            }
            ["qos-specs", id, "associate"] => {
                pick(vec![(Method::GET, E::QosAssociate(id.to_string()))])
            }
            ["qos-specs", id, "disassociate"] => {
                pick(vec![(Method::GET, E::QosDisassociate(id.to_string()))])
            }
            ["qos-specs", id, "disassociate_all"] => {
                pick(vec![(Method::GET, E::QosDisassociateAll(id.to_string()))])
            }
            ["scheduler-stats", "get_pools"] => pick(vec![(Method::GET, E::PoolList)]),
            ["capabilities", host] if !host.is_empty() => {
                pick(vec![(Method::GET, E::Capabilities(s(1)))])
            }
            ["os-hosts"] => pick(vec![(Method::GET, E::HostList)]),
            ["os-hosts", host] if !host.is_empty() => pick(vec![(Method::GET, E::HostShow(s(1)))]),
            ["os-volume-transfer"] => pick(vec![
                (Method::GET, E::TransferList),
                (Method::POST, E::TransferCreate),
            ]),
            ["os-volume-transfer", "detail"] => pick(vec![(Method::GET, E::TransferListDetail)]),
            ["os-volume-transfer", id] if !id.is_empty() => pick(vec![
                (Method::GET, E::TransferShow(s(1))),
                (Method::DELETE, E::TransferDelete(s(1))),
            ]),
            ["os-volume-transfer", id, "accept"] => {
                pick(vec![(Method::POST, E::TransferAccept(id.to_string()))])
            }
            ["volume-transfers"] => pick(vec![
                (Method::GET, E::VolumeTransferList),
                (Method::POST, E::VolumeTransferCreate),
            ]),
            ["volume-transfers", "detail"] => {
                pick(vec![(Method::GET, E::VolumeTransferListDetail)])
            }
            ["volume-transfers", id] if !id.is_empty() => pick(vec![
                (Method::GET, E::VolumeTransferShow(s(1))),
                (Method::DELETE, E::VolumeTransferDelete(s(1))),
            ]),
            ["volume-transfers", id, "accept"] => pick(vec![(
                Method::POST,
                E::VolumeTransferAccept(id.to_string()),
            )]),
            ["messages"] => pick(vec![(Method::GET, E::MessageList)]),
            ["messages", id] if !id.is_empty() => pick(vec![
                (Method::GET, E::MessageShow(s(1))),
                (Method::DELETE, E::MessageDelete(s(1))),
            ]),
            ["group_snapshots"] => pick(vec![
                (Method::GET, E::GroupSnapshotList),
                (Method::POST, E::GroupSnapshotCreate),
            ]),
            ["group_snapshots", "detail"] => pick(vec![(Method::GET, E::GroupSnapshotListDetail)]),
            ["group_snapshots", id] if !id.is_empty() => pick(vec![
                (Method::GET, E::GroupSnapshotShow(s(1))),
                (Method::DELETE, E::GroupSnapshotDelete(s(1))),
            ]),
            ["group_snapshots", id, "action"] if !id.is_empty() => {
                pick(vec![(Method::POST, E::GroupSnapshotAction(s(1)))])
            }
            ["os-quota-class-sets", class] if !class.is_empty() => pick(vec![
                (Method::GET, E::QuotaClassShow(s(1))),
                (Method::PUT, E::QuotaClassUpdate(s(1))),
            ]),
            ["backups"] => pick(vec![
                (Method::GET, E::BackupList),
                (Method::POST, E::BackupCreate),
            ]),
            ["backups", "detail"] => pick(vec![(Method::GET, E::BackupListDetail)]),
            ["backups", "import_record"] => pick(vec![(Method::POST, E::BackupImport)]),
            ["backups", id] if !id.is_empty() => pick(vec![
                (Method::GET, E::BackupShow(s(1))),
                (Method::PUT, E::BackupUpdate(s(1))),
                (Method::DELETE, E::BackupDelete(s(1))),
            ]),
            ["backups", id, "restore"] if !id.is_empty() => {
                pick(vec![(Method::POST, E::BackupRestore(s(1)))])
            }
            ["backups", id, "action"] if !id.is_empty() => {
                pick(vec![(Method::POST, E::BackupAction(s(1)))])
            }
            ["backups", id, "export_record"] if !id.is_empty() => {
                pick(vec![(Method::GET, E::BackupExport(s(1)))])
            }
            ["snapshots"] => pick(vec![
                (Method::GET, E::SnapshotList),
                (Method::POST, E::SnapshotCreate),
            ]),
            ["snapshots", "detail"] => pick(vec![(Method::GET, E::SnapshotListDetail)]),
            ["snapshots", id] if !id.is_empty() => pick(vec![
                (Method::GET, E::SnapshotShow(s(1))),
                (Method::PUT, E::SnapshotUpdate(s(1))),
                (Method::DELETE, E::SnapshotDelete(s(1))),
            ]),
            ["snapshots", id, "action"] if !id.is_empty() => {
                pick(vec![(Method::POST, E::SnapshotAction(s(1)))])
            }
            ["snapshots", id, "metadata"] if !id.is_empty() => pick(vec![
                (Method::GET, E::SnapshotMetadataShow(s(1))),
                (Method::POST, E::SnapshotMetadataMerge(s(1))),
                (Method::PUT, E::SnapshotMetadataReplace(s(1))),
            ]),
            ["snapshots", id, "metadata", key] if !id.is_empty() && !key.is_empty() => pick(vec![
                (Method::GET, E::SnapshotMetadataKeyShow(s(1), s(3))),
                (Method::PUT, E::SnapshotMetadataKeyUpdate(s(1), s(3))),
                (Method::DELETE, E::SnapshotMetadataKeyDelete(s(1), s(3))),
            ]),
            ["default-types"] => pick(vec![(Method::GET, E::DefaultTypeList)]),
            ["default-types", pid] if !pid.is_empty() => pick(vec![
                (Method::PUT, E::DefaultTypeSet(s(1))),
                (Method::GET, E::DefaultTypeShow(s(1))),
                (Method::DELETE, E::DefaultTypeUnset(s(1))),
            ]),
            ["resource_filters"] => pick(vec![(Method::GET, E::ResourceFilters)]),
            _ => Err(not_found()),
        }
    }

    /// The smallest microversion that has this endpoint; below it Cinder says 404.
    pub fn min_minor(&self) -> u16 {
        self.entry().min_minor
    }

    /// A stable name for the operation, e.g. `volume.create`, `volume.action.os-extend`.
    pub fn operation(&self) -> String {
        match self {
            Endpoint::VolumeAction(_, action) => format!("volume.action.{action}"),
            other => other.entry().operation.to_string(),
        }
    }

    /// The volume this request is about, when the URL names one.
    pub fn volume_id(&self) -> Option<&str> {
        use Endpoint as E;
        match self {
            E::VolumeShow(id)
            | E::VolumeUpdate(id)
            | E::VolumeDelete(id)
            | E::VolumeAction(id, _)
            | E::MetadataShow(id)
            | E::MetadataMerge(id)
            | E::MetadataReplace(id)
            | E::MetadataKeyShow(id, _)
            | E::MetadataKeyUpdate(id, _)
            | E::MetadataKeyDelete(id, _) => Some(id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(method: Method, path: &str, expected: Result<&str, u16>) {
        let seg: Vec<&str> = if path.is_empty() {
            vec![]
        } else {
            path.split('/').collect()
        };
        let got = Endpoint::parse(&method, &seg)
            .map(|e| e.operation())
            .map_err(|e| e.status().as_u16());
        assert_eq!(got.as_deref().map_err(|c| *c), expected, "{method} {path}");
    }

    /// Every row of the catalogue is reached by its own method and path, and yields
    /// itself: the parser and the table agree.
    #[test]
    fn every_catalogue_row_parses_to_itself() {
        for row in CATALOGUE {
            let path = row
                .path
                .split('/')
                .map(|s| if s.starts_with('{') { "x1" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let seg: Vec<&str> = if path.is_empty() {
                vec![]
            } else {
                path.split('/').collect()
            };
            let method = Method::from_bytes(row.method.as_bytes()).unwrap();
            let e = Endpoint::parse(&method, &seg).expect(row.path);
            assert_eq!(e.entry(), row, "{} {}", row.method, row.path);
        }
    }

    #[test]
    fn routes_table() {
        check(Method::GET, "", Ok("versions.show"));
        check(Method::GET, "volumes", Ok("volume.list"));
        check(Method::POST, "volumes", Ok("volume.create"));
        check(Method::GET, "volumes/detail", Ok("volume.list_detail"));
        check(Method::GET, "volumes/abc", Ok("volume.show"));
        check(Method::PATCH, "volumes/abc", Err(405));
        check(Method::GET, "volumes/", Err(404));
        check(Method::DELETE, "volumes/", Err(404));
        check(Method::POST, "volumes/abc/action", Ok("volume.action."));
        check(
            Method::PUT,
            "volumes/abc/metadata/k",
            Ok("volume.metadata.update_key"),
        );
        check(Method::GET, "types/default", Ok("type.default"));
        check(
            Method::POST,
            "attachments/x/action",
            Ok("attachment.complete"),
        );
        check(
            Method::GET,
            "os-quota-sets/p/defaults",
            Ok("quota.defaults"),
        );
        check(Method::PUT, "os-services/freeze", Ok("service.freeze"));
        check(Method::PUT, "os-services/other", Ok("service.update"));
        check(Method::GET, "qos-specs/q/associate", Ok("qos.associate"));
        check(
            Method::POST,
            "volume-transfers/t/accept",
            Ok("volume_transfer.accept"),
        );
        check(
            Method::GET,
            "os-volume-transfer/detail",
            Ok("transfer.list_detail"),
        );
        check(Method::DELETE, "messages/m", Ok("message.delete"));
        check(Method::GET, "snapshots/detail", Ok("snapshot.list_detail"));
        check(Method::POST, "snapshots/s/action", Ok("snapshot.action"));
        check(
            Method::DELETE,
            "snapshots/s/metadata/k",
            Ok("snapshot.metadata.delete_key"),
        );
        check(Method::PATCH, "snapshots/s", Err(405));
        check(Method::PUT, "default-types/p", Ok("default_type.set"));
        check(Method::POST, "default-types", Err(405));
        check(Method::GET, "resource_filters", Ok("resource_filter.list"));
        check(Method::POST, "os-hosts", Err(405));
        check(Method::GET, "nothing/here", Err(404));
        check(Method::GET, "volumes/a/b/c/d", Err(404));
    }
}
