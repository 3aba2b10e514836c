//! Keystone's admin writes over a [`Tx`]: domains, projects, users and roles, with
//! Keystone's conflict and not-found wording. The world file's identities are
//! read-only (403), like an identity backend Keystone may not write to. Deleting a
//! project, user, role or domain removes what hangs on it (grants, application
//! credentials, a domain's projects and users), as Keystone's callbacks do.

use uuid::Uuid;

use super::directory::{Directory, Origin};
use super::model::{AppCredRec, DomainRec, GrantsRec, ProjectRec, RoleRec, Secret, UserRec};
use super::{conflict, not_found, read_only};
use crate::config::World;
use crate::error::ApiError;
use crate::volume::store::Tx;

/// A fresh Keystone id (32 hex digits).
pub fn new_id() -> String {
    Uuid::new_v4().simple().to_string()
}

/// A project or domain field change; `None` leaves the field as it is.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub tags: Option<Vec<String>>,
}

pub fn create_domain(
    tx: &mut Tx<'_>,
    world: &World,
    name: String,
    description: String,
    enabled: bool,
) -> Result<DomainRec, ApiError> {
    if Directory::new(tx, world).domain_by_name(&name).is_some() {
        return Err(conflict(
            "domain",
            &format!("Duplicate entry found with name {name}"),
        ));
    }
    let d = DomainRec {
        id: new_id(),
        name,
        description,
        enabled,
    };
    tx.put_record(&d);
    Ok(d)
}

fn api_domain(tx: &Tx<'_>, world: &World, id: &str) -> Result<DomainRec, ApiError> {
    match Directory::new(tx, world).domain(id) {
        None => Err(not_found("domain", id)),
        Some(d) if d.origin == Origin::World => Err(read_only("domain", &d.name)),
        Some(_) => tx
            .record::<DomainRec>(id)
            .ok_or_else(|| not_found("domain", id)),
    }
}

pub fn update_domain(
    tx: &mut Tx<'_>,
    world: &World,
    id: &str,
    patch: Patch,
) -> Result<DomainRec, ApiError> {
    let mut d = api_domain(tx, world, id)?;
    if let Some(name) = patch.name {
        let dir = Directory::new(tx, world);
        if dir.domain_by_name(&name).is_some_and(|x| x.id != id) {
            return Err(conflict(
                "domain",
                &format!("Duplicate entry found with name {name}"),
            ));
        }
        d.name = name;
    }
    if let Some(desc) = patch.description {
        d.description = desc;
    }
    if let Some(e) = patch.enabled {
        d.enabled = e;
    }
    tx.put_record(&d);
    Ok(d)
}

/// Deletes a disabled domain with its projects and users.
pub fn delete_domain(tx: &mut Tx<'_>, world: &World, id: &str) -> Result<(), ApiError> {
    let d = api_domain(tx, world, id)?;
    if d.enabled {
        return Err(ApiError::Forbidden(
            "Cannot delete a domain that is enabled, please disable it first.".into(),
        ));
    }
    let dir = Directory::new(tx, world);
    let projects: Vec<String> = dir
        .projects()
        .into_iter()
        .filter(|p| p.domain_id == id)
        .map(|p| p.id)
        .collect();
    let users: Vec<String> = dir
        .users()
        .into_iter()
        .filter(|u| u.domain_id == id)
        .map(|u| u.id)
        .collect();
    for p in projects {
        delete_project(tx, world, &p)?;
    }
    for u in users {
        delete_user(tx, world, &u)?;
    }
    drop_grants(tx, world, |g| {
        g.target == super::model::Target::Domain(id.into())
    });
    tx.remove_record::<DomainRec>(id);
    Ok(())
}

pub struct NewProject {
    pub name: String,
    pub domain_id: String,
    pub description: String,
    pub enabled: bool,
    pub tags: Vec<String>,
}

fn project_conflict(name: &str, id: &str) -> ApiError {
    conflict(
        "project",
        &format!(
            "it is not permitted to have two projects with either the same name or same id in the same domain: name is {name}, project id {id}"
        ),
    )
}

/// `POST /v3/projects`. An unknown domain is Keystone's 400 (a validation error).
pub fn create_project(
    tx: &mut Tx<'_>,
    world: &World,
    req: NewProject,
) -> Result<ProjectRec, ApiError> {
    let dir = Directory::new(tx, world);
    if dir.domain(&req.domain_id).is_none() {
        return Err(ApiError::bad_request(format!(
            "Could not find domain: {}.",
            req.domain_id
        )));
    }
    let id = new_id();
    if dir.project_by_name(&req.name, &req.domain_id).is_some() {
        return Err(project_conflict(&req.name, &id));
    }
    let p = ProjectRec {
        id,
        name: req.name,
        domain_id: req.domain_id,
        description: req.description,
        enabled: req.enabled,
        tags: req.tags,
    };
    tx.put_record(&p);
    Ok(p)
}

fn api_project(tx: &Tx<'_>, world: &World, id: &str) -> Result<ProjectRec, ApiError> {
    match Directory::new(tx, world).project(id) {
        None => Err(not_found("project", id)),
        Some(p) if p.origin == Origin::World => Err(read_only("project", &p.name)),
        Some(_) => tx
            .record::<ProjectRec>(id)
            .ok_or_else(|| not_found("project", id)),
    }
}

pub fn update_project(
    tx: &mut Tx<'_>,
    world: &World,
    id: &str,
    patch: Patch,
) -> Result<ProjectRec, ApiError> {
    let mut p = api_project(tx, world, id)?;
    if let Some(name) = patch.name {
        let taken = Directory::new(tx, world)
            .project_by_name(&name, &p.domain_id)
            .is_some_and(|x| x.id != id);
        if taken {
            return Err(project_conflict(&name, id));
        }
        p.name = name;
    }
    if let Some(d) = patch.description {
        p.description = d;
    }
    if let Some(e) = patch.enabled {
        p.enabled = e;
    }
    if let Some(t) = patch.tags {
        p.tags = t;
    }
    tx.put_record(&p);
    Ok(p)
}

/// Deletes a project, the grants on it and the application credentials for it.
pub fn delete_project(tx: &mut Tx<'_>, world: &World, id: &str) -> Result<(), ApiError> {
    api_project(tx, world, id)?;
    drop_grants(tx, world, |g| {
        g.target == super::model::Target::Project(id.into())
    });
    for a in tx.records::<AppCredRec>() {
        if a.project_id == id {
            tx.remove_record::<AppCredRec>(&a.id);
        }
    }
    tx.remove_record::<ProjectRec>(id);
    Ok(())
}

/// Rewrites every user's grants without those `drop` selects.
pub fn drop_grants(tx: &mut Tx<'_>, world: &World, drop: impl Fn(&super::model::Grant) -> bool) {
    let dir = Directory::new(tx, world);
    let changed: Vec<GrantsRec> = dir
        .users()
        .into_iter()
        .filter_map(|u| {
            let grants = dir.grants(&u.id);
            let kept: Vec<_> = grants.iter().filter(|g| !drop(g)).cloned().collect();
            (kept.len() != grants.len()).then_some(GrantsRec {
                user_id: u.id,
                grants: kept,
            })
        })
        .collect();
    for g in changed {
        tx.put_record(&g);
    }
}

pub struct NewUser {
    pub name: String,
    pub domain_id: String,
    pub password: Option<String>,
    pub enabled: bool,
    pub default_project_id: Option<String>,
    pub description: Option<String>,
    pub email: Option<String>,
}

fn user_conflict(name: &str, domain_id: &str) -> ApiError {
    conflict(
        "user",
        &format!("Duplicate entry found with name {name} at domain ID {domain_id}"),
    )
}

/// `POST /v3/users`.
pub fn create_user(tx: &mut Tx<'_>, world: &World, req: NewUser) -> Result<UserRec, ApiError> {
    let dir = Directory::new(tx, world);
    if dir.domain(&req.domain_id).is_none() {
        return Err(not_found("domain", &req.domain_id));
    }
    if dir.user_by_name(&req.name, &req.domain_id).is_some() {
        return Err(user_conflict(&req.name, &req.domain_id));
    }
    let u = UserRec {
        id: new_id(),
        name: req.name,
        domain_id: req.domain_id,
        enabled: req.enabled,
        password: req.password.as_deref().map(Secret::new),
        default_project_id: req.default_project_id,
        description: req.description,
        email: req.email,
    };
    tx.put_record(&u);
    Ok(u)
}

/// A user field change; `Some(None)` clears an optional field.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub password: Option<String>,
    pub default_project_id: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub email: Option<Option<String>>,
}

fn api_user(tx: &Tx<'_>, world: &World, id: &str) -> Result<UserRec, ApiError> {
    match Directory::new(tx, world).user(id) {
        None => Err(not_found("user", id)),
        Some(u) if u.origin == Origin::World => Err(read_only("user", &u.name)),
        Some(_) => tx
            .record::<UserRec>(id)
            .ok_or_else(|| not_found("user", id)),
    }
}

pub fn update_user(
    tx: &mut Tx<'_>,
    world: &World,
    id: &str,
    patch: UserPatch,
) -> Result<UserRec, ApiError> {
    let mut u = api_user(tx, world, id)?;
    if let Some(name) = patch.name {
        let taken = Directory::new(tx, world)
            .user_by_name(&name, &u.domain_id)
            .is_some_and(|x| x.id != id);
        if taken {
            return Err(user_conflict(&name, &u.domain_id));
        }
        u.name = name;
    }
    if let Some(e) = patch.enabled {
        u.enabled = e;
    }
    if let Some(p) = patch.password {
        u.password = Some(Secret::new(&p));
    }
    if let Some(d) = patch.default_project_id {
        u.default_project_id = d;
    }
    if let Some(d) = patch.description {
        u.description = d;
    }
    if let Some(e) = patch.email {
        u.email = e;
    }
    tx.put_record(&u);
    Ok(u)
}

/// `POST /v3/users/{id}/password`: the original password must match (else 401).
pub fn change_password(
    tx: &mut Tx<'_>,
    world: &World,
    id: &str,
    original: &str,
    new: &str,
    unauthorized: ApiError,
) -> Result<(), ApiError> {
    let current = Directory::new(tx, world)
        .user(id)
        .ok_or_else(|| not_found("user", id))?;
    if !current.password_matches(original) {
        return Err(unauthorized);
    }
    let mut u = api_user(tx, world, id)?;
    u.password = Some(Secret::new(new));
    tx.put_record(&u);
    Ok(())
}

/// Deletes a user with its grants and application credentials.
pub fn delete_user(tx: &mut Tx<'_>, world: &World, id: &str) -> Result<(), ApiError> {
    api_user(tx, world, id)?;
    for a in tx.records::<AppCredRec>() {
        if a.user_id == id {
            tx.remove_record::<AppCredRec>(&a.id);
        }
    }
    tx.remove_record::<GrantsRec>(id);
    tx.remove_record::<UserRec>(id);
    Ok(())
}

/// `POST /v3/roles`: names are unique (Keystone compares them without case).
pub fn create_role(
    tx: &mut Tx<'_>,
    world: &World,
    name: String,
    description: Option<String>,
) -> Result<RoleRec, ApiError> {
    let lower = name.to_lowercase();
    let taken = Directory::new(tx, world)
        .roles()
        .iter()
        .any(|r| r.name.to_lowercase() == lower);
    if taken {
        return Err(conflict(
            "role",
            &format!("Duplicate entry found with name {name}"),
        ));
    }
    let r = RoleRec {
        id: new_id(),
        name,
        description,
    };
    tx.put_record(&r);
    Ok(r)
}

pub fn update_role(
    tx: &mut Tx<'_>,
    world: &World,
    id: &str,
    name: Option<String>,
    description: Option<String>,
) -> Result<RoleRec, ApiError> {
    let mut r = api_role(tx, world, id)?;
    if let Some(name) = name {
        let lower = name.to_lowercase();
        let taken = Directory::new(tx, world)
            .roles()
            .iter()
            .any(|x| x.id != id && x.name.to_lowercase() == lower);
        if taken {
            return Err(conflict(
                "role",
                &format!("Duplicate entry found with name {name}"),
            ));
        }
        r.name = name;
    }
    if description.is_some() {
        r.description = description;
    }
    tx.put_record(&r);
    Ok(r)
}

fn api_role(tx: &Tx<'_>, world: &World, id: &str) -> Result<RoleRec, ApiError> {
    match Directory::new(tx, world).role(id) {
        None => Err(not_found("role", id)),
        Some(r) if r.origin == Origin::World => Err(read_only("role", &r.name)),
        Some(_) => tx
            .record::<RoleRec>(id)
            .ok_or_else(|| not_found("role", id)),
    }
}

/// Deletes a role and every grant of it.
pub fn delete_role(tx: &mut Tx<'_>, world: &World, id: &str) -> Result<(), ApiError> {
    api_role(tx, world, id)?;
    drop_grants(tx, world, |g| g.role_id == id);
    tx.remove_record::<RoleRec>(id);
    Ok(())
}
