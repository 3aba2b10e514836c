//! Keystone v3 over real HTTP: discovery, token issue/validate/revoke, catalog shape,
//! scoping, refusals, expiry and tokens surviving a restart.

use crate::common;

use std::time::{Duration, Instant};

use cinderbox_emulator::config::World;
use cinderbox_emulator::testing::Emulator;
use common::{client, issue_token, spawn_emulator};
use serde_json::{json, Value};

#[test]
fn discovery_answers_300_at_root_and_200_at_v3() {
    let env = spawn_emulator();
    let base = &env.emu.base_url;
    let r = client().get(format!("{base}/identity/")).send().unwrap();
    assert_eq!(r.status(), 300);
    let body: Value = r.json().unwrap();
    let v = &body["versions"]["values"][0];
    assert_eq!(v["id"], "v3.14");
    assert_eq!(v["status"], "stable");
    assert_eq!(v["links"][0]["href"], format!("{base}/identity/v3/"));
    for path in ["/identity/v3", "/identity/v3/"] {
        let r = client().get(format!("{base}{path}")).send().unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let body: Value = r.json().unwrap();
        assert_eq!(
            body["version"]["media-types"][0]["type"],
            "application/vnd.openstack.identity-v3+json"
        );
    }
}

#[test]
fn token_issue_returns_header_expiry_roles_and_catalog() {
    let env = spawn_emulator();
    let base = &env.emu.base_url;
    let (token, body) = issue_token(base, "glance", "admin", "service");
    assert!(token.len() > 20);
    let t = &body["token"];
    assert_eq!(t["methods"], json!(["password"]));
    assert_eq!(t["user"]["name"], "glance");
    assert_eq!(t["user"]["domain"]["id"], "default");
    assert_eq!(t["project"]["name"], "service");
    assert_eq!(t["is_domain"], false);
    let expires = t["expires_at"].as_str().unwrap();
    assert!(expires.ends_with('Z') && expires.len() == 27, "{expires}");
    assert!(t["issued_at"].as_str().unwrap().ends_with('Z'));
    let mut roles: Vec<&str> = t["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    roles.sort();
    // admin implies manager, member and reader, as Keystone's bootstrap sets it up.
    assert_eq!(roles, ["admin", "manager", "member", "reader", "service"]);
    assert_eq!(t["project"]["id"].as_str().unwrap().len(), 32);

    let catalog = t["catalog"].as_array().unwrap();
    let types: Vec<&str> = catalog
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    for want in ["identity", "block-storage", "volumev3"] {
        assert!(types.contains(&want), "{types:?} lacks {want}");
    }
    let pid = t["project"]["id"].as_str().unwrap();
    for svc in catalog {
        let eps = svc["endpoints"].as_array().unwrap();
        let ifaces: Vec<&str> = eps
            .iter()
            .map(|e| e["interface"].as_str().unwrap())
            .collect();
        assert_eq!(ifaces, ["public", "internal", "admin"]);
        for ep in eps {
            assert_eq!(ep["region"], "RegionOne");
            assert_eq!(ep["region_id"], "RegionOne");
            if svc["type"] != "identity" {
                assert_eq!(ep["url"], format!("{base}/volume/v3/{pid}"));
            } else {
                assert_eq!(ep["url"], format!("{base}/identity/v3"));
            }
        }
    }
}

fn auth_body(user: Value, scope: Option<Value>) -> Value {
    let mut auth = json!({"identity": {"methods": ["password"], "password": {"user": user}}});
    if let Some(s) = scope {
        auth["scope"] = s;
    }
    json!({ "auth": auth })
}

fn post_token(base: &str, body: &Value) -> (u16, Value) {
    let r = client()
        .post(format!("{base}/identity/v3/auth/tokens"))
        .json(body)
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

#[test]
fn users_and_projects_can_be_named_or_given_by_id_and_unscoped_tokens_work() {
    let env = spawn_emulator();
    let base = &env.emu.base_url;
    let (_, scoped) = issue_token(base, "demo", "demo", "demo");
    let uid = scoped["token"]["user"]["id"].as_str().unwrap();
    let pid = scoped["token"]["project"]["id"].as_str().unwrap();
    let (code, body) = post_token(
        base,
        &auth_body(
            json!({"id": uid, "password": "demo"}),
            Some(json!({"project": {"id": pid}})),
        ),
    );
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["token"]["project"]["name"], "demo");
    let (code, body) = post_token(
        base,
        &auth_body(
            json!({"name": "demo", "domain": {"id": "default"}, "password": "demo"}),
            None,
        ),
    );
    assert_eq!(code, 201, "{body}");
    assert!(body["token"].get("project").is_none());
    assert_eq!(body["token"]["catalog"], json!([]));
}

#[test]
fn bad_credentials_and_bad_bodies_are_refused_with_keystone_errors() {
    let env = spawn_emulator();
    let base = &env.emu.base_url;
    let cases = [
        (
            auth_body(
                json!({"name": "demo", "domain": {"name": "Default"}, "password": "nope"}),
                None,
            ),
            401,
        ),
        (
            auth_body(
                json!({"name": "ghost", "domain": {"name": "Default"}, "password": "x"}),
                None,
            ),
            401,
        ),
        (
            auth_body(
                json!({"name": "demo", "domain": {"name": "Nowhere"}, "password": "demo"}),
                None,
            ),
            401,
        ),
        // demo has no role on admin.
        (
            auth_body(
                json!({"name": "demo", "domain": {"name": "Default"}, "password": "demo"}),
                Some(json!({"project": {"name": "admin", "domain": {"name": "Default"}}})),
            ),
            401,
        ),
        (json!({"nothing": 1}), 400),
        (
            json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "demo"}}}}}),
            400,
        ),
    ];
    for (body, want) in cases {
        let (code, resp) = post_token(base, &body);
        assert_eq!(code, want, "{body} -> {resp}");
        assert_eq!(resp["error"]["code"], want, "{resp}");
        assert!(resp["error"]["title"].is_string() && resp["error"]["message"].is_string());
    }
    let r = client()
        .post(format!("{base}/identity/v3/auth/tokens"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
}

fn validate(
    base: &str,
    method: reqwest::Method,
    auth: &str,
    subject: &str,
) -> reqwest::blocking::Response {
    client()
        .request(method, format!("{base}/identity/v3/auth/tokens"))
        .header("X-Auth-Token", auth)
        .header("X-Subject-Token", subject)
        .send()
        .unwrap()
}

#[test]
fn tokens_validate_then_revoke_everywhere() {
    let env = spawn_emulator();
    let base = &env.emu.base_url;
    let (admin, _) = issue_token(base, "admin", "admin", "admin");
    let (demo, _) = issue_token(base, "demo", "demo", "demo");

    let r = validate(base, reqwest::Method::GET, &admin, &demo);
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-subject-token"], demo.as_str());
    let body: Value = r.json().unwrap();
    assert_eq!(body["token"]["user"]["name"], "demo");
    assert_eq!(
        validate(base, reqwest::Method::HEAD, &admin, &demo).status(),
        200
    );
    assert_eq!(
        validate(base, reqwest::Method::GET, "garbage", &demo).status(),
        401
    );
    let r = validate(base, reqwest::Method::GET, &admin, "garbage");
    assert_eq!(r.status(), 404);
    let body: Value = r.json().unwrap();
    assert_eq!(body["error"]["message"], "Could not find token: garbage.");

    assert_eq!(
        validate(base, reqwest::Method::DELETE, &admin, &demo).status(),
        204
    );
    assert_eq!(
        validate(base, reqwest::Method::GET, &admin, &demo).status(),
        404
    );
    // A revoked token is refused by Cinder too.
    let r = client()
        .get(format!("{base}/volume/v3/volumes"))
        .header("X-Auth-Token", &demo)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[test]
fn tokens_expire_and_are_then_refused_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let mut world = World::default_world();
    world.token_lifetime = Duration::from_secs(1);
    let emu = Emulator::start_with(dir.path(), world, "127.0.0.1:0".parse().unwrap()).unwrap();
    let base = &emu.base_url;
    let (token, _) = issue_token(base, "admin", "admin", "admin");
    let get = || {
        client()
            .get(format!("{base}/volume/v3/volumes"))
            .header("X-Auth-Token", &token)
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(get(), 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    while get() == 200 {
        assert!(Instant::now() < deadline, "token never expired");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get(), 401);
    let (fresh, _) = issue_token(base, "admin", "admin", "admin");
    assert_eq!(
        validate(base, reqwest::Method::GET, &fresh, &token).status(),
        404
    );
}

#[test]
fn tokens_and_revocations_survive_a_restart() {
    let env = spawn_emulator();
    let base = env.emu.base_url.clone();
    let (keep, _) = issue_token(&base, "admin", "admin", "admin");
    let (revoked, _) = issue_token(&base, "demo", "demo", "demo");
    assert_eq!(
        validate(&base, reqwest::Method::DELETE, &keep, &revoked).status(),
        204
    );
    let env = env.restart();
    assert_eq!(env.emu.base_url, base);
    assert_eq!(
        validate(&base, reqwest::Method::GET, &keep, &keep).status(),
        200
    );
    assert_eq!(
        validate(&base, reqwest::Method::GET, &keep, &revoked).status(),
        404
    );
}

#[test]
fn catalog_endpoint_lists_the_token_s_catalog() {
    let env = spawn_emulator();
    let base = &env.emu.base_url;
    let (token, _) = issue_token(base, "demo", "demo", "demo");
    let r = client()
        .get(format!("{base}/identity/v3/auth/catalog"))
        .header("X-Auth-Token", &token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().unwrap();
    assert_eq!(body["catalog"].as_array().unwrap().len(), 3);
}
