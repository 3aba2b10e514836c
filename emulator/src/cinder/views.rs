//! Wire shapes, kept apart from domain records: which keys appear at which
//! microversion and for whom, as the recorded Cinder 29 responses show.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::Req;
use crate::error::ApiError;
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

/// Cinder's detail view of a volume: typed and borrowing the stored records, so a show
/// or a detail page is serialized straight to bytes. A key that appears only at some
/// microversions or for admins is an `Option` left out when `None`; `()` is JSON `null`.
#[derive(Serialize)]
pub struct VolumeDetail<'a> {
    id: &'a Uuid,
    status: &'static str,
    size: u64,
    availability_zone: &'a str,
    created_at: String,
    updated_at: Option<String>,
    name: &'a Option<String>,
    description: &'a Option<String>,
    volume_type: Option<&'a str>,
    snapshot_id: Option<Uuid>,
    source_volid: Option<Uuid>,
    metadata: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Links::is_deferred")]
    links: Links<'a>,
    user_id: &'a str,
    bootable: &'static str,
    encrypted: bool,
    replication_status: (),
    consistencygroup_id: (),
    multiattach: bool,
    attachments: Vec<AttachmentEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    migration_status: Option<&'a Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_id: Option<Option<Uuid>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_id: Option<()>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shared_targets: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_uuid: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_name: Option<()>,
    #[serde(skip_serializing_if = "Option::is_none")]
    volume_type_id: Option<&'a Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumes_quota: Option<bool>,
    #[serde(
        rename = "os-vol-tenant-attr:tenant_id",
        skip_serializing_if = "Option::is_none"
    )]
    tenant_id: Option<&'a str>,
    #[serde(
        rename = "os-vol-mig-status-attr:migstat",
        skip_serializing_if = "Option::is_none"
    )]
    migstat: Option<&'a Option<String>>,
    #[serde(
        rename = "os-vol-mig-status-attr:name_id",
        skip_serializing_if = "Option::is_none"
    )]
    name_id: Option<()>,
    #[serde(
        rename = "os-vol-host-attr:host",
        skip_serializing_if = "Option::is_none"
    )]
    host: Option<&'a Option<String>>,
}

/// One entry of a volume's `attachments` (attached ones only).
#[derive(Serialize)]
pub struct AttachmentEntry<'a> {
    id: &'a Uuid,
    attachment_id: &'a Uuid,
    volume_id: &'a Uuid,
    server_id: Option<Uuid>,
    device: &'a str,
    attached_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host_name: Option<&'a Option<String>>,
}

/// `{"volume": <detail view>}`.
#[derive(Serialize)]
pub struct VolumeBody<'a> {
    pub volume: VolumeDetail<'a>,
}

/// Cinder's detail view of a volume.
pub fn volume<'a>(
    req: &Req,
    bases: &'a LinkBases,
    state: &'a State,
    v: &'a Volume,
    view: VolumeView,
) -> VolumeDetail<'a> {
    let admin = req.caller.is_admin;
    let mv = req.mv;
    let detail = view == VolumeView::Detail;
    let metadata = v
        .metadata
        .iter()
        .chain(&v.admin_metadata)
        .map(|(k, val)| (k.as_str(), val.as_str()))
        .collect();
    let attachments = state
        .attachments_of(v.id)
        .filter(|a| a.status == AttachStatus::Attached)
        .map(|a| AttachmentEntry {
            id: &v.id,
            attachment_id: &a.id,
            volume_id: &v.id,
            server_id: a.instance_uuid,
            device: a.mountpoint.as_deref().unwrap_or("na"),
            attached_at: a.attached_at.map(timefmt::cinder),
            host_name: admin.then_some(&a.host_name),
        })
        .collect();
    VolumeDetail {
        id: &v.id,
        status: v.status.as_str(),
        size: v.size_gb,
        availability_zone: &v.availability_zone,
        created_at: timefmt::cinder(v.created_at),
        updated_at: v.updated_at.map(timefmt::cinder),
        name: &v.name,
        description: &v.description,
        volume_type: state.types.get(&v.volume_type_id).map(|t| t.name.as_str()),
        snapshot_id: v.snapshot_id,
        source_volid: v.source_volid,
        metadata,
        links: bases.links("volumes", &v.id),
        user_id: &v.user_id,
        bootable: if v.bootable { "true" } else { "false" },
        encrypted: state
            .record::<crate::volume::encryption::Encryption>(&v.volume_type_id.to_string())
            .is_some(),
        replication_status: (),
        consistencygroup_id: (),
        multiattach: v.multiattach,
        attachments,
        migration_status: admin.then_some(&v.migration_status),
        group_id: mv.at_least(13).then_some(v.group_id),
        provider_id: (mv.at_least(21) && admin).then_some(()),
        shared_targets: mv.at_least(48).then_some(false),
        service_uuid: mv
            .at_least(48)
            .then(|| crate::config::derived_type_id("cinder-volume-service")),
        cluster_name: (mv.at_least(61) && admin).then_some(()),
        volume_type_id: mv.at_least(63).then_some(&v.volume_type_id),
        consumes_quota: mv.at_least(65).then_some(true),
        tenant_id: detail.then_some(v.project_id.as_str()),
        migstat: (detail && admin).then_some(&v.migration_status),
        name_id: (detail && admin).then_some(()),
        host: (detail && admin).then_some(&v.host),
    }
}

/// A typed body serialized to JSON bytes (under the read that borrows its records).
pub fn to_json<T: Serialize>(body: &T) -> Result<Vec<u8>, ApiError> {
    to_json_sized(body, 1024)
}

/// [`to_json`] into a buffer of `capacity` bytes to start with (a long list's body is
/// then not copied as it grows).
pub fn to_json_sized<T: Serialize>(body: &T, capacity: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut out, body)
        .map_err(|e| ApiError::Internal(format!("render body: {e}")))?;
    Ok(out)
}

/// A `200 application/json` response of bytes from [`to_json`].
pub fn json_bytes(body: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
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
    #[serde(skip_serializing_if = "Links::is_deferred")]
    pub links: Links<'a>,
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

/// The self and bookmark bases of a request's links, computed once per list, and each
/// escaped once as JSON string contents.
pub struct LinkBases {
    self_base: String,
    bookmark_base: String,
    /// `[{"rel": "self", "href": "` + self base escaped: the links' JSON up to the id.
    self_prefix: String,
    /// `"}, {"rel": "bookmark", "href": "` + bookmark base escaped.
    bookmark_prefix: String,
    /// Entries leave their links out, for [`write_linked`] to append (list pages).
    deferred: bool,
}

/// A JSON string's contents, escaped (without the quotes).
fn escaped(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    quoted[1..quoted.len() - 1].to_string()
}

impl LinkBases {
    pub fn of(req: &Req) -> LinkBases {
        LinkBases::new(req.self_base(), req.bookmark_base())
    }

    fn new(self_base: String, bookmark_base: String) -> LinkBases {
        LinkBases {
            self_prefix: format!(r#"[{{"rel":"self","href":"{}/"#, escaped(&self_base)),
            bookmark_prefix: format!(
                r#""}},{{"rel":"bookmark","href":"{}/"#,
                escaped(&bookmark_base)
            ),
            self_base,
            bookmark_base,
            deferred: false,
        }
    }

    /// The bases of a list page written by [`write_linked`].
    pub fn for_list(req: &Req) -> LinkBases {
        LinkBases {
            deferred: true,
            ..LinkBases::of(req)
        }
    }

    #[cfg(test)]
    fn deferred(self) -> LinkBases {
        LinkBases {
            deferred: true,
            ..self
        }
    }

    pub fn links<'a>(&'a self, collection: &'static str, id: &'a Uuid) -> Links<'a> {
        Links {
            bases: self,
            collection,
            id,
        }
    }
}

/// A resource's `links`: `[{"rel": "self", "href": …}, {"rel": "bookmark", "href": …}]`.
/// A list writes one per entry, and they are most of its bytes, so they are written as
/// one raw JSON value assembled from the escaped bases (collection names and UUIDs need
/// no escaping) instead of two maps whose every string is escaped byte by byte.
pub struct Links<'a> {
    bases: &'a LinkBases,
    collection: &'static str,
    id: &'a Uuid,
}

impl Links<'_> {
    fn as_refs(&self) -> [LinkRef<'_>; 2] {
        let href = |base| Href {
            base,
            collection: self.collection,
            id: self.id,
        };
        [
            LinkRef {
                rel: "self",
                href: href(&self.bases.self_base),
            },
            LinkRef {
                rel: "bookmark",
                href: href(&self.bases.bookmark_base),
            },
        ]
    }
}

impl Links<'_> {
    /// Whether the entry holding these links leaves them to [`write_linked`].
    pub fn is_deferred(&self) -> bool {
        self.bases.deferred
    }

    /// The links as JSON, assembled from the escaped bases (collection names and UUIDs
    /// need no escaping).
    fn write_json(&self, json: &mut Vec<u8>) {
        let mut id = Uuid::encode_buffer();
        let id = self.id.hyphenated().encode_lower(&mut id);
        for p in [
            &self.bases.self_prefix,
            self.collection,
            "/",
            id,
            &self.bases.bookmark_prefix,
            self.collection,
            "/",
            id,
            r#""}]"#,
        ] {
            json.extend_from_slice(p.as_bytes());
        }
    }
}

impl Serialize for Links<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut json = Vec::with_capacity(256);
        self.write_json(&mut json);
        let json = std::str::from_utf8(&json).unwrap_or_default();
        match serde_json::from_str::<&serde_json::value::RawValue>(json) {
            Ok(raw) => raw.serialize(s),
            // Not reached (every piece is escaped or plain ASCII); the maps say the same.
            Err(_) => self.as_refs().serialize(s),
        }
    }
}

/// A list entry whose links [`write_linked`] appends.
pub trait Linked: Serialize {
    fn links(&self) -> &Links<'_>;
}

impl Linked for VolumeSummary<'_> {
    fn links(&self) -> &Links<'_> {
        &self.links
    }
}

impl Linked for VolumeDetail<'_> {
    fn links(&self) -> &Links<'_> {
        &self.links
    }
}

/// Writes `entries` as a JSON array, each entry serialized without its links and the
/// links appended as bytes. A single entry can carry its links through serde (a
/// [`serde_json::value::RawValue`], which is parsed to be checked); on a page of a
/// thousand that check was a third of the emulator's time, and these bytes need none.
pub fn write_linked<T: Linked>(out: &mut Vec<u8>, entries: &[T]) -> Result<(), ApiError> {
    out.push(b'[');
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let start = out.len();
        serde_json::to_writer(&mut *out, e)
            .map_err(|e| ApiError::Internal(format!("render body: {e}")))?;
        // A struct ends in `}`; reopen it for one more key.
        if out.pop() != Some(b'}') {
            return Err(ApiError::Internal(
                "render body: an entry is not an object".into(),
            ));
        }
        if out.len() > start + 1 {
            out.push(b',');
        }
        out.extend_from_slice(br#""links":"#);
        e.links().write_json(out);
        out.push(b'}');
    }
    out.push(b']');
    Ok(())
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
/// Which response a volume type is rendered for: Cinder 29 builds them differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeView {
    /// `GET /types`, `GET /types/{id}`: the v3 view (with `qos_specs_id` for admins)
    /// plus the type-access extension's `os-volume-type-access:is_public`.
    Show,
    /// `GET /types/default`: the v3 view, which the type-access extension leaves alone.
    Default,
    /// `POST /types`: the legacy view plus the type-access key; no `qos_specs_id`.
    Create,
    /// `PUT /types/{id}`: the legacy view only.
    Update,
}

pub fn volume_type(req: &Req, t: &VolumeType, view: TypeView) -> Value {
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
    let (qos, access_key) = match view {
        TypeView::Show => (true, true),
        TypeView::Default => (true, false),
        TypeView::Create => (false, true),
        TypeView::Update => (false, false),
    };
    if admin && qos {
        o["qos_specs_id"] = json!(t.qos_specs_id.map(|q| q.to_string()));
    }
    if access_key {
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

    /// A list page's links, appended as bytes, are what serde writes for one entry.
    #[test]
    fn appended_links_match_the_serialized_ones() {
        let bases = LinkBases::new(
            "http://h:1/volume/v3/p\"q".into(),
            "http://h:1/volume/p\"q".into(),
        );
        let list_bases = LinkBases::new(
            "http://h:1/volume/v3/p\"q".into(),
            "http://h:1/volume/p\"q".into(),
        )
        .deferred();
        let ids = [Uuid::new_v4(), Uuid::new_v4()];
        let names = [Some("a \"b\" \u{e9}".to_string()), None];
        fn entry<'a>(
            b: &'a LinkBases,
            id: &'a Uuid,
            name: &'a Option<String>,
        ) -> VolumeSummary<'a> {
            VolumeSummary {
                id,
                name,
                links: b.links("volumes", id),
            }
        }
        let page = |b| [entry(b, &ids[0], &names[0]), entry(b, &ids[1], &names[1])];
        let expected = serde_json::to_value(page(&bases)).unwrap();
        let mut out = Vec::new();
        write_linked(&mut out, &page(&list_bases)).unwrap();
        let got: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(got, expected);
        assert_eq!(
            got[0]["links"][1]["href"],
            json!(format!("http://h:1/volume/p\"q/volumes/{}", ids[0]))
        );
        let mut empty = Vec::new();
        write_linked::<VolumeSummary>(&mut empty, &[]).unwrap();
        assert_eq!(empty, b"[]");
    }

    #[test]
    fn python_reprs() {
        assert_eq!(py_repr(&json!(null)), "None");
        assert_eq!(py_repr(&json!("xx")), "xx");
        assert_eq!(py_quoted(&json!("xx")), "'xx'");
        assert_eq!(py_repr(&json!([1, "a", true])), "[1, 'a', True]");
        assert_eq!(py_repr(&json!({"a": "b"})), "{'a': 'b'}");
    }
}
