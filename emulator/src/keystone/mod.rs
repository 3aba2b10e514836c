//! Keystone v3 under `/identity`: version discovery, password (and token) auth with
//! project scope, the service catalog, token validation and revocation.

pub mod token;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::edge::Edge;
use crate::error::{ApiError, KeystoneError};
use crate::timefmt;
use token::{new_audit_id, TokenPayload};

use std::sync::Arc;

/// Who is calling, as established from a token.
#[derive(Debug, Clone)]
pub struct Context {
    pub user_id: String,
    pub user_name: String,
    pub user_domain_id: String,
    pub project_id: Option<String>,
    pub roles: Vec<String>,
    pub token: TokenPayload,
}

impl Context {
    /// Cinder's `context.is_admin`: the `admin` role on the scoped project.
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
        .route(
            "/identity/v3/auth/tokens",
            get(validate_token)
                .head(check_token)
                .delete(revoke_token)
                .post(issue_token),
        )
        .route("/identity/v3/auth/catalog", get(catalog_of_token))
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
    let payload = token
        .and_then(|t| app.tokens.verify(t.trim()))
        .ok_or_else(unauthorized)?;
    context_for(app, payload).ok_or_else(unauthorized)
}

fn context_for(app: &Edge, payload: TokenPayload) -> Option<Context> {
    let now_us = timefmt::now_us();
    if payload.expires_at_us <= now_us {
        return None;
    }
    if app
        .domain
        .store
        .read(|s| s.revoked_tokens.contains_key(&payload.audit_id))
    {
        return None;
    }
    let user = app.domain.world.user(&payload.user_id)?;
    let roles = match &payload.project_id {
        Some(p) => {
            app.domain.world.project(p)?;
            user.roles
                .iter()
                .filter(|(proj, _)| proj == p)
                .map(|(_, r)| r.clone())
                .collect()
        }
        None => Vec::new(),
    };
    Some(Context {
        user_id: user.id.clone(),
        user_name: user.name.clone(),
        user_domain_id: user.domain_id.clone(),
        project_id: payload.project_id.clone(),
        roles,
        token: payload,
    })
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
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

    let (user_id, token_methods) = if methods.iter().any(|m| m == "password") {
        let user = auth
            .pointer("/identity/password/user")
            .ok_or_else(|| ApiError::bad_request("'user' is a required property"))?;
        (password_user(&app, user)?, vec!["password".to_string()])
    } else if methods.iter().any(|m| m == "token") {
        let id = auth
            .pointer("/identity/token/id")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request("'id' is a required property"))?;
        let ctx = authenticate(&app, Some(id))?;
        (ctx.user_id, vec!["token".to_string()])
    } else {
        return Err(ApiError::Unauthorized {
            identity_uri: app.identity_url(),
        }
        .into());
    };

    let project_id = match auth.get("scope") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "unscoped" => None,
        Some(scope) => Some(scoped_project(&app, scope, &user_id)?),
    };
    let issued = timefmt::now_us();
    let payload = TokenPayload {
        user_id,
        project_id,
        methods: token_methods,
        issued_at_us: issued,
        expires_at_us: issued + app.domain.world.token_lifetime.as_micros() as i64,
        audit_id: new_audit_id(),
    };
    let token = app.tokens.sign(&payload);
    let ctx = context_for(&app, payload)
        .ok_or_else(|| ApiError::Internal("fresh token invalid".into()))?;
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
    let unauthorized = || {
        KeystoneError(ApiError::Unauthorized {
            identity_uri: app.identity_url(),
        })
    };
    let password = user
        .get("password")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("'password' is a required property"))?;
    let found = if let Some(id) = user.get("id").and_then(Value::as_str) {
        app.domain.world.user(id)
    } else {
        let name = user
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request("Expecting to find id or name in user."))?;
        let domain_id = domain_ref(app, user.get("domain"))?;
        app.domain
            .world
            .users
            .iter()
            .find(|u| u.name == name && u.domain_id == domain_id)
    };
    match found {
        Some(u) if u.password == password => Ok(u.id.clone()),
        _ => Err(unauthorized()),
    }
}

/// Resolves `{"id": ..}` or `{"name": ..}` to a domain id (Keystone's 401 on unknown).
fn domain_ref(app: &Edge, domain: Option<&Value>) -> Result<String, KeystoneError> {
    let domain =
        domain.ok_or_else(|| ApiError::bad_request("Expecting to find domain in user."))?;
    let found = if let Some(id) = domain.get("id").and_then(Value::as_str) {
        app.domain.world.domain(id)
    } else if let Some(name) = domain.get("name").and_then(Value::as_str) {
        app.domain.world.domains.iter().find(|d| d.name == name)
    } else {
        return Err(ApiError::bad_request("Expecting to find id or name in domain.").into());
    };
    found.map(|d| d.id.clone()).ok_or_else(|| {
        KeystoneError(ApiError::Unauthorized {
            identity_uri: app.identity_url(),
        })
    })
}

fn scoped_project(app: &Edge, scope: &Value, user_id: &str) -> Result<String, KeystoneError> {
    let project = scope.get("project").ok_or_else(|| {
        ApiError::bad_request("Only project scope is supported by this emulator.")
    })?;
    let found = if let Some(id) = project.get("id").and_then(Value::as_str) {
        app.domain.world.project(id)
    } else {
        let name = project
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request("Expecting to find id or name in project."))?;
        let domain_id = domain_ref(app, project.get("domain"))?;
        app.domain
            .world
            .projects
            .iter()
            .find(|p| p.name == name && p.domain_id == domain_id)
    };
    let unauthorized = || {
        KeystoneError(ApiError::Unauthorized {
            identity_uri: app.identity_url(),
        })
    };
    let project = found.ok_or_else(unauthorized)?;
    let user = app.domain.world.user(user_id).ok_or_else(unauthorized)?;
    if !user.roles.iter().any(|(p, _)| *p == project.id) {
        return Err(unauthorized());
    }
    Ok(project.id.clone())
}

fn role_id(name: &str) -> String {
    crate::config::derived_keystone_id("role", name)
}

/// The `{"token": ...}` body, as Keystone returns it on issue and validation.
fn token_body(app: &Edge, ctx: &Context, with_catalog: bool) -> Value {
    let w = &app.domain.world;
    let domain_name = w
        .domain(&ctx.user_domain_id)
        .map(|d| d.name.clone())
        .unwrap_or_default();
    let mut token = json!({
        "methods": ctx.token.methods,
        "user": {
            "id": ctx.user_id,
            "name": ctx.user_name,
            "domain": {"id": ctx.user_domain_id, "name": domain_name},
            "password_expires_at": null,
        },
        "audit_ids": [ctx.token.audit_id],
        "issued_at": timefmt::keystone(ctx.token.issued_at_us),
        "expires_at": timefmt::keystone(ctx.token.expires_at_us),
    });
    if let Some(pid) = &ctx.project_id {
        if let Some(p) = w.project(pid) {
            let pdomain = w
                .domain(&p.domain_id)
                .map(|d| d.name.clone())
                .unwrap_or_default();
            token["project"] = json!({
                "id": p.id, "name": p.name, "domain": {"id": p.domain_id, "name": pdomain}
            });
            token["is_domain"] = json!(false);
            let mut roles: Vec<&String> = ctx.roles.iter().collect();
            roles.dedup();
            token["roles"] = roles
                .iter()
                .map(|r| json!({"id": role_id(r), "name": r}))
                .collect();
            if with_catalog {
                token["catalog"] = catalog(app, pid);
            }
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
