//! [`Sums`]: per-project and per-pool totals of the volumes (and snapshots) in a
//! [`super::store::State`], kept in step with them, so that a create's quota check and its scheduling
//! read a total instead of walking every volume.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use super::model::Volume;
use super::snapshots::Snapshot;

/// Per-project and per-pool sums of the volumes, so that a create's quota check and
/// scheduling do not walk every volume.
#[derive(Debug, Default, Clone)]
pub struct Sums {
    /// project → (volumes, GiB).
    project: HashMap<String, (i64, i64)>,
    /// (project, type) → (volumes, GiB).
    project_type: HashMap<(String, Uuid), (i64, i64)>,
    /// pool host → GiB.
    host: HashMap<String, i64>,
    /// (project, type) → (snapshots, GiB): snapshots count against `gigabytes` too.
    snapshots: HashMap<(String, Uuid), (i64, i64)>,
    /// Creation order (`seq`) → volume: Cinder's default list order, newest first, read
    /// from the end without sorting every volume.
    by_seq: BTreeMap<u64, Uuid>,
}

impl Sums {
    pub(super) fn add(&mut self, v: &Volume, sign: i64) {
        let gb = v.size_gb as i64 * sign;
        let p = self.project.entry(v.project_id.clone()).or_default();
        *p = (p.0 + sign, p.1 + gb);
        let pt = self
            .project_type
            .entry((v.project_id.clone(), v.volume_type_id))
            .or_default();
        *pt = (pt.0 + sign, pt.1 + gb);
        if let Some(h) = &v.host {
            *self.host.entry(h.clone()).or_default() += gb;
        }
        if sign > 0 {
            self.by_seq.insert(v.seq, v.id);
        } else if self.by_seq.get(&v.seq) == Some(&v.id) {
            self.by_seq.remove(&v.seq);
        }
    }

    /// Counts a snapshot in (`sign` 1) or out (-1).
    pub(super) fn add_snapshot(&mut self, s: &Snapshot, sign: i64) {
        let e = self
            .snapshots
            .entry((s.project_id.clone(), s.volume_type_id))
            .or_default();
        *e = (e.0 + sign, e.1 + s.size_gb as i64 * sign);
    }

    /// (snapshots, GiB) of a project, overall or of one type.
    pub fn snapshot_usage(&self, project_id: &str, type_id: Option<Uuid>) -> (i64, i64) {
        self.snapshots
            .iter()
            .filter(|((p, t), _)| p == project_id && type_id.is_none_or(|want| *t == want))
            .fold((0, 0), |(n, g), (_, (dn, dg))| (n + dn, g + dg))
    }

    /// Volume ids, newest first; from just below `before` (a `seq`) when given.
    pub fn newest_first(&self, before: Option<u64>) -> impl Iterator<Item = &Uuid> {
        let upper = before.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        self.by_seq
            .range((std::ops::Bound::Unbounded, upper))
            .rev()
            .map(|(_, id)| id)
    }

    /// (volumes, GiB) of a project, overall or of one type.
    pub fn usage(&self, project_id: &str, type_id: Option<Uuid>) -> (i64, i64) {
        match type_id {
            None => self.project.get(project_id).copied(),
            Some(t) => self.project_type.get(&(project_id.to_string(), t)).copied(),
        }
        .unwrap_or((0, 0))
    }

    pub fn allocated_gb(&self, pool_host: &str) -> u64 {
        self.host.get(pool_host).copied().unwrap_or(0).max(0) as u64
    }
}
