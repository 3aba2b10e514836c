//! Admin credentials for a real cloud, taken as the `openstack` CLI takes them: `OS_CLOUD`
//! and a `clouds.yaml` (with a `secure.yaml` beside it merged over it), or the `OS_*`
//! variables (which override the cloud's values).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::inspector::Credentials;

/// The part of a clouds.yaml this crate uses; every other key is ignored.
#[derive(Debug, Default, Deserialize)]
pub struct CloudsFile {
    #[serde(default)]
    pub clouds: BTreeMap<String, Cloud>,
}

/// One entry under `clouds:`.
#[derive(Debug, Default, Deserialize)]
pub struct Cloud {
    #[serde(default)]
    pub auth: Auth,
    #[serde(default, deserialize_with = "scalar")]
    pub region_name: Option<String>,
    /// `regions: [RegionOne, ...]` or `[{name: RegionOne}, ...]`: the first is used when
    /// `region_name` is unset, as openstacksdk does.
    #[serde(default)]
    pub regions: Vec<Region>,
    #[serde(default, deserialize_with = "scalar")]
    pub interface: Option<String>,
    /// `false` turns TLS verification off; a string is a CA bundle (verification on).
    #[serde(default, deserialize_with = "scalar")]
    pub verify: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub insecure: Option<String>,
}

/// `auth:` of a cloud.
#[derive(Debug, Default, Deserialize)]
pub struct Auth {
    #[serde(default, deserialize_with = "scalar")]
    pub auth_url: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub password: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub project_name: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub tenant_name: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub user_domain_name: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub project_domain_name: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub domain_name: Option<String>,
}

/// An entry of `regions:`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Region {
    Name(String),
    Table { name: String },
}

/// A YAML scalar as text: `password: 1234` and `verify: false` are not strings in YAML.
fn scalar<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::de::Error as _;
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(D::Error::custom(format!(
            "expected a scalar, found {other:?}"
        ))),
    }
}

/// Reads one YAML file into a value with anchors resolved and `<<` merge keys applied.
fn read_yaml(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let mut value: Value =
        serde_yaml_ng::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
    value
        .apply_merge()
        .with_context(|| format!("parse {}: merge keys", path.display()))?;
    Ok(value)
}

/// `over` merged into `base`, mappings key by key (as openstacksdk merges secure.yaml).
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, over) => *slot = over,
    }
}

/// A clouds.yaml with the secure file (if it exists) merged over it.
pub fn load_clouds(clouds: &Path, secure: Option<&Path>) -> Result<CloudsFile> {
    let mut value = read_yaml(clouds)?;
    if let Some(secure) = secure.filter(|p| p.is_file()) {
        merge(&mut value, read_yaml(secure)?);
    }
    if value.is_null() {
        return Ok(CloudsFile::default());
    }
    serde_yaml_ng::from_value(value).with_context(|| format!("parse {}", clouds.display()))
}

/// Where clouds.yaml is looked for, first found wins: `OS_CLIENT_CONFIG_FILE`, the
/// current directory, `~/.config/openstack`, `/etc/openstack` (openstacksdk's order).
pub fn clouds_yaml_paths(env: impl Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(p) = env("OS_CLIENT_CONFIG_FILE") {
        paths.push(PathBuf::from(p));
    }
    paths.push(PathBuf::from("clouds.yaml"));
    if let Some(home) = env("HOME") {
        paths.push(PathBuf::from(home).join(".config/openstack/clouds.yaml"));
    }
    paths.push(PathBuf::from("/etc/openstack/clouds.yaml"));
    paths
}

/// Admin credentials from `OS_CLOUD` + clouds.yaml and/or `OS_*` variables.
pub fn admin_credentials() -> Result<Credentials> {
    let env = |k: &str| std::env::var(k).ok();
    credentials_from(env, clouds_yaml_paths(env))
}

/// As `admin_credentials`, with the environment and search paths given (for tests). The
/// secure file is `OS_CLIENT_SECURE_FILE`, else `secure.yaml` beside the clouds.yaml.
pub fn credentials_from(
    env: impl Fn(&str) -> Option<String>,
    paths: Vec<PathBuf>,
) -> Result<Credentials> {
    let mut cloud = Cloud::default();
    if let Some(name) = env("OS_CLOUD") {
        let path = paths.iter().find(|p| p.is_file()).ok_or_else(|| {
            anyhow!("OS_CLOUD={name} but no clouds.yaml found (looked in {paths:?})")
        })?;
        let secure = match env("OS_CLIENT_SECURE_FILE") {
            Some(p) => PathBuf::from(p),
            None => path.with_file_name("secure.yaml"),
        };
        cloud = load_clouds(path, Some(&secure))?
            .clouds
            .remove(&name)
            .ok_or_else(|| anyhow!("{}: no cloud named '{name}'", path.display()))?;
    }
    let auth = &cloud.auth;
    let pick = |var: &str, from: &Option<String>| env(var).or_else(|| from.clone());
    let need = |v: Option<String>, var: &str| {
        v.ok_or_else(|| anyhow!("{var} is not set (and not in clouds.yaml)"))
    };
    let user_domain = pick("OS_USER_DOMAIN_NAME", &auth.user_domain_name)
        .or_else(|| pick("OS_DOMAIN_NAME", &auth.domain_name))
        .unwrap_or_else(|| "Default".into());
    let first_region = cloud.regions.first().map(|r| match r {
        Region::Name(name) | Region::Table { name } => name.clone(),
    });
    let off = |v: &Option<String>| {
        v.as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("false"))
    };
    let on = |v: &Option<String>| {
        v.as_deref()
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
    };
    Ok(Credentials {
        auth_url: need(pick("OS_AUTH_URL", &auth.auth_url), "OS_AUTH_URL")?,
        username: need(pick("OS_USERNAME", &auth.username), "OS_USERNAME")?,
        password: need(pick("OS_PASSWORD", &auth.password), "OS_PASSWORD")?,
        project_name: need(
            pick("OS_PROJECT_NAME", &auth.project_name)
                .or_else(|| pick("OS_TENANT_NAME", &auth.tenant_name)),
            "OS_PROJECT_NAME",
        )?,
        project_domain_name: pick("OS_PROJECT_DOMAIN_NAME", &auth.project_domain_name)
            .unwrap_or_else(|| user_domain.clone()),
        user_domain_name: user_domain,
        region_name: pick("OS_REGION_NAME", &cloud.region_name).or(first_region),
        interface: pick("OS_INTERFACE", &cloud.interface)
            .map(|i| i.trim_end_matches("URL").to_string())
            .unwrap_or_else(|| "public".into()),
        insecure: on(&env("OS_INSECURE")) || on(&cloud.insecure) || off(&cloud.verify),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOUDS: &str = "# comment\nclouds:\n  devstack:\n    auth:\n      auth_url: 'https://keystone.example/identity'\n      username: \"admin\"\n      password: s3cret # trailing\n      project_name: admin\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: RegionOne\n    interface: internal\n    verify: false\n  other:\n    auth:\n      auth_url: http://x\n";

    fn check(env: &[(&str, &str)], expected: Result<(&str, &str, Option<&str>, &str, bool), &str>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("clouds.yaml");
        std::fs::write(&path, CLOUDS).expect("write");
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let got = credentials_from(|k| env.get(k).cloned(), vec![path]);
        match (got, expected) {
            (Ok(c), Ok((url, user, region, interface, insecure))) => {
                assert_eq!(
                    (
                        c.auth_url.as_str(),
                        c.username.as_str(),
                        c.region_name.as_deref(),
                        c.interface.as_str(),
                        c.insecure
                    ),
                    (url, user, region, interface, insecure),
                    "env {env:?}"
                );
            }
            (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "{e}"),
            (got, want) => panic!("env {env:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn credentials_from_env_and_clouds_yaml() {
        check(
            &[("OS_CLOUD", "devstack")],
            Ok((
                "https://keystone.example/identity",
                "admin",
                Some("RegionOne"),
                "internal",
                true,
            )),
        );
        check(
            &[("OS_CLOUD", "devstack"), ("OS_USERNAME", "root")],
            Ok((
                "https://keystone.example/identity",
                "root",
                Some("RegionOne"),
                "internal",
                true,
            )),
        );
        check(
            &[
                ("OS_AUTH_URL", "http://k/v3"),
                ("OS_USERNAME", "a"),
                ("OS_PASSWORD", "p"),
                ("OS_PROJECT_NAME", "admin"),
            ],
            Ok(("http://k/v3", "a", None, "public", false)),
        );
        check(&[("OS_CLOUD", "other")], Err("OS_USERNAME is not set"));
        check(&[("OS_CLOUD", "nope")], Err("no cloud named 'nope'"));
        check(&[], Err("OS_AUTH_URL is not set"));
    }

    /// A clouds.yaml as people write them: an anchor with a merge key shared by two
    /// clouds, a `regions` list, and the passwords in a secure.yaml beside it (one
    /// numeric, as YAML reads `1234`), found through `OS_CLIENT_CONFIG_FILE`.
    #[test]
    fn anchors_lists_and_secure_yaml_beside_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clouds = dir.path().join("clouds.yaml");
        std::fs::write(
            &clouds,
            "---\n\
             base: &base\n  auth:\n    auth_url: https://keystone.example/v3\n    user_domain_name: corp\n  interface: internal\n  regions:\n    - RegionTwo\n    - RegionThree\n\
             clouds:\n  \
               prod:\n    <<: *base\n    auth:\n      auth_url: https://keystone.example/v3\n      username: ops\n      project_name: infra\n  \
               lab:\n    <<: *base\n    regions: [{name: Lab1, values: {}}]\n    verify: false\n    auth: {auth_url: 'http://lab/v3', username: lab, project_name: lab}\n",
        )
        .expect("write clouds.yaml");
        std::fs::write(
            dir.path().join("secure.yaml"),
            "clouds:\n  prod:\n    auth:\n      password: \"s3cret: with colon\"\n  lab:\n    auth:\n      password: 1234\n",
        )
        .expect("write secure.yaml");
        let file = clouds.to_str().expect("utf-8").to_string();
        let env = |cloud: &'static str| {
            let file = file.clone();
            move |k: &str| match k {
                "OS_CLOUD" => Some(cloud.to_string()),
                "OS_CLIENT_CONFIG_FILE" => Some(file.clone()),
                _ => None,
            }
        };
        let paths = clouds_yaml_paths(env("prod"));
        assert_eq!(paths[0], clouds);
        let prod = credentials_from(env("prod"), paths.clone()).expect("prod");
        assert_eq!(
            (
                prod.auth_url.as_str(),
                prod.username.as_str(),
                prod.password.as_str(),
                prod.project_name.as_str(),
                prod.region_name.as_deref(),
                prod.interface.as_str(),
                prod.insecure,
            ),
            (
                "https://keystone.example/v3",
                "ops",
                "s3cret: with colon",
                "infra",
                Some("RegionTwo"),
                "internal",
                false
            )
        );
        // `<<` merges whole keys: prod's own `auth` replaces the anchor's, so the user
        // domain falls back to Default.
        assert_eq!(prod.user_domain_name, "Default");
        let lab = credentials_from(env("lab"), paths).expect("lab");
        assert_eq!(
            (
                lab.password.as_str(),
                lab.region_name.as_deref(),
                lab.insecure,
                lab.interface.as_str()
            ),
            ("1234", Some("Lab1"), true, "internal")
        );
    }

    #[test]
    fn a_broken_clouds_yaml_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clouds = dir.path().join("clouds.yaml");
        std::fs::write(&clouds, "clouds:\n  a: [unclosed\n").expect("write");
        let env = |k: &str| (k == "OS_CLOUD").then(|| "a".to_string());
        let err = credentials_from(env, vec![clouds]).expect_err("malformed");
        assert!(format!("{err:#}").contains("clouds.yaml"), "{err:#}");
        std::fs::write(
            dir.path().join("clouds.yaml"),
            "clouds:\n  a:\n    auth: [1, 2]\n",
        )
        .expect("write");
        let err =
            credentials_from(env, vec![dir.path().join("clouds.yaml")]).expect_err("auth a list");
        assert!(format!("{err:#}").contains("parse"), "{err:#}");
    }
}
