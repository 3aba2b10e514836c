//! `os-retype` over real HTTP: same-backend retypes of available and in-use volumes
//! (per-type quota usage moves), a retype that needs another backend (refused with
//! `never`, migrated with `on-demand` when the volume is available, not when it is
//! attached), Cinder's refusals, faults on the retype job and start-up recovery.

use serde_json::{json, Value};

use crate::backups::{attach, detach};
use crate::common::{spawn_emulator, Api};
use crate::fault_support::Control;

fn msg(body: &Value) -> String {
    body.as_object()
        .and_then(|o| o.values().next())
        .and_then(|f| f["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn retype(api: &Api, vid: &str, args: Value) -> (u16, Value) {
    api.post(
        &format!("/volumes/{vid}/action"),
        json!({ "os-retype": args }),
    )
}

fn in_use(admin: &Api, pid: &str, key: &str) -> i64 {
    let (_, q) = admin.get(&format!("/os-quota-sets/{pid}?usage=true"));
    q["quota_set"][key]["in_use"].as_i64().unwrap()
}

#[test]
fn same_backend_retype_changes_the_type_and_moves_the_per_type_quota() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let admin = env.admin();
    let pid = demo.project_id.clone();
    let vid = demo.available_volume(1, None);
    assert_eq!(in_use(&admin, &pid, "volumes___DEFAULT__"), 1);

    let (code, body) = retype(&demo, &vid, json!({"new_type": "glance-fast"}));
    assert_eq!(code, 202, "{body}");
    let v = demo.wait_status(&vid, "available");
    assert_eq!(v["volume_type"], "glance-fast");
    assert_eq!(in_use(&admin, &pid, "volumes___DEFAULT__"), 0);
    assert_eq!(in_use(&admin, &pid, "volumes_glance-fast"), 1);
    assert_eq!(in_use(&admin, &pid, "gigabytes_glance-fast"), 1);

    // In use: back to in-use afterwards; by type id too.
    let (aid, _) = attach(&demo, &vid);
    let (_, t) = admin.get("/types");
    let slow = t["volume_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "glance-slow")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, body) = retype(
        &demo,
        &vid,
        json!({"new_type": slow, "migration_policy": "never"}),
    );
    assert_eq!(code, 202, "{body}");
    let v = demo.wait_status(&vid, "in-use");
    assert_eq!(v["volume_type"], "glance-slow");
    // Multiattach can change only while available.
    let (code, body) = retype(&demo, &vid, json!({"new_type": "multiattach"}));
    assert_eq!(code, 400, "{body}");
    assert!(
        msg(&body).contains("retypes affecting multiattach are only allowed on available volumes"),
        "{body}"
    );
    detach(&demo, &vid, &aid);
    let (code, body) = retype(&demo, &vid, json!({"new_type": "multiattach"}));
    assert_eq!(code, 202, "{body}");
    let v = demo.wait_status(&vid, "available");
    assert_eq!(v["multiattach"], true);

    let env = env.restart();
    let demo = env.login("demo", "demo");
    assert_eq!(
        demo.wait_status(&vid, "available")["volume_type"],
        "multiattach"
    );
}

#[test]
fn a_retype_needing_another_backend_is_refused_or_migrated_on_demand() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let admin = env.admin();
    let vid = demo.available_volume(1, None);
    let host = |api: &Api, id: &str| {
        let (_, v) = api.get(&format!("/volumes/{id}"));
        v["volume"]["os-vol-host-attr:host"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(host(&admin, &vid), "cinderbox@local#local");

    // `never` (the default): the scheduler refuses; the volume is as it was.
    let (code, body) = retype(&demo, &vid, json!({"new_type": "glance-nfs"}));
    assert_eq!(code, 202, "{body}");
    let v = demo.wait_status(&vid, "available");
    assert_eq!(v["volume_type"], "__DEFAULT__");
    assert_eq!(host(&admin, &vid), "cinderbox@local#local");

    // In use with `on-demand`: migrating an attached volume needs Nova; it fails.
    let (aid, path) = attach(&demo, &vid);
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all(b"kept across the migration").unwrap();
    }
    let (code, body) = retype(
        &demo,
        &vid,
        json!({"new_type": "glance-nfs", "migration_policy": "on-demand"}),
    );
    assert_eq!(code, 202, "{body}");
    let v = admin.wait_status(&vid, "in-use");
    assert_eq!(v["volume_type"], "__DEFAULT__");
    assert_eq!(v["migration_status"], "error");
    detach(&demo, &vid, &aid);

    // Available with `on-demand`: migrated to the NFS backend, bytes kept.
    let (code, body) = retype(
        &demo,
        &vid,
        json!({"new_type": "glance-nfs", "migration_policy": "on-demand"}),
    );
    assert_eq!(code, 202, "{body}");
    let v = admin.wait_status(&vid, "available");
    assert_eq!(v["volume_type"], "glance-nfs");
    assert_eq!(v["migration_status"], "success");
    assert_eq!(host(&admin, &vid), "cinderbox@nfs-1#nfs-1");
    let file = env.dir.path().join("volumes").join(format!("volume-{vid}"));
    let mut head = [0u8; 25];
    std::io::Read::read_exact(&mut std::fs::File::open(&file).unwrap(), &mut head).unwrap();
    assert_eq!(&head, b"kept across the migration");
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 1 << 30);
}

#[test]
fn retype_refusals() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let alt = env.login("alt_demo", "alt_demo");
    let admin = env.admin();
    let vid = demo.available_volume(1, None);
    let cases = [
        (json!({}), 400, "'new_type' is a required property"),
        (json!({"new_type": 5}), 400, "is not of type 'string'"),
        (
            json!({"new_type": "glance-fast", "migration_policy": "always"}),
            400,
            "is not one of ['on-demand', 'never']",
        ),
        (
            json!({"new_type": "glance-fast", "x": 1}),
            400,
            "Additional properties are not allowed",
        ),
        (
            json!({"new_type": "no-such-type"}),
            400,
            "Invalid input received: Invalid volume_type passed: no-such-type.",
        ),
        (
            json!({"new_type": "__DEFAULT__"}),
            400,
            "Retype needs volume to be in available or in-use state",
        ),
    ];
    for (args, code, want) in cases {
        let (got, body) = retype(&demo, &vid, args.clone());
        assert_eq!(got, code, "{args}: {body}");
        assert!(msg(&body).contains(want), "{args}: {body}");
    }
    let (code, _) = retype(&alt, &vid, json!({"new_type": "glance-fast"}));
    assert_eq!(code, 404, "another project's volume");
    // The new type's own quota.
    let (code, _) = admin.put(
        &format!("/os-quota-sets/{}", demo.project_id),
        json!({"quota_set": {"volumes_glance-fast": 0}}),
    );
    assert_eq!(code, 200);
    let (code, body) = retype(&demo, &vid, json!({"new_type": "glance-fast"}));
    assert_eq!(code, 413, "{body}");
    assert!(msg(&body).contains("volumes_glance-fast"), "{body}");
    let v = demo.wait_status(&vid, "available");
    assert_eq!(v["volume_type"], "__DEFAULT__");
}

#[test]
fn faults_on_retype_and_start_up_recovery() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let ctl = Control::new(&env);
    ctl.add(json!({"id": "stuck", "operation": "volume.action.os-retype", "volume_name": "stuck", "effect": {"transition": "stay"}}));
    ctl.add(json!({"id": "broken", "operation": "volume.action.os-retype", "volume_name": "broken", "effect": {"transition": "fail"}}));
    let mk = |name: &str| {
        let (code, body) = demo.post("/volumes", json!({"volume": {"size": 1, "name": name}}));
        assert_eq!(code, 202, "{body}");
        let id = body["volume"]["id"].as_str().unwrap().to_string();
        demo.wait_status(&id, "available");
        id
    };
    let (stuck, broken) = (mk("stuck"), mk("broken"));
    assert_eq!(
        retype(&demo, &broken, json!({"new_type": "glance-fast"})).0,
        202
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        demo.wait_status(&broken, "available")["volume_type"],
        "__DEFAULT__"
    );
    assert_eq!(
        retype(&demo, &stuck, json!({"new_type": "glance-fast"})).0,
        202
    );
    demo.wait_status(&stuck, "retyping");
    std::thread::sleep(std::time::Duration::from_millis(300));
    demo.wait_status(&stuck, "retyping");

    let env = env.restart();
    let demo = env.login("demo", "demo");
    let v = demo.wait_status(&stuck, "available");
    assert_eq!(v["volume_type"], "__DEFAULT__");
}
