//! The identity directory: the world file's domains, projects, users and role grants
//! together with those made through Keystone's admin API, as one read view over a
//! [`Tx`]. The world's identities (and Keystone's bootstrap roles) are read-only; the
//! API's live in the store. A user's grants are the world's until the API changes
//! them, then the stored [`GrantsRec`].

use std::collections::BTreeSet;

use super::model::{AppCredRec, DomainRec, Grant, GrantsRec, ProjectRec, RoleRec, Target, UserRec};
use crate::config::{derived_keystone_id, World};
use crate::volume::store::Tx;

/// The roles `keystone-manage bootstrap` creates.
pub const BOOTSTRAP_ROLES: [&str; 5] = ["admin", "manager", "member", "reader", "service"];

/// Bootstrap's implied roles (prior → implied): admin ⇒ manager ⇒ member ⇒ reader.
const IMPLIES: [(&str, &str); 3] = [
    ("admin", "manager"),
    ("manager", "member"),
    ("member", "reader"),
];

/// Where an identity comes from: the world file (read-only) or the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    World,
    Api,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: String,
    pub enabled: bool,
    pub tags: Vec<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Password {
    Clear(String),
    Hashed(super::model::Secret),
    Unset,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub enabled: bool,
    pub default_project_id: Option<String>,
    pub description: Option<String>,
    pub email: Option<String>,
    pub origin: Origin,
    password: Password,
}

impl User {
    pub fn password_matches(&self, clear: &str) -> bool {
        match &self.password {
            Password::Clear(p) => p == clear,
            Password::Hashed(s) => s.matches(clear),
            Password::Unset => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub origin: Origin,
}

/// The id of a world or bootstrap role (bootstrap's are computed once: every token
/// check asks for them).
pub fn role_id(name: &str) -> String {
    static BOOTSTRAP: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let ids = BOOTSTRAP.get_or_init(|| {
        BOOTSTRAP_ROLES
            .iter()
            .map(|n| derived_keystone_id("role", n))
            .collect()
    });
    match BOOTSTRAP_ROLES.iter().position(|n| *n == name) {
        Some(i) => ids[i].clone(),
        None => derived_keystone_id("role", name),
    }
}

/// One read view of every identity; cheap to make.
pub struct Directory<'a> {
    tx: &'a Tx<'a>,
    world: &'a World,
}

impl<'a> Directory<'a> {
    pub fn new(tx: &'a Tx<'a>, world: &'a World) -> Directory<'a> {
        Directory { tx, world }
    }

    pub fn domains(&self) -> Vec<Domain> {
        let mut out: Vec<Domain> = self.world.domains.iter().map(world_domain).collect();
        for d in self.tx.records::<DomainRec>() {
            if self.world.domain(&d.id).is_none() {
                out.push(api_domain(d));
            }
        }
        out
    }

    /// One domain, without building the list (every token check asks for one).
    pub fn domain(&self, id: &str) -> Option<Domain> {
        if let Some(d) = self.world.domain(id) {
            return Some(world_domain(d));
        }
        self.tx.record::<DomainRec>(id).map(api_domain)
    }

    pub fn domain_by_name(&self, name: &str) -> Option<Domain> {
        self.domains().into_iter().find(|d| d.name == name)
    }

    pub fn projects(&self) -> Vec<Project> {
        let mut out: Vec<Project> = self.world.projects.iter().map(world_project).collect();
        for p in self.tx.records::<ProjectRec>() {
            if self.world.project(&p.id).is_none() {
                out.push(api_project(p));
            }
        }
        out
    }

    pub fn project(&self, id: &str) -> Option<Project> {
        if let Some(p) = self.world.project(id) {
            return Some(world_project(p));
        }
        self.tx.record::<ProjectRec>(id).map(api_project)
    }

    pub fn project_by_name(&self, name: &str, domain_id: &str) -> Option<Project> {
        self.projects()
            .into_iter()
            .find(|p| p.name == name && p.domain_id == domain_id)
    }

    pub fn users(&self) -> Vec<User> {
        let mut out: Vec<User> = self.world.users.iter().map(world_user).collect();
        for u in self.tx.records::<UserRec>() {
            if self.world.user(&u.id).is_none() {
                out.push(api_user(u));
            }
        }
        out
    }

    pub fn user(&self, id: &str) -> Option<User> {
        if let Some(u) = self.world.user(id) {
            return Some(world_user(u));
        }
        self.tx.record::<UserRec>(id).map(api_user)
    }

    pub fn user_by_name(&self, name: &str, domain_id: &str) -> Option<User> {
        self.users()
            .into_iter()
            .find(|u| u.name == name && u.domain_id == domain_id)
    }

    /// Bootstrap's roles, the world file's, then the API's.
    pub fn roles(&self) -> Vec<Role> {
        let mut names: Vec<&str> = BOOTSTRAP_ROLES.to_vec();
        for u in &self.world.users {
            for (_, r) in &u.roles {
                if !names.contains(&r.as_str()) {
                    names.push(r);
                }
            }
        }
        let mut out: Vec<Role> = names
            .into_iter()
            .map(|n| Role {
                id: role_id(n),
                name: n.to_string(),
                description: None,
                origin: Origin::World,
            })
            .collect();
        for r in self.tx.records::<RoleRec>() {
            if !out.iter().any(|x| x.id == r.id) {
                out.push(Role {
                    id: r.id,
                    name: r.name,
                    description: r.description,
                    origin: Origin::Api,
                });
            }
        }
        out
    }

    pub fn role(&self, id: &str) -> Option<Role> {
        self.roles().into_iter().find(|r| r.id == id)
    }

    pub fn role_by_name(&self, name: &str) -> Option<Role> {
        self.roles().into_iter().find(|r| r.name == name)
    }

    /// A user's direct grants whose role and target still exist.
    pub fn grants(&self, user_id: &str) -> Vec<Grant> {
        let raw: Vec<Grant> = match self.tx.record::<GrantsRec>(user_id) {
            Some(g) => g.grants,
            None => self
                .world
                .user(user_id)
                .map(|u| {
                    u.roles
                        .iter()
                        .map(|(p, r)| Grant {
                            role_id: role_id(r),
                            target: Target::Project(p.clone()),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        };
        let roles = self.roles();
        let mut seen = BTreeSet::new();
        raw.into_iter()
            .filter(|g| roles.iter().any(|r| r.id == g.role_id))
            .filter(|g| match &g.target {
                Target::Project(p) => self.project(p).is_some(),
                Target::Domain(d) => self.domain(d).is_some(),
            })
            .filter(|g| seen.insert(g.clone()))
            .collect()
    }

    /// Every user's direct grants, as (user id, grant).
    pub fn all_grants(&self) -> Vec<(String, Grant)> {
        self.users()
            .into_iter()
            .flat_map(|u| {
                self.grants(&u.id)
                    .into_iter()
                    .map(move |g| (u.id.clone(), g))
            })
            .collect()
    }

    /// `role_ids` and every role they imply, in a stable order (given ones first).
    pub fn with_implied(&self, role_ids: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut queue: Vec<String> = role_ids.to_vec();
        while let Some(id) = queue.first().cloned() {
            queue.remove(0);
            if out.contains(&id) {
                continue;
            }
            for (prior, implied) in IMPLIES {
                if role_id(prior) == id {
                    queue.push(role_id(implied));
                }
            }
            out.push(id);
        }
        out
    }

    /// The user's effective roles on a project (implied roles included).
    pub fn project_roles(&self, user_id: &str, project_id: &str) -> Vec<Role> {
        let direct: Vec<String> = self
            .grants(user_id)
            .into_iter()
            .filter(|g| g.target == Target::Project(project_id.to_string()))
            .map(|g| g.role_id)
            .collect();
        let roles = self.roles();
        self.with_implied(&direct)
            .into_iter()
            .filter_map(|id| roles.iter().find(|r| r.id == id).cloned())
            .collect()
    }

    /// The enabled projects on which the user has a role.
    pub fn user_projects(&self, user_id: &str) -> Vec<Project> {
        let ids: BTreeSet<String> = self
            .grants(user_id)
            .into_iter()
            .filter_map(|g| match g.target {
                Target::Project(p) => Some(p),
                Target::Domain(_) => None,
            })
            .collect();
        self.projects()
            .into_iter()
            .filter(|p| ids.contains(&p.id))
            .collect()
    }

    /// The domains on which the user has a role.
    pub fn user_domains(&self, user_id: &str) -> Vec<Domain> {
        let ids: BTreeSet<String> = self
            .grants(user_id)
            .into_iter()
            .filter_map(|g| match g.target {
                Target::Domain(d) => Some(d),
                Target::Project(_) => None,
            })
            .collect();
        self.domains()
            .into_iter()
            .filter(|d| ids.contains(&d.id))
            .collect()
    }

    pub fn app_cred(&self, id: &str) -> Option<AppCredRec> {
        self.tx.record::<AppCredRec>(id)
    }

    pub fn app_creds_of(&self, user_id: &str) -> Vec<AppCredRec> {
        self.tx
            .records::<AppCredRec>()
            .into_iter()
            .filter(|a| a.user_id == user_id)
            .collect()
    }
}

fn world_domain(d: &crate::config::Domain) -> Domain {
    Domain {
        id: d.id.clone(),
        name: d.name.clone(),
        description: if d.id == "default" {
            "The default domain".into()
        } else {
            String::new()
        },
        enabled: true,
        origin: Origin::World,
    }
}

fn api_domain(d: DomainRec) -> Domain {
    Domain {
        id: d.id,
        name: d.name,
        description: d.description,
        enabled: d.enabled,
        origin: Origin::Api,
    }
}

fn world_project(p: &crate::config::Project) -> Project {
    Project {
        id: p.id.clone(),
        name: p.name.clone(),
        domain_id: p.domain_id.clone(),
        description: String::new(),
        enabled: true,
        tags: Vec::new(),
        origin: Origin::World,
    }
}

fn api_project(p: ProjectRec) -> Project {
    Project {
        id: p.id,
        name: p.name,
        domain_id: p.domain_id,
        description: p.description,
        enabled: p.enabled,
        tags: p.tags,
        origin: Origin::Api,
    }
}

fn world_user(u: &crate::config::User) -> User {
    User {
        id: u.id.clone(),
        name: u.name.clone(),
        domain_id: u.domain_id.clone(),
        enabled: true,
        default_project_id: None,
        description: None,
        email: None,
        origin: Origin::World,
        password: Password::Clear(u.password.clone()),
    }
}

fn api_user(u: UserRec) -> User {
    User {
        password: match u.password {
            Some(s) => Password::Hashed(s),
            None => Password::Unset,
        },
        id: u.id,
        name: u.name,
        domain_id: u.domain_id,
        enabled: u.enabled,
        default_project_id: u.default_project_id,
        description: u.description,
        email: u.email,
        origin: Origin::Api,
    }
}
