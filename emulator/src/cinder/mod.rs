//! Cinder v3 under `/volume`: discovery, then one dispatcher for everything below
//! `/volume/v3`: microversion, token, project, [`Endpoint`], fault rules, handler, and
//! the headers every response carries.

pub mod actions;
pub mod attachments;
pub mod backends;
pub mod backup_params;
pub mod backups;
pub mod default_types;
pub mod encryption;
pub mod endpoint;
pub mod group_snapshots;
pub mod group_sources;
pub mod group_types;
pub mod groups;
pub mod messages;
pub mod microversion;
pub mod misc;
pub mod params;
pub mod qos;
pub mod quota_classes;
pub mod quotas;
pub mod resource_filters;
pub mod retype;
pub mod schema;
pub mod schemas;
pub mod services;
pub mod snapshot_actions;
pub mod snapshots;
pub mod transfers;
pub mod types;
pub mod views;
pub mod volume_list;
pub mod volumes;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Extension;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::edge::Edge;
use crate::error::ApiError;
use crate::faults::{Call, Service};
use crate::keystone::{authenticate, Context};
use crate::reqlog::Trace;
use crate::volume::ops::Caller;
use endpoint::{Endpoint, COLLECTIONS};
use microversion::Microversion;

pub use crate::body::MAX_BODY_BYTES;

pub fn router() -> Router<Arc<Edge>> {
    Router::new()
        .route("/volume", get(root))
        .route("/volume/", get(root))
        .route("/volume/v3", any(dispatch))
        .route("/volume/v3/", any(dispatch))
        .route("/volume/v3/{*rest}", any(dispatch))
        .method_not_allowed_fallback(method_not_allowed)
}

/// `PUT /volume/` and the like: Cinder's `badMethod` body, not an empty 405.
async fn method_not_allowed() -> Response {
    ApiError::MethodNotAllowed("The method specified is not allowed for this resource.".into())
        .into_response()
}

/// Anything outside our two services.
pub async fn not_found() -> Response {
    ApiError::not_found("The resource could not be found.").into_response()
}

fn versions_doc(app: &Edge) -> Value {
    json!({"versions": [{
        "id": "v3.0",
        "status": "CURRENT",
        "version": format!("3.{}", microversion::MAX_MINOR),
        "min_version": "3.0",
        "updated": "2023-08-31T00:00:00Z",
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": format!("{}/v3/", app.volume_url())}
        ],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}]
    }]})
}

/// `GET /volume/`: 300 with the version list, no token needed.
async fn root(State(app): State<Arc<Edge>>, headers: HeaderMap) -> Response {
    let mv = microversion::parse(header(&headers, "openstack-api-version"), None)
        .unwrap_or(Microversion(0));
    let mut resp = (StatusCode::MULTIPLE_CHOICES, Json(versions_doc(&app))).into_response();
    finish_headers(&mut resp, Some(&format!("volume {mv}")), &new_request_id());
    resp
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn new_request_id() -> String {
    format!("req-{}", Uuid::new_v4())
}

fn finish_headers(resp: &mut Response, version_echo: Option<&str>, request_id: &str) {
    let h = resp.headers_mut();
    if let Some(echo) = version_echo.and_then(|e| HeaderValue::from_str(e).ok()) {
        h.insert("OpenStack-API-Version", echo);
        h.insert("Vary", HeaderValue::from_static("OpenStack-API-Version"));
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-openstack-request-id", v.clone());
        h.insert("x-compute-request-id", v);
    }
}

/// One parsed Cinder request, handed to a handler.
pub struct Req {
    pub app: Arc<Edge>,
    pub ctx: Context,
    pub caller: Caller,
    pub mv: Microversion,
    /// The project in the URL (or the token's, in the 3.67 form).
    pub project_id: String,
    pub method: Method,
    pub query: Vec<(String, String)>,
    pub body: Bytes,
    /// The request path and query as sent, for `*_links`.
    pub uri: Uri,
}

impl Req {
    /// The body as JSON; invalid JSON is Cinder's "Malformed request body".
    pub fn json_value(&self) -> Result<Value, ApiError> {
        if self.body.is_empty() {
            return Err(ApiError::bad_request("Malformed request body"));
        }
        serde_json::from_slice(&self.body)
            .map_err(|_| ApiError::bad_request("Malformed request body"))
    }

    /// The body's `key` object (e.g. `{"volume": {...}}`), or Cinder's required-property error.
    pub fn json_object(&self, key: &str) -> Result<serde_json::Map<String, Value>, ApiError> {
        match self.json_value()? {
            Value::Object(mut m) => match m.remove(key) {
                Some(Value::Object(inner)) => Ok(inner),
                Some(other) => Err(ApiError::invalid_field(
                    key,
                    views::py_repr(&other),
                    &format!("{} is not of type 'object'", views::py_repr(&other)),
                )),
                None => Err(ApiError::bad_request(format!(
                    "'{key}' is a required property"
                ))),
            },
            _ => Err(ApiError::bad_request("Malformed request body")),
        }
    }

    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_value(self.json_value()?)
            .map_err(|e| ApiError::bad_request(format!("Invalid input received: {e}")))
    }

    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Refuses non-admins with Cinder's policy message.
    pub fn require_admin(&self, action: &str) -> Result<(), ApiError> {
        if self.caller.is_admin {
            Ok(())
        } else {
            Err(ApiError::policy(action))
        }
    }

    /// `http://host:port/volume/v3/{project}` (self links).
    pub fn self_base(&self) -> String {
        format!("{}/v3/{}", self.app.volume_url(), self.project_id)
    }

    /// `http://host:port/volume/{project}` (bookmark links).
    pub fn bookmark_base(&self) -> String {
        format!("{}/{}", self.app.volume_url(), self.project_id)
    }
}

/// The single entry point for `/volume/v3/...`.
async fn dispatch(
    State(app): State<Arc<Edge>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    trace: Option<Extension<Trace>>,
    body: Body,
) -> Response {
    let request_id = new_request_id();
    let trace = trace.map(|Extension(t)| t);
    let (mut resp, echo, _operation) =
        handle(app, method.clone(), uri.clone(), headers, trace, body).await;
    finish_headers(&mut resp, echo.as_deref(), &request_id);
    if method == Method::HEAD {
        *resp.body_mut() = Body::empty();
    }
    resp
}

async fn handle(
    app: Arc<Edge>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    trace: Option<Trace>,
    body: Body,
) -> (Response, Option<String>, Option<String>) {
    // keystonemiddleware answers 401 before Cinder sees the request, whatever its
    // microversion header says: no version headers on it.
    let ctx = match authenticate(&app, header(&headers, "x-auth-token")) {
        Ok(ctx) => ctx,
        Err(e) => return (e.into_response(), None, None),
    };
    let mv = match microversion::parse(
        header(&headers, "openstack-api-version"),
        header(&headers, "x-openstack-volume-api-version"),
    ) {
        Ok(mv) => mv,
        Err(refused) => return (refused.error.into_response(), refused.echo, None),
    };
    let echo = Some(format!("volume {mv}"));
    match route(app, ctx, mv, method, uri, trace, body).await {
        Ok((resp, op)) => (resp, echo, Some(op)),
        Err(e) => (e.into_response(), echo, None),
    }
}

async fn route(
    app: Arc<Edge>,
    ctx: Context,
    mv: Microversion,
    method: Method,
    uri: Uri,
    trace: Option<Trace>,
    body: Body,
) -> Result<(Response, String), ApiError> {
    let path = uri.path().strip_prefix("/volume/v3").unwrap_or("");
    let mut seg: Vec<&str> = path.split('/').skip(1).collect();
    if seg.last() == Some(&"") && seg.len() <= 1 {
        seg.pop();
    }
    let token_project = ctx
        .project_id
        .clone()
        .ok_or_else(|| ApiError::policy("volume:get_all (unscoped token)"))?;
    let project_id = match seg.first() {
        Some(first) if !COLLECTIONS.contains(first) => {
            if *first != token_project {
                return Err(ApiError::bad_request("Malformed request url"));
            }
            seg.remove(0);
            token_project
        }
        _ => token_project,
    };
    if seg.last() == Some(&"") && seg.is_empty() {
        seg.pop();
    }
    let mut endpoint = Endpoint::parse(&method, &seg)?;
    if mv.0 < endpoint.min_minor() {
        return Err(ApiError::not_found("The resource could not be found."));
    }
    let body = crate::body::read_limited(body).await?;
    if let Endpoint::VolumeAction(_, action) = &mut endpoint {
        *action = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.as_object().and_then(|o| o.keys().next().cloned()))
            .unwrap_or_default();
    }
    let query = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let caller = Caller {
        user_id: ctx.user_id.clone(),
        project_id: project_id.clone(),
        is_admin: ctx.is_admin(),
    };
    let op = endpoint.operation();
    // Fault rules decide whether the handler runs, and with which body.
    let (path, method_name) = (uri.path().to_string(), method.to_string());
    let (pid, volume_id) = (project_id.clone(), endpoint.volume_id().map(str::to_string));
    let faults_app = app.clone();
    let hook = Call {
        service: Service::Cinder,
        operation: &op,
        method: &method_name,
        path: &path,
        project_id: Some(&pid),
        volume_id: volume_id.as_deref(),
        trace,
    };
    let handler = move |body: Bytes| async move {
        let req = Req {
            app,
            ctx,
            caller,
            mv,
            project_id,
            method,
            query,
            body,
            uri,
        };
        call(req, endpoint)
            .await
            .unwrap_or_else(IntoResponse::into_response)
    };
    let resp = faults_app.faults.intercept(hook, body, handler).await;
    Ok((resp, op))
}

/// One `match`, one handler per endpoint.
async fn call(req: Req, endpoint: Endpoint) -> Result<Response, ApiError> {
    use Endpoint as E;
    // Cinder's `@validation.schema`: the body against its schema, before the handler.
    if !req.body.is_empty() {
        if let Ok(body) = serde_json::from_slice::<Value>(&req.body) {
            if let Some(schema) = schemas::for_request(&endpoint, req.mv, &body) {
                schemas::check(schema, &body)?;
            }
        }
    }
    match endpoint {
        E::Versions => Ok(Json(versions_doc(&req.app)).into_response()),
        E::VolumeList => volume_list::list(&req, false).await,
        E::VolumeListDetail => volume_list::list(&req, true).await,
        E::VolumeCreate => volumes::create(&req).await,
        E::VolumeSummary => volumes::summary(&req).await,
        E::VolumeShow(id) => volumes::show(&req, &id).await,
        E::VolumeUpdate(id) => volumes::update(&req, &id).await,
        E::VolumeDelete(id) => volumes::delete(&req, &id).await,
        E::VolumeAction(id, _) => actions::dispatch(&req, &id).await,
        E::MetadataShow(id) => volumes::metadata_show(&req, &id).await,
        E::MetadataMerge(id) => volumes::metadata_write(&req, &id, false).await,
        E::MetadataReplace(id) => volumes::metadata_write(&req, &id, true).await,
        E::MetadataKeyShow(id, k) => volumes::metadata_key_show(&req, &id, &k).await,
        E::MetadataKeyUpdate(id, k) => volumes::metadata_key_update(&req, &id, &k).await,
        E::MetadataKeyDelete(id, k) => volumes::metadata_key_delete(&req, &id, &k).await,
        E::TypeList => types::list(&req).await,
        E::TypeCreate => types::create(&req).await,
        E::TypeDefault => types::show_default(&req).await,
        E::TypeShow(id) => types::show(&req, &id).await,
        E::TypeUpdate(id) => types::update(&req, &id).await,
        E::TypeDelete(id) => types::delete(&req, &id).await,
        E::TypeExtraSpecsShow(id) => types::extra_specs_show(&req, &id).await,
        E::TypeExtraSpecsCreate(id) => types::extra_specs_create(&req, &id).await,
        E::TypeExtraSpecShow(id, k) => types::extra_spec_show(&req, &id, &k).await,
        E::TypeExtraSpecUpdate(id, k) => types::extra_spec_update(&req, &id, &k).await,
        E::TypeExtraSpecDelete(id, k) => types::extra_spec_delete(&req, &id, &k).await,
        E::TypeAccessList(id) => types::access_list(&req, &id).await,
        E::TypeAction(id) => types::action(&req, &id).await,
        E::AttachmentList => attachments::list(&req, false).await,
        E::AttachmentListDetail => attachments::list(&req, true).await,
        E::AttachmentCreate => attachments::create(&req).await,
        E::AttachmentShow(id) => attachments::show(&req, &id).await,
        E::AttachmentUpdate(id) => attachments::update(&req, &id).await,
        E::AttachmentDelete(id) => attachments::delete(&req, &id).await,
        E::AttachmentAction(id) => attachments::action(&req, &id).await,
        E::Limits => quotas::limits(&req).await,
        E::QuotaShow(pid) => quotas::show(&req, &pid).await,
        E::QuotaDefaults(pid) => quotas::defaults(&req, &pid).await,
        E::QuotaUpdate(pid) => quotas::update(&req, &pid).await,
        E::QuotaDelete(pid) => quotas::delete(&req, &pid).await,
        E::AvailabilityZones => misc::availability_zones(&req).await,
        E::Extensions => misc::extensions(&req).await,
        E::EncryptionShow(id) => encryption::show(&req, &id).await,
        E::EncryptionCreate(id) => encryption::create(&req, &id).await,
        E::EncryptionShowKey(id, key) => encryption::show_key(&req, &id, &key).await,
        E::EncryptionUpdate(id, _) => encryption::update(&req, &id).await,
        E::EncryptionDelete(id, _) => encryption::delete(&req, &id).await,
        E::GroupTypeList => group_types::list(&req).await,
        E::GroupTypeCreate => group_types::create(&req).await,
        E::GroupTypeDefault => group_types::show_default(&req).await,
        E::GroupTypeShow(id) => group_types::show(&req, &id).await,
        E::GroupTypeUpdate(id) => group_types::update(&req, &id).await,
        E::GroupTypeDelete(id) => group_types::delete(&req, &id).await,
        E::GroupSpecsList(id) => group_types::specs_list(&req, &id).await,
        E::GroupSpecsCreate(id) => group_types::specs_create(&req, &id).await,
        E::GroupSpecShow(id, k) => group_types::spec_show(&req, &id, &k).await,
        E::GroupSpecUpdate(id, k) => group_types::spec_update(&req, &id, &k).await,
        E::GroupSpecDelete(id, k) => group_types::spec_delete(&req, &id, &k).await,
        E::GroupList => groups::list(&req, false).await,
        E::GroupListDetail => groups::list(&req, true).await,
        E::GroupCreate => groups::create(&req).await,
        E::GroupCreateFromSrc => group_sources::create_from_src(&req).await,
        E::GroupShow(id) => groups::show(&req, &id).await,
        E::GroupUpdate(id) => groups::update(&req, &id).await,
        E::GroupAction(id) => groups::action(&req, &id).await,
        E::ServiceList => services::list(&req).await,
        E::ServiceEnable => services::update(&req, "enable").await,
        E::ServiceDisable => services::update(&req, "disable").await,
        E::ServiceDisableLogReason => services::update(&req, "disable-log-reason").await,
        E::ServiceFreeze => services::update(&req, "freeze").await,
        E::ServiceThaw => services::update(&req, "thaw").await,
        E::ServiceUpdate(action) => services::update(&req, &action).await,
        E::QosList => qos::list(&req).await,
        E::QosCreate => qos::create(&req).await,
        E::QosShow(id) => qos::show(&req, &id).await,
        E::QosSetKeys(id) => qos::set_keys(&req, &id).await,
        E::QosDelete(id) => qos::delete(&req, &id).await,
        E::QosUnsetKeys(id) => qos::unset_keys(&req, &id).await,
        E::QosAssociations(id) => qos::associations(&req, &id).await,
        E::QosAssociate(id) => qos::associate(&req, &id, qos::Association::Associate).await,
        E::QosDisassociate(id) => qos::associate(&req, &id, qos::Association::Disassociate).await,
        E::QosDisassociateAll(id) => {
            qos::associate(&req, &id, qos::Association::DisassociateAll).await
        }
        E::PoolList => backends::get_pools(&req).await,
        E::Capabilities(host) => backends::capabilities(&req, &host).await,
        E::HostList => backends::hosts_list(&req).await,
        E::HostShow(host) => backends::host_show(&req, &host).await,
        E::TransferList | E::VolumeTransferList => transfers::list(&req, false).await,
        E::TransferListDetail | E::VolumeTransferListDetail => transfers::list(&req, true).await,
        E::TransferCreate | E::VolumeTransferCreate => transfers::create(&req).await,
        E::TransferShow(id) | E::VolumeTransferShow(id) => transfers::show(&req, &id).await,
        E::TransferDelete(id) | E::VolumeTransferDelete(id) => transfers::delete(&req, &id).await,
        E::TransferAccept(id) | E::VolumeTransferAccept(id) => transfers::accept(&req, &id).await,
        E::MessageList => messages::list(&req).await,
        E::MessageShow(id) => messages::show(&req, &id).await,
        E::MessageDelete(id) => messages::delete(&req, &id).await,
        E::GroupSnapshotList => group_snapshots::list(&req, false).await,
        E::GroupSnapshotListDetail => group_snapshots::list(&req, true).await,
        E::GroupSnapshotCreate => group_snapshots::create(&req).await,
        E::GroupSnapshotShow(id) => group_snapshots::show(&req, &id).await,
        E::GroupSnapshotDelete(id) => group_snapshots::delete(&req, &id).await,
        E::GroupSnapshotAction(id) => group_snapshots::action(&req, &id).await,
        E::QuotaClassShow(class) => quota_classes::show(&req, &class).await,
        E::QuotaClassUpdate(class) => quota_classes::update(&req, &class).await,
        E::BackupList => backups::list(&req, false).await,
        E::BackupListDetail => backups::list(&req, true).await,
        E::BackupCreate => backups::create(&req).await,
        E::BackupImport => backups::import_record(&req).await,
        E::BackupShow(id) => backups::show(&req, &id).await,
        E::BackupUpdate(id) => backups::update(&req, &id).await,
        E::BackupDelete(id) => backups::delete(&req, &id).await,
        E::BackupRestore(id) => backups::restore(&req, &id).await,
        E::BackupAction(id) => backups::action(&req, &id).await,
        E::BackupExport(id) => backups::export_record(&req, &id).await,
        E::SnapshotList => snapshots::list(&req, false).await,
        E::SnapshotListDetail => snapshots::list(&req, true).await,
        E::SnapshotCreate => snapshots::create(&req).await,
        E::SnapshotShow(id) => snapshots::show(&req, &id).await,
        E::SnapshotUpdate(id) => snapshots::update(&req, &id).await,
        E::SnapshotDelete(id) => snapshots::delete(&req, &id).await,
        E::SnapshotAction(id) => snapshot_actions::dispatch(&req, &id).await,
        E::SnapshotMetadataShow(id) => snapshot_actions::metadata_show(&req, &id).await,
        E::SnapshotMetadataMerge(id) => snapshot_actions::metadata_write(&req, &id, false).await,
        E::SnapshotMetadataReplace(id) => snapshot_actions::metadata_write(&req, &id, true).await,
        E::SnapshotMetadataKeyShow(id, k) => {
            snapshot_actions::metadata_key_show(&req, &id, &k).await
        }
        E::SnapshotMetadataKeyUpdate(id, k) => {
            snapshot_actions::metadata_key_update(&req, &id, &k).await
        }
        E::SnapshotMetadataKeyDelete(id, k) => {
            snapshot_actions::metadata_key_delete(&req, &id, &k).await
        }
        E::DefaultTypeList => default_types::list(&req).await,
        E::DefaultTypeSet(pid) => default_types::set(&req, &pid).await,
        E::DefaultTypeShow(pid) => default_types::show(&req, &pid).await,
        E::DefaultTypeUnset(pid) => default_types::unset(&req, &pid).await,
        E::ResourceFilters => resource_filters::list(&req).await,
    }
}
