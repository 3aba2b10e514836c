//! `/v3/roles`: list (filter `name`), create, show, update, delete. Keystone's
//! bootstrap roles (admin, manager, member, reader, service) and the world file's are
//! always there; the API adds its own. Every call needs `admin`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::admin::{self, body_object, caller, require_admin, Fields};
use super::views;
use crate::edge::Edge;
use crate::error::{ApiError, KeystoneError};
use crate::identity::{self as id};

pub fn routes() -> Router<Arc<Edge>> {
    Router::new()
        .route("/identity/v3/roles", get(list).post(create))
        .route(
            "/identity/v3/roles/{role_id}",
            get(show).patch(update).delete(delete),
        )
}

async fn list(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<admin::Query>,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin(&ctx, "list_roles")?;
    let roles = admin::read(&app, |dir| dir.roles());
    // Domain-specific roles are not emulated: a domain filter finds none.
    let items = roles
        .iter()
        .filter(|r| q.get("name").is_none_or(|n| *n == r.name))
        .filter(|_| !q.contains_key("domain_id"))
        .map(|r| views::role(&app, r))
        .collect();
    Ok(Json(views::collection(
        &app,
        "roles",
        &admin::self_path(&uri),
        items,
    )))
}

async fn create(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin(&ctx, "create_role")?;
    let obj = body_object(body, "role").await?;
    let f = Fields::new("role", &obj);
    let name = f.nonblank_name("name", 255)?;
    let description = f.string("description", 255)?;
    if f.string("domain_id", 64)?.is_some() {
        return Err(ApiError::bad_request(
            "Domain-specific roles are not supported by this emulator.",
        )
        .into());
    }
    let world = app.domain.world.clone();
    let made = app
        .domain
        .write(move |tx| id::admin::create_role(tx, &world, name, description))
        .await?;
    let r = admin::read(&app, |dir| dir.role(&made.id))
        .ok_or_else(|| ApiError::Internal("created role vanished".into()))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"role": views::role(&app, &r)})),
    )
        .into_response())
}

async fn show(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path(role_id): Path<String>,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin(&ctx, "get_role")?;
    let r = admin::read(&app, |dir| dir.role(&role_id))
        .ok_or_else(|| id::not_found("role", &role_id))?;
    Ok(Json(json!({"role": views::role(&app, &r)})))
}

async fn update(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path(role_id): Path<String>,
    body: Body,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin(&ctx, "update_role")?;
    let obj = body_object(body, "role").await?;
    let f = Fields::new("role", &obj);
    admin::require_matching_id(&f, &role_id)?;
    let name = match f.has("name") {
        true => Some(f.nonblank_name("name", 255)?),
        false => None,
    };
    let description = f.string("description", 255)?;
    let world = app.domain.world.clone();
    let rid = role_id.clone();
    app.domain
        .write(move |tx| id::admin::update_role(tx, &world, &rid, name, description))
        .await?;
    let r = admin::read(&app, |dir| dir.role(&role_id))
        .ok_or_else(|| id::not_found("role", &role_id))?;
    Ok(Json(json!({"role": views::role(&app, &r)})))
}

async fn delete(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path(role_id): Path<String>,
) -> Result<StatusCode, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin(&ctx, "delete_role")?;
    let world = app.domain.world.clone();
    app.domain
        .write(move |tx| id::admin::delete_role(tx, &world, &role_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
