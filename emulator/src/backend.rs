//! The world's storage backends: each has a protocol (`local` files handed out by path,
//! or `nfs` files exported over NFSv3), and a volume type picks its backend with the
//! `volume_backend_name` extra spec, as in Cinder. A type without one uses `local`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::ConfigError;

/// How a backend's volumes reach a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Local,
    Nfs,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBackend {
    name: String,
    protocol: Protocol,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub name: String,
    pub protocol: Protocol,
}

/// The extra spec that maps a type to a backend.
pub const BACKEND_SPEC: &str = "volume_backend_name";

/// Checks names (non-empty, unique, usable as an export path) and that every type's
/// `volume_backend_name` names a backend.
pub(crate) fn validate<'a>(
    raw: Vec<RawBackend>,
    type_specs: impl Iterator<Item = (&'a str, &'a BTreeMap<String, String>)>,
    path: &str,
) -> Result<Vec<Backend>, ConfigError> {
    let invalid = |key: String, message: String| ConfigError::Invalid {
        path: path.to_string(),
        key,
        message,
    };
    let mut out: Vec<Backend> = Vec::new();
    for (i, b) in raw.into_iter().enumerate() {
        let ok = !b.name.is_empty()
            && b.name.len() <= 64
            && b.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && b.name != "."
            && b.name != "..";
        if !ok {
            return Err(invalid(
                format!("backends[{i}].name"),
                "must be 1 to 64 of A-Z a-z 0-9 - _ .".into(),
            ));
        }
        if out.iter().any(|o| o.name == b.name) {
            return Err(invalid(
                "backends.name".into(),
                format!("{:?} appears more than once", b.name),
            ));
        }
        out.push(Backend {
            name: b.name,
            protocol: b.protocol,
        });
    }
    for (type_name, specs) in type_specs {
        if let Some(name) = specs.get(BACKEND_SPEC) {
            if !out.iter().any(|b| &b.name == name) {
                return Err(invalid(
                    format!("volume_types.{type_name}.extra_specs.{BACKEND_SPEC}"),
                    format!("no backend named {name:?}"),
                ));
            }
        }
    }
    Ok(out)
}

/// The NFS backend a type's extra specs name, if it is one.
pub fn nfs_backend<'a>(
    backends: &'a [Backend],
    extra_specs: &BTreeMap<String, String>,
) -> Option<&'a Backend> {
    let name = extra_specs.get(BACKEND_SPEC)?;
    backends
        .iter()
        .find(|b| &b.name == name && b.protocol == Protocol::Nfs)
}
