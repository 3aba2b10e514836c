//! The HTTP edge's shared state, [`Edge`]: what Cinder's and Keystone's handlers, the
//! control API and the request-fault middleware reach — the domain, the token signer,
//! the fault rules (for the request hook), the request log, the status timeline and the
//! base URL. Built by `lib.rs`.

pub mod control;
pub mod dashboard;
pub mod timeline;
pub mod token_hook;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::faults::Faults;
use crate::keystone::token::TokenSigner;
use crate::reqlog::RequestLog;
use crate::volume::domain::Domain;
use timeline::Timeline;

pub struct Edge {
    pub domain: Domain,
    pub tokens: TokenSigner,
    pub faults: Arc<Faults>,
    pub log: Arc<RequestLog>,
    /// The volumes' status changes, for the dashboard (the store's observer).
    pub timeline: Arc<Timeline>,
    /// `--dashboard-open`: the dashboard's data without a token, to loopback clients.
    pub dashboard_open: AtomicBool,
    /// `http://host:port`, as clients reach us.
    pub base_url: String,
    /// The NFS export, once started (NFS-backed volumes' connection info names it).
    pub nfs: crate::nfs::Slot,
    /// Token checks remembered until the identity state changes.
    pub auth_cache: crate::keystone::auth_cache::AuthCache,
}

impl Edge {
    pub fn identity_url(&self) -> String {
        identity_url(&self.base_url)
    }

    pub fn volume_url(&self) -> String {
        format!("{}/volume", self.base_url)
    }
}

/// Keystone's v3 URL under a base URL.
pub fn identity_url(base_url: &str) -> String {
    format!("{base_url}/identity/v3")
}
