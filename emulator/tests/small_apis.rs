//! The smaller Cinder APIs real clients call: default types per project
//! (`/default-types`, 3.62), resource filters (`/resource_filters`, 3.33) and type
//! access (`os-volume-type-access`), black-box: success and error cases, admin-only
//! refusals, project isolation, microversion gates and restart persistence.

use crate::common;

use common::{spawn_emulator, Api};
use serde_json::{json, Value};

fn message(body: &Value) -> String {
    body.as_object()
        .and_then(|o| o.values().next())
        .and_then(|inner| inner["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn type_id(admin: &Api, name: &str) -> String {
    let (code, body) = admin.get("/types?is_public=None");
    assert_eq!(code, 200, "{body}");
    body["volume_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("type {name} in {body}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn volume_type_of(api: &Api, id: &str) -> String {
    let (code, v) = api.get(&format!("/volumes/{id}"));
    assert_eq!(code, 200, "{v}");
    v["volume"]["volume_type"].as_str().unwrap().to_string()
}

#[test]
fn a_project_default_type_is_set_used_listed_unset_and_survives_a_restart() {
    let env = spawn_emulator();
    let admin = env.admin().at("3.62");
    let demo = env.login("demo", "demo").at("3.62");
    let alt = env.login("alt_demo", "alt_demo").at("3.62");
    let fast = type_id(&admin, "glance-fast");
    let pid = demo.project_id.clone();

    // Nothing set yet: 404 with Cinder's text, an empty list.
    let (code, body) = admin.get(&format!("/default-types/{pid}"));
    assert_eq!(code, 404, "{body}");
    assert_eq!(
        message(&body),
        format!("Default type for project {pid} not found.")
    );
    let (code, body) = admin.get("/default-types");
    assert_eq!((code, body), (200, json!({"default_types": []})));

    // Set by name; the answer names the type by id.
    let (code, body) = admin.put(
        &format!("/default-types/{pid}"),
        json!({"default_type": {"volume_type": "glance-fast"}}),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body,
        json!({"default_type": {"project_id": pid, "volume_type_id": fast}})
    );
    let (code, body) = admin.get(&format!("/default-types/{pid}"));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["default_type"]["volume_type_id"], json!(fast));

    // The project's volumes without a type get it, and so does its /types/default;
    // another project still gets the world's default.
    let v = demo.available_volume(1, None);
    assert_eq!(volume_type_of(&demo, &v), "glance-fast");
    let (_, d) = demo.get("/types/default");
    assert_eq!(d["volume_type"]["name"], "glance-fast", "{d}");
    let w = alt.available_volume(1, None);
    assert_eq!(volume_type_of(&alt, &w), "__DEFAULT__");
    let (_, d) = alt.get("/types/default");
    assert_eq!(d["volume_type"]["name"], "__DEFAULT__", "{d}");

    // A project's default type cannot be deleted.
    let (code, body) = admin.delete(&format!("/types/{fast}"));
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        message(&body),
        format!("The volume type {fast} is a default volume type and cannot be deleted.")
    );

    // Durable.
    let env = env.restart();
    let admin = env.admin().at("3.62");
    let demo = env.login("demo", "demo").at("3.62");
    let (code, body) = admin.get("/default-types");
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body,
        json!({"default_types": [{"project_id": pid, "volume_type_id": fast}]})
    );
    let v = demo.available_volume(1, None);
    assert_eq!(volume_type_of(&demo, &v), "glance-fast");

    // Unset: 204, then the world's default again; unsetting twice is fine.
    let (code, _) = admin.delete(&format!("/default-types/{pid}"));
    assert_eq!(code, 204);
    let (code, _) = admin.delete(&format!("/default-types/{pid}"));
    assert_eq!(code, 204);
    let (code, _) = admin.get(&format!("/default-types/{pid}"));
    assert_eq!(code, 404);
    let v = demo.available_volume(1, None);
    assert_eq!(volume_type_of(&demo, &v), "__DEFAULT__");
}

#[test]
fn default_types_are_admin_only_gated_at_3_62_and_checked_like_cinder() {
    let env = spawn_emulator();
    let admin = env.admin().at("3.62");
    let demo = env.login("demo", "demo").at("3.62");
    let pid = demo.project_id.clone();
    let set = json!({"default_type": {"volume_type": "glance-fast"}});
    let refused = "You are not authorized to perform this operation.";

    // A member may do none of it, not even for its own project.
    for (code, body) in [
        demo.put(&format!("/default-types/{pid}"), set.clone()),
        demo.get(&format!("/default-types/{pid}")),
        demo.get("/default-types"),
        demo.delete(&format!("/default-types/{pid}")),
    ] {
        assert_eq!(code, 403, "{body}");
        assert_eq!(message(&body), refused);
    }
    // Below 3.62 the API does not exist.
    let (code, body) = admin
        .at("3.61")
        .put(&format!("/default-types/{pid}"), set.clone());
    assert_eq!(code, 404, "{body}");
    let (code, _) = admin.at("3.61").get("/default-types");
    assert_eq!(code, 404);

    // An unknown project is Keystone's 404, before the policy; its unset succeeds.
    let (code, body) = admin.put("/default-types/no-such-project", set.clone());
    assert_eq!(code, 404, "{body}");
    assert_eq!(message(&body), "Project with id no-such-project not found.");
    let (code, body) = demo.put("/default-types/no-such-project", set.clone());
    assert_eq!(code, 404, "{body}");
    let (code, _) = demo.delete("/default-types/no-such-project");
    assert_eq!(code, 204);

    // An unknown type is a 400 with the not-found text.
    let (code, body) = admin.put(
        &format!("/default-types/{pid}"),
        json!({"default_type": {"volume_type": "nope"}}),
    );
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        message(&body),
        "Volume type with name nope could not be found."
    );
    // The body is Cinder's schema: the type is required, a non-empty name, nothing else.
    for (bad, want) in [
        (json!({"default_type": {}}), "Invalid input for field/attribute default_type. Value: {}. 'volume_type' is a required property"),
        (json!({"default_type": {"volume_type": ""}}), "Invalid input for field/attribute volume_type. Value: . '' should be non-empty"),
        (json!({"default_type": {"volume_type": "   "}}), "An invalid 'name' value was provided. The 'name' can not be empty."),
        (json!({"default_type": {"volume_type": "glance-fast", "x": 1}}), "Invalid input for field/attribute default_type. Value: {'volume_type': 'glance-fast', 'x': 1}. Additional properties are not allowed ('x' was unexpected)"),
    ] {
        let (code, body) = admin.put(&format!("/default-types/{pid}"), bad.clone());
        assert_eq!((code, message(&body)), (400, want.to_string()), "{bad}");
    }
    // Nothing was set by any of it.
    let (_, body) = admin.get("/default-types");
    assert_eq!(body, json!({"default_types": []}));
}

#[test]
fn resource_filters_are_cinder_s_defaults_from_3_33() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let (code, body) = demo.at("3.32").get("/resource_filters");
    assert_eq!(code, 404, "{body}");
    let (code, body) = demo.at("3.33").get("/resource_filters");
    assert_eq!(code, 200, "{body}");
    let all = body["resource_filters"].as_array().unwrap();
    let volume = all.iter().find(|r| r["resource"] == "volume").unwrap();
    assert_eq!(
        volume["filters"],
        json!([
            "name",
            "status",
            "metadata",
            "bootable",
            "migration_status",
            "availability_zone",
            "group_id",
            "size",
            "created_at",
            "updated_at",
            "consumes_quota"
        ])
    );
    assert!(all
        .iter()
        .any(|r| r["resource"] == "volume_type"
            && r["filters"] == json!(["is_public", "extra_specs"])));
    let (code, body) = demo.at("3.33").get("/resource_filters?resource=attachment");
    assert_eq!(code, 200);
    assert_eq!(
        body,
        json!({"resource_filters": [{"resource": "attachment",
            "filters": ["volume_id", "status", "instance_id", "attach_status"]}]})
    );
    let (code, body) = demo.at("3.33").get("/resource_filters?resource=nothing");
    assert_eq!((code, body), (200, json!({"resource_filters": []})));
}

#[test]
fn private_types_are_seen_only_where_shared_and_access_is_admin_managed() {
    let env = spawn_emulator();
    let admin = env.admin();
    let demo = env.login("demo", "demo");
    let alt = env.login("alt_demo", "alt_demo");
    let (code, body) = admin.post(
        "/types",
        json!({"volume_type": {"name": "secret", "os-volume-type-access:is_public": false}}),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["volume_type"]["os-volume-type-access:is_public"],
        false
    );
    let tid = body["volume_type"]["id"].as_str().unwrap().to_string();
    let names = |api: &Api, q: &str| -> Vec<String> {
        let (code, body) = api.get(&format!("/types{q}"));
        assert_eq!(code, 200, "{body}");
        body["volume_types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    // Not shared yet: hidden from members (whatever they ask), 404 when named.
    assert!(!names(&demo, "").contains(&"secret".to_string()));
    assert!(!names(&demo, "?is_public=false").contains(&"secret".to_string()));
    assert_eq!(demo.get(&format!("/types/{tid}")).0, 404);
    // An admin sees it only when asking for private or all types.
    assert!(!names(&admin, "").contains(&"secret".to_string()));
    assert_eq!(
        names(&admin, "?is_public=false"),
        vec!["secret".to_string()]
    );
    assert!(names(&admin, "?is_public=None").contains(&"secret".to_string()));
    let (code, body) = admin.get("/types?is_public=maybe");
    assert_eq!(code, 400);
    assert_eq!(message(&body), "Invalid is_public filter [maybe]");

    // Members may not manage access, and a bad body is refused before the policy.
    let add = json!({"addProjectAccess": {"project": demo.project_id}});
    let (code, body) = demo.post(&format!("/types/{tid}/action"), add.clone());
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        message(&body),
        "Policy doesn't allow volume_extension:volume_type_access:addProjectAccess to be performed."
    );
    let (code, body) = demo.post(
        &format!("/types/{tid}/action"),
        json!({"addProjectAccess": {"project": ""}}),
    );
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        message(&body),
        "Invalid input for field/attribute project. Value: . '' should be non-empty"
    );
    let (code, body) = admin.post(
        &format!("/types/{tid}/action"),
        json!({"addProjectAccess": {"project": "p", "extra": 1}}),
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        message(&body).contains("Additional properties are not allowed ('extra' was unexpected)"),
        "{body}"
    );
    let (code, body) = admin.post(&format!("/types/{tid}/action"), json!({"shareIt": {}}));
    assert_eq!(
        (code, message(&body)),
        (400, "There is no such action: shareIt".into())
    );
    let (code, body) = demo.get(&format!("/types/{tid}/os-volume-type-access"));
    assert_eq!(code, 403, "{body}");

    // Shared with demo: demo sees it and can use it; alt_demo still cannot.
    let (code, body) = admin.post(&format!("/types/{tid}/action"), add.clone());
    assert_eq!(code, 202, "{body}");
    let (code, body) = admin.post(&format!("/types/{tid}/action"), add.clone());
    assert_eq!(code, 409, "{body}");
    let (code, body) = admin.get(&format!("/types/{tid}/os-volume-type-access"));
    assert_eq!(code, 200);
    assert_eq!(
        body,
        json!({"volume_type_access": [{"volume_type_id": tid, "project_id": demo.project_id}]})
    );
    assert!(names(&demo, "").contains(&"secret".to_string()));
    assert!(names(&admin, "?is_public=true")
        .iter()
        .all(|n| n != "secret"));
    let v = demo.available_volume(1, Some("secret"));
    assert_eq!(volume_type_of(&demo, &v), "secret");
    assert!(!names(&alt, "").contains(&"secret".to_string()));
    let (code, _) = alt.post(
        "/volumes",
        json!({"volume": {"size": 1, "volume_type": "secret"}}),
    );
    assert_eq!(code, 404);

    // Public types have no access list; access survives a restart; then removed.
    let fast = type_id(&admin, "glance-fast");
    let (code, body) = admin.get(&format!("/types/{fast}/os-volume-type-access"));
    assert_eq!(code, 404);
    assert_eq!(
        message(&body),
        "Access list not available for public volume types."
    );
    let env = env.restart();
    let admin = env.admin();
    let demo = env.login("demo", "demo");
    assert!(names(&demo, "").contains(&"secret".to_string()));
    let remove = json!({"removeProjectAccess": {"project": demo.project_id}});
    let (code, _) = admin.post(&format!("/types/{tid}/action"), remove.clone());
    assert_eq!(code, 202);
    let (code, body) = admin.post(&format!("/types/{tid}/action"), remove);
    assert_eq!(code, 404, "{body}");
    assert!(!names(&demo, "").contains(&"secret".to_string()));
}
