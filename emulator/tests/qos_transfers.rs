//! QoS specs and volume transfers over real HTTP: success and error cases, admin-only
//! refusal, project isolation, microversion gates (3.55, 3.57) and restart persistence;
//! and the volume-type answers Tempest's schemas check (`qos_specs_id`, lookups by id
//! only, unknown keys refused).

use crate::common;

use common::{spawn_emulator, Api};
use reqwest::Method;
use serde_json::{json, Value};

fn message(body: &Value) -> String {
    body.as_object()
        .and_then(|o| o.values().next())
        .and_then(|f| f["message"].as_str())
        .unwrap_or_else(|| panic!("no fault message in {body}"))
        .to_string()
}

fn new_type(admin: &Api, name: &str) -> String {
    let (code, body) = admin.post("/types", json!({"volume_type": {"name": name}}));
    assert_eq!(code, 200, "{body}");
    let t = body["volume_type"].as_object().unwrap();
    let mut keys: Vec<&str> = t.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "description",
            "extra_specs",
            "id",
            "is_public",
            "name",
            "os-volume-type-access:is_public"
        ],
        "create answers without qos_specs_id"
    );
    t["id"].as_str().unwrap().to_string()
}

#[test]
fn type_answers_match_cinder() {
    let env = spawn_emulator();
    let admin = env.admin();
    let tid = new_type(&admin, "t1");
    let (code, body) = admin.put(
        &format!("/types/{tid}"),
        json!({"volume_type": {"description": "d"}}),
    );
    assert_eq!(code, 200, "{body}");
    assert!(body["volume_type"].get("qos_specs_id").is_none(), "{body}");
    assert!(
        body["volume_type"]
            .get("os-volume-type-access:is_public")
            .is_none(),
        "{body}"
    );
    let shown = admin.get(&format!("/types/{tid}")).1;
    assert_eq!(shown["volume_type"]["qos_specs_id"], Value::Null, "{shown}");
    assert_eq!(admin.get("/types/t1").0, 404, "names are not looked up");
    let (code, body) = admin.post(
        "/types",
        json!({"volume_type": {"name": "t2", "new_size": -1, "size": -1, "volumes": "x"}}),
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        message(&body).contains("Additional properties are not allowed"),
        "{body}"
    );
    let (code, _) = admin.put(
        &format!("/types/{tid}"),
        json!({"volume_type": {"size": 1}}),
    );
    assert_eq!(code, 400);
    let demo = env.login("demo", "demo");
    let shown = demo.get(&format!("/types/{tid}")).1;
    assert!(
        shown["volume_type"].get("qos_specs_id").is_none(),
        "members don't see it: {shown}"
    );
}

#[test]
fn qos_specs_lifecycle_associations_and_restart() {
    let env = spawn_emulator();
    let admin = env.admin();
    let (code, body) = admin.post(
        "/qos-specs",
        json!({"qos_specs": {"name": "gold", "consumer": "front-end", "read_iops_sec": "2000"}}),
    );
    assert_eq!(code, 200, "{body}");
    let q = &body["qos_specs"];
    assert_eq!(q["consumer"], "front-end");
    assert_eq!(q["specs"], json!({"read_iops_sec": "2000"}));
    assert!(
        body["links"][0]["href"]
            .as_str()
            .unwrap()
            .contains("/qos-specs/"),
        "{body}"
    );
    let qid = q["id"].as_str().unwrap().to_string();
    let (code, body) = admin.post("/qos-specs", json!({"qos_specs": {"name": "gold"}}));
    assert_eq!(code, 409, "{body}");
    let (code, body) = admin.post(
        "/qos-specs",
        json!({"qos_specs": {"name": "x", "consumer": "nobody"}}),
    );
    assert_eq!(code, 400, "{body}");

    let (code, body) = admin.put(
        &format!("/qos-specs/{qid}"),
        json!({"qos_specs": {"write_iops_sec": "100"}}),
    );
    assert_eq!(
        (code, body.clone()),
        (200, json!({"qos_specs": {"write_iops_sec": "100"}}))
    );
    let (code, _) = admin.put(
        &format!("/qos-specs/{qid}/delete_keys"),
        json!({"keys": ["read_iops_sec"]}),
    );
    assert_eq!(code, 202);
    let (code, _) = admin.put(
        &format!("/qos-specs/{qid}/delete_keys"),
        json!({"keys": ["nope"]}),
    );
    assert_eq!(code, 404);

    let tid = new_type(&admin, "with-qos");
    let (code, body) = admin.get(&format!("/qos-specs/{qid}/associate"));
    assert_eq!(code, 400, "{body}");
    assert_eq!(message(&body), "Volume Type id must not be None.");
    let (code, _) = admin.get(&format!("/qos-specs/{qid}/associate?vol_type_id={tid}"));
    assert_eq!(code, 202);
    let (code, _) = admin.get(&format!(
        "/qos-specs/{qid}/associate?vol_type_id=00000000-0000-0000-0000-000000000000"
    ));
    assert_eq!(code, 404);
    let shown = admin.get(&format!("/types/{tid}")).1;
    assert_eq!(shown["volume_type"]["qos_specs_id"], qid.as_str());
    let (code, body) = admin.delete(&format!("/qos-specs/{qid}"));
    assert_eq!(code, 400, "in use: {body}");

    let demo = env.login("demo", "demo");
    assert_eq!(demo.get("/qos-specs").0, 403);
    assert_eq!(
        demo.post("/qos-specs", json!({"qos_specs": {"name": "y"}}))
            .0,
        403
    );

    let env = env.restart();
    let admin = env.admin();
    let (code, body) = admin.get(&format!("/qos-specs/{qid}"));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["qos_specs"]["specs"], json!({"write_iops_sec": "100"}));
    let assoc = admin.get(&format!("/qos-specs/{qid}/associations")).1;
    assert_eq!(
        assoc,
        json!({"qos_associations": [{"association_type": "volume_type", "name": "with-qos", "id": tid}]})
    );
    assert_eq!(
        admin.get(&format!("/qos-specs/{qid}/disassociate_all")).0,
        202
    );
    assert_eq!(
        admin.get(&format!("/types/{tid}")).1["volume_type"]["qos_specs_id"],
        Value::Null
    );
    assert_eq!(
        admin
            .get(&format!("/qos-specs/{qid}/associate?vol_type_id={tid}"))
            .0,
        202
    );
    assert_eq!(admin.delete(&format!("/qos-specs/{qid}?force=true")).0, 202);
    assert_eq!(admin.get(&format!("/qos-specs/{qid}")).0, 404);
    assert_eq!(
        admin.get(&format!("/types/{tid}")).1["volume_type"]["qos_specs_id"],
        Value::Null
    );
    assert_eq!(admin.get("/qos-specs").1, json!({"qos_specs": []}));
}

fn create_transfer(api: &Api, path: &str, volume_id: &str) -> Value {
    let (code, body) = api.post(
        path,
        json!({"transfer": {"volume_id": volume_id, "name": "t"}}),
    );
    assert_eq!(code, 202, "{body}");
    body["transfer"].clone()
}

#[test]
fn transfers_move_a_volume_and_its_quota_between_projects() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let alt = env.login("alt_demo", "alt_demo");
    let vid = demo.available_volume(2, None);
    let t = create_transfer(&demo, "/os-volume-transfer", &vid);
    let key = t["auth_key"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 16);
    assert!(
        t.get("no_snapshots").is_none(),
        "3.0 has no no_snapshots: {t}"
    );
    let tid = t["id"].as_str().unwrap().to_string();
    demo.wait_status(&vid, "awaiting-transfer");
    let (code, body) = demo.post(
        "/os-volume-transfer",
        json!({"transfer": {"volume_id": vid}}),
    );
    assert_eq!(code, 400, "not available: {body}");

    let shown = demo.get(&format!("/os-volume-transfer/{tid}")).1;
    assert!(
        shown["transfer"].get("auth_key").is_none(),
        "the key is shown once: {shown}"
    );
    assert_eq!(
        alt.get(&format!("/os-volume-transfer/{tid}")).0,
        404,
        "other projects don't see it"
    );
    assert_eq!(alt.get("/os-volume-transfer").1["transfers"], json!([]));
    assert_eq!(
        demo.get("/os-volume-transfer/detail").1["transfers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The 3.55 API is the same transfer, with no_snapshots; 3.57 adds history keys.
    assert_eq!(
        demo.get("/volume-transfers").0,
        404,
        "volume-transfers needs 3.55"
    );
    let at55 = demo.at("3.55").get(&format!("/volume-transfers/{tid}")).1;
    assert_eq!(at55["transfer"]["no_snapshots"], false, "{at55}");
    assert!(at55["transfer"].get("accepted").is_none());
    let at57 = demo.at("3.57").get(&format!("/volume-transfers/{tid}")).1;
    assert_eq!(at57["transfer"]["accepted"], false, "{at57}");
    assert_eq!(
        at57["transfer"]["source_project_id"],
        demo.project_id.as_str()
    );

    let (code, body) = alt.post(
        &format!("/os-volume-transfer/{tid}/accept"),
        json!({"accept": {"auth_key": "wrong"}}),
    );
    assert_eq!(code, 400, "{body}");
    assert!(message(&body).starts_with("Invalid auth key"), "{body}");

    let env = env.restart();
    let demo = env.login("demo", "demo");
    let alt = env.login("alt_demo", "alt_demo");
    let before = alt
        .get(&format!("/os-quota-sets/{}?usage=true", alt.project_id))
        .1;
    let (code, body) = alt.post(
        &format!("/os-volume-transfer/{tid}/accept"),
        json!({"accept": {"auth_key": key}}),
    );
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["transfer"]["volume_id"], vid.as_str());
    let v = alt.wait_status(&vid, "available");
    assert_eq!(
        v["user_id"],
        alt.get("/volumes/detail").1["volumes"][0]["user_id"]
    );
    assert_eq!(
        demo.get(&format!("/volumes/{vid}")).0,
        404,
        "gone from the giver"
    );
    let after = alt
        .get(&format!("/os-quota-sets/{}?usage=true", alt.project_id))
        .1;
    let used = |b: &Value| b["quota_set"]["gigabytes"]["in_use"].as_i64().unwrap();
    assert_eq!(used(&after) - used(&before), 2, "{before} {after}");
    assert_eq!(
        demo.get(&format!("/os-volume-transfer/{tid}")).0,
        404,
        "accepted transfers are gone"
    );
}

#[test]
fn deleting_a_transfer_frees_the_volume_and_validation_is_cinders() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo").at("3.57");
    let vid = demo.available_volume(1, None);
    let (code, body) = demo.post(
        "/volume-transfers",
        json!({"transfer": {"volume_id": vid, "no_snapshots": "x"}}),
    );
    assert_eq!(code, 400, "{body}");
    let (code, body) = demo.post(
        "/volume-transfers",
        json!({"transfer": {"volume_id": vid, "bogus": 1}}),
    );
    assert_eq!(code, 400, "{body}");
    let (code, _) = demo.post(
        "/volume-transfers",
        json!({"transfer": {"volume_id": "00000000-0000-0000-0000-000000000000"}}),
    );
    assert_eq!(code, 404);
    let t = create_transfer(&demo, "/volume-transfers", &vid);
    assert_eq!(t["no_snapshots"], false);
    assert_eq!(t["destination_project_id"], Value::Null);
    let tid = t["id"].as_str().unwrap();
    let alt = env.login("alt_demo", "alt_demo");
    assert_eq!(
        alt.req(Method::DELETE, &format!("/os-volume-transfer/{tid}"), None)
            .0,
        404
    );
    assert_eq!(demo.delete(&format!("/volume-transfers/{tid}")).0, 202);
    demo.wait_status(&vid, "available");
    assert_eq!(demo.get(&format!("/volume-transfers/{tid}")).0, 404);
}

#[test]
fn type_encryption_create_show_update_delete_and_restart() {
    let env = spawn_emulator();
    let admin = env.admin();
    let tid = new_type(&admin, "encrypted");
    let path = format!("/types/{tid}/encryption");
    assert_eq!(admin.get(&path), (200, json!({})));
    let (code, body) = admin.post(&path, json!({"encryption": {"provider": "luks"}}));
    assert_eq!(code, 400, "control_location is required: {body}");
    let spec = json!({"provider": "LuksEncryptor", "key_size": 256, "cipher": "aes-xts-plain64", "control_location": "front-end"});
    let (code, body) = admin.post(&path, json!({ "encryption": spec }));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["encryption"]["volume_type_id"], tid.as_str());
    let eid = body["encryption"]["encryption_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        admin.post(&path, json!({ "encryption": spec })).0,
        400,
        "one per type"
    );
    let demo = env.login("demo", "demo");
    assert_eq!(demo.get(&path).0, 403);

    let env = env.restart();
    let admin = env.admin();
    let (code, shown) = admin.get(&path);
    assert_eq!(code, 200, "{shown}");
    assert_eq!(
        (shown["provider"].clone(), shown["key_size"].clone()),
        (json!("LuksEncryptor"), json!(256))
    );
    let (code, _) = admin.put(
        &format!("{path}/{eid}"),
        json!({"encryption": {"key_size": 128, "control_location": "back-end"}}),
    );
    assert_eq!(code, 200);
    assert_eq!(
        admin.get(&format!("{path}/cipher")),
        (200, json!({"cipher": "aes-xts-plain64"}))
    );
    assert_eq!(
        admin.get(&format!("{path}/control_location")).1,
        json!({"control_location": "back-end"})
    );
    let vid = admin.available_volume(1, Some("encrypted"));
    assert_eq!(
        admin.get(&format!("/volumes/{vid}")).1["volume"]["encrypted"],
        true
    );
    assert_eq!(admin.delete(&format!("{path}/{eid}")).0, 400, "type in use");
    admin.delete(&format!("/volumes/{vid}"));
    admin.wait_status(&vid, "deleted");
    assert_eq!(admin.delete(&format!("{path}/{eid}")).0, 202);
    assert_eq!(admin.get(&path), (200, json!({})));
}

#[test]
fn group_types_and_specs_need_3_11_admin_and_survive_a_restart() {
    let env = spawn_emulator();
    let admin = env.admin();
    assert_eq!(admin.get("/group_types").0, 404, "group types need 3.11");
    let api = admin.at("3.11");
    let (code, body) = api.get("/group_types/default");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["group_type"]["name"], "default_group_type");
    let (code, body) = api.post(
        "/group_types",
        json!({"group_type": {"name": "gt", "is_public": false, "group_specs": {"k1": "v1"}}}),
    );
    assert_eq!(code, 202, "{body}");
    let gid = body["group_type"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        api.post("/group_types", json!({"group_type": {"name": "gt"}}))
            .0,
        409
    );
    assert_eq!(
        api.post(
            "/group_types",
            json!({"group_type": {"name": "x", "bogus": 1}})
        )
        .0,
        400
    );
    let names = |q: &str| -> Vec<String> {
        api.get(&format!("/group_types{q}")).1["group_types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(""), ["default_group_type"], "public only by default");
    assert_eq!(
        names("?is_public=None&sort=name:desc"),
        ["gt", "default_group_type"]
    );
    assert_eq!(names("?is_public=false"), ["gt"]);

    let demo = env.login("demo", "demo").at("3.11");
    assert_eq!(
        demo.post("/group_types", json!({"group_type": {"name": "m"}}))
            .0,
        403
    );
    assert_eq!(
        demo.get(&format!("/group_types/{gid}")).0,
        404,
        "private to members"
    );
    assert_eq!(demo.get(&format!("/group_types/{gid}/group_specs")).0, 403);

    let p = format!("/group_types/{gid}/group_specs");
    assert_eq!(
        api.post(&p, json!({"group_specs": {"k2": "v2"}})),
        (202, json!({"group_specs": {"k2": "v2"}}))
    );
    assert_eq!(
        api.put(&format!("{p}/k2"), json!({"k2": "v3"})),
        (200, json!({"k2": "v3"}))
    );
    assert_eq!(api.put(&format!("{p}/k2"), json!({"k1": "v3"})).0, 400);

    let env = env.restart();
    let api = env.admin().at("3.11");
    assert_eq!(
        api.get(&p).1,
        json!({"group_specs": {"k1": "v1", "k2": "v3"}})
    );
    assert_eq!(api.delete(&format!("{p}/k1")).0, 202);
    assert_eq!(api.get(&format!("{p}/k1")).0, 404);
    let (code, body) = api.put(
        &format!("/group_types/{gid}"),
        json!({"group_type": {"name": "gt2", "description": "d"}}),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["group_type"]["description"], "d");
    assert_eq!(api.delete(&format!("/group_types/{gid}")).0, 202);
    assert_eq!(api.get(&format!("/group_types/{gid}")).0, 404);
}

#[test]
fn groups_hold_volumes_update_membership_and_delete_with_them() {
    let env = spawn_emulator();
    let admin = env.admin().at("3.20");
    let (_, gt) = admin.post("/group_types", json!({"group_type": {"name": "g"}}));
    let gtid = gt["group_type"]["id"].as_str().unwrap().to_string();
    let vt = new_type(&admin, "in-groups");
    assert_eq!(
        env.admin().at("3.12").get("/groups").0,
        404,
        "groups need 3.13"
    );
    let (code, body) = admin.post(
        "/groups",
        json!({"group": {"name": "g1", "group_type": gtid, "volume_types": [vt]}}),
    );
    assert_eq!(code, 202, "{body}");
    let gid = body["group"]["id"].as_str().unwrap().to_string();
    let (code, _) = admin.post(
        "/groups",
        json!({"group": {"group_type": gtid, "volume_types": []}}),
    );
    assert_eq!(code, 400);

    let mk = |api: &Api| {
        let (code, body) = api.post(
            "/volumes",
            json!({"volume": {"size": 1, "volume_type": vt, "group_id": gid}}),
        );
        assert_eq!(code, 202, "{body}");
        assert_eq!(body["volume"]["group_id"], gid.as_str());
        let id = body["volume"]["id"].as_str().unwrap().to_string();
        api.wait_status(&id, "available");
        id
    };
    let v1 = mk(&admin);
    let v2 = mk(&admin);
    let (code, _) = admin.post("/volumes", json!({"volume": {"size": 1, "group_id": gid}}));
    assert_eq!(code, 400, "the default type is not among the group's types");
    let demo = env.login("demo", "demo").at("3.20");
    assert_eq!(
        demo.get(&format!("/groups/{gid}")).0,
        404,
        "other projects don't see it"
    );
    assert_eq!(
        demo.post(
            &format!("/groups/{gid}/action"),
            json!({"reset_status": {"status": "error"}})
        )
        .0,
        403
    );

    let (code, _) = admin.put(
        &format!("/groups/{gid}"),
        json!({"group": {"name": "g2", "remove_volumes": v2}}),
    );
    assert_eq!(code, 202);
    let shown = admin.at("3.25").get(&format!("/groups/{gid}")).1["group"].clone();
    assert_eq!(
        (shown["name"].clone(), shown["volumes"].clone()),
        (json!("g2"), json!([v1]))
    );
    assert_eq!(
        admin.get(&format!("/volumes/{v2}")).1["volume"]["group_id"],
        Value::Null
    );

    let env = env.restart();
    let admin = env.admin().at("3.20");
    assert_eq!(
        admin
            .put(
                &format!("/groups/{gid}"),
                json!({"group": {"add_volumes": v2}})
            )
            .0,
        202
    );
    let (code, body) = admin.post(
        &format!("/groups/{gid}/action"),
        json!({"delete": {"delete-volumes": false}}),
    );
    assert_eq!(code, 400, "still has volumes: {body}");
    assert_eq!(
        admin
            .post(
                &format!("/groups/{gid}/action"),
                json!({"reset_status": {"status": "error"}})
            )
            .0,
        202
    );
    assert_eq!(
        admin.get(&format!("/groups/{gid}")).1["group"]["status"],
        "error"
    );
    assert_eq!(
        admin
            .post(
                &format!("/groups/{gid}/action"),
                json!({"delete": {"delete-volumes": true}})
            )
            .0,
        202
    );
    admin.wait_status(&v1, "deleted");
    admin.wait_status(&v2, "deleted");
    assert_eq!(admin.get(&format!("/groups/{gid}")).0, 404);
    assert_eq!(admin.get("/groups/detail").1["groups"], json!([]));
}
