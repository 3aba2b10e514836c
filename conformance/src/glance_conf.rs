//! What the suite itself reads from a deployment's `glance-api.conf` in real-cloud mode:
//! the cinder stores (name, volume type) in `enabled_backends` order, the default one,
//! and the default store's service credentials. Parsed with the `rust-ini` crate, never
//! with the driver's own config parser, so the model's stores do not come from the code
//! under test (the driver is configured from the same text, separately).

use ini::{Ini, ParseOption};

/// The cinder stores of a multi-store configuration, as the model needs them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlanceStores {
    /// `(name, cinder_volume_type)` in `enabled_backends` order.
    pub stores: Vec<(String, Option<String>)>,
    /// `[glance_store] default_backend`, or the first cinder store.
    pub default: String,
    /// The default store's `cinder_store_*` password credentials, when all are set.
    pub service: Option<ServiceUser>,
}

/// `cinder_store_auth_address`, `_user_name`, `_password`, `_project_name` and the two
/// domains (`Default` unless set), with `cinder_os_region_name` and `cinder_api_insecure`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceUser {
    pub auth_url: String,
    pub user_name: String,
    pub password: String,
    pub project_name: String,
    pub user_domain_name: String,
    pub project_domain_name: String,
    pub region_name: Option<String>,
    pub insecure: bool,
}

/// Why a configuration cannot be used by the suite; names the file and the key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GlanceConfError {
    #[error("{file}: not an INI file: {reason}")]
    Syntax { file: String, reason: String },
    #[error("{file}: the suite needs a multi-store configuration ([DEFAULT] enabled_backends)")]
    NotMultiStore { file: String },
    #[error("{file}: [DEFAULT] enabled_backends: '{entry}' is not <name>:<type>")]
    BadBackend { file: String, entry: String },
    #[error("{file}: enabled_backends has no cinder store")]
    NoCinderStore { file: String },
}

impl GlanceStores {
    /// Reads `text` (the contents of `file`).
    pub fn parse(file: &str, text: &str) -> Result<GlanceStores, GlanceConfError> {
        let opts = ParseOption {
            enabled_quote: false,
            enabled_escape: false,
            ..ParseOption::default()
        };
        let ini = Ini::load_from_str_opt(text, opts).map_err(|e| GlanceConfError::Syntax {
            file: file.into(),
            reason: e.to_string(),
        })?;
        let get = |section: &str, key: &str| {
            ini.section(Some(section))
                .and_then(|s| s.get(key))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let backends = get("DEFAULT", "enabled_backends")
            .ok_or(GlanceConfError::NotMultiStore { file: file.into() })?;
        let mut stores = Vec::new();
        for entry in backends.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, kind) = entry
                .split_once(':')
                .map(|(n, k)| (n.trim(), k.trim()))
                .filter(|(n, k)| !n.is_empty() && !k.is_empty())
                .ok_or_else(|| GlanceConfError::BadBackend {
                    file: file.into(),
                    entry: entry.into(),
                })?;
            if kind == "cinder" {
                stores.push((
                    name.to_string(),
                    get(name, "cinder_volume_type").map(String::from),
                ));
            }
        }
        let first = stores
            .first()
            .ok_or(GlanceConfError::NoCinderStore { file: file.into() })?;
        let default = get("glance_store", "default_backend")
            .filter(|d| stores.iter().any(|(n, _)| n == d))
            .map_or_else(|| first.0.clone(), String::from);
        let s = default.as_str();
        let service = (|| {
            Some(ServiceUser {
                auth_url: get(s, "cinder_store_auth_address")?.to_string(),
                user_name: get(s, "cinder_store_user_name")?.to_string(),
                password: get(s, "cinder_store_password")?.to_string(),
                project_name: get(s, "cinder_store_project_name")?.to_string(),
                user_domain_name: get(s, "cinder_store_user_domain_name")
                    .unwrap_or("Default")
                    .to_string(),
                project_domain_name: get(s, "cinder_store_project_domain_name")
                    .unwrap_or("Default")
                    .to_string(),
                region_name: get(s, "cinder_os_region_name")
                    .or_else(|| get(s, "os_region_name"))
                    .map(String::from),
                insecure: get(s, "cinder_api_insecure").is_some_and(|v| {
                    ["true", "yes", "on", "1"].contains(&v.to_lowercase().as_str())
                }),
            })
        })();
        Ok(GlanceStores {
            stores,
            default,
            service,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/glance-api")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn check(text: &str, expected: Result<GlanceStores, GlanceConfError>) {
        assert_eq!(GlanceStores::parse("t.conf", text), expected, "{text}");
    }

    #[test]
    fn reads_the_spec_example() {
        let got = GlanceStores::parse("ex1", &fixture("example1-fast-slow.conf")).expect("parses");
        assert_eq!(
            got.stores,
            vec![
                ("fast".to_string(), Some("glance-fast".to_string())),
                ("slow".to_string(), Some("glance-slow".to_string()))
            ]
        );
        assert_eq!(got.default, "fast");
        let service = got.service.expect("credentials");
        assert_eq!(
            (service.user_name.as_str(), service.project_name.as_str()),
            ("glance", "service")
        );
        assert_eq!(service.auth_url, "http://127.0.0.1:8776/identity/v3");
        assert!(!service.insecure);
    }

    #[test]
    fn table() {
        let base = "[DEFAULT]\nenabled_backends = a:cinder, f:file ,b:cinder\n\
                    [glance_store]\ndefault_backend = b\n[a]\ncinder_volume_type = ta\n\
                    [b]\ncinder_store_auth_address = http://k/v3\ncinder_store_user_name = u\n\
                    cinder_store_password = p#not-a-comment\\x\ncinder_store_project_name = s\n\
                    cinder_api_insecure = True\n";
        check(
            base,
            Ok(GlanceStores {
                stores: vec![("a".into(), Some("ta".into())), ("b".into(), None)],
                default: "b".into(),
                service: Some(ServiceUser {
                    auth_url: "http://k/v3".into(),
                    user_name: "u".into(),
                    password: "p#not-a-comment\\x".into(),
                    project_name: "s".into(),
                    user_domain_name: "Default".into(),
                    project_domain_name: "Default".into(),
                    region_name: None,
                    insecure: true,
                }),
            }),
        );
        check(
            "[glance_store]\ndefault_store = cinder\n",
            Err(GlanceConfError::NotMultiStore {
                file: "t.conf".into(),
            }),
        );
        check(
            "[DEFAULT]\nenabled_backends = a\n",
            Err(GlanceConfError::BadBackend {
                file: "t.conf".into(),
                entry: "a".into(),
            }),
        );
        check(
            "[DEFAULT]\nenabled_backends = f:file\n",
            Err(GlanceConfError::NoCinderStore {
                file: "t.conf".into(),
            }),
        );
        // an unknown default falls back to the first cinder store; no credentials
        let got = GlanceStores::parse(
            "t",
            "[DEFAULT]\nenabled_backends = a:cinder\n[glance_store]\ndefault_backend = zz\n",
        )
        .expect("parses");
        assert_eq!((got.default.as_str(), got.service), ("a", None));
    }
}
