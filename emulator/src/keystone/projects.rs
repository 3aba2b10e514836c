//! `/v3/projects`: list (filters `name`, `domain_id`, `enabled`), create, show, update,
//! delete, with Keystone's policies (admin; a project's members may show it). A new
//! project gets the world's default quotas, as a new Keystone project gets Cinder's.

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
use crate::identity::admin::{NewProject, Patch};
use crate::identity::{self as id};

pub fn routes() -> Router<Arc<Edge>> {
    Router::new()
        .route("/identity/v3/projects", get(list).post(create))
        .route(
            "/identity/v3/projects/{project_id}",
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
    require_admin(&ctx, "list_projects")?;
    let enabled = admin::query_true(&q, "enabled");
    let projects = admin::read(&app, |dir| dir.projects());
    let items = projects
        .iter()
        .filter(|p| q.get("name").is_none_or(|n| *n == p.name))
        .filter(|p| q.get("domain_id").is_none_or(|d| *d == p.domain_id))
        .filter(|p| enabled.is_none_or(|e| e == p.enabled))
        .filter(|p| q.get("parent_id").is_none_or(|d| *d == p.domain_id))
        .map(|p| views::project(&app, p))
        .collect();
    Ok(Json(views::collection(
        &app,
        "projects",
        &admin::self_path(&uri),
        items,
    )))
}

/// The fields shared by create and update.
fn patch_of(f: &Fields<'_>) -> Result<Patch, KeystoneError> {
    Ok(Patch {
        name: match f.has("name") {
            true => Some(f.name("name", 64)?),
            false => None,
        },
        description: f.string("description", 65_535)?,
        enabled: f.boolean("enabled")?,
        tags: f.strings("tags")?,
    })
}

async fn create(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin(&ctx, "create_project")?;
    let obj = body_object(body, "project").await?;
    let f = Fields::new("project", &obj);
    let name = f.name("name", 64)?;
    let patch = patch_of(&f)?;
    if f.boolean("is_domain")? == Some(true) {
        return Err(ApiError::bad_request(
            "Projects acting as domains (is_domain) are not supported by this emulator.",
        )
        .into());
    }
    let domain_id = f
        .string("domain_id", 64)?
        .unwrap_or_else(|| "default".to_string());
    if let Some(parent) = f.string("parent_id", 64)? {
        if parent != domain_id {
            return Err(ApiError::bad_request(
                "Project hierarchies (a parent_id other than the domain) are not supported by this emulator.",
            )
            .into());
        }
    }
    let req = NewProject {
        name,
        domain_id,
        description: patch.description.unwrap_or_default(),
        enabled: patch.enabled.unwrap_or(true),
        tags: patch.tags.unwrap_or_default(),
    };
    let world = app.domain.world.clone();
    let made = app
        .domain
        .write(move |tx| id::admin::create_project(tx, &world, req))
        .await?;
    let p = admin::read(&app, |dir| dir.project(&made.id))
        .ok_or_else(|| ApiError::Internal("created project vanished".into()))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"project": views::project(&app, &p)})),
    )
        .into_response())
}

async fn show(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    if !ctx.is_admin() && ctx.project_id.as_deref() != Some(project_id.as_str()) {
        return Err(forbidden("get_project"));
    }
    let p = admin::read(&app, |dir| dir.project(&project_id))
        .ok_or_else(|| id::not_found("project", &project_id))?;
    Ok(Json(json!({"project": views::project(&app, &p)})))
}

async fn update(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    body: Body,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin(&ctx, "update_project")?;
    let obj = body_object(body, "project").await?;
    let f = Fields::new("project", &obj);
    admin::require_matching_id(&f, &project_id)?;
    let patch = patch_of(&f)?;
    let world = app.domain.world.clone();
    let pid = project_id.clone();
    app.domain
        .write(move |tx| id::admin::update_project(tx, &world, &pid, patch))
        .await?;
    let p = admin::read(&app, |dir| dir.project(&project_id))
        .ok_or_else(|| id::not_found("project", &project_id))?;
    Ok(Json(json!({"project": views::project(&app, &p)})))
}

async fn delete(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
) -> Result<StatusCode, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin(&ctx, "delete_project")?;
    let world = app.domain.world.clone();
    app.domain
        .write(move |tx| id::admin::delete_project(tx, &world, &project_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
