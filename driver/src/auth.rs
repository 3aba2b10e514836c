//! Keystone v3 authentication for one store: token cache, refresh, and Cinder endpoint lookup.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde::Deserialize;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::backoff::{retry, Next, Schedule};
use crate::config::{CatalogInfo, CinderOptions, Credentials, Secret};
use crate::error::{envelope_message, redact, DriverError};

/// Re-authenticate when less than this is left on the token (keystoneauth's margin).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(120);

/// Catalog service types that all name the block-storage service.
pub const VOLUME_ALIASES: &[&str] = &["volumev3", "block-storage", "volume", "volumev2"];

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct CatalogEndpoint {
    pub interface: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub region_id: Option<String>,
    pub url: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct CatalogService {
    #[serde(rename = "type")]
    pub service_type: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub endpoints: Vec<CatalogEndpoint>,
}

#[derive(Deserialize)]
struct TokenBody {
    token: TokenInner,
}

#[derive(Deserialize)]
struct TokenInner {
    expires_at: String,
    #[serde(default)]
    issued_at: Option<String>,
    #[serde(default)]
    project: Option<IdOnly>,
    #[serde(default)]
    catalog: Vec<CatalogService>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

/// What a request needs: a token and the Cinder base URL (`.../v3/<project_id>`).
#[derive(Clone, Debug)]
pub struct AuthInfo {
    pub token: Secret,
    pub endpoint: String,
    pub project_id: String,
}

struct Cached {
    info: AuthInfo,
    obtained: Instant,
    lifetime: Duration,
}

/// Whether a token obtained at `obtained` and valid for `lifetime` must be renewed at `now`.
pub fn needs_refresh(obtained: Instant, lifetime: Duration, now: Instant) -> bool {
    now.saturating_duration_since(obtained) + REFRESH_MARGIN >= lifetime
}

/// Finds the Cinder endpoint in a v3 catalog. The volume service types are aliases of each
/// other (an exact type match is preferred); an empty service name matches any name.
pub fn find_endpoint(
    catalog: &[CatalogService],
    info: &CatalogInfo,
    region: Option<&str>,
) -> Result<String, String> {
    let wanted: Vec<&str> = if VOLUME_ALIASES.contains(&info.service_type.as_str()) {
        let mut types = vec![info.service_type.as_str()];
        types.extend(VOLUME_ALIASES.iter().filter(|t| **t != info.service_type));
        types
    } else {
        vec![info.service_type.as_str()]
    };
    for service_type in &wanted {
        for service in catalog.iter().filter(|s| s.service_type == *service_type) {
            if let Some(name) = &info.service_name {
                if service.name.as_deref() != Some(name.as_str()) {
                    continue;
                }
            }
            let found = service.endpoints.iter().find(|e| {
                e.interface == info.interface.as_str()
                    && region.is_none_or(|r| {
                        e.region_id.as_deref() == Some(r) || e.region.as_deref() == Some(r)
                    })
            });
            if let Some(endpoint) = found {
                return Ok(endpoint.url.trim_end_matches('/').to_string());
            }
        }
    }
    Err(format!(
        "no {} endpoint of type {}{}{} in the service catalog",
        info.interface.as_str(),
        wanted.join("/"),
        info.service_name
            .as_ref()
            .map(|n| format!(" named '{n}'"))
            .unwrap_or_default(),
        region
            .map(|r| format!(" in region '{r}'"))
            .unwrap_or_default(),
    ))
}

/// Expands `%(tenant)s` / `%(project_id)s` in `cinder_endpoint_template`.
pub fn expand_template(template: &str, project_id: &str) -> String {
    template
        .replace("%(tenant)s", project_id)
        .replace("%(project_id)s", project_id)
        .trim_end_matches('/')
        .to_string()
}

/// `<auth_url>/auth/tokens`, adding `/v3` when the address is unversioned.
pub fn tokens_url(auth_url: &url::Url) -> String {
    let base = auth_url.as_str().trim_end_matches('/');
    if base.ends_with("/v3") {
        format!("{base}/auth/tokens")
    } else {
        format!("{base}/v3/auth/tokens")
    }
}

/// The Keystone session of one store, or of several with the same credentials: the
/// credentials, TLS client and token. Its errors name the store that asked.
pub struct Session {
    credentials: Option<Credentials>,
    catalog_info: CatalogInfo,
    region: Option<String>,
    endpoint_template: Option<String>,
    retries: u32,
    http: Client,
    cached: Mutex<Option<Cached>>,
}

impl Session {
    pub fn new(options: &CinderOptions, http: Client) -> Session {
        Session {
            credentials: options.credentials.clone(),
            catalog_info: options.catalog_info.clone(),
            region: options.os_region_name.clone(),
            endpoint_template: options.endpoint_template.clone(),
            retries: options.http_retries,
            http,
            cached: Mutex::new(None),
        }
    }

    /// Whether two stores may authenticate through one session: the same auth address,
    /// credentials (password or secret included: different users never share, the
    /// mistake upstream made), catalog lookup and HTTP settings.
    pub fn shareable(a: &CinderOptions, b: &CinderOptions) -> bool {
        a.credentials.is_some()
            && a.credentials == b.credentials
            && a.catalog_info == b.catalog_info
            && a.os_region_name == b.os_region_name
            && a.endpoint_template == b.endpoint_template
            && a.ca_certificates_file == b.ca_certificates_file
            && a.api_insecure == b.api_insecure
            && a.http_retries == b.http_retries
            && a.http_timeout_s == b.http_timeout_s
    }

    /// A valid token and endpoint, re-authenticating when the cached token is about to
    /// expire; a failure names `store`, the store that asked.
    pub fn current(&self, store: &str) -> Result<AuthInfo, DriverError> {
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cached.as_ref() {
            if !needs_refresh(c.obtained, c.lifetime, Instant::now()) {
                return Ok(c.info.clone());
            }
        }
        let fresh = self.authenticate(store)?;
        let info = fresh.info.clone();
        *cached = Some(fresh);
        Ok(info)
    }

    /// Forgets the token (after Cinder answered 401).
    pub fn invalidate(&self) {
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn authenticate(&self, store: &str) -> Result<Cached, DriverError> {
        let Some(credentials) = &self.credentials else {
            return Err(DriverError::Auth {
                store: store.to_string(),
                auth_url: "(unset)".into(),
                message: "no service credentials; set cinder_store_auth_address, cinder_store_user_name, cinder_store_password and cinder_store_project_name (user-context mode is not supported)".into(),
            });
        };
        let url = tokens_url(credentials.auth_url());
        let body = match credentials {
            Credentials::Password {
                user_name,
                password,
                project_name,
                user_domain_name,
                project_domain_name,
                ..
            } => json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user": {
                    "name": user_name, "domain": {"name": user_domain_name},
                    "password": password.expose()}}},
                "scope": {"project": {"name": project_name, "domain": {"name": project_domain_name}}}
            }}),
            Credentials::ApplicationCredential { id, secret, .. } => json!({"auth": {
                "identity": {"methods": ["application_credential"],
                    "application_credential": {"id": id, "secret": secret.expose()}}
            }}),
        };
        let auth_error = |message: String| DriverError::Auth {
            store: store.to_string(),
            auth_url: credentials.auth_url().to_string(),
            message,
        };
        let unreachable = |e: reqwest::Error| DriverError::Unreachable {
            store: store.to_string(),
            service: "Keystone",
            method: "POST".into(),
            url: url.clone(),
            message: e.without_url().to_string(),
        };
        // A 502-504 or a refused or timed-out connection is retried like a Cinder call; the
        // retries' "error" is the last outcome, which may be a 502 answer to report.
        let response = retry(&Schedule::retries(self.retries), |_| {
            match self.http.post(&url).json(&body).send() {
                Ok(r) if matches!(r.status().as_u16(), 502..=504) => Next::Again(Ok(r)),
                Ok(r) => Next::Done(Ok(r)),
                Err(e) if e.is_connect() || e.is_timeout() => Next::Again(Err(unreachable(e))),
                Err(e) => Next::Done(Err(Err(unreachable(e)))),
            }
        })
        .or_else(|last| last)?;
        let status = response.status();
        let token = response
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let secret = match credentials {
            Credentials::Password { password, .. } => password.expose(),
            Credentials::ApplicationCredential { secret, .. } => secret.expose(),
        };
        let token_text = token.as_deref().unwrap_or_default();
        let text = redact(response.text().unwrap_or_default(), &[secret, token_text]);
        if !status.is_success() {
            return Err(auth_error(format!(
                "HTTP {}: {}",
                status.as_u16(),
                envelope_message(&text)
            )));
        }
        let token =
            token.ok_or_else(|| auth_error("the answer has no X-Subject-Token header".into()))?;
        let parsed: TokenBody = serde_json::from_str(&text)
            .map_err(|e| auth_error(format!("unexpected token body: {e}")))?;
        let expires = OffsetDateTime::parse(&parsed.token.expires_at, &Rfc3339)
            .map_err(|e| auth_error(format!("bad expires_at: {e}")))?;
        let issued = parsed
            .token
            .issued_at
            .as_deref()
            .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
            .unwrap_or_else(OffsetDateTime::now_utc);
        let lifetime = Duration::try_from(expires - issued).unwrap_or(Duration::ZERO);
        let project_id = parsed.token.project.map(|p| p.id).unwrap_or_default();
        let endpoint = match &self.endpoint_template {
            Some(template) => expand_template(template, &project_id),
            None => find_endpoint(
                &parsed.token.catalog,
                &self.catalog_info,
                self.region.as_deref(),
            )
            .map_err(|message| DriverError::Endpoint {
                store: store.to_string(),
                message,
            })?,
        };
        Ok(Cached {
            info: AuthInfo {
                token: Secret::new(token),
                endpoint,
                project_id,
            },
            obtained: Instant::now(),
            lifetime,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Vec<CatalogService> {
        let ep = |interface: &str, region: &str, url: &str| CatalogEndpoint {
            interface: interface.into(),
            region: Some(region.into()),
            region_id: Some(region.into()),
            url: url.into(),
        };
        vec![
            CatalogService {
                service_type: "identity".into(),
                name: Some("keystone".into()),
                endpoints: vec![ep("public", "RegionOne", "http://h/identity/v3")],
            },
            CatalogService {
                service_type: "block-storage".into(),
                name: Some("cinder".into()),
                endpoints: vec![
                    ep("public", "RegionOne", "http://h/volume/v3/p1/"),
                    ep("internal", "RegionOne", "http://internal/volume/v3/p1"),
                    ep("public", "RegionTwo", "http://two/volume/v3/p1"),
                ],
            },
        ]
    }

    fn check(catalog_info: &str, region: Option<&str>, expected: Result<&str, &str>) {
        let info = CatalogInfo::parse(catalog_info).expect("valid catalog info");
        let got = find_endpoint(&catalog(), &info, region);
        assert_eq!(
            got.as_deref(),
            expected.map_err(|e| e.to_string()).as_deref(),
            "{catalog_info} {region:?}"
        );
    }

    #[test]
    fn endpoint_lookup() {
        check("volumev3::publicURL", None, Ok("http://h/volume/v3/p1"));
        check(
            "volumev2::publicURL",
            Some("RegionOne"),
            Ok("http://h/volume/v3/p1"),
        );
        check(
            "block-storage::internal",
            None,
            Ok("http://internal/volume/v3/p1"),
        );
        check(
            "volume:cinder:publicURL",
            Some("RegionTwo"),
            Ok("http://two/volume/v3/p1"),
        );
        check("volumev3::adminURL", None, Err("no admin endpoint of type volumev3/block-storage/volume/volumev2 in the service catalog"));
        check("volumev3:cinderv3:publicURL", None, Err("no public endpoint of type volumev3/block-storage/volume/volumev2 named 'cinderv3' in the service catalog"));
        check("volumev3::publicURL", Some("RegionX"), Err("no public endpoint of type volumev3/block-storage/volume/volumev2 in region 'RegionX' in the service catalog"));
        check(
            "compute::publicURL",
            None,
            Err("no public endpoint of type compute in the service catalog"),
        );
    }

    #[test]
    fn refresh_decision() {
        let t0 = Instant::now();
        let hour = Duration::from_secs(3600);
        let cases = [
            (Duration::ZERO, hour, false),
            (Duration::from_secs(3479), hour, false),
            (Duration::from_secs(3480), hour, true),
            (Duration::from_secs(4000), hour, true),
            (Duration::ZERO, Duration::from_secs(60), true),
        ];
        for (elapsed, lifetime, expected) in cases {
            assert_eq!(
                needs_refresh(t0, lifetime, t0 + elapsed),
                expected,
                "{elapsed:?} of {lifetime:?}"
            );
        }
    }

    #[test]
    fn urls() {
        let cases = [
            (
                "http://127.0.0.1:8776/identity/v3",
                "http://127.0.0.1:8776/identity/v3/auth/tokens",
            ),
            ("http://k:5000/v3/", "http://k:5000/v3/auth/tokens"),
            ("http://k:5000", "http://k:5000/v3/auth/tokens"),
        ];
        for (input, expected) in cases {
            assert_eq!(tokens_url(&url::Url::parse(input).expect("url")), expected);
        }
        assert_eq!(
            expand_template("http://c:8776/v3/%(tenant)s/", "p1"),
            "http://c:8776/v3/p1"
        );
        assert_eq!(
            expand_template("http://c/v3/%(project_id)s", "p2"),
            "http://c/v3/p2"
        );
    }
}
