//! Typed glance-api.conf: the raw INI turned into validated multi-store or legacy cinder settings.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::error::ConfigError;
use crate::ini::{Entry, Ini};

mod options;

pub use options::parse_bool;
use options::{cinder_options, describe, lint_section, Resolver};

/// Bytes in one GiB, Cinder's size unit.
pub const GIB: u64 = 1 << 30;

/// A password, secret or token, held in `secrecy`'s `SecretString` (zeroed when dropped,
/// never printed). Equality only decides whether two stores may share a session.
#[derive(Clone)]
pub struct Secret(secrecy::SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(secrecy::SecretString::from(value.into()))
    }
    pub fn expose(&self) -> &str {
        secrecy::ExposeSecret::expose_secret(&self.0)
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Keystone endpoint interface, from `publicURL`/`public` and friends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interface {
    Public,
    Internal,
    Admin,
}

impl Interface {
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }
}

/// `cinder_catalog_info` = `service_type:service_name:interface`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogInfo {
    pub service_type: String,
    pub service_name: Option<String>,
    pub interface: Interface,
}

impl CatalogInfo {
    pub fn parse(value: &str) -> Result<CatalogInfo, String> {
        let parts: Vec<&str> = value.split(':').collect();
        let [service_type, service_name, interface] = parts.as_slice() else {
            return Err(format!(
                "'{value}' is not 'service_type:service_name:interface' (e.g. volumev3::publicURL)"
            ));
        };
        let interface = match *interface {
            "publicURL" | "public" => Interface::Public,
            "internalURL" | "internal" => Interface::Internal,
            "adminURL" | "admin" => Interface::Admin,
            other => {
                return Err(format!(
                    "interface '{other}' is not one of publicURL, internalURL, adminURL"
                ))
            }
        };
        if service_type.is_empty() {
            return Err(format!("'{value}' has an empty service type"));
        }
        Ok(CatalogInfo {
            service_type: service_type.to_string(),
            service_name: (!service_name.is_empty()).then(|| service_name.to_string()),
            interface,
        })
    }
}

/// Service credentials of one store (Keystone v3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    Password {
        auth_url: Url,
        user_name: String,
        password: Secret,
        project_name: String,
        user_domain_name: String,
        project_domain_name: String,
    },
    ApplicationCredential {
        auth_url: Url,
        id: String,
        secret: Secret,
    },
}

impl Credentials {
    pub fn auth_url(&self) -> &Url {
        match self {
            Credentials::Password { auth_url, .. }
            | Credentials::ApplicationCredential { auth_url, .. } => auth_url,
        }
    }
}

/// How `nfs` attachments are opened (`cinder_nfs_connector`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NfsMode {
    /// A userspace NFSv3 client: no root, no mount, no kernel support.
    Userspace,
    /// Mount the export under `cinder_mount_point_base`, as upstream does (needs root).
    Mount,
}

/// All settings of one cinder store, after fallback and defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CinderOptions {
    pub catalog_info: CatalogInfo,
    pub endpoint_template: Option<String>,
    pub os_region_name: Option<String>,
    pub ca_certificates_file: Option<PathBuf>,
    pub http_retries: u32,
    pub state_transition_timeout_s: u64,
    pub api_insecure: bool,
    pub credentials: Option<Credentials>,
    pub rootwrap_config: PathBuf,
    pub volume_type: Option<String>,
    pub use_multipath: bool,
    pub enforce_multipath: bool,
    pub mount_point_base: PathBuf,
    pub do_extend_attached: bool,
    pub nfs_connector: NfsMode,
    pub attachment_retry_attempts: u32,
    pub http_timeout_s: u64,
}

impl Default for CinderOptions {
    /// Every option at glance_store 5.7.0's default, as for a store section that sets none.
    fn default() -> CinderOptions {
        let empty = Ini {
            file: String::new(),
            sections: Vec::new(),
        };
        let resolver = Resolver {
            ini: &empty,
            sections: vec!["glance_store"],
        };
        // nothing set, nothing to refuse
        cinder_options(&resolver).unwrap_or_else(|e| unreachable!("the defaults are valid: {e}"))
    }
}

impl CinderOptions {
    pub fn state_transition_timeout(&self) -> Duration {
        Duration::from_secs(self.state_transition_timeout_s)
    }
    pub fn http_timeout(&self) -> Duration {
        Duration::from_secs(self.http_timeout_s)
    }
}

/// One entry of `enabled_backends` (or the legacy single store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    pub name: String,
    pub kind: String,
    pub description: Option<String>,
    pub weight: i64,
    /// `Some` for `cinder` backends; other kinds are listed but not served.
    pub cinder: Option<CinderOptions>,
}

/// Multi-store (`enabled_backends`) or legacy single store (`[glance_store] stores`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    Multi,
    Single,
}

/// A non-fatal finding (unknown key, suspicious value); logged, never refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning(pub ConfigError);

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlanceConfig {
    pub file: String,
    pub mode: StoreMode,
    pub backends: Vec<Backend>,
    pub default_backend: String,
    pub warnings: Vec<ConfigWarning>,
}

impl GlanceConfig {
    pub fn load(path: &Path) -> Result<GlanceConfig, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: None,
            section: String::new(),
            key: String::new(),
            message: format!("cannot read the file: {e}"),
        })?;
        GlanceConfig::parse(&file, &text)
    }

    pub fn parse(file: &str, text: &str) -> Result<GlanceConfig, ConfigError> {
        GlanceConfig::try_from(&Ini::parse(file, text)?)
    }

    pub fn backend(&self, name: &str) -> Option<&Backend> {
        self.backends.iter().find(|b| b.name == name)
    }
}

impl TryFrom<&Ini> for GlanceConfig {
    type Error = ConfigError;

    fn try_from(ini: &Ini) -> Result<GlanceConfig, ConfigError> {
        let enabled = ini
            .get("DEFAULT", "enabled_backends")
            .filter(|e| !e.value.trim().is_empty());
        let mut config = match enabled {
            Some(entry) => multi_store(ini, entry)?,
            None => single_store(ini)?,
        };
        validate_types(ini, &config)?;
        // once each, even where a section is linted both as a store and as a shared one
        let mut seen = Vec::new();
        config.warnings.retain(|w| {
            let first = !seen.contains(w);
            seen.push(w.clone());
            first
        });
        Ok(config)
    }
}

fn multi_store(ini: &Ini, enabled: &Entry) -> Result<GlanceConfig, ConfigError> {
    let err = |section: &str, key: &str, line: Option<usize>, message: String| ConfigError {
        file: ini.file.clone(),
        line,
        section: section.to_string(),
        key: key.to_string(),
        message,
    };
    let mut backends: Vec<Backend> = Vec::new();
    let mut warnings = Vec::new();
    for item in enabled
        .value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let bad = |m: String| err("DEFAULT", "enabled_backends", Some(enabled.line), m);
        let Some((name, kind)) = item.split_once(':') else {
            return Err(bad(format!("'{item}' is not 'store_id:store_type'")));
        };
        let (name, kind) = (name.trim(), kind.trim());
        if name.is_empty() || kind.is_empty() {
            return Err(bad(format!("'{item}' is not 'store_id:store_type'")));
        }
        if name.starts_with("os_glance_") {
            return Err(bad(format!(
                "store id '{name}' uses the reserved prefix 'os_glance_'; rename the store"
            )));
        }
        if backends.iter().any(|b| b.name == name) {
            return Err(bad(format!("store id '{name}' is listed twice")));
        }
        let r = Resolver {
            ini,
            sections: vec![name, "backend_defaults"],
        };
        let (description, weight) = describe(&r)?;
        let cinder = if kind == "cinder" {
            lint_section(ini, name, true, &mut warnings);
            Some(cinder_options(&r)?)
        } else {
            None
        };
        backends.push(Backend {
            name: name.to_string(),
            kind: kind.to_string(),
            description,
            weight,
            cinder,
        });
    }
    if backends.is_empty() {
        return Err(err(
            "DEFAULT",
            "enabled_backends",
            Some(enabled.line),
            "lists no store".into(),
        ));
    }
    lint_section(ini, "backend_defaults", false, &mut warnings);
    let default_backend = match ini.get("glance_store", "default_backend") {
        Some(e) if !e.value.is_empty() => {
            if backends.iter().all(|b| b.name != e.value) {
                return Err(err(
                    "glance_store",
                    "default_backend",
                    Some(e.line),
                    format!("'{}' is not one of enabled_backends", e.value),
                ));
            }
            e.value.clone()
        }
        _ => {
            return Err(err(
                "glance_store",
                "default_backend",
                None,
                "not set; glance-api refuses to start without a default store when enabled_backends is set".into(),
            ))
        }
    };
    Ok(GlanceConfig {
        file: ini.file.clone(),
        mode: StoreMode::Multi,
        backends,
        default_backend,
        warnings,
    })
}

fn single_store(ini: &Ini) -> Result<GlanceConfig, ConfigError> {
    let stores_entry = ini.get("glance_store", "stores");
    let stores: Vec<String> = stores_entry
        .map(|e| e.value.as_str())
        .unwrap_or("file,http")
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let default_entry = ini.get("glance_store", "default_store");
    let default_store = default_entry
        .map(|e| e.value.clone())
        .unwrap_or_else(|| "file".to_string());
    if !stores.contains(&default_store) {
        return Err(ConfigError {
            file: ini.file.clone(),
            line: default_entry.map(|e| e.line),
            section: "glance_store".into(),
            key: "default_store".into(),
            message: format!(
                "'{default_store}' is not one of stores ({})",
                stores.join(", ")
            ),
        });
    }
    let mut warnings = Vec::new();
    lint_section(ini, "glance_store", false, &mut warnings);
    let r = Resolver {
        ini,
        sections: vec!["glance_store"],
    };
    let mut backends = Vec::new();
    for kind in &stores {
        let cinder = if kind == "cinder" {
            Some(cinder_options(&r)?)
        } else {
            None
        };
        backends.push(Backend {
            name: kind.clone(),
            kind: kind.clone(),
            description: None,
            weight: 0,
            cinder,
        });
    }
    Ok(GlanceConfig {
        file: ini.file.clone(),
        mode: StoreMode::Single,
        backends,
        default_backend: default_store,
        warnings,
    })
}

/// The spec: with several cinder stores each *must* name its type, and no two may share
/// one (location upgrade could not tell them apart).
fn validate_types(ini: &Ini, config: &GlanceConfig) -> Result<(), ConfigError> {
    let cinder: Vec<&Backend> = config
        .backends
        .iter()
        .filter(|b| b.cinder.is_some())
        .collect();
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for backend in &cinder {
        let r = Resolver {
            ini,
            sections: vec![&backend.name, "backend_defaults"],
        };
        let volume_type = backend
            .cinder
            .as_ref()
            .and_then(|c| c.volume_type.as_deref());
        match volume_type {
            None if cinder.len() > 1 => {
                return Err(r.error(
                    "cinder_volume_type",
                    None,
                    format!(
                        "not set, but {} cinder stores are enabled and each must map to its own volume type",
                        cinder.len()
                    ),
                ))
            }
            None => {}
            Some(t) => {
                if let Some(first) = seen.insert(t, &backend.name) {
                    return Err(r.error(
                        "cinder_volume_type",
                        r.raw("cinder_volume_type"),
                        format!(
                            "volume type '{t}' is also used by store '{first}'; each cinder store needs its own type"
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
