//! Load: 64 concurrent clients on loopback, each cycling create → attach → write
//! through `device_path` → detach → metadata → delete for a bounded time, while all of
//! them also merge their own key into one shared volume's metadata. Zero 5xx, no
//! `database is locked`, no lost update (the final state is the sum of acknowledged
//! operations), and a small quota is never overshot. 3 s by default;
//! `CINDERBOX_LONG=1` holds the load for 30 s.

use crate::common;

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{spawn_emulator, Api};
use reqwest::Method;
use serde_json::{json, Value};

const CLIENTS: usize = 64;
/// Clients in the quota-limited project (the rest use glance's unlimited one).
const QUOTA_CLIENTS: usize = 16;
const QUOTA_VOLUMES: u64 = 6;

#[derive(Default)]
struct Counters {
    ops: AtomicU64,
    server_errors: AtomicU64,
    locked: AtomicU64,
    over_quota: AtomicU64,
    creates: AtomicU64,
    deletes: AtomicU64,
    writes_verified: AtomicU64,
}

struct Client<'a> {
    api: Api,
    n: &'a Counters,
}

impl Client<'_> {
    /// One call; a 5xx or a `database is locked` anywhere is counted (and fails the test).
    fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let resp = self.api.call(method, path, body);
        let status = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        if status >= 500 {
            self.n.server_errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("{status} on {path}: {text}");
        }
        if text.contains("database is locked") {
            self.n.locked.fetch_add(1, Ordering::Relaxed);
        }
        if status < 300 {
            self.n.ops.fetch_add(1, Ordering::Relaxed);
        }
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn wait(&self, id: &str, want: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (code, body) = self.call(Method::GET, &format!("/volumes/{id}"), None);
            if want == "deleted" && code == 404 {
                return true;
            }
            if code == 200 && body["volume"]["status"] == want {
                return true;
            }
            if Instant::now() > deadline {
                eprintln!("volume {id} never reached {want}: {code} {body}");
                return false;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// One full cycle; `false` when the quota refused the create.
    fn cycle(&self, me: usize, round: u64) -> bool {
        let (code, body) = self.call(
            Method::POST,
            "/volumes",
            Some(json!({"volume": {"size": 1, "name": format!("load-{me}")}})),
        );
        if code == 413 {
            self.n.over_quota.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        assert_eq!(code, 202, "{body}");
        self.n.creates.fetch_add(1, Ordering::Relaxed);
        let id = body["volume"]["id"].as_str().unwrap().to_string();
        assert!(self.wait(&id, "available"));
        let (code, body) = self.call(
            Method::POST,
            "/attachments",
            Some(json!({"attachment": {"volume_uuid": id, "connector": {
                "host": format!("load-{me}"), "initiator": "iqn.load", "ip": "127.0.0.1",
                "platform": "x86_64", "os_type": "linux", "multipath": false}}})),
        );
        assert_eq!(code, 200, "{body}");
        let aid = body["attachment"]["id"].as_str().unwrap().to_string();
        let path = body["attachment"]["connection_info"]["device_path"]
            .as_str()
            .unwrap()
            .to_string();
        let (code, body) = self.call(
            Method::POST,
            &format!("/attachments/{aid}/action"),
            Some(json!({"os-complete": {}})),
        );
        assert_eq!(code, 204, "{body}");
        let marker = format!("client {me} round {round}").into_bytes();
        let offset = (me as u64) * 4096;
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start(offset)).unwrap();
        f.write_all(&marker).unwrap();
        drop(f);
        let (code, body) = self.call(Method::DELETE, &format!("/attachments/{aid}"), None);
        assert_eq!(code, 200, "{body}");
        let mut back = vec![0; marker.len()];
        let mut f = std::fs::File::open(&path).unwrap();
        f.seek(SeekFrom::Start(offset)).unwrap();
        f.read_exact(&mut back).unwrap();
        assert_eq!(back, marker);
        self.n.writes_verified.fetch_add(1, Ordering::Relaxed);
        let (code, body) = self.call(
            Method::PUT,
            &format!("/volumes/{id}/metadata"),
            Some(json!({"metadata": {"round": round.to_string()}})),
        );
        assert_eq!(code, 200, "{body}");
        assert!(self.wait(&id, "available"));
        let (code, body) = self.call(Method::DELETE, &format!("/volumes/{id}"), None);
        assert_eq!(code, 202, "{body}");
        self.n.deletes.fetch_add(1, Ordering::Relaxed);
        assert!(self.wait(&id, "deleted"));
        true
    }
}

#[test]
fn sixty_four_clients_lose_nothing_and_never_pass_a_quota() {
    let secs = if std::env::var("CINDERBOX_LONG").is_ok_and(|v| v == "1") {
        30
    } else {
        3
    };
    let env = spawn_emulator();
    let admin = env.admin();
    let limited = env.login("demo", "demo").at("3.54");
    let unlimited = env.login("glance", "service").at("3.54");
    let (code, body) = admin.put(
        &format!("/os-quota-sets/{}", limited.project_id),
        json!({"quota_set": {"volumes": QUOTA_VOLUMES}}),
    );
    assert_eq!(code, 200, "{body}");
    // One shared volume per project: every client merges its own key into it.
    let shared_limited = limited.available_volume(1, None);
    let shared_unlimited = unlimited.available_volume(1, None);

    let n = Counters::default();
    let stop = AtomicBool::new(false);
    let last_values: Mutex<BTreeMap<usize, u64>> = Mutex::new(BTreeMap::new());
    let max_seen = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    std::thread::scope(|s| {
        // The quota watcher: the project's volume count, as often as it can look.
        s.spawn(|| {
            let watcher = Client {
                api: admin.at("3.54"),
                n: &n,
            };
            let path = format!(
                "/volumes?all_tenants=1&project_id={}&limit=1000",
                limited.project_id
            );
            while !stop.load(Ordering::Relaxed) {
                let (code, body) = watcher.call(Method::GET, &path, None);
                assert_eq!(code, 200, "{body}");
                let count = body["volumes"].as_array().unwrap().len() as u64;
                max_seen.fetch_max(count, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let mut handles = Vec::new();
        for me in 0..CLIENTS {
            let (api, shared) = if me < QUOTA_CLIENTS {
                (limited.clone(), &shared_limited)
            } else {
                (unlimited.clone(), &shared_unlimited)
            };
            let (n, last_values) = (&n, &last_values);
            handles.push(s.spawn(move || {
                let c = Client { api, n };
                let mut round = 0u64;
                // Bounded by the deadline: a cycle in progress finishes, none starts.
                while Instant::now() < deadline {
                    round += 1;
                    let (code, body) = c.call(
                        Method::POST,
                        &format!("/volumes/{shared}/metadata"),
                        Some(json!({"metadata": {format!("client-{me}"): round.to_string()}})),
                    );
                    assert_eq!(code, 200, "{body}");
                    last_values.lock().unwrap().insert(me, round);
                    c.cycle(me, round);
                }
            }));
        }
        for h in handles {
            h.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    let elapsed = started.elapsed().as_secs_f64();

    // Nothing lost: every client's last acknowledged key is in the shared metadata...
    let last = last_values.into_inner().unwrap();
    for (api, shared, range) in [
        (&limited, &shared_limited, 0..QUOTA_CLIENTS),
        (&unlimited, &shared_unlimited, QUOTA_CLIENTS..CLIENTS),
    ] {
        let (code, body) = api.get(&format!("/volumes/{shared}/metadata"));
        assert_eq!(code, 200);
        let md = body["metadata"].as_object().unwrap();
        assert_eq!(md.len(), range.len(), "{body}");
        for me in range {
            assert_eq!(
                md[&format!("client-{me}")],
                json!(last[&me].to_string()),
                "client {me}"
            );
        }
    }
    // ...and the volumes left are exactly the creates minus the deletes.
    let (_, all) = admin.get("/volumes?all_tenants=1&limit=1000");
    let remaining = all["volumes"].as_array().unwrap().len() as u64;
    let (creates, deletes) = (
        n.creates.load(Ordering::Relaxed),
        n.deletes.load(Ordering::Relaxed),
    );
    assert_eq!(remaining, 2 + creates - deletes, "{all}");
    let (_, limits) = limited.get("/limits");
    assert_eq!(limits["limits"]["absolute"]["totalVolumesUsed"], 1);

    let ops = n.ops.load(Ordering::Relaxed);
    println!(
        "load: {CLIENTS} clients x {secs} s ({elapsed:.1} s with the last cycles): {ops} operations acknowledged, \
         {creates} volumes created and deleted, {} writes verified, {} creates refused by quota \
         (max {} of {QUOTA_VOLUMES} volumes seen), {} 5xx, {} 'database is locked'",
        n.writes_verified.load(Ordering::Relaxed),
        n.over_quota.load(Ordering::Relaxed),
        max_seen.load(Ordering::Relaxed),
        n.server_errors.load(Ordering::Relaxed),
        n.locked.load(Ordering::Relaxed),
    );
    assert_eq!(n.server_errors.load(Ordering::Relaxed), 0);
    assert_eq!(n.locked.load(Ordering::Relaxed), 0);
    assert!(
        max_seen.load(Ordering::Relaxed) <= QUOTA_VOLUMES,
        "quota overshot"
    );
    assert!(
        n.over_quota.load(Ordering::Relaxed) > 0,
        "the quota was never reached"
    );
    assert!(creates > 0 && creates == deletes);
}
