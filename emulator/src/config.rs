//! The emulated world (identities, volume types, quotas, delays), parsed once in two
//! phases: TOML into raw structs, then validated into typed [`World`].

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use uuid::Uuid;

/// The default world, compiled in so that `serve` needs no file.
pub const DEFAULT_WORLD_TOML: &str = include_str!("../../fixtures/emulator.toml");

/// Namespace for ids derived from names, so a world gets the same ids on every start.
const ID_NAMESPACE: Uuid = Uuid::from_u128(0x6369_6e64_6572_626f_7800_0000_0000_0001);

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {key}: {message}")]
    Invalid {
        path: String,
        key: String,
        message: String,
    },
}

// ---- phase 1: raw ---------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorld {
    region: Option<String>,
    availability_zone: Option<String>,
    token_lifetime_s: Option<u64>,
    default_volume_type: Option<String>,
    #[serde(default)]
    delays: RawDelays,
    #[serde(default)]
    quotas: RawQuotas,
    #[serde(default)]
    domains: Vec<RawDomain>,
    #[serde(default)]
    projects: Vec<RawProject>,
    #[serde(default)]
    users: Vec<RawUser>,
    #[serde(default)]
    volume_types: Vec<RawVolumeType>,
    #[serde(default)]
    backends: Vec<crate::backend::RawBackend>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelays {
    create_ms: Option<u64>,
    extend_ms: Option<u64>,
    delete_ms: Option<u64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuotas {
    volumes: Option<i64>,
    gigabytes: Option<i64>,
    snapshots: Option<i64>,
    backups: Option<i64>,
    backup_gigabytes: Option<i64>,
    groups: Option<i64>,
    per_volume_gigabytes: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDomain {
    id: Option<String>,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    id: Option<String>,
    name: String,
    domain: Option<String>,
    #[serde(default)]
    quotas: RawQuotas,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    id: Option<String>,
    name: String,
    password: String,
    domain: Option<String>,
    #[serde(default)]
    roles: Vec<RawRoleAssignment>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoleAssignment {
    project: String,
    role: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVolumeType {
    name: String,
    description: Option<String>,
    #[serde(default = "yes")]
    is_public: bool,
    #[serde(default)]
    extra_specs: BTreeMap<String, String>,
    #[serde(default)]
    delays: RawDelays,
}

fn yes() -> bool {
    true
}

// ---- phase 2: typed -------------------------------------------------------------

/// Transition delays; a type's own delays override the world's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delays {
    pub create: Duration,
    pub extend: Duration,
    pub delete: Duration,
}

/// Per-project quota limits; -1 means unlimited (Cinder's convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    pub volumes: i64,
    pub gigabytes: i64,
    pub snapshots: i64,
    pub backups: i64,
    pub backup_gigabytes: i64,
    pub groups: i64,
    pub per_volume_gigabytes: i64,
}

impl Quotas {
    /// Cinder's built-in defaults.
    pub const CINDER_DEFAULTS: Quotas = Quotas {
        volumes: 10,
        gigabytes: 1000,
        snapshots: 10,
        backups: 10,
        backup_gigabytes: 1000,
        groups: 10,
        per_volume_gigabytes: -1,
    };

    fn overlay(self, raw: &RawQuotas) -> Quotas {
        Quotas {
            volumes: raw.volumes.unwrap_or(self.volumes),
            gigabytes: raw.gigabytes.unwrap_or(self.gigabytes),
            snapshots: raw.snapshots.unwrap_or(self.snapshots),
            backups: raw.backups.unwrap_or(self.backups),
            backup_gigabytes: raw.backup_gigabytes.unwrap_or(self.backup_gigabytes),
            groups: raw.groups.unwrap_or(self.groups),
            per_volume_gigabytes: raw
                .per_volume_gigabytes
                .unwrap_or(self.per_volume_gigabytes),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub quotas: Quotas,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub password: String,
    pub domain_id: String,
    /// (project id, role name)
    pub roles: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeSeed {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub is_public: bool,
    pub extra_specs: BTreeMap<String, String>,
    pub delays: Option<PartialDelays>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartialDelays {
    pub create: Option<Duration>,
    pub extend: Option<Duration>,
    pub delete: Option<Duration>,
}

impl PartialDelays {
    pub fn over(&self, base: Delays) -> Delays {
        Delays {
            create: self.create.unwrap_or(base.create),
            extend: self.extend.unwrap_or(base.extend),
            delete: self.delete.unwrap_or(base.delete),
        }
    }
}

/// The validated world.
#[derive(Debug, Clone)]
pub struct World {
    pub region: String,
    pub availability_zone: String,
    pub token_lifetime: Duration,
    pub default_volume_type: String,
    pub delays: Delays,
    pub quotas: Quotas,
    pub domains: Vec<Domain>,
    pub projects: Vec<Project>,
    pub users: Vec<User>,
    pub volume_types: Vec<TypeSeed>,
    pub backends: Vec<crate::backend::Backend>,
}

impl World {
    /// The compiled-in default world.
    pub fn default_world() -> World {
        World::parse(DEFAULT_WORLD_TOML, "fixtures/emulator.toml")
            .expect("the compiled-in default world is valid")
    }

    pub fn load(path: &Path) -> Result<World, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        World::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, path: &str) -> Result<World, ConfigError> {
        let raw: RawWorld = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        validate(raw, path)
    }

    pub fn project(&self, id: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn domain(&self, id: &str) -> Option<&Domain> {
        self.domains.iter().find(|d| d.id == id)
    }

    /// The delays for volumes of type `type_name`.
    pub fn delays_for(&self, type_name: &str) -> Delays {
        self.volume_types
            .iter()
            .find(|t| t.name == type_name)
            .and_then(|t| t.delays)
            .map(|d| d.over(self.delays))
            .unwrap_or(self.delays)
    }
}

/// A stable 32-hex Keystone id for a named thing.
pub fn derived_keystone_id(kind: &str, name: &str) -> String {
    Uuid::new_v5(&ID_NAMESPACE, format!("{kind}:{name}").as_bytes())
        .simple()
        .to_string()
}

/// A stable UUID for a seeded volume type.
pub fn derived_type_id(name: &str) -> Uuid {
    Uuid::new_v5(&ID_NAMESPACE, format!("volume_type:{name}").as_bytes())
}

fn invalid(path: &str, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_string(),
        key: key.into(),
        message: message.into(),
    }
}

fn ms(v: Option<u64>) -> Option<Duration> {
    v.map(Duration::from_millis)
}

fn validate(raw: RawWorld, path: &str) -> Result<World, ConfigError> {
    let base_delays = Delays {
        create: ms(raw.delays.create_ms).unwrap_or(Duration::from_millis(100)),
        extend: ms(raw.delays.extend_ms).unwrap_or(Duration::from_millis(100)),
        delete: ms(raw.delays.delete_ms).unwrap_or(Duration::from_millis(100)),
    };
    let quotas = Quotas::CINDER_DEFAULTS.overlay(&raw.quotas);
    check_quotas(&quotas, path, "quotas")?;

    let mut domains: Vec<Domain> = raw
        .domains
        .into_iter()
        .map(|d| Domain {
            id: d
                .id
                .unwrap_or_else(|| derived_keystone_id("domain", &d.name)),
            name: d.name,
        })
        .collect();
    if !domains.iter().any(|d| d.name == "Default") {
        domains.push(Domain {
            id: "default".into(),
            name: "Default".into(),
        });
    }
    unique(
        domains.iter().map(|d| d.name.as_str()),
        path,
        "domains.name",
    )?;
    let domain_id = |name: Option<&str>, key: &str| -> Result<String, ConfigError> {
        let name = name.unwrap_or("Default");
        domains
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.id.clone())
            .ok_or_else(|| invalid(path, key, format!("unknown domain {name:?}")))
    };

    let mut projects = Vec::new();
    for (i, p) in raw.projects.into_iter().enumerate() {
        let q = quotas.overlay(&p.quotas);
        check_quotas(&q, path, &format!("projects[{i}].quotas"))?;
        projects.push(Project {
            id: p
                .id
                .unwrap_or_else(|| derived_keystone_id("project", &p.name)),
            domain_id: domain_id(p.domain.as_deref(), &format!("projects[{i}].domain"))?,
            name: p.name,
            quotas: q,
        });
    }
    if projects.is_empty() {
        return Err(invalid(path, "projects", "at least one project is needed"));
    }
    unique(
        projects.iter().map(|p| p.name.as_str()),
        path,
        "projects.name",
    )?;
    unique(projects.iter().map(|p| p.id.as_str()), path, "projects.id")?;

    let mut users = Vec::new();
    for (i, u) in raw.users.into_iter().enumerate() {
        let mut roles = Vec::new();
        for (j, r) in u.roles.iter().enumerate() {
            let project = projects
                .iter()
                .find(|p| p.name == r.project)
                .ok_or_else(|| {
                    invalid(
                        path,
                        format!("users[{i}].roles[{j}].project"),
                        format!("unknown project {:?}", r.project),
                    )
                })?;
            if r.role.trim().is_empty() {
                return Err(invalid(
                    path,
                    format!("users[{i}].roles[{j}].role"),
                    "empty role",
                ));
            }
            roles.push((project.id.clone(), r.role.clone()));
        }
        users.push(User {
            id: u.id.unwrap_or_else(|| derived_keystone_id("user", &u.name)),
            domain_id: domain_id(u.domain.as_deref(), &format!("users[{i}].domain"))?,
            name: u.name,
            password: u.password,
            roles,
        });
    }
    unique(users.iter().map(|u| u.name.as_str()), path, "users.name")?;

    let mut volume_types = Vec::new();
    for (i, t) in raw.volume_types.into_iter().enumerate() {
        if t.name.trim().is_empty() || t.name.len() > 255 {
            return Err(invalid(
                path,
                format!("volume_types[{i}].name"),
                "must be 1 to 255 characters",
            ));
        }
        let d = PartialDelays {
            create: ms(t.delays.create_ms),
            extend: ms(t.delays.extend_ms),
            delete: ms(t.delays.delete_ms),
        };
        volume_types.push(TypeSeed {
            id: derived_type_id(&t.name),
            name: t.name,
            description: t.description,
            is_public: t.is_public,
            extra_specs: t.extra_specs,
            delays: (d != PartialDelays::default()).then_some(d),
        });
    }
    if !volume_types.iter().any(|t| t.name == "__DEFAULT__") {
        volume_types.insert(
            0,
            TypeSeed {
                id: derived_type_id("__DEFAULT__"),
                name: "__DEFAULT__".into(),
                description: Some("Default Volume Type".into()),
                is_public: true,
                extra_specs: BTreeMap::new(),
                delays: None,
            },
        );
    }
    unique(
        volume_types.iter().map(|t| t.name.as_str()),
        path,
        "volume_types.name",
    )?;
    let default_volume_type = raw
        .default_volume_type
        .unwrap_or_else(|| "__DEFAULT__".into());
    if !volume_types.iter().any(|t| t.name == default_volume_type) {
        return Err(invalid(
            path,
            "default_volume_type",
            format!("no volume type named {default_volume_type:?}"),
        ));
    }
    let token_lifetime_s = raw.token_lifetime_s.unwrap_or(3600);
    if !(1..=366 * 24 * 3600).contains(&token_lifetime_s) {
        return Err(invalid(
            path,
            "token_lifetime_s",
            "must be between 1 and 31622400",
        ));
    }

    let backends = crate::backend::validate(
        raw.backends,
        volume_types
            .iter()
            .map(|t| (t.name.as_str(), &t.extra_specs)),
        path,
    )?;
    Ok(World {
        backends,
        region: raw.region.unwrap_or_else(|| "RegionOne".into()),
        availability_zone: raw.availability_zone.unwrap_or_else(|| "nova".into()),
        token_lifetime: Duration::from_secs(token_lifetime_s),
        default_volume_type,
        delays: base_delays,
        quotas,
        domains,
        projects,
        users,
        volume_types,
    })
}

fn check_quotas(q: &Quotas, path: &str, key: &str) -> Result<(), ConfigError> {
    for (name, v) in [
        ("volumes", q.volumes),
        ("gigabytes", q.gigabytes),
        ("snapshots", q.snapshots),
        ("backups", q.backups),
        ("backup_gigabytes", q.backup_gigabytes),
        ("groups", q.groups),
        ("per_volume_gigabytes", q.per_volume_gigabytes),
    ] {
        if v < -1 {
            return Err(invalid(
                path,
                format!("{key}.{name}"),
                "must be -1 (unlimited) or more",
            ));
        }
    }
    Ok(())
}

fn unique<'a>(
    names: impl Iterator<Item = &'a str>,
    path: &str,
    key: &str,
) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for n in names {
        if !seen.insert(n) {
            return Err(invalid(path, key, format!("{n:?} appears twice")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_world_has_the_issue_s_identities_and_types() {
        let w = World::default_world();
        let names: Vec<_> = w.projects.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["admin", "service", "demo", "alt_demo"]);
        let glance = w.users.iter().find(|u| u.name == "glance").unwrap();
        let service = w.projects.iter().find(|p| p.name == "service").unwrap();
        assert!(glance.roles.contains(&(service.id.clone(), "admin".into())));
        assert!(glance
            .roles
            .contains(&(service.id.clone(), "service".into())));
        for t in [
            "__DEFAULT__",
            "glance-fast",
            "glance-slow",
            "glance-old",
            "glance-new",
        ] {
            assert!(w.volume_types.iter().any(|v| v.name == t), "{t}");
        }
        assert_eq!(service.quotas.volumes, -1);
        assert_eq!(
            w.delays_for("glance-slow").create,
            Duration::from_millis(300)
        );
        assert_eq!(
            w.delays_for("glance-fast").create,
            Duration::from_millis(100)
        );
        assert_eq!(w.project(&service.id).unwrap().name, "service");
    }

    #[test]
    fn ids_are_stable_and_keystone_shaped() {
        let a = derived_keystone_id("project", "demo");
        assert_eq!(a, derived_keystone_id("project", "demo"));
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, derived_keystone_id("project", "alt_demo"));
    }

    fn check(toml: &str, expected_fragment: &str) {
        let err = World::parse(toml, "w.toml").unwrap_err().to_string();
        assert!(
            err.contains(expected_fragment),
            "error {err:?} should mention {expected_fragment:?}"
        );
        assert!(
            err.starts_with("w.toml"),
            "error {err:?} should name the file"
        );
    }

    #[test]
    fn bad_worlds_are_refused_naming_the_key() {
        check("[[projects]]\nname='a'\nfrobnicate=1\n", "frobnicate");
        check("token_lifetime_s = 'soon'\n", "token_lifetime_s");
        check(
            "token_lifetime_s = 0\n[[projects]]\nname='a'\n",
            "token_lifetime_s",
        );
        check(
            "[[projects]]\nname='a'\n[[projects]]\nname='a'\n",
            "projects.name",
        );
        check(
            "[[projects]]\nname='a'\n[[users]]\nname='u'\npassword='p'\nroles=[{project='b', role='x'}]\n",
            "users[0].roles[0].project",
        );
        check(
            "default_volume_type='nope'\n[[projects]]\nname='a'\n",
            "default_volume_type",
        );
        check(
            "[[projects]]\nname='a'\nquotas={volumes=-5}\n",
            "projects[0].quotas.volumes",
        );
        check("", "projects");
        check("[delays]\ncreate_ms = -1\n", "create_ms");
        check("region = \n", "line 1");
    }
}
