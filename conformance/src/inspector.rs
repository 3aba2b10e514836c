//! Looks at Cinder directly, behind the store's back: as admin for the invariants (every
//! volume and attachment, each volume's type) and as the glance user to make legacy volumes
//! the way an old single-store Glance did. Independent of the driver's client.

use std::collections::{BTreeMap, HashSet};
use std::io::{Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use reqwest::blocking::Client;
use reqwest::Method;
use serde_json::{json, Value};

use crate::model::{Content, GIB};
use cinderbox_driver::config::CinderOptions;
use cinderbox_driver::connector::{connector_for, AccessMode};

/// Upstream's defaults for how a host opens a volume (mount base, NFS connector).
fn host_options() -> CinderOptions {
    cinderbox_driver::GlanceConfig::parse(
        "harness",
        "[glance_store]\nstores = cinder\ndefault_store = cinder\n",
    )
    .ok()
    .and_then(|c| c.backends.into_iter().find_map(|b| b.cinder))
    .expect("the harness's built-in store configuration parses")
}

/// Keystone v3 password credentials, as `openstack` takes them (`OS_*` or clouds.yaml).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub auth_url: String,
    pub username: String,
    pub password: String,
    pub project_name: String,
    pub user_domain_name: String,
    pub project_domain_name: String,
    pub region_name: Option<String>,
    /// `public`, `internal` or `admin`.
    pub interface: String,
    pub insecure: bool,
}

impl Credentials {
    /// `auth_url` with `/v3` (Keystone's versioned root), as the token call needs it.
    fn tokens_url(&self) -> String {
        let base = self.auth_url.trim_end_matches('/');
        if base.ends_with("/v3") {
            format!("{base}/auth/tokens")
        } else {
            format!("{base}/v3/auth/tokens")
        }
    }
}

struct Session {
    token: String,
    endpoint: String,
    project_id: String,
}

/// One authenticated Cinder v3 account; re-authenticates once on a 401.
pub struct Account {
    creds: Credentials,
    http: Client,
    session: Mutex<Option<Arc<Session>>>,
}

/// Bound on any single HTTP call the inspector makes.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on waiting for a volume to become available or disappear.
const WAIT: Duration = Duration::from_secs(120);
/// Microversion used for every call (attachments with `mode`).
const MICROVERSION: &str = "volume 3.54";

impl Account {
    pub fn new(creds: Credentials) -> Result<Account> {
        let http = Client::builder()
            .timeout(HTTP_TIMEOUT)
            .danger_accept_invalid_certs(creds.insecure)
            .build()?;
        Ok(Account {
            creds,
            http,
            session: Mutex::new(None),
        })
    }

    fn login(&self) -> Result<Arc<Session>> {
        let c = &self.creds;
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": c.username, "domain": {"name": c.user_domain_name}, "password": c.password}}},
            "scope": {"project": {"name": c.project_name, "domain": {"name": c.project_domain_name}}}
        }});
        let resp = self
            .http
            .post(c.tokens_url())
            .json(&body)
            .send()
            .with_context(|| format!("Keystone at {}", c.auth_url))?;
        let status = resp.status();
        let token = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body: Value = resp.json().unwrap_or(Value::Null);
        let Some(token) = token.filter(|_| status.is_success()) else {
            bail!(
                "Keystone refused {}@{} ({status}): check the admin credentials",
                c.username,
                c.project_name
            );
        };
        let project_id = body["token"]["project"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let endpoint = catalog_endpoint(&body["token"]["catalog"], c).ok_or_else(|| {
            anyhow!(
                "no block-storage v3 endpoint in the catalog for {}",
                c.username
            )
        })?;
        let session = Arc::new(Session {
            token,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            project_id,
        });
        *self.session.lock().unwrap_or_else(|p| p.into_inner()) = Some(session.clone());
        Ok(session)
    }

    fn session(&self) -> Result<Arc<Session>> {
        let current = self
            .session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match current {
            Some(s) => Ok(s),
            None => self.login(),
        }
    }

    /// A valid Keystone token of this account (for other services, e.g. the fault API).
    pub fn token(&self) -> Result<String> {
        Ok(self.session()?.token.clone())
    }

    pub fn project_id(&self) -> Result<String> {
        Ok(self.session()?.project_id.clone())
    }

    /// Drops the token, e.g. after the emulator restarted.
    pub fn forget(&self) {
        *self.session.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// One Cinder call; `path` is relative to the project endpoint.
    pub fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
        for attempt in 0..2 {
            let session = self.session()?;
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", session.endpoint))
                .header("X-Auth-Token", &session.token)
                .header("OpenStack-API-Version", MICROVERSION)
                .header("Accept", "application/json");
            if let Some(body) = body {
                req = req.json(body);
            }
            let resp = req.send().with_context(|| format!("{method} {path}"))?;
            let status = resp.status().as_u16();
            if status == 401 && attempt == 0 {
                self.forget();
                continue;
            }
            let text = resp.text().unwrap_or_default();
            let value = serde_json::from_str(&text).unwrap_or(Value::Null);
            return Ok((status, value));
        }
        bail!("{method} {path}: unauthorized after re-authentication")
    }

    fn ok(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let (status, value) = self.call(method.clone(), path, body)?;
        if !(200..300).contains(&status) {
            bail!("{method} {path} answered {status}: {value}");
        }
        Ok(value)
    }
}

fn catalog_endpoint(catalog: &Value, c: &Credentials) -> Option<String> {
    let services = catalog.as_array()?;
    for kind in ["block-storage", "volumev3"] {
        for service in services.iter().filter(|s| s["type"] == kind) {
            let endpoints = service["endpoints"].as_array()?;
            let found = endpoints.iter().find(|e| {
                e["interface"] == c.interface.as_str()
                    && c.region_name
                        .as_deref()
                        .is_none_or(|r| e["region"] == r || e["region_id"] == r)
            });
            if let Some(url) = found.and_then(|e| e["url"].as_str()) {
                return Some(url.to_string());
            }
        }
    }
    None
}

/// A volume as the invariants need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeInfo {
    pub id: String,
    pub name: String,
    pub status: String,
    pub volume_type: Option<String>,
    pub project_id: Option<String>,
    pub size_gb: u64,
    pub attachments: usize,
    pub metadata: BTreeMap<String, String>,
}

impl VolumeInfo {
    fn from_json(v: &Value) -> VolumeInfo {
        VolumeInfo {
            id: v["id"].as_str().unwrap_or_default().to_string(),
            name: v["name"].as_str().unwrap_or_default().to_string(),
            status: v["status"].as_str().unwrap_or_default().to_string(),
            volume_type: v["volume_type"].as_str().map(str::to_string),
            project_id: v["os-vol-tenant-attr:tenant_id"]
                .as_str()
                .map(str::to_string),
            size_gb: v["size"].as_u64().unwrap_or(0),
            attachments: v["attachments"].as_array().map_or(0, Vec::len),
            metadata: v["metadata"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// An attachment as the leak check needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentInfo {
    pub id: String,
    pub volume_id: String,
    pub status: String,
}

/// Admin and glance-user views of one Cinder.
pub struct Inspector {
    pub admin: Account,
    pub glance: Account,
    /// Every volume the suite itself created directly (for cleanup on exit or Ctrl-C).
    pub created: Arc<Mutex<HashSet<String>>>,
}

/// Page size for listings; the loops stop after `MAX_PAGES`.
const PAGE: usize = 500;
const MAX_PAGES: usize = 200;

impl Inspector {
    pub fn new(admin: Credentials, glance: Credentials) -> Result<Inspector> {
        Ok(Inspector {
            admin: Account::new(admin)?,
            glance: Account::new(glance)?,
            created: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    /// Forgets both tokens (an emulator restart may have dropped them).
    pub fn forget(&self) {
        self.admin.forget();
        self.glance.forget();
    }

    /// Every volume of every project.
    pub fn volumes(&self) -> Result<Vec<VolumeInfo>> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut path = format!("/volumes/detail?all_tenants=1&limit={PAGE}");
            if let Some(m) = &marker {
                path.push_str(&format!("&marker={m}"));
            }
            let page = self.admin.ok(Method::GET, &path, None)?;
            let items = page["volumes"].as_array().cloned().unwrap_or_default();
            out.extend(items.iter().map(VolumeInfo::from_json));
            if items.len() < PAGE {
                return Ok(out);
            }
            marker = items
                .last()
                .and_then(|v| v["id"].as_str())
                .map(str::to_string);
        }
        bail!(
            "more than {} volumes; refusing to list further",
            PAGE * MAX_PAGES
        )
    }

    pub fn volume(&self, id: &str) -> Result<Option<VolumeInfo>> {
        let (status, body) = self
            .admin
            .call(Method::GET, &format!("/volumes/{id}"), None)?;
        match status {
            200 => Ok(Some(VolumeInfo::from_json(&body["volume"]))),
            404 => Ok(None),
            other => bail!("GET /volumes/{id} answered {other}: {body}"),
        }
    }

    /// Every attachment of every project; `None` when this Cinder has no attachments API.
    pub fn attachments(&self) -> Result<Option<Vec<AttachmentInfo>>> {
        let (status, body) =
            self.admin
                .call(Method::GET, "/attachments/detail?all_tenants=1", None)?;
        match status {
            200 => Ok(Some(
                body["attachments"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|a| AttachmentInfo {
                                id: a["id"].as_str().unwrap_or_default().to_string(),
                                volume_id: a["volume_id"].as_str().unwrap_or_default().to_string(),
                                status: a["status"].as_str().unwrap_or_default().to_string(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            )),
            404 => Ok(None),
            other => bail!("GET /attachments/detail answered {other}: {body}"),
        }
    }

    /// Cinder's default volume type name.
    pub fn default_type(&self) -> Result<String> {
        let body = self.admin.ok(Method::GET, "/types/default", None)?;
        body["volume_type"]["name"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("GET /types/default has no name"))
    }

    pub fn type_exists(&self, name: &str) -> Result<bool> {
        let body = self.admin.ok(Method::GET, "/types?is_public=None", None)?;
        Ok(body["volume_types"]
            .as_array()
            .is_some_and(|ts| ts.iter().any(|t| t["name"] == name)))
    }

    /// Creates a volume the way an old single-store Glance left it (`image-<id>`, metadata
    /// `image_size`, `glance_image_id`), fills it with `content` when `fill` is set (through
    /// a `local` attachment on this host), and waits until it is available.
    pub fn create_legacy(
        &self,
        image_id: &str,
        volume_type: Option<&str>,
        content: &Content,
        fill: bool,
    ) -> Result<String> {
        let size_gb = content.len.div_ceil(GIB).max(1);
        let mut volume = json!({
            "size": size_gb,
            "name": format!("image-{image_id}"),
            "metadata": {"glance_image_id": image_id, "image_size": content.len.to_string()},
        });
        if let Some(t) = volume_type {
            volume["volume_type"] = json!(t);
        }
        let body = self
            .glance
            .ok(Method::POST, "/volumes", Some(&json!({ "volume": volume })))?;
        let id = body["volume"]["id"]
            .as_str()
            .ok_or_else(|| anyhow!("volume create answered without an id: {body}"))?
            .to_string();
        self.created
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone());
        self.wait_status(&id, "available")?;
        if fill && content.len > 0 {
            self.fill(&id, content)?;
        }
        Ok(id)
    }

    fn fill(&self, volume_id: &str, content: &Content) -> Result<()> {
        let connector = json!({"platform": "x86_64", "os_type": "linux", "ip": "127.0.0.1",
            "host": "cinderbox-conformance", "multipath": false, "do_local_attach": false,
            "mountpoint": "conformance", "mode": "rw"});
        let body = self.glance.ok(
            Method::POST,
            "/attachments",
            Some(&json!({"attachment": {"volume_uuid": volume_id, "connector": connector, "mode": "rw"}})),
        )?;
        let attachment = &body["attachment"];
        let attachment_id = attachment["id"].as_str().unwrap_or_default().to_string();
        let written = (|| -> Result<()> {
            let info = attachment["connection_info"]
                .as_object()
                .cloned()
                .ok_or_else(|| anyhow!("attachment has no connection_info: {attachment}"))?;
            // As a host would: through the driver's connector for this transport (a local
            // path, or the NFS export in userspace).
            let connector = connector_for(&info, &host_options())?;
            self.glance.ok(
                Method::POST,
                &format!("/attachments/{attachment_id}/action"),
                Some(&json!({"os-complete": {}})),
            )?;
            let mut file = connector.open(AccessMode::ReadWrite)?;
            file.seek(SeekFrom::Start(0))?;
            std::io::copy(&mut content.reader(), &mut file)?;
            file.flush()?;
            file.sync()?;
            drop(file);
            connector.disconnect()?;
            Ok(())
        })();
        self.glance.ok(
            Method::DELETE,
            &format!("/attachments/{attachment_id}"),
            None,
        )?;
        written?;
        self.wait_status(volume_id, "available")
    }

    /// Polls until the volume has `status` (bounded by `WAIT`).
    pub fn wait_status(&self, id: &str, status: &str) -> Result<()> {
        let deadline = Instant::now() + WAIT;
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.volume(id)? {
                Some(v) if v.status == status => return Ok(()),
                Some(v) if v.status.starts_with("error") => {
                    bail!("volume {id} went to {}", v.status)
                }
                Some(v) => last = v.status,
                None => bail!("volume {id} disappeared while waiting for {status}"),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("volume {id} still '{last}' after {WAIT:?}, wanted '{status}'")
    }

    /// Removes a volume and its attachments whatever their state, waiting until it is gone.
    pub fn purge(&self, id: &str) -> Result<()> {
        if let Some(attachments) = self.attachments()? {
            for a in attachments.iter().filter(|a| a.volume_id == id) {
                let _ = self
                    .admin
                    .call(Method::DELETE, &format!("/attachments/{}", a.id), None)?;
            }
        }
        let (status, body) = self
            .admin
            .call(Method::DELETE, &format!("/volumes/{id}"), None)?;
        match status {
            202 | 204 | 200 | 404 => {}
            _ => {
                let (status, _) = self.admin.call(
                    Method::POST,
                    &format!("/volumes/{id}/action"),
                    Some(&json!({"os-force_delete": {}})),
                )?;
                if !(200..300).contains(&status) && status != 404 {
                    bail!("cannot delete volume {id}: {body}");
                }
            }
        }
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if self.volume(id)?.is_none() {
                self.created
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(id);
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("volume {id} still exists {WAIT:?} after its delete")
    }
}
