//! Wire shapes, kept apart from domain records: which keys appear at which
//! microversion and for whom, as the recorded Cinder 29 responses show.

use serde::Serialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::Req;
use crate::timefmt;
use crate::volume::model::{Attachment, Volume, VolumeType};
use crate::volume::status::AttachStatus;
use crate::volume::store::State;

/// Where a volume is shown: show/detail carry the `os-vol-*` keys, create/update don't.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeView {
    Detail,
    CreateOrUpdate,
}

pub fn links(req: &Req, collection: &str, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{}/{collection}/{id}", req.self_base())},
        {"rel": "bookmark", "href": format!("{}/{collection}/{id}", req.bookmark_base())},
    ])
}

/// Cinder's detail view of a volume.
pub fn volume(req: &Req, state: &State, v: &Volume, view: VolumeView) -> Value {
    let admin = req.caller.is_admin;
    let mv = req.mv;
    let vtype = state.types.get(&v.volume_type_id);
    let mut metadata: Map<String, Value> = v
        .metadata
        .iter()
        .map(|(k, val)| (k.clone(), json!(val)))
        .collect();
    for (k, val) in &v.admin_metadata {
        metadata.insert(k.clone(), json!(val));
    }
    let attachments: Vec<Value> = state
        .attachments_of(v.id)
        .filter(|a| a.status == AttachStatus::Attached)
        .map(|a| {
            let mut e = json!({
                "id": v.id.to_string(),
                "attachment_id": a.id.to_string(),
                "volume_id": v.id.to_string(),
                "server_id": a.instance_uuid.map(|u| u.to_string()),
                "device": a.mountpoint.clone().unwrap_or_else(|| "na".into()),
                "attached_at": a.attached_at.map(timefmt::cinder),
            });
            if admin {
                e["host_name"] = json!(a.host_name);
            }
            e
        })
        .collect();
    let mut o = json!({
        "id": v.id.to_string(),
        "status": v.status.as_str(),
        "size": v.size_gb,
        "availability_zone": v.availability_zone,
        "created_at": timefmt::cinder(v.created_at),
        "updated_at": v.updated_at.map(timefmt::cinder),
        "name": v.name,
        "description": v.description,
        "volume_type": vtype.map(|t| t.name.clone()),
        "snapshot_id": null,
        "source_volid": null,
        "metadata": metadata,
        "links": links(req, "volumes", &v.id.to_string()),
        "user_id": v.user_id,
        "bootable": if v.bootable { "true" } else { "false" },
        "encrypted": false,
        "replication_status": null,
        "consistencygroup_id": null,
        "multiattach": v.multiattach,
        "attachments": attachments,
    });
    if admin {
        o["migration_status"] = json!(v.migration_status);
    }
    if mv.at_least(13) {
        o["group_id"] = Value::Null;
    }
    if mv.at_least(21) && admin {
        o["provider_id"] = Value::Null;
    }
    if mv.at_least(48) {
        o["shared_targets"] = json!(false);
        o["service_uuid"] =
            json!(crate::config::derived_type_id("cinder-volume-service").to_string());
    }
    if mv.at_least(61) && admin {
        o["cluster_name"] = Value::Null;
    }
    if mv.at_least(63) {
        o["volume_type_id"] = json!(v.volume_type_id.to_string());
    }
    if mv.at_least(65) {
        o["consumes_quota"] = json!(true);
    }
    if view == VolumeView::Detail {
        o["os-vol-tenant-attr:tenant_id"] = json!(v.project_id);
        if admin {
            o["os-vol-mig-status-attr:migstat"] = json!(v.migration_status);
            o["os-vol-mig-status-attr:name_id"] = Value::Null;
            o["os-vol-host-attr:host"] = json!("cinderbox@local#local");
        }
    }
    o
}

/// One of a resource's `links`.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub rel: &'static str,
    pub href: String,
}

/// `{id, name, links}`, the plain list entry: typed, borrowing the stored volume, so a
/// list of a thousand is serialized straight to bytes with no `Value` tree and no
/// per-entry strings in between.
#[derive(Serialize)]
pub struct VolumeSummary<'a> {
    pub id: &'a Uuid,
    pub name: &'a Option<String>,
    pub links: [LinkRef<'a>; 2],
}

/// A link whose `href` is written as it is serialized.
#[derive(Serialize)]
pub struct LinkRef<'a> {
    pub rel: &'static str,
    pub href: Href<'a>,
}

/// `{base}/{collection}/{id}`, formatted into the output.
pub struct Href<'a> {
    base: &'a str,
    collection: &'static str,
    id: &'a Uuid,
}

impl Serialize for Href<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!(
            "{}/{}/{}",
            self.base, self.collection, self.id
        ))
    }
}

/// The self and bookmark bases of a request's links, computed once per list.
pub struct LinkBases {
    self_base: String,
    bookmark_base: String,
}

impl LinkBases {
    pub fn of(req: &Req) -> LinkBases {
        LinkBases {
            self_base: req.self_base(),
            bookmark_base: req.bookmark_base(),
        }
    }

    pub fn links<'a>(&'a self, collection: &'static str, id: &'a Uuid) -> [LinkRef<'a>; 2] {
        [
            LinkRef {
                rel: "self",
                href: Href {
                    base: &self.self_base,
                    collection,
                    id,
                },
            },
            LinkRef {
                rel: "bookmark",
                href: Href {
                    base: &self.bookmark_base,
                    collection,
                    id,
                },
            },
        ]
    }
}

pub fn volume_summary<'a>(bases: &'a LinkBases, v: &'a Volume) -> VolumeSummary<'a> {
    VolumeSummary {
        id: &v.id,
        name: &v.name,
        links: bases.links("volumes", &v.id),
    }
}

/// Extra specs a non-admin may see.
const USER_VISIBLE_SPECS: &[&str] = &[
    "multiattach",
    "replication_enabled",
    "RESKEY:availability_zones",
];

/// A volume type; `with_access_key` adds `os-volume-type-access:is_public` (not on update).
pub fn volume_type(req: &Req, t: &VolumeType, with_access_key: bool) -> Value {
    let admin = req.caller.is_admin;
    let specs: Map<String, Value> = t
        .extra_specs
        .iter()
        .filter(|(k, _)| admin || USER_VISIBLE_SPECS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let mut o = json!({
        "id": t.id.to_string(),
        "name": t.name,
        "is_public": t.is_public,
        "description": t.description,
        "extra_specs": specs,
    });
    if admin {
        o["qos_specs_id"] = Value::Null;
    }
    if with_access_key {
        o["os-volume-type-access:is_public"] = json!(t.is_public);
    }
    o
}

/// The attachment view; `connection_info` is flat, as the attachments API returns it.
pub fn attachment(a: &Attachment, connection_info: Value, detail: bool) -> Value {
    let mut o = json!({
        "id": a.id.to_string(),
        "status": a.status.as_str(),
        "instance": a.instance_uuid.map(|u| u.to_string()),
        "volume_id": a.volume_id.to_string(),
    });
    if detail {
        o["attached_at"] = json!(a.attached_at.map(timefmt::cinder).unwrap_or_default());
        o["detached_at"] = json!("");
        o["attach_mode"] = json!(a.attach_mode.clone().unwrap_or_else(|| "null".into()));
        o["connection_info"] = connection_info;
    }
    o
}

/// A JSON value as Python would print it in a validation message.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(py_quoted).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("'{k}': {}", py_quoted(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Like [`py_repr`], with strings quoted (`'abc'`), as inside a container.
pub fn py_quoted(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => py_repr(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_reprs() {
        assert_eq!(py_repr(&json!(null)), "None");
        assert_eq!(py_repr(&json!("xx")), "xx");
        assert_eq!(py_quoted(&json!("xx")), "'xx'");
        assert_eq!(py_repr(&json!([1, "a", true])), "[1, 'a', True]");
        assert_eq!(py_repr(&json!({"a": "b"})), "{'a': 'b'}");
    }
}
