//! The dashboard (`/_cinderbox/`): its page and script are served, its JSON shows
//! volumes with their status timeline, attachments, fault rules with counters and the
//! request log; the JSON needs an admin token, or `--dashboard-open` and no token.

use std::sync::atomic::Ordering;

use serde_json::{json, Value};

use crate::common::{client, spawn_emulator, Env};
use crate::fault_support::Control;

fn dashboard(env: &Env, token: Option<&str>) -> (u16, Value) {
    let mut rb = client().get(format!("{}/_cinderbox/dashboard.json", env.emu.base_url));
    if let Some(t) = token {
        rb = rb.header("X-Auth-Token", t);
    }
    let resp = rb.send().unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

#[test]
fn the_page_and_its_script_are_served_from_the_binary() {
    let env = spawn_emulator();
    let page = client()
        .get(format!("{}/_cinderbox/", env.emu.base_url))
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().unwrap();
    assert!(
        html.contains(r#"<script src="/_cinderbox/dashboard.js">"#),
        "{html}"
    );
    assert!(html.contains(r#"id="volumes""#));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no CDN"
    );
    let js = client()
        .get(format!("{}/_cinderbox/dashboard.js", env.emu.base_url))
        .send()
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(js.text().unwrap().contains("/_cinderbox/dashboard.json"));
}

#[test]
fn admin_sees_volumes_with_their_timeline_rules_with_counters_and_requests() {
    let env = spawn_emulator();
    let admin = env.admin();
    let demo = env.login("demo", "demo");
    let id = demo.available_volume(1, None);
    let control = Control::new(&env);
    let rule = control.add(json!({
        "id": "no-extend", "operation": "volume.action.os-extend", "effect": "503"
    }));
    assert_eq!(rule["fired"], 0);
    let (st, _) = demo.post(
        &format!("/volumes/{id}/action"),
        json!({"os-extend": {"new_size": 2}}),
    );
    assert_eq!(st, 503);

    let (st, d) = dashboard(&env, Some(&admin.token));
    assert_eq!(st, 200, "{d}");
    let vols = d["volumes"].as_array().unwrap();
    let v = vols
        .iter()
        .find(|v| v["id"] == id.as_str())
        .expect("volume listed");
    assert_eq!(v["status"], "available");
    assert_eq!(v["project_id"], demo.project_id.as_str());
    let steps: Vec<(Value, Value)> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["from"].clone(), s["to"].clone()))
        .collect();
    assert_eq!(
        steps,
        [
            (Value::Null, json!("creating")),
            (json!("creating"), json!("available"))
        ]
    );
    let r = d["faults"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "no-extend")
        .expect("rule listed");
    assert_eq!(
        (r["matched"].clone(), r["fired"].clone()),
        (json!(1), json!(1))
    );
    let fired: Vec<&Value> = d["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["rule"] == "no-extend")
        .collect();
    assert_eq!(fired.len(), 1, "{}", d["requests"]);
    assert_eq!(fired[0]["operation"], "volume.action.os-extend");
    assert_eq!(fired[0]["status"], 503);
    assert!(d["attachments"].as_array().unwrap().is_empty());

    // A delete ends the timeline with the volume gone (and takes it off the list).
    let (st, _) = demo.delete(&format!("/volumes/{id}"));
    assert_eq!(st, 202);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, d) = dashboard(&env, Some(&admin.token));
        if d["volumes"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "volume never deleted: {d}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let last = env.emu.app.edge.timeline.all().pop().unwrap();
    assert_eq!((last.from, last.to), (Some("deleting"), None));
}

#[test]
fn attachments_are_listed() {
    let env = spawn_emulator();
    let admin = env.admin();
    let demo = env.login("demo", "demo").at("3.27");
    let id = demo.available_volume(1, None);
    let (st, body) = demo.post(
        "/attachments",
        json!({"attachment": {"volume_uuid": id, "instance_uuid": uuid::Uuid::new_v4()}}),
    );
    assert_eq!(st, 200, "{body}");
    let (_, d) = dashboard(&env, Some(&admin.token));
    let a = &d["attachments"].as_array().unwrap()[0];
    assert_eq!(a["volume_id"], id.as_str());
    assert_eq!(a["id"], body["attachment"]["id"]);
    assert_eq!(a["status"], "reserved");
}

#[test]
fn members_and_anonymous_callers_are_refused_unless_the_local_switch_is_on() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    demo.create_volume(1, None);
    assert_eq!(dashboard(&env, Some(&demo.token)).0, 403);
    assert_eq!(dashboard(&env, None).0, 401);
    assert_eq!(dashboard(&env, Some("not-a-token")).0, 401);

    env.emu
        .app
        .edge
        .dashboard_open
        .store(true, Ordering::Relaxed);
    // Our client is on loopback: no token is enough now…
    let (st, d) = dashboard(&env, None);
    assert_eq!(st, 200);
    assert_eq!(d["volumes"].as_array().unwrap().len(), 1);
    // …but a member's token is still a member's.
    assert_eq!(dashboard(&env, Some(&demo.token)).0, 403);
}
