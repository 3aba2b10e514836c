//! The attachments API over real HTTP: the whole reserve → attaching → in-use →
//! available cycle with the volume checked after each step, shapes and errors
//! against the recorded Cinder samples, multiattach, isolation, and the data path:
//! bytes written through `device_path` come back through the next attachment and
//! after a restart.

use crate::common;

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use common::{spawn_emulator, Api};
use serde_json::{json, Value};

const GIB: u64 = 1 << 30;

fn sample(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/cinder-samples")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn sample_body(name: &str) -> Value {
    sample(name)["response"]["body_json"].clone()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn connector(host: &str) -> Value {
    json!({"initiator": "iqn.1993-08.org.debian:01:cinderbox", "ip": "127.0.0.1",
           "host": host, "platform": "x86_64", "os_type": "linux", "multipath": false,
           "do_local_attach": false})
}

fn volume_status(api: &Api, id: &str) -> Value {
    let (code, body) = api.get(&format!("/volumes/{id}"));
    assert_eq!(code, 200, "{body}");
    body["volume"].clone()
}

/// Creates an attachment (3.54) and returns its body.
fn create_attachment(api: &Api, volume: &str, connector: Option<Value>, mode: &str) -> Value {
    let mut a = json!({"volume_uuid": volume, "mode": mode});
    if let Some(c) = connector {
        a["connector"] = c;
    }
    let (code, body) = api
        .at("3.54")
        .post("/attachments", json!({ "attachment": a }));
    assert_eq!(code, 200, "{body}");
    body["attachment"].clone()
}

/// Create, connect and complete: returns (attachment id, device path).
fn attach(api: &Api, volume: &str, host: &str) -> (String, String) {
    let api = api.at("3.54");
    let a = create_attachment(&api, volume, None, "rw");
    let aid = a["id"].as_str().unwrap().to_string();
    let (code, body) = api.put(
        &format!("/attachments/{aid}"),
        json!({"attachment": {"connector": connector(host)}}),
    );
    assert_eq!(code, 200, "{body}");
    let path = body["attachment"]["connection_info"]["device_path"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, body) = api.post(
        &format!("/attachments/{aid}/action"),
        json!({"os-complete": {}}),
    );
    assert_eq!(code, 204, "{body}");
    (aid, path)
}

fn detach(api: &Api, aid: &str) {
    let (code, body) = api.at("3.54").delete(&format!("/attachments/{aid}"));
    assert_eq!(code, 200, "{body}");
}

#[test]
fn the_attachment_cycle_moves_the_volume_reserved_attaching_in_use_available() {
    let env = spawn_emulator();
    let api = env.admin().at("3.54");
    let vid = api.available_volume(2, Some("glance-slow"));

    // Create without a connector: reserved, nothing to connect to yet (sample 27).
    let a = create_attachment(&api, &vid, None, "rw");
    assert_eq!(
        keys(&a),
        keys(&sample_body("27-attachment-create-no-connector.json")["attachment"])
    );
    assert_eq!(a["status"], "reserved");
    assert_eq!(a["instance"], Value::Null);
    assert_eq!(a["volume_id"], vid.as_str());
    assert_eq!(
        (a["attached_at"].clone(), a["detached_at"].clone()),
        (json!(""), json!(""))
    );
    assert_eq!(a["attach_mode"], "rw");
    assert_eq!(a["connection_info"], json!({}));
    let aid = a["id"].as_str().unwrap().to_string();
    let v = volume_status(&api, &vid);
    assert_eq!(v["status"], "reserved");
    assert_eq!(v["attachments"], json!([]));
    let (code, shown) = api.get(&format!("/attachments/{aid}"));
    assert_eq!(code, 200);
    assert_eq!(shown["attachment"]["status"], "reserved");

    // Update with a connector: the answer is the record as Cinder loaded it (still
    // reserved, sample 30) with the connection filled in.
    let (code, body) = api.put(
        &format!("/attachments/{aid}"),
        json!({"attachment": {"connector": connector("glance-host")}}),
    );
    assert_eq!(code, 200, "{body}");
    let expected = sample_body("30-attachment-update-connector.json");
    let got = &body["attachment"];
    assert_eq!(keys(got), keys(&expected["attachment"]));
    assert_eq!(
        keys(&got["connection_info"]),
        keys(&expected["attachment"]["connection_info"])
    );
    assert_eq!(got["status"], "reserved");
    let info = &got["connection_info"];
    assert_eq!(info["driver_volume_type"], "local");
    assert_eq!(info["access_mode"], "rw");
    assert_eq!(info["encrypted"], false);
    assert_eq!(info["cacheable"], false);
    assert_eq!(info["qos_specs"], Value::Null);
    assert_eq!(info["enforce_multipath"], false);
    assert_eq!(info["attachment_id"], aid.as_str());
    let path = PathBuf::from(info["device_path"].as_str().unwrap());
    assert!(path.is_absolute(), "{}", path.display());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 2 * GIB);

    // Stored: attaching, with attached_at (sample 32); the volume is attaching too.
    let (_, shown) = api.get(&format!("/attachments/{aid}"));
    assert_eq!(shown["attachment"]["status"], "attaching");
    assert_ne!(shown["attachment"]["attached_at"], "");
    assert_eq!(shown["attachment"]["connection_info"], *info);
    assert_eq!(volume_status(&api, &vid)["status"], "attaching");
    assert_eq!(volume_status(&api, &vid)["attachments"], json!([]));

    // os-complete: 204, attached, in-use, listed on the volume (sample 34).
    let (code, body) = api.post(
        &format!("/attachments/{aid}/action"),
        json!({"os-complete": {}}),
    );
    assert_eq!((code, body), (204, Value::Null));
    let (_, shown) = api.get(&format!("/attachments/{aid}"));
    assert_eq!(shown["attachment"]["status"], "attached");
    let v = volume_status(&api, &vid);
    assert_eq!(v["status"], "in-use");
    let entry = &v["attachments"][0];
    assert_eq!(
        keys(entry),
        keys(&sample_body("34-volume-show-in-use.json")["volume"]["attachments"][0])
    );
    assert_eq!(entry["attachment_id"], aid.as_str());
    assert_eq!(entry["host_name"], "glance-host");
    assert_eq!(entry["device"], "na");

    // List and detail (samples 35, 36).
    let (_, list) = api.get("/attachments");
    assert_eq!(list["attachments"].as_array().unwrap().len(), 1);
    assert_eq!(
        keys(&list["attachments"][0]),
        keys(&sample_body("35-attachments-list.json")["attachments"][0])
    );
    assert_eq!(list["attachments"][0]["status"], "attached");
    let (_, detail) = api.get("/attachments/detail");
    assert_eq!(
        keys(&detail["attachments"][0]),
        keys(&sample_body("36-attachments-detail.json")["attachments"][0])
    );
    assert_eq!(detail["attachments"][0]["connection_info"], *info);

    // An attached volume cannot be deleted (sample 38).
    let (code, body) = api.delete(&format!("/volumes/{vid}"));
    assert_eq!(code, 400);
    assert_eq!(body, sample_body("38-err-delete-in-use.json"));
    assert_eq!(volume_status(&api, &vid)["status"], "in-use");

    // Delete: the remaining attachments, and the volume is available again (40, 41).
    let (code, body) = api.delete(&format!("/attachments/{aid}"));
    assert_eq!((code, body), (200, json!({"attachments": []})));
    let v = volume_status(&api, &vid);
    assert_eq!(v["status"], "available");
    assert_eq!(v["attachments"], json!([]));
    let (code, _) = api.get(&format!("/attachments/{aid}"));
    assert_eq!(code, 404);
}

#[test]
fn create_with_a_connector_goes_attaching_and_the_mode_reaches_access_mode() {
    let env = spawn_emulator();
    let api = env.admin().at("3.54");
    let vid = api.available_volume(1, None);
    let a = create_attachment(&api, &vid, Some(connector("h")), "ro");
    // As in sample 42: the answer is the reserved record, the connection is made.
    assert_eq!(a["status"], "reserved");
    assert_eq!(a["attach_mode"], "ro");
    assert_eq!(a["connection_info"]["access_mode"], "ro");
    assert_eq!(a["connection_info"]["attachment_id"], a["id"]);
    assert_eq!(volume_status(&api, &vid)["status"], "attaching");
    let aid = a["id"].as_str().unwrap();
    let (_, shown) = api.get(&format!("/attachments/{aid}"));
    assert_eq!(shown["attachment"]["status"], "attaching");
    let (code, body) = api.delete(&format!("/attachments/{aid}"));
    assert_eq!((code, body), (200, json!({"attachments": []})));
    assert_eq!(volume_status(&api, &vid)["status"], "available");
}

#[test]
fn at_3_27_an_instance_attachment_has_mode_null_and_mode_is_refused() {
    let env = spawn_emulator();
    let api = env.admin().at("3.27");
    let vid = api.available_volume(1, None);
    let instance = "cbaf119c-ad46-4738-9b15-fac6b3299788";
    let (code, body) = api.post(
        "/attachments",
        json!({"attachment": {"volume_uuid": vid, "instance_uuid": instance}}),
    );
    assert_eq!(code, 200, "{body}");
    let a = &body["attachment"];
    let expected = sample_body("45-attachment-create-instance-mv327.json");
    assert_eq!(keys(a), keys(&expected["attachment"]));
    assert_eq!(a["instance"], instance);
    assert_eq!(a["attach_mode"], "null");
    assert_eq!(a["status"], "reserved");

    // Filters: instance_id, volume_id, status.
    let (_, l) = api.get(&format!("/attachments?instance_id={instance}"));
    assert_eq!(l["attachments"].as_array().unwrap().len(), 1);
    let (_, l) = api.get("/attachments?instance_id=5f830a3a-c814-400b-8b33-d88bb2604ca5");
    assert_eq!(l["attachments"], json!([]));
    let (_, l) = api.get(&format!("/attachments?volume_id={vid}&status=reserved"));
    assert_eq!(l["attachments"].as_array().unwrap().len(), 1);
    let (_, l) = api.get("/attachments?status=attached");
    assert_eq!(l["attachments"], json!([]));

    // A connector's mode decides when the attachment was made without one.
    let aid = a["id"].as_str().unwrap();
    let mut c = connector("h");
    c["mode"] = json!("ro");
    let (code, body) = api.put(
        &format!("/attachments/{aid}"),
        json!({"attachment": {"connector": c}}),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["attachment"]["connection_info"]["access_mode"], "ro");
    let (_, shown) = api.get(&format!("/attachments/{aid}"));
    assert_eq!(shown["attachment"]["attach_mode"], "ro");

    // `mode` is a 3.54 key.
    let (code, body) = api.post(
        "/attachments",
        json!({"attachment": {"volume_uuid": vid, "mode": "rw"}}),
    );
    assert_eq!(code, 400);
    let msg = body["badRequest"]["message"].as_str().unwrap();
    assert!(
        msg.contains("Additional properties are not allowed ('mode' was unexpected)"),
        "{msg}"
    );

    let (code, body) = api.delete(&format!("/attachments/{aid}"));
    assert_eq!((code, body), (200, json!({"attachments": []})));
    assert_eq!(volume_status(&api, &vid)["status"], "available");
}

#[test]
fn attachment_errors_are_cinder_s() {
    let env = spawn_emulator();
    let api = env.admin().at("3.54");
    let vid = api.available_volume(1, None);

    let (code, body) = api.post(
        "/attachments",
        json!({"attachment": {"volume_uuid": vid, "instance_uuid": null}}),
    );
    assert_eq!(
        (code, body),
        (
            400,
            sample_body("47-err-attachment-null-instance-uuid.json")
        )
    );

    let (code, body) = api
        .at("3.26")
        .post("/attachments", json!({"attachment": {"volume_uuid": vid}}));
    assert_eq!(
        (code, body),
        (404, sample_body("48-err-attachment-create-mv326.json"))
    );

    let (code, body) = api.post(
        "/attachments",
        json!({"attachment": {"volume_uuid": vid, "mode": "xx"}}),
    );
    assert_eq!(
        (code, body),
        (400, sample_body("49-err-attachment-bad-mode.json"))
    );

    let missing = "b1f24c85-1ea4-4914-8ca4-7db7ef711fcc";
    let (code, body) = api.post(
        "/attachments",
        json!({"attachment": {"volume_uuid": missing}}),
    );
    assert_eq!(
        (code, body),
        (404, sample_body("50-err-attachment-volume-not-found.json"))
    );

    let unknown = "56e2baea-56f8-4a17-907b-82171210c7ee";
    let (code, body) = api.get(&format!("/attachments/{unknown}"));
    assert_eq!(
        (code, body),
        (404, sample_body("52-err-attachment-not-found.json"))
    );

    let (code, body) = api.get("/attachments/..%2F..%2Fetc");
    assert_eq!(code, 404, "{body}");

    let (code, body) = api.post("/attachments", json!({"attachment": {"mode": "rw"}}));
    assert_eq!(code, 400);
    assert!(body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("'volume_uuid' is a required property"));

    let (code, body) = api.post(
        "/attachments",
        json!({"attachment": {"volume_uuid": "nope"}}),
    );
    assert_eq!(code, 400);
    assert_eq!(
        body["badRequest"]["message"],
        "Invalid input for field/attribute volume_uuid. Value: nope. 'nope' is not a 'uuid'"
    );

    let a = create_attachment(&api, &vid, None, "rw");
    let aid = a["id"].as_str().unwrap();
    let (code, body) = api.put(&format!("/attachments/{aid}"), json!({"attachment": {}}));
    assert_eq!(code, 400);
    assert!(body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("'connector' is a required property"));
    let (code, _) = api.put(
        &format!("/attachments/{aid}"),
        json!({"attachment": {"connector": {}}}),
    );
    assert_eq!(code, 400);
    let (code, body) = api.post(
        &format!("/attachments/{aid}/action"),
        json!({"os-bogus": {}}),
    );
    assert_eq!(code, 400);
    assert_eq!(
        body["badRequest"]["message"],
        "There is no such action: os-bogus"
    );
    let (code, _) = api.at("3.43").post(
        &format!("/attachments/{aid}/action"),
        json!({"os-complete": {}}),
    );
    assert_eq!(code, 404);
    // None of the refusals touched the reserved attachment.
    let (_, shown) = api.get(&format!("/attachments/{aid}"));
    assert_eq!(shown["attachment"]["status"], "reserved");
    assert_eq!(volume_status(&api, &vid)["status"], "reserved");

    // A second attachment of a non-multiattach volume is refused while reserved.
    let (code, body) = api.post("/attachments", json!({"attachment": {"volume_uuid": vid}}));
    assert_eq!(code, 400);
    assert_eq!(
        body["badRequest"]["message"],
        format!("Invalid volume: Volume {vid} status must be available or downloading to reserve, but the current status is reserved.")
    );
}

#[test]
fn a_second_attachment_needs_a_multiattach_type() {
    let env = spawn_emulator();
    let api = env.admin().at("3.54");

    let single = api.available_volume(1, None);
    let (first, _) = attach(&api, &single, "h1");
    let (code, body) = api.post(
        "/attachments",
        json!({"attachment": {"volume_uuid": single}}),
    );
    assert_eq!(code, 400);
    assert_eq!(
        body["badRequest"]["message"],
        format!("Invalid volume: Volume {single} status must be available or downloading to reserve, but the current status is in-use.")
    );
    detach(&api, &first);

    let multi = api.available_volume(1, Some("multiattach"));
    assert_eq!(volume_status(&api, &multi)["multiattach"], true);
    let (a1, path1) = attach(&api, &multi, "h1");
    let (a2, path2) = attach(&api, &multi, "h2");
    assert_eq!(path1, path2);
    let v = volume_status(&api, &multi);
    assert_eq!(v["status"], "in-use");
    assert_eq!(v["attachments"].as_array().unwrap().len(), 2);
    let (_, list) = api.get(&format!("/attachments?volume_id={multi}"));
    assert_eq!(list["attachments"].as_array().unwrap().len(), 2);

    let (code, body) = api.delete(&format!("/attachments/{a1}"));
    assert_eq!(code, 200);
    assert_eq!(body["attachments"].as_array().unwrap().len(), 1);
    assert_eq!(body["attachments"][0]["id"], a2.as_str());
    assert_eq!(volume_status(&api, &multi)["status"], "in-use");
    detach(&api, &a2);
    assert_eq!(volume_status(&api, &multi)["status"], "available");
}

#[test]
fn error_volumes_refuse_attachments_and_updates_conflict() {
    let env = spawn_emulator();
    let api = env.admin().at("3.54");
    let vid = api.available_volume(1, None);
    let a = create_attachment(&api, &vid, None, "rw");
    let aid = a["id"].as_str().unwrap();
    let (code, _) = api.post(
        &format!("/volumes/{vid}/action"),
        json!({"os-reset_status": {"status": "error"}}),
    );
    assert_eq!(code, 202);
    let (code, body) = api.put(
        &format!("/attachments/{aid}"),
        json!({"attachment": {"connector": connector("h")}}),
    );
    assert_eq!(code, 409, "{body}");
    assert!(body["conflictingRequest"]["message"]
        .as_str()
        .unwrap()
        .contains("currently has a status of: error"));
    let (_, shown) = api.get(&format!("/attachments/{aid}"));
    assert_eq!(shown["attachment"]["status"], "reserved");

    let (code, body) = api.post("/attachments", json!({"attachment": {"volume_uuid": vid}}));
    assert_eq!(code, 400);
    assert!(body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("but the current status is error."));
}

#[test]
fn projects_see_and_use_only_their_own_attachments() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo").at("3.54");
    let alt = env.login("alt_demo", "alt_demo").at("3.54");
    let admin = env.admin().at("3.54");
    let vid = demo.available_volume(1, None);
    let a = create_attachment(&demo, &vid, None, "rw");
    let aid = a["id"].as_str().unwrap();

    let not_found =
        format!("Volume attachment could not be found with filter: attachment_id = {aid}.");
    let (code, body) = alt.get(&format!("/attachments/{aid}"));
    assert_eq!(
        (code, body["itemNotFound"]["message"].as_str()),
        (404, Some(not_found.as_str()))
    );
    let (code, _) = alt.put(
        &format!("/attachments/{aid}"),
        json!({"attachment": {"connector": connector("h")}}),
    );
    assert_eq!(code, 404);
    let (code, _) = alt.post(
        &format!("/attachments/{aid}/action"),
        json!({"os-complete": {}}),
    );
    assert_eq!(code, 404);
    let (code, _) = alt.delete(&format!("/attachments/{aid}"));
    assert_eq!(code, 404);
    let (code, body) = alt.post("/attachments", json!({"attachment": {"volume_uuid": vid}}));
    assert_eq!(code, 404);
    assert_eq!(
        body["itemNotFound"]["message"],
        format!("Volume {vid} could not be found.")
    );
    let (_, list) = alt.get("/attachments/detail");
    assert_eq!(list["attachments"], json!([]));
    let (code, body) = alt.get("/attachments?bogus=1");
    assert_eq!(code, 400);
    assert!(body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .contains("Invalid filters bogus"));

    let (_, list) = demo.get("/attachments");
    assert_eq!(list["attachments"].as_array().unwrap().len(), 1);
    // Admins see other projects' attachments only when asking for all tenants.
    let (_, list) = admin.get("/attachments");
    assert_eq!(list["attachments"], json!([]));
    let (_, list) = admin.get("/attachments?all_tenants=1");
    assert_eq!(list["attachments"][0]["id"], aid);
    let (code, _) = admin.get(&format!("/attachments/{aid}"));
    assert_eq!(code, 200);

    // Nothing the other project tried changed the attachment.
    let (_, shown) = demo.get(&format!("/attachments/{aid}"));
    assert_eq!(shown["attachment"]["status"], "reserved");
}

fn write_at(path: &str, offset: u64, bytes: &[u8]) {
    let mut f = OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

fn read_at(path: &str, offset: u64, len: usize) -> Vec<u8> {
    let mut f = OpenOptions::new().read(true).open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    let mut buf = vec![0; len];
    f.read_exact(&mut buf).unwrap();
    buf
}

#[test]
fn bytes_written_through_device_path_come_back_through_the_next_attachment_and_a_restart() {
    let env = spawn_emulator();
    let api = env.admin().at("3.54");
    let vid = api.available_volume(1, None);
    let payload = b"cinderbox: bytes that must survive";
    let offset = 123_456_789;

    let (a1, path) = attach(&api, &vid, "writer");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), GIB);
    assert_eq!(
        read_at(&path, offset, payload.len()),
        vec![0; payload.len()]
    );
    write_at(&path, offset, payload);
    write_at(&path, GIB - 4, b"tail");
    detach(&api, &a1);

    let (a2, path2) = attach(&api, &vid, "reader");
    assert_ne!(a1, a2);
    assert_eq!(read_at(&path2, offset, payload.len()), payload);
    detach(&api, &a2);

    let env = env.restart();
    let api = env.admin().at("3.54");
    assert_eq!(volume_status(&api, &vid)["status"], "available");
    let (a3, path3) = attach(&api, &vid, "after-restart");
    assert_eq!(read_at(&path3, offset, payload.len()), payload);
    assert_eq!(read_at(&path3, GIB - 4, 4), b"tail");
    assert_eq!(std::fs::metadata(&path3).unwrap().len(), GIB);
    detach(&api, &a3);

    let (code, _) = api.delete(&format!("/volumes/{vid}"));
    assert_eq!(code, 202);
    api.wait_status(&vid, "deleted");
    assert!(
        !PathBuf::from(&path3).exists(),
        "{path3} outlived its volume"
    );
}
