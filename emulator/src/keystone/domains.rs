//! `/v3/domains`: list (filters `name`, `enabled`), show (admin, or a token of a
//! project in it), create, update, delete (admin; a domain must be disabled before it
//! is deleted, and takes its projects and users with it).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::admin::{self, body_object, caller, forbidden, require_admin, Fields};
use super::views;
use crate::edge::Edge;
use crate::error::{ApiError, KeystoneError};
use crate::identity::admin::Patch;
use crate::identity::{self as id};

pub fn routes() -> Router<Arc<Edge>> {
    Router::new()
        .route("/identity/v3/domains", get(list).post(create))
        .route(
            "/identity/v3/domains/{domain_id}",
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
    require_admin(&ctx, "list_domains")?;
    let enabled = admin::query_true(&q, "enabled");
    let domains = admin::read(&app, |dir| dir.domains());
    let items = domains
        .iter()
        .filter(|d| q.get("name").is_none_or(|n| *n == d.name))
        .filter(|d| enabled.is_none_or(|e| e == d.enabled))
        .map(|d| views::domain(&app, d))
        .collect();
    Ok(Json(views::collection(
        &app,
        "domains",
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
    require_admin(&ctx, "create_domain")?;
    let obj = body_object(body, "domain").await?;
    let f = Fields::new("domain", &obj);
    let name = f.nonblank_name("name", 64)?;
    let description = f.string("description", 65_535)?.unwrap_or_default();
    let enabled = f.boolean("enabled")?.unwrap_or(true);
    let world = app.domain.world.clone();
    let made = app
        .domain
        .write(move |tx| id::admin::create_domain(tx, &world, name, description, enabled))
        .await?;
    let d = admin::read(&app, |dir| dir.domain(&made.id))
        .ok_or_else(|| ApiError::Internal("created domain vanished".into()))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"domain": views::domain(&app, &d)})),
    )
        .into_response())
}

async fn show(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path(domain_id): Path<String>,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    let own = admin::read(&app, |dir| {
        ctx.project_id
            .as_deref()
            .and_then(|p| dir.project(p))
            .is_some_and(|p| p.domain_id == domain_id)
    });
    if !ctx.is_admin() && !own {
        return Err(forbidden("get_domain"));
    }
    let d = admin::read(&app, |dir| dir.domain(&domain_id))
        .ok_or_else(|| id::not_found("domain", &domain_id))?;
    Ok(Json(json!({"domain": views::domain(&app, &d)})))
}

async fn update(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path(domain_id): Path<String>,
    body: Body,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin(&ctx, "update_domain")?;
    let obj = body_object(body, "domain").await?;
    let f = Fields::new("domain", &obj);
    admin::require_matching_id(&f, &domain_id)?;
    let patch = Patch {
        name: match f.has("name") {
            true => Some(f.nonblank_name("name", 64)?),
            false => None,
        },
        description: f.string("description", 65_535)?,
        enabled: f.boolean("enabled")?,
        tags: None,
    };
    let world = app.domain.world.clone();
    let did = domain_id.clone();
    app.domain
        .write(move |tx| id::admin::update_domain(tx, &world, &did, patch))
        .await?;
    let d = admin::read(&app, |dir| dir.domain(&domain_id))
        .ok_or_else(|| id::not_found("domain", &domain_id))?;
    Ok(Json(json!({"domain": views::domain(&app, &d)})))
}

async fn delete(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path(domain_id): Path<String>,
) -> Result<StatusCode, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin(&ctx, "delete_domain")?;
    let world = app.domain.world.clone();
    app.domain
        .write(move |tx| id::admin::delete_domain(tx, &world, &domain_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
