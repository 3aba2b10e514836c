//! The backend topology of the world file: hosts running `cinder-volume` backends with
//! their pools and capabilities, and the small scheduler that places a volume on a pool
//! the way Cinder's capabilities filter and capacity weigher do.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One `[[backends]]` table of the world file, before validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackend {
    pub host: String,
    pub name: String,
    pub volume_backend_name: Option<String>,
    pub vendor_name: Option<String>,
    pub storage_protocol: Option<String>,
    pub driver_version: Option<String>,
    #[serde(default)]
    pub capabilities: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub pools: Vec<RawPool>,
}

impl RawBackend {
    /// The backend of a world file that names none: `cinderbox@local#local`.
    pub fn default_local() -> RawBackend {
        RawBackend {
            host: "cinderbox".into(),
            name: "local".into(),
            volume_backend_name: None,
            vendor_name: None,
            storage_protocol: None,
            driver_version: None,
            capabilities: BTreeMap::from([("multiattach".into(), toml::Value::Boolean(true))]),
            pools: vec![RawPool {
                name: "local".into(),
                total_capacity_gb: 10_000,
            }],
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPool {
    pub name: String,
    pub total_capacity_gb: u64,
}

/// A capability value as a driver reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Capability {
    Str(String),
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl Capability {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Capability::Str(s) => serde_json::json!(s),
            Capability::Bool(b) => serde_json::json!(b),
            Capability::Int(i) => serde_json::json!(i),
            Capability::Float(f) => serde_json::json!(f),
        }
    }

    /// Python's `str()` of the value, which Cinder's spec operators compare.
    fn py_str(&self) -> String {
        match self {
            Capability::Str(s) => s.clone(),
            Capability::Bool(true) => "True".into(),
            Capability::Bool(false) => "False".into(),
            Capability::Int(i) => i.to_string(),
            Capability::Float(f) => f.to_string(),
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Capability::Str(s) => s.trim().parse().ok(),
            Capability::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Capability::Int(i) => Some(*i as f64),
            Capability::Float(f) => Some(*f),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub name: String,
    pub total_capacity_gb: u64,
}

/// A `cinder-volume` backend: `host@name`, its pools and what it reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    pub host: String,
    pub name: String,
    pub volume_backend_name: String,
    pub vendor_name: String,
    pub storage_protocol: String,
    pub driver_version: String,
    /// Further capabilities (e.g. `multiattach`), reported per pool.
    pub capabilities: BTreeMap<String, Capability>,
    pub pools: Vec<Pool>,
}

impl Backend {
    /// `host@backend`, the `cinder-volume` service's host.
    pub fn service_host(&self) -> String {
        format!("{}@{}", self.host, self.name)
    }

    /// `host@backend#pool`, a volume's `os-vol-host-attr:host`.
    pub fn pool_host(&self, pool: &Pool) -> String {
        format!("{}@{}#{}", self.host, self.name, pool.name)
    }

    /// Everything a pool of this backend reports, as the scheduler sees it.
    pub fn pool_capabilities(&self, pool: &Pool) -> BTreeMap<String, Capability> {
        let mut caps = self.capabilities.clone();
        let s = |v: &str| Capability::Str(v.to_string());
        caps.insert("volume_backend_name".into(), s(&self.volume_backend_name));
        caps.insert("vendor_name".into(), s(&self.vendor_name));
        caps.insert("storage_protocol".into(), s(&self.storage_protocol));
        caps.insert("driver_version".into(), s(&self.driver_version));
        caps.insert("pool_name".into(), s(&pool.name));
        caps.insert(
            "total_capacity_gb".into(),
            Capability::Int(pool.total_capacity_gb as i64),
        );
        caps
    }
}

/// How a backend's volumes reach a client: an NFS backend (`storage_protocol = "nfs"`)
/// is exported by the emulator's own NFSv3 server; any other hands out local paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Local,
    Nfs,
}

impl Backend {
    pub fn protocol(&self) -> Protocol {
        if self.storage_protocol.eq_ignore_ascii_case("nfs") {
            Protocol::Nfs
        } else {
            Protocol::Local
        }
    }
}

/// The NFS backend a volume was placed on (its `host@backend#pool`), if it is one.
pub fn nfs_backend<'a>(backends: &'a [Backend], volume_host: Option<&str>) -> Option<&'a Backend> {
    let service = volume_host?.split('#').next()?;
    backends
        .iter()
        .find(|b| b.protocol() == Protocol::Nfs && b.service_host() == service)
}

/// Validates the `[[backends]]` tables; the message names the offending entry.
pub fn validate(raw: Vec<RawBackend>) -> Result<Vec<Backend>, (String, String)> {
    let mut out: Vec<Backend> = Vec::new();
    for (i, b) in raw.into_iter().enumerate() {
        let key = format!("backends[{i}]");
        let bad = |m: &str| Err((key.clone(), m.to_string()));
        let valid_name = |s: &str| !s.is_empty() && !s.contains(['@', '#', '/', ' ']);
        if !valid_name(&b.host) || !valid_name(&b.name) {
            return bad("host and name must be non-empty, without '@', '#', '/' or spaces");
        }
        if out.iter().any(|o| o.host == b.host && o.name == b.name) {
            return bad("two backends have the same host and name");
        }
        let mut pools: Vec<Pool> = Vec::new();
        for p in &b.pools {
            if !valid_name(&p.name) || pools.iter().any(|q| q.name == p.name) {
                return bad("pool names must be unique and non-empty, without '@', '#', '/'");
            }
            pools.push(Pool {
                name: p.name.clone(),
                total_capacity_gb: p.total_capacity_gb,
            });
        }
        if pools.is_empty() {
            pools.push(Pool {
                name: b.name.clone(),
                total_capacity_gb: 1000,
            });
        }
        let mut capabilities = BTreeMap::new();
        for (k, v) in b.capabilities {
            let c = match v {
                toml::Value::String(s) => Capability::Str(s),
                toml::Value::Boolean(x) => Capability::Bool(x),
                toml::Value::Integer(x) => Capability::Int(x),
                toml::Value::Float(x) => Capability::Float(x),
                _ => {
                    return bad(&format!(
                        "capability {k} must be a string, boolean or number"
                    ))
                }
            };
            capabilities.insert(k, c);
        }
        out.push(Backend {
            volume_backend_name: b.volume_backend_name.unwrap_or_else(|| b.name.clone()),
            vendor_name: b.vendor_name.unwrap_or_else(|| "cinderbox".into()),
            storage_protocol: b.storage_protocol.unwrap_or_else(|| "local".into()),
            driver_version: b.driver_version.unwrap_or_else(|| "1.0.0".into()),
            host: b.host,
            name: b.name,
            capabilities,
            pools,
        });
    }
    Ok(out)
}

/// Cinder's `extra_specs_ops.match`: `req` is an extra spec value, `cap` what the pool
/// reports under that key.
pub fn spec_matches(cap: &Capability, req: &str) -> bool {
    let mut words = req.split_whitespace();
    let op = words.next().unwrap_or("");
    let rest: Vec<&str> = words.collect();
    let value = cap.py_str();
    let num = |f: fn(f64, f64) -> bool| match (
        cap.as_f64(),
        rest.first().and_then(|w| w.parse::<f64>().ok()),
    ) {
        (Some(a), Some(b)) => f(a, b),
        _ => false,
    };
    let string = |f: fn(&str, &str) -> bool| rest.first().is_some_and(|w| f(&value, w));
    match op {
        "<or>" => rest
            .iter()
            .enumerate()
            .any(|(i, w)| i % 2 == 0 && *w == value),
        "<in>" => rest.first().is_some_and(|w| value.contains(w)),
        "<is>" => rest
            .first()
            .is_some_and(|w| py_bool(w).is_some() && py_bool(&value) == py_bool(w)),
        "=" | ">=" => num(|a, b| a >= b),
        "==" => num(|a, b| a == b),
        "!=" => num(|a, b| a != b),
        "<=" => num(|a, b| a <= b),
        "s==" => string(|a, b| a == b),
        "s!=" => string(|a, b| a != b),
        "s<" => string(|a, b| a < b),
        "s<=" => string(|a, b| a <= b),
        "s>" => string(|a, b| a > b),
        "s>=" => string(|a, b| a >= b),
        _ => matches!(cap, Capability::Str(s) if s == req),
    }
}

/// oslo's `bool_from_string` (strict): None when the word is not a boolean.
fn py_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ => None,
    }
}

/// Cinder's capabilities filter: every unscoped or `capabilities:`-scoped extra spec
/// must match what the pool reports; other scopes (`qos:`, `RESKEY:`…) are ignored.
pub fn pool_passes(
    caps: &BTreeMap<String, Capability>,
    extra_specs: &BTreeMap<String, String>,
) -> bool {
    extra_specs.iter().all(|(key, req)| {
        let key = match key.split_once(':') {
            Some(("capabilities", rest)) => rest,
            Some(_) => return true,
            None => key.as_str(),
        };
        caps.get(key).is_some_and(|cap| spec_matches(cap, req))
    })
}

/// Picks the pool for a new volume of `size_gb`: among pools that pass the filter and
/// have room, the one with the most free space (Cinder's capacity weigher); ties go to
/// the first in world-file order. `allocated` gives the GiB already placed on a pool
/// host string. None means no valid host.
pub fn schedule<'a>(
    backends: &'a [Backend],
    extra_specs: &BTreeMap<String, String>,
    size_gb: u64,
    allocated: impl Fn(&str) -> u64,
) -> Option<(&'a Backend, &'a Pool)> {
    let mut best: Option<(&Backend, &Pool, u64)> = None;
    for b in backends {
        for p in &b.pools {
            if !pool_passes(&b.pool_capabilities(p), extra_specs) {
                continue;
            }
            let free = p
                .total_capacity_gb
                .saturating_sub(allocated(&b.pool_host(p)));
            if free < size_gb {
                continue;
            }
            if best.is_none_or(|(_, _, f)| free > f) {
                best = Some((b, p, free));
            }
        }
    }
    best.map(|(b, p, _)| (b, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(name: &str, protocol: &str, total: u64) -> Backend {
        validate(vec![RawBackend {
            host: "h".into(),
            name: name.into(),
            volume_backend_name: None,
            vendor_name: Some("Open Source".into()),
            storage_protocol: Some(protocol.into()),
            driver_version: None,
            capabilities: BTreeMap::from([("multiattach".into(), toml::Value::Boolean(true))]),
            pools: vec![RawPool {
                name: "p".into(),
                total_capacity_gb: total,
            }],
        }])
        .unwrap()
        .remove(0)
    }

    fn specs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn operators_follow_cinder() {
        let s = |v: &str| Capability::Str(v.into());
        assert!(spec_matches(&s("iSCSI"), "iSCSI"));
        assert!(!spec_matches(&s("iSCSI"), "FC"));
        assert!(spec_matches(&Capability::Bool(true), "<is> True"));
        assert!(!spec_matches(&Capability::Bool(false), "<is> True"));
        assert!(spec_matches(&s("FC"), "<or> iSCSI <or> FC"));
        assert!(!spec_matches(&s("NFS"), "<or> iSCSI <or> FC"));
        assert!(spec_matches(&Capability::Int(100), ">= 50"));
        assert!(!spec_matches(&Capability::Int(10), ">= 50"));
        assert!(spec_matches(&s("abc"), "<in> b"));
        assert!(spec_matches(&s("b"), "s> a"));
        assert!(!spec_matches(&s("x"), ">= 1"));
    }

    #[test]
    fn the_filter_ignores_other_scopes_and_refuses_unknown_keys() {
        let b = backend("lvm", "iSCSI", 10);
        let caps = b.pool_capabilities(&b.pools[0]);
        assert!(pool_passes(&caps, &specs(&[("qos:maxIOPS", "100")])));
        assert!(pool_passes(
            &caps,
            &specs(&[("capabilities:storage_protocol", "iSCSI")])
        ));
        assert!(pool_passes(&caps, &specs(&[("multiattach", "<is> True")])));
        assert!(!pool_passes(
            &caps,
            &specs(&[("storage_protocol", "bogus")])
        ));
        assert!(!pool_passes(&caps, &specs(&[("no_such_capability", "x")])));
    }

    #[test]
    fn the_scheduler_picks_the_roomiest_matching_pool_or_none() {
        let bs = vec![
            backend("a", "iSCSI", 10),
            backend("b", "FC", 100),
            backend("c", "iSCSI", 50),
        ];
        let none = BTreeMap::new();
        let (b, _) = schedule(&bs, &none, 1, |_| 0).unwrap();
        assert_eq!(b.name, "b");
        let (b, p) = schedule(&bs, &specs(&[("storage_protocol", "iSCSI")]), 1, |_| 0).unwrap();
        assert_eq!(b.pool_host(p), "h@c#p");
        let full = |h: &str| if h == "h@c#p" { 50 } else { 0 };
        let (b, _) = schedule(&bs, &specs(&[("storage_protocol", "iSCSI")]), 5, full).unwrap();
        assert_eq!(b.name, "a");
        assert!(schedule(&bs, &specs(&[("vendor_name", "Nobody")]), 1, |_| 0).is_none());
        assert!(schedule(&bs, &none, 1000, |_| 0).is_none());
    }

    #[test]
    fn validation_names_the_bad_entry() {
        let mut raw = RawBackend {
            host: "h@x".into(),
            name: "n".into(),
            volume_backend_name: None,
            vendor_name: None,
            storage_protocol: None,
            driver_version: None,
            capabilities: BTreeMap::new(),
            pools: vec![],
        };
        assert_eq!(validate(vec![raw.clone()]).unwrap_err().0, "backends[0]");
        raw.host = "h".into();
        let ok = validate(vec![raw.clone()]).unwrap();
        assert_eq!(ok[0].pools[0].name, "n");
        assert_eq!(
            validate(vec![raw.clone(), raw]).unwrap_err().0,
            "backends[1]"
        );
    }
}
