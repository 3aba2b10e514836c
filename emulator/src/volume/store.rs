//! Durable state: an in-memory copy for reads and SQLite (WAL, [`super::sql`]) for
//! durability. Writes go to one writer thread, which owns the database: it takes every
//! operation queued, runs them one after the other on one [`Tx`] (each sees the ones
//! before it; a failed one is rolled back alone), commits the group to SQLite in one
//! transaction (group commit) and only then applies it to memory and answers each
//! caller. So: no lost updates, no `database is locked`, and an acknowledged write is
//! on disk. Reads take only a read lock on the memory copy, never wait for SQLite.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard};

use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use super::hooks::Observer;
use super::model::{Attachment, Volume, VolumeType};
use super::snapshots::Snapshot;
use super::sql::Db;
use super::status::VolumeStatus;
use super::sums::Sums;
use crate::error::ApiError;

pub use super::tx::Tx;

/// A document of one of the smaller resources (QoS specs, transfers, service switches,
/// …), kept in the `records` table under its kind and key.
pub trait Record: Serialize + DeserializeOwned {
    const KIND: &'static str;
    fn key(&self) -> String;
}

/// (kind, key) of a [`Record`].
pub type RecordKey = (String, String);

/// Everything the emulator remembers, as held in memory.
#[derive(Debug, Default, Clone)]
pub struct State {
    pub volumes: BTreeMap<Uuid, Volume>,
    pub types: BTreeMap<Uuid, VolumeType>,
    pub attachments: BTreeMap<Uuid, Attachment>,
    /// (project id, resource) → limit; overrides of the world's quotas.
    pub quotas: BTreeMap<(String, String), i64>,
    /// audit id → expiry (unix seconds).
    pub revoked_tokens: HashMap<String, i64>,
    /// (kind, key) → document of a [`Record`].
    pub(super) records: BTreeMap<RecordKey, serde_json::Value>,
    pub next_seq: u64,
    /// Sums over `volumes`, kept in step by [`State::insert_volume`] and
    /// [`State::remove_volume`] (the only writers of `volumes`).
    pub(super) sums: Sums,
}

impl State {
    pub fn record<T: Record>(&self, key: &str) -> Option<T> {
        self.records
            .get(&(T::KIND.to_string(), key.to_string()))
            .and_then(|doc| serde_json::from_value(doc.clone()).ok())
    }

    /// Every record of a kind, in key order.
    pub fn records<T: Record>(&self) -> Vec<T> {
        let kind = T::KIND.to_string();
        self.records
            .range((kind.clone(), String::new())..)
            .take_while(|((k, _), _)| *k == kind)
            .filter_map(|(_, doc)| serde_json::from_value(doc.clone()).ok())
            .collect()
    }

    pub fn type_by_name(&self, name: &str) -> Option<&VolumeType> {
        self.types.values().find(|t| t.name == name)
    }

    pub fn attachments_of(&self, volume_id: Uuid) -> impl Iterator<Item = &Attachment> {
        self.attachments
            .values()
            .filter(move |a| a.volume_id == volume_id)
    }

    /// GiB of volumes placed on `pool_host` (`host@backend#pool`).
    pub fn allocated_gb(&self, pool_host: &str) -> u64 {
        self.sums.allocated_gb(pool_host)
    }

    pub(super) fn insert_volume(&mut self, v: Volume) {
        // The old version leaves the sums before the new one enters (same seq, same id).
        if let Some(old) = self.volumes.get(&v.id) {
            self.sums.add(old, -1);
        }
        self.sums.add(&v, 1);
        self.volumes.insert(v.id, v);
    }

    /// Sets or removes one record, keeping the snapshot sums in step (the only writer of
    /// `records` besides loading, which goes through it too).
    pub(super) fn set_record(&mut self, key: RecordKey, doc: Option<serde_json::Value>) {
        let is_snapshot = key.0 == <Snapshot as Record>::KIND;
        let old = match doc {
            Some(doc) => {
                if is_snapshot {
                    if let Ok(new) = serde_json::from_value::<Snapshot>(doc.clone()) {
                        self.sums.add_snapshot(&new, 1);
                    }
                }
                self.records.insert(key, doc)
            }
            None => self.records.remove(&key),
        };
        if let Some(old) = old.filter(|_| is_snapshot) {
            if let Ok(old) = serde_json::from_value::<Snapshot>(old) {
                self.sums.add_snapshot(&old, -1);
            }
        }
    }

    /// Volumes newest first (Cinder's default order), from just below `before`'s seq.
    pub fn volumes_newest_first(&self, before: Option<u64>) -> impl Iterator<Item = &Volume> {
        self.sums
            .newest_first(before)
            .filter_map(|id| self.volumes.get(id))
    }

    pub(super) fn remove_volume(&mut self, id: &Uuid) {
        if let Some(old) = self.volumes.remove(id) {
            self.sums.add(&old, -1);
        }
    }
}

type StatusChange = (Uuid, Option<VolumeStatus>, Option<VolumeStatus>);

/// One queued operation: runs on the group's `Tx`; `None` when it failed (it has
/// answered its caller and is rolled back), else what answers it once the group's
/// commit is known.
type Op = Box<dyn FnOnce(&mut Tx<'_>) -> Option<Answer> + Send>;
type Answer = Box<dyn FnOnce(Result<(), ApiError>) + Send>;
/// A call with the database itself, run between group commits.
type DbCall = Box<dyn FnOnce(&mut Db, &Shared) + Send>;

enum Msg {
    Write(Op),
    /// Runs on the writer thread with the database (meta, wipe, checks).
    Db(DbCall),
}

/// What the writer thread shares with readers.
struct Shared {
    /// The committed state; written only by the writer thread, after its commit.
    state: RwLock<State>,
    /// Told of status changes after each commit (set once, by the composition root).
    observer: OnceLock<Arc<dyn Observer>>,
    /// Bumped, under the write lock, by every commit that touches an identity record
    /// or a revocation, and by a wipe: what a cache of token checks is keyed on.
    identity_epoch: AtomicU64,
}

impl Shared {
    fn state(&self) -> RwLockReadGuard<'_, State> {
        // A panic cannot leave memory half-written (writes are applied only after the
        // SQL commit), so a poisoned lock is still consistent.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }
}

struct Inner {
    shared: Arc<Shared>,
    queue: Mutex<Option<mpsc::Sender<Msg>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the writer thread, which closes the database.
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
        let handle = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }
}

/// Shared handle to the state.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// Operations the writer takes into one group commit at most.
const MAX_GROUP: usize = 256;

impl Store {
    /// Opens (or creates) `state.db` in `dir`, loads everything into memory and starts
    /// the writer thread.
    pub fn open(dir: &Path) -> Result<Store, ApiError> {
        let db = Db::open(dir)?;
        let state = db.load()?;
        let shared = Arc::new(Shared {
            state: RwLock::new(state),
            observer: OnceLock::new(),
            identity_epoch: AtomicU64::new(0),
        });
        let (queue, rx) = mpsc::channel();
        let writer = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("cinderbox-store".into())
                .spawn(move || writer(db, &shared, rx))
                .map_err(|e| ApiError::Internal(format!("store writer thread: {e}")))?
        };
        Ok(Store {
            inner: Arc::new(Inner {
                shared,
                queue: Mutex::new(Some(queue)),
                writer: Mutex::new(Some(writer)),
            }),
        })
    }

    /// Sets who is told of committed status changes; a second call is ignored.
    pub fn observe(&self, observer: Arc<dyn Observer>) {
        let _ = self.inner.shared.observer.set(observer);
    }

    fn send(&self, msg: Msg) -> Result<(), ApiError> {
        let queue = self.inner.queue.lock().unwrap_or_else(|p| p.into_inner());
        queue
            .as_ref()
            .and_then(|q| q.send(msg).ok())
            .ok_or_else(|| ApiError::Internal("the store is closed".into()))
    }

    /// Changes whenever what a token check reads may have changed (identity records,
    /// revocations, a wipe). Read it before reading the state it guards.
    pub fn identity_epoch(&self) -> u64 {
        self.inner.shared.identity_epoch.load(Ordering::Acquire)
    }

    /// Runs `f` on the committed state. Cheap: memory only, under a read lock.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.inner.shared.state())
    }

    /// Runs read-only domain logic written against [`Tx`] on the committed state.
    pub fn view<R>(&self, f: impl FnOnce(&Tx<'_>) -> R) -> R {
        let guard = self.inner.shared.state();
        f(&Tx::new(&guard))
    }

    /// Runs `f` in a transaction on the writer thread; its writes are durable when this
    /// returns `Ok`, and none of them happen when `f` fails.
    pub async fn write<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<R, ApiError> + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Msg::Write(op(f, move |r| {
            let _ = tx.send(r);
        })))?;
        rx.await.unwrap_or_else(|_| Err(writer_lost()))
    }

    /// [`Store::write`] for callers off the async runtime (start-up, tests).
    pub fn write_blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<R, ApiError> + Send + 'static,
    ) -> Result<R, ApiError> {
        let (tx, rx) = mpsc::channel();
        self.send(Msg::Write(op(f, move |r| {
            let _ = tx.send(r);
        })))?;
        rx.recv().unwrap_or_else(|_| Err(writer_lost()))
    }

    /// Runs `f` with the database on the writer thread, between group commits.
    fn with_db<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Db, &Shared) -> Result<R, ApiError> + Send + 'static,
    ) -> Result<R, ApiError> {
        let (tx, rx) = mpsc::channel();
        self.send(Msg::Db(Box::new(move |db, shared| {
            let _ = tx.send(f(db, shared));
        })))?;
        rx.recv().unwrap_or_else(|_| Err(writer_lost()))
    }

    /// Runs SQLite's own consistency check (used by the crash tests).
    pub fn integrity_check(&self) -> Result<String, ApiError> {
        self.with_db(|db, _| db.integrity_check())
    }

    /// A meta value (e.g. whether the world was seeded).
    pub fn meta(&self, key: &str) -> Result<Option<String>, ApiError> {
        let key = key.to_string();
        self.with_db(move |db, _| db.meta(&key))
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), ApiError> {
        let (key, value) = (key.to_string(), value.to_string());
        self.with_db(move |db, _| db.set_meta(&key, &value))
    }

    /// Forgets every volume, attachment, type, quota override and revocation.
    pub fn wipe(&self) -> Result<(), ApiError> {
        self.with_db(|db, shared| {
            db.wipe()?;
            let mut state = shared.state.write().unwrap_or_else(|p| p.into_inner());
            let seq = state.next_seq;
            *state = State {
                next_seq: seq,
                ..State::default()
            };
            shared.identity_epoch.fetch_add(1, Ordering::AcqRel);
            Ok(())
        })
    }
}

fn writer_lost() -> ApiError {
    ApiError::Internal("the store's writer stopped before answering".into())
}

/// Wraps a domain operation for the writer: run it (a panic counts as a failure), and
/// answer through `answer` at once when it fails, after the commit when it succeeds.
fn op<R, F>(f: F, answer: impl FnOnce(Result<R, ApiError>) + Send + 'static) -> Op
where
    F: FnOnce(&mut Tx<'_>) -> Result<R, ApiError> + Send + 'static,
    R: Send + 'static,
{
    Box::new(
        move |tx| match std::panic::catch_unwind(AssertUnwindSafe(|| f(tx))) {
            Ok(Ok(r)) => {
                Some(
                    Box::new(move |committed: Result<(), ApiError>| answer(committed.map(|()| r)))
                        as Answer,
                )
            }
            Ok(Err(e)) => {
                answer(Err(e));
                None
            }
            Err(_) => {
                answer(Err(ApiError::Internal("a write panicked".into())));
                None
            }
        },
    )
}

/// The writer thread: group commits until the queue closes.
fn writer(mut db: Db, shared: &Shared, rx: mpsc::Receiver<Msg>) {
    let mut next = None;
    loop {
        let first = match next.take() {
            Some(m) => m,
            None => match rx.recv() {
                Ok(m) => m,
                Err(_) => return,
            },
        };
        let mut ops = match first {
            Msg::Db(f) => {
                f(&mut db, shared);
                continue;
            }
            Msg::Write(op) => vec![op],
        };
        // Everything queued meanwhile joins this group (up to a bound); a database
        // call waits for the next turn.
        while ops.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(Msg::Write(op)) => ops.push(op),
                Ok(m @ Msg::Db(_)) => {
                    next = Some(m);
                    break;
                }
                Err(_) => break,
            }
        }
        group_commit(&mut db, shared, ops);
    }
}

/// Runs `ops` on one `Tx`, commits what succeeded, applies it, then answers.
fn group_commit(db: &mut Db, shared: &Shared, ops: Vec<Op>) {
    let mut answers: Vec<Answer> = Vec::with_capacity(ops.len());
    let mut status_changes: Vec<StatusChange> = Vec::new();
    // Only this thread changes the state: it cannot move between this read and the
    // apply below.
    let changes = {
        let committed = shared.state();
        let mut tx = Tx::new(&committed);
        for op in ops {
            let mark = tx.mark();
            match op(&mut tx) {
                Some(answer) => {
                    status_changes.extend(tx.keep(mark));
                    answers.push(answer);
                }
                None => tx.rollback_to(mark),
            }
        }
        tx.into_changes()
    };
    if let Err(e) = db.persist(&changes) {
        for answer in answers {
            answer(Err(e.clone()));
        }
        return;
    }
    apply(shared, changes);
    if let Some(o) = shared.observer.get() {
        for (id, before, after) in status_changes {
            o.volume_status(id, before, after);
        }
    }
    for answer in answers {
        answer(Ok(()));
    }
}

/// Applies committed changes to the memory copy, under the write lock.
fn apply(shared: &Shared, mut changes: super::tx::Changes) {
    let identity = !changes.revoked.is_empty()
        || changes
            .records
            .iter()
            .any(|((kind, _), _)| kind.starts_with(IDENTITY_KINDS));
    let mut state = shared.state.write().unwrap_or_else(|p| p.into_inner());
    for (id, v) in changes.volumes.take() {
        match v {
            Some(v) => state.insert_volume(v),
            None => state.remove_volume(&id),
        }
    }
    for (id, t) in changes.types.take() {
        match t {
            Some(t) => state.types.insert(id, t),
            None => state.types.remove(&id),
        };
    }
    for (id, a) in changes.attachments.take() {
        match a {
            Some(a) => state.attachments.insert(id, a),
            None => state.attachments.remove(&id),
        };
    }
    for (k, v) in changes.quotas.take() {
        match v {
            Some(v) => state.quotas.insert(k, v),
            None => state.quotas.remove(&k),
        };
    }
    for (audit, exp) in changes.revoked.take() {
        if let Some(exp) = exp {
            state.revoked_tokens.insert(audit, exp);
        }
    }
    for (key, doc) in changes.records.take() {
        state.set_record(key, doc);
    }
    state.next_seq = changes.next_seq;
    if identity {
        shared.identity_epoch.fetch_add(1, Ordering::AcqRel);
    }
}

/// The record kinds a token check reads (`identity::model`'s kinds all start so).
pub const IDENTITY_KINDS: &str = "keystone.";

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
