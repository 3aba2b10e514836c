//! `POST /volumes/{id}/action` over real HTTP: every action, its refused statuses
//! with Cinder's messages, admin-only refusals, extend of an in-use volume at 3.42
//! vs 3.41, and the volume's file following extend and delete.

use crate::common;

use std::time::{Duration, Instant};

use common::{spawn_emulator, Api};
use serde_json::{json, Value};

const GIB: u64 = 1 << 30;

fn action(api: &Api, id: &str, body: Value) -> (u16, Value) {
    api.post(&format!("/volumes/{id}/action"), body)
}

fn message(body: &Value) -> String {
    body.as_object()
        .and_then(|o| o.values().next())
        .and_then(|f| f["message"].as_str())
        .unwrap_or_else(|| panic!("no fault message in {body}"))
        .to_string()
}

fn status(api: &Api, id: &str) -> String {
    let (code, body) = api.get(&format!("/volumes/{id}"));
    assert_eq!(code, 200, "{body}");
    body["volume"]["status"].as_str().unwrap().to_string()
}

fn show(api: &Api, id: &str) -> Value {
    api.get(&format!("/volumes/{id}")).1["volume"].clone()
}

fn connector() -> Value {
    json!({"initiator": "iqn.2004-10.com.ubuntu:01:test", "ip": "127.0.0.1",
           "host": "glance-host", "platform": "x86_64", "os_type": "linux", "multipath": false})
}

/// An attachment made through the attachments API and completed (volume `in-use`).
fn attach_new_style(api: &Api, vid: &str) -> String {
    let api = api.at("3.54");
    let (code, body) = api.post(
        "/attachments",
        json!({"attachment": {"volume_uuid": vid, "connector": connector(), "mode": "rw"}}),
    );
    assert_eq!(code, 200, "{body}");
    let aid = body["attachment"]["id"].as_str().unwrap().to_string();
    let (code, _) = api.post(
        &format!("/attachments/{aid}/action"),
        json!({"os-complete": {}}),
    );
    assert_eq!(code, 204);
    aid
}

fn file_len(env: &common::Env, vid: &str) -> Option<u64> {
    let path = env
        .emu
        .data_dir
        .join("volumes")
        .join(format!("volume-{vid}"));
    std::fs::metadata(path).ok().map(|m| m.len())
}

#[test]
fn reserve_and_unreserve() {
    let env = spawn_emulator();
    let api = env.login("demo", "demo");
    let vid = api.available_volume(1, None);
    assert_eq!(action(&api, &vid, json!({"os-reserve": {}})).0, 202);
    assert_eq!(status(&api, &vid), "attaching");
    let (code, body) = action(&api, &vid, json!({"os-reserve": {}}));
    assert_eq!(code, 400);
    assert_eq!(
        message(&body),
        "Invalid volume: Volume status must be available to reserve, but the status is attaching."
    );
    assert_eq!(action(&api, &vid, json!({"os-unreserve": {}})).0, 202);
    assert_eq!(status(&api, &vid), "available");
    // Unreserving a volume that is not reserved does nothing.
    assert_eq!(action(&api, &vid, json!({"os-unreserve": {}})).0, 202);
    assert_eq!(status(&api, &vid), "available");

    // In-use volumes can be reserved only when multiattach.
    attach_new_style(&api, &vid);
    let (code, body) = action(&api, &vid, json!({"os-reserve": {}}));
    assert_eq!(code, 400);
    assert!(message(&body).ends_with("must be available to reserve, but the status is in-use."));
    let multi = api.available_volume(1, Some("multiattach"));
    attach_new_style(&api, &multi);
    assert_eq!(action(&api, &multi, json!({"os-reserve": {}})).0, 202);
    assert_eq!(status(&api, &multi), "attaching");
    assert_eq!(action(&api, &multi, json!({"os-unreserve": {}})).0, 202);
    assert_eq!(status(&api, &multi), "in-use");
}

#[test]
fn the_legacy_attach_cycle() {
    let env = spawn_emulator();
    let api = env.login("demo", "demo");
    let vid = api.available_volume(1, None);
    assert_eq!(action(&api, &vid, json!({"os-reserve": {}})).0, 202);

    let (code, body) = action(
        &api,
        &vid,
        json!({"os-initialize_connection": {"connector": connector()}}),
    );
    assert_eq!(code, 200, "{body}");
    let info = &body["connection_info"];
    assert_eq!(info["driver_volume_type"], "local");
    assert_eq!(info["enforce_multipath"], false);
    let data = &info["data"];
    assert_eq!(data["access_mode"], "rw");
    assert_eq!(data["encrypted"], false);
    assert_eq!(data["qos_specs"], Value::Null);
    assert_eq!(data["cacheable"], false);
    let path = data["device_path"].as_str().unwrap();
    assert!(path.ends_with(&format!("volume-{vid}")), "{path}");
    assert_eq!(std::fs::metadata(path).unwrap().len(), GIB);
    assert_eq!(status(&api, &vid), "attaching");

    let (code, body) = action(
        &api,
        &vid,
        json!({"os-attach": {"mountpoint": "/dev/vdb", "host_name": "glance-host", "mode": "rw"}}),
    );
    assert_eq!(code, 202, "{body}");
    let v = show(&api, &vid);
    assert_eq!(v["status"], "in-use");
    assert_eq!(v["metadata"]["attached_mode"], "rw");
    assert_eq!(v["metadata"]["readonly"], "False");
    assert_eq!(v["attachments"][0]["device"], "/dev/vdb");
    let aid = v["attachments"][0]["attachment_id"]
        .as_str()
        .unwrap()
        .to_string();
    // The legacy attachment is an attachment record like any other.
    let (code, shown) = api.at("3.27").get(&format!("/attachments/{aid}"));
    assert_eq!(code, 200);
    assert_eq!(shown["attachment"]["status"], "attached");

    // Attaching again from the same host returns the same attachment.
    let (code, _) = action(
        &api,
        &vid,
        json!({"os-attach": {"mountpoint": "/dev/vdb", "host_name": "glance-host"}}),
    );
    assert_eq!(code, 202);
    assert_eq!(show(&api, &vid)["attachments"].as_array().unwrap().len(), 1);
    // Another host may not: the type is not multiattach.
    let (code, body) = action(
        &api,
        &vid,
        json!({"os-attach": {"mountpoint": "/dev/vdc", "host_name": "other"}}),
    );
    assert_eq!(code, 400);
    assert_eq!(
        message(&body),
        "Error attaching volume - InvalidVolume: Invalid volume: volume is already attached and multiple attachments are not enabled"
    );

    assert_eq!(action(&api, &vid, json!({"os-begin_detaching": {}})).0, 202);
    assert_eq!(status(&api, &vid), "detaching");
    assert_eq!(action(&api, &vid, json!({"os-roll_detaching": {}})).0, 202);
    assert_eq!(status(&api, &vid), "in-use");
    assert_eq!(action(&api, &vid, json!({"os-roll_detaching": {}})).0, 202);
    assert_eq!(status(&api, &vid), "in-use");
    assert_eq!(action(&api, &vid, json!({"os-begin_detaching": {}})).0, 202);
    let (code, _) = action(
        &api,
        &vid,
        json!({"os-terminate_connection": {"connector": connector()}}),
    );
    assert_eq!(code, 202);
    assert_eq!(status(&api, &vid), "detaching");
    assert_eq!(
        action(&api, &vid, json!({"os-detach": {"attachment_id": aid}})).0,
        202
    );
    let v = show(&api, &vid);
    assert_eq!(v["status"], "available");
    assert_eq!(v["attachments"], json!([]));
    assert!(v["metadata"].get("attached_mode").is_none(), "{v}");
    let (code, _) = api.at("3.27").get(&format!("/attachments/{aid}"));
    assert_eq!(code, 404);

    let (code, body) = action(&api, &vid, json!({"os-begin_detaching": {}}));
    assert_eq!(code, 400);
    assert_eq!(
        message(&body),
        "Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach."
    );
    // Detaching a volume with no attachments just leaves it available.
    assert_eq!(action(&api, &vid, json!({"os-detach": null})).0, 202);
    assert_eq!(status(&api, &vid), "available");
}

#[test]
fn os_attach_and_os_detach_refusals() {
    let env = spawn_emulator();
    let api = env.login("demo", "demo");
    let vid = api.available_volume(1, None);
    let (code, body) = action(&api, &vid, json!({"os-attach": {"host_name": "h"}}));
    assert_eq!(code, 400);
    assert!(message(&body).ends_with("'mountpoint' is a required property"));
    let (code, body) = action(&api, &vid, json!({"os-attach": {"mountpoint": "/dev/vdb"}}));
    assert_eq!(code, 400);
    assert!(message(&body).contains("is not valid under any of the given schemas"));
    let (code, body) = action(
        &api,
        &vid,
        json!({"os-attach": {"mountpoint": "/dev/vdb", "host_name": "h", "mode": "xx"}}),
    );
    assert_eq!(code, 400);
    assert!(message(&body).contains("'xx' is not one of ['rw', 'ro']"));
    let (code, body) = action(
        &api,
        &vid,
        json!({"os-attach": {"mountpoint": "/dev/vdb", "instance_uuid": "nope"}}),
    );
    assert_eq!(code, 400);
    assert!(message(&body).contains("'nope' is not a 'uuid'"));
    assert_eq!(status(&api, &vid), "available");

    // A read-only volume attaches only read-only, and connects read-only.
    assert_eq!(
        action(
            &api,
            &vid,
            json!({"os-update_readonly_flag": {"readonly": true}})
        )
        .0,
        202
    );
    let (code, body) = action(
        &api,
        &vid,
        json!({"os-attach": {"mountpoint": "/dev/vdb", "host_name": "h", "mode": "rw"}}),
    );
    assert_eq!(code, 400);
    assert_eq!(
        message(&body),
        format!("Invalid attaching mode 'rw' for volume {vid}.")
    );
    let (_, body) = action(
        &api,
        &vid,
        json!({"os-initialize_connection": {"connector": connector()}}),
    );
    assert_eq!(body["connection_info"]["data"]["access_mode"], "ro");
    let (code, _) = action(
        &api,
        &vid,
        json!({"os-attach": {"mountpoint": "/dev/vdb", "host_name": "h", "mode": "ro"}}),
    );
    assert_eq!(code, 202);
    assert_eq!(show(&api, &vid)["metadata"]["attached_mode"], "ro");

    // Two attachments on a multiattach volume: detach must name one.
    let multi = api.available_volume(1, Some("multiattach"));
    for host in ["h1", "h2"] {
        let (code, body) = action(
            &api,
            &multi,
            json!({"os-attach": {"mountpoint": "/dev/vdb", "host_name": host}}),
        );
        assert_eq!(code, 202, "{body}");
    }
    let v = show(&api, &multi);
    assert_eq!(v["attachments"].as_array().unwrap().len(), 2);
    let (code, body) = action(&api, &multi, json!({"os-detach": {}}));
    assert_eq!(code, 400);
    assert_eq!(
        message(&body),
        "Error detaching volume - InvalidVolume: Invalid volume: Detach volume failed: More than one attachment, but no attachment_id provided."
    );
    let first = v["attachments"][0]["attachment_id"].clone();
    assert_eq!(
        action(&api, &multi, json!({"os-detach": {"attachment_id": first}})).0,
        202
    );
    assert_eq!(status(&api, &multi), "in-use");
    assert_eq!(action(&api, &multi, json!({"os-detach": {}})).0, 202);
    assert_eq!(status(&api, &multi), "available");
}

#[test]
fn maintenance_refuses_attach_detach_connect_and_bootable() {
    let env = spawn_emulator();
    let admin = env.admin();
    let vid = admin.available_volume(1, None);
    let (code, _) = action(
        &admin,
        &vid,
        json!({"os-reset_status": {"status": "maintenance"}}),
    );
    assert_eq!(code, 202);
    let cases = [
        (
            json!({"os-attach": {"mountpoint": "/dev/vdb", "host_name": "h"}}),
            "Invalid volume: The volume cannot be attached in maintenance mode.",
        ),
        (
            json!({"os-detach": {}}),
            "Invalid volume: The volume cannot be detached in maintenance mode.",
        ),
        (
            json!({"os-initialize_connection": {"connector": connector()}}),
            "Invalid volume: The volume connection cannot be initialized in maintenance mode.",
        ),
        (
            json!({"os-set_bootable": {"bootable": true}}),
            "Invalid volume: The volume cannot be updated during maintenance.",
        ),
        (
            json!({"os-reserve": {}}),
            "Invalid volume: Volume status must be available to reserve, but the status is maintenance.",
        ),
        (
            json!({"os-update_readonly_flag": {"readonly": true}}),
            &*format!("Invalid volume: Volume {vid} status must be available to update readonly flag, but current status is: maintenance."),
        ),
        (
            json!({"os-extend": {"new_size": 2}}),
            &*format!("Invalid volume: Volume {vid} status must be '{{'status': 'available'}}' to extend, currently maintenance."),
        ),
    ];
    for (body, expected) in cases {
        let (code, got) = action(&admin, &vid, body.clone());
        assert_eq!((code, message(&got)), (400, expected.to_string()), "{body}");
        assert_eq!(status(&admin, &vid), "maintenance", "{body}");
    }
}

#[test]
fn extend_an_in_use_volume_needs_3_42() {
    let env = spawn_emulator();
    let api = env.login("demo", "demo");
    let vid = api.available_volume(1, None);
    assert_eq!(file_len(&env, &vid), Some(GIB));
    attach_new_style(&api, &vid);

    let (code, body) = action(&api.at("3.41"), &vid, json!({"os-extend": {"new_size": 3}}));
    assert_eq!(code, 400);
    assert_eq!(
        message(&body),
        format!("Invalid volume: Volume {vid} status must be '{{'status': 'available'}}' to extend, currently in-use.")
    );
    let (code, body) = action(&api.at("3.42"), &vid, json!({"os-extend": {"new_size": 1}}));
    assert_eq!(code, 400);
    assert!(message(&body).starts_with(
        "Invalid input received: New size for extend must be greater than current size."
    ));
    let (code, body) = action(&api.at("3.42"), &vid, json!({"os-extend": {"new_size": 3}}));
    assert_eq!(code, 202, "{body}");
    let v = api.wait_status(&vid, "in-use");
    assert_eq!(v["size"], 3);
    assert_eq!(file_len(&env, &vid), Some(3 * GIB));

    // An available volume extends at any microversion and its file grows with it.
    let other = api.available_volume(1, None);
    assert_eq!(
        action(&api, &other, json!({"os-extend": {"new_size": 2}})).0,
        202
    );
    let v = api.wait_status(&other, "available");
    assert_eq!(v["size"], 2);
    assert_eq!(file_len(&env, &other), Some(2 * GIB));
}

#[test]
fn reset_status_is_admin_only_and_refuses_deleting_and_bare_in_use() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let alt = env.login("alt_demo", "alt_demo");
    let admin = env.admin();
    let vid = demo.available_volume(1, None);

    let (code, body) = action(&demo, &vid, json!({"os-reset_status": {"status": "error"}}));
    assert_eq!(code, 403);
    assert_eq!(
        message(&body),
        "Policy doesn't allow volume_extension:volume_admin_actions:reset_status to be performed."
    );
    let (code, _) = action(&alt, &vid, json!({"os-reset_status": {"status": "error"}}));
    assert_eq!(code, 404);
    assert_eq!(status(&demo, &vid), "available");

    let (code, body) = action(
        &admin,
        &vid,
        json!({"os-reset_status": {"status": "deleting"}}),
    );
    assert_eq!(
        (code, message(&body)),
        (400, "Cannot reset-state to deleting".to_string())
    );
    let (code, body) = action(
        &admin,
        &vid,
        json!({"os-reset_status": {"status": "in-use"}}),
    );
    assert_eq!(
        (code, message(&body)),
        (
            400,
            "Cannot reset-state to in-use because volume does not have any attachments."
                .to_string()
        )
    );
    let (code, body) = action(
        &admin,
        &vid,
        json!({"os-reset_status": {"status": "bogus"}}),
    );
    assert_eq!(code, 400);
    assert!(message(&body).contains("'bogus' is not a 'volume_status'"));
    let (code, body) = action(&admin, &vid, json!({"os-reset_status": {}}));
    assert_eq!(code, 400);
    assert!(message(&body).starts_with("Must specify 'status'"));
    assert_eq!(status(&demo, &vid), "available");

    assert_eq!(
        action(
            &admin,
            &vid,
            json!({"os-reset_status": {"status": "ERROR"}})
        )
        .0,
        202
    );
    assert_eq!(status(&demo, &vid), "error");
    assert_eq!(
        action(
            &admin,
            &vid,
            json!({"os-reset_status": {"status": "available"}})
        )
        .0,
        202
    );
    assert_eq!(status(&demo, &vid), "available");

    // attach_status: detached drops the attachments and the volume follows.
    let aid = attach_new_style(&demo, &vid);
    assert_eq!(status(&demo, &vid), "in-use");
    assert_eq!(
        action(
            &admin,
            &vid,
            json!({"os-reset_status": {"attach_status": "detached"}})
        )
        .0,
        202
    );
    assert_eq!(status(&demo, &vid), "available");
    let (code, _) = demo.at("3.54").get(&format!("/attachments/{aid}"));
    assert_eq!(code, 404);
    let (code, body) = action(
        &admin,
        &vid,
        json!({"os-reset_status": {"attach_status": "x"}}),
    );
    assert_eq!(code, 400);
    assert!(message(&body).contains("'x' is not a 'volume_attach_status'"));
    assert_eq!(
        action(
            &admin,
            &vid,
            json!({"os-reset_status": {"migration_status": "migrating"}})
        )
        .0,
        202
    );
    assert_eq!(show(&admin, &vid)["migration_status"], "migrating");
}

#[test]
fn force_delete_and_force_detach_are_admin_only() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let admin = env.admin();
    let vid = demo.available_volume(1, None);
    let aid = attach_new_style(&demo, &vid);

    let (code, body) = action(&demo, &vid, json!({"os-force_detach": {}}));
    assert_eq!(code, 403);
    assert!(message(&body).contains("volume_admin_actions:force_detach"));
    let (code, body) = action(&demo, &vid, json!({"os-force_delete": {}}));
    assert_eq!(code, 403);
    assert!(message(&body).contains("volume_admin_actions:force_delete"));
    // Even an admin cannot force-delete an attached volume.
    let (code, body) = action(&admin, &vid, json!({"os-force_delete": {}}));
    assert_eq!(code, 400);
    assert!(message(&body).starts_with("Invalid volume: Volume status must be available or error"));
    assert_eq!(status(&demo, &vid), "in-use");

    let (code, _) = action(
        &admin,
        &vid,
        json!({"os-force_detach": {"attachment_id": aid}}),
    );
    assert_eq!(code, 202);
    assert_eq!(status(&demo, &vid), "available");
    assert_eq!(show(&demo, &vid)["attachments"], json!([]));

    // Force delete works from statuses a plain delete refuses.
    assert_eq!(
        action(
            &admin,
            &vid,
            json!({"os-reset_status": {"status": "attaching"}})
        )
        .0,
        202
    );
    let (code, body) = demo.delete(&format!("/volumes/{vid}"));
    assert_eq!(code, 400, "{body}");
    assert_eq!(file_len(&env, &vid), Some(GIB));
    assert_eq!(action(&admin, &vid, json!({"os-force_delete": {}})).0, 202);
    demo.wait_status(&vid, "deleted");
    let deadline = Instant::now() + Duration::from_secs(10);
    while file_len(&env, &vid).is_some() {
        assert!(Instant::now() < deadline, "the file outlived its volume");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bootable_and_readonly_flags() {
    let env = spawn_emulator();
    let api = env.login("demo", "demo");
    let vid = api.available_volume(1, None);
    assert_eq!(show(&api, &vid)["bootable"], "false");
    let (code, body) = action(&api, &vid, json!({"os-set_bootable": {"bootable": true}}));
    assert_eq!((code, body), (200, Value::Null));
    assert_eq!(show(&api, &vid)["bootable"], "true");
    assert_eq!(
        action(
            &api,
            &vid,
            json!({"os-set_bootable": {"bootable": "False"}})
        )
        .0,
        200
    );
    assert_eq!(show(&api, &vid)["bootable"], "false");
    let (code, body) = action(
        &api,
        &vid,
        json!({"os-set_bootable": {"bootable": "maybe"}}),
    );
    assert_eq!(code, 400);
    assert!(message(&body).starts_with("Invalid input for field/attribute bootable. Value: maybe."));
    let (code, body) = action(&api, &vid, json!({"os-set_bootable": {}}));
    assert_eq!(code, 400);
    assert!(message(&body).ends_with("'bootable' is a required property"));

    let (code, body) = action(
        &api,
        &vid,
        json!({"os-update_readonly_flag": {"readonly": true}}),
    );
    assert_eq!((code, body), (202, Value::Null));
    assert_eq!(show(&api, &vid)["metadata"]["readonly"], "True");
    assert_eq!(
        action(
            &api,
            &vid,
            json!({"os-update_readonly_flag": {"readonly": "false"}})
        )
        .0,
        202
    );
    assert_eq!(show(&api, &vid)["metadata"]["readonly"], "False");

    attach_new_style(&api, &vid);
    let (code, body) = action(
        &api,
        &vid,
        json!({"os-update_readonly_flag": {"readonly": true}}),
    );
    assert_eq!(code, 400);
    assert_eq!(
        message(&body),
        format!("Invalid volume: Volume {vid} status must be available to update readonly flag, but current status is: in-use.")
    );
    assert_eq!(show(&api, &vid)["metadata"]["readonly"], "False");
}

#[test]
fn unknown_malformed_and_foreign_actions() {
    let env = spawn_emulator();
    let api = env.login("demo", "demo");
    let alt = env.login("alt_demo", "alt_demo");
    let vid = api.available_volume(1, None);
    let (code, body) = action(&api, &vid, json!({"os-bogus": {}}));
    assert_eq!(
        (code, message(&body)),
        (400, "There is no such action: os-bogus".to_string())
    );
    let (code, body) = action(&api, &vid, json!({"os-reserve": {}, "os-unreserve": {}}));
    assert_eq!(
        (code, message(&body)),
        (400, "Malformed request body".to_string())
    );
    let (code, body) = action(&api, &vid, json!({"os-extend": "big"}));
    assert_eq!(code, 400);
    assert!(message(&body).contains("is not of type 'object'"));
    let (code, body) = action(&api, &vid, json!({"os-initialize_connection": {}}));
    assert_eq!(code, 400);
    assert!(message(&body).ends_with("'connector' is a required property"));

    let missing = "03ddb502-6217-4b89-98b4-182e4c67a7ac";
    let (code, body) = action(&api, missing, json!({"os-reserve": {}}));
    assert_eq!(
        (code, message(&body)),
        (404, format!("Volume {missing} could not be found."))
    );
    for body in [
        json!({"os-reserve": {}}),
        json!({"os-attach": {"mountpoint": "/dev/vdb", "host_name": "h"}}),
        json!({"os-initialize_connection": {"connector": connector()}}),
        json!({"os-extend": {"new_size": 2}}),
        json!({"os-set_bootable": {"bootable": true}}),
    ] {
        let (code, got) = action(&alt, &vid, body.clone());
        assert_eq!(code, 404, "{body}: {got}");
    }
    let v = show(&api, &vid);
    assert_eq!(
        (v["status"].as_str(), v["size"].as_u64()),
        (Some("available"), Some(1))
    );
    assert_eq!(v["bootable"], "false");
}
