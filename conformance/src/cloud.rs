//! Admin credentials for a real cloud, taken as the `openstack` CLI takes them: `OS_CLOUD`
//! and a `clouds.yaml`, or the `OS_*` variables (which override the cloud's values).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};

use crate::inspector::Credentials;

/// A node of the small YAML subset clouds.yaml uses: nested mappings of scalars.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Yaml {
    Scalar(String),
    Map(BTreeMap<String, Yaml>),
}

impl Yaml {
    pub fn get(&self, key: &str) -> Option<&Yaml> {
        match self {
            Yaml::Map(m) => m.get(key),
            Yaml::Scalar(_) => None,
        }
    }
    pub fn str(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Yaml::Scalar(s) => Some(s.clone()),
            Yaml::Map(_) => None,
        }
    }
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return s[1..s.len() - 1].to_string();
        }
    }
    s.to_string()
}

/// Parses block mappings with scalar values (comments, quotes; lists are skipped).
pub fn parse_yaml(text: &str) -> Result<Yaml> {
    let mut stack: Vec<(usize, String, BTreeMap<String, Yaml>)> =
        vec![(0, String::new(), BTreeMap::new())];
    let close = |stack: &mut Vec<(usize, String, BTreeMap<String, Yaml>)>| {
        let (_, key, map) = stack.pop().expect("never pops the root");
        if let Some(parent) = stack.last_mut() {
            parent.2.insert(key, Yaml::Map(map));
        }
    };
    for (n, raw) in text.lines().enumerate() {
        let line = match raw.find(" #") {
            Some(i) => &raw[..i],
            None => raw,
        };
        if line.trim().is_empty() || line.trim_start().starts_with('#') || line.trim() == "---" {
            continue;
        }
        if line.trim_start().starts_with("- ") {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let Some((key, value)) = line.trim().split_once(':') else {
            bail!("line {}: expected `key: value`", n + 1);
        };
        while stack.len() > 1 && indent < stack.last().map_or(0, |s| s.0) {
            close(&mut stack);
        }
        let key = unquote(key);
        if value.trim().is_empty() {
            stack.push((indent + 1, key, BTreeMap::new()));
        } else if let Some(top) = stack.last_mut() {
            top.2.insert(key, Yaml::Scalar(unquote(value)));
        }
    }
    while stack.len() > 1 {
        close(&mut stack);
    }
    Ok(Yaml::Map(stack.pop().map(|s| s.2).unwrap_or_default()))
}

fn clouds_yaml_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Ok(p) = std::env::var("OS_CLIENT_CONFIG_FILE") {
        paths.push(PathBuf::from(p));
    }
    paths.push(PathBuf::from("clouds.yaml"));
    if let Ok(home) = std::env::var("HOME") {
        paths.push(PathBuf::from(home).join(".config/openstack/clouds.yaml"));
    }
    paths.push(PathBuf::from("/etc/openstack/clouds.yaml"));
    paths
}

/// Admin credentials from `OS_CLOUD` + clouds.yaml and/or `OS_*` variables.
pub fn admin_credentials() -> Result<Credentials> {
    credentials_from(|k| std::env::var(k).ok(), clouds_yaml_paths())
}

/// As `admin_credentials`, with the environment and search paths given (for tests).
pub fn credentials_from(
    env: impl Fn(&str) -> Option<String>,
    paths: Vec<PathBuf>,
) -> Result<Credentials> {
    let mut cloud = Yaml::Map(BTreeMap::new());
    if let Some(name) = env("OS_CLOUD") {
        let path = paths.iter().find(|p| p.is_file()).ok_or_else(|| {
            anyhow!("OS_CLOUD={name} but no clouds.yaml found (looked in {paths:?})")
        })?;
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        let doc = parse_yaml(&text).with_context(|| format!("parse {}", path.display()))?;
        cloud = doc
            .get("clouds")
            .and_then(|c| c.get(&name))
            .cloned()
            .ok_or_else(|| anyhow!("{}: no cloud named '{name}'", path.display()))?;
    }
    let auth = cloud
        .get("auth")
        .cloned()
        .unwrap_or(Yaml::Map(BTreeMap::new()));
    let pick = |var: &str, key: &str, from: &Yaml| env(var).or_else(|| from.str(key));
    let need = |v: Option<String>, var: &str| {
        v.ok_or_else(|| anyhow!("{var} is not set (and not in clouds.yaml)"))
    };
    let user_domain = pick("OS_USER_DOMAIN_NAME", "user_domain_name", &auth)
        .or_else(|| pick("OS_DOMAIN_NAME", "domain_name", &auth))
        .unwrap_or_else(|| "Default".into());
    Ok(Credentials {
        auth_url: need(pick("OS_AUTH_URL", "auth_url", &auth), "OS_AUTH_URL")?,
        username: need(pick("OS_USERNAME", "username", &auth), "OS_USERNAME")?,
        password: need(pick("OS_PASSWORD", "password", &auth), "OS_PASSWORD")?,
        project_name: need(
            pick("OS_PROJECT_NAME", "project_name", &auth)
                .or_else(|| pick("OS_TENANT_NAME", "tenant_name", &auth)),
            "OS_PROJECT_NAME",
        )?,
        project_domain_name: pick("OS_PROJECT_DOMAIN_NAME", "project_domain_name", &auth)
            .unwrap_or_else(|| user_domain.clone()),
        user_domain_name: user_domain,
        region_name: pick("OS_REGION_NAME", "region_name", &cloud),
        interface: pick("OS_INTERFACE", "interface", &cloud)
            .map(|i| i.trim_end_matches("URL").to_string())
            .unwrap_or_else(|| "public".into()),
        insecure: env("OS_INSECURE").is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
            || cloud
                .str("verify")
                .is_some_and(|v| v.eq_ignore_ascii_case("false")),
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
}
