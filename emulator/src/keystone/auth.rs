//! `/v3/auth/…`: token issue by `password`, `token` or `application_credential`
//! (project scope, or the user's default project), validation, check and revocation,
//! the catalog, and the projects and domains a token's user may scope to.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::token::{new_audit_id, TokenPayload};
use super::{authenticate, context_for, views, Context};
use crate::edge::Edge;
use crate::error::{ApiError, KeystoneError};
use crate::identity::app_creds::{self, Lookup};
use crate::identity::directory::Directory;
use crate::timefmt;

pub fn routes() -> Router<Arc<Edge>> {
    Router::new()
        .route(
            "/identity/v3/auth/tokens",
            get(validate_token)
                .head(check_token)
                .delete(revoke_token)
                .post(issue_token),
        )
        .route("/identity/v3/auth/catalog", get(catalog_of_token))
        .route("/identity/v3/auth/projects", get(auth_projects))
        .route("/identity/v3/auth/domains", get(auth_domains))
}

pub fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn unauthorized(app: &Edge) -> KeystoneError {
    KeystoneError(ApiError::Unauthorized {
        identity_uri: app.identity_url(),
    })
}

/// Who authenticated, and how.
struct Authenticated {
    user_id: String,
    methods: Vec<String>,
    /// Set by the application-credential method: its project and id.
    app_cred: Option<(String, String)>,
}

async fn issue_token(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, KeystoneError> {
    // Keystone's max_request_body_size, answered with its own 413 body.
    let body = crate::body::read_limited(body).await?;
    let req: Value = serde_json::from_slice(&body)
        .map_err(|_| ApiError::bad_request("Malformed request body: expected a JSON object."))?;
    let auth = req
        .get("auth")
        .filter(|a| a.is_object())
        .ok_or_else(|| ApiError::bad_request("'auth' is a required property"))?;
    let methods: Vec<String> = auth
        .pointer("/identity/methods")
        .and_then(Value::as_array)
        .map(|m| {
            m.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .ok_or_else(|| ApiError::bad_request("'methods' is a required property"))?;
    let has = |m: &str| methods.iter().any(|x| x == m);
    let who = if has("password") {
        let user = auth
            .pointer("/identity/password/user")
            .ok_or_else(|| ApiError::bad_request("'user' is a required property"))?;
        Authenticated {
            user_id: password_user(&app, user)?,
            methods: vec!["password".to_string()],
            app_cred: None,
        }
    } else if has("application_credential") {
        let cred = auth
            .pointer("/identity/application_credential")
            .ok_or_else(|| {
                ApiError::bad_request("'application_credential' is a required property")
            })?;
        application_credential(&app, cred, auth.get("scope"))?
    } else if has("token") {
        let id = auth
            .pointer("/identity/token/id")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request("'id' is a required property"))?;
        let ctx = authenticate(&app, Some(id))?;
        Authenticated {
            user_id: ctx.user_id,
            methods: vec!["token".to_string()],
            app_cred: None,
        }
    } else {
        return Err(unauthorized(&app));
    };

    let project_id = match (&who.app_cred, auth.get("scope")) {
        (Some((project, _)), _) => Some(project.clone()),
        (None, None | Some(Value::Null)) => default_project(&app, &who.user_id),
        (None, Some(Value::String(s))) if s == "unscoped" => None,
        (None, Some(scope)) => Some(scoped_project(&app, scope, &who.user_id)?),
    };
    let issued = timefmt::now_us();
    let payload = TokenPayload {
        user_id: who.user_id,
        project_id,
        methods: who.methods,
        issued_at_us: issued,
        expires_at_us: issued + app.domain.world.token_lifetime.as_micros() as i64,
        audit_id: new_audit_id(),
        app_cred_id: who.app_cred.map(|(_, id)| id),
    };
    let token = app.tokens.sign(&payload);
    let ctx = context_for(&app, payload).ok_or_else(|| unauthorized(&app))?;
    let nocatalog = header_str(&headers, "nocatalog").is_some();
    let body = token_body(&app, &ctx, !nocatalog);
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    resp.headers_mut().insert(
        "X-Subject-Token",
        HeaderValue::from_str(&token).map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    Ok(resp)
}

fn password_user(app: &Edge, user: &Value) -> Result<String, KeystoneError> {
    let password = user
        .get("password")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("'password' is a required property"))?;
    let found = user_ref(app, user)?;
    match found {
        Some(u) if u.enabled && u.password_matches(password) => Ok(u.id),
        _ => Err(unauthorized(app)),
    }
}

/// A user named `{"id": ..}` or `{"name": .., "domain": {..}}`.
fn user_ref(
    app: &Edge,
    user: &Value,
) -> Result<Option<crate::identity::directory::User>, KeystoneError> {
    let world = &app.domain.world;
    if let Some(id) = user.get("id").and_then(Value::as_str) {
        return Ok(app.domain.view(|tx| Directory::new(tx, world).user(id)));
    }
    let name = user
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("Expecting to find id or name in user."))?;
    let domain_id = domain_ref(app, user.get("domain"))?;
    Ok(app
        .domain
        .view(|tx| Directory::new(tx, world).user_by_name(name, &domain_id)))
}

/// The `application_credential` method: by id, or by name and user; with the secret.
fn application_credential(
    app: &Edge,
    cred: &Value,
    scope: Option<&Value>,
) -> Result<Authenticated, KeystoneError> {
    let secret = cred
        .get("secret")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("'secret' is a required property"))?;
    let lookup = if let Some(id) = cred.get("id").and_then(Value::as_str) {
        Lookup::Id(id.to_string())
    } else {
        let name = cred.get("name").and_then(Value::as_str).ok_or_else(|| {
            ApiError::bad_request("Expecting to find id or name in application_credential.")
        })?;
        let user = cred.get("user").ok_or_else(|| {
            ApiError::bad_request("Expecting to find user in application_credential.")
        })?;
        let user = user_ref(app, user)?.ok_or_else(|| unauthorized(app))?;
        Lookup::Name {
            name: name.to_string(),
            user_id: user.id,
        }
    };
    if scope.is_some_and(|s| !s.is_null()) {
        return Err(unauthorized(app));
    }
    let world = &app.domain.world;
    let found = app
        .domain
        .view(|tx| app_creds::authenticate(tx, world, &lookup, secret, timefmt::now_us()));
    let found = found.ok_or_else(|| unauthorized(app))?;
    Ok(Authenticated {
        user_id: found.user_id,
        methods: vec!["application_credential".to_string()],
        app_cred: Some((found.project_id, found.id)),
    })
}

/// Resolves `{"id": ..}` or `{"name": ..}` to a domain id (Keystone's 401 on unknown).
fn domain_ref(app: &Edge, domain: Option<&Value>) -> Result<String, KeystoneError> {
    let domain =
        domain.ok_or_else(|| ApiError::bad_request("Expecting to find domain in user."))?;
    let world = &app.domain.world;
    let found = app.domain.view(|tx| {
        let dir = Directory::new(tx, world);
        if let Some(id) = domain.get("id").and_then(Value::as_str) {
            Ok(dir.domain(id))
        } else if let Some(name) = domain.get("name").and_then(Value::as_str) {
            Ok(dir.domain_by_name(name))
        } else {
            Err(ApiError::bad_request(
                "Expecting to find id or name in domain.",
            ))
        }
    })?;
    found
        .filter(|d| d.enabled)
        .map(|d| d.id)
        .ok_or_else(|| unauthorized(app))
}

/// With no scope, Keystone scopes to the user's default project if they have a role
/// there.
fn default_project(app: &Edge, user_id: &str) -> Option<String> {
    let world = &app.domain.world;
    app.domain.view(|tx| {
        let dir = Directory::new(tx, world);
        let p = dir.user(user_id)?.default_project_id?;
        (!dir.project_roles(user_id, &p).is_empty()).then_some(p)
    })
}

fn scoped_project(app: &Edge, scope: &Value, user_id: &str) -> Result<String, KeystoneError> {
    let project = scope.get("project").ok_or_else(|| {
        ApiError::bad_request("Only project scope is supported by this emulator.")
    })?;
    let world = &app.domain.world;
    let found = if let Some(id) = project.get("id").and_then(Value::as_str) {
        app.domain.view(|tx| Directory::new(tx, world).project(id))
    } else {
        let name = project
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request("Expecting to find id or name in project."))?;
        let domain_id = domain_ref(app, project.get("domain"))?;
        app.domain
            .view(|tx| Directory::new(tx, world).project_by_name(name, &domain_id))
    };
    let project = found
        .filter(|p| p.enabled)
        .ok_or_else(|| unauthorized(app))?;
    let has_role = app.domain.view(|tx| {
        !Directory::new(tx, world)
            .project_roles(user_id, &project.id)
            .is_empty()
    });
    if !has_role {
        return Err(unauthorized(app));
    }
    Ok(project.id)
}

/// The `{"token": ...}` body, as Keystone returns it on issue and validation.
fn token_body(app: &Edge, ctx: &Context, with_catalog: bool) -> Value {
    let world = &app.domain.world;
    let (user_domain, project) = app.domain.view(|tx| {
        let dir = Directory::new(tx, world);
        let project = ctx.project_id.as_deref().and_then(|p| dir.project(p));
        let pdomain = project.as_ref().and_then(|p| dir.domain(&p.domain_id));
        (
            dir.domain(&ctx.user_domain_id),
            project.map(|p| (p, pdomain)),
        )
    });
    let mut token = json!({
        "methods": ctx.token.methods,
        "user": {
            "id": ctx.user_id,
            "name": ctx.user_name,
            "domain": {
                "id": ctx.user_domain_id,
                "name": user_domain.map(|d| d.name).unwrap_or_default(),
            },
            "password_expires_at": null,
        },
        "audit_ids": [ctx.token.audit_id],
        "issued_at": timefmt::keystone(ctx.token.issued_at_us),
        "expires_at": timefmt::keystone(ctx.token.expires_at_us),
    });
    if let Some((p, pdomain)) = project {
        token["project"] = json!({
            "id": p.id,
            "name": p.name,
            "domain": {"id": p.domain_id, "name": pdomain.map(|d| d.name).unwrap_or_default()}
        });
        token["is_domain"] = json!(false);
        token["roles"] = ctx
            .role_ids
            .iter()
            .zip(&ctx.roles)
            .map(|(id, name)| json!({"id": id, "name": name}))
            .collect();
        if let Some(a) = &ctx.app_cred {
            token["application_credential"] = json!({
                "id": a.id, "name": a.name, "restricted": !a.unrestricted,
            });
        }
        if with_catalog {
            token["catalog"] = catalog(app, &p.id);
        }
    } else if with_catalog {
        token["catalog"] = json!([]);
    }
    json!({ "token": token })
}

/// The service catalog: identity, and Cinder as both `block-storage` and `volumev3`.
fn catalog(app: &Edge, project_id: &str) -> Value {
    let region = &app.domain.world.region;
    let service = |ty: &str, name: &str, url: String| {
        let endpoints: Vec<Value> = ["public", "internal", "admin"]
            .iter()
            .map(|iface| {
                json!({
                    "id": crate::config::derived_keystone_id("endpoint", &format!("{ty}:{iface}")),
                    "interface": iface,
                    "region": region,
                    "region_id": region,
                    "url": url,
                })
            })
            .collect();
        json!({
            "id": crate::config::derived_keystone_id("service", ty),
            "type": ty,
            "name": name,
            "endpoints": endpoints,
        })
    };
    let cinder = format!("{}/v3/{project_id}", app.volume_url());
    json!([
        service("identity", "keystone", app.identity_url()),
        service("block-storage", "cinder", cinder.clone()),
        service("volumev3", "cinderv3", cinder),
    ])
}

/// `X-Auth-Token` must be valid; `X-Subject-Token` is the one checked.
fn subject(app: &Edge, headers: &HeaderMap) -> Result<Context, KeystoneError> {
    authenticate(app, header_str(headers, "x-auth-token"))?;
    let subject = header_str(headers, "x-subject-token")
        .ok_or_else(|| ApiError::bad_request("X-Subject-Token is required to validate a token."))?;
    app.tokens
        .verify(subject)
        .and_then(|p| context_for(app, p))
        .ok_or_else(|| ApiError::not_found(format!("Could not find token: {subject}.")).into())
}

async fn validate_token(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
) -> Result<Response, KeystoneError> {
    let ctx = subject(&app, &headers)?;
    let nocatalog = header_str(&headers, "nocatalog").is_some();
    let mut resp = Json(token_body(&app, &ctx, !nocatalog)).into_response();
    if let Some(v) = headers.get("x-subject-token") {
        resp.headers_mut().insert("X-Subject-Token", v.clone());
    }
    Ok(resp)
}

async fn check_token(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
) -> Result<StatusCode, KeystoneError> {
    subject(&app, &headers)?;
    Ok(StatusCode::OK)
}

async fn revoke_token(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
) -> Result<StatusCode, KeystoneError> {
    let ctx = subject(&app, &headers)?;
    let audit = ctx.token.audit_id.clone();
    let expires_s = ctx.token.expires_at_us / 1_000_000 + 1;
    app.domain
        .store
        .write(move |tx| {
            tx.revoke_token(audit, expires_s);
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn catalog_of_token(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = authenticate(&app, header_str(&headers, "x-auth-token"))?;
    let catalog = match &ctx.project_id {
        Some(p) => catalog(&app, p),
        None => json!([]),
    };
    Ok(Json(
        json!({"catalog": catalog, "links": {"self": format!("{}/auth/catalog", app.identity_url())}}),
    ))
}

/// `GET /v3/auth/projects`: the projects the token's user has a role on (no policy).
async fn auth_projects(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = authenticate(&app, header_str(&headers, "x-auth-token"))?;
    let world = &app.domain.world;
    let projects = app.domain.view(|tx| {
        Directory::new(tx, world)
            .user_projects(&ctx.user_id)
            .into_iter()
            .filter(|p| p.enabled)
            .collect::<Vec<_>>()
    });
    let items = projects.iter().map(|p| views::project(&app, p)).collect();
    Ok(Json(views::collection(
        &app,
        "projects",
        "auth/projects",
        items,
    )))
}

/// `GET /v3/auth/domains`: the domains the token's user has a role on.
async fn auth_domains(
    State(app): State<Arc<Edge>>,
    headers: HeaderMap,
) -> Result<Json<Value>, KeystoneError> {
    let ctx = authenticate(&app, header_str(&headers, "x-auth-token"))?;
    let world = &app.domain.world;
    let domains = app
        .domain
        .view(|tx| Directory::new(tx, world).user_domains(&ctx.user_id));
    let items = domains.iter().map(|d| views::domain(&app, d)).collect();
    Ok(Json(views::collection(
        &app,
        "domains",
        "auth/domains",
        items,
    )))
}
