//! The snapshots API over real HTTP: the lifecycle with Cinder's views (extended
//! attributes on show and detail lists, microversioned keys), `force` and 3.66, every
//! metadata form, the admin actions and `os-update_snapshot_status`, list filters,
//! sort and paging, project isolation, quotas, and the volume delete a snapshot blocks
//! unless `cascade=true`.

use crate::common;

use std::time::{Duration, Instant};

use common::{spawn_emulator, Api};
use serde_json::{json, Value};

pub fn message(body: &Value) -> String {
    body.as_object()
        .and_then(|o| o.values().next())
        .and_then(|f| f["message"].as_str())
        .unwrap_or_else(|| panic!("no fault message in {body}"))
        .to_string()
}

/// Creates a snapshot of `vid` and returns its body (status `creating`).
pub fn create_snapshot(api: &Api, vid: &str, extra: Value) -> Value {
    let mut s = json!({"volume_id": vid});
    if let (Some(o), Some(e)) = (s.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    let (code, body) = api.post("/snapshots", json!({ "snapshot": s }));
    assert_eq!(code, 202, "{body}");
    body["snapshot"].clone()
}

/// Polls until the snapshot reaches `status` ("deleted": gone); panics after 10 s.
pub fn wait_snapshot(api: &Api, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, body) = api.get(&format!("/snapshots/{id}"));
        if status == "deleted" && code == 404 {
            return body;
        }
        if code == 200 && body["snapshot"]["status"] == status {
            return body["snapshot"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "snapshot {id} never reached {status}: last {code} {body}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn available_snapshot(api: &Api, vid: &str) -> String {
    let s = create_snapshot(api, vid, json!({}));
    let id = s["id"].as_str().unwrap().to_string();
    wait_snapshot(api, &id, "available");
    id
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn action(api: &Api, id: &str, body: Value) -> (u16, Value) {
    api.post(&format!("/snapshots/{id}/action"), body)
}

#[test]
fn a_snapshot_is_created_shown_listed_updated_and_deleted_with_cinders_views() {
    let env = spawn_emulator();
    let api = env.login("demo", "demo");
    let vid = api.available_volume(2, None);
    let s = create_snapshot(
        &api,
        &vid,
        json!({"name": " snap ", "description": "d", "metadata": {"k": "v"}}),
    );
    assert_eq!(s["status"], "creating");
    assert_eq!(s["name"], "snap", "names are trimmed");
    assert_eq!(s["size"], 2);
    assert_eq!(s["volume_id"], vid);
    assert_eq!(s["metadata"], json!({"k": "v"}));
    assert_eq!(
        keys(&s),
        [
            "created_at",
            "description",
            "id",
            "metadata",
            "name",
            "size",
            "status",
            "updated_at",
            "volume_id"
        ]
    );
    let id = s["id"].as_str().unwrap().to_string();
    let shown = wait_snapshot(&api, &id, "available");
    assert_eq!(shown["os-extended-snapshot-attributes:progress"], "100%");
    assert_eq!(
        shown["os-extended-snapshot-attributes:project_id"],
        api.project_id
    );

    // Later microversions add keys to the detail view, never to the summary list.
    let (_, body) = api.at("3.65").get(&format!("/snapshots/{id}"));
    let snap = &body["snapshot"];
    assert_eq!(snap["group_snapshot_id"], Value::Null);
    assert!(snap["user_id"].is_string());
    assert_eq!(snap["consumes_quota"], true);
    let (_, body) = api.at("3.40").get(&format!("/snapshots/{id}"));
    assert!(body["snapshot"].get("user_id").is_none());
    let (code, body) = api.at("3.65").get("/snapshots");
    assert_eq!(code, 200);
    assert_eq!(body["snapshots"][0]["id"], id.as_str());
    assert!(body["snapshots"][0].get("user_id").is_none());
    assert!(body["snapshots"][0]
        .get("os-extended-snapshot-attributes:progress")
        .is_none());
    let (_, body) = api.get("/snapshots/detail");
    assert_eq!(
        body["snapshots"][0]["os-extended-snapshot-attributes:progress"],
        "100%"
    );

    let (code, body) = api.put(
        &format!("/snapshots/{id}"),
        json!({"snapshot": {"name": "renamed", "display_description": "dd"}}),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["snapshot"]["name"], "renamed");
    assert_eq!(body["snapshot"]["description"], "dd");
    let (code, body) = api.put(&format!("/snapshots/{id}"), json!({"snapshot": {}}));
    assert_eq!(code, 400);
    assert!(
        message(&body).contains("is not valid under any of the given schemas"),
        "{body}"
    );

    let (code, _) = api.delete(&format!("/snapshots/{id}"));
    assert_eq!(code, 202);
    wait_snapshot(&api, &id, "deleted");
    let (code, body) = api.get(&format!("/snapshots/{id}"));
    assert_eq!(code, 404);
    assert_eq!(message(&body), format!("Snapshot {id} could not be found."));
    assert!(!env
        .emu
        .data_dir
        .join("volumes")
        .join(format!("snapshot-{id}"))
        .exists());
}

#[test]
fn create_is_refused_as_cinder_refuses_it() {
    let env = spawn_emulator();
    let api = env.login("demo", "demo");
    let nil = "00000000-0000-0000-0000-000000000000";
    let (code, body) = api.post("/snapshots", json!({"snapshot": {"volume_id": nil}}));
    assert_eq!(
        (code, message(&body)),
        (404, format!("Volume {nil} could not be found."))
    );
    let (code, body) = api.post("/snapshots", json!({"snapshot": {"name": "x"}}));
    assert_eq!(code, 400);
    assert!(message(&body).contains("'volume_id' is a required property"));
    let (code, body) = api.post("/snapshots", json!({"snapshot": {"volume_id": "nope"}}));
    assert_eq!(code, 400);
    assert!(message(&body).contains("is not valid under any of the given schemas"));
    let vid = api.available_volume(1, None);
    let (code, body) = api.post(
        "/snapshots",
        json!({"snapshot": {"volume_id": vid, "colour": "red"}}),
    );
    assert_eq!(code, 400);
    assert!(
        message(&body).contains("Additional properties are not allowed ('colour' was unexpected)")
    );
    let (code, body) = api.post(
        "/snapshots",
        json!({"snapshot": {"volume_id": vid, "force": "maybe"}}),
    );
    assert_eq!(code, 400);
    assert!(message(&body).contains("is not one of [True,"), "{body}");
}

/// Reserves the volume through a legacy attach so it is `in-use`.
fn make_in_use(api: &Api, vid: &str) {
    let path = format!("/volumes/{vid}/action");
    assert_eq!(api.post(&path, json!({"os-reserve": {}})).0, 202);
    let (code, body) = api.post(
        &path,
        json!({"os-attach": {"instance_uuid": "11111111-2222-3333-4444-555555555555", "mountpoint": "/dev/vdb", "mode": "rw"}}),
    );
    assert_eq!(code, 202, "{body}");
    api.wait_status(vid, "in-use");
}

#[test]
fn an_in_use_volume_needs_force_below_3_66_and_force_false_is_refused_from_3_66() {
    let env = spawn_emulator();
    let api = env.login("demo", "demo");
    let vid = api.available_volume(1, None);
    make_in_use(&api, &vid);
    let (code, body) = api.post("/snapshots", json!({"snapshot": {"volume_id": vid}}));
    assert_eq!(code, 400);
    assert_eq!(
        message(&body),
        format!(
            "Invalid volume: Volume {vid} status must be available, but current status is: in-use."
        )
    );
    let forced = create_snapshot(&api, &vid, json!({"force": true}));
    wait_snapshot(&api, forced["id"].as_str().unwrap(), "available");
    let at66 = api.at("3.66");
    let s = create_snapshot(&at66, &vid, json!({}));
    wait_snapshot(&api, s["id"].as_str().unwrap(), "available");
    let (code, body) = at66.post(
        "/snapshots",
        json!({"snapshot": {"volume_id": vid, "force": false}}),
    );
    assert_eq!(code, 400);
    assert!(message(&body).starts_with("Since microversion 3.66 the 'force' flag is invalid"));
    let s = create_snapshot(&at66, &vid, json!({"force": "true"}));
    assert_eq!(s["status"], "creating");
}

#[test]
fn every_metadata_form_reads_and_writes_the_snapshots_metadata() {
    let env = spawn_emulator();
    let api = env.login("demo", "demo");
    let vid = api.available_volume(1, None);
    let id = available_snapshot(&api, &vid);
    let md = format!("/snapshots/{id}/metadata");
    let (code, body) = api.post(&md, json!({"metadata": {"a": "1", "b": "2"}}));
    assert_eq!(
        (code, &body["metadata"]),
        (200, &json!({"a": "1", "b": "2"}))
    );
    let (code, body) = api.post(&md, json!({"metadata": {"b": "3"}}));
    assert_eq!(
        (code, &body["metadata"]),
        (200, &json!({"a": "1", "b": "3"}))
    );
    let (code, body) = api.put(&md, json!({"metadata": {"c": "4"}}));
    assert_eq!((code, &body["metadata"]), (200, &json!({"c": "4"})));
    assert_eq!(api.get(&md).1["metadata"], json!({"c": "4"}));
    let (code, body) = api.put(&format!("{md}/d"), json!({"meta": {"d": "5"}}));
    assert_eq!((code, &body["meta"]), (200, &json!({"d": "5"})));
    assert_eq!(api.get(&format!("{md}/d")).1["meta"], json!({"d": "5"}));
    let (code, body) = api.put(&format!("{md}/d"), json!({"meta": {"e": "5"}}));
    assert_eq!(
        (code, message(&body)),
        (400, "Request body and URI mismatch".into())
    );
    let (code, body) = api.put(&format!("{md}/d"), json!({"meta": {"d": "5", "e": "6"}}));
    assert_eq!(
        (code, message(&body)),
        (400, "Request body contains too many items".into())
    );
    assert_eq!(api.delete(&format!("{md}/d")).0, 200);
    let (code, body) = api.get(&format!("{md}/d"));
    assert_eq!(
        (code, message(&body)),
        (404, format!("Snapshot {id} has no metadata with key d."))
    );
    assert_eq!(api.delete(&format!("{md}/d")).0, 404);
    let (code, body) = api.post(&md, json!({"metadata": {"": "x"}}));
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        api.get(&format!("/snapshots/{id}")).1["snapshot"]["metadata"],
        json!({"c": "4"})
    );
}

#[test]
fn admin_actions_are_admin_only_and_update_snapshot_status_follows_cinders_map() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let admin = env.admin();
    let vid = demo.available_volume(1, None);
    let id = available_snapshot(&demo, &vid);
    for (body, policy) in [
        (
            json!({"os-reset_status": {"status": "error"}}),
            "reset_status",
        ),
        (json!({"os-force_delete": {}}), "force_delete"),
    ] {
        let (code, body) = action(&demo, &id, body);
        assert_eq!(code, 403, "{policy}: {body}");
        assert_eq!(
            message(&body),
            format!("Policy doesn't allow volume_extension:snapshot_admin_actions:{policy} to be performed.")
        );
    }
    let (code, body) = action(&demo, &id, json!({"os-bogus": {}}));
    assert_eq!(
        (code, message(&body)),
        (400, "There is no such action: os-bogus".into())
    );
    // Another project's admin finds it; the owner reset is refused above.
    let (code, body) = action(&admin, &id, json!({"os-reset_status": {"status": "bogus"}}));
    assert_eq!(code, 400);
    assert!(
        message(&body).contains("'bogus' is not a 'snapshot_status'"),
        "{body}"
    );
    let (code, body) = action(&admin, &id, json!({"os-reset_status": {}}));
    assert_eq!(code, 400);
    assert!(message(&body).contains("'status' is a required property"));
    assert_eq!(
        action(
            &admin,
            &id,
            json!({"os-reset_status": {"status": "CREATING"}})
        )
        .0,
        202
    );
    assert_eq!(
        demo.get(&format!("/snapshots/{id}")).1["snapshot"]["status"],
        "creating"
    );

    // os-update_snapshot_status: creating -> creating/available/error only.
    let (code, body) = action(
        &demo,
        &id,
        json!({"os-update_snapshot_status": {"status": "deleting"}}),
    );
    assert_eq!(code, 400);
    assert_eq!(
        message(&body),
        "Provided snapshot status deleting not allowed for snapshot with status creating."
    );
    let (code, _) = action(
        &demo,
        &id,
        json!({"os-update_snapshot_status": {"status": "available", "progress": "80%"}}),
    );
    assert_eq!(code, 202);
    let shown = demo.get(&format!("/snapshots/{id}")).1["snapshot"].clone();
    assert_eq!(shown["status"], "available");
    assert_eq!(shown["os-extended-snapshot-attributes:progress"], "80%");
    let (code, body) = action(
        &demo,
        &id,
        json!({"os-update_snapshot_status": {"status": "error"}}),
    );
    assert_eq!(code, 400);
    assert_eq!(
        message(&body),
        "Snapshot status available not allowed for update_snapshot_status"
    );

    // A plain delete needs available or error; force_delete takes any status.
    action(
        &admin,
        &id,
        json!({"os-reset_status": {"status": "creating"}}),
    );
    let (code, body) = demo.delete(&format!("/snapshots/{id}"));
    assert_eq!(code, 400);
    assert_eq!(
        message(&body),
        "Invalid snapshot: Snapshot status must be available or error and must not be part of a group."
    );
    assert_eq!(action(&admin, &id, json!({"os-force_delete": {}})).0, 202);
    wait_snapshot(&demo, &id, "deleted");
}

#[test]
fn projects_see_only_their_snapshots_and_admins_list_all_tenants() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let admin = env.admin();
    let vid = demo.available_volume(1, None);
    let id = available_snapshot(&demo, &vid);
    let other = env.login("alt_demo", "alt_demo");
    let (code, _) = other.get(&format!("/snapshots/{id}"));
    assert_eq!(code, 404);
    assert!(other.get("/snapshots").1["snapshots"]
        .as_array()
        .unwrap()
        .is_empty());
    let (code, _) = other.post("/snapshots", json!({"snapshot": {"volume_id": vid}}));
    assert_eq!(code, 404);
    assert!(admin.get("/snapshots").1["snapshots"]
        .as_array()
        .unwrap()
        .is_empty());
    let (_, body) = admin.get("/snapshots/detail?all_tenants=1");
    assert_eq!(body["snapshots"].as_array().unwrap().len(), 1);
    assert_eq!(admin.get(&format!("/snapshots/{id}")).0, 200);
}

#[test]
fn lists_filter_sort_and_page() {
    let env = spawn_emulator();
    let api = env.login("demo", "demo");
    let v1 = api.available_volume(1, None);
    let v2 = api.available_volume(2, None);
    let mut ids = Vec::new();
    for (vid, name) in [(&v1, "b"), (&v2, "a"), (&v1, "c")] {
        let s = create_snapshot(&api, vid, json!({"name": name, "metadata": {"n": name}}));
        ids.push(s["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        wait_snapshot(&api, id, "available");
    }
    let names = |path: &str| -> Vec<String> {
        let (code, body) = api.at("3.22").get(path);
        assert_eq!(code, 200, "{path}: {body}");
        body["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("/snapshots"), ["c", "a", "b"], "newest first");
    assert_eq!(names("/snapshots?sort=name:asc"), ["a", "b", "c"]);
    assert_eq!(
        names("/snapshots?sort_key=size&sort_dir=desc"),
        ["a", "c", "b"]
    );
    assert_eq!(names(&format!("/snapshots?volume_id={v1}")), ["c", "b"]);
    assert_eq!(names("/snapshots?name=a"), ["a"]);
    assert_eq!(names("/snapshots?metadata={'n': 'b'}"), ["b"]);
    assert_eq!(names("/snapshots?status=error"), Vec::<String>::new());
    assert_eq!(names("/snapshots?limit=1&offset=1"), ["a"]);
    assert_eq!(names(&format!("/snapshots?marker={}", ids[2])), ["a", "b"]);
    let (_, body) = api.get("/snapshots?limit=2");
    let next = body["snapshots_links"][0]["href"].as_str().unwrap();
    assert!(next.contains(&format!("marker={}", ids[1])), "{next}");
    let (code, body) = api.get("/snapshots?sort=colour");
    assert_eq!(
        (code, message(&body)),
        (
            400,
            "Invalid input received: Invalid sort key colour".into()
        )
    );
    let (_, body) = api.at("3.45").get("/snapshots?with_count=true&limit=1");
    assert_eq!(body["count"], 3);
}

#[test]
fn quotas_count_snapshots_and_their_gigabytes() {
    let env = spawn_emulator();
    let admin = env.admin();
    let demo = env.login("demo", "demo");
    let pid = demo.project_id.clone();
    let vid = demo.available_volume(3, None);
    let (code, body) = admin.put(
        &format!("/os-quota-sets/{pid}"),
        json!({"quota_set": {"snapshots": 1, "gigabytes": 7}}),
    );
    assert_eq!(code, 200, "{body}");
    available_snapshot(&demo, &vid);
    let (code, body) = demo.post("/snapshots", json!({"snapshot": {"volume_id": vid}}));
    assert_eq!(code, 413);
    assert_eq!(
        message(&body),
        "SnapshotLimitExceeded: Maximum number of snapshots allowed (1) exceeded"
    );
    let (_, body) = admin.get(&format!("/os-quota-sets/{pid}?usage=true"));
    assert_eq!(body["quota_set"]["snapshots"]["in_use"], 1);
    assert_eq!(body["quota_set"]["gigabytes"]["in_use"], 6, "{body}");
    assert_eq!(
        demo.get("/limits").1["limits"]["absolute"]["totalSnapshotsUsed"],
        1
    );
    // 3 GB of volume + 3 GB of snapshot: one more GB fits, two do not.
    let (code, body) = demo.post("/volumes", json!({"volume": {"size": 2}}));
    assert_eq!(code, 413, "{body}");
    admin.put(
        &format!("/os-quota-sets/{pid}"),
        json!({"quota_set": {"snapshots": 5}}),
    );
    let (code, body) = demo.post("/snapshots", json!({"snapshot": {"volume_id": vid}}));
    assert_eq!(code, 413);
    assert_eq!(
        message(&body),
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested 3G, quota is 7G and 6G has been consumed."
    );
}

#[test]
fn a_volume_with_snapshots_is_deleted_only_with_cascade_and_can_be_extended() {
    let env = spawn_emulator();
    let api = env.login("demo", "demo");
    let vid = api.available_volume(1, None);
    let s1 = available_snapshot(&api, &vid);
    let s2 = available_snapshot(&api, &vid);
    let (code, body) = api.delete(&format!("/volumes/{vid}"));
    assert_eq!(code, 400);
    assert_eq!(
        message(&body),
        "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer."
    );
    let (code, body) = api.post(
        &format!("/volumes/{vid}/action"),
        json!({"os-extend": {"new_size": 2}}),
    );
    assert_eq!(code, 202, "{body}");
    let v = api.wait_status(&vid, "available");
    assert_eq!(v["size"], 2);
    assert_eq!(
        api.get(&format!("/snapshots/{s1}")).1["snapshot"]["size"],
        1
    );
    let (code, _) = api.delete(&format!("/volumes/{vid}?cascade=true"));
    assert_eq!(code, 202);
    api.wait_status(&vid, "deleted");
    wait_snapshot(&api, &s1, "deleted");
    wait_snapshot(&api, &s2, "deleted");
}
