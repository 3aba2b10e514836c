//! Crash-restart: the emulator binary runs a seeded mixed workload (create, attach,
//! write through `device_path`, detach, extend, delete, metadata) and is SIGKILLed at
//! seeded points, then restarted on the same data dir. After each restart: every
//! acknowledged write is there, nothing stays transitional, SQLite's integrity check
//! passes, no data file lacks its row and no live row lacks its file.
//!
//! 8 kill points by default; `CINDERBOX_LONG=1` runs 60. `CINDERBOX_SEED=n` replays.
//! The same with snapshots, clones and cascading deletes: `crash::snapshots`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::blocking::Client;
use reqwest::Method;
use serde_json::{json, Value};

const SLOT_BYTES: u64 = 4096;

fn long_run() -> bool {
    std::env::var("CINDERBOX_LONG").is_ok_and(|v| v == "1")
}

/// The emulator as a child process over a data dir.
struct Server {
    child: Child,
    base: String,
}

fn start(dir: &Path) -> Server {
    let ready = dir.join("ready");
    let _ = std::fs::remove_file(&ready);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("emulator.log"))
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_cinderbox-emulator"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--ready-file")
        .arg(&ready)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    // Owned by a `Server` from here on: its Drop kills the child on any panic.
    let mut server = Server {
        child,
        base: String::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(&ready) {
            if text.ends_with('\n') {
                server.base = text.trim().to_string();
                return server;
            }
        }
        assert!(Instant::now() < deadline, "the emulator did not get ready");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A failing test leaves no emulator behind.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A logged-in client; `Err` means the server is gone (killed mid-request).
struct Api {
    http: Client,
    base: String,
    token: String,
    project: String,
}

type Answer = Result<(u16, Value), ()>;

impl Api {
    fn login(base: &str) -> Api {
        let http = Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "glance", "domain": {"name": "Default"}, "password": "admin"}}},
            "scope": {"project": {"name": "service", "domain": {"name": "Default"}}}}});
        let resp = http
            .post(format!("{base}/identity/v3/auth/tokens"))
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(resp.status(), 201);
        let token = resp.headers()["x-subject-token"]
            .to_str()
            .unwrap()
            .to_string();
        let body: Value = resp.json().unwrap();
        Api {
            http,
            base: base.to_string(),
            token,
            project: body["token"]["project"]["id"].as_str().unwrap().into(),
        }
    }

    fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut rb = self
            .http
            .request(
                method,
                format!("{}/volume/v3/{}{path}", self.base, self.project),
            )
            .header("X-Auth-Token", &self.token)
            .header("OpenStack-API-Version", "volume 3.54");
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().map_err(|_| ())?;
        let status = resp.status().as_u16();
        let text = resp.text().map_err(|_| ())?;
        assert!(status < 500, "{status} on {path}: {text}");
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None)
    }

    /// Polls the volume until `done` says so; `Ok(None)` once it is gone.
    fn poll(&self, id: &str, done: impl Fn(&Value) -> bool) -> Result<Option<Value>, ()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (code, body) = self.get(&format!("/volumes/{id}"))?;
            if code == 404 {
                return Ok(None);
            }
            assert_eq!(code, 200, "{body}");
            if done(&body["volume"]) {
                return Ok(Some(body["volume"].clone()));
            }
            assert!(Instant::now() < deadline, "volume {id} stuck: {body}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// What the workload was told succeeded, per volume.
#[derive(Debug, Clone, Default)]
struct Vol {
    size_gb: u64,
    metadata: BTreeMap<String, String>,
    /// (offset, bytes) written through a completed attachment and detached.
    writes: Vec<(u64, Vec<u8>)>,
    next_slot: u64,
}

/// The operation in progress when the server died.
#[derive(Debug, Clone)]
enum InFlight {
    Nothing,
    /// `id` once the 202 came back; the volume was not yet seen `available`.
    Create {
        id: Option<String>,
    },
    Metadata {
        id: String,
        key: String,
        value: String,
    },
    Attach {
        id: String,
    },
    Extend {
        id: String,
        new_size_gb: u64,
    },
    Delete {
        id: String,
    },
}

#[derive(Default)]
struct Model {
    vols: BTreeMap<String, Vol>,
    deleted: BTreeSet<String>,
}

struct Figures {
    kill_points: usize,
    /// Which operation each kill interrupted.
    interrupted: BTreeMap<&'static str, usize>,
    ops_acknowledged: usize,
    writes_checked: usize,
}

fn connector() -> Value {
    json!({"initiator": "iqn.1993-08.org.debian:01:crash", "ip": "127.0.0.1",
           "host": "crash", "platform": "x86_64", "os_type": "linux", "multipath": false})
}

/// Runs operations until one fails because the server died; returns what was in
/// flight. `notify` is told the index of each operation as it starts.
fn workload(
    api: &Api,
    model: &mut Model,
    rng: &mut StdRng,
    notify: &mpsc::Sender<usize>,
    acked: &mut usize,
) -> InFlight {
    for op in 0..200 {
        let _ = notify.send(op);
        let ids: Vec<String> = model.vols.keys().cloned().collect();
        let create = ids.len() < 2 || (ids.len() < 6 && rng.gen_bool(0.25));
        let result = if create {
            do_create(api, model)
        } else {
            let id = ids[rng.gen_range(0..ids.len())].clone();
            match rng.gen_range(0..10) {
                0..=2 => do_metadata(api, model, &id, rng),
                3..=5 => do_attach_write(api, model, &id, rng),
                6..=7 => do_extend(api, model, &id),
                _ => do_delete(api, model, &id),
            }
        };
        match result {
            Ok(()) => *acked += 1,
            Err(in_flight) => return in_flight,
        }
    }
    panic!("the server was never killed");
}

fn do_create(api: &Api, model: &mut Model) -> Result<(), InFlight> {
    let lost = |id: Option<String>| move |_| InFlight::Create { id };
    let (code, body) = api
        .call(
            Method::POST,
            "/volumes",
            Some(json!({"volume": {"size": 1, "name": "crash"}})),
        )
        .map_err(lost(None))?;
    assert_eq!(code, 202, "{body}");
    let id = body["volume"]["id"].as_str().unwrap().to_string();
    let v = api
        .poll(&id, |v| v["status"] != "creating")
        .map_err(lost(Some(id.clone())))?
        .expect("a new volume exists");
    assert_eq!(v["status"], "available", "{v}");
    model.vols.insert(
        id,
        Vol {
            size_gb: 1,
            ..Vol::default()
        },
    );
    Ok(())
}

fn do_metadata(api: &Api, model: &mut Model, id: &str, rng: &mut StdRng) -> Result<(), InFlight> {
    let key = format!("k{}", rng.gen_range(0..5));
    let value = format!("v{}", rng.gen::<u32>());
    let (code, body) = api
        .call(
            Method::POST,
            &format!("/volumes/{id}/metadata"),
            Some(json!({"metadata": {key.clone(): value.clone()}})),
        )
        .map_err(|_| InFlight::Metadata {
            id: id.into(),
            key: key.clone(),
            value: value.clone(),
        })?;
    assert_eq!(code, 200, "{body}");
    model.vols.get_mut(id).unwrap().metadata.insert(key, value);
    Ok(())
}

fn do_attach_write(
    api: &Api,
    model: &mut Model,
    id: &str,
    rng: &mut StdRng,
) -> Result<(), InFlight> {
    let lost = |_| InFlight::Attach { id: id.into() };
    let (code, body) = api
        .call(
            Method::POST,
            "/attachments",
            Some(json!({"attachment": {"volume_uuid": id, "connector": connector()}})),
        )
        .map_err(lost)?;
    assert_eq!(code, 200, "{body}");
    let aid = body["attachment"]["id"].as_str().unwrap().to_string();
    let path = PathBuf::from(
        body["attachment"]["connection_info"]["device_path"]
            .as_str()
            .unwrap(),
    );
    let (code, body) = api
        .call(
            Method::POST,
            &format!("/attachments/{aid}/action"),
            Some(json!({"os-complete": {}})),
        )
        .map_err(lost)?;
    assert_eq!(code, 204, "{body}");
    let vol = model.vols.get_mut(id).unwrap();
    let offset = vol.next_slot * SLOT_BYTES + rng.gen_range(0..100);
    vol.next_slot += 1;
    let bytes: Vec<u8> = (0..rng.gen_range(1..2000)).map(|_| rng.gen()).collect();
    let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(&bytes).unwrap();
    // Bytes written through device_path are the client's to flush.
    f.sync_data().unwrap();
    drop(f);
    let (code, body) = api
        .call(Method::DELETE, &format!("/attachments/{aid}"), None)
        .map_err(lost)?;
    assert_eq!(code, 200, "{body}");
    vol.writes.push((offset, bytes));
    Ok(())
}

fn do_extend(api: &Api, model: &mut Model, id: &str) -> Result<(), InFlight> {
    let new_size_gb = model.vols[id].size_gb + 1;
    let lost = |_| InFlight::Extend {
        id: id.into(),
        new_size_gb,
    };
    let (code, body) = api
        .call(
            Method::POST,
            &format!("/volumes/{id}/action"),
            Some(json!({"os-extend": {"new_size": new_size_gb}})),
        )
        .map_err(lost)?;
    assert_eq!(code, 202, "{body}");
    let v = api
        .poll(id, |v| v["status"] != "extending")
        .map_err(lost)?
        .unwrap();
    assert_eq!(
        (v["status"].as_str(), v["size"].as_u64()),
        (Some("available"), Some(new_size_gb))
    );
    model.vols.get_mut(id).unwrap().size_gb = new_size_gb;
    Ok(())
}

fn do_delete(api: &Api, model: &mut Model, id: &str) -> Result<(), InFlight> {
    let lost = |_| InFlight::Delete { id: id.into() };
    let (code, body) = api
        .call(Method::DELETE, &format!("/volumes/{id}"), None)
        .map_err(lost)?;
    assert_eq!(code, 202, "{body}");
    // Acknowledged: from here on the volume must go, restart or not.
    model.vols.remove(id);
    model.deleted.insert(id.into());
    let gone = api.poll(id, |_| false).map_err(lost)?;
    assert!(gone.is_none());
    Ok(())
}

/// Waits until no volume is transitional (recovery resumes interrupted deletes).
fn settle(api: &Api) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, body) = api.get("/volumes/detail").unwrap();
        assert_eq!(code, 200);
        let vols = body["volumes"].as_array().unwrap().clone();
        let busy: Vec<&Value> = vols
            .iter()
            .filter(|v| {
                matches!(
                    v["status"].as_str(),
                    Some("creating" | "deleting" | "extending")
                )
            })
            .collect();
        if busy.is_empty() {
            return vols;
        }
        assert!(
            Instant::now() < deadline,
            "volumes stuck in a transitional status after restart: {busy:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_at(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    let mut f = std::fs::File::open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    let mut buf = vec![0; len];
    f.read_exact(&mut buf).unwrap();
    buf
}

fn file_of(data: &Path, id: &str) -> PathBuf {
    data.join("volumes").join(format!("volume-{id}"))
}

/// Checks the restarted server against the model, resolving what was in flight, and
/// cleans up what a crash legitimately left behind (error volumes, stray attachments).
fn verify(api: &Api, data: &Path, model: &mut Model, in_flight: &InFlight, figures: &mut Figures) {
    let vols = settle(api);
    let listed: BTreeMap<String, Value> = vols
        .into_iter()
        .map(|v| (v["id"].as_str().unwrap().to_string(), v))
        .collect();
    let mut doomed = Vec::new();
    // Volumes the model does not know: only a create whose answer was lost.
    for (id, v) in &listed {
        if model.vols.contains_key(id) || model.deleted.contains(id) {
            continue;
        }
        let allowed = matches!(in_flight, InFlight::Create { id: None })
            || matches!(in_flight, InFlight::Create { id: Some(x) } if x == id);
        assert!(allowed, "unknown volume {id} after restart: {v}");
        doomed.push(id.clone());
    }
    for id in &model.deleted {
        assert!(!listed.contains_key(id), "deleted volume {id} came back");
    }
    let ids: Vec<String> = model.vols.keys().cloned().collect();
    for id in ids {
        let Some(v) = listed.get(&id) else {
            assert!(
                matches!(in_flight, InFlight::Delete { id: x } if *x == id),
                "volume {id} was acknowledged available and is gone"
            );
            model.vols.remove(&id);
            model.deleted.insert(id);
            continue;
        };
        let vol = model.vols.get_mut(&id).unwrap();
        let status = v["status"].as_str().unwrap();
        let size = v["size"].as_u64().unwrap();
        match in_flight {
            InFlight::Extend { id: x, new_size_gb } if *x == id => {
                assert!(
                    (status == "available" && (size == vol.size_gb || size == *new_size_gb))
                        || (status == "error_extending" && size == vol.size_gb),
                    "interrupted extend of {id}: {status} {size}"
                );
                vol.size_gb = size;
            }
            InFlight::Attach { id: x } if *x == id => {
                assert!(
                    ["available", "reserved", "attaching", "in-use"].contains(&status),
                    "interrupted attach of {id}: {status}"
                );
            }
            InFlight::Delete { id: x } if *x == id => {
                assert!(
                    ["available", "error_deleting"].contains(&status),
                    "{status}"
                );
            }
            _ => {
                assert_eq!(status, "available", "volume {id}");
                assert_eq!(size, vol.size_gb, "volume {id} size");
            }
        }
        let md: BTreeMap<String, String> = serde_json::from_value(v["metadata"].clone()).unwrap();
        if let InFlight::Metadata { id: x, key, value } = in_flight {
            if *x == id && md.get(key) == Some(value) {
                vol.metadata.insert(key.clone(), value.clone());
            }
        }
        assert_eq!(md, vol.metadata, "metadata of {id}");
        let path = file_of(data, &id);
        for (offset, bytes) in &vol.writes {
            assert_eq!(
                &read_at(&path, *offset, bytes.len()),
                bytes,
                "bytes of {id} at {offset}"
            );
            figures.writes_checked += 1;
        }
        if status != "available" {
            doomed.push(id.clone());
        }
    }
    // Clear what the crash left: attachments, error volumes, half-made volumes.
    let (_, atts) = api.get("/attachments").unwrap();
    for a in atts["attachments"].as_array().unwrap() {
        let (code, body) = api
            .call(
                Method::DELETE,
                &format!("/attachments/{}", a["id"].as_str().unwrap()),
                None,
            )
            .unwrap();
        assert_eq!(code, 200, "{body}");
    }
    for id in doomed {
        let v = api.poll(&id, |v| v["status"] != "detaching").unwrap();
        if v.is_some_and(|v| v["status"] == "available" && model.vols.contains_key(&id)) {
            continue;
        }
        let (code, body) = api
            .call(Method::DELETE, &format!("/volumes/{id}"), None)
            .unwrap();
        assert!(code == 202 || code == 404, "{code} {body}");
        assert!(api.poll(&id, |_| false).unwrap().is_none());
        model.vols.remove(&id);
        model.deleted.insert(id);
    }
    check_disk(data);
}

/// SQLite is consistent; every data file has its row and every live row its file.
fn check_disk(data: &Path) {
    let conn = rusqlite::Connection::open_with_flags(
        data.join("state.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let mut stmt = conn.prepare("SELECT id, doc FROM volumes").unwrap();
    let rows: BTreeMap<String, String> = stmt
        .query_map([], |r| {
            let doc: String = r.get(1)?;
            Ok((r.get(0)?, doc))
        })
        .unwrap()
        .map(|r| {
            let (id, doc) = r.unwrap();
            let doc: Value = serde_json::from_str(&doc).unwrap();
            (id, doc["status"].as_str().unwrap_or("").to_string())
        })
        .collect();
    let files: BTreeSet<String> = std::fs::read_dir(data.join("volumes"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .map(|n| n.strip_prefix("volume-").unwrap_or(&n).to_string())
        .collect();
    for f in &files {
        assert!(rows.contains_key(f), "orphan data file volume-{f}");
    }
    for (id, status) in &rows {
        if !status.starts_with("error") {
            assert!(files.contains(id), "{status} volume {id} has no data file");
        }
    }
}

/// The run's seed: `CINDERBOX_SEED` when set (to replay), else the test's own.
fn seed_or(default: u64) -> u64 {
    std::env::var("CINDERBOX_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Runs `work` while a watcher SIGKILLs `child` once operation `at` has started (the
/// workload sends each operation's index), `delay` later, or when the workload ends.
/// Returns what `work` returned: the operation in flight at the kill.
fn kill_amid<R>(
    child: &mut Child,
    at: usize,
    delay: Duration,
    work: impl FnOnce(&mpsc::Sender<usize>) -> R,
) -> R {
    let (tx, rx) = mpsc::channel::<usize>();
    std::thread::scope(|s| {
        let h = s.spawn(move || {
            while let Ok(op) = rx.recv_timeout(Duration::from_secs(60)) {
                if op >= at {
                    std::thread::sleep(delay);
                    break;
                }
            }
            child.kill().unwrap();
            child.wait().unwrap();
        });
        let r = work(&tx);
        drop(tx);
        h.join().unwrap();
        r
    })
}

fn run(kill_points: usize, seed: u64) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = Model::default();
    let mut figures = Figures {
        kill_points: 0,
        interrupted: BTreeMap::new(),
        ops_acknowledged: 0,
        writes_checked: 0,
    };
    let mut server = start(dir.path());
    let mut in_flight = InFlight::Nothing;
    for _ in 0..kill_points {
        let api = Api::login(&server.base);
        verify(&api, &data, &mut model, &in_flight, &mut figures);
        // Kill while operation `at` is running, `delay_ms` after it started.
        let at = rng.gen_range(0..6);
        let delay = Duration::from_millis(rng.gen_range(0..150));
        let killed = kill_amid(&mut server.child, at, delay, |tx| {
            workload(
                &api,
                &mut model,
                &mut rng,
                tx,
                &mut figures.ops_acknowledged,
            )
        });
        let name = match &killed {
            InFlight::Nothing => "nothing",
            InFlight::Create { .. } => "create",
            InFlight::Metadata { .. } => "metadata",
            InFlight::Attach { .. } => "attach/write/detach",
            InFlight::Extend { .. } => "extend",
            InFlight::Delete { .. } => "delete",
        };
        *figures.interrupted.entry(name).or_default() += 1;
        in_flight = killed;
        figures.kill_points += 1;
        server = start(dir.path());
    }
    let api = Api::login(&server.base);
    verify(&api, &data, &mut model, &in_flight, &mut figures);
    figures
}

#[test]
fn sigkill_at_random_points_loses_nothing_acknowledged() {
    let seed = seed_or(7);
    let kill_points = if long_run() { 60 } else { 8 };
    let started = Instant::now();
    let f = run(kill_points, seed);
    println!(
        "crash: seed {seed}: {} kill points survived, {} operations acknowledged, {} written ranges verified, interrupted: {:?}, {:.1} s",
        f.kill_points,
        f.ops_acknowledged,
        f.writes_checked,
        f.interrupted,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(f.kill_points, kill_points);
    assert!(f.ops_acknowledged > 0);
}

#[path = "crash_snapshots.rs"]
mod snapshots;

#[path = "crash_backups.rs"]
mod backups;
