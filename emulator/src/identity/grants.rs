//! Role grants (`PUT/HEAD/DELETE /v3/{projects,domains}/{id}/users/{uid}/roles/{rid}`)
//! over a [`Tx`]: a grant is idempotent, a revoke of what is not granted is Keystone's
//! `RoleAssignmentNotFound`. Losing a role on a project removes the user's application
//! credentials for that project, as Keystone's assignment callback does.

use super::directory::Directory;
use super::model::{AppCredRec, Grant, GrantsRec, Target};
use super::not_found;
use crate::config::World;
use crate::error::ApiError;
use crate::volume::store::Tx;

/// Checks that the user, the target and the role exist (Keystone's 404s).
fn check(tx: &Tx<'_>, world: &World, user_id: &str, grant: &Grant) -> Result<(), ApiError> {
    let dir = Directory::new(tx, world);
    match &grant.target {
        Target::Project(p) => {
            dir.project(p).ok_or_else(|| not_found("project", p))?;
        }
        Target::Domain(d) => {
            dir.domain(d).ok_or_else(|| not_found("domain", d))?;
        }
    }
    dir.user(user_id)
        .ok_or_else(|| not_found("user", user_id))?;
    dir.role(&grant.role_id)
        .ok_or_else(|| not_found("role", &grant.role_id))?;
    Ok(())
}

pub fn assignment_not_found(user_id: &str, grant: &Grant) -> ApiError {
    ApiError::not_found(format!(
        "Could not find role assignment with role: {}, user or group: {user_id}, project, domain, or system: {}.",
        grant.role_id,
        grant.target.id()
    ))
}

/// `PUT …/roles/{role_id}`.
pub fn grant(tx: &mut Tx<'_>, world: &World, user_id: &str, grant: Grant) -> Result<(), ApiError> {
    check(tx, world, user_id, &grant)?;
    let mut grants = Directory::new(tx, world).grants(user_id);
    if !grants.contains(&grant) {
        grants.push(grant);
        tx.put_record(&GrantsRec {
            user_id: user_id.to_string(),
            grants,
        });
    }
    Ok(())
}

/// `HEAD/GET …/roles/{role_id}`.
pub fn check_grant(
    tx: &Tx<'_>,
    world: &World,
    user_id: &str,
    grant: &Grant,
) -> Result<(), ApiError> {
    check(tx, world, user_id, grant)?;
    if Directory::new(tx, world).grants(user_id).contains(grant) {
        Ok(())
    } else {
        Err(assignment_not_found(user_id, grant))
    }
}

/// `DELETE …/roles/{role_id}`.
pub fn revoke(tx: &mut Tx<'_>, world: &World, user_id: &str, grant: Grant) -> Result<(), ApiError> {
    check(tx, world, user_id, &grant)?;
    let mut grants = Directory::new(tx, world).grants(user_id);
    let before = grants.len();
    grants.retain(|g| *g != grant);
    if grants.len() == before {
        return Err(assignment_not_found(user_id, &grant));
    }
    let project = match &grant.target {
        Target::Project(p) => Some(p.clone()),
        Target::Domain(_) => None,
    };
    tx.put_record(&GrantsRec {
        user_id: user_id.to_string(),
        grants,
    });
    if let Some(p) = project {
        let still = Directory::new(tx, world)
            .grants(user_id)
            .iter()
            .any(|g| g.target == Target::Project(p.clone()));
        if !still {
            for a in tx.records::<AppCredRec>() {
                if a.user_id == user_id && a.project_id == p {
                    tx.remove_record::<AppCredRec>(&a.id);
                }
            }
        }
    }
    Ok(())
}
