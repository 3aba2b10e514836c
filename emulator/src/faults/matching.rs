//! The facts a rule is matched against — operation, method, path, project, and the
//! volume the request is about — and the match itself. Facts are gathered from the
//! store once per request (before the rules lock is taken, so the two locks never nest).

use std::collections::BTreeMap;

use serde_json::Value;
use uuid::Uuid;

use super::rule::Match;
use crate::config::World;
use crate::volume::model::Volume;
use crate::volume::store::Store;

/// What we know about the volume a request, job or attach concerns.
#[derive(Debug, Clone, Default)]
pub struct VolumeFacts {
    pub id: Option<Uuid>,
    pub type_name: Option<String>,
    pub type_id: Option<String>,
    pub name: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// Everything a rule may look at.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub operation: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub project_id: Option<String>,
    pub project_name: Option<String>,
    pub volume: Option<VolumeFacts>,
}

impl Match {
    pub fn matches(&self, f: &Facts) -> bool {
        // A rule without `operation` is about Cinder: failing every login by accident
        // would also lock the tester out of the control API.
        if self.operations.is_empty()
            && f.operation
                .as_deref()
                .is_some_and(super::operations::is_keystone)
        {
            return false;
        }
        if !self.operations.is_empty()
            && !f
                .operation
                .as_deref()
                .is_some_and(|op| self.operations.iter().any(|p| p.is_match(op)))
        {
            return false;
        }
        if let Some(m) = &self.method {
            if f.method.as_deref() != Some(m.as_str()) {
                return false;
            }
        }
        if let Some(p) = &self.path {
            if !f.path.as_deref().is_some_and(|path| p.is_match(path)) {
                return false;
            }
        }
        if let Some(p) = &self.project {
            if f.project_id.as_deref() != Some(p.as_str())
                && f.project_name.as_deref() != Some(p.as_str())
            {
                return false;
            }
        }
        let needs_volume = self.volume_type.is_some()
            || self.volume_name.is_some()
            || !self.volume_metadata.is_empty();
        if !needs_volume {
            return true;
        }
        let Some(v) = &f.volume else { return false };
        if let Some(t) = &self.volume_type {
            if v.type_name.as_deref() != Some(t.as_str())
                && v.type_id.as_deref() != Some(t.as_str())
            {
                return false;
            }
        }
        if let Some(n) = &self.volume_name {
            if !v.name.as_deref().is_some_and(|name| n.is_match(name)) {
                return false;
            }
        }
        self.volume_metadata
            .iter()
            .all(|(k, g)| v.metadata.get(k).is_some_and(|val| g.is_match(val)))
    }
}

/// Facts about a stored volume.
pub fn stored_volume(store: &Store, id: Uuid) -> Option<(String, VolumeFacts)> {
    store.read(|s| {
        let v: &Volume = s.volumes.get(&id)?;
        let t = s.types.get(&v.volume_type_id);
        Some((
            v.project_id.clone(),
            VolumeFacts {
                id: Some(v.id),
                type_name: t.map(|t| t.name.clone()),
                type_id: Some(v.volume_type_id.to_string()),
                name: v.name.clone(),
                metadata: v.metadata.clone(),
            },
        ))
    })
}

/// The volume an attachment belongs to.
pub fn attachment_volume(store: &Store, attachment_id: &str) -> Option<Uuid> {
    let id = Uuid::parse_str(attachment_id).ok()?;
    store.read(|s| s.attachments.get(&id).map(|a| a.volume_id))
}

/// The volume a `volume.create` body describes (nothing is stored yet).
pub fn volume_from_create_body(store: &Store, world: &World, body: &Value) -> VolumeFacts {
    let v = body.get("volume");
    let field = |k: &str| v.and_then(|v| v.get(k)).and_then(Value::as_str);
    let requested = field("volume_type")
        .map(str::to_string)
        .unwrap_or_else(|| world.default_volume_type.clone());
    let (type_name, type_id) = store.read(|s| {
        let by_id = Uuid::parse_str(&requested)
            .ok()
            .and_then(|id| s.types.get(&id));
        match by_id.or_else(|| s.type_by_name(&requested)) {
            Some(t) => (Some(t.name.clone()), Some(t.id.to_string())),
            None => (Some(requested.clone()), None),
        }
    });
    let metadata = v
        .and_then(|v| v.get("metadata"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default();
    VolumeFacts {
        id: None,
        type_name,
        type_id,
        name: field("name")
            .or_else(|| field("display_name"))
            .map(str::to_string),
        metadata,
    }
}

/// The segment after `attachments` in a Cinder path, if any.
pub fn attachment_id_in_path(path: &str) -> Option<&str> {
    let mut segs = path.split('/');
    segs.by_ref().find(|s| *s == "attachments")?;
    segs.next().filter(|s| !s.is_empty() && *s != "detail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::parse::parse_rule;
    use serde_json::json;

    fn facts() -> Facts {
        let mut md = BTreeMap::new();
        md.insert("image_id".to_string(), "abc-123".to_string());
        Facts {
            operation: Some("volume.action.os-extend".into()),
            method: Some("POST".into()),
            path: Some("/volume/v3/p1/volumes/v1/action".into()),
            project_id: Some("p1".into()),
            project_name: Some("demo".into()),
            volume: Some(VolumeFacts {
                id: None,
                type_name: Some("glance-fast".into()),
                type_id: Some("t1".into()),
                name: Some("image-abc".into()),
                metadata: md,
            }),
        }
    }

    fn check(rule: Value, expected: bool) {
        let r = parse_rule(&rule, "r").expect("valid rule");
        assert_eq!(r.matcher.matches(&facts()), expected, "{rule}");
    }

    #[test]
    fn match_table() {
        check(json!({"effect": "503"}), true);
        check(
            json!({"operation": "volume.action.os-extend", "effect": "503"}),
            true,
        );
        check(
            json!({"operation": "volume.action.*", "effect": "503"}),
            true,
        );
        check(
            json!({"operation": "volume.create", "effect": "503"}),
            false,
        );
        check(json!({"method": "post", "effect": "503"}), true);
        check(json!({"method": "GET", "effect": "503"}), false);
        check(
            json!({"path": "/volume/v3/*/volumes/*/action", "effect": "503"}),
            true,
        );
        check(
            json!({"path": "/volume/v3/*/action", "effect": "503"}),
            false,
        );
        check(json!({"path": "/volume/**/action", "effect": "503"}), true);
        check(json!({"project": "demo", "effect": "503"}), true);
        check(json!({"project": "p1", "effect": "503"}), true);
        check(json!({"project": "admin", "effect": "503"}), false);
        check(json!({"volume_type": "glance-fast", "effect": "503"}), true);
        check(
            json!({"volume_type": "glance-slow", "effect": "503"}),
            false,
        );
        check(json!({"volume_name": "image-*", "effect": "503"}), true);
        check(json!({"volume_name": "backup-*", "effect": "503"}), false);
        check(
            json!({"volume_metadata": {"image_id": "abc-*"}, "effect": "503"}),
            true,
        );
        check(
            json!({"volume_metadata": {"owner": "*"}, "effect": "503"}),
            false,
        );
    }

    #[test]
    fn keystone_operations_match_only_when_named() {
        let login = Facts {
            operation: Some("keystone.token.create".into()),
            ..Facts::default()
        };
        for (rule, expected) in [
            (json!({"effect": "503"}), false),
            (
                json!({"operation": "keystone.token.create", "effect": "503"}),
                true,
            ),
            (json!({"operation": "keystone.*", "effect": "503"}), true),
        ] {
            let r = parse_rule(&rule, "r").unwrap();
            assert_eq!(r.matcher.matches(&login), expected, "{rule}");
        }
    }

    #[test]
    fn volume_criteria_never_match_requests_without_a_volume() {
        let r = parse_rule(&json!({"volume_type": "glance-fast", "effect": "503"}), "r").unwrap();
        let f = Facts {
            volume: None,
            ..facts()
        };
        assert!(!r.matcher.matches(&f));
    }

    #[test]
    fn attachment_ids_come_from_the_path() {
        assert_eq!(
            attachment_id_in_path("/volume/v3/p/attachments/a1/action"),
            Some("a1")
        );
        assert_eq!(
            attachment_id_in_path("/volume/v3/p/attachments/a1"),
            Some("a1")
        );
        assert_eq!(attachment_id_in_path("/volume/v3/p/attachments"), None);
        assert_eq!(
            attachment_id_in_path("/volume/v3/p/attachments/detail"),
            None
        );
        assert_eq!(attachment_id_in_path("/volume/v3/p/volumes/x"), None);
    }
}
