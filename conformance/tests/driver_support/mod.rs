//! Shared by the driver-vs-emulator tests: a fast emulator (optionally with a fault
//! scenario), generated `glance-api.conf` files with short timeouts, an admin's view of
//! Cinder (every project) and the fault control API.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cinderbox_driver::config::GlanceConfig;
use cinderbox_driver::Stores;
use cinderbox_emulator::config::{Delays, World};
use cinderbox_emulator::faults::Scenario;
use cinderbox_emulator::testing::Emulator;
use reqwest::blocking::Client;
use reqwest::Method;
use serde_json::{json, Value};

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

/// The default world with every transition taking 20 ms (types' own delays dropped), so
/// that status polls find volumes ready at their first or second look.
pub fn fast_world() -> World {
    let mut world = World::default_world();
    let quick = Duration::from_millis(20);
    world.delays = Delays {
        create: quick,
        extend: quick,
        delete: quick,
    };
    for t in &mut world.volume_types {
        t.delays = None;
    }
    world
}

pub fn scenario_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/scenarios")
        .join(format!("{name}.toml"))
}

/// A running emulator over its own temp dir, with an admin logged in.
pub struct Cloud {
    pub emulator: Emulator,
    pub admin: Admin,
    pub dir: tempfile::TempDir,
}

impl Cloud {
    /// The fast world, with the scenario `fixtures/scenarios/<name>.toml` when given.
    pub fn start(scenario: Option<&str>) -> Cloud {
        let dir = tempfile::tempdir().expect("tempdir");
        let scenario =
            scenario.map(|name| Scenario::load(&scenario_path(name)).expect("scenario loads"));
        let emulator = Emulator::start_full(
            dir.path(),
            fast_world(),
            "127.0.0.1:0".parse().expect("addr"),
            scenario,
        )
        .expect("emulator starts");
        let admin = Admin::login(&emulator.base_url);
        Cloud {
            emulator,
            admin,
            dir,
        }
    }

    pub fn identity_url(&self) -> String {
        self.emulator.identity_url()
    }
}

/// Store settings for a generated configuration.
#[derive(Clone, Debug)]
pub struct Timeouts {
    pub transition_s: u64,
    pub http_timeout_s: u64,
    pub http_retries: u32,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            transition_s: 10,
            http_timeout_s: 5,
            http_retries: 2,
        }
    }
}

/// A multi-store configuration: `stores` in `enabled_backends` order as (name, type),
/// the first one the default, all as the glance service user, plus `extra` lines in every
/// store section.
pub fn config_text(identity: &str, stores: &[(&str, &str)], t: &Timeouts, extra: &str) -> String {
    let names: Vec<String> = stores.iter().map(|(n, _)| format!("{n}:cinder")).collect();
    let mut text = format!(
        "[DEFAULT]\nenabled_backends = {}\n\n[glance_store]\ndefault_backend = {}\n",
        names.join(","),
        stores[0].0
    );
    for (name, volume_type) in stores {
        text.push_str(&format!(
            "\n[{name}]\ncinder_volume_type = {volume_type}\n\
             cinder_store_auth_address = {identity}\ncinder_store_user_name = glance\n\
             cinder_store_password = admin\ncinder_store_project_name = service\n\
             cinder_state_transition_timeout = {}\ncinder_http_timeout = {}\n\
             cinder_http_retries = {}\ncinder_attachment_retry_attempts = 1\n{extra}",
            t.transition_s, t.http_timeout_s, t.http_retries
        ));
    }
    text
}

pub fn configure(text: &str) -> Stores {
    let config = GlanceConfig::parse("generated.conf", text).expect("generated config parses");
    Stores::configure(config).expect("stores configure")
}

/// A deterministic image of any size, produced on the fly: byte `p` is
/// `block[(p + p / MiB) % MiB]` (each MiB a different rotation of one pseudo-random MiB,
/// so a lost, repeated or reordered chunk changes the hashes). Never held in memory.
pub struct Generated {
    block: Vec<u8>,
    pos: u64,
    len: u64,
    /// Fails with an I/O error once this many bytes were produced.
    fail_at: Option<u64>,
}

impl Generated {
    pub fn new(len: u64) -> Generated {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let block = (0..MIB)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        Generated {
            block,
            pos: 0,
            len,
            fail_at: None,
        }
    }

    pub fn failing_at(len: u64, fail_at: u64) -> Generated {
        Generated {
            fail_at: Some(fail_at),
            ..Generated::new(len)
        }
    }

    /// The bytes `offset..offset+len` of the image, for comparing ranged reads.
    pub fn slice(&self, offset: u64, len: u64) -> Vec<u8> {
        let mut other = Generated {
            block: self.block.clone(),
            pos: offset,
            len: offset + len,
            fail_at: None,
        };
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut other, &mut out).expect("generator reads");
        out
    }
}

impl std::io::Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.fail_at.is_some_and(|f| self.pos >= f) {
            return Err(std::io::Error::other("the image source went away"));
        }
        let end = self.fail_at.map_or(self.len, |f| f.min(self.len));
        let left = end.saturating_sub(self.pos);
        let within = (MIB - self.pos % MIB) as usize;
        let n = buf.len().min(within).min(left as usize);
        let start = ((self.pos % MIB + self.pos / MIB) % MIB) as usize;
        let first = n.min(self.block.len() - start);
        buf[..first].copy_from_slice(&self.block[start..start + first]);
        buf[first..n].copy_from_slice(&self.block[..n - first]);
        self.pos += n as u64;
        Ok(n)
    }
}

/// A reader that hashes what passes through it (md5 and sha256, hex), with the suite's own
/// digests (`cinderbox-digest`, built optimised even in tests), not the driver's.
pub struct Hashing<R> {
    pub inner: R,
    digests: cinderbox_digest::Digests,
    pub bytes: u64,
}

impl<R> Hashing<R> {
    pub fn new(inner: R) -> Hashing<R> {
        Hashing {
            inner,
            digests: cinderbox_digest::Digests::new(),
            bytes: 0,
        }
    }

    /// (md5, sha256) in hex.
    pub fn finish(self) -> (String, String) {
        self.digests.finish_hex()
    }
}

impl<R: std::io::Read> std::io::Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digests.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Reads everything, hashing it; returns (bytes, md5, sha256).
pub fn hash_all(reader: impl std::io::Read) -> std::io::Result<(u64, String, String)> {
    let mut hashing = Hashing::new(reader);
    std::io::copy(&mut hashing, &mut std::io::sink())?;
    let bytes = hashing.bytes;
    let (md5, sha256) = hashing.finish();
    Ok((bytes, md5, sha256))
}

/// The admin of the default world, talking to Cinder and the control API directly.
pub struct Admin {
    pub base: String,
    pub token: String,
    pub project_id: String,
    http: Client,
}

impl Admin {
    pub fn login(base: &str) -> Admin {
        let http = Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"name": "Default"}, "password": "admin"}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}
        }});
        let resp = http
            .post(format!("{base}/identity/v3/auth/tokens"))
            .json(&body)
            .send()
            .expect("keystone answers");
        assert_eq!(resp.status(), 201, "admin login");
        let token = resp.headers()["x-subject-token"]
            .to_str()
            .expect("token")
            .to_string();
        let body: Value = resp.json().expect("token body");
        let project_id = body["token"]["project"]["id"]
            .as_str()
            .expect("project")
            .to_string();
        Admin {
            base: base.to_string(),
            token,
            project_id,
            http,
        }
    }

    /// Any call under the emulator's base URL; returns (status, JSON or Null).
    pub fn raw(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("X-Auth-Token", &self.token)
            .header("OpenStack-API-Version", "volume 3.54");
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().expect("emulator answers");
        let status = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A Cinder call in the admin's project.
    pub fn cinder(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.raw(
            method,
            &format!("/volume/v3/{}{path}", self.project_id),
            body,
        )
    }

    /// Every volume in every project.
    pub fn all_volumes(&self) -> Vec<Value> {
        let (status, body) = self.cinder(Method::GET, "/volumes/detail?all_tenants=1", None);
        assert_eq!(status, 200, "{body}");
        body["volumes"].as_array().cloned().unwrap_or_default()
    }

    /// Every attachment in every project.
    pub fn all_attachments(&self) -> Vec<Value> {
        let (status, body) = self.cinder(Method::GET, "/attachments/detail?all_tenants=1", None);
        assert_eq!(status, 200, "{body}");
        body["attachments"].as_array().cloned().unwrap_or_default()
    }

    /// `GET /volumes/{id}` (an admin sees every project's volumes).
    pub fn volume(&self, id: &str) -> Option<Value> {
        let (status, body) = self.cinder(Method::GET, &format!("/volumes/{id}"), None);
        match status {
            200 => Some(body["volume"].clone()),
            404 => None,
            other => panic!("show volume {id}: {other} {body}"),
        }
    }

    /// Asserts Cinder holds no volume and no attachment at all, in any project.
    pub fn assert_nothing_left(&self, context: &str) {
        let volumes: Vec<(Value, Value, Value)> = self
            .all_volumes()
            .into_iter()
            .map(|v| (v["id"].clone(), v["name"].clone(), v["status"].clone()))
            .collect();
        assert!(volumes.is_empty(), "{context}: volumes left: {volumes:?}");
        let attachments = self.all_attachments();
        assert!(
            attachments.is_empty(),
            "{context}: attachments left: {attachments:?}"
        );
    }

    /// Creates a public volume type (admin only).
    pub fn create_type(&self, name: &str) {
        let (status, body) = self.cinder(
            Method::POST,
            "/types",
            Some(json!({"volume_type": {"name": name}})),
        );
        assert_eq!(status, 200, "create type {name}: {body}");
    }

    /// A fault rule as the control API lists it.
    pub fn fault(&self, id: &str) -> Value {
        let (status, body) = self.raw(Method::GET, &format!("/_cinderbox/faults/{id}"), None);
        assert_eq!(status, 200, "fault {id}: {body}");
        body["fault"].clone()
    }

    /// How often rule `id` fired.
    pub fn fired(&self, id: &str) -> u64 {
        self.fault(id)["fired"].as_u64().expect("fired counter")
    }

    pub fn add_fault(&self, rule: Value) {
        let (status, body) = self.raw(Method::POST, "/_cinderbox/faults", Some(rule));
        assert_eq!(status, 201, "add fault: {body}");
    }

    /// Removes a rule (scenario or API) so that Cinder behaves again.
    pub fn remove_fault(&self, id: &str) {
        let (status, body) = self.raw(Method::DELETE, &format!("/_cinderbox/faults/{id}"), None);
        assert_eq!(status, 204, "remove fault {id}: {body}");
    }

    /// The sequence number of the newest logged request (0 before any).
    pub fn mark(&self) -> u64 {
        self.requests()
            .last()
            .and_then(|r| r["seq"].as_u64())
            .unwrap_or(0)
    }

    /// How many `volume.show` requests were logged after `mark`.
    pub fn polls_since(&self, mark: u64) -> usize {
        self.requests()
            .iter()
            .filter(|r| r["seq"].as_u64().is_some_and(|s| s > mark))
            .filter(|r| r["operation"] == "volume.show")
            .count()
    }

    /// The request log, oldest first.
    pub fn requests(&self) -> Vec<Value> {
        let (status, body) = self.raw(Method::GET, "/_cinderbox/requests", None);
        assert_eq!(status, 200, "{body}");
        body["requests"].as_array().cloned().unwrap_or_default()
    }
}

/// Runs `f`, returning its result and how long it took.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let out = f();
    (out, started.elapsed())
}

/// Status reads a bounded wait of `budget` may make: the documented schedule (driver
/// README: a fast start of 20, 40, 80, 160, 200 ms, then 1, 2, 4 … s capped at 15 s),
/// truncated at the budget, plus the read after the last sleep. Worked out here from the
/// documented schedule, not taken from the driver's code.
pub fn max_polls(budget: Duration) -> usize {
    let fast = [20, 40, 80, 160, 200].map(Duration::from_millis);
    let mut slow = Duration::from_secs(1);
    let (mut slept, mut sleeps) = (Duration::ZERO, 0);
    while slept < budget {
        let next = match fast.get(sleeps) {
            Some(d) => *d,
            None => {
                let d = slow;
                slow = (slow * 2).min(Duration::from_secs(15));
                d
            }
        };
        slept += next.min(budget - slept);
        sleeps += 1;
    }
    sleeps + 1
}

/// Asserts a call was bounded by what it did rather than by the clock: its `volume.show`
/// reads (`polls`, from the request log) fit `waits` waits of `budget` each plus a few
/// read-backs. The wall-clock check is only a backstop against a wait that ignores its
/// budget, generous enough (5 × the budgets + 60 s) that a loaded machine cannot break it.
pub fn assert_bounded(what: &str, took: Duration, polls: usize, waits: u32, budget: Duration) {
    const READ_BACKS: usize = 4;
    let allowed = waits as usize * max_polls(budget) + READ_BACKS;
    assert!(
        polls <= allowed,
        "{what} read the volume {polls} times; {waits} wait(s) of {budget:?} allow {allowed}"
    );
    let backstop = 5 * waits.max(1) * budget + Duration::from_secs(60);
    assert!(
        took <= backstop,
        "{what} took {took:?}: its waits ignore their budget {budget:?} (backstop {backstop:?})"
    );
}

/// Metadata of a volume as a string map.
pub fn metadata(volume: &Value) -> BTreeMap<String, String> {
    volume["metadata"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}
