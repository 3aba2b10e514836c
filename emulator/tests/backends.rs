//! The backend topology over real HTTP: `/os-services` (list, filters, enable/disable
//! with reason, freeze/thaw), `/os-hosts`, `/scheduler-stats/get_pools`,
//! `/capabilities/{host}`, the scheduler (a type no pool satisfies gives an `error`
//! volume and a user message) and `/messages` — admin-only refusals, project
//! isolation, microversion gates and restart persistence.

use crate::common;

use common::{spawn_emulator, Api};
use serde_json::{json, Value};

fn message(body: &Value) -> String {
    body.as_object()
        .and_then(|o| o.values().next())
        .and_then(|f| f["message"].as_str())
        .unwrap_or_else(|| panic!("no fault message in {body}"))
        .to_string()
}

fn services(admin: &Api, query: &str) -> Vec<Value> {
    let (code, body) = admin.get(&format!("/os-services{query}"));
    assert_eq!(code, 200, "{body}");
    body["services"].as_array().unwrap().clone()
}

#[test]
fn services_list_filter_and_refuse_members() {
    let env = spawn_emulator();
    let admin = env.admin();
    let all = services(&admin, "");
    let pairs: Vec<(String, String)> = all
        .iter()
        .map(|s| {
            (
                s["binary"].as_str().unwrap().into(),
                s["host"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("cinder-scheduler".into(), "cinderbox".into()),
            ("cinder-volume".into(), "cinderbox@local".into()),
            ("cinder-volume".into(), "cinderbox@nfs-1".into())
        ]
    );
    let vol = &all[1];
    assert_eq!(vol["status"], "enabled");
    assert_eq!(vol["state"], "up");
    assert_eq!(vol["frozen"], false);
    assert_eq!(vol["zone"], "nova");
    assert!(vol.get("cluster").is_none(), "cluster only from 3.7: {vol}");
    assert!(
        all[0].get("frozen").is_none(),
        "scheduler has no frozen: {}",
        all[0]
    );
    let at37 = admin.at("3.7").get("/os-services").1;
    assert!(at37["services"][0].get("cluster").is_some(), "{at37}");

    assert_eq!(services(&admin, "?binary=cinder-volume").len(), 2);
    assert_eq!(
        services(&admin, "?host=cinderbox").len(),
        3,
        "host matches host@backend"
    );
    assert_eq!(
        services(&admin, "?host=cinderbox@local&binary=cinder-volume").len(),
        1
    );
    assert!(services(&admin, "?host=nowhere").is_empty());

    let demo = env.login("demo", "demo");
    let (code, body) = demo.get("/os-services");
    assert_eq!(code, 403, "{body}");
    let (code, _) = demo.put(
        "/os-services/disable",
        json!({"host": "cinderbox", "binary": "cinder-scheduler"}),
    );
    assert_eq!(code, 403);
}

#[test]
fn disable_with_reason_freeze_thaw_and_they_survive_a_restart() {
    let env = spawn_emulator();
    let admin = env.admin();
    let (code, body) = admin.put(
        "/os-services/disable-log-reason",
        json!({"host": "cinderbox@local", "binary": "cinder-volume", "disabled_reason": "maintenance"}),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["disabled"], true);
    assert_eq!(body["status"], "disabled");
    assert_eq!(body["disabled_reason"], "maintenance");
    let (code, body) = admin.put(
        "/os-services/disable-log-reason",
        json!({"host": "cinderbox@local", "binary": "cinder-volume", "disabled_reason": null}),
    );
    assert_eq!(code, 400, "{body}");
    let (code, body) = admin.put(
        "/os-services/enable",
        json!({"host": "invalid_host", "binary": "cinder-volume"}),
    );
    assert_eq!(code, 404, "{body}");
    assert_eq!(message(&body), "Service invalid_host could not be found.");
    let (code, _) = admin.put(
        "/os-services/disable",
        json!({"host": "cinderbox", "binary": "invalid_binary"}),
    );
    assert_eq!(code, 404);
    let (code, body) = admin.put(
        "/os-services/enable",
        json!({"host": "cinderbox", "binary": "cinder-volume", "x": 1}),
    );
    assert_eq!(code, 400, "{body}");

    // A disabled volume service takes no new volumes: with both of the default world's
    // backends disabled there is no valid host, so an error volume.
    let (code, body) = admin.put(
        "/os-services/disable",
        json!({"host": "cinderbox@nfs-1", "binary": "cinder-volume"}),
    );
    assert_eq!(code, 200, "{body}");
    let id = admin.create_volume(1, None);
    let v = admin.wait_status(&id, "error");
    assert_eq!(v["os-vol-host-attr:host"], Value::Null);

    let (code, body) = admin.put("/os-services/freeze", json!({"host": "invalid_host"}));
    assert_eq!(code, 400, "{body}");
    let (code, body) = admin.put("/os-services/thaw", json!({"host": "cinderbox@local"}));
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        message(&body),
        "Invalid input received: No service could be changed: frozen in ['cinderbox@local'] must be True to failover.",
        "{body}"
    );
    let (code, body) = admin.put("/os-services/freeze", json!({"host": "cinderbox@local"}));
    assert_eq!(code, 200, "{body}");
    let (code, _) = admin.put("/os-services/freeze", json!({"host": "cinderbox@local"}));
    assert_eq!(code, 400, "already frozen");

    let env = env.restart();
    let admin = env.admin();
    let vol = services(&admin, "?binary=cinder-volume").remove(0);
    assert_eq!(vol["frozen"], true, "{vol}");
    assert_eq!(vol["status"], "disabled");
    assert_eq!(vol["disabled_reason"], "frozen");
    let (code, _) = admin.put("/os-services/thaw", json!({"host": "cinderbox@local"}));
    assert_eq!(code, 200);
    let vol = services(&admin, "?binary=cinder-volume").remove(0);
    assert_eq!(
        (vol["frozen"].clone(), vol["status"].clone()),
        (json!(false), json!("enabled"))
    );
    let id = admin.create_volume(1, None);
    let v = admin.wait_status(&id, "available");
    assert_eq!(v["os-vol-host-attr:host"], "cinderbox@local#local");
}

#[test]
fn pools_capabilities_and_hosts_from_the_topology() {
    let env = spawn_emulator();
    let admin = env.admin();
    let (code, body) = admin.get("/scheduler-stats/get_pools");
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body,
        json!({"pools": [{"name": "cinderbox@local#local"}, {"name": "cinderbox@nfs-1#nfs-1"}]})
    );
    let before = admin.get("/scheduler-stats/get_pools?detail=true").1;
    let caps = &before["pools"][0]["capabilities"];
    assert_eq!(caps["volume_backend_name"], "local");
    assert_eq!(caps["storage_protocol"], "local");
    assert_eq!(caps["total_capacity_gb"], 10000);
    assert_eq!(caps["free_capacity_gb"], 10000);
    let id = admin.available_volume(3, None);
    let after = admin.get("/scheduler-stats/get_pools?detail=true").1;
    assert_eq!(after["pools"][0]["capabilities"]["free_capacity_gb"], 9997);
    // 3.28 filters.
    let none = admin
        .at("3.28")
        .get("/scheduler-stats/get_pools?name=nope")
        .1;
    assert_eq!(none["pools"], json!([]));

    let (code, body) = admin.get("/capabilities/cinderbox@local");
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["namespace"],
        "OS::Storage::Capabilities::cinderbox@local"
    );
    assert_eq!(body["vendor_name"], "cinderbox");
    let (code, _) = admin.get("/capabilities/elsewhere");
    assert_eq!(code, 404);

    let (code, body) = admin.get("/os-hosts");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["hosts"].as_array().unwrap().len(), 3, "{body}");
    let (code, body) = admin.get("/os-hosts/cinderbox@local");
    assert_eq!(code, 200, "{body}");
    let total = &body["host"][0]["resource"];
    assert_eq!(
        (
            total["project"].clone(),
            total["volume_count"].clone(),
            total["total_volume_gb"].clone()
        ),
        (json!("(total)"), json!("1"), json!("3"))
    );
    assert_eq!(
        body["host"][1]["resource"]["project"],
        admin.project_id.as_str()
    );
    let (code, _) = admin.get("/os-hosts/cinderbox@nowhere");
    assert_eq!(code, 404);
    let _ = id;

    let demo = env.login("demo", "demo");
    for path in [
        "/scheduler-stats/get_pools",
        "/capabilities/cinderbox@local",
        "/os-hosts",
    ] {
        assert_eq!(demo.get(path).0, 403, "{path}");
    }
}

#[test]
fn a_type_no_backend_satisfies_gives_an_error_volume_and_a_user_message() {
    let env = spawn_emulator();
    let admin = env.admin();
    let (code, body) = admin.post(
        "/types",
        json!({"volume_type": {"name": "bogus", "extra_specs": {"storage_protocol": "bogus", "vendor_name": "nobody"}}}),
    );
    assert_eq!(code, 200, "{body}");
    let id = admin.create_volume(1, Some("bogus"));
    admin.wait_status(&id, "error");

    // Messages need 3.3.
    assert_eq!(admin.get("/messages").0, 404);
    let api = admin.at("3.3");
    let (code, body) = api.get("/messages");
    assert_eq!(code, 200, "{body}");
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1, "{body}");
    let m = &msgs[0];
    assert_eq!(m["event_id"], "VOLUME_VOLUME_001_003");
    assert_eq!(
        m["user_message"],
        "schedule allocate volume: Could not find any available weighted backend."
    );
    assert_eq!(m["resource_uuid"], id.as_str());
    assert_eq!(m["message_level"], "ERROR");
    let mid = m["id"].as_str().unwrap().to_string();

    // Another project sees none of it.
    let demo = env.login("demo", "demo").at("3.3");
    assert_eq!(demo.get("/messages").1["messages"], json!([]));
    assert_eq!(demo.get(&format!("/messages/{mid}")).0, 404);

    let env = env.restart();
    let api = env.admin().at("3.3");
    let (code, body) = api.get(&format!("/messages/{mid}"));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["message"]["id"], mid.as_str());
    assert_eq!(api.delete(&format!("/messages/{mid}")).0, 204);
    assert_eq!(api.get(&format!("/messages/{mid}")).0, 404);
}
