//! The driver (`cinderbox-driver`) against the emulator: stores on their volume types,
//! disabled and unverified stores, streaming uploads across a GiB boundary, ranged reads,
//! sizes, deletes, failure cleanup and legacy location upgrades, through the public
//! `Stores` API only, checked through the Cinder API as an admin.

mod driver_support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use cinderbox_driver::config::GlanceConfig;
use cinderbox_driver::{AddRequest, DriverError, StoreState, Stores};
use cinderbox_emulator::testing::Emulator;
use driver_support::{
    config_text, configure, fast_world, hash_all, metadata, Admin, Cloud, Generated, Hashing,
    Timeouts, GIB, MIB,
};

const DEFAULT_ADDRESS: &str = "http://127.0.0.1:8776";

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

/// The volume id of a `cinder://[store/]<id>` location.
fn volume_id(location: &str) -> &str {
    location.rsplit('/').next().expect("location has an id")
}

/// Creates a volume directly in Cinder as the store's user (as a legacy Glance or a
/// foreign tool would), waiting until it is available.
fn legacy_volume(stores: &Stores, store: &str, volume_type: Option<&str>) -> String {
    let client = &stores.store(Some(store)).expect("store").client;
    let volume = client
        .create_volume(1, "legacy", volume_type, &BTreeMap::new())
        .expect("volume created");
    for _ in 0..200 {
        if client.show_volume(&volume.id).expect("show").status == "available" {
            return volume.id;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("volume {} never became available", volume.id);
}

fn state(stores: &Stores, name: &str) -> StoreState {
    stores.store(Some(name)).expect("store").state()
}

/// Downloads a whole image, hashing it: (bytes, md5, sha256).
fn download(stores: &Stores, location: &str) -> (u64, String, String) {
    let reader = stores.get(location, 0, None).expect("get");
    hash_all(reader).expect("image reads")
}

fn read_range(stores: &Stores, location: &str, offset: u64, length: u64) -> Vec<u8> {
    let mut reader = stores
        .get(location, offset, Some(length))
        .expect("ranged get");
    let mut out = Vec::new();
    reader.read_to_end(&mut out).expect("range reads");
    reader.finish().expect("detaches");
    out
}

#[test]
fn example1_stores_are_enabled() {
    let cloud = Cloud::start(None);
    let stores = open("example1-fast-slow.conf", &cloud.emulator.base_url);
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
fn two_stores_put_each_image_on_its_own_volume_type() {
    let cloud = Cloud::start(None);
    let stores = open("example1-fast-slow.conf", &cloud.emulator.base_url);
    let cases = [
        (Some("fast"), "img-fast", 3 * MIB + 7, "fast", "glance-fast"),
        (Some("slow"), "img-slow", MIB, "slow", "glance-slow"),
        (None, "img-default", 12345, "fast", "glance-fast"),
    ];
    for (store, image_id, size, expected_store, expected_type) in cases {
        let mut source = Hashing::new(Generated::new(size));
        let added = stores
            .add(store, &AddRequest::new(image_id, Some(size)), &mut source)
            .expect("upload");
        let (md5, sha256) = source.finish();
        assert_eq!(
            (
                added.size,
                added.checksum.as_str(),
                added.multihash.as_str()
            ),
            (size, md5.as_str(), sha256.as_str()),
            "{image_id}"
        );
        assert_eq!(added.store, expected_store);
        let id = volume_id(&added.location).to_string();
        assert_eq!(added.location, format!("cinder://{expected_store}/{id}"));
        // what Cinder itself says about the volume
        let volume = cloud.admin.volume(&id).expect("volume exists");
        assert_eq!(volume["volume_type"], expected_type, "{image_id}: {volume}");
        assert_eq!(volume["name"], format!("image-{image_id}"));
        assert_eq!(volume["size"], 1);
        assert_eq!(volume["status"], "available");
        let meta = metadata(&volume);
        assert_eq!(
            meta.get("glance_image_id").map(String::as_str),
            Some(image_id)
        );
        assert_eq!(meta.get("image_size"), Some(&size.to_string()));
        assert!(meta.contains_key("image_owner"), "{meta:?}");
        assert_eq!(download(&stores, &added.location), (size, md5, sha256));
        assert_eq!(stores.get_size(&added.location).expect("size"), size);
    }
    assert!(cloud.admin.all_attachments().is_empty(), "reads detached");
    for v in cloud.admin.all_volumes() {
        let id = v["id"].as_str().expect("id");
        let store = if v["volume_type"] == "glance-slow" {
            "slow"
        } else {
            "fast"
        };
        stores
            .delete(&format!("cinder://{store}/{id}"))
            .expect("delete");
    }
    cloud
        .admin
        .assert_nothing_left("after deleting every image");
}

#[test]
fn missing_type_disables_add_and_delete_but_serves_reads() {
    let cloud = Cloud::start(None);
    let stores = open("misconfigured-missing-type.conf", &cloud.emulator.base_url);
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
        matches!(err, DriverError::StoreDisabled { operation: "add", ref store, .. } if store == "broken"),
        "{err}"
    );
    assert!(err.to_string().contains("glance-missing"), "{err}");
    assert!(
        cloud.admin.all_volumes().is_empty(),
        "a refused add created a volume"
    );

    // an image that exists (stored through the working store) is served through "broken"
    let size = 2 * MIB + 3;
    let mut source = Hashing::new(Generated::new(size));
    let added = stores
        .add(
            Some("fast"),
            &AddRequest::new("img-ok", Some(size)),
            &mut source,
        )
        .expect("upload to the working store");
    let (md5, sha256) = source.finish();
    let id = volume_id(&added.location).to_string();
    let location = format!("cinder://broken/{id}");
    assert_eq!(download(&stores, &location), (size, md5, sha256));
    assert_eq!(stores.get_size(&location).expect("reads served"), size);
    assert_eq!(
        read_range(&stores, &location, MIB - 2, 4),
        Generated::new(size).slice(MIB - 2, 4)
    );

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
    assert_eq!(
        cloud.admin.volume(&id).expect("nothing deleted")["status"],
        "available"
    );
    assert!(cloud.admin.all_attachments().is_empty(), "reads detached");
}

#[test]
fn unverified_store_recovers_when_cinder_comes_up() {
    let Cloud { emulator, dir, .. } = Cloud::start(None);
    let (addr, base_url) = (emulator.addr, emulator.base_url.clone());
    emulator.stop();
    let stores = open("example1-fast-slow.conf", &base_url);
    for name in ["fast", "slow"] {
        assert!(
            matches!(state(&stores, name), StoreState::Unverified { .. }),
            "{name}: {:?}",
            state(&stores, name)
        );
    }
    let err = stores
        .add(
            Some("fast"),
            &AddRequest::new("img-down", Some(3)),
            &mut &b"abc"[..],
        )
        .expect_err("Cinder is down");
    assert!(matches!(err, DriverError::Unreachable { .. }), "{err}");
    let err = stores
        .delete("cinder://fast/b31e69eb-fbee-47b3-b315-f9865143c03c")
        .expect_err("down");
    assert!(matches!(err, DriverError::Unreachable { .. }), "{err}");
    assert!(matches!(
        state(&stores, "fast"),
        StoreState::Unverified { .. }
    ));

    // Cinder comes up where the configuration expects it
    let _emulator = Emulator::start_with(dir.path(), fast_world(), addr).expect("restarts");
    let admin = Admin::login(&base_url);
    let added = stores
        .add(
            Some("fast"),
            &AddRequest::new("img-up", Some(3)),
            &mut &b"abc"[..],
        )
        .expect("add after recovery");
    assert_eq!(state(&stores, "fast"), StoreState::Enabled);
    // the other store is checked on its own next write, not before
    assert!(matches!(
        state(&stores, "slow"),
        StoreState::Unverified { .. }
    ));
    let volume = admin.volume(volume_id(&added.location)).expect("volume");
    assert_eq!(volume["volume_type"], "glance-fast");
    stores
        .delete(&added.location)
        .expect("delete after recovery");
    let id = legacy_volume(&stores, "slow", Some("glance-slow"));
    stores
        .delete(&format!("cinder://slow/{id}"))
        .expect("delete re-verifies the slow store");
    assert_eq!(state(&stores, "slow"), StoreState::Enabled);
    admin.assert_nothing_left("after recovery");
}

#[test]
fn unknown_size_upload_crosses_a_gib_boundary_with_checksums_intact() {
    let cloud = Cloud::start(None);
    let text = config_text(
        &cloud.identity_url(),
        &[("fast", "glance-fast")],
        &Timeouts::default(),
        "",
    );
    let stores = configure(&text);
    let size = GIB + 5 * MIB + 123;
    let mut source = Hashing::new(Generated::new(size));
    let added = stores
        .add(None, &AddRequest::new("img-big", None), &mut source)
        .expect("streamed upload of unknown size");
    let (md5, sha256) = source.finish();
    assert_eq!(added.size, size);
    assert_eq!(
        (added.checksum.as_str(), added.multihash.as_str()),
        (md5.as_str(), sha256.as_str())
    );

    let id = volume_id(&added.location).to_string();
    let volume = cloud.admin.volume(&id).expect("volume");
    assert_eq!(volume["size"], 2, "grown to 2 GiB: {volume}");
    assert_eq!(metadata(&volume).get("image_size"), Some(&size.to_string()));
    assert!(cloud.admin.all_attachments().is_empty(), "upload detached");

    assert_eq!(download(&stores, &added.location), (size, md5, sha256));
    let generator = Generated::new(size);
    for (offset, length) in [(GIB - 4096, 3 * 4096), (GIB - 1, 2), (size - 100, 100)] {
        assert_eq!(
            read_range(&stores, &added.location, offset, length),
            generator.slice(offset, length),
            "range {offset}+{length}"
        );
    }
    let err = stores
        .get(&added.location, size - 10, Some(11))
        .map(drop)
        .expect_err("range past the end");
    assert!(matches!(err, DriverError::InvalidInput(_)), "{err}");
    stores.delete(&added.location).expect("delete");
    cloud.admin.assert_nothing_left("after the big image");
}

#[test]
fn failed_uploads_leave_no_volume_and_no_attachment() {
    let cloud = Cloud::start(None);
    let text = config_text(
        &cloud.identity_url(),
        &[("fast", "glance-fast")],
        &Timeouts::default(),
        "",
    );
    let stores = configure(&text);
    type Check = fn(&DriverError) -> bool;
    let io: Check = |e| matches!(e, DriverError::Io { .. });
    let mismatch: Check = |e| matches!(e, DriverError::SizeMismatch(_));
    let cases: [(&str, Option<u64>, Generated, Check); 4] = [
        (
            "source fails, size unknown",
            None,
            Generated::failing_at(32 * MIB, 9 * MIB),
            io,
        ),
        (
            "source fails, size declared",
            Some(32 * MIB),
            Generated::failing_at(32 * MIB, 9 * MIB),
            io,
        ),
        (
            "more data than declared",
            Some(5 * MIB),
            Generated::new(6 * MIB),
            mismatch,
        ),
        (
            "less data than declared",
            Some(6 * MIB),
            Generated::new(5 * MIB),
            mismatch,
        ),
    ];
    for (what, declared, mut source, expected) in cases {
        let err = stores
            .add(None, &AddRequest::new("img-fail", declared), &mut source)
            .expect_err(what);
        assert!(expected(&err), "{what}: wrong error kind: {err:?}");
        cloud.admin.assert_nothing_left(what);
    }
}

#[test]
fn size_and_delete_keep_not_found_distinct() {
    let cloud = Cloud::start(None);
    let stores = open("example1-fast-slow.conf", &cloud.emulator.base_url);
    let id = legacy_volume(&stores, "slow", Some("glance-slow"));
    let location = format!("cinder://slow/{id}");
    assert_eq!(stores.get_size(&location).expect("size"), GIB);
    stores.delete(&location).expect("deleted");
    for result in [
        stores.get_size(&location).map(drop),
        stores.delete(&location),
        stores.get(&location, 0, None).map(drop),
    ] {
        let err = result.expect_err("gone");
        assert!(matches!(err, DriverError::NotFound { .. }), "{err}");
    }
    let err = stores
        .get_size("cinder://slow/not-a-uuid")
        .expect_err("bad location");
    assert_eq!(err.to_string(), "URI contains invalid volume ID");
    let err = stores
        .get_size(&format!("cinder://nowhere/{id}"))
        .expect_err("unknown store");
    assert!(err.to_string().contains("nowhere"), "{err}");
}

/// (volume type, name) of a volume as the admin sees it, to show upgrades change nothing.
fn snapshot(admin: &Admin, id: &str) -> (String, String, BTreeMap<String, String>) {
    let v = admin.volume(id).expect("volume exists");
    (
        v["volume_type"].as_str().unwrap_or_default().to_string(),
        v["status"].as_str().unwrap_or_default().to_string(),
        metadata(&v),
    )
}

#[test]
fn legacy_locations_upgrade_singly_and_in_batch() {
    let cloud = Cloud::start(None);
    cloud.admin.create_type("legacy-unknown");
    let stores = open("example2-after.conf", &cloud.emulator.base_url);
    let old = legacy_volume(&stores, "old", Some("glance-old"));
    let new = legacy_volume(&stores, "old", Some("glance-new"));
    let explicit_default = legacy_volume(&stores, "old", Some("__DEFAULT__"));
    let implicit_default = legacy_volume(&stores, "old", None);
    let unknown = legacy_volume(&stores, "old", Some("legacy-unknown"));
    let missing = "0d7b5a3e-3c1e-4f7e-9d7e-2f8b3c4d5e6f".to_string();
    let cases = [
        (old.clone(), format!("cinder://old/{old}")),
        (new.clone(), format!("cinder://new/{new}")),
        (
            explicit_default.clone(),
            format!("cinder://{explicit_default}"),
        ),
        (
            implicit_default.clone(),
            format!("cinder://{implicit_default}"),
        ),
        (unknown.clone(), format!("cinder://{unknown}")),
        (missing.clone(), format!("cinder://{missing}")),
    ];
    let existing = [&old, &new, &explicit_default, &implicit_default, &unknown];
    let before: Vec<_> = existing
        .iter()
        .map(|id| snapshot(&cloud.admin, id))
        .collect();
    assert_eq!(before[4].0, "legacy-unknown");
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
    let seen = cloud.admin.requests().len();
    let batch: Vec<String> = stores
        .upgrade_locations(&refs)
        .into_iter()
        .map(|r| r.expect("never an error"))
        .collect();
    let expected: Vec<String> = cases.iter().map(|(_, e)| e.clone()).collect();
    assert_eq!(batch, expected);
    // both stores share one account: one listing serves all six locations
    let calls: Vec<String> = cloud.admin.requests()[seen..]
        .iter()
        .map(|r| r["operation"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        calls.len() <= 2,
        "batch upgrade made {} calls: {calls:?}",
        calls.len()
    );
    // an already upgraded location stays as it is
    let upgraded = format!("cinder://new/{old}");
    assert_eq!(stores.upgrade_location(&upgraded).expect("ok"), upgraded);
    let after: Vec<_> = existing
        .iter()
        .map(|id| snapshot(&cloud.admin, id))
        .collect();
    assert_eq!(before, after, "upgrades changed a volume");
}

#[test]
fn single_store_images_upgrade_to_the_old_store() {
    let cloud = Cloud::start(None);
    let base = &cloud.emulator.base_url;
    let before = open("example2-before.conf", base);
    let added = before
        .add(
            None,
            &AddRequest::new("img-legacy", Some(5)),
            &mut &b"hello"[..],
        )
        .expect("legacy upload");
    let id = volume_id(&added.location).to_string();
    assert_eq!(added.location, format!("cinder://{id}"));
    assert_eq!(
        cloud.admin.volume(&id).expect("volume")["volume_type"],
        "glance-old"
    );
    let after = open("example2-after.conf", base);
    let upgraded = after.upgrade_location(&added.location).expect("upgrade");
    assert_eq!(upgraded, format!("cinder://old/{id}"));
    let mut data = Vec::new();
    for location in [&added.location, &upgraded] {
        data.clear();
        let mut reader = after.get(location, 0, None).expect("get");
        reader.read_to_end(&mut data).expect("reads");
        reader.finish().expect("detaches");
        assert_eq!(data, b"hello", "{location}");
    }
    after.delete(&upgraded).expect("delete");
    cloud.admin.assert_nothing_left("after the legacy image");
}

#[test]
fn store_without_type_matches_cinder_default_type() {
    let cloud = Cloud::start(None);
    let identity = cloud.identity_url();
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
