//! Both adapters (`cinderbox-rust-adapter` and upstream glance_store's `python-glance-store`)
//! against an in-process emulator, black-box through the adapter protocol: configure, stores,
//! add → get → get_size → delete, bad locations, legacy upgrades, and exactly the documented
//! differences of the Python driver (`docs/adapter-protocol.md`).
//!
//! The Python adapter's test needs upstream glance_store in a venv (built from PyPI), so
//! it is compiled only with the `upstream-python` feature, which `scripts/test-all.sh`
//! turns on: `cargo test --workspace` stays hermetic.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

#[cfg(feature = "upstream-python")]
use cinderbox_conformance::adapter::python_glance_store_setup;
use cinderbox_conformance::adapter::{
    Adapter, AdapterCommand, AdapterError, ErrorClass, Store, StoreState,
};
use cinderbox_conformance::inspector::{Credentials, Inspector};
use cinderbox_emulator::testing::Emulator;

/// md5 and sha256 of `content(3_000_000)` and `content(5_000_123)`, computed independently
/// (Python's hashlib).
const HASHES_3M: (&str, &str) = (
    "d512a87923a614671958df3cdc66442f",
    "07df1203cb40935e896dfe90feec56b49591a6ba7f70b20537165122234bc9c0",
);
const HASHES_5M: (&str, &str) = (
    "e3d448ade60c4a678092d0142ba553c4",
    "e5c9b0489d5dd53cc794a99ea4541d17a3734fd8af8740ebc597c77c6ff1006f",
);
const HASHES_EMPTY: (&str, &str) = (
    "d41d8cd98f00b204e9800998ecf8427e",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
);

/// Image bytes that differ from block to block (a lost or shifted write shows).
fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + 7) % 251) as u8).collect()
}

/// A glance-api.conf for the emulator: fast→glance-fast (default), slow→glance-slow and
/// broken→a type that does not exist.
fn glance_conf(emulator: &Emulator) -> String {
    glance_conf_as(&emulator.identity_url(), "glance", "admin", "service")
}

fn glance_conf_as(identity_url: &str, user: &str, password: &str, project: &str) -> String {
    let mut text = String::from(
        "[DEFAULT]\nenabled_backends = fast:cinder,slow:cinder,broken:cinder\n\n\
         [glance_store]\ndefault_backend = fast\n",
    );
    for (store, volume_type) in [
        ("fast", "glance-fast"),
        ("slow", "glance-slow"),
        ("broken", "glance-missing"),
    ] {
        text.push_str(&format!(
            "\n[{store}]\ncinder_volume_type = {volume_type}\n\
             cinder_catalog_info = volumev3::publicURL\n\
             cinder_store_auth_address = {}\n\
             cinder_store_user_name = {user}\ncinder_store_password = {password}\n\
             cinder_store_project_name = {project}\n\
             cinder_store_user_domain_name = Default\ncinder_store_project_domain_name = Default\n\
             cinder_state_transition_timeout = 30\ncinder_http_retries = 1\n",
            identity_url
        ));
    }
    text
}

/// What each driver is allowed to do differently: the table in docs/adapter-protocol.md.
struct Expect {
    /// State of a store whose volume type is missing.
    missing_type_state: StoreState,
    /// Class of an add to that store.
    add_to_missing_type: ErrorClass,
    /// Class of a get of a deleted image.
    get_missing: ErrorClass,
    /// A read range running past the end of the image: bytes read, or the class.
    range_past_end: Result<u64, ErrorClass>,
    /// Class of an add whose volume Cinder refuses for quota (413).
    over_quota: ErrorClass,
    /// `configure` with Keystone unreachable: the stores' state, or the class.
    keystone_down: Result<StoreState, ErrorClass>,
}

const RUST: Expect = Expect {
    missing_type_state: StoreState::Disabled,
    add_to_missing_type: ErrorClass::Disabled,
    get_missing: ErrorClass::NotFound,
    range_past_end: Err(ErrorClass::Invalid),
    over_quota: ErrorClass::StorageFull,
    keystone_down: Ok(StoreState::Unverified),
};

#[cfg(feature = "upstream-python")]
const PYTHON_GLANCE_STORE: Expect = Expect {
    missing_type_state: StoreState::Enabled,
    add_to_missing_type: ErrorClass::Backend,
    get_missing: ErrorClass::Backend,
    range_past_end: Ok(123),
    over_quota: ErrorClass::Backend,
    keystone_down: Err(ErrorClass::Backend),
};

/// Prints each step with the time since the scenario started.
struct Steps {
    name: &'static str,
    started: Instant,
}

impl Steps {
    fn step(&self, what: &str) {
        eprintln!(
            "[{} +{:.2}s] {what}",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
    }
}

fn class_of<T: std::fmt::Debug>(r: Result<T, AdapterError>) -> ErrorClass {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e
            .class()
            .unwrap_or_else(|| panic!("expected a driver error, got {e}")),
    }
}

/// The test's own view of Cinder, through the suite's independent client (`Inspector`),
/// never the driver's: volume listings for the leak check, and legacy volumes made
/// directly through the Cinder API by the glance user, as a foreign tool would.
struct Cinder {
    inspector: Inspector,
}

impl Cinder {
    fn new(emulator: &Emulator) -> Cinder {
        let user = |name: &str, project: &str| Credentials {
            auth_url: emulator.identity_url(),
            username: name.into(),
            password: "admin".into(),
            project_name: project.into(),
            user_domain_name: "Default".into(),
            project_domain_name: "Default".into(),
            region_name: None,
            interface: "public".into(),
            insecure: false,
        };
        Cinder {
            inspector: Inspector::new(user("admin", "admin"), user("glance", "service"))
                .expect("inspector"),
        }
    }

    fn volume_ids(&self) -> BTreeSet<String> {
        self.inspector
            .volumes()
            .expect("list volumes")
            .into_iter()
            .map(|v| v.id)
            .collect()
    }

    /// A 1 GiB volume made directly through the Cinder API by the glance user (no image
    /// metadata), available.
    fn legacy_volume(&self, volume_type: Option<&str>) -> String {
        let mut volume = serde_json::json!({"size": 1, "name": "legacy"});
        if let Some(t) = volume_type {
            volume["volume_type"] = t.into();
        }
        let body = serde_json::json!({ "volume": volume });
        let (status, created) = self
            .inspector
            .glance
            .call(reqwest::Method::POST, "/volumes", Some(&body))
            .expect("volume create answers");
        assert_eq!(status, 202, "{created}");
        let id = created["volume"]["id"]
            .as_str()
            .expect("volume id")
            .to_string();
        self.inspector
            .wait_status(&id, "available")
            .expect("legacy volume available");
        id
    }
}

/// Polls `get_size` until the volume is gone (a driver may return from delete while Cinder
/// is still deleting), bounded by a deadline.
fn wait_gone(adapter: &Adapter, location: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match adapter.get_size(location) {
            Err(e) if e.class() == Some(ErrorClass::NotFound) => return,
            other if Instant::now() >= deadline => {
                panic!("{location} still there after delete: {other:?}")
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn read_back(
    adapter: &Adapter,
    dir: &Path,
    location: &str,
    offset: u64,
    length: Option<u64>,
) -> Vec<u8> {
    let out = dir.join("out.bin");
    let n = adapter
        .get(location, offset, length, &out)
        .unwrap_or_else(|e| panic!("get {location} {offset}+{length:?}: {e}"));
    let bytes = std::fs::read(&out).expect("read out file");
    assert_eq!(n, bytes.len() as u64, "reported count equals bytes written");
    bytes
}

fn check_stores(stores: &[Store], expect: &Expect) {
    let got: Vec<(&str, Option<&str>, bool, StoreState)> = stores
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.volume_type.as_deref(),
                s.default,
                s.state,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("fast", Some("glance-fast"), true, StoreState::Enabled),
            ("slow", Some("glance-slow"), false, StoreState::Enabled),
            (
                "broken",
                Some("glance-missing"),
                false,
                expect.missing_type_state
            ),
        ]
    );
}

/// The whole protocol against one adapter.
fn exercise(name: &'static str, command: &AdapterCommand, expect: &Expect) {
    let steps = Steps {
        name,
        started: Instant::now(),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = Emulator::start(&dir.path().join("emulator")).expect("emulator starts");
    let conf = glance_conf(&emulator);
    let cinder = Cinder::new(&emulator);
    let work = dir.path().join("work");

    steps.step("spawn adapter and configure");
    let adapter = Adapter::spawn(command).expect("adapter starts");
    adapter.set_timeout(Duration::from_secs(120));
    let configured = adapter.configure(&conf, &work).expect("configure");
    check_stores(&configured, expect);
    assert!(
        work.join("glance-api.conf").is_file(),
        "config written to work_dir"
    );
    steps.step("stores");
    assert_eq!(adapter.stores().expect("stores"), configured);

    steps.step("add 3 MB, known size, default store");
    let data = content(3_000_000);
    let data_path = dir.path().join("image-3m.bin");
    std::fs::write(&data_path, &data).expect("write image");
    let a = adapter
        .add(
            None,
            "11111111-1111-4111-8111-111111111111",
            Some(3_000_000),
            &data_path,
        )
        .expect("add to default store");
    assert!(a.location.starts_with("cinder://fast/"), "{}", a.location);
    assert_eq!((a.size, a.store.as_str()), (3_000_000, "fast"));
    assert_eq!((a.checksum.as_str(), a.multihash.as_str()), HASHES_3M);

    steps.step("get whole, get ranges, get_size");
    assert!(
        read_back(&adapter, dir.path(), &a.location, 0, None) == data,
        "whole image reads back"
    );
    assert!(
        read_back(&adapter, dir.path(), &a.location, 1_000_000, Some(4096))
            == data[1_000_000..1_004_096],
        "range reads back"
    );
    assert!(
        read_back(&adapter, dir.path(), &a.location, 2_999_000, None) == data[2_999_000..],
        "tail from an offset reads back"
    );
    assert_eq!(adapter.get_size(&a.location).expect("get_size"), 3_000_000);

    steps.step("add 5 MB, unknown size, store slow");
    let data5 = content(5_000_123);
    let data5_path = dir.path().join("image-5m.bin");
    std::fs::write(&data5_path, &data5).expect("write image");
    let b = adapter
        .add(
            Some("slow"),
            "22222222-2222-4222-8222-222222222222",
            None,
            &data5_path,
        )
        .expect("add with unknown size");
    assert!(b.location.starts_with("cinder://slow/"), "{}", b.location);
    assert_eq!((b.size, b.store.as_str()), (5_000_123, "slow"));
    assert_eq!((b.checksum.as_str(), b.multihash.as_str()), HASHES_5M);
    assert_eq!(adapter.get_size(&b.location).expect("get_size"), 5_000_123);
    assert!(
        read_back(&adapter, dir.path(), &b.location, 0, None) == data5,
        "unknown-size image reads back"
    );

    steps.step("add empty image");
    let empty_path = dir.path().join("empty.bin");
    std::fs::write(&empty_path, b"").expect("write image");
    let e = adapter
        .add(
            Some("fast"),
            "33333333-3333-4333-8333-333333333333",
            Some(0),
            &empty_path,
        )
        .expect("add empty");
    assert_eq!(
        (e.size, e.checksum.as_str(), e.multihash.as_str()),
        (0, HASHES_EMPTY.0, HASHES_EMPTY.1)
    );
    assert_eq!(
        read_back(&adapter, dir.path(), &e.location, 0, None),
        Vec::<u8>::new()
    );

    steps.step("refused adds: missing type, unknown store, size mismatch");
    let before = cinder.volume_ids();
    let id4 = "44444444-4444-4444-8444-444444444444";
    assert_eq!(
        class_of(adapter.add(Some("broken"), id4, Some(3_000_000), &data_path)),
        expect.add_to_missing_type
    );
    assert_eq!(
        class_of(adapter.add(Some("nosuch"), id4, Some(3_000_000), &data_path)),
        ErrorClass::BadLocation
    );
    assert_eq!(
        class_of(adapter.add(Some("fast"), id4, Some(5), &data_path)),
        ErrorClass::SizeMismatch
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while cinder.volume_ids() != before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        cinder.volume_ids(),
        before,
        "refused adds leave no volume behind"
    );

    steps.step("delete, then get_size/delete/get again");
    adapter.delete(&a.location).expect("delete");
    wait_gone(&adapter, &a.location);
    assert_eq!(class_of(adapter.delete(&a.location)), ErrorClass::NotFound);
    assert_eq!(
        class_of(adapter.get(&a.location, 0, None, &dir.path().join("x"))),
        expect.get_missing
    );

    steps.step("bad locations");
    let missing = "cinder://fast/6c1e3f1e-8f7a-4d5c-9e0b-1a2b3c4d5e6f";
    for bad in [
        "cinder://fast/not-a-uuid",
        "cinder://fast/6C1E3F1E-8F7A-4D5C-9E0B-1A2B3C4D5E6F",
        "rbd://pool/image",
        "cinder://nosuch/6c1e3f1e-8f7a-4d5c-9e0b-1a2b3c4d5e6f",
    ] {
        assert_eq!(
            class_of(adapter.get_size(bad)),
            ErrorClass::BadLocation,
            "get_size {bad}"
        );
        assert_eq!(
            class_of(adapter.delete(bad)),
            ErrorClass::BadLocation,
            "delete {bad}"
        );
        assert_eq!(
            class_of(adapter.get(bad, 0, None, &dir.path().join("x"))),
            ErrorClass::BadLocation,
            "get {bad}"
        );
    }
    assert_eq!(class_of(adapter.get_size(missing)), ErrorClass::NotFound);

    steps.step("legacy volumes and location upgrades");
    let slow_vol = cinder.legacy_volume(Some("glance-slow"));
    let fast_vol = cinder.legacy_volume(Some("glance-fast"));
    let default_vol = cinder.legacy_volume(None);
    let legacy = |id: &str| format!("cinder://{id}");
    assert_eq!(
        adapter
            .upgrade_location(&legacy(&slow_vol))
            .expect("upgrade"),
        format!("cinder://slow/{slow_vol}")
    );
    assert_eq!(
        adapter
            .upgrade_location(&legacy(&fast_vol))
            .expect("upgrade"),
        format!("cinder://fast/{fast_vol}")
    );
    assert_eq!(
        adapter
            .upgrade_location(&legacy(&default_vol))
            .expect("upgrade"),
        legacy(&default_vol)
    );
    assert_eq!(
        adapter.upgrade_location(&b.location).expect("upgrade"),
        b.location,
        "named store stays"
    );
    let gone = legacy("6c1e3f1e-8f7a-4d5c-9e0b-1a2b3c4d5e6f");
    assert_eq!(
        adapter.upgrade_location(&gone).expect("upgrade"),
        gone,
        "missing volume stays"
    );
    assert_eq!(
        class_of(adapter.upgrade_location("cinder://not-a-uuid")),
        ErrorClass::BadLocation
    );
    let batch = [
        legacy(&slow_vol),
        "cinder://nope".to_string(),
        legacy(&default_vol),
        legacy(&fast_vol),
    ];
    let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
    let results = adapter.upgrade_locations(&refs).expect("upgrade_locations");
    let summary: Vec<Result<String, Option<ErrorClass>>> = results
        .into_iter()
        .map(|r| r.map_err(|e| e.class()))
        .collect();
    assert_eq!(
        summary,
        vec![
            Ok(format!("cinder://slow/{slow_vol}")),
            Err(Some(ErrorClass::BadLocation)),
            Ok(legacy(&default_vol)),
            Ok(format!("cinder://fast/{fast_vol}")),
        ]
    );
    steps.step("read a legacy image through its legacy location");
    assert_eq!(
        adapter
            .get_size(&legacy(&slow_vol))
            .expect("legacy get_size"),
        1 << 30
    );

    steps.step("nothing leaked; shutdown");
    let volume_of = |location: &str| location.rsplit('/').next().unwrap_or_default().to_string();
    let expected: BTreeSet<String> = [
        volume_of(&b.location),
        volume_of(&e.location),
        slow_vol,
        fast_vol,
        default_vol,
    ]
    .into_iter()
    .collect();
    assert_eq!(cinder.volume_ids(), expected);

    steps.step("documented differences: range past the end, over-quota create, Keystone down");
    let got = adapter
        .get(&b.location, 5_000_000, Some(1000), &dir.path().join("x"))
        .map_err(|e| e.class().unwrap_or_else(|| panic!("{e}")));
    assert_eq!(got, expect.range_past_end);
    // demo's project has a 1000 GiB quota; the declared size asks for 1001 GiB.
    let demo = glance_conf_as(&emulator.identity_url(), "demo", "demo", "demo");
    adapter.configure(&demo, &work).expect("configure as demo");
    let huge = 1001u64 << 30;
    assert_eq!(
        class_of(adapter.add(
            Some("fast"),
            "55555555-5555-4555-8555-555555555555",
            Some(huge),
            &data_path
        )),
        expect.over_quota
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let down = format!("http://{}/identity/v3", closed.local_addr().expect("addr"));
    drop(closed);
    let got = adapter
        .configure(&glance_conf_as(&down, "glance", "admin", "service"), &work)
        .map(|stores| {
            let states: BTreeSet<StoreState> = stores.iter().map(|s| s.state).collect();
            assert_eq!(states.len(), 1, "one state for all stores: {stores:?}");
            states.into_iter().next().expect("a state")
        })
        .map_err(|e| e.class().unwrap_or_else(|| panic!("{e}")));
    assert_eq!(got, expect.keystone_down);
    adapter.shutdown().expect("adapter exits 0 on shutdown");
    steps.step("done");
}

#[test]
fn rust_adapter_serves_the_protocol() {
    let command = AdapterCommand::rust(env!("CARGO_BIN_EXE_cinderbox-rust-adapter"));
    exercise("rust", &command, &RUST);
}

#[cfg(feature = "upstream-python")]
#[test]
fn python_glance_store_adapter_serves_the_protocol() {
    let started = Instant::now();
    eprintln!(
        "[python-glance-store] setting up its virtual environment (setup.sh; slow the first time)"
    );
    let python: std::path::PathBuf =
        python_glance_store_setup(None).expect("setup.sh builds the venv");
    eprintln!(
        "[python-glance-store] venv ready in {:.1}s: {}",
        started.elapsed().as_secs_f64(),
        python.display()
    );
    exercise(
        "python-glance-store",
        &AdapterCommand::python_glance_store(python),
        &PYTHON_GLANCE_STORE,
    );
}

/// A stand-in adapter written in sh, for the client's own failure handling.
fn sh_adapter(script: &str) -> Adapter {
    Adapter::spawn(&AdapterCommand {
        name: "sh".into(),
        program: "sh".into(),
        args: vec!["-c".into(), script.into()],
        env: Vec::new(),
    })
    .expect("sh starts")
}

#[test]
fn unknown_op_is_unsupported_and_ids_advance() {
    let adapter = Adapter::spawn(&AdapterCommand::rust(env!(
        "CARGO_BIN_EXE_cinderbox-rust-adapter"
    )))
    .expect("adapter starts");
    for _ in 0..3 {
        let err = adapter
            .call("frobnicate", serde_json::json!({}))
            .expect_err("unknown op");
        assert_eq!(err.class(), Some(ErrorClass::Unsupported), "{err}");
    }
    assert_eq!(
        class_of(adapter.stores()),
        ErrorClass::Invalid,
        "stores before configure"
    );
    adapter.shutdown().expect("shutdown");
}

#[test]
fn a_silent_adapter_times_out_and_stays_broken() {
    let adapter = sh_adapter("cat > /dev/null");
    adapter.set_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let err = adapter.stores().expect_err("no answer");
    // the wait lasted its timeout; that it ended at all is the upper bound
    assert!(
        matches!(&err, AdapterError::Timeout { op, .. } if op == "stores"),
        "{err}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "waited its timeout"
    );
    let again = adapter.stores().expect_err("broken after a timeout");
    assert!(matches!(again, AdapterError::Protocol(_)), "{again}");
}

#[test]
fn a_wrong_id_or_a_crash_is_a_protocol_error() {
    let liar = sh_adapter(r#"read line; echo '{"id":99,"ok":true,"result":[]}'; cat > /dev/null"#);
    let err = liar.stores().expect_err("wrong id");
    assert!(
        matches!(&err, AdapterError::Protocol(m) if m.contains("id Some(99)")),
        "{err}"
    );

    let crasher = sh_adapter("read line; echo boom >&2; exit 3");
    let err = crasher.stores().expect_err("crash");
    assert!(
        matches!(&err, AdapterError::Protocol(m) if m.contains("exited")),
        "{err}"
    );
}
