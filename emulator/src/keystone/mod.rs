//! Keystone v3 under `/identity`: version discovery, who a token belongs to
//! ([`authenticate`]), and the router over the parts: `auth` (password, token and
//! application-credential auth, catalog, validate/revoke, `/auth/projects`), the admin
//! API (`domains`, `projects`, `users`, `roles`, `assignments`), `app_creds`, with
//! `admin` holding what they share (policy, bodies, links) and `views` their wire
//! shapes. `catalogue` names every operation for the fault rules.

pub mod admin;
pub mod app_creds;
pub mod assignments;
pub mod auth;
pub mod auth_cache;
pub mod catalogue;
pub mod domains;
pub mod projects;
pub mod roles;
pub mod token;
pub mod users;
pub mod views;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::edge::Edge;
use crate::error::{ApiError, KeystoneError};
use crate::identity::app_creds::live_roles;
use crate::identity::directory::Directory;
use crate::timefmt;
use token::TokenPayload;

use std::sync::Arc;

/// The application credential a token was made from.
#[derive(Debug, Clone)]
pub struct AppCredInfo {
    pub id: String,
    pub name: String,
    pub unrestricted: bool,
}

/// Who is calling, as established from a token.
#[derive(Debug, Clone)]
pub struct Context {
    pub user_id: String,
    pub user_name: String,
    pub user_domain_id: String,
    pub project_id: Option<String>,
    /// Role names on the scoped project, implied roles included.
    pub roles: Vec<String>,
    /// The same roles' ids, in the same order.
    pub role_ids: Vec<String>,
    pub app_cred: Option<AppCredInfo>,
    pub token: TokenPayload,
}

impl Context {
    /// Cinder's `context.is_admin`, Keystone's `admin_required`: the `admin` role on
    /// the scoped project.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }
}

pub fn router() -> Router<Arc<Edge>> {
    Router::new()
        .route("/identity", get(versions))
        .route("/identity/", get(versions))
        .route("/identity/v3", get(version_v3))
        .route("/identity/v3/", get(version_v3))
        .merge(auth::routes())
        .merge(domains::routes())
        .merge(projects::routes())
        .merge(users::routes())
        .merge(roles::routes())
        .merge(assignments::routes())
        .merge(app_creds::routes())
        .method_not_allowed_fallback(method_not_allowed)
}

/// Keystone's 405 carries its error body, like every other refusal.
async fn method_not_allowed() -> KeystoneError {
    KeystoneError(ApiError::MethodNotAllowed(
        "The method specified is not allowed for this resource.".into(),
    ))
}

fn version_doc(app: &Edge) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{}/", app.identity_url())}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]
    })
}

async fn versions(State(app): State<Arc<Edge>>) -> Response {
    (
        StatusCode::MULTIPLE_CHOICES,
        Json(json!({"versions": {"values": [version_doc(&app)]}})),
    )
        .into_response()
}

async fn version_v3(State(app): State<Arc<Edge>>) -> Json<Value> {
    Json(json!({"version": version_doc(&app)}))
}

/// Checks a token and returns who it belongs to. Any failure is a 401.
pub fn authenticate(app: &Edge, token: Option<&str>) -> Result<Context, ApiError> {
    let unauthorized = || ApiError::Unauthorized {
        identity_uri: app.identity_url(),
    };
    let token = token.map(str::trim).ok_or_else(unauthorized)?;
    // The epoch is read before the state the context comes from (see `identity_epoch`).
    let epoch = app.domain.store.identity_epoch();
    let now_us = timefmt::now_us();
    if let Some(ctx) = app.auth_cache.get(token, epoch, now_us) {
        return Ok(ctx);
    }
    let payload = app.tokens.verify(token).ok_or_else(unauthorized)?;
    let ctx = context_for(app, payload).ok_or_else(unauthorized)?;
    app.auth_cache
        .put(token, epoch, valid_until_us(app, &ctx), &ctx);
    Ok(ctx)
}

/// When a context stops being what a token gives: its expiry, or its application
/// credential's if sooner.
fn valid_until_us(app: &Edge, ctx: &Context) -> i64 {
    let cred_expiry = ctx.app_cred.as_ref().and_then(|c| {
        app.domain.view(|tx| {
            Directory::new(tx, &app.domain.world)
                .app_cred(&c.id)
                .and_then(|c| c.expires_at_us)
        })
    });
    cred_expiry.map_or(ctx.token.expires_at_us, |e| e.min(ctx.token.expires_at_us))
}

/// The context a token payload gives now: `None` once it expired, was revoked, or its
/// user, project or application credential is gone or disabled.
fn context_for(app: &Edge, payload: TokenPayload) -> Option<Context> {
    let now_us = timefmt::now_us();
    if payload.expires_at_us <= now_us {
        return None;
    }
    let world = &app.domain.world;
    app.domain.view(|tx| {
        if tx
            .committed()
            .revoked_tokens
            .contains_key(&payload.audit_id)
        {
            return None;
        }
        let dir = Directory::new(tx, world);
        let user = dir.user(&payload.user_id).filter(|u| u.enabled)?;
        dir.domain(&user.domain_id).filter(|d| d.enabled)?;
        let mut app_cred = None;
        let roles = match &payload.project_id {
            Some(p) => {
                dir.project(p).filter(|p| p.enabled)?;
                match &payload.app_cred_id {
                    Some(id) => {
                        let cred = dir
                            .app_cred(id)
                            .filter(|c| c.user_id == user.id && c.project_id == *p)
                            .filter(|c| c.expires_at_us.is_none_or(|e| e > now_us))?;
                        let ids = live_roles(&dir, &cred);
                        if ids.is_empty() {
                            return None;
                        }
                        app_cred = Some(AppCredInfo {
                            id: cred.id.clone(),
                            name: cred.name.clone(),
                            unrestricted: cred.unrestricted,
                        });
                        ids.iter().filter_map(|id| dir.role(id)).collect()
                    }
                    None => dir.project_roles(&user.id, p),
                }
            }
            None => Vec::new(),
        };
        // A user who lost every role on the project loses its tokens, as in Keystone.
        if payload.project_id.is_some() && roles.is_empty() {
            return None;
        }
        Some(Context {
            user_id: user.id,
            user_name: user.name,
            user_domain_id: user.domain_id,
            project_id: payload.project_id.clone(),
            role_ids: roles.iter().map(|r| r.id.clone()).collect(),
            roles: roles.into_iter().map(|r| r.name).collect(),
            app_cred,
            token: payload,
        })
    })
}
