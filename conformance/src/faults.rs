//! Talks to the emulator's fault control API (`/_cinderbox/faults`, admin token): installs
//! rules from the scenario catalogue (`fixtures/scenarios/*.toml`) or built here, reads
//! their counters, removes them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use reqwest::blocking::Client;
use serde_json::{json, Value};

/// The scenario catalogue shared with the emulator's own tests.
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios")
}

/// Faults a correct driver must survive: the operation still returns what the model says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransientFault {
    /// The next volume create answers 503 once.
    Create503,
    /// The next attachment update answers 503 once.
    AttachmentUpdate503,
    /// The next volume show answers 503 once.
    Show503,
    /// Volume creates take an extra 300 ms.
    SlowCreate,
    /// Every volume show answers 500 while the step runs: not transient, so every driver
    /// must fail the wrapped call (a `get_size` that answers 0 is glance_store's bug,
    /// glance_store_cinder.md §4). Not in `ALL`; generated around `get_size` only.
    ShowFails500,
    /// Every volume show answers 503 while the step runs (retries cannot help either).
    ShowFails503,
}

impl TransientFault {
    pub const ALL: [TransientFault; 4] = [
        TransientFault::Create503,
        TransientFault::AttachmentUpdate503,
        TransientFault::Show503,
        TransientFault::SlowCreate,
    ];

    /// The outages of `volume.show` generated around a `get_size`, which every driver must
    /// turn into an error.
    pub const SHOW_OUTAGES: [TransientFault; 2] =
        [TransientFault::ShowFails500, TransientFault::ShowFails503];

    /// Whether the fault lasts the whole step, so that no driver can succeed through it.
    pub fn is_outage(self) -> bool {
        match self {
            TransientFault::ShowFails500 | TransientFault::ShowFails503 => true,
            TransientFault::Create503
            | TransientFault::AttachmentUpdate503
            | TransientFault::Show503
            | TransientFault::SlowCreate => false,
        }
    }

    /// Whether a download goes through the call this fault hits (uploads hit all).
    pub fn hits_download(self) -> bool {
        matches!(
            self,
            TransientFault::AttachmentUpdate503 | TransientFault::Show503
        )
    }

    /// The rule, in the control API's JSON (the fields of a scenario file's `[[rule]]`).
    pub fn rule(self) -> Value {
        let http_once = |operation: &str| {
            json!({"description": format!("conformance: {operation} answers 503 once"),
                   "operation": operation, "trigger": {"first": 1}, "effect": "503"})
        };
        match self {
            TransientFault::Create503 => http_once("volume.create"),
            TransientFault::AttachmentUpdate503 => http_once("attachment.update"),
            TransientFault::Show503 => http_once("volume.show"),
            TransientFault::ShowFails500 | TransientFault::ShowFails503 => {
                let status = if self == TransientFault::ShowFails500 {
                    "500"
                } else {
                    "503"
                };
                json!({"description": format!("conformance: volume.show answers {status} for the step"),
                       "operation": "volume.show", "effect": status})
            }
            TransientFault::SlowCreate => {
                json!({"description": "conformance: creates take 300 ms more",
                "operation": "volume.create",
                "effect": {"transition": "slow", "delay_ms": 300}})
            }
        }
    }
}

/// A client of one emulator's control API.
pub struct FaultControl {
    base_url: String,
    token: String,
    http: Client,
}

/// Counters of one installed rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counters {
    pub matched: u64,
    pub fired: u64,
}

impl FaultControl {
    /// `token` is an admin token of the emulator.
    pub fn new(base_url: &str, token: String) -> Result<FaultControl> {
        Ok(FaultControl {
            base_url: base_url.trim_end_matches('/').to_string(),
            token,
            http: Client::builder().timeout(Duration::from_secs(10)).build()?,
        })
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/_cinderbox/faults{tail}", self.base_url)
    }

    /// Whether this emulator has the fault engine.
    pub fn available(&self) -> bool {
        self.http
            .get(self.url(""))
            .header("X-Auth-Token", &self.token)
            .send()
            .is_ok_and(|r| r.status().is_success())
    }

    /// Installs one rule; returns its id.
    pub fn add(&self, rule: &Value) -> Result<String> {
        let resp = self
            .http
            .post(self.url(""))
            .header("X-Auth-Token", &self.token)
            .json(rule)
            .send()
            .context("POST /_cinderbox/faults")?;
        let status = resp.status();
        let body: Value = resp.json().unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("the fault engine refused {rule}: {status} {body}");
        }
        find_id(&body)
            .ok_or_else(|| anyhow!("POST /_cinderbox/faults answered without an id: {body}"))
    }

    /// Installs every rule of a scenario file; returns their ids.
    pub fn add_scenario(&self, path: &Path) -> Result<Vec<String>> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        let doc: toml::Value =
            toml::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
        let doc = serde_json::to_value(doc)?;
        let rules = doc
            .get("rule")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| anyhow!("{} has no [[rule]] tables", path.display()))?;
        rules.iter().map(|r| self.add(r)).collect()
    }

    pub fn counters(&self, id: &str) -> Result<Counters> {
        let body: Value = self
            .http
            .get(self.url(&format!("/{id}")))
            .header("X-Auth-Token", &self.token)
            .send()?
            .json()?;
        let rule = body.get("fault").unwrap_or(&body);
        let get = |k: &str| rule.get(k).and_then(Value::as_u64).unwrap_or(0);
        Ok(Counters {
            matched: get("matched"),
            fired: get("fired"),
        })
    }

    pub fn remove(&self, id: &str) -> Result<()> {
        let status = self
            .http
            .delete(self.url(&format!("/{id}")))
            .header("X-Auth-Token", &self.token)
            .send()?
            .status();
        if !status.is_success() && status.as_u16() != 404 {
            bail!("DELETE /_cinderbox/faults/{id} answered {status}");
        }
        Ok(())
    }
}

fn find_id(body: &Value) -> Option<String> {
    let rule = body.get("fault").unwrap_or(body);
    match rule.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
