//! Quota sets and limits over real HTTP: show (with usage), defaults, admin update
//! and delete, per-type keys, who may do what, and the 413 answers of over-quota
//! creates and extends.

use crate::common;

use common::{spawn_emulator, Api};
use reqwest::Method;
use serde_json::{json, Value};

const TYPES: [&str; 7] = [
    "__DEFAULT__",
    "glance-fast",
    "glance-slow",
    "glance-old",
    "glance-new",
    "multiattach",
    "glance-nfs",
];

fn message(body: &Value) -> String {
    body.as_object()
        .and_then(|o| o.values().next())
        .and_then(|f| f["message"].as_str())
        .unwrap_or_else(|| panic!("no fault message in {body}"))
        .to_string()
}

fn quota_path(pid: &str) -> String {
    format!("/os-quota-sets/{pid}")
}

/// Sets `values` on `pid` as admin and checks the 200 answer.
fn set_quota(admin: &Api, pid: &str, values: Value) -> Value {
    let (code, body) = admin.put(&quota_path(pid), json!({ "quota_set": values }));
    assert_eq!(code, 200, "{body}");
    body["quota_set"].clone()
}

/// Asserts a 413 with Cinder's `overLimit` envelope and `Retry-After`; returns the message.
fn assert_over_limit(resp: reqwest::blocking::Response) -> String {
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.headers()["retry-after"], "0");
    let body: Value = resp.json().unwrap();
    let fault = &body["overLimit"];
    assert_eq!(fault["code"], 413);
    assert_eq!(fault["retryAfter"], "0");
    let msg = fault["message"].as_str().unwrap().to_string();
    assert!(msg.contains("xceed"), "{msg}");
    msg
}

fn volume_count(api: &Api) -> usize {
    api.get("/volumes").1["volumes"].as_array().unwrap().len()
}

#[test]
fn show_usage_and_defaults() {
    let env = spawn_emulator();
    let demo = env.login("demo", "demo");
    let pid = demo.project_id.clone();
    demo.available_volume(2, Some("glance-fast"));

    let (code, body) = demo.get(&quota_path(&pid));
    assert_eq!(code, 200, "{body}");
    let set = &body["quota_set"];
    assert_eq!(set["id"], pid.as_str());
    assert_eq!(set["volumes"], 10);
    assert_eq!(set["gigabytes"], 1000);
    assert_eq!(set["snapshots"], 10);
    assert_eq!(set["backups"], 10);
    assert_eq!(set["backup_gigabytes"], 1000);
    assert_eq!(set["groups"], 10);
    assert_eq!(set["per_volume_gigabytes"], -1);
    for t in TYPES {
        for prefix in ["volumes", "gigabytes", "snapshots"] {
            assert_eq!(set[format!("{prefix}_{t}")], -1, "{prefix}_{t}");
        }
    }
    assert_eq!(set.as_object().unwrap().len(), 1 + 7 + 3 * TYPES.len());

    let (code, body) = demo.get(&format!("{}?usage=true", quota_path(&pid)));
    assert_eq!(code, 200);
    let set = &body["quota_set"];
    assert_eq!(
        set["volumes"],
        json!({"limit": 10, "in_use": 1, "reserved": 0})
    );
    assert_eq!(
        set["gigabytes"],
        json!({"limit": 1000, "in_use": 2, "reserved": 0})
    );
    assert_eq!(
        set["volumes_glance-fast"],
        json!({"limit": -1, "in_use": 1, "reserved": 0})
    );
    assert_eq!(set["gigabytes_glance-fast"]["in_use"], 2);
    assert_eq!(set["volumes_glance-slow"]["in_use"], 0);
    assert_eq!(set["snapshots"]["in_use"], 0);

    let (code, body) = demo.get(&format!("{}/defaults", quota_path(&pid)));
    assert_eq!(code, 200);
    assert_eq!(body["quota_set"]["volumes"], 10);
    assert_eq!(body["quota_set"]["id"], pid.as_str());
    // The service project's world entry lifts its volume quotas.
    let glance = env.login("glance", "service");
    let (_, body) = glance.get(&quota_path(&glance.project_id));
    assert_eq!(
        (
            body["quota_set"]["volumes"].clone(),
            body["quota_set"]["gigabytes"].clone()
        ),
        (json!(-1), json!(-1))
    );

    // Another project's quotas are the admin's business only.
    let alt = env.login("alt_demo", "alt_demo");
    let (code, body) = alt.get(&quota_path(&pid));
    assert_eq!(code, 403);
    assert_eq!(
        message(&body),
        "Policy doesn't allow volume_extension:quotas:show to be performed."
    );
    let (code, _) = alt.get(&format!("{}/defaults", quota_path(&pid)));
    assert_eq!(code, 403);
    let (code, _) = env.admin().get(&quota_path(&pid));
    assert_eq!(code, 200);
}

#[test]
fn admins_update_and_reset_quotas_and_members_may_not() {
    let env = spawn_emulator();
    let admin = env.admin();
    let demo = env.login("demo", "demo");
    let pid = demo.project_id.clone();
    demo.available_volume(1, None);
    demo.available_volume(1, None);

    let (code, body) = demo.put(&quota_path(&pid), json!({"quota_set": {"volumes": 50}}));
    assert_eq!(code, 403);
    assert_eq!(
        message(&body),
        "Policy doesn't allow volume_extension:quotas:update to be performed."
    );
    let (code, body) = demo.delete(&quota_path(&pid));
    assert_eq!(code, 403);
    assert_eq!(
        message(&body),
        "Policy doesn't allow volume_extension:quotas:delete to be performed."
    );

    let set = set_quota(
        &admin,
        &pid,
        json!({"volumes": 5, "gigabytes": "20", "volumes_glance-fast": 1, "id": "ignored"}),
    );
    assert!(set.get("id").is_none(), "{set}");
    assert_eq!(
        (set["volumes"].clone(), set["gigabytes"].clone()),
        (json!(5), json!(20))
    );
    assert_eq!(set["volumes_glance-fast"], 1);
    let (_, body) = demo.get(&quota_path(&pid));
    assert_eq!(body["quota_set"]["volumes"], 5);
    let (_, body) = demo.get("/limits");
    assert_eq!(body["limits"]["absolute"]["maxTotalVolumes"], 5);
    assert_eq!(body["limits"]["absolute"]["maxTotalVolumeGigabytes"], 20);

    let refusals = [
        (
            json!({"bogus": 1}),
            "Invalid input received: Bad key(s) in quota set: bogus",
        ),
        (json!({"volumes": -2}), "volumes must be >= -1."),
        (json!({"volumes": "many"}), "volumes must be an integer."),
        (
            json!({"volumes": 2147483648u64}),
            "volumes must be <= 2147483647.",
        ),
    ];
    for (values, expected) in refusals {
        let (code, body) = admin.put(&quota_path(&pid), json!({ "quota_set": values }));
        assert_eq!(
            (code, message(&body)),
            (400, expected.to_string()),
            "{values}"
        );
    }
    // Cinder 29 always checks limits against usage (it has no `skip_validation`,
    // which its schema refuses).
    let (code, body) = admin.put(
        &quota_path(&pid),
        json!({"quota_set": {"volumes": 1}, "skip_validation": true}),
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        message(&body).contains("('skip_validation' was unexpected)"),
        "{body}"
    );
    let (code, body) = admin.put(&quota_path(&pid), json!({"quota_set": {"volumes": 1}}));
    assert_eq!(code, 400);
    assert_eq!(
        message(&body),
        "Quota volumes limit must be equal or greater than existing resources. Current usage is 2 and the requested limit is 1."
    );
    let (_, body) = demo.get(&quota_path(&pid));
    assert_eq!(
        body["quota_set"]["volumes"], 5,
        "a refused update changed nothing"
    );
    // At the usage itself, or unlimited, it is accepted.
    let set = set_quota(&admin, &pid, json!({"volumes": 2}));
    assert_eq!(set["volumes"], 2);
    let set = set_quota(&admin, &pid, json!({"volumes": -1}));
    assert_eq!(set["volumes"], -1);

    let (code, body) = admin.delete(&quota_path(&pid));
    assert_eq!((code, body), (200, Value::Null));
    let (_, body) = demo.get(&quota_path(&pid));
    assert_eq!(body["quota_set"]["volumes"], 10);
    assert_eq!(body["quota_set"]["gigabytes"], 1000);
    assert_eq!(body["quota_set"]["volumes_glance-fast"], -1);
}

#[test]
fn volume_count_quota_refuses_creates_with_413() {
    let env = spawn_emulator();
    let admin = env.admin();
    let demo = env.login("demo", "demo");
    set_quota(&admin, &demo.project_id, json!({"volumes": 1}));
    demo.available_volume(1, None);
    let msg = assert_over_limit(demo.call(
        Method::POST,
        "/volumes",
        Some(json!({"volume": {"size": 1}})),
    ));
    assert_eq!(
        msg,
        "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota 'volumes'."
    );
    assert_eq!(volume_count(&demo), 1);
    // Other projects keep their own quota.
    env.login("alt_demo", "alt_demo").available_volume(1, None);
}

#[test]
fn gigabyte_quota_refuses_creates_and_extends_with_413() {
    let env = spawn_emulator();
    let admin = env.admin();
    let demo = env.login("demo", "demo");
    set_quota(&admin, &demo.project_id, json!({"gigabytes": 3}));
    let vid = demo.available_volume(2, None);
    let msg = assert_over_limit(demo.call(
        Method::POST,
        "/volumes",
        Some(json!({"volume": {"size": 2}})),
    ));
    assert_eq!(
        msg,
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested 2G, quota is 3G and 2G has been consumed."
    );
    assert_eq!(volume_count(&demo), 1);

    let msg = assert_over_limit(demo.call(
        Method::POST,
        &format!("/volumes/{vid}/action"),
        Some(json!({"os-extend": {"new_size": 4}})),
    ));
    assert!(
        msg.contains("Requested 2G, quota is 3G and 2G has been consumed."),
        "{msg}"
    );
    let v = demo.get(&format!("/volumes/{vid}")).1;
    assert_eq!(
        (v["volume"]["status"].as_str(), v["volume"]["size"].as_u64()),
        (Some("available"), Some(2))
    );

    // Within the quota the extend goes through.
    let (code, _) = demo.post(
        &format!("/volumes/{vid}/action"),
        json!({"os-extend": {"new_size": 3}}),
    );
    assert_eq!(code, 202);
    assert_eq!(demo.wait_status(&vid, "available")["size"], 3);

    set_quota(
        &admin,
        &demo.project_id,
        json!({"per_volume_gigabytes": 2, "gigabytes": -1}),
    );
    let msg = assert_over_limit(demo.call(
        Method::POST,
        "/volumes",
        Some(json!({"volume": {"size": 5}})),
    ));
    assert_eq!(
        msg,
        "VolumeSizeExceedsLimit: Requested volume size 5G is larger than maximum allowed limit 2G."
    );
}

#[test]
fn per_type_quotas_count_only_their_type() {
    let env = spawn_emulator();
    let admin = env.admin();
    let demo = env.login("demo", "demo");
    set_quota(
        &admin,
        &demo.project_id,
        json!({"volumes_glance-fast": 1, "gigabytes_glance-slow": 1}),
    );
    demo.available_volume(1, Some("glance-fast"));
    let msg = assert_over_limit(demo.call(
        Method::POST,
        "/volumes",
        Some(json!({"volume": {"size": 1, "volume_type": "glance-fast"}})),
    ));
    assert_eq!(
        msg,
        "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota 'volumes_glance-fast'."
    );
    let msg = assert_over_limit(demo.call(
        Method::POST,
        "/volumes",
        Some(json!({"volume": {"size": 2, "volume_type": "glance-slow"}})),
    ));
    assert!(
        msg.contains("quota is 1G and 0G has been consumed"),
        "{msg}"
    );
    // Other types are unaffected.
    demo.available_volume(1, Some("glance-slow"));
    demo.available_volume(1, None);
    assert_eq!(volume_count(&demo), 3);
    let (_, body) = demo.get(&format!("{}?usage=true", quota_path(&demo.project_id)));
    assert_eq!(
        body["quota_set"]["volumes_glance-fast"],
        json!({"limit": 1, "in_use": 1, "reserved": 0})
    );
    assert_eq!(body["quota_set"]["volumes"]["in_use"], 3);
}
