//! Crash-restart with backups (`crash::backups`): a seeded workload of writes through
//! `device_path`, full and incremental backups, backup deletes and restores to new
//! volumes, SIGKILLed at seeded points. After each restart: nothing is transitional
//! (volumes or backups), every acknowledged backup is `available` and restores the
//! bytes its volume had when it was taken, every acknowledged restored volume holds
//! them, acknowledged deletes stay deleted, and the backup area holds exactly the
//! backups the database names (no partial directory).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Value};

use super::{connector, kill_amid, long_run, read_at, seed_or, start, Api};

type Writes = Vec<(u64, Vec<u8>)>;

#[derive(Debug, Clone, Default)]
struct Vol {
    writes: Writes,
    next_slot: u64,
}

#[derive(Default)]
struct Model {
    vols: BTreeMap<String, Vol>,
    /// Backup id → (its volume, the writes it holds).
    backups: BTreeMap<String, (String, Writes)>,
    deleted: BTreeSet<String>,
}

#[derive(Debug, Clone)]
enum InFlight {
    Nothing,
    NewVolume { id: Option<String> },
    Write,
    Backup { id: Option<String> },
    DeleteBackup { id: String },
    Restore { volume: Option<String> },
}

fn backup_poll(api: &Api, id: &str, done: impl Fn(&str) -> bool) -> Result<Option<Value>, ()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) = api.get(&format!("/backups/{id}"))?;
        if code == 404 {
            return Ok(None);
        }
        assert_eq!(code, 200, "{body}");
        if done(body["backup"]["status"].as_str().unwrap_or("")) {
            return Ok(Some(body["backup"].clone()));
        }
        assert!(Instant::now() < deadline, "backup {id} stuck: {body}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn new_volume(api: &Api, model: &mut Model) -> Result<(), InFlight> {
    let (code, resp) = api
        .call(
            Method::POST,
            "/volumes",
            Some(json!({"volume": {"size": 1}})),
        )
        .map_err(|_| InFlight::NewVolume { id: None })?;
    assert_eq!(code, 202, "{resp}");
    let id = resp["volume"]["id"].as_str().unwrap().to_string();
    let v = api
        .poll(&id, |v| v["status"] != "creating")
        .map_err(|_| InFlight::NewVolume {
            id: Some(id.clone()),
        })?
        .expect("a new volume exists");
    assert_eq!(v["status"], "available", "{v}");
    model.vols.insert(id, Vol::default());
    Ok(())
}

fn write(api: &Api, model: &mut Model, id: &str, rng: &mut StdRng) -> Result<(), InFlight> {
    let lost = |_| InFlight::Write;
    let (code, body) = api
        .call(
            Method::POST,
            "/attachments",
            Some(json!({"attachment": {"volume_uuid": id, "connector": connector()}})),
        )
        .map_err(lost)?;
    assert_eq!(code, 200, "{body}");
    let aid = body["attachment"]["id"].as_str().unwrap().to_string();
    let path = body["attachment"]["connection_info"]["device_path"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, _) = api
        .call(
            Method::POST,
            &format!("/attachments/{aid}/action"),
            Some(json!({"os-complete": {}})),
        )
        .map_err(lost)?;
    assert_eq!(code, 204);
    let vol = model.vols.get_mut(id).unwrap();
    // Mostly new 8 MiB chunks, sometimes an old one rewritten (incrementals see both).
    let slot = if vol.next_slot > 0 && rng.gen_bool(0.3) {
        rng.gen_range(0..vol.next_slot)
    } else {
        vol.next_slot += 1;
        vol.next_slot - 1
    };
    let offset = slot * (8 << 20) + rng.gen_range(0..100_000);
    let bytes: Vec<u8> = (0..rng.gen_range(1..5000)).map(|_| rng.gen()).collect();
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(&bytes, offset).unwrap();
        f.sync_data().unwrap();
    }
    let (code, body) = api
        .call(Method::DELETE, &format!("/attachments/{aid}"), None)
        .map_err(lost)?;
    assert_eq!(code, 200, "{body}");
    vol.writes.push((offset, bytes));
    Ok(())
}

fn backup(api: &Api, model: &mut Model, vid: &str, incremental: bool) -> Result<(), InFlight> {
    let incremental = incremental && model.backups.values().any(|(v, _)| v == vid);
    let (code, body) = api
        .call(
            Method::POST,
            "/backups",
            Some(json!({"backup": {"volume_id": vid, "incremental": incremental}})),
        )
        .map_err(|_| InFlight::Backup { id: None })?;
    assert_eq!(code, 202, "{body}");
    let id = body["backup"]["id"].as_str().unwrap().to_string();
    let b = backup_poll(api, &id, |s| s != "creating")
        .map_err(|_| InFlight::Backup {
            id: Some(id.clone()),
        })?
        .expect("a new backup exists");
    assert_eq!(b["status"], "available", "{b}");
    assert_eq!(b["is_incremental"], incremental, "{b}");
    api.poll(vid, |v| v["status"] == "available")
        .map_err(|_| InFlight::Backup {
            id: Some(id.clone()),
        })?;
    let writes = model.vols[vid].writes.clone();
    model.backups.insert(id, (vid.to_string(), writes));
    Ok(())
}

fn delete_backup(api: &Api, model: &mut Model, bid: &str) -> Result<(), InFlight> {
    let lost = |_| InFlight::DeleteBackup { id: bid.into() };
    let (code, body) = api
        .call(Method::DELETE, &format!("/backups/{bid}"), None)
        .map_err(lost)?;
    if code == 400 {
        // It has incremental backups depending on it.
        assert!(
            body.to_string().contains("Incremental backups exist"),
            "{body}"
        );
        return Ok(());
    }
    assert_eq!(code, 202, "{body}");
    model.backups.remove(bid);
    model.deleted.insert(bid.into());
    assert!(backup_poll(api, bid, |_| false).map_err(lost)?.is_none());
    Ok(())
}

fn restore(api: &Api, model: &mut Model, bid: &str) -> Result<(), InFlight> {
    let (code, body) = api
        .call(
            Method::POST,
            &format!("/backups/{bid}/restore"),
            Some(json!({"restore": null})),
        )
        .map_err(|_| InFlight::Restore { volume: None })?;
    assert_eq!(code, 202, "{body}");
    let vid = body["restore"]["volume_id"].as_str().unwrap().to_string();
    let lost = |_| InFlight::Restore {
        volume: Some(vid.clone()),
    };
    let v = api
        .poll(&vid, |v| {
            v["status"] != "restoring-backup" && v["status"] != "creating"
        })
        .map_err(lost)?
        .expect("the restored volume exists");
    assert_eq!(v["status"], "available", "{v}");
    backup_poll(api, bid, |s| s == "available").map_err(lost)?;
    let writes = model.backups[bid].1.clone();
    let next_slot = writes
        .iter()
        .map(|(o, _)| o / (8 << 20) + 1)
        .max()
        .unwrap_or(0);
    model.vols.insert(vid, Vol { writes, next_slot });
    Ok(())
}

fn workload(
    api: &Api,
    model: &mut Model,
    rng: &mut StdRng,
    notify: &mpsc::Sender<usize>,
) -> InFlight {
    for op in 0..200 {
        let _ = notify.send(op);
        let vids: Vec<String> = model.vols.keys().cloned().collect();
        let bids: Vec<String> = model.backups.keys().cloned().collect();
        let pick = |rng: &mut StdRng, from: &[String]| from[rng.gen_range(0..from.len())].clone();
        let mut choice = if vids.is_empty() {
            9
        } else {
            rng.gen_range(0..10)
        };
        // The service project may keep 10 backups; stay well inside.
        if matches!(choice, 3..=5) && bids.len() >= 6 {
            choice = 6;
        }
        if matches!(choice, 8 | 9) && vids.len() >= 5 {
            choice = 0;
        }
        let result = match choice {
            0..=2 => {
                let v = pick(rng, &vids);
                write(api, model, &v, rng)
            }
            3 | 4 => {
                let v = pick(rng, &vids);
                backup(api, model, &v, false)
            }
            5 => {
                let v = pick(rng, &vids);
                backup(api, model, &v, true)
            }
            6 | 7 if !bids.is_empty() => {
                let b = pick(rng, &bids);
                if choice == 6 {
                    delete_backup(api, model, &b)
                } else {
                    restore(api, model, &b)
                }
            }
            _ => new_volume(api, model),
        };
        if let Err(in_flight) = result {
            return in_flight;
        }
    }
    panic!("the server was never killed");
}

fn by_id(list: &Value) -> BTreeMap<String, Value> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| (v["id"].as_str().unwrap().to_string(), v.clone()))
        .collect()
}

/// Waits until no volume or backup is transitional.
fn settle(api: &Api) -> (BTreeMap<String, Value>, BTreeMap<String, Value>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let vols = by_id(&api.get("/volumes/detail").unwrap().1["volumes"]);
        let backups = by_id(&api.get("/backups/detail").unwrap().1["backups"]);
        let busy = vols.values().chain(backups.values()).any(|v| {
            matches!(
                v["status"].as_str(),
                Some(
                    "creating"
                        | "deleting"
                        | "backing-up"
                        | "restoring-backup"
                        | "restoring"
                        | "detaching"
                )
            )
        });
        if !busy {
            return (vols, backups);
        }
        assert!(
            Instant::now() < deadline,
            "transitional after restart: {vols:?} {backups:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn check_bytes(path: &Path, writes: &Writes, what: &str) -> usize {
    // Later writes win where they overlap, as on the disk.
    let mut expect: BTreeMap<u64, u8> = BTreeMap::new();
    for (offset, bytes) in writes {
        for (i, b) in bytes.iter().enumerate() {
            expect.insert(offset + i as u64, *b);
        }
    }
    for (offset, bytes) in writes {
        let got = read_at(path, *offset, bytes.len());
        for (i, b) in got.iter().enumerate() {
            assert_eq!(
                *b,
                expect[&(offset + i as u64)],
                "byte {} of {what}",
                offset + i as u64
            );
        }
    }
    writes.len()
}

fn delete_volume(api: &Api, id: &str) {
    let (code, body) = api
        .call(Method::DELETE, &format!("/volumes/{id}"), None)
        .unwrap();
    assert!(code == 202 || code == 404, "{code} {body}");
    assert!(api.poll(id, |_| false).unwrap().is_none());
}

fn verify(api: &Api, data: &Path, model: &mut Model, in_flight: &InFlight) -> usize {
    let (_, atts) = api.get("/attachments").unwrap();
    for a in atts["attachments"].as_array().unwrap() {
        assert!(matches!(in_flight, InFlight::Write), "stray attachment {a}");
        let path = format!("/attachments/{}", a["id"].as_str().unwrap());
        assert_eq!(api.call(Method::DELETE, &path, None).unwrap().0, 200);
    }
    let (vols, backups) = settle(api);
    for id in &model.deleted {
        assert!(
            !vols.contains_key(id) && !backups.contains_key(id),
            "{id} came back"
        );
    }
    let mut checked = 0;
    for (id, b) in &backups {
        if !model.backups.contains_key(id) {
            let lost = matches!(in_flight, InFlight::Backup { id: None })
                || matches!(in_flight, InFlight::Backup { id: Some(x) } if x == id);
            assert!(lost, "unknown backup {id}: {b}");
            let (code, body) = api
                .call(
                    Method::POST,
                    &format!("/backups/{id}/action"),
                    Some(json!({"os-force_delete": {}})),
                )
                .unwrap();
            // Nothing was made on top of it: the server died before its answer.
            assert_eq!(code, 202, "{body}");
            assert!(backup_poll(api, id, |_| false).unwrap().is_none());
            continue;
        }
        let status = b["status"].as_str().unwrap();
        if status != "available" {
            assert!(
                matches!(in_flight, InFlight::DeleteBackup { id: x } if x == id),
                "backup {id} is {status}"
            );
            let (code, _) = api
                .call(
                    Method::POST,
                    &format!("/backups/{id}/action"),
                    Some(json!({"os-force_delete": {}})),
                )
                .unwrap();
            assert_eq!(code, 202);
            assert!(backup_poll(api, id, |_| false).unwrap().is_none());
            model.backups.remove(id);
            model.deleted.insert(id.clone());
        }
    }
    for id in model.backups.keys().cloned().collect::<Vec<_>>() {
        if !backups.contains_key(&id) {
            assert!(
                matches!(in_flight, InFlight::DeleteBackup { id: x } if *x == id),
                "acknowledged backup {id} is gone"
            );
            model.backups.remove(&id);
            model.deleted.insert(id);
        }
    }
    for (id, v) in &vols {
        let Some(vol) = model.vols.get(id) else {
            let lost = matches!(
                in_flight,
                InFlight::NewVolume { id: None } | InFlight::Restore { volume: None }
            ) || matches!(in_flight, InFlight::NewVolume { id: Some(x) } if x == id)
                || matches!(in_flight, InFlight::Restore { volume: Some(x) } if x == id);
            assert!(lost, "unknown volume {id}: {v}");
            delete_volume(api, id);
            continue;
        };
        assert_eq!(v["status"], "available", "volume {id}");
        let path = data.join("volumes").join(format!("volume-{id}"));
        checked += check_bytes(&path, &vol.writes, &format!("volume {id}"));
    }
    for id in model.vols.keys() {
        assert!(vols.contains_key(id), "acknowledged volume {id} is gone");
    }
    // Every acknowledged backup still restores its bytes.
    for (bid, (_, writes)) in model.backups.clone() {
        let (code, body) = api
            .call(
                Method::POST,
                &format!("/backups/{bid}/restore"),
                Some(json!({"restore": null})),
            )
            .unwrap();
        assert_eq!(code, 202, "{body}");
        let vid = body["restore"]["volume_id"].as_str().unwrap().to_string();
        let v = api
            .poll(&vid, |v| {
                v["status"] != "restoring-backup" && v["status"] != "creating"
            })
            .unwrap()
            .unwrap();
        assert_eq!(v["status"], "available", "restore of {bid}: {v}");
        let path = data.join("volumes").join(format!("volume-{vid}"));
        checked += check_bytes(&path, &writes, &format!("backup {bid}"));
        backup_poll(api, &bid, |s| s == "available").unwrap();
        delete_volume(api, &vid);
    }
    check_disk(data);
    checked
}

/// The backup area holds exactly the backups the database names; nothing partial.
fn check_disk(data: &Path) {
    let conn = rusqlite::Connection::open_with_flags(
        data.join("state.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let mut stmt = conn
        .prepare("SELECT doc FROM records WHERE kind = 'backup'")
        .unwrap();
    let mut named = BTreeSet::new();
    for r in stmt.query_map([], |r| r.get::<_, String>(0)).unwrap() {
        let doc: Value = serde_json::from_str(&r.unwrap()).unwrap();
        if doc["status"] == "available" {
            named.insert(format!("backup-{}", doc["storage"].as_str().unwrap()));
        }
    }
    let dirs: BTreeSet<String> = std::fs::read_dir(data.join("backups"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dirs, named, "backup directories against available backups");
}

#[test]
fn sigkill_amid_backups_and_restores_loses_nothing_acknowledged() {
    let seed = seed_or(14);
    let kill_points = if long_run() { 30 } else { 5 };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = Model::default();
    let mut server = start(dir.path());
    let mut in_flight = InFlight::Nothing;
    let mut interrupted: BTreeMap<String, usize> = BTreeMap::new();
    let mut checked = 0;
    for _ in 0..kill_points {
        let api = Api::login(&server.base);
        checked += verify(&api, &data, &mut model, &in_flight);
        let at = rng.gen_range(0..8);
        let delay = Duration::from_millis(rng.gen_range(0..150));
        in_flight = kill_amid(&mut server.child, at, delay, |tx| {
            workload(&api, &mut model, &mut rng, tx)
        });
        let name = format!("{in_flight:?}");
        let kind = name.split([' ', '{']).next().unwrap_or("").to_string();
        *interrupted.entry(kind).or_default() += 1;
        server = start(dir.path());
    }
    let api = Api::login(&server.base);
    checked += verify(&api, &data, &mut model, &in_flight);
    println!(
        "crash::backups: seed {seed}: {kill_points} kill points, {} backups and {} volumes live, {checked} written ranges verified, interrupted: {interrupted:?}",
        model.backups.len(),
        model.vols.len()
    );
    assert!(checked > 0, "no bytes were checked");
}
