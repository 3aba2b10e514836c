//! Token checks remembered between requests. Every Cinder call authenticates, and
//! working out a token's roles walks the identity directory; a token's answer only
//! changes when identity records, revocations or the clock say so, so it is kept
//! keyed on the token and the store's identity epoch, and until its expiry.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Context;

/// Entries kept at most; a full cache is emptied (tokens are few and long-lived).
const CAPACITY: usize = 4096;

struct Entry {
    epoch: u64,
    /// Microseconds since the epoch after which the entry is not used (the token's
    /// expiry, or its application credential's if sooner).
    valid_until_us: i64,
    ctx: Context,
}

#[derive(Default)]
pub struct AuthCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl AuthCache {
    /// The context remembered for `token` at `epoch`, if still valid at `now_us`.
    pub fn get(&self, token: &str, epoch: u64, now_us: i64) -> Option<Context> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(token)
            .filter(|e| e.epoch == epoch && now_us < e.valid_until_us)
            .map(|e| e.ctx.clone())
    }

    pub fn put(&self, token: &str, epoch: u64, valid_until_us: i64, ctx: &Context) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY && !entries.contains_key(token) {
            entries.clear();
        }
        entries.insert(
            token.to_string(),
            Entry {
                epoch,
                valid_until_us,
                ctx: ctx.clone(),
            },
        );
    }
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache").finish_non_exhaustive()
    }
}
