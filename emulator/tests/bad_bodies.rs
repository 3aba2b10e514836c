//! Request bodies Cinder's JSON schemas (`cinder/api/schemas/`) refuse, one table row
//! each, per endpoint that takes a body: the status and Cinder's exact message
//! (`Invalid input for field/attribute …`, python-jsonschema's wording), at the
//! microversion the schema applies to. The state is unchanged afterwards.

use crate::common;

use common::{spawn_emulator, Api};
use reqwest::Method;
use serde_json::{json, Value};

struct Bad {
    method: Method,
    path: &'static str,
    mv: &'static str,
    body: Value,
    status: u16,
    message: &'static str,
}

fn bad(
    method: Method,
    path: &'static str,
    mv: &'static str,
    body: Value,
    message: &'static str,
) -> Bad {
    Bad {
        method,
        path,
        mv,
        body,
        status: 400,
        message,
    }
}

fn message(body: &Value) -> String {
    body.as_object()
        .and_then(|o| o.values().next())
        .and_then(|inner| inner["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// `{vid}` a volume, `{tid}` a type, `{gtid}` a group type, `{pid}` the project.
fn table() -> Vec<Bad> {
    use Method as M;
    vec![
        // volumes.py: create (3.0 open, 3.53 closed), update.
        bad(M::POST, "/volumes", "3.0", json!({"notvolume": {}}), "'volume' is a required property"),
        bad(M::POST, "/volumes", "3.0", json!({"volume": {"size": 1}, "x": 1}),
            "Additional properties are not allowed ('x' was unexpected)"),
        bad(M::POST, "/volumes", "3.54", json!({"volume": {"size": 0}}),
            "Invalid input for field/attribute size. Value: 0. 0 is less than the minimum of 1"),
        bad(M::POST, "/volumes", "3.54", json!({"volume": {"size": "-1"}}),
            "Invalid input for field/attribute size. Value: -1. '-1' does not match '^[0-9]+$'"),
        bad(M::POST, "/volumes", "3.54", json!({"volume": {"size": 1, "frobnicate": 1}}),
            "Invalid input for field/attribute volume. Value: {'frobnicate': 1, 'size': 1}. Additional properties are not allowed ('frobnicate' was unexpected)"),
        bad(M::POST, "/volumes", "3.54", json!({"volume": {"size": 1, "snapshot_id": "nope"}}),
            "Invalid input for field/attribute snapshot_id. Value: nope. 'nope' is not valid under any of the given schemas"),
        bad(M::POST, "/volumes", "3.54", json!({"volume": {"size": 1, "metadata": {"k": 1}}}),
            "Invalid input for field/attribute k. Value: 1. 1 is not of type 'string'"),
        bad(M::POST, "/volumes", "3.54", json!({"volume": {"size": 1, "name": "n".repeat(256)}}),
            "Invalid input received: name has 256 characters, more than 255."),
        bad(M::POST, "/volumes", "3.54", json!({"volume": {"size": 1, "multiattach": "sure"}}),
            "Invalid input for field/attribute multiattach. Value: sure. 'sure' is not valid under any of the given schemas"),
        bad(M::PUT, "/volumes/{vid}", "3.0", json!({"volume": {"status": "available"}}),
            "Invalid input for field/attribute volume. Value: {'status': 'available'}. Additional properties are not allowed ('status' was unexpected)"),
        bad(M::PUT, "/volumes/{vid}", "3.53", json!({"volume": {}}),
            "Invalid input for field/attribute volume. Value: {}. {} is not valid under any of the given schemas"),
        // volume_actions.py, admin_actions.py.
        bad(M::POST, "/volumes/{vid}/action", "3.54", json!({"os-extend": {"new_size": 2, "x": 1}}),
            "Invalid input for field/attribute os-extend. Value: {'new_size': 2, 'x': 1}. Additional properties are not allowed ('x' was unexpected)"),
        bad(M::POST, "/volumes/{vid}/action", "3.54", json!({"os-extend": {}}),
            "Invalid input for field/attribute os-extend. Value: {}. 'new_size' is a required property"),
        bad(M::POST, "/volumes/{vid}/action", "3.54", json!({"os-set_bootable": {"bootable": "maybe"}}),
            "Invalid input for field/attribute bootable. Value: maybe. 'maybe' is not one of [True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', 'y', 't', False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no', 'n', 'f']"),
        bad(M::POST, "/volumes/{vid}/action", "3.54", json!({"os-attach": {"mountpoint": "/dev/vdb"}}),
            "Invalid input for field/attribute os-attach. Value: {'mountpoint': '/dev/vdb'}. {'mountpoint': '/dev/vdb'} is not valid under any of the given schemas"),
        bad(M::POST, "/volumes/{vid}/action", "3.54", json!({"os-detach": {"attachment_id": "x"}}),
            "Invalid input for field/attribute attachment_id. Value: x. 'x' is not valid under any of the given schemas"),
        bad(M::POST, "/volumes/{vid}/action", "3.54", json!({"os-initialize_connection": {}}),
            "Invalid input for field/attribute os-initialize_connection. Value: {}. 'connector' is a required property"),
        bad(M::POST, "/volumes/{vid}/action", "3.54", json!({"os-reset_status": {"status": "available", "x": 1}}),
            "Invalid input for field/attribute os-reset_status. Value: {'status': 'available', 'x': 1}. Additional properties are not allowed ('x' was unexpected)"),
        // volume_metadata.py.
        bad(M::POST, "/volumes/{vid}/metadata", "3.54", json!({"metadata": {"k": "v"}, "x": 1}),
            "Additional properties are not allowed ('x' was unexpected)"),
        bad(M::PUT, "/volumes/{vid}/metadata/k", "3.54", json!({"meta": {"k": "v", "l": "w"}}),
            "Invalid input for field/attribute meta. Value: {'k': 'v', 'l': 'w'}. {'k': 'v', 'l': 'w'} has too many properties"),
        bad(M::PUT, "/volumes/{vid}/metadata", "3.54", json!({"metadata": {"bad key!": "v"}}),
            "Invalid input for field/attribute metadata. Value: {'bad key!': 'v'}. 'bad key!' does not match any of the regexes: '^[a-zA-Z0-9-_:. /]{1,255}$'"),
        // volume_types.py, types_extra_specs.py, volume_type_access.py.
        bad(M::POST, "/types", "3.54", json!({"volume_type": {"name": "t", "new_size": -1, "size": -1, "volumes": "x"}}),
            "Invalid input for field/attribute volume_type. Value: {'name': 't', 'new_size': -1, 'size': -1, 'volumes': 'x'}. Additional properties are not allowed ('new_size', 'size', 'volumes' were unexpected)"),
        bad(M::POST, "/types", "3.54", json!({"volume_type": {}}),
            "Invalid input for field/attribute volume_type. Value: {}. 'name' is a required property"),
        bad(M::POST, "/types", "3.54", json!({"volume_type": {"name": "t", "os-volume-type-access:is_public": "perhaps"}}),
            "Invalid input for field/attribute os-volume-type-access:is_public. Value: perhaps. 'perhaps' is not one of [True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', 'y', 't', False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no', 'n', 'f']"),
        bad(M::PUT, "/types/{tid}", "3.54", json!({"volume_type": {"name": ""}}),
            "Invalid input for field/attribute name. Value: . '' should be non-empty"),
        bad(M::POST, "/types/{tid}/extra_specs", "3.54", json!({"extra_specs": {"a b": "c"}}),
            "Invalid input for field/attribute extra_specs. Value: {'a b': 'c'}. 'a b' does not match any of the regexes: '^[a-zA-Z0-9-_:.]{1,255}$'"),
        bad(M::PUT, "/types/{tid}/extra_specs/k", "3.54", json!({}),
            "{} should be non-empty"),
        bad(M::POST, "/types/{tid}/action", "3.54", json!({"addProjectAccess": {}}),
            "Invalid input for field/attribute addProjectAccess. Value: {}. 'project' is a required property"),
        // attachments.py.
        bad(M::POST, "/attachments", "3.54", json!({"attachment": {"volume_uuid": "{vid}", "instance_uuid": null}}),
            "Invalid input for field/attribute instance_uuid. Value: None. None is not of type 'string'"),
        bad(M::POST, "/attachments", "3.54", json!({"attachment": {"volume_uuid": "{vid}", "mode": "xx"}}),
            "Invalid input for field/attribute mode. Value: xx. 'xx' is not one of ['rw', 'ro']"),
        bad(M::POST, "/attachments", "3.27", json!({"attachment": {"volume_uuid": "{vid}", "mode": "rw"}}),
            "Invalid input for field/attribute attachment. Value: {'mode': 'rw', 'volume_uuid': '{vid}'}. Additional properties are not allowed ('mode' was unexpected)"),
        // quotas.py.
        bad(M::PUT, "/os-quota-sets/{pid}", "3.54", json!({"quota_set": {}}),
            "Invalid input for field/attribute quota_set. Value: {}. {} should be non-empty"),
        // volume_type_encryption.py.
        bad(M::POST, "/types/{tid}/encryption", "3.54", json!({"encryption": {"provider": "p", "control_location": "middle"}}),
            "Invalid input for field/attribute control_location. Value: middle. 'middle' is not one of ['front-end', 'back-end']"),
        // group_types.py, group_specs.py, groups.py.
        bad(M::POST, "/group_types", "3.11", json!({"group_type": {"name": "g", "x": 1}}),
            "Invalid input for field/attribute group_type. Value: {'name': 'g', 'x': 1}. Additional properties are not allowed ('x' was unexpected)"),
        bad(M::POST, "/group_types/{gtid}/group_specs", "3.11", json!({"group_specs": {"k": 1}}),
            "Invalid input for field/attribute k. Value: 1. 1 is not of type 'string', 'null'"),
        bad(M::POST, "/groups", "3.13", json!({"group": {"group_type": "{gtid}", "volume_types": []}}),
            "Invalid input for field/attribute volume_types. Value: []. [] should be non-empty"),
        bad(M::POST, "/groups", "3.13", json!({"group": {"group_type": "  ", "volume_types": ["t"]}}),
            "Invalid input for field/attribute group_type. Value:   . '  ' is not a 'group_type'"),
        bad(M::POST, "/groups", "3.13", json!({"group": {"availability_zone": "  ", "group_type": "{gtid}", "volume_types": ["t"]}}),
            "Invalid input received: availability_zone has 0 characters, less than 1."),
        // services.py.
        bad(M::PUT, "/os-services/enable", "3.54", json!({"host": "cinderbox"}),
            "{'host': 'cinderbox'} is not valid under any of the given schemas"),
        bad(M::PUT, "/os-services/disable-log-reason", "3.54", json!({"host": "cinderbox@local", "binary": "cinder-volume", "disabled_reason": "   "}),
            "Invalid input for field/attribute disabled_reason. Value:    . '   ' is not a 'disabled_reason'"),
        bad(M::PUT, "/os-services/freeze", "3.54", json!({"host": "cinderbox@local", "x": 1}),
            "Additional properties are not allowed ('x' was unexpected)"),
        // qos_specs.py.
        bad(M::POST, "/qos-specs", "3.54", json!({"qos_specs": {"name": "  "}}),
            "An invalid 'name' value was provided. The 'name' can not be empty."),
        bad(M::PUT, "/qos-specs/00000000-0000-0000-0000-000000000000/delete_keys", "3.54", json!({"keys": ["a", "a"]}),
            "Invalid input for field/attribute keys. Value: ['a', 'a']. ['a', 'a'] has non-unique elements"),
        // volume_transfer.py.
        bad(M::POST, "/os-volume-transfer", "3.54", json!({"transfer": {"volume_id": "{vid}", "no_snapshots": true}}),
            "Invalid input for field/attribute transfer. Value: {'no_snapshots': True, 'volume_id': '{vid}'}. Additional properties are not allowed ('no_snapshots' was unexpected)"),
        bad(M::POST, "/volume-transfers", "3.55", json!({"transfer": {"volume_id": "nope"}}),
            "Invalid input for field/attribute volume_id. Value: nope. 'nope' is not a 'uuid'"),
        bad(M::POST, "/os-volume-transfer/00000000-0000-0000-0000-000000000000/accept", "3.54", json!({"accept": {}}),
            "Invalid input for field/attribute accept. Value: {}. 'auth_key' is a required property"),
        // default_types.py.
        bad(M::PUT, "/default-types/{pid}", "3.62", json!({"default_type": {"volume_type": 5}}),
            "Invalid input for field/attribute volume_type. Value: 5. 5 is not of type 'string'"),
    ]
}

fn fill(s: &str, ids: &[(&str, &str)]) -> String {
    ids.iter()
        .fold(s.to_string(), |acc, (k, v)| acc.replace(k, v))
}

fn snapshot(admin: &Api) -> Value {
    let admin = admin.at("3.62");
    let (_, vols) = admin.get("/volumes/detail?all_tenants=1");
    let (_, types) = admin.get("/types?is_public=None");
    let (_, defaults) = admin.get("/default-types");
    let (_, services) = admin.get("/os-services");
    // Every service's switches (its `updated_at` is a heartbeat: always now).
    let switches: Vec<Value> = services["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            json!([
                s["host"],
                s["binary"],
                s["status"],
                s["disabled_reason"],
                s["frozen"]
            ])
        })
        .collect();
    json!({"volumes": vols, "types": types, "defaults": defaults, "services": switches})
}

#[test]
fn every_body_cinder_s_schemas_refuse_is_refused_with_cinder_s_message() {
    let env = spawn_emulator();
    let admin = env.admin();
    let vid = admin.available_volume(1, None);
    let (code, body) = admin.get("/types/default");
    assert_eq!(code, 200);
    let tid = body["volume_type"]["id"].as_str().unwrap().to_string();
    let (code, body) = admin.at("3.11").post(
        "/group_types",
        json!({"group_type": {"name": "bad-bodies"}}),
    );
    assert_eq!(code, 202, "{body}");
    let gtid = body["group_type"]["id"].as_str().unwrap().to_string();
    let pid = admin.project_id.clone();
    let ids = [
        ("{vid}", vid.as_str()),
        ("{tid}", tid.as_str()),
        ("{gtid}", gtid.as_str()),
        ("{pid}", pid.as_str()),
    ];
    let before = snapshot(&admin);
    let mut wrong = Vec::new();
    for row in table() {
        let path = fill(row.path, &ids);
        let body: Value = serde_json::from_str(&fill(&row.body.to_string(), &ids)).unwrap();
        let want = fill(row.message, &ids);
        let (code, got) = admin.at(row.mv).req(row.method.clone(), &path, Some(body));
        if (code, message(&got)) != (row.status, want.clone()) {
            wrong.push(format!(
                "{} {path} @{}: got {code} {:?}\n   want {} {want:?}",
                row.method,
                row.mv,
                message(&got),
                row.status
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} rows differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(before, snapshot(&admin), "a refused body changed the state");
}

/// The same bodies from a member are still refused for the body (400) where Cinder
/// validates before its policy check, not with the policy's 403.
#[test]
fn a_bad_body_is_a_400_before_the_policy_check() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let (code, body) = demo.post("/types", json!({"volume_type": {"name": "t", "x": 1}}));
    assert_eq!(code, 400, "{body}");
    let (code, body) = demo.post("/types", json!({"volume_type": {"name": "t"}}));
    assert_eq!(code, 403, "{body}");
    let (code, body) = demo.put("/os-services/freeze", json!({"host": "h", "x": 1}));
    assert_eq!(code, 400, "{body}");
}
