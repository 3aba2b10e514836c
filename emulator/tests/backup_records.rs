//! Backups over real HTTP, continued: export/import of a record (the imported copy
//! restores the same data; deleting it keeps the data the original names), restart
//! persistence, faults on backup jobs and start-up recovery, and backups of a snapshot
//! (the snapshot's bytes, no force needed).

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use crate::backups::{
    attach, create_backup, detach, msg, pattern, read_through_attachment, wait_backup, wait_volume,
    write_at, MIB,
};
use crate::common::spawn_emulator;
use crate::fault_support::Control;

#[test]
fn export_import_record_and_restart_persistence() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let admin = env.admin();
    let vid = demo.available_volume(1, None);
    let (aid, path) = attach(&demo, &vid);
    let data = pattern(9, MIB as usize);
    write_at(&path, 7 * MIB, &data);
    detach(&demo, &vid, &aid);
    let bid = create_backup(&demo, json!({"volume_id": vid, "name": "keep"}));
    wait_backup(&demo, &bid, "available");

    let (code, e) = admin.get(&format!("/backups/{bid}/export_record"));
    assert_eq!(code, 200, "{e}");
    let rec = &e["backup-record"];
    assert!(rec["backup_service"]
        .as_str()
        .unwrap()
        .starts_with("cinder.backup.drivers"));
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut decoded: Value =
        serde_json::from_slice(&b64.decode(rec["backup_url"].as_str().unwrap()).unwrap()).unwrap();
    let (code, r) = admin.post("/backups/import_record", json!({"backup-record": rec}));
    assert_eq!(code, 400, "the same id again: {r}");
    assert!(
        msg(&r).contains("Backup already exists in database."),
        "{r}"
    );
    let new_id = "3b5d0b7e-6a70-4f8f-9d0f-0123456789ab";
    decoded["id"] = json!(new_id);
    let url = b64.encode(decoded.to_string());
    let (code, r) = admin.post(
        "/backups/import_record",
        json!({"backup-record": {"backup_service": rec["backup_service"], "backup_url": url}}),
    );
    assert_eq!(code, 201, "{r}");
    assert_eq!(r["backup"]["id"], new_id);
    wait_backup(&admin, new_id, "available");

    let env = env.restart();
    let demo = env.login("demo", "demo");
    let admin = env.admin();
    let b = wait_backup(&demo, &bid, "available");
    assert_eq!(b["name"], "keep");
    // The imported record restores the same data.
    let (code, r) = admin.post(
        &format!("/backups/{new_id}/restore"),
        json!({"restore": null}),
    );
    assert_eq!(code, 202, "{r}");
    let rvid = r["restore"]["volume_id"].as_str().unwrap().to_string();
    wait_volume(&admin, &rvid, "available");
    assert_eq!(
        read_through_attachment(&admin, &rvid, 7 * MIB, data.len()),
        data
    );
    // Deleting the import keeps the data the original still names.
    assert_eq!(admin.delete(&format!("/backups/{new_id}")).0, 202);
    wait_backup(&admin, new_id, "deleted");
    let (code, r) = demo.post(&format!("/backups/{bid}/restore"), json!({"restore": null}));
    assert_eq!(code, 202, "{r}");
    let rvid = r["restore"]["volume_id"].as_str().unwrap().to_string();
    wait_volume(&demo, &rvid, "available");
    assert_eq!(
        read_through_attachment(&demo, &rvid, 7 * MIB, data.len()),
        data
    );
}

#[test]
fn a_backup_of_a_snapshot_holds_the_snapshot_s_bytes() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let vid = demo.available_volume(1, None);
    let other = demo.available_volume(1, None);
    let (aid, path) = attach(&demo, &vid);
    let first = pattern(11, MIB as usize);
    write_at(&path, 2 * MIB, &first);
    let (code, s) = demo.post(
        "/snapshots",
        json!({"snapshot": {"volume_id": vid, "force": true}}),
    );
    assert_eq!(code, 202, "{s}");
    let sid = s["snapshot"]["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    while demo.get(&format!("/snapshots/{sid}")).1["snapshot"]["status"] != "available" {
        assert!(Instant::now() < deadline, "snapshot never available");
        std::thread::sleep(Duration::from_millis(20));
    }
    write_at(&path, 2 * MIB, &pattern(12, MIB as usize));

    let (code, r) = demo.post(
        "/backups",
        json!({"backup": {"volume_id": other, "snapshot_id": sid}}),
    );
    assert_eq!(code, 400, "{r}");
    assert!(
        msg(&r).contains("does not match with snapshot.volume_id"),
        "{r}"
    );
    // The volume is in use, but a backup of its snapshot needs no force.
    let bid = create_backup(&demo, json!({"volume_id": vid, "snapshot_id": sid}));
    let b = wait_backup(&demo, &bid, "available");
    assert_eq!(b["snapshot_id"], sid.as_str());
    let (_, s) = demo.get(&format!("/snapshots/{sid}"));
    assert_eq!(s["snapshot"]["status"], "available");
    assert_eq!(wait_volume(&demo, &vid, "in-use")["status"], "in-use");
    detach(&demo, &vid, &aid);

    let (code, r) = demo.post(&format!("/backups/{bid}/restore"), json!({"restore": null}));
    assert_eq!(code, 202, "{r}");
    let rvid = r["restore"]["volume_id"].as_str().unwrap().to_string();
    wait_volume(&demo, &rvid, "available");
    assert_eq!(
        read_through_attachment(&demo, &rvid, 2 * MIB, first.len()),
        first
    );
}

#[test]
fn faults_on_backup_jobs_and_start_up_recovery() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let ctl = Control::new(&env);
    ctl.add(json!({"id": "stuck", "operation": "backup.create", "volume_name": "stuck", "effect": {"transition": "stay"}}));
    ctl.add(json!({"id": "broken", "operation": "backup.create", "volume_name": "broken", "effect": {"transition": "fail"}}));
    let mk = |name: &str| {
        let (code, body) = demo.post("/volumes", json!({"volume": {"size": 1, "name": name}}));
        assert_eq!(code, 202, "{body}");
        let id = body["volume"]["id"].as_str().unwrap().to_string();
        wait_volume(&demo, &id, "available");
        id
    };
    let (stuck, broken) = (mk("stuck"), mk("broken"));
    let failed = create_backup(&demo, json!({"volume_id": broken}));
    let b = wait_backup(&demo, &failed, "error");
    assert!(b["fail_reason"].is_string(), "{b}");
    wait_volume(&demo, &broken, "available");

    let hanging = create_backup(&demo, json!({"volume_id": stuck}));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        wait_backup(&demo, &hanging, "creating")["status"],
        "creating"
    );
    wait_volume(&demo, &stuck, "backing-up");

    let env = env.restart();
    let demo = env.login("demo", "demo");
    let b = wait_backup(&demo, &hanging, "error");
    assert_eq!(
        b["fail_reason"],
        "incomplete backup reset on manager restart"
    );
    wait_volume(&demo, &stuck, "available");
}
