//! Backups over real HTTP: the views and statuses of create, list, show, restore and
//! delete; bytes through attachments (backup → overwrite → restore gives the original
//! bytes back; an incremental backup stores only the changed extents; a corrupt object
//! fails the restore clearly); errors, policies, project isolation and microversion
//! gates. Records, faults, recovery and snapshots: `backup_records.rs`.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{spawn_emulator, Api};

pub const MIB: u64 = 1 << 20;

pub fn msg(body: &Value) -> String {
    body.as_object()
        .and_then(|o| o.values().next())
        .and_then(|f| f["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

pub fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// Polls a volume until `status`, allowing for a loaded machine (restores read and
/// write data).
pub fn wait_volume(api: &Api, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) = api.get(&format!("/volumes/{id}"));
        if code == 200 && body["volume"]["status"] == status {
            return body["volume"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "volume {id} never reached {status}: {code} {body}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls a backup until `status` ("deleted": gone); returns its last view.
pub fn wait_backup(api: &Api, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) = api.get(&format!("/backups/{id}"));
        if status == "deleted" && code == 404 {
            return body;
        }
        if code == 200 && body["backup"]["status"] == status {
            return body["backup"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "backup {id} never reached {status}: {code} {body}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn create_backup(api: &Api, body: Value) -> String {
    let (code, b) = api.post("/backups", json!({ "backup": body }));
    assert_eq!(code, 202, "{b}");
    b["backup"]["id"].as_str().unwrap().to_string()
}

fn connector() -> Value {
    json!({"host": "backup-test", "initiator": "iqn.test", "ip": "127.0.0.1", "platform": "x86_64", "os_type": "linux", "multipath": false})
}

/// Attaches (3.54: create, connect, complete); returns (attachment id, device path).
pub fn attach(api: &Api, vid: &str) -> (String, PathBuf) {
    let api = api.at("3.54");
    let (code, body) = api.post(
        "/attachments",
        json!({"attachment": {"volume_uuid": vid, "connector": connector(), "mode": "rw"}}),
    );
    assert_eq!(code, 200, "{body}");
    let aid = body["attachment"]["id"].as_str().unwrap().to_string();
    let path = PathBuf::from(
        body["attachment"]["connection_info"]["device_path"]
            .as_str()
            .unwrap(),
    );
    let (code, body) = api.post(
        &format!("/attachments/{aid}/action"),
        json!({"os-complete": {}}),
    );
    assert_eq!(code, 204, "{body}");
    (aid, path)
}

pub fn detach(api: &Api, vid: &str, aid: &str) {
    let (code, body) = api.at("3.54").delete(&format!("/attachments/{aid}"));
    assert_eq!(code, 200, "{body}");
    api.wait_status(vid, "available");
}

pub fn write_at(path: &Path, at: u64, data: &[u8]) {
    let mut f = OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(data).unwrap();
    f.sync_all().unwrap();
}

pub fn read_at(path: &Path, at: u64, len: usize) -> Vec<u8> {
    let mut f = File::open(path).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    let mut buf = vec![0u8; len];
    f.read_exact(&mut buf).unwrap();
    buf
}

pub fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// The object files of a backup in the data dir (and their total size).
pub fn objects(dir: &Path, backup_id: &str) -> (usize, u64) {
    let d = dir.join("backups").join(format!("backup-{backup_id}"));
    let mut n = 0;
    let mut bytes = 0;
    for e in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().starts_with("backup-") {
            n += 1;
            bytes += e.metadata().unwrap().len();
        }
    }
    (n, bytes)
}

/// Reads `len` bytes at `at` through a fresh attachment, then detaches.
pub fn read_through_attachment(api: &Api, vid: &str, at: u64, len: usize) -> Vec<u8> {
    let (aid, path) = attach(api, vid);
    let data = read_at(&path, at, len);
    detach(api, vid, &aid);
    data
}

#[test]
fn create_show_list_restore_delete_with_cinder_s_views() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let (code, body) = demo.post(
        "/volumes",
        json!({"volume": {"size": 1, "name": "src", "metadata": {"vol-meta1": "value1"}}}),
    );
    assert_eq!(code, 202, "{body}");
    let vid = body["volume"]["id"].as_str().unwrap().to_string();
    wait_volume(&demo, &vid, "available");

    let (code, b) = demo.post(
        "/backups",
        json!({"backup": {"volume_id": vid, "name": "nightly", "description": "d"}}),
    );
    assert_eq!(code, 202, "{b}");
    assert_eq!(
        keys(&b["backup"]),
        ["id", "links", "name"].map(String::from).into()
    );
    let bid = b["backup"]["id"].as_str().unwrap().to_string();
    let shown = wait_backup(&demo, &bid, "available");
    let want: BTreeSet<String> = [
        "id",
        "status",
        "size",
        "object_count",
        "availability_zone",
        "container",
        "created_at",
        "updated_at",
        "name",
        "description",
        "fail_reason",
        "volume_id",
        "links",
        "is_incremental",
        "has_dependent_backups",
        "snapshot_id",
        "data_timestamp",
    ]
    .map(String::from)
    .into();
    assert_eq!(keys(&shown), want);
    assert_eq!(shown["name"], "nightly");
    assert_eq!(shown["size"], 1);
    assert_eq!(shown["volume_id"], vid.as_str());
    assert_eq!(shown["is_incremental"], false);
    assert_eq!(shown["availability_zone"], "nova");
    assert!(shown["links"][0]["href"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/backups/{bid}")));
    wait_volume(&demo, &vid, "available");

    // Newer microversions add metadata; admins also see project and user.
    let (_, s) = demo.at("3.43").get(&format!("/backups/{bid}"));
    assert_eq!(s["backup"]["metadata"], json!({}));
    let admin = env.admin();
    let (_, s) = admin.at("3.56").get(&format!("/backups/{bid}"));
    assert_eq!(
        s["backup"]["os-backup-project-attr:project_id"],
        demo.project_id.as_str()
    );
    assert!(s["backup"]["user_id"].is_string());
    let (_, s) = demo.at("3.56").get(&format!("/backups/{bid}"));
    assert!(s["backup"].get("user_id").is_none());

    let (_, l) = demo.get("/backups");
    assert_eq!(
        keys(&l["backups"][0]),
        ["id", "links", "name"].map(String::from).into()
    );
    let (_, l) = demo.get("/backups/detail?name=nightly");
    assert_eq!(l["backups"].as_array().unwrap().len(), 1);
    let (_, l) = demo.get("/backups/detail?status=error");
    assert_eq!(l["backups"], json!([]));
    let (_, l) = demo.at("3.45").get("/backups?with_count=true");
    assert_eq!(l["count"], 1);
    let (_, lim) = demo.get("/limits");
    assert_eq!(lim["limits"]["absolute"]["totalBackupsUsed"], 1);
    assert_eq!(lim["limits"]["absolute"]["totalBackupGigabytesUsed"], 1);
    let (_, q) = demo.get(&format!("/os-quota-sets/{}?usage=true", demo.project_id));
    assert_eq!(q["quota_set"]["backups"]["in_use"], 1);

    // Restore to a new volume: named after the backup, with the source's metadata.
    let (code, r) = demo.post(&format!("/backups/{bid}/restore"), json!({"restore": null}));
    assert_eq!(code, 202, "{r}");
    assert_eq!(r["restore"]["backup_id"], bid.as_str());
    assert_eq!(r["restore"]["volume_name"], format!("restore_backup_{bid}"));
    let rvid = r["restore"]["volume_id"].as_str().unwrap().to_string();
    let restored = wait_volume(&demo, &rvid, "available");
    assert_eq!(restored["metadata"]["vol-meta1"], "value1");
    assert_eq!(
        restored["description"],
        "auto-created_from_restore_from_backup"
    );
    wait_backup(&demo, &bid, "available");
    // ... or by name.
    let (code, r) = demo.post(
        &format!("/backups/{bid}/restore"),
        json!({"restore": {"name": "again"}}),
    );
    assert_eq!(code, 202, "{r}");
    assert_eq!(r["restore"]["volume_name"], "again");
    wait_backup(&demo, &bid, "available");

    let (code, _) = demo.delete(&format!("/backups/{bid}"));
    assert_eq!(code, 202);
    wait_backup(&demo, &bid, "deleted");
    assert!(!env
        .dir
        .path()
        .join("backups")
        .join(format!("backup-{bid}"))
        .exists());
}

#[test]
fn bytes_come_back_from_full_and_incremental_backups_and_only_changes_are_stored() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let vid = demo.available_volume(1, None);
    let (aid, path) = attach(&demo, &vid);
    let a = pattern(1, (4 * MIB) as usize);
    write_at(&path, 0, &a);
    write_at(&path, 500 * MIB, &a);

    // An in-use volume needs force; it is in-use again afterwards.
    let (code, body) = demo.post("/backups", json!({"backup": {"volume_id": vid}}));
    assert_eq!(code, 400, "{body}");
    assert!(msg(&body).contains("Backing up an in-use volume must use the force flag."));
    let full = create_backup(&demo, json!({"volume_id": vid, "force": true}));
    wait_backup(&demo, &full, "available");
    wait_volume(&demo, &vid, "in-use");
    // Two 8 MiB chunks hold data; the rest of the GiB is holes and is not stored.
    assert_eq!(objects(env.dir.path(), &full), (2, 16 * MIB));

    let b = pattern(2, (3 * MIB) as usize);
    write_at(&path, 100 * MIB, &b);
    let inc = create_backup(
        &demo,
        json!({"volume_id": vid, "force": true, "incremental": true}),
    );
    let shown = wait_backup(&demo, &inc, "available");
    assert_eq!(shown["is_incremental"], true);
    assert_eq!(shown["object_count"], 1);
    // Only the 3 changed MiB are in the incremental backup.
    assert_eq!(objects(env.dir.path(), &inc), (1, 3 * MIB));
    let (_, f) = demo.get(&format!("/backups/{full}"));
    assert_eq!(f["backup"]["has_dependent_backups"], true);
    let (code, body) = demo.delete(&format!("/backups/{full}"));
    assert_eq!(code, 400);
    assert!(
        msg(&body).contains("Incremental backups exist for this backup."),
        "{body}"
    );

    // Overwrite everything, then restore the full backup onto the same volume.
    let c = pattern(3, (4 * MIB) as usize);
    write_at(&path, 0, &c);
    write_at(&path, 100 * MIB, &c);
    write_at(&path, 500 * MIB, &c);
    detach(&demo, &vid, &aid);
    let (code, r) = demo.post(
        &format!("/backups/{full}/restore"),
        json!({"restore": {"volume_id": vid}}),
    );
    assert_eq!(code, 202, "{r}");
    wait_volume(&demo, &vid, "available");
    assert_eq!(read_through_attachment(&demo, &vid, 0, a.len()), a);
    assert_eq!(read_through_attachment(&demo, &vid, 500 * MIB, a.len()), a);
    assert_eq!(
        read_through_attachment(&demo, &vid, 100 * MIB, 4096),
        vec![0u8; 4096]
    );

    // The incremental restores the chain: the full backup, then the changes.
    wait_backup(&demo, &full, "available");
    let (code, r) = demo.post(&format!("/backups/{inc}/restore"), json!({"restore": {}}));
    assert_eq!(code, 202, "{r}");
    let nvid = r["restore"]["volume_id"].as_str().unwrap().to_string();
    wait_volume(&demo, &nvid, "available");
    assert_eq!(read_through_attachment(&demo, &nvid, 100 * MIB, b.len()), b);
    assert_eq!(read_through_attachment(&demo, &nvid, 0, a.len()), a);
}

#[test]
fn a_corrupt_object_fails_the_restore_with_a_clear_error() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let vid = demo.available_volume(1, None);
    let (aid, path) = attach(&demo, &vid);
    write_at(&path, 0, &pattern(5, MIB as usize));
    detach(&demo, &vid, &aid);
    let bid = create_backup(&demo, json!({"volume_id": vid}));
    wait_backup(&demo, &bid, "available");
    let obj = env
        .dir
        .path()
        .join("backups")
        .join(format!("backup-{bid}"))
        .join("backup-00001");
    let mut bytes = fs::read(&obj).unwrap();
    bytes[10] ^= 0x5a;
    fs::write(&obj, &bytes).unwrap();

    let target = demo.available_volume(1, None);
    let (aid, tpath) = attach(&demo, &target);
    write_at(&tpath, 0, b"precious");
    detach(&demo, &target, &aid);
    let (code, r) = demo.post(
        &format!("/backups/{bid}/restore"),
        json!({"restore": {"volume_id": target}}),
    );
    assert_eq!(code, 202, "{r}");
    let failed = wait_volume(&demo, &target, "error_restoring");
    assert_eq!(failed["id"], target.as_str());
    let b = wait_backup(&demo, &bid, "error");
    let reason = b["fail_reason"].as_str().unwrap();
    assert!(
        reason.contains("backup-00001 is corrupt") && reason.contains("sha256"),
        "{reason}"
    );
    // The check runs before any write: the target's bytes are untouched.
    let vol_file = env
        .dir
        .path()
        .join("volumes")
        .join(format!("volume-{target}"));
    assert_eq!(read_at(&vol_file, 0, 8), b"precious");
    let (_, m) = demo.at("3.3").get("/messages");
    let texts: Vec<&str> = m["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["user_message"].as_str())
        .collect();
    assert!(
        texts.contains(&"restore backup: Backup driver failed to restore backup."),
        "{texts:?}"
    );
}

#[test]
fn refusals_policies_isolation_and_microversions() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let alt = env.login("alt_demo", "alt_demo");
    let admin = env.admin();
    let vid = demo.available_volume(1, None);

    let cases = [
        (
            json!({"backup": {"volume_id": "nope"}}),
            400,
            "is not a 'uuid'",
        ),
        (
            json!({"backup": {"volume_id": vid, "bogus": 1}}),
            400,
            "Additional properties are not allowed ('bogus' was unexpected)",
        ),
        (
            json!({"backup": {"volume_id": vid, "force": "maybe"}}),
            400,
            "backup/force",
        ),
        (
            json!({"backup": {"volume_id": vid, "metadata": {"a": "b"}}}),
            400,
            "'metadata' was unexpected",
        ),
        (
            json!({"backup": {}}),
            400,
            "'volume_id' is a required property",
        ),
        (
            json!({"backup": {"volume_id": vid, "incremental": true}}),
            400,
            "No backups available to do an incremental backup.",
        ),
        (
            json!({"backup": {"volume_id": "00000000-0000-0000-0000-000000000001"}}),
            404,
            "could not be found",
        ),
        (
            json!({"backup": {"volume_id": vid, "snapshot_id": "00000000-0000-0000-0000-000000000002"}}),
            404,
            "Snapshot 00000000-0000-0000-0000-000000000002 could not be found.",
        ),
    ];
    for (body, code, want) in cases {
        let (got, answer) = demo.post("/backups", body.clone());
        assert_eq!(got, code, "{body}: {answer}");
        assert!(msg(&answer).contains(want), "{body}: {answer}");
    }
    let (code, answer) = alt.post("/backups", json!({"backup": {"volume_id": vid}}));
    assert_eq!(code, 404, "another project's volume: {answer}");

    let bid = create_backup(
        &demo.at("3.43"),
        json!({"volume_id": vid, "metadata": {"k": "v"}}),
    );
    wait_backup(&demo, &bid, "available");
    assert_eq!(alt.get(&format!("/backups/{bid}")).0, 404);
    assert_eq!(alt.get("/backups").1["backups"], json!([]));
    assert_eq!(alt.delete(&format!("/backups/{bid}")).0, 404);
    let (_, all) = admin.get("/backups/detail?all_tenants=1");
    assert!(all["backups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["id"] == bid.as_str()));
    assert_eq!(
        admin.get("/backups").1["backups"],
        json!([]),
        "admin sees its own project by default"
    );

    // Update needs 3.9; metadata 3.43.
    assert_eq!(
        demo.put(&format!("/backups/{bid}"), json!({"backup": {"name": "x"}}))
            .0,
        404
    );
    let (code, u) = demo.at("3.9").put(
        &format!("/backups/{bid}"),
        json!({"backup": {"name": "renamed"}}),
    );
    assert_eq!(code, 200, "{u}");
    assert_eq!(u["backup"]["name"], "renamed");
    let (_, s) = demo.at("3.43").get(&format!("/backups/{bid}"));
    assert_eq!(s["backup"]["metadata"], json!({"k": "v"}));

    // Restore refusals.
    let small = demo.available_volume(1, None);
    let (aid, _) = attach(&demo, &small);
    let (code, r) = demo.post(
        &format!("/backups/{bid}/restore"),
        json!({"restore": {"volume_id": small}}),
    );
    assert_eq!(code, 400, "{r}");
    assert!(
        msg(&r).contains("Volume to be restored to must be available"),
        "{r}"
    );
    detach(&demo, &small, &aid);
    let (code, r) = demo.post(
        &format!("/backups/{bid}/restore"),
        json!({"restore": {"bogus": 1}}),
    );
    assert_eq!(code, 400, "{r}");

    // Admin actions: 404 first, then policy.
    let reset = json!({"os-reset_status": {"status": "error"}});
    assert_eq!(
        demo.post(&format!("/backups/{bid}/action"), reset.clone())
            .0,
        403
    );
    assert_eq!(
        alt.post(&format!("/backups/{bid}/action"), reset.clone()).0,
        404
    );
    assert_eq!(demo.get(&format!("/backups/{bid}/export_record")).0, 403);
    let (code, r) = admin.post(
        &format!("/backups/{bid}/action"),
        json!({"os-reset_status": {"status": "creating"}}),
    );
    assert_eq!(code, 400);
    assert!(
        msg(&r).contains("valid statuses are: ['available', 'error']"),
        "{r}"
    );
    assert_eq!(admin.post(&format!("/backups/{bid}/action"), reset).0, 202);
    let b = wait_backup(&demo, &bid, "error");
    assert_eq!(b["status"], "error");
    let (code, r) = demo.post(&format!("/backups/{bid}/restore"), json!({"restore": null}));
    assert_eq!(code, 400);
    assert!(msg(&r).contains("Backup status must be available"), "{r}");
    assert_eq!(
        demo.post(
            &format!("/backups/{bid}/action"),
            json!({"os-force_delete": {}})
        )
        .0,
        403
    );
    assert_eq!(
        admin
            .post(
                &format!("/backups/{bid}/action"),
                json!({"os-force_delete": {}})
            )
            .0,
        202
    );
    wait_backup(&demo, &bid, "deleted");

    // Quotas: one backup allowed, the second is a 413.
    let (code, _) = admin.put(
        &format!("/os-quota-sets/{}", demo.project_id),
        json!({"quota_set": {"backups": 1}}),
    );
    assert_eq!(code, 200);
    let first = create_backup(&demo, json!({"volume_id": vid}));
    wait_backup(&demo, &first, "available");
    let (code, r) = demo.post("/backups", json!({"backup": {"volume_id": vid}}));
    assert_eq!(code, 413, "{r}");
    assert!(
        msg(&r).contains("BackupLimitExceeded: Maximum number of backups allowed (1) exceeded"),
        "{r}"
    );
}
