//! Every Cinder request is first turned into an [`Endpoint`]: one variant per
//! operation, with a stable operation name (used by fault rules and the request log)
//! and the microversion it needs.

use axum::http::Method;

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Versions,
    VolumeList,
    VolumeListDetail,
    VolumeCreate,
    VolumeSummary,
    VolumeShow(String),
    VolumeUpdate(String),
    VolumeDelete(String),
    /// `POST /volumes/{id}/action`; the action name comes from the body.
    VolumeAction(String, String),
    MetadataShow(String),
    MetadataMerge(String),
    MetadataReplace(String),
    MetadataKeyShow(String, String),
    MetadataKeyUpdate(String, String),
    MetadataKeyDelete(String, String),
    TypeList,
    TypeCreate,
    TypeDefault,
    TypeShow(String),
    TypeUpdate(String),
    TypeDelete(String),
    TypeExtraSpecsShow(String),
    TypeExtraSpecsCreate(String),
    TypeExtraSpecShow(String, String),
    TypeExtraSpecUpdate(String, String),
    TypeExtraSpecDelete(String, String),
    TypeAccessList(String),
    TypeAction(String),
    AttachmentList,
    AttachmentListDetail,
    AttachmentCreate,
    AttachmentShow(String),
    AttachmentUpdate(String),
    AttachmentDelete(String),
    AttachmentAction(String),
    Limits,
    QuotaShow(String),
    QuotaDefaults(String),
    QuotaUpdate(String),
    QuotaDelete(String),
    AvailabilityZones,
    Extensions,
    ServiceList,
    /// `PUT /os-services/{enable|disable|disable-log-reason|freeze|thaw}`.
    ServiceUpdate(String),
    QosList,
    QosCreate,
    QosShow(String),
    QosSetKeys(String),
    QosDelete(String),
    QosUnsetKeys(String),
    QosAssociations(String),
    QosAssociate(String),
    QosDisassociate(String),
    QosDisassociateAll(String),
    PoolList,
    Capabilities(String),
    HostList,
    HostShow(String),
    /// Volume transfers; `true` for the 3.55 `/volume-transfers` API.
    TransferList(bool),
    TransferListDetail(bool),
    TransferCreate(bool),
    TransferShow(bool, String),
    TransferDelete(bool, String),
    TransferAccept(bool, String),
    MessageList,
    MessageShow(String),
    MessageDelete(String),
}

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
    "qos-specs",
    "scheduler-stats",
    "capabilities",
    "os-hosts",
    "os-volume-transfer",
    "volume-transfers",
    "messages",
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
            ["os-services"] => pick(vec![(Method::GET, E::ServiceList)]),
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
            [c @ ("os-volume-transfer" | "volume-transfers")] => {
                let new = *c == "volume-transfers";
                pick(vec![
                    (Method::GET, E::TransferList(new)),
                    (Method::POST, E::TransferCreate(new)),
                ])
            }
            [c @ ("os-volume-transfer" | "volume-transfers"), "detail"] => pick(vec![(
                Method::GET,
                E::TransferListDetail(*c == "volume-transfers"),
            )]),
            [c @ ("os-volume-transfer" | "volume-transfers"), id] if !id.is_empty() => {
                let new = *c == "volume-transfers";
                pick(vec![
                    (Method::GET, E::TransferShow(new, s(1))),
                    (Method::DELETE, E::TransferDelete(new, s(1))),
                ])
            }
            [c @ ("os-volume-transfer" | "volume-transfers"), id, "accept"] => pick(vec![(
                Method::POST,
                E::TransferAccept(*c == "volume-transfers", id.to_string()),
            )]),
            ["messages"] => pick(vec![(Method::GET, E::MessageList)]),
            ["messages", id] if !id.is_empty() => pick(vec![
                (Method::GET, E::MessageShow(s(1))),
                (Method::DELETE, E::MessageDelete(s(1))),
            ]),
            _ => Err(not_found()),
        }
    }

    /// The smallest microversion that has this endpoint; below it Cinder says 404.
    pub fn min_minor(&self) -> u16 {
        use Endpoint as E;
        match self {
            E::AttachmentList
            | E::AttachmentListDetail
            | E::AttachmentCreate
            | E::AttachmentShow(_)
            | E::AttachmentUpdate(_)
            | E::AttachmentDelete(_) => 27,
            E::AttachmentAction(_) => 44,
            E::VolumeSummary => 12,
            E::MessageList | E::MessageShow(_) | E::MessageDelete(_) => 3,
            E::TransferList(true)
            | E::TransferListDetail(true)
            | E::TransferCreate(true)
            | E::TransferShow(true, _)
            | E::TransferDelete(true, _)
            | E::TransferAccept(true, _) => 55,
            _ => 0,
        }
    }

    /// A stable name for the operation, e.g. `volume.create`, `volume.action.os-extend`.
    pub fn operation(&self) -> String {
        use Endpoint as E;
        let s = match self {
            E::Versions => "versions.show",
            E::VolumeList => "volume.list",
            E::VolumeListDetail => "volume.list_detail",
            E::VolumeCreate => "volume.create",
            E::VolumeSummary => "volume.summary",
            E::VolumeShow(_) => "volume.show",
            E::VolumeUpdate(_) => "volume.update",
            E::VolumeDelete(_) => "volume.delete",
            E::VolumeAction(_, action) => return format!("volume.action.{action}"),
            E::MetadataShow(_) => "volume.metadata.show",
            E::MetadataMerge(_) => "volume.metadata.create",
            E::MetadataReplace(_) => "volume.metadata.replace",
            E::MetadataKeyShow(..) => "volume.metadata.show_key",
            E::MetadataKeyUpdate(..) => "volume.metadata.update_key",
            E::MetadataKeyDelete(..) => "volume.metadata.delete_key",
            E::TypeList => "type.list",
            E::TypeCreate => "type.create",
            E::TypeDefault => "type.default",
            E::TypeShow(_) => "type.show",
            E::TypeUpdate(_) => "type.update",
            E::TypeDelete(_) => "type.delete",
            E::TypeExtraSpecsShow(_) => "type.extra_specs.show",
            E::TypeExtraSpecsCreate(_) => "type.extra_specs.create",
            E::TypeExtraSpecShow(..) => "type.extra_specs.show_key",
            E::TypeExtraSpecUpdate(..) => "type.extra_specs.update_key",
            E::TypeExtraSpecDelete(..) => "type.extra_specs.delete_key",
            E::TypeAccessList(_) => "type.access.list",
            E::TypeAction(_) => "type.action",
            E::AttachmentList => "attachment.list",
            E::AttachmentListDetail => "attachment.list_detail",
            E::AttachmentCreate => "attachment.create",
            E::AttachmentShow(_) => "attachment.show",
            E::AttachmentUpdate(_) => "attachment.update",
            E::AttachmentDelete(_) => "attachment.delete",
            E::AttachmentAction(_) => "attachment.complete",
            E::Limits => "limits.show",
            E::QuotaShow(_) => "quota.show",
            E::QuotaDefaults(_) => "quota.defaults",
            E::QuotaUpdate(_) => "quota.update",
            E::QuotaDelete(_) => "quota.delete",
            E::AvailabilityZones => "availability_zone.list",
            E::Extensions => "extension.list",
            E::ServiceList => "service.list",
            E::ServiceUpdate(action) => match action.as_str() {
                "enable" => "service.enable",
                "disable" => "service.disable",
                "disable-log-reason" => "service.disable-log-reason",
                "freeze" => "service.freeze",
                "thaw" => "service.thaw",
                _ => "service.update",
            },
            E::QosList => "qos.list",
            E::QosCreate => "qos.create",
            E::QosShow(_) => "qos.show",
            E::QosSetKeys(_) => "qos.set_keys",
            E::QosDelete(_) => "qos.delete",
            E::QosUnsetKeys(_) => "qos.unset_keys",
            E::QosAssociations(_) => "qos.associations",
            E::QosAssociate(_) => "qos.associate",
            E::QosDisassociate(_) => "qos.disassociate",
            E::QosDisassociateAll(_) => "qos.disassociate_all",
            E::PoolList => "pool.list",
            E::Capabilities(_) => "capabilities.show",
            E::HostList => "host.list",
            E::HostShow(_) => "host.show",
            E::TransferList(_) => "transfer.list",
            E::TransferListDetail(_) => "transfer.list_detail",
            E::TransferCreate(_) => "transfer.create",
            E::TransferShow(..) => "transfer.show",
            E::TransferDelete(..) => "transfer.delete",
            E::TransferAccept(..) => "transfer.accept",
            E::MessageList => "message.list",
            E::MessageShow(_) => "message.show",
            E::MessageDelete(_) => "message.delete",
        };
        s.to_string()
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
        check(Method::GET, "qos-specs/q/associate", Ok("qos.associate"));
        check(Method::PUT, "qos-specs/q/delete_keys", Ok("qos.unset_keys"));
        check(Method::GET, "scheduler-stats/get_pools", Ok("pool.list"));
        check(
            Method::POST,
            "volume-transfers/t/accept",
            Ok("transfer.accept"),
        );
        check(
            Method::POST,
            "os-volume-transfer/t/accept",
            Ok("transfer.accept"),
        );
        check(
            Method::GET,
            "os-volume-transfer/detail",
            Ok("transfer.list_detail"),
        );
        check(Method::DELETE, "messages/m", Ok("message.delete"));
        check(Method::POST, "os-hosts", Err(405));
        check(Method::GET, "nothing/here", Err(404));
        check(Method::GET, "volumes/a/b/c/d", Err(404));
    }
}
