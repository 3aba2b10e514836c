//! The driver (`cinderbox-driver`) against the emulator: store validation, sizes, deletes,
//! failure cleanup and legacy location upgrades, through the public `Stores` API only.

use std::collections::BTreeMap;
use std::path::Path;

use cinderbox_driver::config::GlanceConfig;
use cinderbox_driver::{AddRequest, DriverError, StoreState, Stores};
use cinderbox_emulator::testing::Emulator;

const DEFAULT_ADDRESS: &str = "http://127.0.0.1:8776";

fn spawn_emulator() -> (tempfile::TempDir, Emulator) {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = Emulator::start(dir.path()).expect("emulator starts");
    (dir, emulator)
}

/// A fixture from `fixtures/glance-api/` pointed at `base_url`, with short waits.
fn fixture(name: &str, base_url: &str) -> GlanceConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/glance-api")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("fixture exists");
    let text = text.replace(DEFAULT_ADDRESS, base_url).replace(
        "cinder_store_project_domain_name = Default\n",
        "cinder_store_project_domain_name = Default\ncinder_state_transition_timeout = 20\ncinder_http_timeout = 10\ncinder_http_retries = 1\n",
    );
    GlanceConfig::parse(name, &text).expect("fixture parses")
}

fn open(name: &str, base_url: &str) -> Stores {
    Stores::configure(fixture(name, base_url)).expect("stores configure")
}

/// Creates a volume directly in Cinder (as a legacy or foreign tool would), waiting until
/// it is available.
fn legacy_volume(stores: &Stores, store: &str, volume_type: Option<&str>) -> String {
    let client = &stores.store(Some(store)).expect("store").client;
    let volume = client
        .create_volume(1, "legacy", volume_type, &BTreeMap::new())
        .expect("volume created");
    for _ in 0..200 {
        if client.show_volume(&volume.id).expect("show").status == "available" {
            return volume.id;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("volume {} never became available", volume.id);
}

fn volume_ids(stores: &Stores, store: &str) -> Vec<String> {
    let client = &stores.store(Some(store)).expect("store").client;
    client
        .list_volumes(None)
        .expect("list")
        .into_iter()
        .map(|v| v.id)
        .collect()
}

fn state(stores: &Stores, name: &str) -> StoreState {
    stores.store(Some(name)).expect("store").state()
}

#[test]
fn example1_stores_are_enabled() {
    let (_dir, emulator) = spawn_emulator();
    let stores = open("example1-fast-slow.conf", &emulator.base_url);
    let names: Vec<(String, Option<String>, bool, Option<StoreState>)> = stores
        .stores()
        .into_iter()
        .map(|s| (s.name, s.volume_type, s.is_default, s.state))
        .collect();
    assert_eq!(
        names,
        vec![
            (
                "fast".into(),
                Some("glance-fast".into()),
                true,
                Some(StoreState::Enabled)
            ),
            (
                "slow".into(),
                Some("glance-slow".into()),
                false,
                Some(StoreState::Enabled)
            ),
        ]
    );
}

#[test]
fn missing_type_disables_add_and_delete_but_serves_reads() {
    let (_dir, emulator) = spawn_emulator();
    let stores = open("misconfigured-missing-type.conf", &emulator.base_url);
    assert_eq!(state(&stores, "fast"), StoreState::Enabled);
    let StoreState::Disabled { reason } = state(&stores, "broken") else {
        panic!("broken should be disabled");
    };
    assert!(reason.contains("glance-missing"), "{reason}");
    let err = stores
        .add(
            Some("broken"),
            &AddRequest::new("img", Some(3)),
            &mut &b"abc"[..],
        )
        .expect_err("add refused");
    assert!(
        matches!(
            err,
            DriverError::StoreDisabled {
                operation: "add",
                ..
            }
        ),
        "{err}"
    );
    let id = legacy_volume(&stores, "fast", Some("glance-fast"));
    let location = format!("cinder://broken/{id}");
    let err = stores.delete(&location).expect_err("delete refused");
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
    assert_eq!(stores.get_size(&location).expect("reads served"), 1 << 30);
    assert!(volume_ids(&stores, "fast").contains(&id), "nothing deleted");
}

#[test]
fn unverified_store_recovers_when_cinder_comes_up() {
    let (dir, emulator) = spawn_emulator();
    let (addr, base_url) = (emulator.addr, emulator.base_url.clone());
    emulator.stop();
    let stores = open("example1-fast-slow.conf", &base_url);
    assert!(matches!(
        state(&stores, "fast"),
        StoreState::Unverified { .. }
    ));
    let err = stores
        .delete("cinder://fast/b31e69eb-fbee-47b3-b315-f9865143c03c")
        .expect_err("down");
    assert!(matches!(err, DriverError::Unreachable { .. }), "{err}");
    let world = cinderbox_emulator::config::World::default_world();
    let _emulator = Emulator::start_with(dir.path(), world, addr).expect("restarts");
    let id = legacy_volume(&stores, "fast", Some("glance-fast"));
    stores
        .delete(&format!("cinder://fast/{id}"))
        .expect("delete after recovery");
    assert_eq!(state(&stores, "fast"), StoreState::Enabled);
    assert!(!volume_ids(&stores, "fast").contains(&id));
}

#[test]
fn size_and_delete_keep_not_found_distinct() {
    let (_dir, emulator) = spawn_emulator();
    let stores = open("example1-fast-slow.conf", &emulator.base_url);
    let id = legacy_volume(&stores, "slow", Some("glance-slow"));
    let location = format!("cinder://slow/{id}");
    assert_eq!(stores.get_size(&location).expect("size"), 1 << 30);
    stores.delete(&location).expect("deleted");
    for result in [
        stores.get_size(&location).map(drop),
        stores.delete(&location),
    ] {
        let err = result.expect_err("gone");
        assert!(matches!(err, DriverError::NotFound { .. }), "{err}");
    }
    let err = stores
        .get_size("cinder://slow/not-a-uuid")
        .expect_err("bad location");
    assert_eq!(err.to_string(), "URI contains invalid volume ID");
}

#[test]
fn failed_upload_leaves_no_volume() {
    let (_dir, emulator) = spawn_emulator();
    let stores = open("example1-fast-slow.conf", &emulator.base_url);
    let before = volume_ids(&stores, "fast");
    struct Broken(usize);
    impl std::io::Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("source went away"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(7);
            self.0 -= n;
            Ok(n)
        }
    }
    let err = stores
        .add(
            Some("fast"),
            &AddRequest::new("img-broken", None),
            &mut Broken(1000),
        )
        .expect_err("upload fails");
    assert!(!matches!(err, DriverError::StoreDisabled { .. }), "{err}");
    assert_eq!(
        volume_ids(&stores, "fast"),
        before,
        "a volume was left behind after: {err}"
    );
}

#[test]
fn legacy_locations_upgrade_singly_and_in_batch() {
    let (_dir, emulator) = spawn_emulator();
    let stores = open("example2-after.conf", &emulator.base_url);
    let old = legacy_volume(&stores, "old", Some("glance-old"));
    let default = legacy_volume(&stores, "old", None);
    let other = legacy_volume(&stores, "old", Some("glance-fast"));
    let missing = "0d7b5a3e-3c1e-4f7e-9d7e-2f8b3c4d5e6f".to_string();
    let cases = [
        (old.clone(), format!("cinder://old/{old}")),
        (default.clone(), format!("cinder://{default}")),
        (other.clone(), format!("cinder://{other}")),
        (missing.clone(), format!("cinder://{missing}")),
    ];
    for (id, expected) in &cases {
        let got = stores
            .upgrade_location(&format!("cinder://{id}"))
            .expect("never an error");
        assert_eq!(&got, expected, "single upgrade of {id}");
    }
    let inputs: Vec<String> = cases
        .iter()
        .map(|(id, _)| format!("cinder://{id}"))
        .collect();
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let batch: Vec<String> = stores
        .upgrade_locations(&refs)
        .into_iter()
        .map(|r| r.expect("never an error"))
        .collect();
    let expected: Vec<String> = cases.iter().map(|(_, e)| e.clone()).collect();
    assert_eq!(batch, expected);
    // an already upgraded location stays as it is
    let upgraded = format!("cinder://new/{old}");
    assert_eq!(stores.upgrade_location(&upgraded).expect("ok"), upgraded);
}

#[test]
fn store_without_type_matches_cinder_default_type() {
    let (_dir, emulator) = spawn_emulator();
    let identity = emulator.identity_url();
    let text = format!(
        "[DEFAULT]\nenabled_backends = only:cinder\n[glance_store]\ndefault_backend = only\n[only]\n\
         cinder_store_auth_address = {identity}\ncinder_store_user_name = glance\ncinder_store_password = admin\n\
         cinder_store_project_name = service\ncinder_state_transition_timeout = 20\n"
    );
    let stores = Stores::configure(GlanceConfig::parse("only.conf", &text).expect("parses"))
        .expect("configures");
    assert_eq!(state(&stores, "only"), StoreState::Enabled);
    let default = legacy_volume(&stores, "only", None);
    let typed = legacy_volume(&stores, "only", Some("glance-old"));
    let got: Vec<String> = stores
        .upgrade_locations(&[&format!("cinder://{default}"), &format!("cinder://{typed}")])
        .into_iter()
        .map(|r| r.expect("never an error"))
        .collect();
    assert_eq!(
        got,
        vec![
            format!("cinder://only/{default}"),
            format!("cinder://{typed}")
        ]
    );
}
