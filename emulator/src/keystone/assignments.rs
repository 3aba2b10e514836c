//! Role grants on projects and domains (`PUT/HEAD/GET/DELETE
//! /v3/{projects,domains}/{id}/users/{user_id}/roles/{role_id}`, and the list of one
//! user's roles there) and `GET /v3/role_assignments` with Keystone's filters
//! (`user.id`, `role.id`, `scope.project.id`, `scope.domain.id`, `group.id`,
//! `effective`, `include_names`). Every call needs `admin`. Groups are not emulated:
//! group routes and filters find nothing.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::admin::{self, caller, require_admin};
use super::views;
use crate::edge::Edge;
use crate::error::KeystoneError;
use crate::identity::directory::Directory;
use crate::identity::model::{Grant, Target};
use crate::identity::{self as id};

pub fn routes() -> Router<Arc<Edge>> {
    let one = || {
        get(check_grant)
            .head(check_grant)
            .put(create_grant)
            .delete(revoke_grant)
    };
    Router::new()
        .route(
            "/identity/v3/{kind}/{target_id}/users/{user_id}/roles/{role_id}",
            one(),
        )
        .route(
            "/identity/v3/{kind}/{target_id}/users/{user_id}/roles",
            get(list_grants),
        )
        .route("/identity/v3/role_assignments", get(role_assignments))
}

/// `projects` or `domains` in the path; anything else is not a route.
fn target(kind: &str, id: String) -> Result<Target, KeystoneError> {
    match kind {
        "projects" => Ok(Target::Project(id)),
        "domains" => Ok(Target::Domain(id)),
        _ => Err(KeystoneError(crate::error::ApiError::not_found(
            "The resource could not be found.",
        ))),
    }
}

type GrantPath = Path<(String, String, String, String)>;

async fn check_grant(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path((kind, target_id, user_id, role_id)): GrantPath,
) -> Result<StatusCode, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    let grant = Grant {
        role_id,
        target: target(&kind, target_id)?,
    };
    require_admin(&ctx, "check_grant")?;
    let world = &app.domain.world;
    app.domain
        .view(|tx| id::grants::check_grant(tx, world, &user_id, &grant))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn create_grant(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path((kind, target_id, user_id, role_id)): GrantPath,
) -> Result<StatusCode, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    let grant = Grant {
        role_id,
        target: target(&kind, target_id)?,
    };
    require_admin(&ctx, "create_grant")?;
    let world = app.domain.world.clone();
    app.domain
        .write(move |tx| id::grants::grant(tx, &world, &user_id, grant))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke_grant(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path((kind, target_id, user_id, role_id)): GrantPath,
) -> Result<StatusCode, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    let grant = Grant {
        role_id,
        target: target(&kind, target_id)?,
    };
    require_admin(&ctx, "revoke_grant")?;
    let world = app.domain.world.clone();
    app.domain
        .write(move |tx| id::grants::revoke(tx, &world, &user_id, grant))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_grants(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    uri: Uri,
    Path((kind, target_id, user_id)): Path<(String, String, String)>,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    let target = target(&kind, target_id)?;
    require_admin(&ctx, "list_grants")?;
    let roles = admin::read(&app, |dir| {
        match &target {
            Target::Project(p) => dir
                .project(p)
                .map(|_| ())
                .ok_or_else(|| id::not_found("project", p)),
            Target::Domain(d) => dir
                .domain(d)
                .map(|_| ())
                .ok_or_else(|| id::not_found("domain", d)),
        }?;
        dir.user(&user_id)
            .ok_or_else(|| id::not_found("user", &user_id))?;
        let all = dir.roles();
        Ok::<_, crate::error::ApiError>(
            dir.grants(&user_id)
                .into_iter()
                .filter(|g| g.target == target)
                .filter_map(|g| all.iter().find(|r| r.id == g.role_id).cloned())
                .collect::<Vec<_>>(),
        )
    })?;
    let items = roles.iter().map(|r| views::role(&app, r)).collect();
    Ok(Json(views::collection(
        &app,
        "roles",
        &admin::self_path(&uri),
        items,
    )))
}

/// One row of `/v3/role_assignments`: (user, role, target, the prior role it is implied
/// by, when `effective` expanded it).
struct Row {
    user_id: String,
    role_id: String,
    target: Target,
    prior: Option<String>,
}

fn rows(dir: &Directory<'_>, effective: bool) -> Vec<Row> {
    let mut out = Vec::new();
    for (user_id, g) in dir.all_grants() {
        out.push(Row {
            user_id: user_id.clone(),
            role_id: g.role_id.clone(),
            target: g.target.clone(),
            prior: None,
        });
        if effective {
            for implied in dir
                .with_implied(std::slice::from_ref(&g.role_id))
                .into_iter()
                .skip(1)
            {
                out.push(Row {
                    user_id: user_id.clone(),
                    role_id: implied,
                    target: g.target.clone(),
                    prior: Some(g.role_id.clone()),
                });
            }
        }
    }
    out
}

async fn role_assignments(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<admin::Query>,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin(&ctx, "list_role_assignments")?;
    let effective = admin::query_true(&q, "effective").unwrap_or(false);
    let names = admin::query_true(&q, "include_names").unwrap_or(false);
    let base = app.identity_url();
    let items: Vec<Value> = admin::read(&app, |dir| {
        rows(dir, effective)
            .into_iter()
            .filter(|_| !q.contains_key("group.id"))
            .filter(|r| q.get("user.id").is_none_or(|u| *u == r.user_id))
            .filter(|r| q.get("role.id").is_none_or(|x| *x == r.role_id))
            .filter(|r| {
                q.get("scope.project.id")
                    .is_none_or(|p| r.target == Target::Project(p.clone()))
            })
            .filter(|r| {
                q.get("scope.domain.id")
                    .is_none_or(|d| r.target == Target::Domain(d.clone()))
            })
            .map(|r| assignment(dir, &base, &r, names))
            .collect()
    });
    Ok(Json(views::collection(
        &app,
        "role_assignments",
        &admin::self_path(&uri),
        items,
    )))
}

fn assignment(dir: &Directory<'_>, base: &str, r: &Row, names: bool) -> Value {
    let (kind, scope_key) = match &r.target {
        Target::Project(_) => ("projects", "project"),
        Target::Domain(_) => ("domains", "domain"),
    };
    let target_id = r.target.id();
    let granted = r.prior.as_deref().unwrap_or(&r.role_id);
    let mut links = json!({
        "assignment": format!("{base}/{kind}/{target_id}/users/{}/roles/{granted}", r.user_id),
    });
    if r.prior.is_some() {
        links["prior_role"] = json!(format!("{base}/roles/{granted}"));
    }
    let mut role = json!({"id": r.role_id});
    let mut user = json!({"id": r.user_id});
    let mut scope = json!({"id": target_id});
    if names {
        let domain_of = |id: &str| {
            let d = dir.domain(id);
            json!({"id": id, "name": d.map(|d| d.name).unwrap_or_default()})
        };
        if let Some(x) = dir.role(&r.role_id) {
            role["name"] = json!(x.name);
        }
        if let Some(u) = dir.user(&r.user_id) {
            user["name"] = json!(u.name);
            user["domain"] = domain_of(&u.domain_id);
        }
        match &r.target {
            Target::Project(p) => {
                if let Some(p) = dir.project(p) {
                    scope["name"] = json!(p.name);
                    scope["domain"] = domain_of(&p.domain_id);
                }
            }
            Target::Domain(d) => {
                if let Some(d) = dir.domain(d) {
                    scope["name"] = json!(d.name);
                }
            }
        }
    }
    json!({
        "role": role,
        "user": user,
        "scope": {scope_key: scope},
        "links": links,
    })
}
