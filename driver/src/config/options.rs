//! The cinder option table (names, types, upstream defaults) and how a store's value is found.

use std::path::PathBuf;

use url::Url;

use super::{CatalogInfo, CinderOptions, ConfigWarning, Credentials, NfsMode, Secret};
use crate::error::ConfigError;
use crate::ini::{Entry, Ini};

#[derive(Clone, Copy, Debug)]
enum Kind {
    Str,
    Secret,
    Bool,
    Int { min: i64 },
}

struct OptSpec {
    name: &'static str,
    kind: Kind,
    default: Option<&'static str>,
    deprecated: Option<&'static str>,
}

const fn opt(name: &'static str, kind: Kind, default: Option<&'static str>) -> OptSpec {
    OptSpec {
        name,
        kind,
        default,
        deprecated: None,
    }
}

/// Every cinder store option with upstream's default: the one place defaults live.
/// `cinder_http_timeout` is a cinderbox addition (per-request HTTP timeout, seconds), and
/// so is `cinder_nfs_connector` (`userspace` NFSv3 client, or `mount` like upstream).
const CINDER_OPTIONS: &[OptSpec] = &[
    opt(
        "cinder_catalog_info",
        Kind::Str,
        Some("volumev3::publicURL"),
    ),
    opt("cinder_endpoint_template", Kind::Str, None),
    OptSpec {
        name: "cinder_os_region_name",
        kind: Kind::Str,
        default: None,
        deprecated: Some("os_region_name"),
    },
    opt("cinder_ca_certificates_file", Kind::Str, None),
    opt("cinder_http_retries", Kind::Int { min: 0 }, Some("3")),
    opt(
        "cinder_state_transition_timeout",
        Kind::Int { min: 0 },
        Some("300"),
    ),
    opt("cinder_api_insecure", Kind::Bool, Some("False")),
    opt("cinder_store_auth_address", Kind::Str, None),
    opt("cinder_store_user_name", Kind::Str, None),
    opt("cinder_store_password", Kind::Secret, None),
    opt("cinder_store_project_name", Kind::Str, None),
    opt("cinder_store_user_domain_name", Kind::Str, Some("Default")),
    opt(
        "cinder_store_project_domain_name",
        Kind::Str,
        Some("Default"),
    ),
    opt("cinder_store_application_credential_id", Kind::Str, None),
    opt(
        "cinder_store_application_credential_secret",
        Kind::Secret,
        None,
    ),
    opt(
        "rootwrap_config",
        Kind::Str,
        Some("/etc/glance/rootwrap.conf"),
    ),
    opt("cinder_volume_type", Kind::Str, None),
    opt("cinder_use_multipath", Kind::Bool, Some("False")),
    opt("cinder_enforce_multipath", Kind::Bool, Some("False")),
    opt(
        "cinder_mount_point_base",
        Kind::Str,
        Some("/var/lib/glance/mnt"),
    ),
    opt("cinder_do_extend_attached", Kind::Bool, Some("False")),
    opt("cinder_nfs_connector", Kind::Str, Some("userspace")),
    opt(
        "cinder_attachment_retry_attempts",
        Kind::Int { min: 1 },
        Some("5"),
    ),
    opt("cinder_http_timeout", Kind::Int { min: 1 }, Some("60")),
];

/// Per-store keys that are not cinder options.
const STORE_KEYS: &[&str] = &["store_description", "description", "weight"];

/// Looks a key up in a list of sections (store section first, then its fallback).
pub(super) struct Resolver<'a> {
    pub(super) ini: &'a Ini,
    pub(super) sections: Vec<&'a str>,
}

impl<'a> Resolver<'a> {
    pub(super) fn error(
        &self,
        key: &str,
        entry: Option<(&Entry, &str)>,
        message: String,
    ) -> ConfigError {
        ConfigError {
            file: self.ini.file.clone(),
            line: entry.map(|(e, _)| e.line),
            section: entry
                .map(|(_, s)| s.to_string())
                .unwrap_or_else(|| self.sections[0].to_string()),
            key: key.to_string(),
            message,
        }
    }

    pub(super) fn raw(&self, key: &str) -> Option<(&'a Entry, &'a str)> {
        let deprecated = CINDER_OPTIONS
            .iter()
            .find(|o| o.name == key)
            .and_then(|o| o.deprecated);
        self.sections.iter().find_map(|section| {
            let found = self
                .ini
                .get(section, key)
                .or_else(|| deprecated.and_then(|d| self.ini.get(section, d)));
            found.map(|e| (e, *section))
        })
    }

    /// The configured value, or the default from `CINDER_OPTIONS`; empty means unset.
    fn value(&self, key: &str) -> Option<String> {
        match self.raw(key) {
            Some((e, _)) if !e.value.is_empty() => Some(e.value.clone()),
            Some(_) => None,
            None => default_of(key).map(str::to_string),
        }
    }

    fn bool(&self, key: &str) -> Result<bool, ConfigError> {
        let value = self.value(key).unwrap_or_default();
        parse_bool(&value).ok_or_else(|| {
            self.error(
                key,
                self.raw(key),
                format!("'{value}' is not a boolean (use true/false, yes/no, on/off, 1/0)"),
            )
        })
    }

    fn int(&self, key: &str) -> Result<i64, ConfigError> {
        let value = self.value(key).unwrap_or_default();
        let min = match CINDER_OPTIONS
            .iter()
            .find(|o| o.name == key)
            .map(|o| o.kind)
        {
            Some(Kind::Int { min }) => min,
            _ => i64::MIN,
        };
        match value.parse::<i64>() {
            Ok(n) if n >= min => Ok(n),
            Ok(n) => Err(self.error(
                key,
                self.raw(key),
                format!("{n} is below the minimum {min}"),
            )),
            Err(_) => Err(self.error(key, self.raw(key), format!("'{value}' is not an integer"))),
        }
    }
}

fn default_of(key: &str) -> Option<&'static str> {
    CINDER_OPTIONS
        .iter()
        .find(|o| o.name == key)
        .and_then(|o| o.default)
}

/// oslo.config booleans.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn u32_of(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn credentials(r: &Resolver) -> Result<Option<Credentials>, ConfigError> {
    let auth_address = r.value("cinder_store_auth_address");
    let app_id = r.value("cinder_store_application_credential_id");
    let app_secret = r.value("cinder_store_application_credential_secret");
    let user = r.value("cinder_store_user_name");
    let password = r.value("cinder_store_password");
    let project = r.value("cinder_store_project_name");
    let any_set = [
        &auth_address,
        &app_id,
        &app_secret,
        &user,
        &password,
        &project,
    ]
    .iter()
    .any(|v| v.is_some());
    if !any_set {
        return Ok(None);
    }
    let Some(auth_address) = auth_address else {
        return Err(r.error(
            "cinder_store_auth_address",
            None,
            "service credentials are set but the Keystone address is not".into(),
        ));
    };
    // A value with user info may hold a password: never repeat it in an error.
    let has_userinfo = auth_address.contains('@');
    let auth_url = Url::parse(&auth_address).map_err(|e| {
        let shown = if has_userinfo {
            "the value".to_string()
        } else {
            format!("'{auth_address}'")
        };
        r.error(
            "cinder_store_auth_address",
            r.raw("cinder_store_auth_address"),
            format!("{shown} is not a URL: {e}"),
        )
    })?;
    if !auth_url.username().is_empty() || auth_url.password().is_some() {
        return Err(r.error(
            "cinder_store_auth_address",
            r.raw("cinder_store_auth_address"),
            "must not carry credentials before '@' (they would be printed with the URL); set cinder_store_user_name and cinder_store_password".into(),
        ));
    }
    if app_id.is_some() || app_secret.is_some() {
        return match (app_id, app_secret) {
            (Some(id), Some(secret)) => Ok(Some(Credentials::ApplicationCredential {
                auth_url,
                id,
                secret: Secret::new(secret),
            })),
            (None, _) => Err(r.error(
                "cinder_store_application_credential_id",
                None,
                "the application credential secret is set but its id is not".into(),
            )),
            (_, None) => Err(r.error(
                "cinder_store_application_credential_secret",
                None,
                "the application credential id is set but its secret is not".into(),
            )),
        };
    }
    let missing = [
        ("cinder_store_user_name", &user),
        ("cinder_store_password", &password),
        ("cinder_store_project_name", &project),
    ]
    .into_iter()
    .find(|(_, v)| v.is_none());
    if let Some((key, _)) = missing {
        return Err(r.error(
            key,
            None,
            "incomplete service credentials: user name, password and project name must all be set"
                .into(),
        ));
    }
    Ok(Some(Credentials::Password {
        auth_url,
        user_name: user.unwrap_or_default(),
        password: Secret::new(password.unwrap_or_default()),
        project_name: project.unwrap_or_default(),
        user_domain_name: r.value("cinder_store_user_domain_name").unwrap_or_default(),
        project_domain_name: r
            .value("cinder_store_project_domain_name")
            .unwrap_or_default(),
    }))
}

pub(super) fn cinder_options(r: &Resolver) -> Result<CinderOptions, ConfigError> {
    let nfs_raw = r.value("cinder_nfs_connector").unwrap_or_default();
    let nfs_connector = match nfs_raw.as_str() {
        "userspace" => NfsMode::Userspace,
        "mount" => NfsMode::Mount,
        _ => return Err(r.error(
            "cinder_nfs_connector",
            r.raw("cinder_nfs_connector"),
            "use 'userspace' (no root, no mount) or 'mount' (the kernel NFS client, needs root)"
                .into(),
        )),
    };
    let catalog_raw = r.value("cinder_catalog_info").unwrap_or_default();
    let catalog_info = CatalogInfo::parse(&catalog_raw)
        .map_err(|m| r.error("cinder_catalog_info", r.raw("cinder_catalog_info"), m))?;
    Ok(CinderOptions {
        catalog_info,
        endpoint_template: r.value("cinder_endpoint_template"),
        os_region_name: r.value("cinder_os_region_name"),
        ca_certificates_file: r.value("cinder_ca_certificates_file").map(PathBuf::from),
        http_retries: u32_of(r.int("cinder_http_retries")?),
        state_transition_timeout_s: r.int("cinder_state_transition_timeout")?.unsigned_abs(),
        api_insecure: r.bool("cinder_api_insecure")?,
        credentials: credentials(r)?,
        rootwrap_config: PathBuf::from(r.value("rootwrap_config").unwrap_or_default()),
        volume_type: r.value("cinder_volume_type"),
        use_multipath: r.bool("cinder_use_multipath")?,
        enforce_multipath: r.bool("cinder_enforce_multipath")?,
        mount_point_base: PathBuf::from(r.value("cinder_mount_point_base").unwrap_or_default()),
        do_extend_attached: r.bool("cinder_do_extend_attached")?,
        nfs_connector,
        attachment_retry_attempts: u32_of(r.int("cinder_attachment_retry_attempts")?),
        http_timeout_s: r.int("cinder_http_timeout")?.unsigned_abs(),
    })
}

fn is_cinder_key(key: &str) -> bool {
    CINDER_OPTIONS
        .iter()
        .any(|o| o.name == key || o.deprecated == Some(key))
}

fn warn(ini: &Ini, section: &str, entry: &Entry, message: &str) -> ConfigWarning {
    ConfigWarning(ConfigError {
        file: ini.file.clone(),
        line: Some(entry.line),
        section: section.to_string(),
        key: entry.key.clone(),
        message: message.to_string(),
    })
}

/// Unknown keys and inline comments in `section`; `all_keys` warns on every unknown key,
/// otherwise only on unknown `cinder_*` keys (shared sections hold other drivers' options).
pub(super) fn lint_section(ini: &Ini, section: &str, all_keys: bool, out: &mut Vec<ConfigWarning>) {
    let Some(s) = ini.section(section) else {
        return;
    };
    for entry in &s.entries {
        let known = is_cinder_key(&entry.key) || STORE_KEYS.contains(&entry.key.as_str());
        if !known && (all_keys || entry.key.starts_with("cinder_")) {
            out.push(warn(ini, section, entry, "unknown option, ignored"));
        }
        if known && (entry.value.contains(" #") || entry.value.contains(" ;")) {
            out.push(warn(
                ini,
                section,
                entry,
                "oslo.config keeps inline comments as part of the value; move the comment to its own line",
            ));
        }
    }
}

pub(super) fn describe(r: &Resolver) -> Result<(Option<String>, i64), ConfigError> {
    let description = r
        .raw("store_description")
        .or_else(|| r.raw("description"))
        .map(|(e, _)| e.value.clone())
        .filter(|v| !v.is_empty());
    let weight = match r.raw("weight") {
        None => 0,
        Some((e, s)) => e.value.parse::<i64>().map_err(|_| {
            r.error(
                "weight",
                Some((e, s)),
                format!("'{}' is not an integer", e.value),
            )
        })?,
    };
    Ok((description, weight))
}
