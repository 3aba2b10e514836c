//! The SQL side of the store, and the only module that knows SQL (`rusqlite`): the
//! schema, the pragmas, loading every row into a [`State`] at start, and writing one
//! group of staged [`Changes`] as one SQLite transaction. Each resource is a row of a
//! JSON document keyed by its id (`records`: by kind and key).

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use uuid::Uuid;

use super::model::{Attachment, Volume, VolumeType};
use super::store::State;
use super::tx::{Changes, Staged};
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

/// The SQLite database under the data dir; owned by the store's writer thread.
pub struct Db {
    conn: Connection,
}

fn db_err(e: rusqlite::Error) -> ApiError {
    ApiError::Internal(format!("database: {e}"))
}

fn json_err(e: serde_json::Error) -> ApiError {
    ApiError::Internal(format!("stored document: {e}"))
}

impl Db {
    /// Opens (or creates) `state.db` in `dir`, 0600, in WAL mode with the schema.
    pub fn open(dir: &Path) -> Result<Db, ApiError> {
        let path = dir.join("state.db");
        make_private(&path).map_err(|e| ApiError::Internal(format!("{}: {e}", path.display())))?;
        let conn = Connection::open(&path).map_err(db_err)?;
        // WAL with synchronous=NORMAL: a committed transaction is in the WAL (the OS's
        // hands) when COMMIT returns, so it survives a killed process; only a power
        // loss may drop the last commits (FULL would fsync the WAL on every commit).
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
        )
        .map_err(db_err)?;
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        Ok(Db { conn })
    }

    /// Every row, as the state held in memory.
    pub fn load(&self) -> Result<State, ApiError> {
        load(&self.conn)
    }

    /// Writes one group of changes (from one or more domain operations) in one
    /// transaction: all of them are on disk when this returns `Ok`, none when it fails.
    pub fn persist(&mut self, changes: &Changes) -> Result<(), ApiError> {
        if changes.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction().map_err(db_err)?;
        put_docs(&tx, "volumes", &changes.volumes)?;
        put_docs(&tx, "volume_types", &changes.types)?;
        put_docs(&tx, "attachments", &changes.attachments)?;
        for ((project, resource), limit) in changes.quotas.iter() {
            match limit {
                Some(l) => tx
                    .prepare_cached(
                        "INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?1, ?2, ?3)
                 ON CONFLICT(project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit",
                    )
                    .and_then(|mut s| s.execute(params![project, resource, l])),
                None => tx
                    .prepare_cached("DELETE FROM quotas WHERE project_id = ?1 AND resource = ?2")
                    .and_then(|mut s| s.execute(params![project, resource])),
            }
            .map_err(db_err)?;
        }
        for (audit, exp) in changes.revoked.iter() {
            let Some(exp) = exp else { continue };
            tx.prepare_cached(
                "INSERT OR REPLACE INTO revoked_tokens (audit_id, expires_at) VALUES (?1, ?2)",
            )
            .and_then(|mut s| s.execute(params![audit, exp]))
            .map_err(db_err)?;
        }
        for ((kind, id), doc) in changes.records.iter() {
            match doc {
                Some(doc) => tx
                    .prepare_cached(
                        "INSERT INTO records (kind, id, doc) VALUES (?1, ?2, ?3)
                 ON CONFLICT(kind, id) DO UPDATE SET doc = excluded.doc",
                    )
                    .and_then(|mut s| s.execute(params![kind, id, doc.to_string()])),
                None => tx
                    .prepare_cached("DELETE FROM records WHERE kind = ?1 AND id = ?2")
                    .and_then(|mut s| s.execute(params![kind, id])),
            }
            .map_err(db_err)?;
        }
        tx.prepare_cached(
            "INSERT INTO meta (key, value) VALUES ('next_seq', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .and_then(|mut s| s.execute([changes.next_seq.to_string()]))
        .map_err(db_err)?;
        tx.commit().map_err(db_err)
    }

    /// SQLite's own consistency check (used by the crash tests).
    pub fn integrity_check(&self) -> Result<String, ApiError> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
            .map_err(db_err)
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, ApiError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(db_err)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), ApiError> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
            .map_err(db_err)
    }

    /// Deletes every volume, attachment, type, quota override, revocation and record.
    pub fn wipe(&self) -> Result<(), ApiError> {
        self.conn
            .execute_batch(
                "DELETE FROM volumes; DELETE FROM volume_types; DELETE FROM attachments;
                 DELETE FROM quotas; DELETE FROM revoked_tokens; DELETE FROM records;
                 DELETE FROM meta WHERE key = 'seeded';",
            )
            .map_err(db_err)
    }
}

/// Upserts (or deletes) one table's staged documents. `table` is one of ours.
fn put_docs<T: Serialize>(
    tx: &Transaction<'_>,
    table: &str,
    rows: &Staged<Uuid, T>,
) -> Result<(), ApiError> {
    let mut id_buf = Uuid::encode_buffer();
    for (id, doc) in rows.iter() {
        let id: &str = id.hyphenated().encode_lower(&mut id_buf);
        match doc {
            Some(doc) => {
                let text = serde_json::to_string(doc).map_err(json_err)?;
                tx.prepare_cached(&format!(
                    "INSERT INTO {table} (id, doc) VALUES (?1, ?2)
                     ON CONFLICT(id) DO UPDATE SET doc = excluded.doc"
                ))
                .and_then(|mut s| s.execute(params![id, text]))
                .map_err(db_err)?;
            }
            None => {
                tx.prepare_cached(&format!("DELETE FROM {table} WHERE id = ?1"))
                    .and_then(|mut s| s.execute([id]))
                    .map_err(db_err)?;
            }
        }
    }
    Ok(())
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
        state.insert_volume(v);
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
        state.set_record(k, Some(serde_json::from_str(&doc).map_err(json_err)?));
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
