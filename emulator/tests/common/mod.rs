//! Black-box test helpers: an emulator on an ephemeral port over a temp dir, and a
//! small HTTP client that logs in as one of the default world's users.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use cinderbox_emulator::testing::Emulator;
use reqwest::blocking::{Client, Response};
use reqwest::Method;
use serde_json::{json, Value};

pub struct Env {
    pub emu: Emulator,
    pub dir: tempfile::TempDir,
}

/// A fresh emulator with the default world.
pub fn spawn_emulator() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let emu = Emulator::start(dir.path()).expect("emulator starts");
    Env { emu, dir }
}

impl Env {
    /// Logs in as `user` (password = the default world's) scoped to `project`.
    pub fn login(&self, user: &str, project: &str) -> Api {
        let password = match user {
            "glance" => "admin",
            other => other,
        };
        let (token, body) = issue_token(&self.emu.base_url, user, password, project);
        Api {
            base: self.emu.base_url.clone(),
            token,
            project_id: body["token"]["project"]["id"].as_str().unwrap().to_string(),
            http: client(),
            mv: None,
        }
    }

    pub fn admin(&self) -> Api {
        self.login("admin", "admin")
    }

    /// Stops and starts the emulator on the same port and data dir.
    pub fn restart(self) -> Env {
        let Env { emu, dir } = self;
        let emu = emu.restart().expect("emulator restarts");
        Env { emu, dir }
    }
}

pub fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// `POST /identity/v3/auth/tokens` with a project-scoped password; returns (token, body).
pub fn issue_token(base: &str, user: &str, password: &str, project: &str) -> (String, Value) {
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}
    }});
    let resp = client()
        .post(format!("{base}/identity/v3/auth/tokens"))
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201, "login as {user}");
    let token = resp.headers()["x-subject-token"]
        .to_str()
        .unwrap()
        .to_string();
    (token, resp.json().unwrap())
}

/// A logged-in Cinder client for one project.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: String,
    pub project_id: String,
    pub http: Client,
    /// Microversion sent with every request (`None`: no header, i.e. 3.0).
    pub mv: Option<String>,
}

impl Api {
    pub fn at(&self, mv: &str) -> Api {
        Api {
            mv: Some(mv.to_string()),
            ..self.clone()
        }
    }

    /// `{base}/volume/v3/{project}{path}`
    pub fn url(&self, path: &str) -> String {
        format!("{}/volume/v3/{}{}", self.base, self.project_id, path)
    }

    pub fn call(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut rb = self
            .http
            .request(method, self.url(path))
            .header("X-Auth-Token", &self.token);
        if let Some(mv) = &self.mv {
            rb = rb.header("OpenStack-API-Version", format!("volume {mv}"));
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        rb.send().unwrap()
    }

    /// Calls and returns (status, JSON body or Null).
    pub fn req(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let resp = self.call(method, path, body);
        let status = resp.status().as_u16();
        let text = resp.text().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.req(Method::GET, path, None)
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.req(Method::POST, path, Some(body))
    }

    pub fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.req(Method::PUT, path, Some(body))
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        self.req(Method::DELETE, path, None)
    }

    /// Creates a volume and returns its id (status still `creating`).
    pub fn create_volume(&self, size: u64, volume_type: Option<&str>) -> String {
        let mut v = json!({"size": size});
        if let Some(t) = volume_type {
            v["volume_type"] = json!(t);
        }
        let (status, body) = self.post("/volumes", json!({ "volume": v }));
        assert_eq!(status, 202, "{body}");
        body["volume"]["id"].as_str().unwrap().to_string()
    }

    /// Polls until the volume reaches `status` (or is gone, for "deleted"); panics
    /// with the last status seen after 10 s.
    pub fn wait_status(&self, id: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (code, body) = self.get(&format!("/volumes/{id}"));
            if status == "deleted" && code == 404 {
                return body;
            }
            if code == 200 && body["volume"]["status"] == status {
                return body["volume"].clone();
            }
            assert!(
                Instant::now() < deadline,
                "volume {id} never reached {status}: last {code} {body}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A volume that is `available`.
    pub fn available_volume(&self, size: u64, volume_type: Option<&str>) -> String {
        let id = self.create_volume(size, volume_type);
        self.wait_status(&id, "available");
        id
    }
}

/// Fails unless `routes` (method, path under `/volume/v3/{project}`, placeholders in
/// braces) reach every row of the emulator's operation catalogue: a test's route table
/// is checked against the one catalogue, so a new endpoint cannot be left out of it.
pub fn assert_routes_cover_the_catalogue<'a>(
    table: &str,
    routes: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    use cinderbox_emulator::cinder::endpoint::{Endpoint, CATALOGUE};
    let mut reached = std::collections::BTreeSet::new();
    for (method, path) in routes {
        let path = path.split('?').next().unwrap_or("");
        let filled: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s.starts_with('{') {
                    "x1".to_string()
                } else {
                    s.to_string()
                }
            })
            .collect();
        let seg: Vec<&str> = filled.iter().map(String::as_str).collect();
        let Ok(m) = axum::http::Method::from_bytes(method.as_bytes()) else {
            continue;
        };
        if let Ok(e) = Endpoint::parse(&m, &seg) {
            reached.insert((e.entry().method, e.entry().path));
        }
    }
    let missing: Vec<String> = CATALOGUE
        .iter()
        .filter(|row| !reached.contains(&(row.method, row.path)))
        .map(|row| format!("{} {}", row.method, row.path))
        .collect();
    assert!(
        missing.is_empty(),
        "{table} lacks catalogue rows: {missing:?}"
    );
}
