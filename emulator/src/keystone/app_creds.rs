//! `/v3/users/{user_id}/application_credentials[/{id}]`: create (the user themself,
//! with a project-scoped token that is not itself a restricted application credential;
//! the secret is in this response only), list (filter `name`), show, delete (admin or
//! owner).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::admin::{self, body_object, caller, forbidden, require_admin_or_owner, Fields};
use super::{views, Context};
use crate::edge::Edge;
use crate::error::{ApiError, KeystoneError};
use crate::identity::app_creds::{self, NewAppCred, RoleRef};
use crate::timefmt;

pub fn routes() -> Router<Arc<Edge>> {
    Router::new()
        .route(
            "/identity/v3/users/{user_id}/application_credentials",
            get(list).post(create),
        )
        .route(
            "/identity/v3/users/{user_id}/application_credentials/{cred_id}",
            get(show).delete(delete),
        )
}

const FIELDS: [&str; 8] = [
    "id",
    "name",
    "description",
    "secret",
    "expires_at",
    "roles",
    "unrestricted",
    "access_rules",
];

/// A restricted application credential may not manage application credentials.
fn refuse_restricted(ctx: &Context) -> Result<(), KeystoneError> {
    match &ctx.app_cred {
        Some(a) if !a.unrestricted => Err(forbidden_action(
            "Using method 'application_credential' is not allowed for managing additional application credentials.",
        )),
        _ => Ok(()),
    }
}

fn forbidden_action(action: &str) -> KeystoneError {
    KeystoneError(ApiError::Forbidden(format!(
        "You are not authorized to perform the requested action: {action}."
    )))
}

fn bad(msg: String) -> KeystoneError {
    KeystoneError(ApiError::bad_request(msg))
}

fn parse_roles(v: Option<&Value>) -> Result<Vec<RoleRef>, KeystoneError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let Value::Array(items) = v else {
        return Err(bad(format!(
            "Invalid input for field 'application_credential/roles': {v} is not of type 'array'"
        )));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let obj = r.as_object().filter(|o| o.len() == 1);
            let by = |k: &str| obj.and_then(|o| o.get(k)).and_then(Value::as_str);
            match (by("id"), by("name")) {
                (Some(id), _) => Ok(RoleRef::Id(id.to_string())),
                (_, Some(name)) => Ok(RoleRef::Name(name.to_string())),
                _ => Err(bad(format!(
                    "Invalid input for field 'application_credential/roles/{i}': {r} must name exactly one of 'id' or 'name'"
                ))),
            }
        })
        .collect()
}

async fn create(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    body: Body,
) -> Result<Response, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    if ctx.user_id != user_id {
        return Err(forbidden("create_application_credential"));
    }
    refuse_restricted(&ctx)?;
    let Some(project_id) = ctx.project_id.clone() else {
        return Err(forbidden("create_application_credential"));
    };
    let obj = body_object(body, "application_credential").await?;
    if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(bad(format!(
            "Invalid input for field 'application_credential': Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let f = Fields::new("application_credential", &obj);
    let name = f.name("name", 255)?;
    if name.is_empty() {
        return Err(bad(
            "Invalid input for field 'application_credential/name': '' is too short".into(),
        ));
    }
    let expires_at_us = match f.string("expires_at", 64)? {
        None => None,
        Some(s) => Some(
            timefmt::parse_cinder(&s)
                .map(|t| (t.unix_timestamp_nanos() / 1_000) as i64)
                .ok_or_else(|| {
                    bad("Timestamp not in expected format. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.".into())
                })?,
        ),
    };
    if f.get("access_rules")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        return Err(bad(
            "Access rules on application credentials are not supported by this emulator.".into(),
        ));
    }
    let req = NewAppCred {
        name,
        description: f.string("description", 65_535)?,
        secret: f.string("secret", 4096)?,
        expires_at_us,
        roles: parse_roles(f.get("roles"))?,
        unrestricted: f.boolean("unrestricted")?.unwrap_or(false),
    };
    let world = app.domain.world.clone();
    let token_roles = ctx.role_ids.clone();
    let uid = user_id.clone();
    let (rec, secret) = app
        .domain
        .write(move |tx| {
            app_creds::create(
                tx,
                &world,
                &uid,
                &project_id,
                &token_roles,
                timefmt::now_us(),
                req,
            )
        })
        .await?;
    let roles = admin::read(&app, |dir| dir.roles());
    let body =
        json!({"application_credential": views::app_cred(&app, &rec, &roles, Some(&secret))});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn list(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    uri: Uri,
    Path(user_id): Path<String>,
    Query(q): Query<admin::Query>,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin_or_owner(&ctx, &user_id, "list_application_credentials")?;
    let (creds, roles) = admin::read(&app, |dir| (dir.app_creds_of(&user_id), dir.roles()));
    let items = creds
        .iter()
        .filter(|a| q.get("name").is_none_or(|n| *n == a.name))
        .map(|a| views::app_cred(&app, a, &roles, None))
        .collect();
    Ok(Json(views::collection(
        &app,
        "application_credentials",
        &admin::self_path(&uri),
        items,
    )))
}

async fn show(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path((user_id, cred_id)): Path<(String, String)>,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin_or_owner(&ctx, &user_id, "get_application_credential")?;
    let world = &app.domain.world;
    let rec = app
        .domain
        .view(|tx| app_creds::get(tx, world, &user_id, &cred_id))?;
    let roles = admin::read(&app, |dir| dir.roles());
    Ok(Json(
        json!({"application_credential": views::app_cred(&app, &rec, &roles, None)}),
    ))
}

async fn delete(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    Path((user_id, cred_id)): Path<(String, String)>,
) -> Result<StatusCode, KeystoneError> {
    let ctx = caller(&app, &headers)?;
    require_admin_or_owner(&ctx, &user_id, "delete_application_credential")?;
    refuse_restricted(&ctx)?;
    let world = app.domain.world.clone();
    app.domain
        .write(move |tx| app_creds::delete(tx, &world, &user_id, &cred_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
