//! Helpers for the fault-injection tests: an emulator started with a scenario, an admin
//! client for the `/_cinderbox/` control API, and polling for the request log.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use cinderbox_emulator::faults::Scenario;
use cinderbox_emulator::testing::Emulator;
use reqwest::blocking::Client;
use serde_json::{json, Value};

use crate::common::{client, issue_token, Api, Env};

/// A fresh emulator (default world) with the rules of `toml` in force.
pub fn spawn_with_scenario(toml: &str) -> Env {
    let scenario = Scenario::parse(toml, "test.toml").expect("scenario parses");
    spawn_with(scenario)
}

pub fn spawn_with(scenario: Scenario) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let emu = Emulator::start_with_scenario(dir.path(), scenario).expect("emulator starts");
    Env { emu, dir }
}

/// The path of a fixture scenario, from the workspace root.
pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/scenarios")
        .join(format!("{name}.toml"))
}

/// The control API, as the admin user.
pub struct Control {
    pub base: String,
    pub token: String,
    pub http: Client,
}

impl Control {
    pub fn new(env: &Env) -> Control {
        let (token, _) = issue_token(&env.emu.base_url, "admin", "admin", "admin");
        Control {
            base: env.emu.base_url.clone(),
            token,
            http: client(),
        }
    }

    fn send(&self, method: reqwest::Method, path: &str, body: Option<&str>) -> (u16, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}/_cinderbox{path}", self.base))
            .header("X-Auth-Token", &self.token);
        if let Some(b) = body {
            rb = rb
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let resp = rb.send().expect("control API answers");
        let status = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Adds a rule; panics unless 201. Returns the rule as listed.
    pub fn add(&self, rule: Value) -> Value {
        let (status, body) = self.try_add(&rule.to_string());
        assert_eq!(status, 201, "add {rule}: {body}");
        body["fault"].clone()
    }

    pub fn try_add(&self, raw: &str) -> (u16, Value) {
        self.send(reqwest::Method::POST, "/faults", Some(raw))
    }

    /// Each raw rule is refused with a 400 whose message contains its text, and none of
    /// them was added.
    pub fn assert_refused(&self, cases: &[(&str, &str)]) {
        for (raw, want) in cases {
            let (status, body) = self.try_add(raw);
            assert_eq!(status, 400, "{raw}: {body}");
            let msg = body["badRequest"]["message"].as_str().unwrap_or_default();
            assert!(msg.contains(want), "{raw}: {msg:?} lacks {want:?}");
        }
        assert!(self.list().is_empty(), "nothing refused was added");
    }

    pub fn list(&self) -> Vec<Value> {
        let (status, body) = self.send(reqwest::Method::GET, "/faults", None);
        assert_eq!(status, 200, "{body}");
        body["faults"].as_array().cloned().unwrap_or_default()
    }

    /// One rule with its counters; panics unless it exists.
    pub fn rule(&self, id: &str) -> Value {
        let (status, body) = self.send(reqwest::Method::GET, &format!("/faults/{id}"), None);
        assert_eq!(status, 200, "rule {id}: {body}");
        body["fault"].clone()
    }

    /// (matched, fired) of a rule.
    pub fn counters(&self, id: &str) -> (u64, u64) {
        let r = self.rule(id);
        (
            r["matched"].as_u64().expect("matched"),
            r["fired"].as_u64().expect("fired"),
        )
    }

    pub fn delete(&self, id: &str) -> u16 {
        self.send(reqwest::Method::DELETE, &format!("/faults/{id}"), None)
            .0
    }

    pub fn reset(&self) -> Value {
        let (status, body) = self.send(reqwest::Method::POST, "/reset", None);
        assert_eq!(status, 200, "{body}");
        body
    }

    pub fn requests(&self, limit: Option<usize>) -> Vec<Value> {
        let path = match limit {
            Some(n) => format!("/requests?limit={n}"),
            None => "/requests".to_string(),
        };
        let (status, body) = self.send(reqwest::Method::GET, &path, None);
        assert_eq!(status, 200, "{body}");
        body["requests"].as_array().cloned().unwrap_or_default()
    }

    /// Polls the log until an entry satisfies `pred` (5 s at most).
    pub fn wait_for_request(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(e) = self.requests(None).into_iter().find(|e| pred(e)) {
                return e;
            }
            assert!(Instant::now() < deadline, "no logged request {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Polls a rule until `fired` reaches `n` (5 s at most): jobs fire after the request.
pub fn wait_fired(ctl: &Control, id: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, fired) = ctl.counters(id);
        if fired >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "rule {id} fired {fired}, wanted {n}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Creates a named volume and returns its id (status still `creating`).
pub fn create_named(api: &Api, name: &str, volume_type: Option<&str>) -> String {
    let mut v = json!({"size": 1, "name": name});
    if let Some(t) = volume_type {
        v["volume_type"] = json!(t);
    }
    let (status, body) = api.post("/volumes", json!({ "volume": v }));
    assert_eq!(status, 202, "{body}");
    body["volume"]["id"].as_str().unwrap().to_string()
}

/// Attaches `vid` read-write: the attachment id and the file the emulator hands out.
pub fn attach_rw(api: &Api, vid: &str) -> (String, std::path::PathBuf) {
    let (s, b) = api.post(
        "/attachments",
        json!({"attachment": {"volume_uuid": vid, "connector": connector(), "mode": "rw"}}),
    );
    assert_eq!(s, 200, "{b}");
    let a = &b["attachment"];
    (
        a["id"].as_str().unwrap().to_string(),
        a["connection_info"]["device_path"].as_str().unwrap().into(),
    )
}

/// The connector glance's os-brick would send.
pub fn connector() -> Value {
    json!({"initiator": "iqn.1993-08.org.debian:01:test", "ip": "127.0.0.1",
           "host": "glance-host", "platform": "x86_64", "os_type": "linux",
           "multipath": false, "do_local_attach": false})
}
