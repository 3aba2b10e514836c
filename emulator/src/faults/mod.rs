//! Fault injection: rules (match + trigger + effect) from a scenario file or the control
//! API, consulted at three points — the request pipeline ([`Faults::intercept`]), and
//! the domain's two [`Hooks`]: the background jobs ([`Hooks::plan`]) and attaching
//! ([`Hooks::before_attach`]) — with per-rule counters. See docs/faults.md.

pub mod bitrot;
pub mod effects;
pub mod matching;
pub mod operations;
pub mod parse;
pub mod parse_effect;
pub mod rng;
pub mod rule;
pub mod ruleset;
pub mod scenario;
pub mod spec;
pub mod trigger;

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::response::Response;
use serde_json::Value;
use tokio::sync::watch;
use uuid::Uuid;

use crate::config::World;
use crate::reqlog::Trace;
use crate::volume::hooks::{AttachCall, Hold, Hooks, Job, NfsOutcome, NfsPlan, Outcome, Plan};
use crate::volume::store::Store;
use matching::Facts;
use parse::RuleError;
use rule::{HttpEffect, Phase, TransitionSpec};
use ruleset::{Action, RuleSet, Source};
pub use scenario::{Scenario, ScenarioError};

/// Which service's error envelope an injected error uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Cinder,
    Keystone,
}

/// One request as the fault hook sees it.
pub struct Call<'a> {
    pub service: Service,
    pub operation: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    /// The project the request acts in (Cinder: the URL's; Keystone: none).
    pub project_id: Option<&'a str>,
    /// The volume the URL names, if any.
    pub volume_id: Option<&'a str>,
    /// The log middleware's trace for this request (absent when not mounted).
    pub trace: Option<Trace>,
}

impl Call<'_> {
    fn note(&self, note: &str) {
        if let Some(t) = &self.trace {
            t.note(note);
        }
    }

    fn closed(&self, note: &str) {
        if let Some(t) = &self.trace {
            t.closed(note);
        }
    }
}

/// Why the control API refused a rule.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("Invalid fault rule: {0}")]
    Invalid(#[from] RuleError),
    #[error("A fault rule with id {0:?} already exists.")]
    Duplicate(String),
}

/// The live rules, their scenario, what they look at (store, world), and the switch
/// that ends waits.
pub struct Faults {
    scenario: Option<Scenario>,
    rules: Mutex<RuleSet>,
    store: Store,
    world: Arc<World>,
    /// Where an injected 401 sends the client (`WWW-Authenticate`).
    identity_url: String,
    /// Bumped to end every hang and injected delay at once (reset, shutdown).
    release: watch::Sender<u64>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults")
            .field("scenario", &self.scenario.as_ref().map(|s| &s.origin))
            .finish_non_exhaustive()
    }
}

impl Faults {
    /// Rules from `scenario` (if any), matched against `store` and `world`.
    pub fn new(
        scenario: Option<Scenario>,
        store: Store,
        world: Arc<World>,
        identity_url: String,
    ) -> Faults {
        let mut rules = RuleSet::default();
        rules.replace(
            scenario
                .as_ref()
                .map(|s| s.rules.clone())
                .unwrap_or_default(),
        );
        Faults {
            scenario,
            rules: Mutex::new(rules),
            store,
            world,
            identity_url,
            release: watch::channel(0).0,
        }
    }

    /// The scenario this emulator started with (kept across `restart`).
    pub fn scenario(&self) -> Option<&Scenario> {
        self.scenario.as_ref()
    }

    fn rules(&self) -> MutexGuard<'_, RuleSet> {
        // Deciding never panics half-way through a change; a poisoned lock is consistent.
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every live rule with its counters, in evaluation order.
    pub fn list(&self) -> Vec<Value> {
        self.rules().views()
    }

    pub fn get(&self, id: &str) -> Option<Value> {
        self.rules().view_of(id)
    }

    /// Validates and appends a rule; returns it as listed.
    pub fn add(&self, spec: &Value) -> Result<Value, AddError> {
        let mut rules = self.rules();
        let id = match spec.get("id") {
            Some(_) => String::new(),
            None => rules.auto_id(),
        };
        let rule = parse::parse_rule(spec, &id)?;
        if rules.contains(&rule.id) {
            return Err(AddError::Duplicate(rule.id));
        }
        let id = rule.id.clone();
        rules.push(rule, Source::Api);
        Ok(rules.view_of(&id).expect("just added"))
    }

    pub fn remove(&self, id: &str) -> bool {
        self.rules().remove(id)
    }

    /// Back to the scenario's rules with fresh counters; ends hangs.
    pub fn reset(&self) {
        self.rules().replace(
            self.scenario
                .as_ref()
                .map(|s| s.rules.clone())
                .unwrap_or_default(),
        );
        self.release_waits();
    }

    /// Ends every hang and injected delay now (hangs close their connection).
    pub fn release_waits(&self) {
        self.release.send_modify(|n| *n += 1);
    }

    /// Sleeps for `d` or until [`Faults::release_waits`]; never longer than 10 minutes.
    async fn wait(&self, d: Duration) {
        let mut released = self.release.subscribe();
        let d = d.min(Duration::from_millis(rule::MAX_WAIT_MS));
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = released.changed() => {}
        }
    }

    /// The request hook: decides whether a rule fires on `call`, and either runs
    /// `next` (the real handler, given the body) or answers as the rule says.
    pub async fn intercept<F, Fut>(&self, call: Call<'_>, body: Bytes, next: F) -> Response
    where
        F: FnOnce(Bytes) -> Fut,
        Fut: Future<Output = Response>,
    {
        // No rules, nothing to match: a Cinder request skips gathering facts (a
        // store read) and goes straight to its handler.
        if call.service == Service::Cinder && self.rules().is_empty() {
            if let Some(t) = &call.trace {
                t.set_request(call.operation, call.project_id);
            }
            return next(body).await;
        }
        let facts = self.request_facts(&call, &body);
        if let Some(t) = &call.trace {
            t.set_request(call.operation, facts.project_id.as_deref());
        }
        let picked = self.rules().pick(Phase::Http, &facts);
        match picked {
            Some((id, Action::Http(effect))) => {
                tracing::info!(rule = %id, operation = call.operation, "fault fired");
                if let Some(t) = &call.trace {
                    t.set_rule(&id);
                }
                effects::apply(self, &call, effect, body, next).await
            }
            _ => next(body).await,
        }
    }
}

impl Hooks for Faults {
    fn nfs_call(&self, operation: &str, volume_id: Option<Uuid>) -> NfsPlan {
        self.plan_nfs(operation, volume_id)
    }

    /// A `hold` rule matching the attachment call just committed.
    fn hold(&self, volume_id: Uuid, call: AttachCall) -> Option<Hold> {
        let mut facts = self.volume_facts(volume_id);
        facts.operation = Some(call.operation().to_string());
        match self.rules().pick(Phase::Hold, &facts) {
            Some((id, Action::Hold { status, for_ms })) => {
                tracing::info!(rule = %id, %volume_id, %status, for_ms, "fault: volume held");
                Some(Hold {
                    status,
                    duration: Duration::from_millis(for_ms),
                })
            }
            _ => None,
        }
    }

    /// How a background transition should run: by default after `base`, successfully.
    fn plan(&self, volume_id: Uuid, job: Job, base: Duration) -> Plan {
        let operation = match job {
            Job::Create => "volume.create",
            Job::Extend { .. } => "volume.action.os-extend",
            Job::Delete => "volume.delete",
            Job::Backup { .. } => job.name(),
            Job::Retype { .. } => "volume.action.os-retype",
            Job::SnapshotCreate { .. } => "snapshot.create",
            Job::SnapshotDelete { .. } => "snapshot.delete",
        };
        let mut facts = self.volume_facts(volume_id);
        facts.operation = Some(operation.to_string());
        let picked = self.rules().pick(Phase::Job, &facts);
        let t = match picked {
            Some((id, Action::Truncate)) => {
                tracing::info!(rule = %id, %volume_id, job = job.name(), "fault: extend discards the volume's bytes");
                return Plan {
                    delay: base,
                    outcome: Outcome::Truncate,
                };
            }
            Some((id, Action::Transition(t))) => {
                tracing::info!(rule = %id, %volume_id, job = job.name(), "fault fired on a transition");
                t
            }
            _ => {
                return Plan {
                    delay: base,
                    outcome: Outcome::Succeed,
                }
            }
        };
        let ms = Duration::from_millis;
        let (delay, outcome) = match t {
            TransitionSpec::Stay { for_ms: None } => (Duration::ZERO, Outcome::Stay),
            TransitionSpec::Stay { for_ms: Some(t) } => (ms(t), Outcome::Succeed),
            TransitionSpec::Fail { delay_ms } => (delay_ms.map(ms).unwrap_or(base), Outcome::Fail),
            TransitionSpec::Slow { delay_ms } => (ms(delay_ms), Outcome::Succeed),
        };
        Plan { delay, outcome }
    }

    /// Where bit rot is applied: before the client can open the file.
    fn before_attach(&self, volume_id: Uuid, path: &Path) {
        let facts = self.volume_facts(volume_id);
        if facts.volume.is_none() {
            return;
        }
        let Some(region_mib) = self.rules().bit_rot_region_mib(&facts) else {
            return;
        };
        // Only a volume holding data can rot; an empty one does not count as a match.
        let end = match bitrot::written_end(path, region_mib << 20) {
            Ok(end) => end,
            Err(e) => {
                tracing::error!(%volume_id, error = %e, "fault: cannot read volume for bit rot");
                return;
            }
        };
        if end == 0 {
            return;
        }
        let picked = self.rules().pick(Phase::Attach, &facts);
        if let Some((
            id,
            Action::BitRot {
                bytes,
                seed,
                region_mib,
            },
        )) = picked
        {
            match bitrot::flip(path, bytes, seed, end.min(region_mib << 20)) {
                Ok(offsets) => {
                    tracing::info!(rule = %id, %volume_id, ?offsets, "fault: bit rot applied")
                }
                Err(e) => {
                    tracing::error!(rule = %id, %volume_id, error = %e, "fault: bit rot failed")
                }
            }
        }
    }
}

impl Faults {
    /// [`Hooks::nfs_call`]: request-phase rules (latency, hang, close, error) naming the
    /// NFS operation, then bit rot on `nfs.read`.
    fn plan_nfs(&self, operation: &str, volume_id: Option<Uuid>) -> NfsPlan {
        let mut facts = volume_id.map(|v| self.volume_facts(v)).unwrap_or_default();
        facts.operation = Some(operation.to_string());
        let ms = Duration::from_millis;
        let picked = self.rules().pick(Phase::Http, &facts);
        let plan = match picked {
            Some((id, Action::Http(effect))) => {
                tracing::info!(rule = %id, operation, ?volume_id, "fault fired on an NFS call");
                match effect {
                    HttpEffect::Latency { min_ms, .. } => NfsPlan {
                        delay: ms(min_ms),
                        outcome: NfsOutcome::Serve,
                    },
                    HttpEffect::Hang { max_ms } => NfsPlan {
                        delay: ms(max_ms),
                        outcome: NfsOutcome::Drop,
                    },
                    HttpEffect::Close => NfsPlan {
                        delay: Duration::ZERO,
                        outcome: NfsOutcome::Drop,
                    },
                    HttpEffect::Error(_) => NfsPlan {
                        delay: Duration::ZERO,
                        outcome: NfsOutcome::Fail,
                    },
                    HttpEffect::Lie(_) | HttpEffect::RefuseReserve { .. } => NfsPlan::SERVE,
                }
            }
            _ => NfsPlan::SERVE,
        };
        if plan != NfsPlan::SERVE || operation != "nfs.read" {
            return plan;
        }
        match self.rules().pick(Phase::Attach, &facts) {
            Some((id, Action::BitRot { bytes, seed, .. })) => {
                tracing::info!(rule = %id, ?volume_id, "fault: bit rot on an NFS read");
                NfsPlan {
                    delay: Duration::ZERO,
                    outcome: NfsOutcome::Corrupt { bytes, seed },
                }
            }
            _ => NfsPlan::SERVE,
        }
    }

    /// Facts for a job or an attach: the stored volume and its project.
    fn volume_facts(&self, volume_id: Uuid) -> Facts {
        let mut facts = Facts::default();
        if let Some((project_id, v)) = matching::stored_volume(&self.store, volume_id) {
            facts.project_name = project_name(&self.store, &self.world, &project_id);
            facts.project_id = Some(project_id);
            facts.volume = Some(v);
        }
        facts
    }

    /// Facts for a request: what the URL and, for creates, the body say.
    fn request_facts(&self, call: &Call<'_>, body: &Bytes) -> Facts {
        let (store, world) = (&self.store, &*self.world);
        let json = || serde_json::from_slice::<Value>(body).ok();
        let mut project_id = call.project_id.map(str::to_string);
        if call.service == Service::Keystone && project_id.is_none() {
            // A token request names its project in the scope, by id or by name.
            let scope = json().and_then(|b| b.pointer("/auth/scope/project").cloned());
            project_id = scope.and_then(|p| {
                let by_id = p.get("id").and_then(Value::as_str).map(str::to_string);
                by_id.or_else(|| {
                    let name = p.get("name").and_then(Value::as_str)?;
                    let found = store.view(|tx| {
                        crate::identity::directory::Directory::new(tx, world)
                            .projects()
                            .into_iter()
                            .find(|x| x.name == name)
                    });
                    Some(found.map(|x| x.id).unwrap_or_else(|| name.to_string()))
                })
            });
        }
        let stored = |id: Option<Uuid>| {
            id.and_then(|id| matching::stored_volume(store, id))
                .map(|x| x.1)
        };
        let volume = match call.operation {
            "volume.create" => json().map(|b| matching::volume_from_create_body(store, world, &b)),
            "attachment.create" => stored(json().and_then(|b| {
                b.pointer("/attachment/volume_uuid")
                    .and_then(Value::as_str)
                    .and_then(|s| Uuid::parse_str(s).ok())
            })),
            _ => match call.volume_id {
                Some(v) => stored(Uuid::parse_str(v).ok()),
                None => stored(
                    matching::attachment_id_in_path(call.path)
                        .and_then(|a| matching::attachment_volume(store, a)),
                ),
            },
        };
        Facts {
            operation: Some(call.operation.to_string()),
            method: Some(call.method.to_string()),
            path: Some(call.path.to_string()),
            project_name: project_id
                .as_deref()
                .and_then(|p| project_name(store, world, p)),
            project_id,
            volume,
        }
    }
}

/// A project's name, from the world file or the Keystone admin API's projects.
fn project_name(store: &Store, world: &World, project_id: &str) -> Option<String> {
    if let Some(p) = world.project(project_id) {
        return Some(p.name.clone());
    }
    store.view(|tx| {
        crate::identity::directory::Directory::new(tx, world)
            .project(project_id)
            .map(|p| p.name)
    })
}
