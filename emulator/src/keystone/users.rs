//! `/v3/users`: list (filters `name`, `domain_id`, `enabled`), create, show, update,
//! delete; `POST /v3/users/{id}/password` (the original password is the proof, as in
//! Keystone, so no token is needed); `GET /v3/users/{id}/projects` and `/groups`
//! (no groups are emulated). Admin-only writes; a user may read themself.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::admin::{self, body_object, caller, require_admin, require_admin_or_owner, Fields};
use super::views;
use crate::edge::Edge;
use crate::error::{ApiError, KeystoneError};
use crate::identity::admin::{NewUser, UserPatch};
use crate::identity::{self as id};

pub fn routes() -> Router<Arc<Edge>> {
    Router::new()
        .route("/identity/v3/users", get(list).post(create))
        .route(
            "/identity/v3/users/{user_id}",
            get(show).patch(update).delete(delete),
        )
        .route(
            "/identity/v3/users/{user_id}/password",
            post(change_password),
        )
        .route("/identity/v3/users/{user_id}/projects", get(user_projects))
        .route("/identity/v3/users/{user_id}/groups", get(user_groups))
}

async fn list(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<admin::Query>,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin(&ctx, "list_users")?;
    let enabled = admin::query_true(&q, "enabled");
    let users = admin::read(&app, |dir| dir.users());
    let items = users
        .iter()
        .filter(|u| q.get("name").is_none_or(|n| *n == u.name))
        .filter(|u| q.get("domain_id").is_none_or(|d| *d == u.domain_id))
        .filter(|u| enabled.is_none_or(|e| e == u.enabled))
        .map(|u| views::user(&app, u))
        .collect();
    Ok(Json(views::collection(
        &app,
        "users",
        &admin::self_path(&uri),
        items,
    )))
}

/// An optional string field that `null` clears.
fn clearable(f: &Fields<'_>, field: &str) -> Result<Option<Option<String>>, KeystoneError> {
    if !f.has(field) {
        return Ok(None);
    }
    Ok(Some(f.string(field, 255)?))
}

async fn create(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin(&ctx, "create_user")?;
    let obj = body_object(body, "user").await?;
    let f = Fields::new("user", &obj);
    let req = NewUser {
        name: f.nonblank_name("name", 255)?,
        domain_id: f
            .string("domain_id", 64)?
            .unwrap_or_else(|| "default".to_string()),
        password: f.string("password", 4096)?,
        enabled: f.boolean("enabled")?.unwrap_or(true),
        default_project_id: f.string("default_project_id", 64)?,
        description: f.string("description", 65_535)?,
        email: f.string("email", 255)?,
    };
    let world = app.domain.world.clone();
    let made = app
        .domain
        .write(move |tx| id::admin::create_user(tx, &world, req))
        .await?;
    let u = admin::read(&app, |dir| dir.user(&made.id))
        .ok_or_else(|| ApiError::Internal("created user vanished".into()))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"user": views::user(&app, &u)})),
    )
        .into_response())
}

async fn show(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin_or_owner(&ctx, &user_id, "get_user")?;
    let u = admin::read(&app, |dir| dir.user(&user_id))
        .ok_or_else(|| id::not_found("user", &user_id))?;
    Ok(Json(json!({"user": views::user(&app, &u)})))
}

async fn update(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    body: Body,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin(&ctx, "update_user")?;
    let obj = body_object(body, "user").await?;
    let f = Fields::new("user", &obj);
    admin::require_matching_id(&f, &user_id)?;
    let patch = UserPatch {
        name: match f.has("name") {
            true => Some(f.nonblank_name("name", 255)?),
            false => None,
        },
        enabled: f.boolean("enabled")?,
        password: f.string("password", 4096)?,
        default_project_id: clearable(&f, "default_project_id")?,
        description: clearable(&f, "description")?,
        email: clearable(&f, "email")?,
    };
    let world = app.domain.world.clone();
    let uid = user_id.clone();
    app.domain
        .write(move |tx| id::admin::update_user(tx, &world, &uid, patch))
        .await?;
    let u = admin::read(&app, |dir| dir.user(&user_id))
        .ok_or_else(|| id::not_found("user", &user_id))?;
    Ok(Json(json!({"user": views::user(&app, &u)})))
}

async fn delete(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Result<StatusCode, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin(&ctx, "delete_user")?;
    let world = app.domain.world.clone();
    app.domain
        .write(move |tx| id::admin::delete_user(tx, &world, &user_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn change_password(
    State(app): State<Arc<Edge>>,
    Path(user_id): Path<String>,
    body: Body,
) -> Result<StatusCode, KeystoneError> {
    let obj = body_object(body, "user").await?;
    let f = Fields::new("user", &obj);
    let original = f.name("original_password", 4096)?;
    let new = f.name("password", 4096)?;
    let world = app.domain.world.clone();
    let unauthorized = ApiError::Unauthorized {
        identity_uri: app.identity_url(),
    };
    app.domain
        .write(move |tx| {
            id::admin::change_password(tx, &world, &user_id, &original, &new, unauthorized)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn user_projects(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    uri: Uri,
    Path(user_id): Path<String>,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin_or_owner(&ctx, &user_id, "list_user_projects")?;
    let projects = admin::read(&app, |dir| {
        dir.user(&user_id)
            .map(|_| dir.user_projects(&user_id))
            .ok_or_else(|| id::not_found("user", &user_id))
    })?;
    let items = projects.iter().map(|p| views::project(&app, p)).collect();
    Ok(Json(views::collection(
        &app,
        "projects",
        &admin::self_path(&uri),
        items,
    )))
}

async fn user_groups(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    uri: Uri,
    Path(user_id): Path<String>,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin_or_owner(&ctx, &user_id, "list_groups_for_user")?;
    admin::read(&app, |dir| dir.user(&user_id)).ok_or_else(|| id::not_found("user", &user_id))?;
    Ok(Json(views::collection(
        &app,
        "groups",
        &admin::self_path(&uri),
        Vec::new(),
    )))
}
