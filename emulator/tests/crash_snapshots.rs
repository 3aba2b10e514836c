//! Crash-restart with snapshots (`crash::snapshots`): a seeded workload of writes
//! through `device_path`, snapshots, snapshot deletes, volumes from snapshots, clones
//! and cascading volume deletes, SIGKILLed at seeded points. After each restart: every
//! acknowledged snapshot is there with the bytes its volume had when it was taken,
//! every acknowledged volume from a snapshot or clone holds its source's bytes,
//! acknowledged deletes stay deleted, nothing is transitional, no file lacks its row
//! and no live row its file, and no half-written copy is left.

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
    /// Snapshot id → (its volume, the writes it holds).
    snaps: BTreeMap<String, (String, Writes)>,
    deleted: BTreeSet<String>,
}

/// What was in flight when the server died (ids once a 202 named them).
#[derive(Debug, Clone)]
enum InFlight {
    Nothing,
    NewVolume { id: Option<String> },
    Write,
    Snapshot { id: Option<String> },
    DeleteSnapshot { id: String },
    DeleteCascade { id: String },
}

fn snap_poll(api: &Api, id: &str, done: impl Fn(&str) -> bool) -> Result<Option<Value>, ()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, body) = api.get(&format!("/snapshots/{id}"))?;
        if code == 404 {
            return Ok(None);
        }
        assert_eq!(code, 200, "{body}");
        if done(body["snapshot"]["status"].as_str().unwrap_or("")) {
            return Ok(Some(body["snapshot"].clone()));
        }
        assert!(Instant::now() < deadline, "snapshot {id} stuck: {body}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn new_volume(api: &Api, model: &mut Model, body: Value, inherit: Vol) -> Result<(), InFlight> {
    let (code, resp) = api
        .call(Method::POST, "/volumes", Some(json!({ "volume": body })))
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
    model.vols.insert(id, inherit);
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
    // Slots far apart, so copies have holes between the data.
    let offset = vol.next_slot * (8 << 20) + rng.gen_range(0..100);
    vol.next_slot += 1;
    let bytes: Vec<u8> = (0..rng.gen_range(1..3000)).map(|_| rng.gen()).collect();
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

fn snapshot(api: &Api, model: &mut Model, vid: &str) -> Result<(), InFlight> {
    let (code, body) = api
        .call(
            Method::POST,
            "/snapshots",
            Some(json!({"snapshot": {"volume_id": vid}})),
        )
        .map_err(|_| InFlight::Snapshot { id: None })?;
    assert_eq!(code, 202, "{body}");
    let id = body["snapshot"]["id"].as_str().unwrap().to_string();
    let s = snap_poll(api, &id, |s| s != "creating")
        .map_err(|_| InFlight::Snapshot {
            id: Some(id.clone()),
        })?
        .expect("a new snapshot exists");
    assert_eq!(s["status"], "available", "{s}");
    let writes = model.vols[vid].writes.clone();
    model.snaps.insert(id, (vid.to_string(), writes));
    Ok(())
}

fn delete_snapshot(api: &Api, model: &mut Model, sid: &str) -> Result<(), InFlight> {
    let lost = |_| InFlight::DeleteSnapshot { id: sid.into() };
    let (code, body) = api
        .call(Method::DELETE, &format!("/snapshots/{sid}"), None)
        .map_err(lost)?;
    assert_eq!(code, 202, "{body}");
    model.snaps.remove(sid);
    model.deleted.insert(sid.into());
    assert!(snap_poll(api, sid, |_| false).map_err(lost)?.is_none());
    Ok(())
}

fn delete_cascade(api: &Api, model: &mut Model, vid: &str) -> Result<(), InFlight> {
    let lost = |_| InFlight::DeleteCascade { id: vid.into() };
    let (code, body) = api
        .call(
            Method::DELETE,
            &format!("/volumes/{vid}?cascade=true"),
            None,
        )
        .map_err(lost)?;
    assert_eq!(code, 202, "{body}");
    model.vols.remove(vid);
    model.deleted.insert(vid.into());
    let snaps: Vec<String> = model
        .snaps
        .iter()
        .filter(|(_, (v, _))| v == vid)
        .map(|(s, _)| s.clone())
        .collect();
    for s in &snaps {
        model.snaps.remove(s);
        model.deleted.insert(s.clone());
    }
    assert!(api.poll(vid, |_| false).map_err(lost)?.is_none());
    for s in &snaps {
        assert!(snap_poll(api, s, |_| false).map_err(lost)?.is_none());
    }
    Ok(())
}

fn workload(
    api: &Api,
    model: &mut Model,
    rng: &mut StdRng,
    notify: &mpsc::Sender<usize>,
    acked: &mut usize,
) -> InFlight {
    for op in 0..200 {
        let _ = notify.send(op);
        let vids: Vec<String> = model.vols.keys().cloned().collect();
        let sids: Vec<String> = model.snaps.keys().cloned().collect();
        let pick = |rng: &mut StdRng, from: &[String]| from[rng.gen_range(0..from.len())].clone();
        let choice = if vids.len() < 2 {
            9
        } else {
            rng.gen_range(0..10)
        };
        // Stay inside the project's snapshot quota (10) and keep the volume count small.
        let choice = match choice {
            3 | 4 if sids.len() >= 8 => 5,
            6 | 7 | 9 if vids.len() >= 6 => 8,
            c => c,
        };
        let result = match choice {
            0..=2 => {
                let v = pick(rng, &vids);
                write(api, model, &v, rng)
            }
            3..=4 => {
                let v = pick(rng, &vids);
                snapshot(api, model, &v)
            }
            5 if !sids.is_empty() => {
                let s = pick(rng, &sids);
                delete_snapshot(api, model, &s)
            }
            6 if !sids.is_empty() => {
                let s = pick(rng, &sids);
                let (_, writes) = model.snaps[&s].clone();
                let slots = model.vols.values().map(|v| v.next_slot).max().unwrap_or(0);
                let inherit = Vol {
                    writes,
                    next_slot: slots,
                };
                new_volume(api, model, json!({"snapshot_id": s, "size": 2}), inherit)
            }
            7 => {
                let v = pick(rng, &vids);
                let inherit = model.vols[&v].clone();
                new_volume(api, model, json!({"source_volid": v}), inherit)
            }
            8 if vids.len() > 3 => {
                let v = pick(rng, &vids);
                delete_cascade(api, model, &v)
            }
            _ => new_volume(api, model, json!({"size": 1}), Vol::default()),
        };
        match result {
            Ok(()) => *acked += 1,
            Err(in_flight) => return in_flight,
        }
    }
    panic!("the server was never killed");
}

fn check_bytes(path: &Path, writes: &Writes, what: &str) -> usize {
    for (offset, bytes) in writes {
        assert_eq!(
            &read_at(path, *offset, bytes.len()),
            bytes,
            "bytes of {what} at {offset}"
        );
    }
    writes.len()
}

/// Waits until nothing is transitional; returns (volumes, snapshots) by id.
fn settle(api: &Api) -> (BTreeMap<String, Value>, BTreeMap<String, Value>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let vols = api.get("/volumes/detail").unwrap().1["volumes"].clone();
        let snaps = api.get("/snapshots/detail").unwrap().1["snapshots"].clone();
        let by_id = |list: &Value| -> BTreeMap<String, Value> {
            list.as_array()
                .unwrap()
                .iter()
                .map(|v| (v["id"].as_str().unwrap().to_string(), v.clone()))
                .collect()
        };
        let (vols, snaps) = (by_id(&vols), by_id(&snaps));
        let busy = vols
            .values()
            .chain(snaps.values())
            .filter(|v| {
                matches!(
                    v["status"].as_str(),
                    Some("creating" | "deleting" | "extending" | "detaching")
                )
            })
            .count();
        if busy == 0 {
            return (vols, snaps);
        }
        assert!(
            Instant::now() < deadline,
            "transitional after restart: {vols:?} {snaps:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn verify(api: &Api, data: &Path, model: &mut Model, in_flight: &InFlight) -> usize {
    // An interrupted write leaves its attachment (a client may still hold the file):
    // detach first, as the client would after its crash.
    let (_, atts) = api.get("/attachments").unwrap();
    for a in atts["attachments"].as_array().unwrap() {
        assert!(matches!(in_flight, InFlight::Write), "stray attachment {a}");
        let path = format!("/attachments/{}", a["id"].as_str().unwrap());
        assert_eq!(api.call(Method::DELETE, &path, None).unwrap().0, 200);
    }
    let (vols, snaps) = settle(api);
    let mut checked = 0;
    let mut doomed_snaps = Vec::new();
    let mut doomed_vols = Vec::new();
    for id in &model.deleted {
        assert!(
            !vols.contains_key(id) && !snaps.contains_key(id),
            "{id} came back"
        );
    }
    for (id, s) in &snaps {
        let Some((_, writes)) = model.snaps.get(id) else {
            let lost_create = matches!(in_flight, InFlight::Snapshot { id: None })
                || matches!(in_flight, InFlight::Snapshot { id: Some(x) } if x == id);
            assert!(lost_create, "unknown snapshot {id}: {s}");
            doomed_snaps.push(id.clone());
            continue;
        };
        let status = s["status"].as_str().unwrap();
        if status != "available" {
            // Only a delete whose answer was lost may leave it otherwise.
            assert!(
                matches!(in_flight, InFlight::DeleteSnapshot { id: x } if x == id),
                "snapshot {id} is {status}"
            );
            doomed_snaps.push(id.clone());
            continue;
        }
        let path = data.join("volumes").join(format!("snapshot-{id}"));
        checked += check_bytes(&path, writes, &format!("snapshot {id}"));
    }
    let known: Vec<String> = model.snaps.keys().cloned().collect();
    for id in known {
        if !snaps.contains_key(&id) {
            let vol = &model.snaps[&id].0;
            let lost_delete = matches!(in_flight, InFlight::DeleteSnapshot { id: x } if *x == id)
                || matches!(in_flight, InFlight::DeleteCascade { id: x } if x == vol);
            assert!(lost_delete, "acknowledged snapshot {id} is gone");
            model.snaps.remove(&id);
            model.deleted.insert(id);
        }
    }
    for (id, v) in &vols {
        let Some(vol) = model.vols.get(id) else {
            let lost_create = matches!(in_flight, InFlight::NewVolume { id: None })
                || matches!(in_flight, InFlight::NewVolume { id: Some(x) } if x == id);
            assert!(lost_create, "unknown volume {id}: {v}");
            doomed_vols.push(id.clone());
            continue;
        };
        assert_eq!(v["status"], "available", "volume {id}");
        let path = data.join("volumes").join(format!("volume-{id}"));
        checked += check_bytes(&path, &vol.writes, &format!("volume {id}"));
    }
    let known: Vec<String> = model.vols.keys().cloned().collect();
    for id in known {
        if !vols.contains_key(&id) {
            assert!(
                matches!(in_flight, InFlight::DeleteCascade { id: x } if *x == id),
                "acknowledged volume {id} is gone"
            );
            model.vols.remove(&id);
            model.deleted.insert(id);
        }
    }
    // Clear what the crash left behind.
    for id in doomed_snaps {
        let (code, body) = api
            .call(Method::DELETE, &format!("/snapshots/{id}"), None)
            .unwrap();
        assert!(code == 202 || code == 404, "{code} {body}");
        assert!(snap_poll(api, &id, |_| false).unwrap().is_none());
        model.snaps.remove(&id);
    }
    for id in doomed_vols {
        api.poll(&id, |v| v["status"] != "detaching").unwrap();
        let (code, body) = api
            .call(Method::DELETE, &format!("/volumes/{id}?cascade=true"), None)
            .unwrap();
        assert!(code == 202 || code == 404, "{code} {body}");
        assert!(api.poll(&id, |_| false).unwrap().is_none());
    }
    check_disk(data);
    checked
}

/// Every file has its row, every live row its file, and no half copy is left.
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
    let mut rows: BTreeMap<String, String> = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT id, doc FROM volumes").unwrap();
    let mut add = |prefix: &str, id: String, doc: String| {
        let doc: Value = serde_json::from_str(&doc).unwrap();
        rows.insert(
            format!("{prefix}{id}"),
            doc["status"].as_str().unwrap_or("").into(),
        );
    };
    for r in stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap() {
        let (id, doc) = r.unwrap();
        add("volume-", id, doc);
    }
    let mut stmt = conn
        .prepare("SELECT id, doc FROM records WHERE kind = 'snapshot'")
        .unwrap();
    for r in stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap() {
        let (id, doc) = r.unwrap();
        add("snapshot-", id, doc);
    }
    let files: BTreeSet<String> = std::fs::read_dir(data.join("volumes"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for f in &files {
        assert!(rows.contains_key(f), "orphan or partial file {f}");
    }
    for (name, status) in &rows {
        if !status.starts_with("error") {
            assert!(files.contains(name), "{status} {name} has no file");
        }
    }
}

#[test]
fn sigkill_amid_snapshots_and_clones_loses_nothing_acknowledged() {
    let seed = seed_or(11);
    let kill_points = if long_run() { 40 } else { 6 };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = Model::default();
    let mut server = start(dir.path());
    let mut in_flight = InFlight::Nothing;
    let mut interrupted: BTreeMap<String, usize> = BTreeMap::new();
    let mut checked = 0;
    let mut acked = 0;
    for _ in 0..kill_points {
        let api = Api::login(&server.base);
        checked += verify(&api, &data, &mut model, &in_flight);
        let at = rng.gen_range(0..8);
        let delay = Duration::from_millis(rng.gen_range(0..150));
        in_flight = kill_amid(&mut server.child, at, delay, |tx| {
            workload(&api, &mut model, &mut rng, tx, &mut acked)
        });
        let name = format!("{in_flight:?}");
        let kind = name.split([' ', '{']).next().unwrap_or("").to_string();
        *interrupted.entry(kind).or_default() += 1;
        server = start(dir.path());
    }
    let api = Api::login(&server.base);
    checked += verify(&api, &data, &mut model, &in_flight);
    println!(
        "crash::snapshots: seed {seed}: {kill_points} kill points, {acked} operations acknowledged, {} snapshots and {} volumes live, {checked} written ranges verified, interrupted: {interrupted:?}",
        model.snaps.len(),
        model.vols.len()
    );
    assert!(checked > 0, "no bytes were checked");
    assert!(acked > 0, "nothing was acknowledged");
}
