//! Durable state: an in-memory copy for reads and SQLite (WAL) for durability. The only
//! module that knows SQL. Writes run in `spawn_blocking`, one at a time (the writers'
//! lock, which owns the connection), staged in a [`Tx`], committed to SQLite in one
//! transaction and only then applied to memory: no lost updates, no `database is
//! locked`, and an acknowledged write is on disk. Reads take only a read lock on the
//! memory copy, never the writers' lock: they wait at most for a commit's in-memory
//! apply, not for SQLite.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, RwLockReadGuard};

use rusqlite::{params, Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use super::hooks::Observer;
use super::model::{Attachment, Volume, VolumeType};
use super::status::VolumeStatus;
use crate::error::ApiError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS volumes (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS volume_types (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attachments (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS quotas (
    project_id TEXT NOT NULL, resource TEXT NOT NULL, hard_limit INTEGER NOT NULL,
    PRIMARY KEY (project_id, resource));
CREATE TABLE IF NOT EXISTS revoked_tokens (audit_id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (kind, id));
";

/// A document of one of the smaller resources (QoS specs, transfers, service switches,
/// …), kept in the `records` table under its kind and key.
pub trait Record: Serialize + DeserializeOwned {
    const KIND: &'static str;
    fn key(&self) -> String;
}

type RecordKey = (String, String);

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
    pub records: BTreeMap<RecordKey, serde_json::Value>,
    pub next_seq: u64,
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
}

/// Writes staged by one domain operation, visible to its own reads.
pub struct Tx<'a> {
    state: &'a State,
    volumes: HashMap<Uuid, Option<Volume>>,
    types: HashMap<Uuid, Option<VolumeType>>,
    attachments: HashMap<Uuid, Option<Attachment>>,
    quotas: Vec<((String, String), Option<i64>)>,
    revoked: Vec<(String, i64)>,
    records: BTreeMap<RecordKey, Option<serde_json::Value>>,
    next_seq: u64,
}

impl<'a> Tx<'a> {
    fn new(state: &'a State) -> Self {
        Tx {
            state,
            volumes: HashMap::new(),
            types: HashMap::new(),
            attachments: HashMap::new(),
            quotas: Vec::new(),
            revoked: Vec::new(),
            records: BTreeMap::new(),
            next_seq: state.next_seq,
        }
    }

    pub fn record<T: Record>(&self, key: &str) -> Option<T> {
        match self.records.get(&(T::KIND.to_string(), key.to_string())) {
            Some(staged) => staged
                .as_ref()
                .and_then(|doc| serde_json::from_value(doc.clone()).ok()),
            None => self.state.record(key),
        }
    }

    /// Every record of a kind, this transaction's writes included, in key order.
    pub fn records<T: Record>(&self) -> Vec<T> {
        let kind = T::KIND.to_string();
        let mut keys: Vec<String> = self
            .state
            .records
            .range((kind.clone(), String::new())..)
            .take_while(|((k, _), _)| *k == kind)
            .map(|((_, id), _)| id.clone())
            .collect();
        keys.extend(
            self.records
                .keys()
                .filter(|(k, _)| *k == kind)
                .map(|(_, id)| id.clone()),
        );
        keys.sort();
        keys.dedup();
        keys.iter().filter_map(|id| self.record(id)).collect()
    }

    pub fn put_record<T: Record>(&mut self, r: &T) {
        if let Ok(doc) = serde_json::to_value(r) {
            self.records
                .insert((T::KIND.to_string(), r.key()), Some(doc));
        }
    }

    pub fn remove_record<T: Record>(&mut self, key: &str) {
        self.records
            .insert((T::KIND.to_string(), key.to_string()), None);
    }

    /// The committed state, without this transaction's own writes.
    pub fn committed(&self) -> &State {
        self.state
    }

    pub fn volume(&self, id: Uuid) -> Option<&Volume> {
        match self.volumes.get(&id) {
            Some(staged) => staged.as_ref(),
            None => self.state.volumes.get(&id),
        }
    }

    /// All volumes, this transaction's writes included.
    pub fn volumes(&self) -> impl Iterator<Item = &Volume> {
        let staged = &self.volumes;
        self.state
            .volumes
            .values()
            .filter(move |v| !staged.contains_key(&v.id))
            .chain(self.volumes.values().flatten())
    }

    pub fn put_volume(&mut self, v: Volume) {
        self.volumes.insert(v.id, Some(v));
    }

    pub fn remove_volume(&mut self, id: Uuid) {
        self.volumes.insert(id, None);
    }

    pub fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    pub fn volume_type(&self, id: Uuid) -> Option<&VolumeType> {
        match self.types.get(&id) {
            Some(staged) => staged.as_ref(),
            None => self.state.types.get(&id),
        }
    }

    pub fn types(&self) -> impl Iterator<Item = &VolumeType> {
        let staged = &self.types;
        self.state
            .types
            .values()
            .filter(move |t| !staged.contains_key(&t.id))
            .chain(self.types.values().flatten())
    }

    pub fn put_type(&mut self, t: VolumeType) {
        self.types.insert(t.id, Some(t));
    }

    pub fn remove_type(&mut self, id: Uuid) {
        self.types.insert(id, None);
    }

    pub fn attachment(&self, id: Uuid) -> Option<&Attachment> {
        match self.attachments.get(&id) {
            Some(staged) => staged.as_ref(),
            None => self.state.attachments.get(&id),
        }
    }

    pub fn attachments_of(&self, volume_id: Uuid) -> Vec<&Attachment> {
        let staged = &self.attachments;
        self.state
            .attachments
            .values()
            .filter(|a| !staged.contains_key(&a.id))
            .chain(self.attachments.values().flatten())
            .filter(|a| a.volume_id == volume_id)
            .collect()
    }

    pub fn put_attachment(&mut self, a: Attachment) {
        self.attachments.insert(a.id, Some(a));
    }

    pub fn remove_attachment(&mut self, id: Uuid) {
        self.attachments.insert(id, None);
    }

    pub fn quota_override(&self, project_id: &str, resource: &str) -> Option<i64> {
        let key = (project_id.to_string(), resource.to_string());
        match self.quotas.iter().rev().find(|(k, _)| *k == key) {
            Some((_, v)) => *v,
            None => self.state.quotas.get(&key).copied(),
        }
    }

    pub fn set_quota(&mut self, project_id: &str, resource: &str, limit: Option<i64>) {
        self.quotas
            .push(((project_id.to_string(), resource.to_string()), limit));
    }

    pub fn revoke_token(&mut self, audit_id: String, expires_at: i64) {
        self.revoked.push((audit_id, expires_at));
    }
}

struct Inner {
    /// The writers' lock: held for a whole write (stage, commit, apply).
    conn: Mutex<Connection>,
    /// The committed state; written only by the holder of `conn`, after its commit.
    state: RwLock<State>,
    /// Told of status changes after each commit (set once, by the composition root).
    observer: OnceLock<Arc<dyn Observer>>,
}

/// Shared handle to the state.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

fn db_err(e: rusqlite::Error) -> ApiError {
    ApiError::Internal(format!("database: {e}"))
}

fn json_err(e: serde_json::Error) -> ApiError {
    ApiError::Internal(format!("stored document: {e}"))
}

impl Store {
    /// Opens (or creates) `state.db` in `dir` and loads everything into memory.
    pub fn open(dir: &Path) -> Result<Store, ApiError> {
        let path = dir.join("state.db");
        make_private(&path).map_err(|e| ApiError::Internal(format!("{}: {e}", path.display())))?;
        let conn = Connection::open(&path).map_err(db_err)?;
        // WAL with synchronous=NORMAL: a committed write survives a killed process
        // (it is in the OS's hands); only a power loss may drop the last commits.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
        )
        .map_err(db_err)?;
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        let state = load(&conn)?;
        Ok(Store {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                state: RwLock::new(state),
                observer: OnceLock::new(),
            }),
        })
    }

    /// Sets who is told of committed status changes; a second call is ignored.
    pub fn observe(&self, observer: Arc<dyn Observer>) {
        let _ = self.inner.observer.set(observer);
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave memory half-written (writes are
        // applied only after the SQL commit), so a poisoned lock is still consistent.
        self.inner.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn state(&self) -> RwLockReadGuard<'_, State> {
        self.inner.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the committed state. Cheap: memory only, under a read lock.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state())
    }

    /// Runs read-only domain logic written against [`Tx`] on the committed state.
    pub fn view<R>(&self, f: impl FnOnce(&Tx<'_>) -> R) -> R {
        let guard = self.state();
        f(&Tx::new(&guard))
    }

    /// Runs `f` in a transaction on a blocking thread; its writes are durable when this
    /// returns `Ok`, and none of them happen when `f` fails.
    pub async fn write<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<R, ApiError> + Send + 'static,
        R: Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.write_blocking(f))
            .await
            .map_err(|e| ApiError::Internal(format!("write task: {e}")))?
    }

    pub fn write_blocking<R>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let mut conn = self.writer();
        // Only writers change the state and they hold `conn`: it cannot move between
        // this read and the apply below.
        let (result, volumes, types, attachments, quotas, revoked, records, next_seq) = {
            let committed = self.state();
            let mut tx = Tx::new(&committed);
            let result = f(&mut tx)?;
            let Tx {
                volumes,
                types,
                attachments,
                quotas,
                revoked,
                records,
                next_seq,
                ..
            } = tx;
            (
                result,
                volumes,
                types,
                attachments,
                quotas,
                revoked,
                records,
                next_seq,
            )
        };
        persist(
            &mut conn,
            &volumes,
            &types,
            &attachments,
            &quotas,
            &revoked,
            &records,
            next_seq,
        )?;
        let mut state = self.inner.state.write().unwrap_or_else(|p| p.into_inner());
        let mut changes: Vec<(Uuid, Option<VolumeStatus>, Option<VolumeStatus>)> = Vec::new();
        for (id, v) in volumes {
            let before = state.volumes.get(&id).map(|v| v.status);
            let after = v.as_ref().map(|v| v.status);
            if before != after {
                changes.push((id, before, after));
            }
            match v {
                Some(v) => state.volumes.insert(id, v),
                None => state.volumes.remove(&id),
            };
        }
        for (id, t) in types {
            match t {
                Some(t) => state.types.insert(id, t),
                None => state.types.remove(&id),
            };
        }
        for (id, a) in attachments {
            match a {
                Some(a) => state.attachments.insert(id, a),
                None => state.attachments.remove(&id),
            };
        }
        for (k, v) in quotas {
            match v {
                Some(v) => state.quotas.insert(k, v),
                None => state.quotas.remove(&k),
            };
        }
        for (audit, exp) in revoked {
            state.revoked_tokens.insert(audit, exp);
        }
        for (key, doc) in records {
            match doc {
                Some(doc) => state.records.insert(key, doc),
                None => state.records.remove(&key),
            };
        }
        state.next_seq = next_seq;
        drop(state);
        if let Some(o) = self.inner.observer.get() {
            for (id, before, after) in changes {
                o.volume_status(id, before, after);
            }
        }
        Ok(result)
    }

    /// Runs SQLite's own consistency check (used by the crash tests).
    pub fn integrity_check(&self) -> Result<String, ApiError> {
        self.writer()
            .query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
            .map_err(db_err)
    }

    /// A meta value (e.g. whether the world was seeded).
    pub fn meta(&self, key: &str) -> Result<Option<String>, ApiError> {
        self.writer()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(db_err)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), ApiError> {
        self.writer()
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
            .map_err(db_err)
    }

    /// Forgets every volume, attachment, type, quota override and revocation.
    pub fn wipe(&self) -> Result<(), ApiError> {
        let conn = self.writer();
        conn.execute_batch(
            "DELETE FROM volumes; DELETE FROM volume_types; DELETE FROM attachments;
                 DELETE FROM quotas; DELETE FROM revoked_tokens; DELETE FROM records;
                 DELETE FROM meta WHERE key = 'seeded';",
        )
        .map_err(db_err)?;
        let mut state = self.inner.state.write().unwrap_or_else(|p| p.into_inner());
        let seq = state.next_seq;
        *state = State {
            next_seq: seq,
            ..State::default()
        };
        Ok(())
    }
}

/// Creates `state.db` 0600 (SQLite gives its `-wal` and `-shm` files the same mode), or
/// tightens an existing one: state is readable by its owner only, like the volume files.
fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn load(conn: &Connection) -> Result<State, ApiError> {
    fn docs<T: serde::de::DeserializeOwned>(
        conn: &Connection,
        table: &str,
    ) -> Result<Vec<T>, ApiError> {
        let mut stmt = conn
            .prepare(&format!("SELECT doc FROM {table}"))
            .map_err(db_err)?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(db_err)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(serde_json::from_str(&row.map_err(db_err)?).map_err(json_err)?);
        }
        Ok(out)
    }
    let mut state = State::default();
    for v in docs::<Volume>(conn, "volumes")? {
        state.next_seq = state.next_seq.max(v.seq);
        state.volumes.insert(v.id, v);
    }
    for t in docs::<VolumeType>(conn, "volume_types")? {
        state.types.insert(t.id, t);
    }
    for a in docs::<Attachment>(conn, "attachments")? {
        state.attachments.insert(a.id, a);
    }
    let mut stmt = conn
        .prepare("SELECT project_id, resource, hard_limit FROM quotas")
        .map_err(db_err)?;
    let rows = stmt
        .query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))
        .map_err(db_err)?;
    for row in rows {
        let (k, v) = row.map_err(db_err)?;
        state.quotas.insert(k, v);
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    conn.execute("DELETE FROM revoked_tokens WHERE expires_at < ?1", [now])
        .map_err(db_err)?;
    let mut stmt = conn
        .prepare("SELECT audit_id, expires_at FROM revoked_tokens")
        .map_err(db_err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_err)?;
    for row in rows {
        let (k, v) = row.map_err(db_err)?;
        state.revoked_tokens.insert(k, v);
    }
    let mut stmt = conn
        .prepare("SELECT kind, id, doc FROM records")
        .map_err(db_err)?;
    let rows = stmt
        .query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get::<_, String>(2)?)))
        .map_err(db_err)?;
    for row in rows {
        let (k, doc) = row.map_err(db_err)?;
        state
            .records
            .insert(k, serde_json::from_str(&doc).map_err(json_err)?);
    }
    if let Some(seq) = conn
        .query_row("SELECT value FROM meta WHERE key = 'next_seq'", [], |r| {
            r.get::<_, String>(0)
        })
        .optional()
        .map_err(db_err)?
    {
        state.next_seq = state.next_seq.max(seq.parse().unwrap_or(0));
    }
    Ok(state)
}

#[allow(clippy::too_many_arguments)]
fn persist(
    conn: &mut Connection,
    volumes: &HashMap<Uuid, Option<Volume>>,
    types: &HashMap<Uuid, Option<VolumeType>>,
    attachments: &HashMap<Uuid, Option<Attachment>>,
    quotas: &[((String, String), Option<i64>)],
    revoked: &[(String, i64)],
    records: &BTreeMap<RecordKey, Option<serde_json::Value>>,
    next_seq: u64,
) -> Result<(), ApiError> {
    if volumes.is_empty()
        && types.is_empty()
        && attachments.is_empty()
        && quotas.is_empty()
        && revoked.is_empty()
        && records.is_empty()
    {
        return Ok(());
    }
    let tx = conn.transaction().map_err(db_err)?;
    fn put_docs<T: serde::Serialize>(
        tx: &rusqlite::Transaction<'_>,
        table: &str,
        rows: &HashMap<Uuid, Option<T>>,
    ) -> Result<(), ApiError> {
        for (id, doc) in rows {
            match doc {
                Some(doc) => {
                    let text = serde_json::to_string(doc).map_err(json_err)?;
                    tx.execute(
                        &format!(
                            "INSERT INTO {table} (id, doc) VALUES (?1, ?2)
                             ON CONFLICT(id) DO UPDATE SET doc = excluded.doc"
                        ),
                        params![id.to_string(), text],
                    )
                    .map_err(db_err)?;
                }
                None => {
                    tx.execute(
                        &format!("DELETE FROM {table} WHERE id = ?1"),
                        [id.to_string()],
                    )
                    .map_err(db_err)?;
                }
            }
        }
        Ok(())
    }
    put_docs(&tx, "volumes", volumes)?;
    put_docs(&tx, "volume_types", types)?;
    put_docs(&tx, "attachments", attachments)?;
    for ((project, resource), limit) in quotas {
        match limit {
            Some(l) => tx.execute(
                "INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?1, ?2, ?3)
                 ON CONFLICT(project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit",
                params![project, resource, l],
            ),
            None => tx.execute(
                "DELETE FROM quotas WHERE project_id = ?1 AND resource = ?2",
                params![project, resource],
            ),
        }
        .map_err(db_err)?;
    }
    for (audit, exp) in revoked {
        tx.execute(
            "INSERT OR REPLACE INTO revoked_tokens (audit_id, expires_at) VALUES (?1, ?2)",
            params![audit, exp],
        )
        .map_err(db_err)?;
    }
    for ((kind, id), doc) in records {
        match doc {
            Some(doc) => tx.execute(
                "INSERT INTO records (kind, id, doc) VALUES (?1, ?2, ?3)
                 ON CONFLICT(kind, id) DO UPDATE SET doc = excluded.doc",
                params![kind, id, doc.to_string()],
            ),
            None => tx.execute(
                "DELETE FROM records WHERE kind = ?1 AND id = ?2",
                params![kind, id],
            ),
        }
        .map_err(db_err)?;
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('next_seq', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [next_seq.to_string()],
    )
    .map_err(db_err)?;
    tx.commit().map_err(db_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::model::now;
    use crate::volume::status::VolumeStatus;

    fn volume(seq: u64) -> Volume {
        Volume {
            id: Uuid::new_v4(),
            seq,
            project_id: "p".into(),
            user_id: "u".into(),
            name: Some("v".into()),
            description: None,
            size_gb: 1,
            status: VolumeStatus::Creating,
            volume_type_id: Uuid::new_v4(),
            availability_zone: "nova".into(),
            bootable: false,
            multiattach: false,
            metadata: BTreeMap::from([("k".into(), "v".into())]),
            admin_metadata: BTreeMap::new(),
            migration_status: None,
            host: None,
            group_id: None,
            snapshot_id: None,
            source_volid: None,
            created_at: now(),
            updated_at: None,
        }
    }

    #[test]
    fn committed_writes_survive_reopen_and_failed_ones_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let v = volume(1);
        let id = v.id;
        store
            .write_blocking(|tx| {
                tx.put_volume(v.clone());
                tx.next_seq();
                Ok(())
            })
            .unwrap();
        let refused = store.write_blocking(|tx| {
            tx.remove_volume(id);
            Err::<(), _>(ApiError::bad_request("no"))
        });
        assert!(refused.is_err());
        assert!(store.read(|s| s.volumes.contains_key(&id)));
        drop(store);

        let store = Store::open(dir.path()).unwrap();
        let back = store.read(|s| s.volumes.get(&id).cloned()).unwrap();
        assert_eq!(back.metadata["k"], "v");
        assert_eq!(back.status, VolumeStatus::Creating);
        assert_eq!(store.read(|s| s.next_seq), 1);
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn a_transaction_sees_its_own_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let v = volume(1);
        let id = v.id;
        let seen = store
            .write_blocking(move |tx| {
                tx.put_volume(v);
                let n = tx.volumes().count();
                tx.remove_volume(id);
                Ok((n, tx.volumes().count(), tx.volume(id).is_none()))
            })
            .unwrap();
        assert_eq!(seen, (1, 0, true));
    }
}
