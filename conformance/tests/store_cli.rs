//! Black-box tests of the `cinderbox-store` binary against an embedded emulator: every exit
//! code, `--json`, uploads from pipes and FIFOs of unknown size, a closed stdout, the spec's
//! Examples 1 and 2 verbatim, stores with different users, a `__DEFAULT__` store, a Cinder
//! whose default type is not `__DEFAULT__`, the refused cross-store delete, and one
//! Keystone token for stores that share credentials.

mod driver_support;
mod store_cli_support;

use driver_support::{hash_all, Admin, Generated, GIB, MIB};
use store_cli_support::{cli, cli_with_stdin, world, Cloud, TokenCounter};

/// The spec's Example 1 exactly as printed (indentation removed).
const EXAMPLE_1: &str = include_str!("../../fixtures/glance-api/spec-example-1.conf");

/// The spec's Example 2 "after upgrade" exactly as printed (indentation removed).
const EXAMPLE_2_AFTER: &str = include_str!("../../fixtures/glance-api/spec-example-2-after.conf");

/// Only the auth address changes: it points at the emulator.
fn pointed_at(example: &str, identity: &str) -> String {
    example.replace("http://localhost/identity/v3", identity)
}

fn unchanged_world() -> cinderbox_emulator::config::World {
    world(|t| t)
}

fn image(cloud: &Cloud, name: &str, len: u64) -> (std::path::PathBuf, String) {
    let path = cloud.dir.path().join(name);
    let mut f = std::fs::File::create(&path).expect("image file");
    std::io::copy(&mut Generated::new(len), &mut f).expect("image written");
    let (_, md5, _) = hash_all(Generated::new(len)).expect("hash");
    (path, md5)
}

#[test]
fn spec_example_1_verbatim() {
    let cloud = Cloud::start(unchanged_world());
    let admin = Admin::login(&cloud.emulator.base_url);
    let config = cloud.config(
        "example1.conf",
        &pointed_at(EXAMPLE_1, &cloud.emulator.identity_url()),
    );
    let listed = cli(&config, &["--json", "stores"])
        .expect(0, "stores")
        .json();
    let states: Vec<(String, String, bool)> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_string(),
                s["state"].as_str().unwrap_or_default().to_string(),
                s["default"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("fast".into(), "enabled".into(), true),
            ("slow".into(), "enabled".into(), false)
        ]
    );
    let (path, md5) = image(&cloud, "img.bin", 3 * MIB + 5);
    let path = path.to_str().expect("utf-8");
    for (store, volume_type) in [("fast", "glance-fast"), ("slow", "glance-slow")] {
        let added = cli(&config, &["--json", "upload", "--store", store, path])
            .expect(0, "upload")
            .json();
        let location = added["location"].as_str().expect("location").to_string();
        assert!(
            location.starts_with(&format!("cinder://{store}/")),
            "{added}"
        );
        assert_eq!(added["checksum"].as_str(), Some(md5.as_str()), "{added}");
        assert_eq!(added["size"].as_u64(), Some(3 * MIB + 5));
        let id = location.rsplit('/').next().expect("id");
        let volume = admin.volume(id).expect("volume exists");
        assert_eq!(volume["volume_type"].as_str(), Some(volume_type));
        let size = cli(&config, &["size", &location]).expect(0, "size");
        assert_eq!(size.stdout.trim(), (3 * MIB + 5).to_string());
        let out = cloud.dir.path().join(format!("{store}.out"));
        cli(
            &config,
            &["download", &location, "-o", out.to_str().expect("utf-8")],
        )
        .expect(0, "download");
        let (bytes, got, _) =
            hash_all(std::fs::File::open(&out).expect("downloaded")).expect("hash");
        assert_eq!((bytes, got), (3 * MIB + 5, md5.clone()));
        cli(&config, &["delete", &location]).expect(0, "delete");
        assert!(admin.volume(id).is_none(), "volume {id} deleted");
    }
    admin.assert_nothing_left("after example 1");
}

/// A legacy image volume as the single store of "Example config before upgrade" left it:
/// type glance-old, in the service project, named and tagged like an image.
fn legacy_volume(cloud: &Cloud) -> String {
    let single = cloud.config(
        "before.conf",
        &format!(
            "[glance_store]\nstores = cinder, file, http\ndefault_store = cinder\n\
             cinder_state_transition_timeout = 300\nrootwrap_config = /etc/glance/rootwrap.conf\n\
             cinder_catalog_info = volumev2::publicURL\ncinder_volume_type = glance-old\n\
             cinder_store_auth_address = {}\ncinder_store_user_name = glance\n\
             cinder_store_password = admin\ncinder_store_project_name = service\n",
            cloud.emulator.identity_url()
        ),
    );
    let (path, _) = image(cloud, "legacy.bin", MIB);
    let run = cli(&single, &["upload", path.to_str().expect("utf-8")]).expect(0, "legacy upload");
    let location = run.stdout.trim().to_string();
    assert!(
        !location.contains("/old/") && location.starts_with("cinder://"),
        "{location}"
    );
    location
}

#[test]
fn spec_example_2_verbatim_and_the_refused_cross_store_delete() {
    let cloud = Cloud::start(unchanged_world());
    let admin = Admin::login(&cloud.emulator.base_url);
    let config = cloud.config(
        "example2.conf",
        &pointed_at(EXAMPLE_2_AFTER, &cloud.emulator.identity_url()),
    );
    let legacy = legacy_volume(&cloud);
    let id = legacy.trim_start_matches("cinder://").to_string();
    // Verbatim, `old`'s type is "glance-old # as per old cinder.conf": oslo.config keeps
    // inline comments in values, so that type does not exist and `old` is disabled.
    let listed = cli(&config, &["stores"]).expect(0, "stores answers");
    assert!(listed.stderr.contains("inline comment"), "{listed:?}");
    let old_row = listed
        .stdout
        .lines()
        .find(|l| l.starts_with("old"))
        .expect("old listed");
    assert!(old_row.contains("disabled("), "{old_row}");
    // nothing matches glance-old: the location stays as it is (and it is not an error)
    let upgraded = cli(&config, &["upgrade-location", &legacy]).expect(0, "upgrade");
    assert_eq!(upgraded.stdout.trim(), legacy);
    // item 8: the legacy volume is never deleted through the default store `new`
    let refused = cli(&config, &["delete", &legacy]).expect(2, "legacy delete refused");
    assert!(refused.stderr.contains("glance-old"), "{refused:?}");
    let refused = cli(&config, &["delete", &format!("cinder://new/{id}")])
        .expect(2, "delete through new refused");
    assert!(refused.stderr.contains("not 'new'"), "{refused:?}");
    assert!(
        admin.volume(&id).is_some(),
        "the legacy volume is still there"
    );
    // with the comment on its own line, `old` serves the type: upgrade, then delete
    let fixed = cloud.config(
        "example2-fixed.conf",
        &pointed_at(EXAMPLE_2_AFTER, &cloud.emulator.identity_url()).replace(
            "cinder_volume_type = glance-old # as per old cinder.conf",
            "# as per old cinder.conf\ncinder_volume_type = glance-old",
        ),
    );
    let upgraded = cli(&fixed, &["upgrade-location", &legacy]).expect(0, "upgrade");
    assert_eq!(upgraded.stdout.trim(), format!("cinder://old/{id}"));
    let refused =
        cli(&fixed, &["delete", &format!("cinder://new/{id}")]).expect(2, "still not through new");
    assert!(
        refused.stderr.contains("belongs to store 'old'") || refused.stderr.contains("not 'new'"),
        "{refused:?}"
    );
    cli(&fixed, &["delete", &legacy]).expect(0, "legacy delete through old");
    assert!(admin.volume(&id).is_none());
    admin.assert_nothing_left("after example 2");
}

#[test]
fn every_exit_code_with_and_without_json() {
    let cloud = Cloud::start(unchanged_world());
    let admin = Admin::login(&cloud.emulator.base_url);
    let identity = cloud.emulator.identity_url();
    let store = |name: &str, vtype: &str, auth: &str, password: &str| {
        format!(
            "\n[{name}]\ncinder_volume_type = {vtype}\ncinder_store_auth_address = {auth}\n\
             cinder_store_user_name = glance\ncinder_store_password = {password}\n\
             cinder_store_project_name = service\ncinder_http_retries = 0\n\
             cinder_http_timeout = 5\ncinder_state_transition_timeout = 10\n"
        )
    };
    let good = cloud.config(
        "good.conf",
        &format!(
            "[DEFAULT]\nenabled_backends = fast:cinder, broken:cinder\n[glance_store]\ndefault_backend = fast\n{}{}",
            store("fast", "glance-fast", &identity, "admin"),
            store("broken", "glance-missing", &identity, "admin")
        ),
    );
    // port 9 (discard) on loopback: nothing listens
    let down =
        cloud.config(
            "down.conf",
            &format!(
            "[DEFAULT]\nenabled_backends = fast:cinder\n[glance_store]\ndefault_backend = fast\n{}",
            store("fast", "glance-fast", "http://127.0.0.1:9/identity/v3", "admin")
        ),
        );
    let wrong_password = cloud.config(
        "wrong.conf",
        &format!(
            "[DEFAULT]\nenabled_backends = a:cinder, b:cinder\n[glance_store]\ndefault_backend = a\n{}{}",
            store("a", "glance-fast", &identity, "nope"),
            store("b", "glance-slow", &identity, "nope")
        ),
    );
    let (path, _) = image(&cloud, "small.bin", 2 * MIB);
    let path = path.to_str().expect("utf-8");
    let location = cli(&good, &["upload", path])
        .expect(0, "upload")
        .stdout
        .trim()
        .to_string();
    let missing = "cinder://fast/4b4ec6c4-cf65-4b2b-9f6c-2c6c2d2bd5c1";
    let dir = cloud.dir.path().to_str().expect("utf-8").to_string();
    let bad_output = format!("{dir}/no/such/dir/out");
    let cases: Vec<(&std::path::Path, Vec<&str>, i32, &str)> = vec![
        (&good, vec!["size", &location], 0, ""),
        (
            std::path::Path::new("nonexistent.conf"),
            vec!["stores"],
            2,
            "nonexistent.conf: cannot read the file",
        ),
        (&good, vec!["size", "cinder://fast/not-a-uuid"], 2, ""),
        (
            &good,
            vec!["upload", "--image-id", "not a uuid/../x", path],
            2,
            "for '--image-id",
        ),
        (&good, vec!["upload", &dir], 2, "directory"),
        (
            &good,
            vec!["upload", "--store", "nope", path],
            2,
            "unknown store 'nope'",
        ),
        (
            &good,
            vec!["upload", "--size", "5", path],
            2,
            "Size exceeds",
        ),
        (&good, vec!["size", missing], 3, "not found"),
        (&good, vec!["delete", missing], 3, "not found"),
        (
            &good,
            vec!["upload", "--store", "broken", path],
            4,
            "glance-missing",
        ),
        (&down, vec!["upload", path], 5, "cannot reach Keystone"),
        (&down, vec!["stores"], 5, "could not be checked"),
        (
            &wrong_password,
            vec![
                "upgrade-location",
                "cinder://4b4ec6c4-cf65-4b2b-9f6c-2c6c2d2bd5c1",
            ],
            5,
            "HTTP 401",
        ),
        (
            &good,
            vec!["download", &location, "-o", &bad_output],
            5,
            "cannot write",
        ),
    ];
    for (config, args, code, message) in cases {
        let plain = cli(config, &args).expect(code, &format!("{args:?}"));
        assert!(plain.stderr.contains(message), "{args:?}: {plain:#?}");
        if code != 0 {
            let errors = plain
                .stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .count();
            assert_eq!(errors, 1, "said once: {plain:#?}");
            if !message.is_empty() {
                assert_eq!(
                    plain.stderr.matches(message).count(),
                    1,
                    "said once: {plain:#?}"
                );
            }
            // clap's own usage errors are not ours to format as JSON
            if args.contains(&"--image-id") {
                continue;
            }
            let mut json_args = vec!["--json"];
            json_args.extend(args.iter().copied());
            let json = cli(config, &json_args).expect(code, &format!("--json {args:?}"));
            // batch rows carry their own errors on stdout; other errors are on stderr
            let error: serde_json::Value = if args[0] == "upgrade-location" {
                json.json()[0].clone()
            } else {
                serde_json::from_str(json.stderr.lines().last().unwrap_or_default())
                    .unwrap_or_else(|e| panic!("JSON error ({e}): {json:#?}"))
            };
            assert_eq!(
                error["exit_code"].as_i64(),
                Some(i64::from(code)),
                "{error}"
            );
        }
    }
    // the directory and the unknown store created nothing; the rest cleaned up
    cli(&good, &["delete", &location]).expect(0, "delete");
    admin.assert_nothing_left("after the exit codes");
    // an unknown option warns once per command, in a store's and in the shared section,
    // however many stores the command checks
    let typo = cloud.config(
        "typo.conf",
        &format!(
            "[DEFAULT]\nenabled_backends = fast:cinder, slow:cinder\n[glance_store]\ndefault_backend = fast\n\
             [backend_defaults]\ncinder_bogus_default = 1\n{}cinder_volume_typo = x\n{}",
            store("fast", "glance-fast", &identity, "admin"),
            store("slow", "glance-slow", &identity, "admin")
        ),
    );
    for args in [vec!["stores"], vec!["size", location.as_str()]] {
        let run = cli(&typo, &args);
        for key in ["cinder_bogus_default", "cinder_volume_typo"] {
            let warnings = run
                .stderr
                .lines()
                .filter(|l| l.contains(key) && l.contains("unknown option"))
                .count();
            assert_eq!(warnings, 1, "{key} in {args:?}: {run:#?}");
        }
    }
    // a batch with a bad row: every input line has its output line, the error said once
    let batch = cli(&good, &["upgrade-location", "cinder://bad", missing]).expect(2, "batch");
    assert_eq!(
        batch.stdout.lines().collect::<Vec<_>>(),
        vec!["cinder://bad", missing]
    );
    assert_eq!(
        batch.stderr.matches("cinder://bad").count(),
        1,
        "{batch:#?}"
    );
    // no ANSI colour codes when stderr is not a terminal
    assert!(!batch.stderr.contains('\u{1b}'), "{batch:#?}");
}

#[test]
fn pipes_and_fifos_upload_with_unknown_size_across_a_gib() {
    let cloud = Cloud::start(unchanged_world());
    let admin = Admin::login(&cloud.emulator.base_url);
    let config = cloud.config(
        "example1.conf",
        &pointed_at(EXAMPLE_1, &cloud.emulator.identity_url()),
    );
    // stdin: 1 GiB + 3 MiB + 7, so the volume grows from 1 to 2 GiB mid-stream
    let len = GIB + 3 * MIB + 7;
    let (_, md5, sha256) = hash_all(Generated::new(len)).expect("hash");
    let added = cli_with_stdin(&config, &["--json", "upload", "-"], Generated::new(len))
        .expect(0, "stdin upload")
        .json();
    assert_eq!(added["size"].as_u64(), Some(len), "{added}");
    assert_eq!(added["checksum"].as_str(), Some(md5.as_str()));
    assert_eq!(added["multihash"].as_str(), Some(sha256.as_str()));
    let location = added["location"].as_str().expect("location").to_string();
    let id = location.rsplit('/').next().expect("id").to_string();
    let volume = admin.volume(&id).expect("volume");
    assert_eq!(volume["size"].as_u64(), Some(2), "{volume}");
    assert_eq!(
        volume["metadata"]["image_size"].as_str(),
        Some(len.to_string().as_str())
    );
    cli(&config, &["-q", "delete", &location]).expect(0, "delete");
    // a FIFO (what `upload <(cat img)` hands over is the same kind of file)
    let fifo = cloud.dir.path().join("image.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let small = 5 * MIB + 1;
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(&fifo)
                .expect("fifo opens");
            std::io::copy(&mut Generated::new(small), &mut f).expect("fifo written");
        })
    };
    let added = cli(
        &config,
        &["--json", "upload", fifo.to_str().expect("utf-8")],
    )
    .expect(0, "fifo upload")
    .json();
    writer.join().expect("writer");
    assert_eq!(added["size"].as_u64(), Some(small), "{added}");
    cli(
        &config,
        &["delete", added["location"].as_str().expect("location")],
    )
    .expect(0, "delete");
    admin.assert_nothing_left("after the pipes");
}

#[test]
fn a_closed_stdout_ends_the_download_quietly_and_detaches() {
    let cloud = Cloud::start(unchanged_world());
    let admin = Admin::login(&cloud.emulator.base_url);
    let config = cloud.config(
        "example1.conf",
        &pointed_at(EXAMPLE_1, &cloud.emulator.identity_url()),
    );
    let (path, _) = image(&cloud, "img.bin", 64 * MIB);
    let location = cli(&config, &["upload", path.to_str().expect("utf-8")])
        .expect(0, "upload")
        .stdout
        .trim()
        .to_string();
    let mut child = std::process::Command::new(store_cli_support::BIN)
        .arg("-c")
        .arg(&config)
        .args(["download", &location])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut head = vec![0u8; 4096];
    std::io::Read::read_exact(&mut stdout, &mut head).expect("first bytes");
    drop(stdout); // like `| head -c 4096`
    let out = child.wait_with_output().expect("ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.trim().is_empty(), "quiet: {stderr}");
    assert_eq!(&head[..], &Generated::new(64 * MIB).slice(0, 4096)[..]);
    assert!(admin.all_attachments().is_empty(), "detached");
    cli(&config, &["delete", &location]).expect(0, "delete");
}

#[test]
fn stores_with_different_users_default_types_and_shared_tokens() {
    // Cinder's default type is glance-fast, not __DEFAULT__; a second Glance user in
    // its own project with its own password
    let cloud = Cloud::start(world(|t| {
        t.replace(
            "default_volume_type = \"__DEFAULT__\"",
            "default_volume_type = \"glance-fast\"",
        ) + "\n[[projects]]\nname = \"images2\"\nquotas = { volumes = -1, gigabytes = -1 }\n\
             \n[[users]]\nname = \"glance2\"\npassword = \"other-secret\"\n\
             roles = [{ project = \"images2\", role = \"admin\" }]\n"
    }));
    let admin = Admin::login(&cloud.emulator.base_url);
    let counter = TokenCounter::start(cloud.emulator.addr);
    let auth = format!("{}/identity/v3", counter.url);
    let section =
        |name: &str, vtype: Option<&str>, user: &str, password: &str, project: &str| {
            format!(
            "\n[{name}]\n{}cinder_store_auth_address = {auth}\ncinder_store_user_name = {user}\n\
             cinder_store_password = {password}\ncinder_store_project_name = {project}\n",
            vtype.map(|t| format!("cinder_volume_type = {t}\n")).unwrap_or_default()
        )
        };
    let header = "[DEFAULT]\nenabled_backends = fast:cinder, dflt:cinder, slow:cinder\n[glance_store]\ndefault_backend = fast\n";
    let shared = cloud.config(
        "shared.conf",
        &format!(
            "{header}{}{}{}",
            section("fast", Some("glance-fast"), "glance", "admin", "service"),
            section("dflt", Some("__DEFAULT__"), "glance", "admin", "service"),
            section("slow", Some("glance-slow"), "glance", "admin", "service"),
        ),
    );
    // one store without a type: it uses Cinder's default type, here glance-fast
    let lone = cloud.config(
        "lone.conf",
        &format!(
            "[DEFAULT]\nenabled_backends = plain:cinder\n[glance_store]\ndefault_backend = plain\n{}",
            section("plain", None, "glance", "admin", "service"),
        ),
    );
    // three stores, one user: one token for a command that checks all three
    let before = counter.tokens();
    cli(&shared, &["stores"]).expect(0, "stores");
    assert_eq!(counter.tokens() - before, 1, "one token for three stores");
    let (path, _) = image(&cloud, "img.bin", MIB);
    let path = path.to_str().expect("utf-8");
    let mut ids = Vec::new();
    for (config, store, expected_type, owner) in [
        (&lone, "plain", "glance-fast", "plain"),
        (&shared, "dflt", "__DEFAULT__", "dflt"),
    ] {
        let before = counter.tokens();
        let location = cli(config, &["upload", "--store", store, path])
            .expect(0, store)
            .stdout
            .trim()
            .to_string();
        assert_eq!(counter.tokens() - before, 1, "one token per command");
        let id = location.rsplit('/').next().expect("id").to_string();
        let volume = admin.volume(&id).expect("volume");
        assert_eq!(
            volume["volume_type"].as_str(),
            Some(expected_type),
            "{store}"
        );
        // a legacy location of it upgrades to the store its type belongs to
        let upgraded =
            cli(config, &["upgrade-location", &format!("cinder://{id}")]).expect(0, "upgrade");
        assert_eq!(upgraded.stdout.trim(), format!("cinder://{owner}/{id}"));
        ids.push((config.clone(), store, id));
    }
    // plain's glance-fast volume belongs to `fast` under the three-store configuration
    let upgraded = cli(
        &shared,
        &["upgrade-location", &format!("cinder://{}", ids[0].2)],
    )
    .expect(0, "upgrade");
    assert_eq!(
        upgraded.stdout.trim(),
        format!("cinder://fast/{}", ids[0].2)
    );
    // the same stores, `slow` as a different user: never the other user's token
    let mixed = cloud.config(
        "mixed.conf",
        &format!(
            "{header}{}{}{}",
            section("fast", Some("glance-fast"), "glance", "admin", "service"),
            section("dflt", Some("__DEFAULT__"), "glance", "admin", "service"),
            section(
                "slow",
                Some("glance-slow"),
                "glance2",
                "other-secret",
                "images2"
            ),
        ),
    );
    let before = counter.tokens();
    cli(&mixed, &["stores"]).expect(0, "stores");
    assert_eq!(counter.tokens() - before, 2, "two users, two tokens");
    let location = cli(&mixed, &["upload", "--store", "slow", path])
        .expect(0, "upload as glance2")
        .stdout
        .trim()
        .to_string();
    let id = location.rsplit('/').next().expect("id").to_string();
    let volume = admin.volume(&id).expect("volume");
    let images2 = volume["os-vol-tenant-attr:tenant_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!images2.is_empty(), "{volume}");
    let (_, _, plain_id) = &ids[0];
    let plain_volume = admin.volume(plain_id).expect("volume");
    assert_ne!(
        plain_volume["os-vol-tenant-attr:tenant_id"].as_str(),
        Some(images2.as_str()),
        "the two users' volumes live in their own projects"
    );
    // a wrong password on one store leaves the others working and shares nothing
    let wrong = cloud.config(
        "wrong.conf",
        &format!(
            "{header}{}{}{}",
            section("fast", Some("glance-fast"), "glance", "admin", "service"),
            section("dflt", Some("__DEFAULT__"), "glance", "wrong", "service"),
            section("slow", Some("glance-slow"), "glance", "admin", "service"),
        ),
    );
    let listed = cli(&wrong, &["stores"]).expect(5, "one store cannot be checked");
    assert!(
        listed
            .stdout
            .contains("fast (default)\tcinder\ttype=glance-fast\tenabled"),
        "{listed:#?}"
    );
    assert!(
        listed
            .stdout
            .contains("dflt\tcinder\ttype=__DEFAULT__\tunverified("),
        "{listed:#?}"
    );
    cli(&mixed, &["delete", &location]).expect(0, "delete as glance2");
    for (config, store, id) in &ids {
        cli(config, &["delete", &format!("cinder://{store}/{id}")]).expect(0, "delete");
    }
    admin.assert_nothing_left("after the users");
}

/// `Stores::trust_cinder_for_tests`: the same planted lie is caught by default and goes
/// unnoticed when the read-back checks are off (what the conformance suite relies on).
#[test]
fn trusting_cinder_lets_a_planted_wrong_type_through() {
    use cinderbox_driver::{AddRequest, DriverError};
    let cloud = driver_support::Cloud::start(Some("wrong-volume-type"));
    let text = driver_support::config_text(
        &cloud.identity_url(),
        &[("fast", "glance-fast")],
        &driver_support::Timeouts::default(),
        "",
    );
    let checking = driver_support::configure(&text);
    let err = checking
        .add(
            None,
            &AddRequest::new("img-checked", Some(3)),
            &mut &b"abc"[..],
        )
        .expect_err("the lie is caught");
    assert!(matches!(err, DriverError::Inconsistent(_)), "{err}");
    let mut trusting = driver_support::configure(&text);
    trusting.trust_cinder_for_tests();
    let added = trusting
        .add(
            None,
            &AddRequest::new("img-trusted", Some(3)),
            &mut &b"abc"[..],
        )
        .expect("a trusting driver does not notice");
    let id = added.location.rsplit('/').next().expect("id");
    let volume = cloud.admin.volume(id).expect("volume kept");
    assert_ne!(
        volume["volume_type"].as_str(),
        Some("glance-fast"),
        "{volume}"
    );
    trusting.delete(&added.location).expect("delete");
}
