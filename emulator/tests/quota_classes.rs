//! Quota classes over real HTTP: the `default` class's show and update (admin only),
//! every project's defaults following it (projects with their own world quotas and API
//! overrides excepted), validation, and persistence across a restart.

use crate::common;

use common::spawn_emulator;
use serde_json::{json, Value};

fn msg(body: &Value) -> String {
    body.as_object()
        .and_then(|o| o.values().next())
        .and_then(|f| f["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn default_class_show_and_update_set_every_projects_defaults() {
    let env = spawn_emulator();
    let admin = env.admin();
    let demo = env.login("demo", "demo");

    let (code, body) = admin.get("/os-quota-class-sets/default");
    assert_eq!(code, 200, "{body}");
    let set = &body["quota_class_set"];
    assert_eq!(set["id"], "default");
    assert_eq!(set["volumes"], 10);
    assert_eq!(set["backup_gigabytes"], 1000);
    assert_eq!(set["per_volume_gigabytes"], -1);
    assert_eq!(set["volumes___DEFAULT__"], -1);

    let (code, body) = demo.get("/os-quota-class-sets/default");
    assert_eq!(code, 403, "{body}");
    assert!(msg(&body).contains("volume_extension:quota_classes:get"));
    let (code, _) = demo.put(
        "/os-quota-class-sets/default",
        json!({"quota_class_set": {"volumes": 99}}),
    );
    assert_eq!(code, 403);

    let (code, body) = admin.put(
        "/os-quota-class-sets/default",
        json!({"quota_class_set": {"volumes": 11, "backups": "12", "gigabytes_glance-fast": 7}}),
    );
    assert_eq!(code, 200, "{body}");
    let set = &body["quota_class_set"];
    assert!(set.get("id").is_none(), "update answers without id: {set}");
    assert_eq!(set["volumes"], 11);
    assert_eq!(set["backups"], 12);
    assert_eq!(set["gigabytes_glance-fast"], 7);
    assert_eq!(set["snapshots"], 10);

    // Projects without their own limits follow the class.
    let (_, d) = demo.get(&format!("/os-quota-sets/{}/defaults", demo.project_id));
    assert_eq!(d["quota_set"]["volumes"], 11);
    assert_eq!(d["quota_set"]["gigabytes_glance-fast"], 7);
    let (_, q) = demo.get(&format!("/os-quota-sets/{}", demo.project_id));
    assert_eq!(q["quota_set"]["backups"], 12);
    let (_, l) = demo.get("/limits");
    assert_eq!(l["limits"]["absolute"]["maxTotalVolumes"], 11);
    assert_eq!(l["limits"]["absolute"]["maxTotalBackups"], 12);
    // The world gives `service` unlimited volumes: that stays its own.
    let glance = env.login("glance", "service");
    let (_, s) = glance.get(&format!("/os-quota-sets/{}", glance.project_id));
    assert_eq!(s["quota_set"]["volumes"], -1);
    assert_eq!(s["quota_set"]["backups"], 12);
    // An API override beats the class.
    let (code, _) = admin.put(
        &format!("/os-quota-sets/{}", demo.project_id),
        json!({"quota_set": {"volumes": 3}}),
    );
    assert_eq!(code, 200);
    let (_, q) = demo.get(&format!("/os-quota-sets/{}", demo.project_id));
    assert_eq!(q["quota_set"]["volumes"], 3);

    // Another class falls back to the default class for what it does not name.
    let (code, body) = admin.put(
        "/os-quota-class-sets/gold",
        json!({"quota_class_set": {"snapshots": 50}}),
    );
    assert_eq!(code, 200, "{body}");
    let (_, g) = admin.get("/os-quota-class-sets/gold");
    assert_eq!(g["quota_class_set"]["id"], "gold");
    assert_eq!(g["quota_class_set"]["snapshots"], 50);
    assert_eq!(g["quota_class_set"]["volumes"], 11);

    let env = env.restart();
    let admin = env.admin();
    let (_, body) = admin.get("/os-quota-class-sets/default");
    assert_eq!(body["quota_class_set"]["volumes"], 11, "survives a restart");
    assert_eq!(body["quota_class_set"]["gigabytes_glance-fast"], 7);
}

#[test]
fn bad_quota_class_bodies_are_refused_and_change_nothing() {
    let env = spawn_emulator();
    let admin = env.admin();
    let cases = [
        (
            json!({"quota_class_set": {"volumes": -2}}),
            "-2 is less than the minimum of -1",
        ),
        (
            json!({"quota_class_set": {"volumes": "x"}}),
            "does not match '^[0-9]*$'",
        ),
        (
            json!({"quota_class_set": {"volumes": 1.5}}),
            "is not of type 'integer', 'string'",
        ),
        (
            json!({"quota_class_set": {"volumes": 1, "nonsense": 1}}),
            "Bad key(s) in quota class set: nonsense",
        ),
        (
            json!({"quota_class_set": {"bad/key": 1}}),
            "Additional properties are not allowed",
        ),
        (json!({"quota": {"volumes": 1}}), "quota_class_set"),
    ];
    for (body, want) in cases {
        let (code, answer) = admin.put("/os-quota-class-sets/default", body.clone());
        assert_eq!(code, 400, "{body}: {answer}");
        assert!(msg(&answer).contains(want), "{body}: {answer}");
    }
    let (_, body) = admin.get("/os-quota-class-sets/default");
    assert_eq!(body["quota_class_set"]["volumes"], 10);
    let long = "c".repeat(256);
    let (code, body) = admin.put(
        &format!("/os-quota-class-sets/{long}"),
        json!({"quota_class_set": {"volumes": 1}}),
    );
    assert_eq!(code, 400, "{body}");
    assert!(msg(&body).contains("more than 255"), "{body}");
}
