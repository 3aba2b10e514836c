//! Crash-restart for Keystone's admin API: the emulator binary takes a stream of
//! identity writes (project, user, grant, application credential) and is SIGKILLed
//! while they run, then restarted on the same data dir. Every acknowledged write is
//! there afterwards: the projects and users exist, the users log in to their projects,
//! the application credentials authenticate; SQLite's integrity check passes.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{json, Value};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path) -> Server {
    let ready = dir.join("ready");
    let _ = std::fs::remove_file(&ready);
    let child = Command::new(env!("CARGO_BIN_EXE_cinderbox-emulator"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--ready-file")
        .arg(&ready)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
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

fn http() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// `POST /auth/tokens`: the token, or `None` on any refusal or a dead server.
fn login(base: &str, auth: Value) -> Option<(String, Value)> {
    let resp = http()
        .post(format!("{base}/identity/v3/auth/tokens"))
        .json(&json!({"auth": auth}))
        .send()
        .ok()?;
    if resp.status() != 201 {
        return None;
    }
    let token = resp.headers()["x-subject-token"].to_str().ok()?.to_string();
    Some((token, resp.json().ok()?))
}

fn password(user: &str, pw: &str, project: &str) -> Value {
    json!({
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": pw}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}
    })
}

/// A call that must be answered 2xx; `None` when the server died under it.
fn call(
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Option<Value> {
    let mut rb = http()
        .request(method, format!("{base}/identity/v3/{path}"))
        .header("X-Auth-Token", token);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().ok()?;
    let status = resp.status().as_u16();
    assert!((200..300).contains(&status), "{path}: {status}");
    Some(resp.json().unwrap_or(Value::Null))
}

/// One acknowledged identity: project and user names, and the app credential.
struct Made {
    name: String,
    cred: Option<(String, String)>,
}

/// Writes identities until the server dies; returns what was acknowledged, counting
/// each into `done` as it goes.
fn workload(base: &str, round: u64, done: &AtomicUsize) -> Vec<Made> {
    use reqwest::Method;
    let (admin, _) = login(base, password("admin", "admin", "admin")).unwrap();
    let member = call(base, &admin, Method::GET, "roles?name=member", None).unwrap()["roles"][0]
        ["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut made = Vec::new();
    for i in 0.. {
        let name = format!("crash-{round}-{i}");
        let Some(p) = call(
            base,
            &admin,
            Method::POST,
            "projects",
            Some(json!({"project": {"name": name}})),
        ) else {
            break;
        };
        let pid = p["project"]["id"].as_str().unwrap().to_string();
        let body = json!({"user": {"name": name, "password": "pw"}});
        let Some(u) = call(base, &admin, Method::POST, "users", Some(body)) else {
            break;
        };
        let uid = u["user"]["id"].as_str().unwrap().to_string();
        let grant = format!("projects/{pid}/users/{uid}/roles/{member}");
        if call(base, &admin, Method::PUT, &grant, None).is_none() {
            break;
        }
        let mut m = Made {
            name: name.clone(),
            cred: None,
        };
        let Some((token, _)) = login(base, password(&name, "pw", &name)) else {
            made.push(m);
            break;
        };
        let body = json!({"application_credential": {"name": "c"}});
        let path = format!("users/{uid}/application_credentials");
        match call(base, &token, Method::POST, &path, Some(body)) {
            Some(c) => {
                let c = &c["application_credential"];
                m.cred = Some((
                    c["id"].as_str().unwrap().into(),
                    c["secret"].as_str().unwrap().into(),
                ));
                made.push(m);
                done.fetch_add(1, Ordering::SeqCst);
            }
            None => {
                made.push(m);
                break;
            }
        }
    }
    made
}

#[test]
fn sigkill_during_identity_writes_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut total = 0;
    for round in 0..3u64 {
        let mut server = start(dir.path());
        let base = server.base.clone();
        let pid = server.child.id();
        // Kill at a different point each round, once the workload has made a few
        // identities (so the kill lands among writes, whatever the machine's speed).
        let done = Arc::new(AtomicUsize::new(0));
        let seen = done.clone();
        let killer = std::thread::spawn(move || {
            let give_up = Instant::now() + Duration::from_secs(120);
            while seen.load(Ordering::SeqCst) < 2 + round as usize && Instant::now() < give_up {
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(3 * round));
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        });
        let made = workload(&base, round, &done);
        killer.join().unwrap();
        let _ = server.child.wait();
        drop(server);

        let server = start(dir.path());
        for m in &made {
            let who = login(&server.base, password(&m.name, "pw", &m.name));
            assert!(
                who.is_some(),
                "round {round}: acknowledged {} cannot log in",
                m.name
            );
            if let Some((id, secret)) = &m.cred {
                let auth = json!({"identity": {"methods": ["application_credential"],
                    "application_credential": {"id": id, "secret": secret}}});
                assert!(
                    login(&server.base, auth).is_some(),
                    "round {round}: credential of {}",
                    m.name
                );
            }
        }
        total += made.len();
        drop(server);
        let db = rusqlite::Connection::open(dir.path().join("data/state.db")).unwrap();
        let ok: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
    }
    assert!(
        total >= 9,
        "each round acknowledged at least 2 + round identities: {total}"
    );
}
