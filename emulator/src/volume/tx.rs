//! [`Tx`]: the writes staged by domain operations over the committed [`State`], visible
//! to their own reads. The store's writer runs several operations on one `Tx` (a group
//! commit); each one is a savepoint ([`Tx::mark`]) that is rolled back alone when the
//! operation fails, so a failed operation leaves nothing while the others still commit.

use std::collections::HashMap;
use std::hash::Hash;

use uuid::Uuid;

use super::model::{Attachment, Volume, VolumeType};
use super::status::VolumeStatus;
use super::store::{Record, RecordKey, State};

/// Staged rows of one table: key → new value (`None`: deleted), with an undo log of
/// the values each write replaced, for rolling one operation back.
pub struct Staged<K, V> {
    map: HashMap<K, Option<V>>,
    undo: Vec<(K, Option<Option<V>>)>,
}

impl<K: Hash + Eq + Clone, V> Default for Staged<K, V> {
    fn default() -> Self {
        Staged {
            map: HashMap::new(),
            undo: Vec::new(),
        }
    }
}

impl<K: Hash + Eq + Clone, V> Staged<K, V> {
    /// `None`: not staged; `Some(None)`: staged as deleted.
    pub fn get(&self, k: &K) -> Option<Option<&V>> {
        self.map.get(k).map(Option::as_ref)
    }

    fn set(&mut self, k: K, v: Option<V>) {
        let old = self.map.insert(k.clone(), v);
        self.undo.push((k, old));
    }

    pub fn contains(&self, k: &K) -> bool {
        self.map.contains_key(k)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &Option<V>)> {
        self.map.iter()
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values().flatten()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn rollback(&mut self, mark: usize) {
        while self.undo.len() > mark {
            let Some((k, old)) = self.undo.pop() else {
                break;
            };
            match old {
                Some(old) => self.map.insert(k, old),
                None => self.map.remove(&k),
            };
        }
    }

    /// Moves the staged rows out, leaving this empty.
    pub fn take(&mut self) -> HashMap<K, Option<V>> {
        self.undo.clear();
        std::mem::take(&mut self.map)
    }
}

/// Everything a group of operations wrote, as the SQL module persists it.
#[derive(Default)]
pub struct Changes {
    pub volumes: Staged<Uuid, Volume>,
    pub types: Staged<Uuid, VolumeType>,
    pub attachments: Staged<Uuid, Attachment>,
    /// (project id, resource) → limit (`None`: back to the world's).
    pub quotas: Staged<(String, String), i64>,
    /// audit id → expiry (unix seconds).
    pub revoked: Staged<String, i64>,
    pub records: Staged<RecordKey, serde_json::Value>,
    pub next_seq: u64,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.volumes.is_empty()
            && self.types.is_empty()
            && self.attachments.is_empty()
            && self.quotas.is_empty()
            && self.revoked.is_empty()
            && self.records.is_empty()
    }
}

/// Where one operation's writes start (see [`Tx::rollback_to`]).
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    volumes: usize,
    types: usize,
    attachments: usize,
    quotas: usize,
    revoked: usize,
    records: usize,
    next_seq: u64,
}

/// Writes staged by domain operations, visible to their own reads.
pub struct Tx<'a> {
    state: &'a State,
    changes: Changes,
}

impl<'a> Tx<'a> {
    pub(super) fn new(state: &'a State) -> Self {
        Tx {
            state,
            changes: Changes {
                next_seq: state.next_seq,
                ..Changes::default()
            },
        }
    }

    /// A savepoint before the next operation.
    pub(super) fn mark(&self) -> Mark {
        let c = &self.changes;
        Mark {
            volumes: c.volumes.undo.len(),
            types: c.types.undo.len(),
            attachments: c.attachments.undo.len(),
            quotas: c.quotas.undo.len(),
            revoked: c.revoked.undo.len(),
            records: c.records.undo.len(),
            next_seq: c.next_seq,
        }
    }

    /// Undoes every write since `mark` (a failed operation).
    pub(super) fn rollback_to(&mut self, mark: Mark) {
        let c = &mut self.changes;
        c.volumes.rollback(mark.volumes);
        c.types.rollback(mark.types);
        c.attachments.rollback(mark.attachments);
        c.quotas.rollback(mark.quotas);
        c.revoked.rollback(mark.revoked);
        c.records.rollback(mark.records);
        c.next_seq = mark.next_seq;
    }

    /// The volume status changes since `mark` (before, after), in the order written,
    /// and forgets the undo log: the operation is kept.
    pub(super) fn keep(
        &mut self,
        mark: Mark,
    ) -> Vec<(Uuid, Option<VolumeStatus>, Option<VolumeStatus>)> {
        let mut changes = Vec::new();
        let c = &mut self.changes;
        let mut seen = std::collections::HashSet::new();
        for (id, old) in &c.volumes.undo[mark.volumes..] {
            if !seen.insert(*id) {
                continue;
            }
            let before = match old {
                Some(staged) => staged.as_ref().map(|v| v.status),
                None => self.state.volumes.get(id).map(|v| v.status),
            };
            let after = c.volumes.get(id).flatten().map(|v| v.status);
            if before != after {
                changes.push((*id, before, after));
            }
        }
        c.volumes.undo.clear();
        c.types.undo.clear();
        c.attachments.undo.clear();
        c.quotas.undo.clear();
        c.revoked.undo.clear();
        c.records.undo.clear();
        changes
    }

    pub(super) fn into_changes(self) -> Changes {
        self.changes
    }

    pub fn record<T: Record>(&self, key: &str) -> Option<T> {
        match self
            .changes
            .records
            .get(&(T::KIND.to_string(), key.to_string()))
        {
            Some(staged) => staged.and_then(|doc| serde_json::from_value(doc.clone()).ok()),
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
            self.changes
                .records
                .iter()
                .filter(|((k, _), _)| *k == kind)
                .map(|((_, id), _)| id.clone()),
        );
        keys.sort();
        keys.dedup();
        keys.iter().filter_map(|id| self.record(id)).collect()
    }

    pub fn put_record<T: Record>(&mut self, r: &T) {
        if let Ok(doc) = serde_json::to_value(r) {
            self.changes
                .records
                .set((T::KIND.to_string(), r.key()), Some(doc));
        }
    }

    pub fn remove_record<T: Record>(&mut self, key: &str) {
        self.changes
            .records
            .set((T::KIND.to_string(), key.to_string()), None);
    }

    /// The state as of the last commit: without this transaction's writes, nor those
    /// of the operations grouped before it in the same commit.
    pub fn committed(&self) -> &State {
        self.state
    }

    pub fn volume(&self, id: Uuid) -> Option<&Volume> {
        match self.changes.volumes.get(&id) {
            Some(staged) => staged,
            None => self.state.volumes.get(&id),
        }
    }

    /// All volumes, this transaction's writes included.
    pub fn volumes(&self) -> impl Iterator<Item = &Volume> {
        let staged = &self.changes.volumes;
        self.state
            .volumes
            .values()
            .filter(move |v| !staged.contains(&v.id))
            .chain(staged.values())
    }

    /// (volume count, GiB) of a project's volumes, overall or of one type, this
    /// transaction's writes included: the committed sums plus the staged difference.
    pub fn volume_usage(&self, project_id: &str, type_id: Option<Uuid>) -> (i64, i64) {
        let counts = |v: &Volume| {
            v.project_id == project_id && type_id.is_none_or(|t| v.volume_type_id == t)
        };
        let (mut n, mut gb) = self.state.sums.usage(project_id, type_id);
        for (id, staged) in self.changes.volumes.iter() {
            if let Some(old) = self.state.volumes.get(id).filter(|v| counts(v)) {
                n -= 1;
                gb -= old.size_gb as i64;
            }
            if let Some(new) = staged.as_ref().filter(|v| counts(v)) {
                n += 1;
                gb += new.size_gb as i64;
            }
        }
        (n, gb)
    }

    /// (snapshots, GiB) of a project's snapshots, overall or of one type, this
    /// transaction's writes included: the committed sums plus the staged difference.
    pub fn snapshot_usage(&self, project_id: &str, type_id: Option<Uuid>) -> (i64, i64) {
        use super::snapshots::Snapshot;
        let kind = <Snapshot as Record>::KIND;
        let counts = |s: &Snapshot| {
            s.project_id == project_id && type_id.is_none_or(|t| s.volume_type_id == t)
        };
        let (mut n, mut gb) = self.state.sums.snapshot_usage(project_id, type_id);
        for ((k, id), staged) in self.changes.records.iter() {
            if k != kind {
                continue;
            }
            if let Some(old) = self.state.record::<Snapshot>(id).filter(|s| counts(s)) {
                n -= 1;
                gb -= old.size_gb as i64;
            }
            let new = staged
                .as_ref()
                .and_then(|doc| serde_json::from_value::<Snapshot>(doc.clone()).ok());
            if let Some(new) = new.filter(|s| counts(s)) {
                n += 1;
                gb += new.size_gb as i64;
            }
        }
        (n, gb)
    }

    /// GiB of volumes placed on `pool_host`, this transaction's writes included.
    pub fn allocated_gb(&self, pool_host: &str) -> u64 {
        let on = |v: &Volume| v.host.as_deref() == Some(pool_host);
        let mut gb = self.state.sums.allocated_gb(pool_host) as i64;
        for (id, staged) in self.changes.volumes.iter() {
            if let Some(old) = self.state.volumes.get(id).filter(|v| on(v)) {
                gb -= old.size_gb as i64;
            }
            if let Some(new) = staged.as_ref().filter(|v| on(v)) {
                gb += new.size_gb as i64;
            }
        }
        gb.max(0) as u64
    }

    pub fn put_volume(&mut self, v: Volume) {
        self.changes.volumes.set(v.id, Some(v));
    }

    pub fn remove_volume(&mut self, id: Uuid) {
        self.changes.volumes.set(id, None);
    }

    pub fn next_seq(&mut self) -> u64 {
        self.changes.next_seq += 1;
        self.changes.next_seq
    }

    pub fn volume_type(&self, id: Uuid) -> Option<&VolumeType> {
        match self.changes.types.get(&id) {
            Some(staged) => staged,
            None => self.state.types.get(&id),
        }
    }

    pub fn types(&self) -> impl Iterator<Item = &VolumeType> {
        let staged = &self.changes.types;
        self.state
            .types
            .values()
            .filter(move |t| !staged.contains(&t.id))
            .chain(staged.values())
    }

    pub fn put_type(&mut self, t: VolumeType) {
        self.changes.types.set(t.id, Some(t));
    }

    pub fn remove_type(&mut self, id: Uuid) {
        self.changes.types.set(id, None);
    }

    pub fn attachment(&self, id: Uuid) -> Option<&Attachment> {
        match self.changes.attachments.get(&id) {
            Some(staged) => staged,
            None => self.state.attachments.get(&id),
        }
    }

    pub fn attachments_of(&self, volume_id: Uuid) -> Vec<&Attachment> {
        let staged = &self.changes.attachments;
        self.state
            .attachments
            .values()
            .filter(|a| !staged.contains(&a.id))
            .chain(staged.values())
            .filter(|a| a.volume_id == volume_id)
            .collect()
    }

    pub fn put_attachment(&mut self, a: Attachment) {
        self.changes.attachments.set(a.id, Some(a));
    }

    pub fn remove_attachment(&mut self, id: Uuid) {
        self.changes.attachments.set(id, None);
    }

    pub fn quota_override(&self, project_id: &str, resource: &str) -> Option<i64> {
        let key = (project_id.to_string(), resource.to_string());
        match self.changes.quotas.get(&key) {
            Some(v) => v.copied(),
            None => self.state.quotas.get(&key).copied(),
        }
    }

    /// Resources a project has a quota override for, this transaction's writes
    /// included.
    pub fn quota_overrides_of(&self, project_id: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .state
            .quotas
            .keys()
            .filter(|(p, _)| p == project_id)
            .map(|(_, r)| r.clone())
            .collect();
        keys.extend(
            self.changes
                .quotas
                .iter()
                .filter(|((p, _), _)| p == project_id)
                .map(|((_, r), _)| r.clone()),
        );
        keys.sort();
        keys.dedup();
        keys.retain(|r| self.quota_override(project_id, r).is_some());
        keys
    }

    pub fn set_quota(&mut self, project_id: &str, resource: &str, limit: Option<i64>) {
        self.changes
            .quotas
            .set((project_id.to_string(), resource.to_string()), limit);
    }

    pub fn revoke_token(&mut self, audit_id: String, expires_at: i64) {
        self.changes.revoked.set(audit_id, Some(expires_at));
    }
}
