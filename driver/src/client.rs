//! A thin typed Cinder v3 client for one store: microversion 3.54, retries, per-request timeout.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{AuthInfo, Session};
use crate::backoff::{retry, Next, Schedule};
use crate::config::CinderOptions;
use crate::error::{envelope_message, redact, ConfigError, DriverError};

/// The microversion for every volume call: attachments with `mode` need 3.54
/// (and online extend needs ≥ 3.42).
pub const MICROVERSION: &str = "volume 3.54";

/// Longest wait honoured from a `Retry-After` header.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(15);

/// Page size for `GET /volumes/detail`.
pub const PAGE_LIMIT: usize = 1000;

/// Upper bound on pages read by one listing (10 million volumes).
pub const MAX_PAGES: usize = 10_000;

fn string_map<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let raw: Option<BTreeMap<String, Value>> = Option::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect())
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Volume {
    pub id: String,
    pub status: String,
    pub size: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub volume_type: Option<String>,
    #[serde(default, deserialize_with = "string_map")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub multiattach: bool,
    #[serde(default)]
    pub encrypted: bool,
    /// The attachments holding the volume (`attachments[].attachment_id`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub attachments: Vec<VolumeAttachment>,
}

/// One entry of a volume's `attachments`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct VolumeAttachment {
    pub attachment_id: String,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<VolumeAttachment>, D::Error> {
    Ok(Option::deserialize(d)?.unwrap_or_default())
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Attachment {
    pub id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub volume_id: Option<String>,
    #[serde(default)]
    pub connection_info: Option<serde_json::Map<String, Value>>,
}

#[derive(Deserialize)]
struct VolumeBody {
    volume: Volume,
}
#[derive(Deserialize)]
struct VolumesBody {
    volumes: Vec<Volume>,
}
#[derive(Deserialize)]
struct AttachmentBody {
    attachment: Attachment,
}
#[derive(Deserialize)]
struct AttachmentsBody {
    attachments: Vec<Attachment>,
}
#[derive(Deserialize)]
struct TypeName {
    name: String,
}
#[derive(Deserialize)]
struct TypeBody {
    volume_type: TypeName,
}
#[derive(Deserialize)]
struct TypesBody {
    volume_types: Vec<TypeName>,
}

/// Percent-encodes a query value.
fn q(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Builds the store's HTTP client: timeouts and TLS settings.
pub fn http_client(store: &str, options: &CinderOptions) -> Result<Client, DriverError> {
    let mut builder = Client::builder()
        .timeout(options.http_timeout())
        .connect_timeout(options.http_timeout().min(Duration::from_secs(10)))
        .danger_accept_invalid_certs(options.api_insecure);
    if let (Some(path), false) = (&options.ca_certificates_file, options.api_insecure) {
        let pem = std::fs::read(path).map_err(|e| ConfigError {
            file: String::new(),
            line: None,
            section: store.to_string(),
            key: "cinder_ca_certificates_file".into(),
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| ConfigError {
            file: String::new(),
            line: None,
            section: store.to_string(),
            key: "cinder_ca_certificates_file".into(),
            message: format!("{} is not a PEM certificate: {e}", path.display()),
        })?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| DriverError::Endpoint {
        store: store.to_string(),
        message: format!("cannot build the HTTP client: {e}"),
    })
}

/// The Cinder API of one store, authenticated through a Keystone session that stores
/// with the same auth address, credentials and HTTP settings share (`Session::shareable`).
pub struct CinderClient {
    store: String,
    session: Arc<Session>,
    http: Client,
    retries: u32,
    timeout_s: u64,
}

impl CinderClient {
    /// A client with its own session.
    pub fn new(store: &str, options: &CinderOptions) -> Result<CinderClient, DriverError> {
        let http = http_client(store, options)?;
        let session = Arc::new(Session::new(options, http.clone()));
        Ok(CinderClient::with_session(store, options, session, http))
    }

    /// A client that authenticates through `session` (shared with other stores).
    pub fn with_session(
        store: &str,
        options: &CinderOptions,
        session: Arc<Session>,
        http: Client,
    ) -> CinderClient {
        CinderClient {
            store: store.to_string(),
            session,
            http,
            retries: options.http_retries,
            timeout_s: options.http_timeout_s,
        }
    }

    /// The Keystone session this client authenticates through.
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    pub fn store(&self) -> &str {
        &self.store
    }

    /// The current token's project (the image owner by default).
    pub fn project_id(&self) -> Result<String, DriverError> {
        Ok(self.session.current(&self.store)?.project_id)
    }

    fn send_once(
        &self,
        auth: &AuthInfo,
        method: &Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Option<u64>, String), DriverError> {
        let url = format!("{}{path}", auth.endpoint);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .header("X-Auth-Token", auth.token.expose())
            .header("OpenStack-API-Version", MICROVERSION)
            .header("Accept", "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().map_err(|e| {
            if e.is_timeout() {
                DriverError::RequestTimeout {
                    store: self.store.clone(),
                    method: method.to_string(),
                    url: url.clone(),
                    timeout_s: self.timeout_s,
                }
            } else {
                DriverError::Unreachable {
                    store: self.store.clone(),
                    service: "Cinder",
                    method: method.to_string(),
                    url: url.clone(),
                    message: e.without_url().to_string(),
                }
            }
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let text = response.text().map_err(|e| DriverError::RequestTimeout {
            store: self.store.clone(),
            method: format!("{method} (reading body: {})", e.without_url()),
            url,
            timeout_s: self.timeout_s,
        })?;
        Ok((status, retry_after, text))
    }

    /// One API call with bounded retries: a 401 re-authenticates once; 502/503/504 and
    /// network failures are retried up to `cinder_http_retries` times for idempotent
    /// methods (and 503 for any method: Cinder did not take the request); a 413 with
    /// `Retry-After` is retried like upstream's client. Returns the body of a 2xx answer.
    pub fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<String, DriverError> {
        let idempotent = matches!(
            method,
            Method::GET | Method::PUT | Method::DELETE | Method::HEAD
        );
        let mut reauthenticated = false;
        retry(&Schedule::retries(self.retries), |attempt| {
            let send = || {
                self.session.current(&self.store).map(|auth| {
                    let outcome = self.send_once(&auth, &method, path, body);
                    (auth, outcome)
                })
            };
            let mut sent = send();
            // a 401 re-authenticates once per call, without using up a retry
            if matches!(&sent, Ok((_, Ok((401, _, _))))) && !reauthenticated {
                reauthenticated = true;
                self.session.invalidate();
                sent = send();
            }
            let (auth, outcome) = match sent {
                Ok(sent) => sent,
                Err(e) => return Next::Done(Err(e)),
            };
            // None: final; Some(None): after the schedule's sleep; Some(Some(d)): after d
            let retry_wait = match &outcome {
                Ok((status, _, _)) if (200..300).contains(status) => None,
                Ok((413, Some(after), _)) => {
                    Some(Some(Duration::from_secs(*after).min(MAX_RETRY_AFTER)))
                }
                Ok((503, _, _)) => Some(None),
                Ok((502 | 504, _, _)) if idempotent => Some(None),
                // upstream retries attachment deletes on 500
                Ok((500, _, _)) if method == Method::DELETE => Some(None),
                Err(DriverError::Unreachable { .. } | DriverError::RequestTimeout { .. })
                    if idempotent =>
                {
                    Some(None)
                }
                _ => None,
            };
            let result = match outcome {
                Ok((status, _, text)) if (200..300).contains(&status) => Ok(text),
                Ok((status, _, text)) => {
                    let text = redact(text, &[auth.token.expose()]);
                    Err(self.status_error(&method, path, status, &text))
                }
                Err(e) => Err(e),
            };
            match (retry_wait, result) {
                (Some(wait), Err(e)) => {
                    tracing::debug!(store = %self.store, %method, path, attempt, "retrying Cinder call");
                    match wait {
                        Some(after) => Next::AgainAfter(e, after),
                        None => Next::Again(e),
                    }
                }
                (_, result) => Next::Done(result),
            }
        })
    }

    fn status_error(&self, method: &Method, path: &str, status: u16, text: &str) -> DriverError {
        let message = envelope_message(text);
        match status {
            401 => DriverError::Auth {
                store: self.store.clone(),
                auth_url: "(Cinder)".into(),
                message: format!("Cinder refused a fresh token: {message}"),
            },
            403 => DriverError::Forbidden {
                store: self.store.clone(),
                method: method.to_string(),
                path: path.to_string(),
                message,
            },
            413 => DriverError::StorageFull {
                store: self.store.clone(),
                message,
            },
            _ => DriverError::Http {
                store: self.store.clone(),
                method: method.to_string(),
                path: path.to_string(),
                status,
                message,
            },
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        text: &str,
    ) -> Result<T, DriverError> {
        serde_json::from_str(text)
            .map_err(|e| DriverError::Inconsistent(format!("unexpected answer to {path}: {e}")))
    }

    /// Whether a volume type with exactly this name exists (`GET /types?name=`).
    pub fn type_exists(&self, name: &str) -> Result<bool, DriverError> {
        let path = format!("/types?name={}&is_public=None", q(name));
        let body: TypesBody = self.parse(&path, &self.call(Method::GET, &path, None)?)?;
        Ok(body.volume_types.iter().any(|t| t.name == name))
    }

    /// Cinder's default volume type name (`GET /types/default`).
    pub fn default_type(&self) -> Result<String, DriverError> {
        let path = "/types/default";
        let body: TypeBody = self.parse(path, &self.call(Method::GET, path, None)?)?;
        Ok(body.volume_type.name)
    }

    pub fn create_volume(
        &self,
        size_gb: u64,
        name: &str,
        volume_type: Option<&str>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<Volume, DriverError> {
        let body = json!({"volume": {
            "size": size_gb, "name": name, "volume_type": volume_type, "metadata": metadata,
        }});
        let text = self.call(Method::POST, "/volumes", Some(&body))?;
        Ok(self.parse::<VolumeBody>("/volumes", &text)?.volume)
    }

    pub fn show_volume(&self, id: &str) -> Result<Volume, DriverError> {
        let path = format!("/volumes/{id}");
        Ok(self
            .parse::<VolumeBody>(&path, &self.call(Method::GET, &path, None)?)?
            .volume)
    }

    pub fn delete_volume(&self, id: &str) -> Result<(), DriverError> {
        self.call(Method::DELETE, &format!("/volumes/{id}"), None)
            .map(drop)
    }

    /// `PUT /volumes/{id}/metadata`: replaces all keys; returns what Cinder says it stored.
    pub fn replace_metadata(
        &self,
        id: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), DriverError> {
        let path = format!("/volumes/{id}/metadata");
        self.call(Method::PUT, &path, Some(&json!({ "metadata": metadata })))
            .map(drop)
    }

    pub fn volume_action(&self, id: &str, action: Value) -> Result<(), DriverError> {
        self.call(
            Method::POST,
            &format!("/volumes/{id}/action"),
            Some(&action),
        )
        .map(drop)
    }

    pub fn extend(&self, id: &str, new_size_gb: u64) -> Result<(), DriverError> {
        self.volume_action(id, json!({"os-extend": {"new_size": new_size_gb}}))
    }

    pub fn set_readonly(&self, id: &str, readonly: bool) -> Result<(), DriverError> {
        self.volume_action(
            id,
            json!({"os-update_readonly_flag": {"readonly": readonly}}),
        )
    }

    /// `POST /attachments` without a connector: reserves the volume.
    pub fn create_attachment(
        &self,
        volume_id: &str,
        mode: &str,
    ) -> Result<Attachment, DriverError> {
        let body =
            json!({"attachment": {"volume_uuid": volume_id, "connector": null, "mode": mode}});
        let text = self.call(Method::POST, "/attachments", Some(&body))?;
        Ok(self
            .parse::<AttachmentBody>("/attachments", &text)?
            .attachment)
    }

    /// `PUT /attachments/{id}` with this host's connector: returns `connection_info`.
    pub fn update_attachment(
        &self,
        id: &str,
        connector: &Value,
    ) -> Result<Attachment, DriverError> {
        let path = format!("/attachments/{id}");
        let body = json!({"attachment": {"connector": connector}});
        Ok(self
            .parse::<AttachmentBody>(&path, &self.call(Method::PUT, &path, Some(&body))?)?
            .attachment)
    }

    pub fn complete_attachment(&self, id: &str) -> Result<(), DriverError> {
        let path = format!("/attachments/{id}/action");
        self.call(Method::POST, &path, Some(&json!({"os-complete": {}})))
            .map(drop)
    }

    pub fn delete_attachment(&self, id: &str) -> Result<(), DriverError> {
        self.call(Method::DELETE, &format!("/attachments/{id}"), None)
            .map(drop)
    }

    /// Attachments of one volume (used to clean up after a failure).
    pub fn list_attachments(&self, volume_id: &str) -> Result<Vec<Attachment>, DriverError> {
        let path = format!("/attachments?volume_id={}", q(volume_id));
        Ok(self
            .parse::<AttachmentsBody>(&path, &self.call(Method::GET, &path, None)?)?
            .attachments)
    }

    /// Every volume the store's project can see, `PAGE_LIMIT` per call, following markers.
    /// `filter` is an extra query string (e.g. `name=image-x`), already encoded.
    pub fn list_volumes(&self, filter: Option<&str>) -> Result<Vec<Volume>, DriverError> {
        let mut out: Vec<Volume> = Vec::new();
        let mut marker: Option<String> = None;
        for _page in 0..MAX_PAGES {
            let mut path = format!("/volumes/detail?limit={PAGE_LIMIT}");
            if let Some(f) = filter {
                path.push('&');
                path.push_str(f);
            }
            if let Some(m) = &marker {
                path.push_str(&format!("&marker={}", q(m)));
            }
            let page = self
                .parse::<VolumesBody>(&path, &self.call(Method::GET, &path, None)?)?
                .volumes;
            let full = page.len() >= PAGE_LIMIT;
            marker = page.last().map(|v| v.id.clone());
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
        Err(DriverError::Inconsistent(format!(
            "volume listing did not end after {MAX_PAGES} pages"
        )))
    }
}

/// The name-encoded filter for `list_volumes`.
pub fn name_filter(name: &str) -> String {
    format!("name={}", q(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_shapes_from_real_cinder() {
        // body of cinder-samples/14-volume-show-available-mv354.json, trimmed
        let text = r#"{"volume": {"id": "b31e69eb-fbee-47b3-b315-f9865143c03c", "status": "available", "size": 1,
            "volume_type": "glance-slow", "metadata": {"k": "v", "n": 3}, "multiattach": false, "encrypted": false,
            "attachments": [], "bootable": "false", "name": "parity-vol"}}"#;
        let volume: VolumeBody = serde_json::from_str(text).expect("parses");
        let v = volume.volume;
        assert_eq!(
            (v.status.as_str(), v.size, v.volume_type.as_deref()),
            ("available", 1, Some("glance-slow"))
        );
        assert_eq!(v.metadata.get("n").map(String::as_str), Some("3"));
        let text = r#"{"volume": {"id": "x", "status": "creating", "size": 2, "metadata": null, "volume_type": null}}"#;
        let v = serde_json::from_str::<VolumeBody>(text)
            .expect("parses")
            .volume;
        assert!(v.metadata.is_empty() && v.volume_type.is_none() && v.attachments.is_empty());
        // attachments of cinder-samples/34-volume-show-in-use.json, trimmed
        let text = r#"{"volume": {"id": "b31e", "status": "in-use", "size": 2, "attachments": [{"id": "b31e",
            "attachment_id": "9a2d76b9", "volume_id": "b31e", "server_id": null, "host_name": "parity-host",
            "device": "na", "attached_at": "2026-11-25T17:54:31.000000"}]}}"#;
        let v = serde_json::from_str::<VolumeBody>(text)
            .expect("parses")
            .volume;
        assert_eq!(
            v.attachments,
            vec![VolumeAttachment {
                attachment_id: "9a2d76b9".into()
            }]
        );
    }

    #[test]
    fn attachment_shapes_from_real_cinder() {
        // body of cinder-samples/30-attachment-update-connector.json
        let text = r#"{"attachment": {"id": "9a2d76b9", "status": "reserved", "instance": null, "volume_id": "b31e",
            "attached_at": "", "detached_at": "", "attach_mode": "rw", "connection_info": {"device_path":
            "/var/lib/cinder/volumes/volume-b31e", "access_mode": "rw", "qos_specs": null, "encrypted": false,
            "cacheable": false, "driver_volume_type": "local", "attachment_id": "9a2d76b9", "enforce_multipath": false}}}"#;
        let a = serde_json::from_str::<AttachmentBody>(text)
            .expect("parses")
            .attachment;
        let info = a.connection_info.expect("connection info");
        assert_eq!(
            info.get("driver_volume_type").and_then(Value::as_str),
            Some("local")
        );
        assert_eq!(
            info.get("device_path").and_then(Value::as_str),
            Some("/var/lib/cinder/volumes/volume-b31e")
        );
        let empty = r#"{"attachment": {"id": "a", "status": "reserved", "connection_info": {}}}"#;
        assert!(serde_json::from_str::<AttachmentBody>(empty).is_ok());
    }

    #[test]
    fn query_encoding() {
        let cases = [
            ("glance-fast", "name=glance-fast"),
            ("a b&c", "name=a+b%26c"),
        ];
        for (input, expected) in cases {
            assert_eq!(name_filter(input), expected);
        }
    }
}
