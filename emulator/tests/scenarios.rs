//! The scenario files in fixtures/scenarios/: each parses, is documented, and does to
//! a plain HTTP client what its header says — the groundwork the driver-vs-scenario
//! tests build on.

use crate::common;
use crate::fault_support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use cinderbox_emulator::faults::Scenario;
use common::{Api, Env};
use fault_support::*;
use serde_json::{json, Value};

/// The scenarios the issue asks for, plus the planted bugs of the conformance suite.
const REQUIRED: &[&str] = &[
    "slow-create",
    "stuck-creating",
    "error-on-create",
    "attach-503-then-ok",
    "extend-fails",
    "delete-stuck",
    "over-quota",
    "token-expiry-storm",
    "flaky-10-percent",
    "hang-on-attachment-update",
    "bit-rot",
    "wrong-volume-type",
    "lost-metadata-write",
    "silent-delete",
];

#[test]
fn every_fixture_scenario_parses_and_is_documented() {
    let dir = fixture("x").parent().unwrap().to_path_buf();
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!s.rules.is_empty(), "{name}: no rules");
        assert!(s.description.is_some(), "{name}: no description");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(&format!("# {name}")),
            "{name}: header comment names it"
        );
        assert!(
            text.contains("# Use: cinderbox-emulator serve --scenario"),
            "{name}: says how to use it"
        );
        seen.push(name);
    }
    for name in REQUIRED {
        assert!(
            seen.iter().any(|s| s == name),
            "fixtures/scenarios/{name}.toml is missing"
        );
    }
}

fn load(name: &str) -> (Env, Control) {
    let env = spawn_with(Scenario::load(&fixture(name)).unwrap());
    let ctl = Control::new(&env);
    (env, ctl)
}

/// Asserts the volume keeps `status` for `d` (polled, not slept through).
fn assert_stays(api: &Api, id: &str, status: &str, d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        let (_, b) = api.get(&format!("/volumes/{id}"));
        assert_eq!(b["volume"]["status"], status, "{b}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn slow_create_takes_two_seconds_then_succeeds() {
    let (env, ctl) = load("slow-create");
    let api = env.admin();
    let started = Instant::now();
    let id = api.create_volume(1, None);
    api.wait_status(&id, "available");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(ctl.counters("slow-create"), (1, 1));
}

#[test]
fn stuck_creating_never_finishes() {
    let (env, ctl) = load("stuck-creating");
    let api = env.admin();
    let id = api.create_volume(1, None);
    wait_fired(&ctl, "stuck-creating", 1);
    assert_stays(&api, &id, "creating", Duration::from_millis(500));
}

#[test]
fn error_on_create_ends_in_error_and_the_volume_can_be_deleted() {
    let (env, ctl) = load("error-on-create");
    let api = env.admin();
    let id = api.create_volume(1, None);
    api.wait_status(&id, "error");
    assert_eq!(ctl.counters("error-on-create"), (1, 1));
    assert_eq!(api.delete(&format!("/volumes/{id}")).0, 202);
    api.wait_status(&id, "deleted");
}

#[test]
fn attach_503_then_ok_fails_the_first_update_only() {
    let (env, ctl) = load("attach-503-then-ok");
    let api = env.admin().at("3.54");
    let vid = api.available_volume(1, None);
    let (s, b) = api.post(
        "/attachments",
        json!({"attachment": {"volume_uuid": vid, "mode": "rw"}}),
    );
    assert_eq!(s, 200, "{b}");
    let aid = b["attachment"]["id"].as_str().unwrap();
    let update = json!({"attachment": {"connector": connector()}});
    let (s, b) = api.put(&format!("/attachments/{aid}"), update.clone());
    assert_eq!(
        (s, &b["serviceUnavailable"]["code"]),
        (503, &json!(503)),
        "{b}"
    );
    let (s, b) = api.put(&format!("/attachments/{aid}"), update);
    assert_eq!(s, 200, "{b}");
    assert!(b["attachment"]["connection_info"]["device_path"].is_string());
    assert_eq!(ctl.counters("attach-503"), (2, 1));
    let e = ctl.wait_for_request("the 503", |e| e["rule"] == "attach-503");
    assert_eq!(
        (e["operation"].as_str(), e["status"].as_u64()),
        (Some("attachment.update"), Some(503))
    );
}

#[test]
fn extend_fails_ends_in_error_extending() {
    let (env, ctl) = load("extend-fails");
    let api = env.admin();
    let id = api.available_volume(1, None);
    let (s, _) = api.post(
        &format!("/volumes/{id}/action"),
        json!({"os-extend": {"new_size": 2}}),
    );
    assert_eq!(s, 202);
    assert_eq!(api.wait_status(&id, "error_extending")["size"], 1);
    assert_eq!(ctl.counters("extend-fails"), (1, 1));
}

#[test]
fn delete_stuck_stays_deleting() {
    let (env, ctl) = load("delete-stuck");
    let api = env.admin();
    let id = api.available_volume(1, None);
    assert_eq!(api.delete(&format!("/volumes/{id}")).0, 202);
    wait_fired(&ctl, "delete-stuck", 1);
    assert_stays(&api, &id, "deleting", Duration::from_millis(500));
    ctl.reset();
    assert_eq!(api.get(&format!("/volumes/{id}")).0, 404, "reset clears it");
}

#[test]
fn over_quota_answers_413_with_retry_after() {
    let (env, ctl) = load("over-quota");
    let api = env.admin();
    let resp = api.call(
        reqwest::Method::POST,
        "/volumes",
        Some(json!({"volume": {"size": 1}})),
    );
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.headers()["retry-after"], "1");
    let b: Value = resp.json().unwrap();
    assert!(
        b["overLimit"]["message"]
            .as_str()
            .unwrap()
            .starts_with("VolumeLimitExceeded"),
        "{b}"
    );
    assert_eq!(api.get("/volumes").1["volumes"], json!([]));
    assert_eq!(ctl.counters("over-quota"), (1, 1));
}

#[test]
fn token_expiry_storm_refuses_three_requests_then_recovers() {
    let (env, ctl) = load("token-expiry-storm");
    let api = env.admin();
    let got: Vec<u16> = (0..4).map(|_| api.get("/volumes").0).collect();
    assert_eq!(got, [401, 401, 401, 200]);
    assert_eq!(ctl.counters("expired-token"), (4, 3));
    // Keystone was untouched: logging in again works at once.
    env.login("demo", "demo");
}

#[test]
fn flaky_10_percent_is_reproducible() {
    let pattern = || {
        let (env, ctl) = load("flaky-10-percent");
        let api = env.admin();
        let got: Vec<bool> = (0..60).map(|_| api.get("/volumes").0 == 503).collect();
        let fired = got.iter().filter(|x| **x).count() as u64;
        assert_eq!(ctl.counters("flaky"), (60, fired));
        got
    };
    let first = pattern();
    let fired = first.iter().filter(|x| **x).count();
    assert!((1..=20).contains(&fired), "about one in ten: {fired}/60");
    assert_eq!(
        pattern(),
        first,
        "seed 42 gives the same failures every run"
    );
}

#[test]
fn hang_on_attachment_update_outlasts_a_client_timeout() {
    let (env, ctl) = load("hang-on-attachment-update");
    let api = env.admin().at("3.54");
    let vid = api.available_volume(1, None);
    let (_, b) = api.post(
        "/attachments",
        json!({"attachment": {"volume_uuid": vid, "mode": "rw"}}),
    );
    let aid = b["attachment"]["id"].as_str().unwrap().to_string();
    let impatient = reqwest::blocking::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = impatient
        .put(api.url(&format!("/attachments/{aid}")))
        .header("X-Auth-Token", &api.token)
        .header("OpenStack-API-Version", "volume 3.54")
        .json(&json!({"attachment": {"connector": connector()}}))
        .send()
        .expect_err("hangs");
    assert!(err.is_timeout(), "{err}");
    let e = ctl.wait_for_request("the hung update", |e| e["rule"] == "hang-attach-update");
    assert_eq!(
        (e["status"].clone(), e["note"].clone()),
        (Value::Null, json!("hang"))
    );
    // The cleanup a client does next is not hung.
    assert_eq!(api.delete(&format!("/attachments/{aid}")).0, 200);
}

#[test]
fn bit_rot_corrupts_an_image_volume_on_its_first_attach_with_data() {
    let (env, ctl) = load("bit-rot");
    let api = env.admin().at("3.54");
    let vid = create_named(&api, "image-1234", None);
    api.wait_status(&vid, "available");
    let attach = || attach_rw(&api, &vid);
    let (upload, path) = attach();
    let image: Vec<u8> = (0..200_000u32).map(|i| (i % 13) as u8 + 1).collect();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .write_all(&image)
        .unwrap();
    assert_eq!(api.delete(&format!("/attachments/{upload}")).0, 200);
    assert_eq!(
        ctl.counters("bit-rot"),
        (0, 0),
        "the empty volume at upload did not count"
    );
    let (download, _) = attach();
    let mut back = vec![0u8; image.len()];
    std::fs::File::open(&path)
        .unwrap()
        .read_exact(&mut back)
        .unwrap();
    assert_ne!(back, image, "the download reads rotten bytes");
    assert_eq!(ctl.counters("bit-rot"), (1, 1));
    assert_eq!(api.delete(&format!("/attachments/{download}")).0, 200);
}

#[test]
fn wrong_volume_type_creates_the_default_type() {
    let (env, ctl) = load("wrong-volume-type");
    let api = env.admin();
    let id = api.create_volume(1, Some("glance-fast"));
    assert_eq!(
        api.wait_status(&id, "available")["volume_type"],
        "__DEFAULT__"
    );
    assert_eq!(ctl.counters("wrong-volume-type"), (1, 1));
}

#[test]
fn lost_metadata_write_acknowledges_but_keeps_the_old_metadata() {
    let (env, ctl) = load("lost-metadata-write");
    let api = env.admin();
    let (s, b) = api.post(
        "/volumes",
        json!({"volume": {"size": 1, "metadata": {"image_size": "0"}}}),
    );
    assert_eq!(s, 202);
    let id = b["volume"]["id"].as_str().unwrap().to_string();
    api.wait_status(&id, "available");
    let (s, b) = api.put(
        &format!("/volumes/{id}/metadata"),
        json!({"metadata": {"image_size": "1048576"}}),
    );
    assert_eq!(
        (s, b["metadata"]["image_size"].as_str()),
        (200, Some("1048576"))
    );
    let (_, b) = api.get(&format!("/volumes/{id}/metadata"));
    assert_eq!(b["metadata"]["image_size"], "0", "the write was lost");
    assert_eq!(ctl.counters("lost-metadata-write"), (1, 1));
}

#[test]
fn silent_delete_acknowledges_but_keeps_the_volume() {
    let (env, ctl) = load("silent-delete");
    let api = env.admin();
    let id = api.available_volume(1, None);
    assert_eq!(api.delete(&format!("/volumes/{id}")).0, 202);
    assert_stays(&api, &id, "available", Duration::from_millis(300));
    assert_eq!(ctl.counters("silent-delete"), (1, 1));
}
