//! Identity records made through Keystone's admin API, each a [`Record`] in the store's
//! `records` table: domains, projects, users, roles, a user's role grants and
//! application credentials. Secrets (passwords, application credential secrets) are
//! kept only as salted SHA-256 digests.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::volume::store::Record;

/// A salted digest of a password or secret; the clear text is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    salt: String,
    digest: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(salt: &str, clear: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0u8]);
    h.update(clear.as_bytes());
    hex(&h.finalize())
}

impl Secret {
    pub fn new(clear: &str) -> Secret {
        let mut salt = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut salt);
        let salt = hex(&salt);
        let digest = digest(&salt, clear);
        Secret { salt, digest }
    }

    pub fn matches(&self, clear: &str) -> bool {
        // Both sides are fixed-length hex digests; compare without early exit.
        let other = digest(&self.salt, clear);
        other.len() == self.digest.len()
            && other
                .bytes()
                .zip(self.digest.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRec {
    pub id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
}

impl Record for DomainRec {
    const KIND: &'static str = "keystone.domain";
    fn key(&self) -> String {
        self.id.clone()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRec {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: String,
    pub enabled: bool,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Record for ProjectRec {
    const KIND: &'static str = "keystone.project";
    fn key(&self) -> String {
        self.id.clone()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRec {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub enabled: bool,
    /// `None`: a user without a password, who cannot authenticate by password.
    pub password: Option<Secret>,
    pub default_project_id: Option<String>,
    pub description: Option<String>,
    pub email: Option<String>,
}

impl Record for UserRec {
    const KIND: &'static str = "keystone.user";
    fn key(&self) -> String {
        self.id.clone()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRec {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
}

impl Record for RoleRec {
    const KIND: &'static str = "keystone.role";
    fn key(&self) -> String {
        self.id.clone()
    }
}

/// What a role is granted on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Project(String),
    Domain(String),
}

impl Target {
    pub fn id(&self) -> &str {
        match self {
            Target::Project(id) | Target::Domain(id) => id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Grant {
    pub role_id: String,
    pub target: Target,
}

/// All of one user's direct role grants. Once written it replaces the grants the world
/// file gives that user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantsRec {
    pub user_id: String,
    pub grants: Vec<Grant>,
}

impl Record for GrantsRec {
    const KIND: &'static str = "keystone.grants";
    fn key(&self) -> String {
        self.user_id.clone()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppCredRec {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub project_id: String,
    pub description: Option<String>,
    pub secret: Secret,
    /// Unix time, microseconds; `None` never expires.
    pub expires_at_us: Option<i64>,
    /// Role ids, implied roles included.
    pub roles: Vec<String>,
    pub unrestricted: bool,
}

impl Record for AppCredRec {
    const KIND: &'static str = "keystone.application_credential";
    fn key(&self) -> String {
        self.id.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store bumps its identity epoch (what cached token checks are keyed on) for
    /// kinds with this prefix only; a kind named otherwise would serve stale tokens.
    #[test]
    fn every_identity_kind_is_one_the_store_watches() {
        use crate::volume::store::IDENTITY_KINDS;
        for kind in [
            DomainRec::KIND,
            ProjectRec::KIND,
            UserRec::KIND,
            RoleRec::KIND,
            GrantsRec::KIND,
            AppCredRec::KIND,
        ] {
            assert!(kind.starts_with(IDENTITY_KINDS), "{kind}");
        }
    }

    #[test]
    fn secrets_match_only_their_clear_text_and_are_salted() {
        let a = Secret::new("s3cret");
        let b = Secret::new("s3cret");
        assert!(a.matches("s3cret"));
        assert!(!a.matches("s3cret "));
        assert!(!a.matches(""));
        assert_ne!(a, b, "two digests of one secret differ by salt");
        assert!(!serde_json::to_string(&a).unwrap().contains("s3cret"));
    }
}
