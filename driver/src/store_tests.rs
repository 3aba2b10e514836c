use super::*;
use crate::client::Volume;
use crate::config::GIB;
use std::collections::BTreeMap;

fn volume(size_gb: u64, image_size: Option<&str>) -> Volume {
    Volume {
        id: "v".into(),
        status: "available".into(),
        size: size_gb,
        name: None,
        volume_type: None,
        metadata: image_size
            .map(|s| BTreeMap::from([("image_size".to_string(), s.to_string())]))
            .unwrap_or_default(),
        multiattach: false,
        encrypted: false,
        attachments: Vec::new(),
    }
}

#[test]
fn image_sizes() {
    let cases = [
        (volume(1, Some("1234")), 1234),
        (volume(2, None), 2 * GIB),
        (volume(1, Some("0")), 0),
        (volume(3, Some("garbage")), 3 * GIB),
    ];
    for (v, expected) in cases {
        assert_eq!(image_size(&v), expected, "{:?}", v.metadata);
    }
}

fn check(
    volume_type: Option<&str>,
    store_type: Option<&str>,
    default: Option<&str>,
    expected: bool,
) {
    let got = type_matches(volume_type, store_type, || default.map(str::to_string));
    assert_eq!(
        got, expected,
        "{volume_type:?} vs {store_type:?} (default {default:?})"
    );
}

#[test]
fn type_matching_for_upgrade() {
    check(Some("glance-old"), Some("glance-old"), None, true);
    check(
        Some("glance-old"),
        Some("glance-new"),
        Some("glance-old"),
        false,
    );
    check(Some("__DEFAULT__"), None, Some("__DEFAULT__"), true);
    check(
        Some("__DEFAULT__"),
        Some("glance-fast"),
        Some("__DEFAULT__"),
        false,
    );
    check(Some("unknown"), None, Some("__DEFAULT__"), false);
    check(None, Some("__DEFAULT__"), Some("__DEFAULT__"), true);
    check(None, None, None, true);
    // Cinder unreachable for the default type: no match, never an error
    check(Some("__DEFAULT__"), None, None, false);
}

fn offline_stores(text: &str) -> Stores {
    let config = GlanceConfig::parse("t.conf", text).expect("config parses");
    Stores::configure(config).expect("configure never fails on an unreachable Cinder")
}

/// A Keystone address nobody listens on: port 9 (discard) on loopback refuses at once.
const DOWN: &str = "cinder_store_auth_address = http://127.0.0.1:9/identity/v3
cinder_store_user_name = glance
cinder_store_password = admin
cinder_store_project_name = service
cinder_http_retries = 0
cinder_http_timeout = 2
";

#[test]
fn unreachable_cinder_leaves_stores_unverified() {
    let stores = offline_stores(&format!(
        "[DEFAULT]\nenabled_backends = fast:cinder,slow:cinder,f:file\n[glance_store]\ndefault_backend = fast\n[fast]\ncinder_volume_type = glance-fast\n{DOWN}[slow]\ncinder_volume_type = glance-slow\n{DOWN}"
    ));
    let infos = stores.stores();
    let summary: Vec<(String, bool, String)> = infos
        .iter()
        .map(|i| {
            let state = match &i.state {
                None => "not served".to_string(),
                Some(StoreState::Unverified { .. }) => "unverified".into(),
                Some(other) => other.label(),
            };
            (i.name.clone(), i.is_default, state)
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("fast".to_string(), true, "unverified".to_string()),
            ("slow".to_string(), false, "unverified".to_string()),
            ("f".to_string(), false, "not served".to_string()),
        ]
    );
    // the next write re-checks, fails with a typed backend error, and stays unverified
    let err = stores
        .add(None, &AddRequest::new("img", Some(1)), &mut &b"x"[..])
        .expect_err("Cinder is down");
    assert!(
        matches!(
            err,
            DriverError::Unreachable {
                service: "Keystone",
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("admin"), "no password in: {err}");
    assert!(matches!(
        stores.store(Some("fast")).map(|s| s.state()),
        Ok(StoreState::Unverified { .. })
    ));
    // "could not ask" is an error, never an unchanged location ("no store matches")
    let legacy = "cinder://b31e69eb-fbee-47b3-b315-f9865143c03c";
    let err = stores.upgrade_location(legacy).expect_err("Cinder is down");
    assert!(matches!(err, DriverError::Unreachable { .. }), "{err}");
    let batch = stores.upgrade_locations(&[legacy, "cinder://bad", legacy]);
    assert!(
        matches!(batch[0], Err(DriverError::Unreachable { .. })),
        "{batch:?}"
    );
    assert!(matches!(batch[1], Err(DriverError::BadLocation(_))));
    assert!(
        matches!(batch[2], Err(DriverError::Unreachable { .. })),
        "{batch:?}"
    );
}

#[test]
fn stores_sharing_a_session_each_name_themselves_when_unverified() {
    let stores = offline_stores(&format!(
        "[DEFAULT]\nenabled_backends = fast:cinder,slow:cinder\n[glance_store]\ndefault_backend = fast\n[fast]\ncinder_volume_type = glance-fast\n{DOWN}[slow]\ncinder_volume_type = glance-slow\n{DOWN}"
    ));
    assert!(stores.share_session("fast", "slow").expect("both exist"));
    let reasons: Vec<(String, String)> = stores
        .stores()
        .into_iter()
        .map(|i| match i.state {
            Some(StoreState::Unverified { reason }) => (i.name, reason),
            other => panic!("{}: {other:?}", i.name),
        })
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    for (name, reason) in &reasons {
        let other = if name == "fast" { "slow" } else { "fast" };
        assert!(
            reason.starts_with(&format!("cannot reach Keystone for store '{name}' (POST ")),
            "{name}: {reason}"
        );
        assert!(!reason.contains(&format!("'{other}'")), "{name}: {reason}");
    }
    // and so does the error of the write that re-checks the second store
    let err = stores
        .add(
            Some("slow"),
            &AddRequest::new("img", Some(1)),
            &mut &b"x"[..],
        )
        .expect_err("Keystone is down");
    assert!(
        err.to_string().contains("for store 'slow'") && !err.to_string().contains("'fast'"),
        "{err}"
    );
}

#[test]
fn store_lookup_errors() {
    let stores = offline_stores(&format!(
        "[DEFAULT]\nenabled_backends = fast:cinder,f:file\n[glance_store]\ndefault_backend = fast\n[fast]\n{DOWN}"
    ));
    let cases: [(Option<&str>, &str); 2] = [
        (
            Some("nope"),
            "unknown store 'nope'; check enabled_backends in the configuration",
        ),
        (
            Some("f"),
            "invalid request: store 'f' is a 'file' store, which cinderbox does not serve",
        ),
    ];
    for (name, expected) in cases {
        assert_eq!(
            stores.store(name).err().map(|e| e.to_string()).as_deref(),
            Some(expected)
        );
    }
    let id = "b31e69eb-fbee-47b3-b315-f9865143c03c";
    let err = stores
        .get_size(&format!("cinder://ghost/{id}"))
        .expect_err("unknown store");
    assert_eq!(
        err.to_string(),
        "unknown store 'ghost'; check enabled_backends in the configuration"
    );
}

#[test]
fn store_without_credentials_is_disabled() {
    let stores = offline_stores("[glance_store]\nstores = cinder\ndefault_store = cinder\n");
    let state = stores.stores()[0].state.clone().expect("a cinder store");
    assert!(matches!(state, StoreState::Disabled { .. }), "{state:?}");
    let err = stores
        .delete("cinder://b31e69eb-fbee-47b3-b315-f9865143c03c")
        .expect_err("disabled");
    assert!(
        matches!(
            err,
            DriverError::StoreDisabled {
                operation: "delete",
                ..
            }
        ),
        "{err}"
    );
    // single-store locations keep the legacy form and are never upgraded
    let legacy = "cinder://b31e69eb-fbee-47b3-b315-f9865143c03c";
    assert_eq!(stores.upgrade_location(legacy).expect("ok"), legacy);
}
