//! Snapshots and clones with real bytes, through attachments (the connection info's
//! `device_path` is the volume's file): a volume from a snapshot holds the bytes the
//! volume had when the snapshot was taken, a clone holds its source's bytes, both may
//! be larger; unknown sources are Cinder's 404; fault rules make snapshot jobs stick or
//! fail; everything survives a restart, and start-up recovery settles stuck snapshots.

use crate::common;
use crate::fault_support::Control;
use crate::snapshots::{available_snapshot, create_snapshot, message, wait_snapshot};

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use common::{spawn_emulator, Api};
use serde_json::{json, Value};

const GIB: u64 = 1 << 30;

fn connector() -> Value {
    json!({"initiator": "iqn.1993-08.org.debian:01:snapdata", "ip": "127.0.0.1",
           "host": "snapdata", "platform": "x86_64", "os_type": "linux", "multipath": false})
}

/// Attaches `vid` read-write (3.54 attachments API) and returns (attachment, device path).
fn attach(api: &Api, vid: &str) -> (String, String) {
    let api = api.at("3.54");
    let (code, body) = api.post(
        "/attachments",
        json!({"attachment": {"volume_uuid": vid, "connector": connector(), "mode": "rw"}}),
    );
    assert_eq!(code, 200, "{body}");
    let aid = body["attachment"]["id"].as_str().unwrap().to_string();
    let path = body["attachment"]["connection_info"]["device_path"]
        .as_str()
        .unwrap_or_else(|| panic!("no device_path in {body}"))
        .to_string();
    let (code, _) = api.post(
        &format!("/attachments/{aid}/action"),
        json!({"os-complete": {}}),
    );
    assert_eq!(code, 204);
    (aid, path)
}

fn detach(api: &Api, aid: &str) {
    let (code, body) = api.at("3.54").delete(&format!("/attachments/{aid}"));
    assert_eq!(code, 200, "{body}");
}

/// Writes `pattern` at `offsets` of the volume's file, through an attachment.
fn write_through(api: &Api, vid: &str, pattern: &[u8], offsets: &[u64]) {
    let (aid, path) = attach(api, vid);
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    for off in offsets {
        f.write_all_at(pattern, *off).unwrap();
    }
    f.sync_all().unwrap();
    drop(f);
    detach(api, &aid);
}

/// Reads `len` bytes at `off` of the volume's file, through an attachment; also
/// returns the file's length.
fn read_through(api: &Api, vid: &str, off: u64, len: usize) -> (Vec<u8>, u64) {
    let (aid, path) = attach(api, vid);
    let f = OpenOptions::new().read(true).open(&path).unwrap();
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, off).unwrap();
    let size = f.metadata().unwrap().len();
    drop(f);
    detach(api, &aid);
    (buf, size)
}

fn pattern(tag: u8) -> Vec<u8> {
    (0..64 * 1024).map(|i| tag ^ (i % 253) as u8 | 1).collect()
}

fn create_from(api: &Api, key: &str, id: &str, size: Option<u64>) -> (u16, Value) {
    let mut v = json!({ key: id });
    if let Some(s) = size {
        v["size"] = json!(s);
    }
    api.post("/volumes", json!({ "volume": v }))
}

#[test]
fn a_volume_from_a_snapshot_reads_the_bytes_of_that_moment_and_a_clone_reads_its_sources() {
    let env = spawn_emulator();
    let api = env.login("demo", "demo");
    let vid = api.available_volume(1, None);
    let (first, second) = (pattern(0x11), pattern(0x77));
    let offsets = [0, 300 << 20, GIB - first.len() as u64];
    write_through(&api, &vid, &first, &offsets);
    let sid = available_snapshot(&api, &vid);
    write_through(&api, &vid, &second, &offsets);

    let (code, body) = create_from(&api, "snapshot_id", &sid, Some(2));
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["volume"]["snapshot_id"], sid.as_str());
    let restored = body["volume"]["id"].as_str().unwrap().to_string();
    api.wait_status(&restored, "available");
    for off in offsets {
        let (got, size) = read_through(&api, &restored, off, first.len());
        assert_eq!(got, first, "volume from snapshot at {off}");
        assert_eq!(size, 2 * GIB);
    }
    let (tail, _) = read_through(&api, &restored, GIB + 4096, 4096);
    assert!(tail.iter().all(|b| *b == 0), "the grown part reads zeros");

    // Without a size the new volume takes the snapshot's; a clone takes its source's
    // bytes as they are now.
    let (code, body) = create_from(&api, "source_volid", &vid, None);
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["volume"]["source_volid"], vid.as_str());
    assert_eq!(body["volume"]["size"], 1);
    let clone = body["volume"]["id"].as_str().unwrap().to_string();
    api.wait_status(&clone, "available");
    for off in offsets {
        assert_eq!(
            read_through(&api, &clone, off, second.len()).0,
            second,
            "clone at {off}"
        );
    }
    // The snapshot itself still holds the first bytes after all that.
    let snap_file = env
        .emu
        .data_dir
        .join("volumes")
        .join(format!("snapshot-{sid}"));
    let f = std::fs::File::open(snap_file).unwrap();
    let mut buf = vec![0u8; first.len()];
    f.read_exact_at(&mut buf, 300 << 20).unwrap();
    assert_eq!(buf, first);
}

#[test]
fn sources_are_checked_as_cinder_checks_them() {
    let env = spawn_emulator();
    let api = env.login("demo", "demo");
    let nil = "00000000-0000-0000-0000-000000000000";
    let (code, body) = create_from(&api, "snapshot_id", nil, Some(1));
    assert_eq!(
        (code, message(&body)),
        (404, format!("Snapshot {nil} could not be found."))
    );
    let (code, body) = create_from(&api, "source_volid", nil, None);
    assert_eq!(
        (code, message(&body)),
        (404, format!("Volume {nil} could not be found."))
    );
    let vid = api.available_volume(2, None);
    let sid = available_snapshot(&api, &vid);
    let (code, body) = create_from(&api, "snapshot_id", &sid, Some(1));
    assert_eq!(code, 400);
    assert_eq!(
        message(&body),
        "Invalid input received: Volume size '1'GB cannot be smaller than the snapshot size 2GB. They must be >= original snapshot size."
    );
    let (code, body) = create_from(&api, "source_volid", &vid, Some(1));
    assert_eq!(code, 400);
    assert!(message(&body).contains("cannot be smaller than original volume size  2GB"));
    // Another project can use neither.
    let other = env.login("alt_demo", "alt_demo");
    assert_eq!(create_from(&other, "snapshot_id", &sid, None).0, 404);
    assert_eq!(create_from(&other, "source_volid", &vid, None).0, 404);
    // A snapshot that is not available is refused.
    let admin = env.admin();
    let (code, _) = admin.post(
        &format!("/snapshots/{sid}/action"),
        json!({"os-reset_status": {"status": "error"}}),
    );
    assert_eq!(code, 202);
    let (code, body) = create_from(&api, "snapshot_id", &sid, None);
    assert_eq!(code, 400);
    assert_eq!(
        message(&body),
        "Invalid snapshot: Originating snapshot status must be one of 'available' values"
    );
}

#[test]
fn fault_rules_make_snapshot_jobs_stay_or_fail() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let api = env.login("demo", "demo");
    ctl.add(json!({"id": "stay", "operation": "snapshot.create", "volume_name": "stuck", "effect": {"transition": "stay"}}));
    ctl.add(json!({"id": "fail", "operation": "snapshot.create", "volume_name": "broken", "effect": {"transition": "fail"}}));
    ctl.add(json!({"id": "del", "operation": "snapshot.delete", "volume_name": "broken", "effect": {"transition": "fail"}}));
    let named = |name: &str| {
        let (code, body) = api.post("/volumes", json!({"volume": {"size": 1, "name": name}}));
        assert_eq!(code, 202, "{body}");
        let id = body["volume"]["id"].as_str().unwrap().to_string();
        api.wait_status(&id, "available");
        id
    };
    let stuck = named("stuck");
    let broken = named("broken");
    let s_stuck = create_snapshot(&api, &stuck, json!({}))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let s_broken = create_snapshot(&api, &broken, json!({}))["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_snapshot(&api, &s_broken, "error");
    assert_eq!(api.delete(&format!("/snapshots/{s_broken}")).0, 202);
    wait_snapshot(&api, &s_broken, "error_deleting");
    assert_eq!(ctl.counters("fail").1, 1);
    assert_eq!(ctl.counters("del").1, 1);
    assert_eq!(
        api.get(&format!("/snapshots/{s_stuck}")).1["snapshot"]["status"],
        "creating"
    );

    // A restart settles what was left: creating becomes error (Cinder's cleanup).
    let env = env.restart();
    let api = env.login("demo", "demo");
    wait_snapshot(&api, &s_stuck, "error");
    wait_snapshot(&api, &s_broken, "error_deleting");
}

#[test]
fn snapshots_and_their_bytes_survive_a_restart_and_interrupted_deletes_resume() {
    let env = spawn_emulator();
    let api = env.login("demo", "demo");
    let vid = api.available_volume(1, None);
    let data = pattern(0x42);
    write_through(&api, &vid, &data, &[4096]);
    let keep = available_snapshot(&api, &vid);
    let (code, _) = api.post(
        &format!("/snapshots/{keep}/metadata"),
        json!({"metadata": {"kept": "yes"}}),
    );
    assert_eq!(code, 200);
    let doomed = available_snapshot(&api, &vid);
    let ctl = Control::new(&env);
    ctl.add(
        json!({"id": "hold", "operation": "snapshot.delete", "effect": {"transition": "stay"}}),
    );
    assert_eq!(api.delete(&format!("/snapshots/{doomed}")).0, 202);
    wait_snapshot(&api, &doomed, "deleting");
    let dir = env.emu.data_dir.clone();
    assert!(dir
        .join("volumes")
        .join(format!("snapshot-{doomed}"))
        .exists());

    let env = env.restart();
    let api = env.login("demo", "demo");
    let s = wait_snapshot(&api, &keep, "available");
    assert_eq!(s["metadata"], json!({"kept": "yes"}));
    wait_snapshot(&api, &doomed, "deleted");
    assert!(!dir
        .join("volumes")
        .join(format!("snapshot-{doomed}"))
        .exists());
    let (code, body) = create_from(&api, "snapshot_id", &keep, None);
    assert_eq!(code, 202, "{body}");
    let restored = body["volume"]["id"].as_str().unwrap().to_string();
    api.wait_status(&restored, "available");
    assert_eq!(read_through(&api, &restored, 4096, data.len()).0, data);
}
