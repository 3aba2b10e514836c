//! Fault injection over real HTTP: every effect and trigger, the counters that prove a
//! rule fired, the request log, reset, and the control API's refusals.

use crate::common;
use crate::fault_support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{client, spawn_emulator};
use fault_support::*;
use serde_json::{json, Value};

mod holds;
mod status_lie;
mod truncate;

fn statuses(api: &common::Api, path: &str, n: usize) -> Vec<u16> {
    (0..n).map(|_| api.get(path).0).collect()
}

#[test]
fn control_api_refuses_without_an_admin_token() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let http = client();
    let base = format!("{}/_cinderbox", env.emu.base_url);
    let calls = [
        ("GET", "/faults"),
        ("POST", "/faults"),
        ("GET", "/faults/x"),
        ("DELETE", "/faults/x"),
        ("POST", "/reset"),
        ("GET", "/requests"),
    ];
    for (method, path) in calls {
        let m: reqwest::Method = method.parse().unwrap();
        let none = http
            .request(m.clone(), format!("{base}{path}"))
            .send()
            .unwrap();
        assert_eq!(none.status(), 401, "{method} {path} without a token");
        assert!(none.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Keystone uri="));
        let body: Value = none.json().unwrap();
        assert_eq!(body["error"]["code"], 401);
        let bad = http
            .request(m.clone(), format!("{base}{path}"))
            .header("X-Auth-Token", "not-a-token")
            .send()
            .unwrap();
        assert_eq!(bad.status(), 401, "{method} {path} with a bad token");
        let member = http
            .request(m, format!("{base}{path}"))
            .header("X-Auth-Token", &demo.token)
            .body("{}")
            .send()
            .unwrap();
        assert_eq!(member.status(), 403, "{method} {path} as a member");
        let body: Value = member.json().unwrap();
        assert_eq!(body["forbidden"]["code"], 403, "{body}");
    }
    // The refusals changed nothing.
    assert!(Control::new(&env).list().is_empty());
}

#[test]
fn bad_rules_are_refused_with_400_and_a_message_naming_the_field() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let cases = [
        (
            r#"{"operation": "volume.craete", "effect": "503"}"#,
            "unknown operation \"volume.craete\"",
        ),
        (
            r#"{"path": "/volume/[", "effect": "503"}"#,
            "field `path`: bad glob",
        ),
        (
            r#"{"trigger": {"probability": 1.5}, "effect": "503"}"#,
            "field `trigger.probability`: must be between 0 and 1",
        ),
        (
            r#"{"trigger": {"probability": -0.1}, "effect": "503"}"#,
            "must be between 0 and 1",
        ),
        (r#"{"effect": "teapot"}"#, "field `effect`: unknown effect"),
        (r#"{"effect": {"explode": 1}}"#, "field `effect`"),
        (
            r#"{"operation": "volume.create"}"#,
            "field `effect`: missing",
        ),
        (
            r#"{"effect": "503", "colour": "red"}"#,
            "field `colour`: unknown field",
        ),
        (
            r#"{"operation": "volume.show", "effect": {"transition": "stay"}}"#,
            "a transition applies only to",
        ),
        (r#"{"effect": {"lie": "ack"}}"#, "needs `operation`"),
        (r#"{"effect": "#, "Malformed request body"),
    ];
    ctl.assert_refused(&cases);
    ctl.add(json!({"id": "dup", "effect": "503"}));
    let (status, body) = ctl.try_add(r#"{"id": "dup", "effect": "500"}"#);
    assert_eq!(status, 409, "{body}");
    assert_eq!(ctl.list().len(), 1);
}

#[test]
fn error_shortcuts_answer_with_real_envelopes() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let api = env.admin();
    let vid = api.available_volume(1, None);
    let show = format!("/volumes/{vid}");
    let check = |effect: Value, status: u16| -> reqwest::blocking::Response {
        ctl.add(json!({"id": "e", "operation": "volume.show", "effect": effect}));
        let resp = api.call(reqwest::Method::GET, &show, None);
        assert_eq!(resp.status(), status, "{effect}");
        assert_eq!(ctl.delete("e"), 204);
        resp
    };
    let body: Value = check(json!("503"), 503).json().unwrap();
    assert_eq!(body["serviceUnavailable"]["code"], 503, "{body}");
    let body: Value = check(json!("500"), 500).json().unwrap();
    assert_eq!(body["computeFault"]["code"], 500, "{body}");
    let resp = check(json!({"error": 413, "retry_after_s": 7}), 413);
    assert_eq!(resp.headers()["retry-after"], "7");
    let body: Value = resp.json().unwrap();
    assert_eq!(body["overLimit"]["retryAfter"], "7", "{body}");
    assert!(body["overLimit"]["message"]
        .as_str()
        .unwrap()
        .contains("quota"));
    let resp = check(json!("401"), 401);
    assert!(resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("/identity/v3"));
    let body: Value = resp.json().unwrap();
    assert_eq!(body["error"]["title"], "Unauthorized", "{body}");
    let body: Value = check(
        json!({"error": 409, "key": "conflictingRequest", "message": "busy"}),
        409,
    )
    .json()
    .unwrap();
    assert_eq!(
        body,
        json!({"conflictingRequest": {"code": 409, "message": "busy"}})
    );
    // With every rule gone, the volume shows again.
    assert_eq!(api.get(&show).0, 200);
}

#[test]
fn triggers_first_nth_after_count_matches() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let api = env.admin();
    for (trigger, expected) in [
        (json!({"first": 2}), vec![503, 503, 200, 200]),
        (json!({"nth": 2}), vec![200, 503, 200, 200]),
        (json!({"after": 1}), vec![200, 503, 503, 503]),
        (json!("always"), vec![503, 503, 503, 503]),
    ] {
        ctl.add(
            json!({"id": "t", "operation": "volume.list", "trigger": trigger, "effect": "503"}),
        );
        assert_eq!(statuses(&api, "/volumes", 4), expected, "{trigger}");
        let fired = expected.iter().filter(|s| **s == 503).count() as u64;
        assert_eq!(ctl.counters("t"), (4, fired), "{trigger}");
        // Requests the rule does not match are not counted.
        assert_eq!(api.get("/types").0, 200);
        assert_eq!(ctl.counters("t").0, 4);
        assert_eq!(ctl.delete("t"), 204);
    }
    assert_eq!(ctl.delete("t"), 404);
}

#[test]
fn seeded_probability_repeats_the_same_sequence() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let api = env.admin();
    let run = |seed: u64| {
        ctl.add(json!({"id": "p", "operation": "volume.list",
                       "trigger": {"probability": 0.5, "seed": seed}, "effect": "503"}));
        let got = statuses(&api, "/volumes", 24);
        let (matched, fired) = ctl.counters("p");
        assert_eq!(matched, 24);
        assert_eq!(fired, got.iter().filter(|s| **s == 503).count() as u64);
        assert_eq!(ctl.delete("p"), 204);
        got
    };
    let first = run(42);
    assert_eq!(run(42), first, "same seed, same failures");
    assert!(first.contains(&503) && first.contains(&200), "{first:?}");
    assert_ne!(run(7), first, "another seed, another pattern");
}

#[test]
fn a_sequence_steps_through_and_its_last_step_repeats() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let api = env.admin();
    ctl.add(json!({"id": "s", "operation": "volume.list", "effect": {"sequence": ["503", {"error": 500}, "ok"]}}));
    assert_eq!(statuses(&api, "/volumes", 5), [503, 500, 200, 200, 200]);
    assert_eq!(ctl.counters("s"), (5, 2));
}

#[test]
fn latency_delays_then_the_request_proceeds() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let api = env.admin();
    ctl.add(
        json!({"id": "slow", "operation": "volume.list", "effect": {"latency_ms": [250, 300]}}),
    );
    let started = Instant::now();
    assert_eq!(api.get("/volumes").0, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(ctl.counters("slow"), (1, 1));
    let e = ctl.wait_for_request("with the latency rule", |e| e["rule"] == "slow");
    assert!(e["latency_ms"].as_u64().unwrap() >= 250, "{e}");
    assert_eq!(e["status"], 200);
}

#[test]
fn a_hang_lasts_until_the_client_gives_up_and_is_bounded() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let api = env.admin();
    ctl.add(
        json!({"id": "hang", "operation": "volume.list", "trigger": {"first": 1},
                   "effect": {"hang": true, "max_ms": 10000}}),
    );
    let impatient = reqwest::blocking::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = impatient
        .get(api.url("/volumes"))
        .header("X-Auth-Token", &api.token)
        .send()
        .expect_err("the hang outlasts the client");
    assert!(err.is_timeout(), "{err}");
    let e = ctl.wait_for_request("for the abandoned hang", |e| e["rule"] == "hang");
    assert_eq!(e["status"], Value::Null, "{e}");
    // What happened, not how long it took: the client left while the hang still held
    // the request (a hang that ran out would be noted "hang ended: connection closed").
    assert_eq!(e["note"], "hang", "{e}");
    assert_eq!(e["operation"], "volume.list");
    // The next request is not hung (first = 1).
    assert_eq!(api.get("/volumes").0, 200);

    // Bounded: after max_ms the server closes the connection itself.
    ctl.add(
        json!({"id": "short", "operation": "volume.show", "effect": {"hang": true, "max_ms": 200}}),
    );
    let started = Instant::now();
    let err = api
        .http
        .get(api.url("/volumes/x"))
        .header("X-Auth-Token", &api.token)
        .send()
        .expect_err("closed without an answer");
    assert!(!err.is_timeout(), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[test]
fn close_drops_the_connection_without_a_response() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let api = env.admin();
    ctl.add(json!({"id": "rst", "operation": "volume.list", "effect": "close"}));
    // A raw client sees the connection end with not a single byte of response.
    let mut sock = std::net::TcpStream::connect(env.emu.addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        sock,
        "GET /volume/v3/{}/volumes HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {}\r\n\r\n",
        api.project_id, api.token
    )
    .unwrap();
    let mut got = Vec::new();
    let _ = sock.read_to_end(&mut got);
    assert!(got.is_empty(), "got {:?}", String::from_utf8_lossy(&got));
    // reqwest reports a connection error, not a status.
    let err = api
        .http
        .get(api.url("/volumes"))
        .header("X-Auth-Token", &api.token)
        .send()
        .expect_err("no response");
    assert!(
        err.is_request() || err.is_connect() || err.to_string().contains("error"),
        "{err}"
    );
    assert_eq!(ctl.counters("rst"), (2, 2));
    let e = ctl.wait_for_request("closed", |e| e["rule"] == "rst");
    assert_eq!(e["status"], Value::Null);
    assert_eq!(e["note"], "connection closed");
}

#[test]
fn transitions_stay_fail_and_slow_down() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let api = env.admin();
    ctl.add(json!({"id": "stay", "operation": "volume.create", "volume_name": "stuck-*", "effect": {"transition": "stay"}}));
    ctl.add(json!({"id": "fail", "operation": "volume.create", "volume_name": "broken-*", "effect": {"transition": "fail"}}));
    ctl.add(json!({"id": "slow", "operation": "volume.create", "volume_name": "slow-*", "effect": {"transition": "slow", "delay_ms": 400}}));
    ctl.add(json!({"id": "ext", "operation": "volume.action.os-extend", "effect": {"transition": "fail"}}));
    ctl.add(json!({"id": "del", "operation": "volume.delete", "volume_metadata": {"del": "fail"}, "effect": {"transition": "fail"}}));

    let stuck = create_named(&api, "stuck-1", None);
    let broken = create_named(&api, "broken-1", None);
    let started = Instant::now();
    let slow = create_named(&api, "slow-1", None);
    let normal = create_named(&api, "normal", None);
    api.wait_status(&normal, "available");
    api.wait_status(&broken, "error");
    api.wait_status(&slow, "available");
    assert!(started.elapsed() >= Duration::from_millis(400));
    // Long after the normal delay (100 ms), the stuck one is still creating.
    assert_eq!(
        api.get(&format!("/volumes/{stuck}")).1["volume"]["status"],
        "creating"
    );
    for id in ["stay", "fail", "slow"] {
        assert_eq!(ctl.counters(id).1, 1, "{id}");
    }
    assert_eq!(
        ctl.counters("stay").0,
        1,
        "other volumes did not match by name"
    );

    let (s, b) = api.post(
        &format!("/volumes/{normal}/action"),
        json!({"os-extend": {"new_size": 2}}),
    );
    assert_eq!(s, 202, "{b}");
    let v = api.wait_status(&normal, "error_extending");
    assert_eq!(v["size"], 1);

    let (s, _) = api.put(
        &format!("/volumes/{slow}/metadata"),
        json!({"metadata": {"del": "fail"}}),
    );
    assert_eq!(s, 200);
    assert_eq!(api.delete(&format!("/volumes/{slow}")).0, 202);
    api.wait_status(&slow, "error_deleting");
    assert_eq!(ctl.counters("del"), (1, 1));
}

#[test]
fn a_transition_can_stay_for_a_while_then_finish() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let api = env.admin();
    ctl.add(json!({"id": "for", "operation": "volume.create", "effect": {"transition": "stay", "for_ms": 300}}));
    let started = Instant::now();
    let id = api.create_volume(1, None);
    api.wait_status(&id, "available");
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn lies_are_told_and_a_careful_client_can_catch_them() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let api = env.admin().at("3.54");
    let vid = api.available_volume(1, None);

    ctl.add(json!({"id": "md", "operation": ["volume.metadata.create", "volume.metadata.update_key"], "effect": {"lie": "ack"}}));
    let (s, b) = api.post(
        &format!("/volumes/{vid}/metadata"),
        json!({"metadata": {"image_size": "42"}}),
    );
    assert_eq!(
        (s, &b["metadata"]["image_size"]),
        (200, &json!("42")),
        "acknowledged"
    );
    let (_, b) = api.get(&format!("/volumes/{vid}/metadata"));
    assert!(
        b["metadata"].get("image_size").is_none(),
        "but not applied: {b}"
    );
    assert_eq!(ctl.counters("md"), (1, 1));

    ctl.add(json!({"id": "del", "operation": "volume.delete", "effect": {"lie": "ack"}}));
    assert_eq!(api.delete(&format!("/volumes/{vid}")).0, 202);
    // A delete that was really applied would leave the volume `deleting` at once.
    assert_eq!(
        api.get(&format!("/volumes/{vid}")).1["volume"]["status"],
        "available"
    );
    // A missing volume is still a 404 (the lie needs something to lie about).
    let missing = "00000000-0000-0000-0000-000000000000";
    assert_eq!(api.delete(&format!("/volumes/{missing}")).0, 404);

    ctl.add(json!({"id": "type", "operation": "volume.create", "effect": {"lie": "volume_type", "volume_type": "glance-old"}}));
    let (s, b) = api.post(
        "/volumes",
        json!({"volume": {"size": 1, "volume_type": "glance-fast"}}),
    );
    assert_eq!(s, 202, "{b}");
    assert_eq!(b["volume"]["volume_type"], "glance-old");
    let id = b["volume"]["id"].as_str().unwrap();
    assert_eq!(
        api.wait_status(id, "available")["volume_type"],
        "glance-old"
    );
}

#[test]
fn an_error_can_be_answered_after_the_operation_was_applied() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let api = env.admin();
    ctl.add(json!({"id": "fn", "operation": "volume.create", "effect": {"error": 500, "applied": true}}));
    let (s, _) = api.post("/volumes", json!({"volume": {"size": 1}}));
    assert_eq!(s, 500);
    let (_, b) = api.get("/volumes");
    assert_eq!(
        b["volumes"].as_array().unwrap().len(),
        1,
        "the volume exists: {b}"
    );
}

#[test]
fn rules_match_by_project_type_metadata_method_and_path() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let admin = env.admin();
    let demo = env.login("demo", "demo");
    let fast = admin.available_volume(1, Some("glance-fast"));
    let slow = admin.available_volume(1, Some("glance-slow"));

    ctl.add(json!({"id": "proj", "project": "demo", "operation": "volume.list", "effect": "503"}));
    assert_eq!(
        (demo.get("/volumes").0, admin.get("/volumes").0),
        (503, 200)
    );
    ctl.add(json!({"id": "type", "volume_type": "glance-slow", "effect": "503"}));
    assert_eq!(admin.get(&format!("/volumes/{slow}")).0, 503);
    assert_eq!(admin.get(&format!("/volumes/{fast}")).0, 200);
    ctl.add(json!({"id": "md", "operation": "volume.create", "volume_metadata": {"glance_image_id": "*"}, "effect": "503"}));
    let (s, _) = admin.post(
        "/volumes",
        json!({"volume": {"size": 1, "metadata": {"glance_image_id": "i1"}}}),
    );
    assert_eq!(s, 503);
    ctl.add(json!({"id": "path", "method": "DELETE", "path": "/volume/v3/*/volumes/*", "effect": "409"}));
    assert_eq!(admin.delete(&format!("/volumes/{fast}")).0, 409);
    assert_eq!(admin.get(&format!("/volumes/{fast}")).0, 200);
    assert_eq!(ctl.counters("path"), (1, 1));
}

#[test]
fn keystone_token_creation_can_fail_too() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    ctl.add(json!({"id": "ks", "operation": "keystone.token.create", "project": "demo", "trigger": {"first": 1}, "effect": "503"}));
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "demo", "domain": {"name": "Default"}, "password": "demo"}}},
        "scope": {"project": {"name": "demo", "domain": {"name": "Default"}}}}});
    let url = format!("{}/identity/v3/auth/tokens", env.emu.base_url);
    let resp = client().post(&url).json(&body).send().unwrap();
    assert_eq!(resp.status(), 503);
    let err: Value = resp.json().unwrap();
    assert_eq!(err["error"]["code"], 503, "Keystone's envelope: {err}");
    assert_eq!(
        client().post(&url).json(&body).send().unwrap().status(),
        201
    );
    assert_eq!(
        ctl.counters("ks"),
        (2, 1),
        "the admin login (another project) did not match"
    );
    let e = ctl.wait_for_request("token create", |e| e["rule"] == "ks");
    assert_eq!(e["operation"], "keystone.token.create");
    assert_eq!(e["status"], 503);
}

#[test]
fn the_request_log_records_operation_status_project_and_rule() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let api = env.admin();
    ctl.add(
        json!({"id": "nth", "operation": "volume.list", "trigger": {"nth": 2}, "effect": "503"}),
    );
    statuses(&api, "/volumes", 3);
    let log = ctl.requests(Some(3));
    assert_eq!(log.len(), 3, "{log:?}");
    let got: Vec<(Value, Value, Value)> = log
        .iter()
        .map(|e| {
            (
                e["operation"].clone(),
                e["status"].clone(),
                e["rule"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (json!("volume.list"), json!(200), Value::Null),
            (json!("volume.list"), json!(503), json!("nth")),
            (json!("volume.list"), json!(200), Value::Null),
        ]
    );
    for e in &log {
        assert_eq!(e["project_id"], json!(api.project_id));
        assert_eq!(e["method"], "GET");
        assert!(e["path"].as_str().unwrap().ends_with("/volumes"));
        assert!(e["latency_ms"].is_u64() && e["time"].is_string(), "{e}");
    }
    assert!(
        log[0]["seq"].as_u64() < log[2]["seq"].as_u64(),
        "oldest first"
    );
    // The control API's own calls are not logged; the login is.
    let all = ctl.requests(None);
    assert!(all
        .iter()
        .all(|e| !e["path"].as_str().unwrap().starts_with("/_cinderbox")));
    assert!(all
        .iter()
        .any(|e| e["operation"] == "keystone.token.create"));
    assert_eq!(ctl.requests(Some(0)).len(), 0);
}

#[test]
fn reset_restores_the_configured_world() {
    let env = spawn_with_scenario(
        "[[rule]]\nid = \"from-file\"\noperation = \"volume.show\"\nvolume_name = \"nothing-*\"\neffect = \"503\"\n",
    );
    let ctl = Control::new(&env);
    let api = env.admin();
    let vid = api.available_volume(1, None);
    assert!(env.emu.app.files.exists(vid.parse().unwrap()));
    let (_, t) = api.get("/types");
    let glance_old = t["volume_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "glance-old")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(api.delete(&format!("/types/{glance_old}")).0, 202);
    ctl.add(json!({"id": "api-rule", "effect": {"latency_ms": 1}}));
    api.get("/volumes");
    assert_eq!(ctl.list().len(), 2);

    let body = ctl.reset();
    assert_eq!(body["reset"]["faults"], 1);
    let rules = ctl.list();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (&rules[0]["id"], &rules[0]["source"], &rules[0]["matched"]),
        (&json!("from-file"), &json!("scenario"), &json!(0))
    );
    assert_eq!(api.get("/volumes").1["volumes"], json!([]));
    assert!(
        !env.emu.app.files.exists(vid.parse().unwrap()),
        "volume files are gone"
    );
    let (_, t) = api.get("/types");
    assert!(
        t["volume_types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "glance-old"),
        "types re-seeded"
    );
    // The world works as before: a new volume becomes available.
    api.available_volume(1, None);
}

#[test]
fn bit_rot_flips_written_bytes_when_the_volume_is_next_attached() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let api = env.admin().at("3.54");
    let vid = api.available_volume(1, None);
    ctl.add(json!({"id": "rot", "effect": {"bit_rot": 8, "seed": 3}}));
    let attach = |api: &common::Api| fault_support::attach_rw(api, &vid);
    // An empty volume has nothing to rot: the attach does not count.
    let (a1, path) = attach(&api);
    assert_eq!(ctl.counters("rot"), (0, 0));
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8 + 1).collect();
    let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.write_all(&data).unwrap();
    drop(f);
    assert_eq!(api.delete(&format!("/attachments/{a1}")).0, 200);
    let (a2, _) = attach(&api);
    assert_eq!(ctl.counters("rot"), (1, 1));
    let mut back = vec![0u8; data.len()];
    std::fs::File::open(&path)
        .unwrap()
        .read_exact(&mut back)
        .unwrap();
    let flipped = data.iter().zip(&back).filter(|(a, b)| a != b).count();
    assert!((1..=8).contains(&flipped), "{flipped} bytes differ");
    assert_eq!(api.delete(&format!("/attachments/{a2}")).0, 200);
}

#[test]
fn a_bad_scenario_file_is_refused_at_start_naming_rule_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[rule]]\neffect = \"503\"\n[[rule]]\nid = \"oops\"\ntrigger = { probability = 2 }\neffect = \"503\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cinderbox-emulator"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--scenario")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rule 2 (id \"oops\"): field `trigger.probability`: must be between 0 and 1"),
        "{err}"
    );
}
