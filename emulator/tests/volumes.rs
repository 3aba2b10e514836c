//! Cinder v3 core over real HTTP: discovery, microversions, volumes (create, show, list,
//! filters, paging, update, delete), metadata, errors, isolation, restart, concurrency —
//! with shapes checked against the recorded real-Cinder samples.

use crate::common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::{client, spawn_emulator};
use reqwest::Method;
use serde_json::{json, Value};

fn sample(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/cinder-samples")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn volume_discovery_needs_no_token_at_root_and_one_at_v3() {
    let env = spawn_emulator();
    let base = &env.emu.base_url;
    let r = client().get(format!("{base}/volume/")).send().unwrap();
    assert_eq!(r.status(), 300);
    let body: Value = r.json().unwrap();
    let expected = sample("01-versions-root.json")["response"]["body_json"].clone();
    assert_eq!(keys(&body["versions"][0]), keys(&expected["versions"][0]));
    assert_eq!(body["versions"][0]["version"], "3.71");
    assert_eq!(
        body["versions"][0]["links"][1]["href"],
        format!("{base}/volume/v3/")
    );

    let r = client().get(format!("{base}/volume/v3/")).send().unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Keystone uri="));
    assert!(r.headers().get("openstack-api-version").is_none());
    let body: Value = r.json().unwrap();
    assert_eq!(body, sample("02-versions-v3.json")["response"]["body_json"]);

    let api = env.admin();
    let (code, body) = api.get("");
    assert_eq!(code, 200);
    assert_eq!(body["versions"][0]["id"], "v3.0");
}

#[test]
fn microversions_echo_refuse_and_gate_methods() {
    let env = spawn_emulator();
    let api = env.admin();
    let resp = api.at("3.54").call(Method::GET, "/volumes", None);
    assert_eq!(resp.headers()["openstack-api-version"], "volume 3.54");
    assert_eq!(resp.headers()["vary"], "OpenStack-API-Version");
    assert!(resp.headers().contains_key("x-openstack-request-id"));
    assert!(resp.headers().contains_key("x-compute-request-id"));
    let resp = api.call(Method::GET, "/volumes", None);
    assert_eq!(resp.headers()["openstack-api-version"], "volume 3.0");
    let resp = api.at("latest").call(Method::GET, "/volumes", None);
    assert_eq!(resp.headers()["openstack-api-version"], "volume 3.71");

    let (code, body) = api.at("3.999").get("/volumes");
    assert_eq!(code, 406);
    assert_eq!(
        body,
        sample("57-err-microversion-too-high.json")["response"]["body_json"]
    );
    let (code, body) = api.at("2.0").get("/volumes");
    assert_eq!(code, 406);
    assert_eq!(
        body,
        sample("58-err-microversion-bad-major.json")["response"]["body_json"]
    );
    let (code, body) = api.at("3.x").get("/volumes");
    assert_eq!(code, 400);
    assert!(body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .contains("invalid format"));

    let (code, body) = api
        .at("3.26")
        .post("/attachments", json!({"attachment": {"volume_uuid": "x"}}));
    assert_eq!(code, 404);
    assert_eq!(
        body,
        sample("48-err-attachment-create-mv326.json")["response"]["body_json"]
    );
    let (code, _) = api.at("3.11").get("/volumes/summary");
    assert_eq!(code, 404);
    let (code, body) = api.at("3.12").get("/volumes/summary");
    assert_eq!(code, 200, "{body}");
    assert!(body["volume-summary"]["total_count"].is_number());
}

#[test]
fn create_goes_creating_then_available_with_real_cinder_s_shape() {
    let env = spawn_emulator();
    let api = env.admin().at("3.54");
    let (code, body) = api.post(
        "/volumes",
        json!({"volume": {"size": 1, "name": "parity-vol", "description": "d", "volume_type": "glance-slow", "metadata": {"k": "v"}}}),
    );
    assert_eq!(code, 202);
    let created = &body["volume"];
    assert_eq!(created["status"], "creating");
    assert_eq!(created["updated_at"], Value::Null);
    let want = &sample("11-volume-create-mv354.json")["response"]["body_json"]["volume"];
    assert_eq!(
        keys(created),
        keys(want),
        "create keys differ from real Cinder's"
    );
    for k in [
        "size",
        "name",
        "description",
        "volume_type",
        "metadata",
        "bootable",
        "encrypted",
        "multiattach",
        "availability_zone",
    ] {
        assert_eq!(created[k], want[k], "{k}");
    }
    let created_at = created["created_at"].as_str().unwrap();
    assert!(
        !created_at.ends_with('Z') && created_at.len() == 26,
        "{created_at}"
    );
    let id = created["id"].as_str().unwrap();
    assert!(created["links"][0]["href"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/volume/v3/{}/volumes/{id}", api.project_id)));

    let shown = api.wait_status(id, "available");
    assert!(shown["updated_at"].is_string());
    let file = env.dir.path().join("volumes").join(format!("volume-{id}"));
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 1 << 30);

    for (mv, name) in [
        ("3.0", "13-volume-show-available-mv30.json"),
        ("3.54", "14-volume-show-available-mv354.json"),
        ("3.71", "15-volume-show-available-mv371.json"),
    ] {
        let (code, body) = env.admin().at(mv).get(&format!("/volumes/{id}"));
        assert_eq!(code, 200);
        let want = &sample(name)["response"]["body_json"]["volume"];
        assert_eq!(
            keys(&body["volume"]),
            keys(want),
            "show at {mv} differs from {name}"
        );
    }
    let (_, body) = api.get(&format!("/volumes/{id}"));
    assert_eq!(
        body["volume"]["os-vol-tenant-attr:tenant_id"],
        api.project_id
    );
}

#[test]
fn non_admins_do_not_see_admin_only_keys() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo").at("3.71");
    let id = demo.available_volume(1, None);
    let (_, body) = demo.get(&format!("/volumes/{id}"));
    let v = &body["volume"];
    for hidden in [
        "os-vol-host-attr:host",
        "os-vol-mig-status-attr:migstat",
        "migration_status",
        "provider_id",
        "cluster_name",
    ] {
        assert!(v.get(hidden).is_none(), "{hidden} shown to a member");
    }
    assert_eq!(v["os-vol-tenant-attr:tenant_id"], demo.project_id);
    assert_eq!(v["volume_type"], "__DEFAULT__");
}

#[test]
fn bad_create_requests_get_cinder_s_errors_and_change_nothing() {
    let env = spawn_emulator();
    let api = env.admin().at("3.54");
    let check = |body: Value, code: u16, sample_name: Option<&str>, fragment: &str| {
        let (got, resp) = api.post("/volumes", body.clone());
        assert_eq!(got, code, "{body} -> {resp}");
        if let Some(s) = sample_name {
            assert_eq!(resp, sample(s)["response"]["body_json"], "{body}");
        }
        let msg = resp.as_object().unwrap().values().next().unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(msg.contains(fragment), "{msg:?} lacks {fragment:?}");
    };
    check(
        json!({"volume": {"size": 0}}),
        400,
        Some("53-err-volume-size-0.json"),
        "minimum of 1",
    );
    check(
        json!({"volume": {"size": 1, "volume_type": "nope"}}),
        404,
        Some("54-err-volume-bad-type.json"),
        "nope",
    );
    check(
        json!({"notvolume": {}}),
        400,
        Some("55-err-volume-bad-body.json"),
        "required",
    );
    check(json!({"volume": {"size": -1}}), 400, None, "minimum of 1");
    check(
        json!({"volume": {"size": 1e300}}),
        400,
        None,
        "is not of type",
    );
    check(
        json!({"volume": {"size": 99999999999u64}}),
        400,
        None,
        "maximum",
    );
    check(json!({"volume": {"size": "ten"}}), 400, None, "ten");
    check(
        json!({"volume": {}}),
        400,
        None,
        "'size' is a required property",
    );
    check(json!({"volume": {"size": 1, "name": 5}}), 400, None, "name");
    // Cinder names the innermost key on the schema path: the metadata key.
    check(
        json!({"volume": {"size": 1, "metadata": {"k": 1}}}),
        400,
        None,
        "field/attribute k. Value: 1. 1 is not of type 'string'",
    );
    check(
        json!({"volume": {"size": 1, "availability_zone": "mars"}}),
        400,
        None,
        "mars",
    );
    check(
        json!({"volume": {"size": 1, "bogus": true}}),
        400,
        None,
        "'bogus' was unexpected",
    );
    check(
        json!({"volume": {"size": 1, "multiattach": true}}),
        400,
        None,
        "multiattach",
    );
    check(json!({"volume": "x"}), 400, None, "volume");
    check(json!([1, 2]), 400, None, "[1, 2] is not of type 'object'");
    // Below 3.53 unknown keys are ignored, as in Cinder.
    let (code, _) = env
        .admin()
        .at("3.52")
        .post("/volumes", json!({"volume": {"size": 1, "bogus": true}}));
    assert_eq!(code, 202);

    let resp = api
        .http
        .post(api.url("/volumes"))
        .header("X-Auth-Token", &api.token)
        .header("OpenStack-API-Version", "volume 3.54")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().unwrap();
    assert_eq!(
        body,
        sample("56-err-volume-malformed-json.json")["response"]["body_json"]
    );

    let huge = format!(
        "{{\"volume\": {{\"size\": 1, \"name\": \"{}\"}}}}",
        "x".repeat(200_000)
    );
    let resp = api
        .http
        .post(api.url("/volumes"))
        .header("X-Auth-Token", &api.token)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 413);
    let (_, list) = api.get("/volumes");
    assert_eq!(
        list["volumes"].as_array().unwrap().len(),
        1,
        "only the 3.52 volume exists"
    );
}

#[test]
fn unknown_and_malformed_ids_are_404() {
    let env = spawn_emulator();
    let api = env.admin().at("3.54");
    let (code, body) = api.get("/volumes/03ddb502-6217-4b89-98b4-182e4c67a7ac");
    assert_eq!(code, 404);
    assert_eq!(
        body,
        sample("51-err-volume-not-found.json")["response"]["body_json"]
    );
    for path in [
        "/volumes/not-a-uuid",
        "/volumes/..%2F..%2Fetc",
        "/volumes/",
        "/volumes/x/metadata",
    ] {
        let (code, body) = api.get(path);
        assert_eq!(code, 404, "{path}: {body}");
        assert!(body["itemNotFound"]["message"].is_string(), "{path}");
    }
    assert_eq!(api.delete("/volumes/").0, 404);
    assert_eq!(
        api.put("/volumes/", json!({"volume": {"name": "x"}})).0,
        404
    );
}

#[test]
fn list_detail_filters_sorting_and_paging() {
    let env = spawn_emulator();
    let api = env.login("glance", "service").at("3.54");
    let mut ids = Vec::new();
    for i in 0..5 {
        let (code, body) = api.post(
            "/volumes",
            json!({"volume": {"size": 1 + (i % 2), "name": format!("v{i}"), "metadata": {"n": i.to_string(), "even": (i % 2 == 0).to_string()}}}),
        );
        assert_eq!(code, 202);
        ids.push(body["volume"]["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        api.wait_status(id, "available");
    }
    let (_, list) = api.get("/volumes");
    let got: Vec<&str> = list["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(got, newest_first, "default sort is created_at desc");
    assert_eq!(
        keys(&list["volumes"][0]),
        BTreeSet::from(["id".into(), "name".into(), "links".into()])
    );

    let (_, d) = api.get("/volumes/detail?name=v3");
    assert_eq!(d["volumes"].as_array().unwrap().len(), 1);
    assert_eq!(d["volumes"][0]["id"], ids[3].as_str());
    let (_, d) = api.get("/volumes/detail?metadata=%7B%27even%27%3A%20%27true%27%7D");
    assert_eq!(d["volumes"].as_array().unwrap().len(), 3);
    let (_, d) = api.get("/volumes/detail?status=available&size=2");
    assert_eq!(d["volumes"].as_array().unwrap().len(), 2);
    let (_, d) = api.get("/volumes/detail?status=error");
    assert_eq!(d["volumes"].as_array().unwrap().len(), 0);
    let (_, d) = api.get("/volumes?sort=name:asc");
    assert_eq!(d["volumes"][0]["name"], "v0");
    let (_, d) = api.get("/volumes?sort_key=name&sort_dir=asc");
    assert_eq!(d["volumes"][4]["name"], "v4");
    let (code, _) = api.get("/volumes?sort=name&sort_key=name");
    assert_eq!(code, 400);
    let (code, _) = api.get("/volumes?limit=-1");
    assert_eq!(code, 400);
    let (code, _) = api.get("/volumes?marker=00000000-0000-0000-0000-000000000000");
    assert_eq!(code, 404);

    // Walk the pages by following volumes_links.
    let mut seen = Vec::new();
    let mut url = api.url("/volumes/detail?limit=2");
    for _ in 0..10 {
        let r = api
            .http
            .get(&url)
            .header("X-Auth-Token", &api.token)
            .send()
            .unwrap();
        let page: Value = r.json().unwrap();
        for v in page["volumes"].as_array().unwrap() {
            seen.push(v["id"].as_str().unwrap().to_string());
        }
        match page.get("volumes_links") {
            Some(links) => url = links[0]["href"].as_str().unwrap().to_string(),
            None => break,
        }
    }
    assert_eq!(seen, ids.iter().rev().cloned().collect::<Vec<_>>());

    let (_, c) = env
        .login("glance", "service")
        .at("3.45")
        .get("/volumes?with_count=true&limit=1");
    assert_eq!(c["count"], 5);
    assert_eq!(c["volumes"].as_array().unwrap().len(), 1);
}

#[test]
fn update_metadata_and_delete() {
    let env = spawn_emulator();
    let api = env.admin().at("3.54");
    let id = api.available_volume(1, Some("glance-fast"));
    let p = |s: &str| format!("/volumes/{id}{s}");

    let (code, body) = api.put(
        &p(""),
        json!({"volume": {"name": "renamed", "description": "dd"}}),
    );
    assert_eq!(code, 200);
    assert_eq!(body["volume"]["name"], "renamed");
    let want = &sample("22-volume-update-name.json")["response"]["body_json"]["volume"];
    assert_eq!(keys(&body["volume"]), keys(want));
    assert_eq!(api.put(&p(""), json!({"volume": {}})).0, 400);
    assert_eq!(
        env.admin().at("3.0").put(&p(""), json!({"volume": {}})).0,
        200
    );

    let (code, body) = api.post(&p("/metadata"), json!({"metadata": {"a": "1", "k": "v"}}));
    assert_eq!(
        (code, body["metadata"].clone()),
        (200, json!({"a": "1", "k": "v"}))
    );
    let (_, body) = api.post(&p("/metadata"), json!({"metadata": {"b": "2"}}));
    assert_eq!(body["metadata"], json!({"a": "1", "b": "2", "k": "v"}));
    let (_, body) = api.put(&p("/metadata"), json!({"metadata": {"only": "x"}}));
    assert_eq!(body["metadata"], json!({"only": "x"}));
    let (code, body) = api.get(&p("/metadata/only"));
    assert_eq!((code, body), (200, json!({"meta": {"only": "x"}})));
    assert_eq!(api.get(&p("/metadata/missing")).0, 404);
    let (code, body) = api.put(&p("/metadata/k2"), json!({"meta": {"k2": "v2"}}));
    assert_eq!((code, body), (200, json!({"meta": {"k2": "v2"}})));
    assert_eq!(
        api.put(&p("/metadata/k3"), json!({"meta": {"other": "v"}}))
            .0,
        400
    );
    assert_eq!(
        api.put(&p("/metadata/k3"), json!({"meta": {"k3": "v", "x": "y"}}))
            .0,
        400
    );
    assert_eq!(
        api.post(&p("/metadata"), json!({"metadata": {"": "x"}})).0,
        400
    );
    assert_eq!(
        api.post(&p("/metadata"), json!({"metadata": {"k": "x".repeat(256)}}))
            .0,
        400
    );
    assert_eq!(api.delete(&p("/metadata/k2")).0, 200);
    assert_eq!(api.delete(&p("/metadata/k2")).0, 404);
    let (_, body) = api.get(&p("/metadata"));
    assert_eq!(body["metadata"], json!({"only": "x"}));
    let (_, shown) = api.get(&p(""));
    assert_eq!(shown["volume"]["metadata"], json!({"only": "x"}));

    let (code, _) = api.delete(&p(""));
    assert_eq!(code, 202);
    let (code, body) = api.get(&p(""));
    assert!(
        code == 404 || body["volume"]["status"] == "deleting",
        "{code} {body}"
    );
    api.wait_status(&id, "deleted");
    assert!(!env
        .dir
        .path()
        .join("volumes")
        .join(format!("volume-{id}"))
        .exists());
    assert_eq!(api.delete(&p("")).0, 404);
}

#[test]
fn delete_refuses_busy_volumes() {
    let env = spawn_emulator();
    let api = env.admin().at("3.54");
    let id = api.create_volume(1, Some("glance-slow"));
    let (code, body) = api.delete(&format!("/volumes/{id}"));
    assert_eq!(code, 400, "deleting a creating volume: {body}");
    assert_eq!(
        body["badRequest"]["message"],
        sample("38-err-delete-in-use.json")["response"]["body_json"]["badRequest"]["message"]
    );
}

#[test]
fn projects_are_isolated_and_admin_calls_refused_to_members() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo").at("3.54");
    let alt = env.login("alt_demo", "alt_demo").at("3.54");
    let admin = env.admin().at("3.54");
    let id = demo.available_volume(1, None);
    for (method, path) in [
        (Method::GET, ""),
        (Method::DELETE, ""),
        (Method::GET, "/metadata"),
    ] {
        let (code, _) = alt.req(method.clone(), &format!("/volumes/{id}{path}"), None);
        assert_eq!(code, 404, "{method} {path}");
    }
    let (code, _) = alt.put(
        &format!("/volumes/{id}"),
        json!({"volume": {"name": "stolen"}}),
    );
    assert_eq!(code, 404);
    let (_, list) = alt.get("/volumes/detail");
    assert_eq!(list["volumes"].as_array().unwrap().len(), 0);
    // A project id in the URL other than the token's is malformed, even for admins.
    let mut wrong = alt.clone();
    wrong.project_id = demo.project_id.clone();
    let (code, body) = wrong.get("/volumes");
    assert_eq!(code, 400);
    assert_eq!(body["badRequest"]["message"], "Malformed request url");
    // The 3.67 form without a project id serves the token's project.
    let r = client()
        .get(format!("{}/volume/v3/volumes", env.emu.base_url))
        .header("X-Auth-Token", &demo.token)
        .send()
        .unwrap();
    let list: Value = r.json().unwrap();
    assert_eq!(list["volumes"][0]["id"], id.as_str());
    // Admin sees it by id and with all_tenants.
    assert_eq!(admin.get(&format!("/volumes/{id}")).0, 200);
    let (_, all) = admin.get("/volumes/detail?all_tenants=1");
    assert!(all["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["id"] == id.as_str()));
    let (_, own) = admin.get("/volumes/detail");
    assert!(!own["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["id"] == id.as_str()));
    // Members are refused admin-only calls.
    let (code, body) = demo.post("/types", json!({"volume_type": {"name": "mine"}}));
    assert_eq!(code, 403);
    assert!(body["forbidden"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Policy doesn't allow"));
    assert_eq!(demo.delete(&format!("/volumes/{id}?force=true")).0, 403);
}

#[test]
fn volume_types_list_show_default_extra_specs_and_access() {
    let env = spawn_emulator();
    let admin = env.admin();
    let demo = env.login("demo", "demo");
    let (code, body) = admin.get("/types");
    assert_eq!(code, 200);
    let want = &sample("04-types-list.json")["response"]["body_json"]["volume_types"][0];
    let types = body["volume_types"].as_array().unwrap();
    assert_eq!(keys(&types[0]), keys(want));
    let names: Vec<&str> = types.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for n in [
        "__DEFAULT__",
        "glance-fast",
        "glance-slow",
        "glance-old",
        "glance-new",
    ] {
        assert!(names.contains(&n), "{n}");
    }
    let (_, one) = admin.get("/types?name=glance-fast");
    assert_eq!(one["volume_types"].as_array().unwrap().len(), 1);
    let fast = types.iter().find(|t| t["name"] == "glance-fast").unwrap();
    let fid = fast["id"].as_str().unwrap();
    let (code, shown) = demo.get(&format!("/types/{fid}"));
    assert_eq!(code, 200);
    assert!(
        shown["volume_type"].get("qos_specs_id").is_none(),
        "qos_specs_id is admin-only"
    );
    let (code, def) = demo.at("3.62").get("/types/default");
    assert_eq!(code, 200);
    assert_eq!(def["volume_type"]["name"], "__DEFAULT__");
    assert!(def["volume_type"]
        .get("os-volume-type-access:is_public")
        .is_none());
    assert_eq!(
        demo.get("/types/00000000-0000-0000-0000-000000000000").0,
        404
    );

    let (code, created) = admin.post(
        "/types",
        json!({"volume_type": {"name": "private", "os-volume-type-access:is_public": false, "extra_specs": {"volume_backend_name": "local", "multiattach": "<is> True"}}}),
    );
    assert_eq!(code, 200, "{created}");
    let pid = created["volume_type"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        admin
            .post("/types", json!({"volume_type": {"name": "private"}}))
            .0,
        409
    );
    assert_eq!(
        demo.get(&format!("/types/{pid}")).0,
        404,
        "private type hidden"
    );
    let (code, _) = admin.post(
        &format!("/types/{pid}/action"),
        json!({"addProjectAccess": {"project": demo.project_id}}),
    );
    assert_eq!(code, 202);
    let (code, shown) = demo.get(&format!("/types/{pid}"));
    assert_eq!(code, 200);
    assert_eq!(
        shown["volume_type"]["extra_specs"],
        json!({"multiattach": "<is> True"}),
        "members see only whitelisted specs"
    );
    let (_, acc) = admin.get(&format!("/types/{pid}/os-volume-type-access"));
    assert_eq!(acc["volume_type_access"][0]["project_id"], demo.project_id);

    let (code, specs) = admin.post(
        &format!("/types/{pid}/extra_specs"),
        json!({"extra_specs": {"a": "b"}}),
    );
    assert_eq!((code, specs), (200, json!({"extra_specs": {"a": "b"}})));
    let (_, one) = admin.get(&format!("/types/{pid}/extra_specs/a"));
    assert_eq!(one, json!({"a": "b"}));
    assert_eq!(
        admin
            .put(&format!("/types/{pid}/extra_specs/a"), json!({"a": "c"}))
            .1,
        json!({"a": "c"})
    );
    assert_eq!(admin.delete(&format!("/types/{pid}/extra_specs/a")).0, 202);
    assert_eq!(admin.get(&format!("/types/{pid}/extra_specs/a")).0, 404);
    let (code, upd) = admin.put(
        &format!("/types/{pid}"),
        json!({"volume_type": {"description": "desc"}}),
    );
    assert_eq!(code, 200);
    assert!(upd["volume_type"]
        .get("os-volume-type-access:is_public")
        .is_none());
    assert_eq!(upd["volume_type"]["description"], "desc");

    let vid = demo.available_volume(1, Some("private"));
    let (code, body) = admin.delete(&format!("/types/{pid}"));
    assert_eq!(
        (code, body["badRequest"]["message"].clone()),
        (400, json!("Target volume type is still in use."))
    );
    demo.delete(&format!("/volumes/{vid}"));
    demo.wait_status(&vid, "deleted");
    assert_eq!(admin.delete(&format!("/types/{pid}")).0, 202);
    assert_eq!(admin.get(&format!("/types/{pid}")).0, 404);
}

#[test]
fn everything_comes_back_after_a_restart() {
    let env = spawn_emulator();
    let api = env.login("glance", "service").at("3.54");
    let id = api.available_volume(2, Some("glance-old"));
    assert_eq!(
        api.post(
            &format!("/volumes/{id}/metadata"),
            json!({"metadata": {"glance_image_id": "img"}})
        )
        .0,
        200
    );
    let (code, t) = env.admin().post(
        "/types",
        json!({"volume_type": {"name": "made-at-runtime"}}),
    );
    assert_eq!(code, 200);
    let creating = api.create_volume(1, Some("glance-slow"));
    let (_, before) = api.get(&format!("/volumes/{id}"));

    let env = env.restart();
    let (code, after) = api.get(&format!("/volumes/{id}"));
    assert_eq!(code, 200);
    assert_eq!(after, before, "volume identical after restart");
    assert_eq!(after["volume"]["metadata"]["glance_image_id"], "img");
    let (code, _) = env.admin().get(&format!(
        "/types/{}",
        t["volume_type"]["id"].as_str().unwrap()
    ));
    assert_eq!(code, 200);
    assert!(env
        .dir
        .path()
        .join("volumes")
        .join(format!("volume-{id}"))
        .exists());
    // A volume caught in `creating` is resolved, never stuck: Cinder marks it `error`
    // (unless its create finished before the stop).
    let (_, c) = api.get(&format!("/volumes/{creating}"));
    let status = c["volume"]["status"].as_str().unwrap();
    assert!(status == "error" || status == "available", "{status}");
    assert_eq!(env.emu.app.store.integrity_check().unwrap(), "ok");
}

#[test]
fn concurrent_metadata_writes_on_one_volume_lose_nothing() {
    let env = spawn_emulator();
    let api = env.admin().at("3.54");
    let id = api.available_volume(1, None);
    std::thread::scope(|s| {
        for t in 0..8 {
            let api = api.clone();
            let id = id.clone();
            s.spawn(move || {
                for i in 0..10 {
                    let (code, _) = api.post(
                        &format!("/volumes/{id}/metadata"),
                        json!({"metadata": {format!("k{t}-{i}"): "v"}}),
                    );
                    assert_eq!(code, 200);
                }
            });
        }
    });
    let (_, md) = api.get(&format!("/volumes/{id}/metadata"));
    assert_eq!(md["metadata"].as_object().unwrap().len(), 80);
}

#[test]
fn availability_zones_and_extensions() {
    let env = spawn_emulator();
    let api = env.login("demo", "demo");
    let (code, body) = api.get("/os-availability-zone");
    assert_eq!(code, 200);
    assert_eq!(
        body,
        json!({"availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": true}}]})
    );
    let (_, ext) = api.get("/extensions");
    assert!(ext["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["name"] == "Hosts"));
    let (code, lim) = api.get("/limits");
    assert_eq!(code, 200);
    let want = &sample("09-limits.json")["response"]["body_json"]["limits"]["absolute"];
    assert_eq!(keys(&lim["limits"]["absolute"]), keys(want));
}
