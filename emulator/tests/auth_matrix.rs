//! Who may do what: every route × {no token, malformed token, expired token, revoked
//! token, another project's token, a member, an admin}, each cell with the status
//! Keystone and Cinder give; tenant isolation of volumes, attachments, metadata and
//! device paths; loopback by default; the control API is admin-only; private files.

use crate::common;

use std::time::{Duration, Instant};

use cinderbox_emulator::config::{World, DEFAULT_WORLD_TOML};
use cinderbox_emulator::keystone::token::{new_audit_id, TokenPayload, TokenSigner};
use cinderbox_emulator::testing::Emulator;
use common::{client, issue_token, spawn_emulator, Api, Env};
use reqwest::Method;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Svc {
    /// `/volume/v3/{project}/...`, token-protected.
    Cinder,
    /// `/identity/v3/auth/...`, token-protected.
    Keystone,
    /// `/_cinderbox/...`, admin only.
    Control,
    /// Discovery and login: no token needed.
    Public,
}

/// One row: a route with a body that succeeds for an authorised caller, and the status
/// a member and an admin get (each on their own project's resources).
struct Route {
    svc: Svc,
    method: &'static str,
    path: &'static str,
    mv: &'static str,
    body: Option<Value>,
    member: u16,
    admin: u16,
}

fn r(
    svc: Svc,
    method: &'static str,
    path: &'static str,
    body: Option<Value>,
    member: u16,
    admin: u16,
) -> Route {
    Route {
        svc,
        method,
        path,
        mv: "3.54",
        body,
        member,
        admin,
    }
}

fn connector() -> Value {
    json!({"initiator": "iqn.1993-08.org.debian:01:matrix", "ip": "127.0.0.1",
           "host": "matrix", "platform": "x86_64", "os_type": "linux", "multipath": false})
}

/// Every operation in `emulator/src/cinder/endpoint.rs`, the token-protected Keystone
/// routes, the control API, and the public discovery and login routes.
fn routes() -> Vec<Route> {
    use Svc::*;
    let mut v = vec![
        r(Public, "GET", "/identity/v3", None, 200, 200),
        r(Public, "GET", "/volume/", None, 300, 300),
        r(Cinder, "GET", "", None, 200, 200),
        r(Cinder, "GET", "/volumes", None, 200, 200),
        r(
            Cinder,
            "POST",
            "/volumes",
            Some(json!({"volume": {"size": 1}})),
            202,
            202,
        ),
        r(Cinder, "GET", "/volumes/detail", None, 200, 200),
        r(Cinder, "GET", "/volumes/summary", None, 200, 200),
        r(Cinder, "GET", "/volumes/{vid}", None, 200, 200),
        r(
            Cinder,
            "PUT",
            "/volumes/{vid}",
            Some(json!({"volume": {"name": "renamed"}})),
            200,
            200,
        ),
        r(
            Cinder,
            "POST",
            "/volumes/{vid}/action",
            Some(json!({"os-set_bootable": {"bootable": false}})),
            200,
            200,
        ),
        r(
            Cinder,
            "POST",
            "/volumes/{vid}/action",
            Some(json!({"os-update_readonly_flag": {"readonly": false}})),
            202,
            202,
        ),
        r(
            Cinder,
            "POST",
            "/volumes/{vid}/action",
            Some(json!({"os-reset_status": {"status": "available"}})),
            403,
            202,
        ),
        r(
            Cinder,
            "POST",
            "/volumes/{xvid}/action",
            Some(json!({"os-extend": {"new_size": 2}})),
            202,
            202,
        ),
        r(Cinder, "GET", "/volumes/{vid}/metadata", None, 200, 200),
        r(
            Cinder,
            "POST",
            "/volumes/{vid}/metadata",
            Some(json!({"metadata": {"a": "1"}})),
            200,
            200,
        ),
        r(
            Cinder,
            "PUT",
            "/volumes/{vid}/metadata",
            Some(json!({"metadata": {"k": "v", "a": "1"}})),
            200,
            200,
        ),
        r(Cinder, "GET", "/volumes/{vid}/metadata/k", None, 200, 200),
        r(
            Cinder,
            "PUT",
            "/volumes/{vid}/metadata/k",
            Some(json!({"meta": {"k": "v2"}})),
            200,
            200,
        ),
        r(
            Cinder,
            "DELETE",
            "/volumes/{vid}/metadata/a",
            None,
            200,
            200,
        ),
        r(Cinder, "DELETE", "/volumes/{dvid}", None, 202, 202),
        r(Cinder, "GET", "/types", None, 200, 200),
        r(
            Cinder,
            "POST",
            "/types",
            Some(json!({"volume_type": {"name": "matrix-new"}})),
            403,
            200,
        ),
        r(Cinder, "GET", "/types/default", None, 200, 200),
        r(Cinder, "GET", "/types/{tid}", None, 200, 200),
        r(
            Cinder,
            "PUT",
            "/types/{tid}",
            Some(json!({"volume_type": {"description": "d"}})),
            403,
            200,
        ),
        r(Cinder, "GET", "/types/{tid}/extra_specs", None, 200, 200),
        r(
            Cinder,
            "POST",
            "/types/{tid}/extra_specs",
            Some(json!({"extra_specs": {"multiattach": "<is> True"}})),
            403,
            200,
        ),
        r(
            Cinder,
            "GET",
            "/types/{tid}/extra_specs/multiattach",
            None,
            200,
            200,
        ),
        r(
            Cinder,
            "PUT",
            "/types/{tid}/extra_specs/multiattach",
            Some(json!({"multiattach": "<is> True"})),
            403,
            200,
        ),
        r(
            Cinder,
            "DELETE",
            "/types/{tid}/extra_specs/multiattach",
            None,
            403,
            202,
        ),
        r(
            Cinder,
            "GET",
            "/types/{ptid}/os-volume-type-access",
            None,
            403,
            200,
        ),
        r(
            Cinder,
            "POST",
            "/types/{ptid}/action",
            Some(json!({"addProjectAccess": {"project": "{p}"}})),
            403,
            202,
        ),
        r(Cinder, "DELETE", "/types/{dtid}", None, 403, 202),
        r(Cinder, "GET", "/attachments", None, 200, 200),
        r(Cinder, "GET", "/attachments/detail", None, 200, 200),
        r(
            Cinder,
            "POST",
            "/attachments",
            Some(json!({"attachment": {"volume_uuid": "{cvid}"}})),
            200,
            200,
        ),
        r(Cinder, "GET", "/attachments/{aid}", None, 200, 200),
        r(
            Cinder,
            "PUT",
            "/attachments/{aid}",
            Some(json!({"attachment": {"connector": connector()}})),
            200,
            200,
        ),
        r(
            Cinder,
            "POST",
            "/attachments/{aid}/action",
            Some(json!({"os-complete": {}})),
            204,
            204,
        ),
        r(Cinder, "DELETE", "/attachments/{aid}", None, 200, 200),
        r(Cinder, "GET", "/limits", None, 200, 200),
        r(Cinder, "GET", "/os-quota-sets/{p}", None, 200, 200),
        r(Cinder, "GET", "/os-quota-sets/{p}/defaults", None, 200, 200),
        r(
            Cinder,
            "PUT",
            "/os-quota-sets/{p}",
            Some(json!({"quota_set": {"volumes": 20}})),
            403,
            200,
        ),
        r(Cinder, "DELETE", "/os-quota-sets/{p}", None, 403, 200),
        r(Cinder, "GET", "/os-availability-zone", None, 200, 200),
        r(Cinder, "GET", "/extensions", None, 200, 200),
        r(Cinder, "GET", "/types/{tid}/encryption", None, 403, 200),
        r(
            Cinder,
            "POST",
            "/types/{ptid}/encryption",
            Some(json!({"encryption": {"provider": "p", "control_location": "front-end"}})),
            403,
            200,
        ),
        r(
            Cinder,
            "GET",
            "/types/{tid}/encryption/cipher",
            None,
            403,
            404,
        ),
        r(
            Cinder,
            "PUT",
            "/types/{tid}/encryption/00000000-0000-0000-0000-000000000000",
            Some(json!({"encryption": {"key_size": 128}})),
            403,
            404,
        ),
        r(
            Cinder,
            "DELETE",
            "/types/{tid}/encryption/00000000-0000-0000-0000-000000000000",
            None,
            403,
            404,
        ),
        r(Cinder, "GET", "/group_types", None, 200, 200),
        r(
            Cinder,
            "POST",
            "/group_types",
            Some(json!({"group_type": {"name": "gt-{p}"}})),
            403,
            202,
        ),
        r(Cinder, "GET", "/group_types/default", None, 200, 200),
        r(
            Cinder,
            "GET",
            "/group_types/00000000-0000-0000-0000-000000000000",
            None,
            404,
            404,
        ),
        r(
            Cinder,
            "PUT",
            "/group_types/00000000-0000-0000-0000-000000000000",
            Some(json!({"group_type": {"name": "n"}})),
            403,
            404,
        ),
        r(
            Cinder,
            "DELETE",
            "/group_types/00000000-0000-0000-0000-000000000000",
            None,
            403,
            404,
        ),
        r(
            Cinder,
            "GET",
            "/group_types/00000000-0000-0000-0000-000000000000/group_specs",
            None,
            403,
            404,
        ),
        r(
            Cinder,
            "POST",
            "/group_types/00000000-0000-0000-0000-000000000000/group_specs",
            Some(json!({"group_specs": {"a": "b"}})),
            403,
            404,
        ),
        r(
            Cinder,
            "GET",
            "/group_types/00000000-0000-0000-0000-000000000000/group_specs/a",
            None,
            403,
            404,
        ),
        r(
            Cinder,
            "PUT",
            "/group_types/00000000-0000-0000-0000-000000000000/group_specs/a",
            Some(json!({"a": "b"})),
            403,
            404,
        ),
        r(
            Cinder,
            "DELETE",
            "/group_types/00000000-0000-0000-0000-000000000000/group_specs/a",
            None,
            403,
            404,
        ),
        r(Cinder, "GET", "/groups", None, 200, 200),
        r(Cinder, "GET", "/groups/detail", None, 200, 200),
        r(
            Cinder,
            "POST",
            "/groups",
            Some(
                json!({"group": {"group_type": "00000000-0000-0000-0000-000000000000", "volume_types": ["{tid}"]}}),
            ),
            404,
            404,
        ),
        r(
            Cinder,
            "GET",
            "/groups/00000000-0000-0000-0000-000000000000",
            None,
            404,
            404,
        ),
        r(
            Cinder,
            "PUT",
            "/groups/00000000-0000-0000-0000-000000000000",
            Some(json!({"group": {"name": "n"}})),
            404,
            404,
        ),
        r(
            Cinder,
            "POST",
            "/groups/00000000-0000-0000-0000-000000000000/action",
            Some(json!({"delete": {}})),
            404,
            404,
        ),
        r(Cinder, "GET", "/os-services", None, 403, 200),
        r(
            Cinder,
            "PUT",
            "/os-services/enable",
            Some(json!({"host": "cinderbox", "binary": "cinder-scheduler"})),
            403,
            200,
        ),
        r(
            Cinder,
            "PUT",
            "/os-services/disable",
            Some(json!({"host": "cinderbox", "binary": "cinder-scheduler"})),
            403,
            200,
        ),
        r(
            Cinder,
            "PUT",
            "/os-services/disable-log-reason",
            Some(
                json!({"host": "cinderbox", "binary": "cinder-scheduler", "disabled_reason": "matrix"}),
            ),
            403,
            200,
        ),
        r(
            Cinder,
            "PUT",
            "/os-services/freeze",
            Some(json!({"host": "cinderbox@nowhere"})),
            403,
            400,
        ),
        r(
            Cinder,
            "PUT",
            "/os-services/thaw",
            Some(json!({"host": "cinderbox@nowhere"})),
            403,
            400,
        ),
        r(
            Cinder,
            "PUT",
            "/os-services/bogus",
            Some(json!({})),
            403,
            400,
        ),
        r(Cinder, "GET", "/qos-specs", None, 403, 200),
        r(
            Cinder,
            "POST",
            "/qos-specs",
            Some(json!({"qos_specs": {"name": "qos-{p}"}})),
            403,
            200,
        ),
        r(
            Cinder,
            "GET",
            "/qos-specs/00000000-0000-0000-0000-000000000000",
            None,
            403,
            404,
        ),
        r(
            Cinder,
            "PUT",
            "/qos-specs/00000000-0000-0000-0000-000000000000",
            Some(json!({"qos_specs": {"a": "b"}})),
            403,
            404,
        ),
        r(
            Cinder,
            "DELETE",
            "/qos-specs/00000000-0000-0000-0000-000000000000",
            None,
            403,
            404,
        ),
        r(
            Cinder,
            "PUT",
            "/qos-specs/00000000-0000-0000-0000-000000000000/delete_keys",
            Some(json!({"keys": ["a"]})),
            403,
            404,
        ),
        r(
            Cinder,
            "GET",
            "/qos-specs/00000000-0000-0000-0000-000000000000/associations",
            None,
            403,
            404,
        ),
        r(
            Cinder,
            "GET",
            "/qos-specs/00000000-0000-0000-0000-000000000000/associate?vol_type_id={tid}",
            None,
            403,
            404,
        ),
        r(
            Cinder,
            "GET",
            "/qos-specs/00000000-0000-0000-0000-000000000000/disassociate?vol_type_id={tid}",
            None,
            403,
            404,
        ),
        r(
            Cinder,
            "GET",
            "/qos-specs/00000000-0000-0000-0000-000000000000/disassociate_all",
            None,
            403,
            404,
        ),
        r(Cinder, "GET", "/scheduler-stats/get_pools", None, 403, 200),
        r(
            Cinder,
            "GET",
            "/capabilities/cinderbox@local",
            None,
            403,
            200,
        ),
        r(Cinder, "GET", "/os-hosts", None, 403, 200),
        r(Cinder, "GET", "/os-hosts/cinderbox@local", None, 403, 200),
        r(Cinder, "GET", "/os-volume-transfer", None, 200, 200),
        r(Cinder, "GET", "/os-volume-transfer/detail", None, 200, 200),
        r(
            Cinder,
            "POST",
            "/os-volume-transfer",
            Some(json!({"transfer": {"volume_id": "00000000-0000-0000-0000-000000000000"}})),
            404,
            404,
        ),
        r(
            Cinder,
            "GET",
            "/os-volume-transfer/00000000-0000-0000-0000-000000000000",
            None,
            404,
            404,
        ),
        r(
            Cinder,
            "DELETE",
            "/os-volume-transfer/00000000-0000-0000-0000-000000000000",
            None,
            404,
            404,
        ),
        r(
            Cinder,
            "POST",
            "/os-volume-transfer/00000000-0000-0000-0000-000000000000/accept",
            Some(json!({"accept": {"auth_key": "k"}})),
            404,
            404,
        ),
        r(Cinder, "GET", "/volume-transfers", None, 200, 200),
        r(Cinder, "GET", "/volume-transfers/detail", None, 200, 200),
        r(
            Cinder,
            "POST",
            "/volume-transfers",
            Some(json!({"transfer": {"volume_id": "00000000-0000-0000-0000-000000000000"}})),
            404,
            404,
        ),
        r(
            Cinder,
            "GET",
            "/volume-transfers/00000000-0000-0000-0000-000000000000",
            None,
            404,
            404,
        ),
        r(
            Cinder,
            "DELETE",
            "/volume-transfers/00000000-0000-0000-0000-000000000000",
            None,
            404,
            404,
        ),
        r(
            Cinder,
            "POST",
            "/volume-transfers/00000000-0000-0000-0000-000000000000/accept",
            Some(json!({"accept": {"auth_key": "k"}})),
            404,
            404,
        ),
        r(Cinder, "GET", "/messages", None, 200, 200),
        r(
            Cinder,
            "POST",
            "/groups/action",
            Some(
                json!({"create-from-src": {"source_group_id": "00000000-0000-0000-0000-000000000000"}}),
            ),
            404,
            404,
        ),
        r(Cinder, "GET", "/group_snapshots", None, 200, 200),
        r(Cinder, "GET", "/group_snapshots/detail", None, 200, 200),
        r(
            Cinder,
            "POST",
            "/group_snapshots",
            Some(json!({"group_snapshot": {"group_id": "00000000-0000-0000-0000-000000000000"}})),
            404,
            404,
        ),
        r(
            Cinder,
            "GET",
            "/group_snapshots/00000000-0000-0000-0000-000000000000",
            None,
            404,
            404,
        ),
        r(
            Cinder,
            "DELETE",
            "/group_snapshots/00000000-0000-0000-0000-000000000000",
            None,
            404,
            404,
        ),
        r(
            Cinder,
            "POST",
            "/group_snapshots/00000000-0000-0000-0000-000000000000/action",
            Some(json!({"reset_status": {"status": "error"}})),
            404,
            404,
        ),
        r(Cinder, "GET", "/snapshots", None, 200, 200),
        r(Cinder, "GET", "/snapshots/detail", None, 200, 200),
        r(
            Cinder,
            "POST",
            "/snapshots",
            Some(json!({"snapshot": {"volume_id": "00000000-0000-0000-0000-000000000000"}})),
            404,
            404,
        ),
        r(
            Cinder,
            "GET",
            "/snapshots/00000000-0000-0000-0000-000000000000",
            None,
            404,
            404,
        ),
        r(
            Cinder,
            "PUT",
            "/snapshots/00000000-0000-0000-0000-000000000000",
            Some(json!({"snapshot": {"name": "n"}})),
            404,
            404,
        ),
        r(
            Cinder,
            "DELETE",
            "/snapshots/00000000-0000-0000-0000-000000000000",
            None,
            404,
            404,
        ),
        r(
            Cinder,
            "POST",
            "/snapshots/00000000-0000-0000-0000-000000000000/action",
            Some(json!({"os-reset_status": {"status": "error"}})),
            404,
            404,
        ),
        r(
            Cinder,
            "GET",
            "/snapshots/00000000-0000-0000-0000-000000000000/metadata",
            None,
            404,
            404,
        ),
        r(
            Cinder,
            "POST",
            "/snapshots/00000000-0000-0000-0000-000000000000/metadata",
            Some(json!({"metadata": {"k": "v"}})),
            404,
            404,
        ),
        r(
            Cinder,
            "PUT",
            "/snapshots/00000000-0000-0000-0000-000000000000/metadata",
            Some(json!({"metadata": {"k": "v"}})),
            404,
            404,
        ),
        r(
            Cinder,
            "GET",
            "/snapshots/00000000-0000-0000-0000-000000000000/metadata/k",
            None,
            404,
            404,
        ),
        r(
            Cinder,
            "PUT",
            "/snapshots/00000000-0000-0000-0000-000000000000/metadata/k",
            Some(json!({"meta": {"k": "v"}})),
            404,
            404,
        ),
        r(
            Cinder,
            "DELETE",
            "/snapshots/00000000-0000-0000-0000-000000000000/metadata/k",
            None,
            404,
            404,
        ),
        r(
            Cinder,
            "GET",
            "/messages/00000000-0000-0000-0000-000000000000",
            None,
            404,
            404,
        ),
        r(
            Cinder,
            "DELETE",
            "/messages/00000000-0000-0000-0000-000000000000",
            None,
            404,
            404,
        ),
        r(Cinder, "GET", "/resource_filters", None, 200, 200),
        r(Cinder, "GET", "/default-types", None, 403, 200),
        r(
            Cinder,
            "PUT",
            "/default-types/{p}",
            Some(json!({"default_type": {"volume_type": "__DEFAULT__"}})),
            403,
            200,
        ),
        r(Cinder, "GET", "/default-types/{p}", None, 403, 200),
        r(Cinder, "DELETE", "/default-types/{p}", None, 403, 204),
        r(Cinder, "GET", "/backups", None, 200, 200),
        r(Cinder, "GET", "/backups/detail", None, 200, 200),
        r(
            Cinder,
            "POST",
            "/backups",
            Some(json!({"backup": {"volume_id": "00000000-0000-0000-0000-000000000000"}})),
            404,
            404,
        ),
        r(
            Cinder,
            "POST",
            "/backups/import_record",
            Some(json!({"backup-record": {"backup_service": "x", "backup_url": "eA=="}})),
            403,
            400,
        ),
        r(
            Cinder,
            "GET",
            "/backups/00000000-0000-0000-0000-000000000000",
            None,
            404,
            404,
        ),
        r(
            Cinder,
            "PUT",
            "/backups/00000000-0000-0000-0000-000000000000",
            Some(json!({"backup": {"name": "n"}})),
            404,
            404,
        ),
        r(
            Cinder,
            "DELETE",
            "/backups/00000000-0000-0000-0000-000000000000",
            None,
            404,
            404,
        ),
        r(
            Cinder,
            "POST",
            "/backups/00000000-0000-0000-0000-000000000000/restore",
            Some(json!({"restore": null})),
            404,
            404,
        ),
        r(
            Cinder,
            "POST",
            "/backups/00000000-0000-0000-0000-000000000000/action",
            Some(json!({"os-force_delete": {}})),
            404,
            404,
        ),
        r(
            Cinder,
            "GET",
            "/backups/00000000-0000-0000-0000-000000000000/export_record",
            None,
            404,
            404,
        ),
        r(
            Cinder,
            "GET",
            "/os-quota-class-sets/default",
            None,
            403,
            200,
        ),
        r(
            Cinder,
            "PUT",
            "/os-quota-class-sets/default",
            Some(json!({"quota_class_set": {"volumes": 10}})),
            403,
            200,
        ),
        r(Keystone, "GET", "/identity/v3/auth/tokens", None, 200, 200),
        r(Keystone, "HEAD", "/identity/v3/auth/tokens", None, 200, 200),
        r(Keystone, "GET", "/identity/v3/auth/catalog", None, 200, 200),
        r(
            Keystone,
            "DELETE",
            "/identity/v3/auth/tokens",
            None,
            204,
            204,
        ),
        r(Control, "GET", "/_cinderbox/faults", None, 403, 200),
        r(
            Control,
            "POST",
            "/_cinderbox/faults",
            Some(json!({})),
            403,
            400,
        ),
        r(
            Control,
            "GET",
            "/_cinderbox/faults/no-such-rule",
            None,
            403,
            404,
        ),
        r(
            Control,
            "DELETE",
            "/_cinderbox/faults/no-such-rule",
            None,
            403,
            404,
        ),
        r(Control, "GET", "/_cinderbox/requests", None, 403, 200),
        // Last: it wipes the world.
        r(Control, "POST", "/_cinderbox/reset", None, 403, 200),
    ];
    for route in &mut v {
        if route.path.starts_with("/volumes/{xvid}") || route.path == "/volumes/{dvid}" {
            route.mv = "3.42";
        }
        if route.path.starts_with("/volume-transfers") {
            route.mv = "3.57";
        }
        if route.path.starts_with("/group") {
            route.mv = "3.20";
        }
        if route.path.starts_with("/default-types") {
            route.mv = "3.62";
        }
    }
    v
}

/// One caller's resources, named in route templates.
struct Fixtures {
    project: String,
    vid: String,
    xvid: String,
    dvid: String,
    cvid: String,
    aid: String,
    tid: String,
    ptid: String,
    dtid: String,
}

fn fixtures(api: &Api, admin: &Api, tag: &str) -> Fixtures {
    let vid = api.available_volume(1, None);
    let (code, _) = api.put(
        &format!("/volumes/{vid}/metadata"),
        json!({"metadata": {"k": "v"}}),
    );
    assert_eq!(code, 200);
    let xvid = api.available_volume(1, None);
    let dvid = api.available_volume(1, None);
    let cvid = api.available_volume(1, None);
    let avid = api.available_volume(1, None);
    let (code, body) = api
        .at("3.54")
        .post("/attachments", json!({"attachment": {"volume_uuid": avid}}));
    assert_eq!(code, 200, "{body}");
    let aid = body["attachment"]["id"].as_str().unwrap().to_string();
    let type_id = |name: &str| {
        let (code, body) = admin.post(
            "/types",
            json!({"volume_type": {"name": name, "os-volume-type-access:is_public": !name.contains("private")}}),
        );
        assert_eq!(code, 200, "{body}");
        body["volume_type"]["id"].as_str().unwrap().to_string()
    };
    let tid = type_id(&format!("matrix-{tag}"));
    let (code, body) = admin.post(
        &format!("/types/{tid}/extra_specs"),
        json!({"extra_specs": {"multiattach": "<is> True"}}),
    );
    assert_eq!(code, 200, "{body}");
    Fixtures {
        project: api.project_id.clone(),
        vid,
        xvid,
        dvid,
        cvid,
        aid,
        tid,
        ptid: type_id(&format!("matrix-private-{tag}")),
        dtid: type_id(&format!("matrix-doomed-{tag}")),
    }
}

fn fill(s: &str, f: &Fixtures) -> String {
    s.replace("{vid}", &f.vid)
        .replace("{xvid}", &f.xvid)
        .replace("{dvid}", &f.dvid)
        .replace("{cvid}", &f.cvid)
        .replace("{aid}", &f.aid)
        .replace("{ptid}", &f.ptid)
        .replace("{dtid}", &f.dtid)
        .replace("{tid}", &f.tid)
        .replace("{p}", &f.project)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    NoToken,
    Malformed,
    Expired,
    Revoked,
    OtherProject,
    Member,
    Admin,
}

/// Sends one cell's request: `token` as `X-Auth-Token`, `url_project` in Cinder URLs,
/// `subject` for the Keystone token routes.
fn send(
    base: &str,
    route: &Route,
    f: &Fixtures,
    token: Option<&str>,
    subject: &str,
) -> (u16, Value) {
    let path = fill(route.path, f);
    let url = match route.svc {
        Svc::Cinder => format!("{base}/volume/v3/{}{path}", f.project),
        _ => format!("{base}{path}"),
    };
    let method = Method::from_bytes(route.method.as_bytes()).unwrap();
    let mut rb = client()
        .request(method, url)
        .header("OpenStack-API-Version", format!("volume {}", route.mv));
    if let Some(t) = token {
        rb = rb.header("X-Auth-Token", t);
    }
    if route.svc == Svc::Keystone {
        rb = rb.header("X-Subject-Token", subject);
    }
    if let Some(b) = &route.body {
        rb = rb.json(&serde_json::from_str::<Value>(&fill(&b.to_string(), f)).unwrap());
    }
    let resp = rb.send().unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

fn expected(route: &Route, kind: Kind) -> u16 {
    use Kind::*;
    match (route.svc, kind) {
        (Svc::Public, _) => route.admin,
        (_, NoToken | Malformed | Expired | Revoked) => 401,
        // The URL names the member's project; keystonemiddleware lets the token in,
        // Cinder refuses a URL of another project.
        (Svc::Cinder, OtherProject) => 400,
        (_, OtherProject | Member) => route.member,
        (_, Admin) => route.admin,
    }
}

fn snapshot(admin: &Api) -> Value {
    let a = admin.at("3.60");
    let (c1, vols) = a.get("/volumes/detail?all_tenants=1");
    let (c2, types) = a.get("/types?is_public=None");
    let (c3, atts) = a.get("/attachments/detail?all_tenants=1");
    assert_eq!((c1, c2, c3), (200, 200, 200));
    json!({"volumes": vols, "types": types, "attachments": atts})
}

/// A token for a real user that expired a second ago, signed with the emulator's key.
fn expired_token(env: &Env, user_token_body: &Value) -> String {
    let key = std::fs::read(env.dir.path().join("token.key")).unwrap();
    let signer = TokenSigner::from_key(key.try_into().unwrap());
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    signer.sign(&TokenPayload {
        user_id: user_token_body["token"]["user"]["id"]
            .as_str()
            .unwrap()
            .into(),
        project_id: user_token_body["token"]["project"]["id"]
            .as_str()
            .map(String::from),
        methods: vec!["password".into()],
        issued_at_us: now_us - 3_600_000_000,
        expires_at_us: now_us - 1_000_000,
        audit_id: new_audit_id(),
        app_cred_id: None,
    })
}

fn revoke(base: &str, admin_token: &str, subject: &str) {
    let resp = client()
        .delete(format!("{base}/identity/v3/auth/tokens"))
        .header("X-Auth-Token", admin_token)
        .header("X-Subject-Token", subject)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 204);
}

#[test]
fn every_route_by_every_kind_of_caller() {
    let env = spawn_emulator();
    let base = env.emu.base_url.clone();
    let admin = env.admin();
    let member = env.login("demo", "demo");
    let member_f = fixtures(&member, &admin, "member");
    let admin_f = fixtures(&admin, &admin, "admin");
    let (_, member_body) = issue_token(&base, "demo", "demo", "demo");
    let expired = expired_token(&env, &member_body);
    let (revoked, _) = issue_token(&base, "demo", "demo", "demo");
    revoke(&base, &admin.token, &revoked);
    let (other, _) = issue_token(&base, "alt_demo", "alt_demo", "alt_demo");
    let routes = routes();
    let mut cells = 0;
    let mut failures = Vec::new();

    // The refused kinds, against the member's resources: nothing may change.
    let before = snapshot(&admin);
    for kind in [
        Kind::NoToken,
        Kind::Malformed,
        Kind::Expired,
        Kind::Revoked,
        Kind::OtherProject,
    ] {
        for route in &routes {
            let token = match kind {
                Kind::NoToken => None,
                Kind::Malformed => Some("cbx1.eyJ1IjoiYWRtaW4ifQ.forged"),
                Kind::Expired => Some(expired.as_str()),
                Kind::Revoked => Some(revoked.as_str()),
                _ => Some(other.as_str()),
            };
            // Keystone routes act on a throwaway token of the caller's own.
            let (subject, _) = issue_token(&base, "alt_demo", "alt_demo", "alt_demo");
            let (status, body) = send(&base, route, &member_f, token, &subject);
            cells += 1;
            let want = expected(route, kind);
            if status != want {
                failures.push(format!(
                    "{kind:?} {} {}: {status} (expected {want}) {body}",
                    route.method, route.path
                ));
            }
        }
    }
    let after = snapshot(&admin);
    assert_eq!(before, after, "a refused request changed the state");

    for (kind, api, f) in [
        (Kind::Member, &member, &member_f),
        (Kind::Admin, &admin, &admin_f),
    ] {
        for route in &routes {
            let (subject, _) = if kind == Kind::Admin {
                issue_token(&base, "admin", "admin", "admin")
            } else {
                issue_token(&base, "demo", "demo", "demo")
            };
            let subject = if route.method == "DELETE" {
                subject
            } else {
                api.token.clone()
            };
            let (status, body) = send(&base, route, f, Some(&api.token), &subject);
            cells += 1;
            let want = expected(route, kind);
            if status != want {
                failures.push(format!(
                    "{kind:?} {} {}: {status} (expected {want}) {body}",
                    route.method, route.path
                ));
            }
        }
    }
    println!(
        "auth matrix: {cells} cells checked ({} routes x 7 kinds of caller), {} wrong",
        routes.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_token_expires_after_the_world_s_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    let toml = DEFAULT_WORLD_TOML.replace("token_lifetime_s = 3600", "token_lifetime_s = 1");
    let world = World::parse(&toml, "short-tokens.toml").unwrap();
    let emu = Emulator::start_with(dir.path(), world, "127.0.0.1:0".parse().unwrap()).unwrap();
    let (token, _) = issue_token(&emu.base_url, "demo", "demo", "demo");
    let get = || {
        client()
            .get(format!("{}/volume/v3/volumes", emu.base_url))
            .header("X-Auth-Token", &token)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(get(), 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut status = get();
    while status == 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        status = get();
    }
    assert_eq!(status, 401, "the token outlived its 1 s lifetime");
}

/// Everything one project owns is invisible to another: listings, shows, metadata,
/// attachments (and with them device paths), quotas, in both URL forms.
#[test]
fn one_project_sees_nothing_of_another() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo").at("3.54");
    let alt = env.login("alt_demo", "alt_demo").at("3.54");
    let vid = demo.available_volume(1, None);
    demo.put(
        &format!("/volumes/{vid}/metadata"),
        json!({"metadata": {"secret": "demo-only"}}),
    );
    let (code, body) = demo.post(
        "/attachments",
        json!({"attachment": {"volume_uuid": vid, "connector": connector()}}),
    );
    assert_eq!(code, 200, "{body}");
    let aid = body["attachment"]["id"].as_str().unwrap().to_string();
    let device_path = body["attachment"]["connection_info"]["device_path"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(device_path.contains(&vid));

    // (answer, whether it was a success): a refusal may echo the id that was asked
    // for, as Cinder's "Volume <id> could not be found." does, and nothing more.
    let mut seen: Vec<(String, bool)> = Vec::new();
    let mut check = |what: &str, code: u16, body: Value, want: u16| {
        assert_eq!(code, want, "{what}: {body}");
        seen.push((body.to_string(), code < 400));
    };
    for path in [
        format!("/volumes/{vid}"),
        format!("/volumes/{vid}/metadata"),
        format!("/volumes/{vid}/metadata/secret"),
        format!("/attachments/{aid}"),
    ] {
        let (code, body) = alt.get(&path);
        check(&path, code, body, 404);
    }
    for path in [
        "/volumes",
        "/volumes/detail",
        "/volumes/detail?all_tenants=1",
        &format!("/volumes/detail?project_id={}", demo.project_id),
        "/attachments",
        "/attachments/detail?all_tenants=1",
        "/volumes/summary",
        "/limits",
    ] {
        let (code, body) = alt.get(path);
        check(path, code, body, 200);
    }
    for (method, path, body) in [
        (
            Method::PUT,
            format!("/volumes/{vid}"),
            Some(json!({"volume": {"name": "x"}})),
        ),
        (Method::DELETE, format!("/volumes/{vid}"), None),
        (
            Method::POST,
            format!("/volumes/{vid}/metadata"),
            Some(json!({"metadata": {"x": "y"}})),
        ),
        (
            Method::DELETE,
            format!("/volumes/{vid}/metadata/secret"),
            None,
        ),
        (
            Method::POST,
            format!("/volumes/{vid}/action"),
            Some(json!({"os-extend": {"new_size": 5}})),
        ),
        (
            Method::PUT,
            format!("/attachments/{aid}"),
            Some(json!({"attachment": {"connector": connector()}})),
        ),
        (
            Method::POST,
            format!("/attachments/{aid}/action"),
            Some(json!({"os-complete": {}})),
        ),
        (Method::DELETE, format!("/attachments/{aid}"), None),
        (
            Method::POST,
            "/attachments".to_string(),
            Some(json!({"attachment": {"volume_uuid": vid, "connector": connector()}})),
        ),
    ] {
        let (code, body) = alt.req(method.clone(), &path, body);
        check(&format!("{method} {path}"), code, body, 404);
    }
    // Another project's quotas are the admin's business.
    let (code, body) = alt.get(&format!("/os-quota-sets/{}", demo.project_id));
    check("quota show", code, body, 403);
    // The 3.67 URL form (no project in the path) is held to the same rules.
    for path in [format!("volumes/{vid}"), format!("attachments/{aid}")] {
        let resp = client()
            .get(format!("{}/volume/v3/{path}", env.emu.base_url))
            .header("X-Auth-Token", &alt.token)
            .header("OpenStack-API-Version", "volume 3.67")
            .send()
            .unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        seen.push((resp.text().unwrap(), false));
    }
    for (text, success) in &seen {
        if *success {
            assert!(!text.contains(&vid), "alt_demo saw the volume id: {text}");
            assert!(
                !text.contains(&aid),
                "alt_demo saw the attachment id: {text}"
            );
        }
        assert!(!text.contains("demo-only"), "alt_demo saw metadata: {text}");
        assert!(
            !text.contains(&device_path),
            "alt_demo saw the device path: {text}"
        );
    }
    // And the owner's volume is untouched.
    let (code, body) = demo.get(&format!("/volumes/{vid}"));
    assert_eq!(code, 200);
    assert_eq!(body["volume"]["metadata"], json!({"secret": "demo-only"}));
    assert_eq!(body["volume"]["size"], 1);
}

#[test]
fn the_binary_listens_on_loopback_unless_told_otherwise() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cinderbox-emulator"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{help}");
    assert!(
        help.contains("[default: 127.0.0.1:8776]"),
        "--listen should default to loopback: {help}"
    );
}

/// The data dir is 0700 and everything in it that holds state or volume bytes is 0600.
#[cfg(unix)]
#[test]
fn state_and_volume_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = spawn_emulator();
    let api = env.admin();
    api.available_volume(1, None);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let root = env.dir.path();
    assert_eq!(mode(root), 0o700, "data dir");
    let mut checked = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                assert_eq!(mode(&path), 0o700, "{}", path.display());
                stack.push(path);
            } else {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 3,
        "state.db, token.key and one volume file at least"
    );
}

/// The matrix covers every Cinder endpoint the emulator has.
#[test]
fn the_matrix_covers_the_catalogue() {
    let routes = routes();
    common::assert_routes_cover_the_catalogue(
        "auth_matrix::routes",
        routes
            .iter()
            .filter(|r| matches!(r.svc, Svc::Cinder))
            .map(|r| (r.method, r.path)),
    );
}
