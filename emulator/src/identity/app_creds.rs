//! Application credentials: made by a user for the project their token is scoped to,
//! with a subset of that token's roles (implied roles added), a secret shown once and
//! kept as a digest, an optional expiry; and the `application_credential` auth method
//! (by id, or by name and user, with the secret).

use rand::RngCore;

use super::admin::new_id;
use super::directory::Directory;
use super::model::{AppCredRec, Secret};
use super::{conflict, not_found};
use crate::config::World;
use crate::error::ApiError;
use crate::volume::store::Tx;

/// A role named in a create request.
#[derive(Debug, Clone)]
pub enum RoleRef {
    Id(String),
    Name(String),
}

pub struct NewAppCred {
    pub name: String,
    pub description: Option<String>,
    pub secret: Option<String>,
    pub expires_at_us: Option<i64>,
    pub roles: Vec<RoleRef>,
    pub unrestricted: bool,
}

/// Keystone's generated secret: 64 random bytes, url-safe base64 without padding.
fn generate_secret() -> String {
    use base64::Engine;
    let mut b = [0u8; 64];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn invalid(detail: &str) -> ApiError {
    ApiError::bad_request(format!("Invalid application credential: {detail}"))
}

/// Creates one; returns the record and the clear secret (shown only in this response).
/// `token_roles` are the role ids of the creating token.
pub fn create(
    tx: &mut Tx<'_>,
    world: &World,
    user_id: &str,
    project_id: &str,
    token_roles: &[String],
    now_us: i64,
    req: NewAppCred,
) -> Result<(AppCredRec, String), ApiError> {
    let dir = Directory::new(tx, world);
    if let Some(exp) = req.expires_at_us {
        if exp < now_us {
            return Err(ApiError::bad_request(
                "The 'expires_at' must not be before now. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
            ));
        }
    }
    let roles = if req.roles.is_empty() {
        token_roles.to_vec()
    } else {
        let mut ids = Vec::new();
        for r in &req.roles {
            let role = match r {
                RoleRef::Id(id) => dir.role(id).ok_or_else(|| not_found("role", id))?,
                RoleRef::Name(n) => dir.role_by_name(n).ok_or_else(|| not_found("role", n))?,
            };
            ids.push(role.id);
        }
        let ids = dir.with_implied(&ids);
        if ids.iter().any(|id| !token_roles.contains(id)) {
            return Err(invalid(
                "Cannot create an application credential with unassigned role",
            ));
        }
        ids
    };
    if dir.app_creds_of(user_id).iter().any(|a| a.name == req.name) {
        return Err(conflict(
            "application_credential",
            &format!("Duplicate entry found with name {}", req.name),
        ));
    }
    let secret = req
        .secret
        .filter(|s| !s.is_empty())
        .unwrap_or_else(generate_secret);
    let rec = AppCredRec {
        id: new_id(),
        name: req.name,
        user_id: user_id.to_string(),
        project_id: project_id.to_string(),
        description: req.description,
        secret: Secret::new(&secret),
        expires_at_us: req.expires_at_us,
        roles,
        unrestricted: req.unrestricted,
    };
    tx.put_record(&rec);
    Ok((rec, secret))
}

/// The user's application credential `id`, or Keystone's 404.
pub fn get(tx: &Tx<'_>, world: &World, user_id: &str, id: &str) -> Result<AppCredRec, ApiError> {
    Directory::new(tx, world)
        .app_cred(id)
        .filter(|a| a.user_id == user_id)
        .ok_or_else(|| not_found_app_cred(id))
}

pub fn not_found_app_cred(id: &str) -> ApiError {
    ApiError::not_found(format!("Could not find Application Credential: {id}."))
}

pub fn delete(tx: &mut Tx<'_>, world: &World, user_id: &str, id: &str) -> Result<(), ApiError> {
    get(tx, world, user_id, id)?;
    tx.remove_record::<AppCredRec>(id);
    Ok(())
}

/// How an `application_credential` auth request names the credential.
pub enum Lookup {
    Id(String),
    /// The credential's name and its user's id.
    Name {
        name: String,
        user_id: String,
    },
}

/// The credential the secret opens, if it exists, has not expired and matches; its
/// roles the user still holds on its project. `None` is Keystone's 401.
pub fn authenticate(
    tx: &Tx<'_>,
    world: &World,
    lookup: &Lookup,
    secret: &str,
    now_us: i64,
) -> Option<AppCredRec> {
    let dir = Directory::new(tx, world);
    let found = match lookup {
        Lookup::Id(id) => dir.app_cred(id),
        Lookup::Name { name, user_id } => dir
            .app_creds_of(user_id)
            .into_iter()
            .find(|a| a.name == *name),
    }?;
    if found.expires_at_us.is_some_and(|e| e <= now_us) || !found.secret.matches(secret) {
        return None;
    }
    Some(found)
}

/// The roles a token made from `cred` carries now: its roles that the user still has
/// on its project. Empty means the credential no longer works.
pub fn live_roles(dir: &Directory<'_>, cred: &AppCredRec) -> Vec<String> {
    let held: Vec<String> = dir
        .project_roles(&cred.user_id, &cred.project_id)
        .into_iter()
        .map(|r| r.id)
        .collect();
    cred.roles
        .iter()
        .filter(|r| held.contains(r))
        .cloned()
        .collect()
}
