//! Application credentials, restart persistence, fault-rule names and hostile input
//! on Keystone's admin API.

use super::{api_for, auth, names, password_auth, Ks};
use crate::common::{client, spawn_emulator, Env};
use reqwest::Method;
use serde_json::{json, Value};

fn app_cred_auth(env: &Env, cred: Value) -> (u16, Option<String>, Value) {
    auth(
        env,
        json!({"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": cred
        }}}),
    )
}

#[test]
fn application_credentials_authenticate_until_deleted() {
    let env = spawn_emulator();
    let admin = Ks::of(&env, &env.admin());
    let (pid, uid) = admin.project_with_user("apps", "member");
    let (_, token, _) = password_auth(&env, "apps-user", "pw-1", "apps");
    let user = Ks {
        base: env.emu.base_url.clone(),
        token: token.unwrap(),
    };
    let path = format!("users/{uid}/application_credentials");
    let (s, b) = user.post(
        &path,
        json!({"application_credential": {"name": "glance", "roles": [{"name": "member"}]}}),
    );
    assert_eq!(s, 201, "{b}");
    let c = &b["application_credential"];
    let cid = c["id"].as_str().unwrap().to_string();
    let secret = c["secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 64, "{secret}");
    assert_eq!(c["project_id"], pid.as_str());
    assert_eq!(c["unrestricted"], false);
    assert_eq!(c["expires_at"], Value::Null);
    assert_eq!(
        names(c, "roles"),
        ["member", "reader"],
        "implied roles added"
    );

    // The secret is shown once.
    let (s, b) = user.get(&format!("{path}/{cid}"));
    assert_eq!(s, 200);
    assert!(b["application_credential"].get("secret").is_none(), "{b}");
    let (_, b) = user.get(&format!("{path}?name=glance"));
    assert_eq!(b["application_credentials"].as_array().unwrap().len(), 1);
    assert!(b["application_credentials"][0].get("secret").is_none());

    // By id and by name + user.
    let (s, t, body) = app_cred_auth(&env, json!({"id": cid, "secret": secret}));
    assert_eq!(s, 201, "{body}");
    let tk = &body["token"];
    assert_eq!(tk["methods"], json!(["application_credential"]));
    assert_eq!(tk["project"]["id"], pid.as_str());
    assert_eq!(tk["application_credential"]["id"], cid.as_str());
    assert_eq!(tk["application_credential"]["name"], "glance");
    assert_eq!(tk["application_credential"]["restricted"], true);
    assert_eq!(names(tk, "roles"), ["member", "reader"]);
    let cred_api = api_for(&env, t.unwrap(), &pid);
    assert_eq!(cred_api.get("/volumes").0, 200);
    let (s, _, b) = app_cred_auth(
        &env,
        json!({"name": "glance", "secret": secret, "user": {"name": "apps-user", "domain": {"name": "Default"}}}),
    );
    assert_eq!(s, 201, "{b}");
    assert_eq!(
        app_cred_auth(&env, json!({"id": cid, "secret": "wrong"})).0,
        401
    );

    // A restricted credential cannot make another.
    let cred_ks = Ks {
        base: env.emu.base_url.clone(),
        token: cred_api.token.clone(),
    };
    let (s, b) = cred_ks.post(&path, json!({"application_credential": {"name": "more"}}));
    assert_eq!(s, 403, "{b}");
    // Roles beyond the token's, unknown fields, a past expiry, a duplicate name.
    let (s, b) = user.post(
        &path,
        json!({"application_credential": {"name": "x", "roles": [{"name": "admin"}]}}),
    );
    assert_eq!(s, 400);
    assert_eq!(
        b["error"]["message"],
        "Invalid application credential: Cannot create an application credential with unassigned role"
    );
    let (s, _) = user.post(
        &path,
        json!({"application_credential": {"name": "x", "bogus": 1}}),
    );
    assert_eq!(s, 400);
    let (s, _) = user.post(
        &path,
        json!({"application_credential": {"name": "x", "expires_at": "2001-01-01T00:00:00"}}),
    );
    assert_eq!(s, 400);
    let (s, b) = user.post(&path, json!({"application_credential": {"name": "glance"}}));
    assert_eq!(s, 409, "{b}");
    // Someone else's user id.
    let (s, _) = admin.post(&path, json!({"application_credential": {"name": "y"}}));
    assert_eq!(s, 403);

    // An expiring one works before its time.
    let (s, b) = user.post(&path, json!({"application_credential": {"name": "later", "secret": "my-own", "expires_at": "2999-01-01T00:00:00"}}));
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["application_credential"]["secret"], "my-own");
    assert_eq!(
        b["application_credential"]["expires_at"],
        "2999-01-01T00:00:00.000000Z"
    );
    let later = b["application_credential"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app_cred_auth(&env, json!({"id": later, "secret": "my-own"})).0,
        201
    );

    // Deleted: refused, and its tokens end.
    assert_eq!(user.delete(&format!("{path}/{cid}")).0, 204);
    assert_eq!(
        app_cred_auth(&env, json!({"id": cid, "secret": secret})).0,
        401
    );
    assert_eq!(cred_api.get("/volumes").0, 401);
    let (s, b) = user.get(&format!("{path}/{cid}"));
    assert_eq!(s, 404);
    assert_eq!(
        b["error"]["message"],
        format!("Could not find Application Credential: {cid}.")
    );
}

#[test]
fn identities_grants_and_application_credentials_survive_a_restart() {
    let env = spawn_emulator();
    let (pid, uid, cid, secret) = {
        let admin = Ks::of(&env, &env.admin());
        let (pid, uid) = admin.project_with_user("durable", "member");
        let (_, token, _) = password_auth(&env, "durable-user", "pw-1", "durable");
        let user = Ks {
            base: env.emu.base_url.clone(),
            token: token.unwrap(),
        };
        let (s, b) = user.post(
            &format!("users/{uid}/application_credentials"),
            json!({"application_credential": {"name": "keep"}}),
        );
        assert_eq!(s, 201, "{b}");
        let c = &b["application_credential"];
        (
            pid,
            uid,
            c["id"].as_str().unwrap().to_string(),
            c["secret"].as_str().unwrap().to_string(),
        )
    };
    let env = env.restart();
    let admin = Ks::of(&env, &env.admin());
    let (s, p) = admin.get(&format!("projects/{pid}"));
    assert_eq!(s, 200);
    assert_eq!(p["project"]["name"], "durable");
    assert_eq!(admin.get(&format!("users/{uid}")).0, 200);
    let (s, token, _) = password_auth(&env, "durable-user", "pw-1", "durable");
    assert_eq!(s, 201);
    assert_eq!(api_for(&env, token.unwrap(), &pid).get("/volumes").0, 200);
    assert_eq!(
        app_cred_auth(&env, json!({"id": cid, "secret": secret})).0,
        201
    );
}

#[test]
fn admin_operations_have_names_fault_rules_can_match() {
    use crate::fault_support::Control;
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    ctl.add(json!({"id": "pc", "operation": "keystone.project.create", "trigger": {"first": 1}, "effect": "503"}));
    let admin = Ks::of(&env, &env.admin());
    let body = json!({"project": {"name": "flaky"}});
    let (s, b) = admin.post("projects", body.clone());
    assert_eq!(s, 503, "{b}");
    assert_eq!(b["error"]["code"], 503, "Keystone's envelope: {b}");
    assert_eq!(
        admin.get("projects?name=flaky").1["projects"],
        json!([]),
        "nothing made"
    );
    let (s, b) = admin.post("projects", body);
    assert_eq!(s, 201, "{b}");
    let e = ctl.wait_for_request("project create", |e| e["rule"] == "pc");
    assert_eq!(e["operation"], "keystone.project.create");
    let (s, b) = ctl_try(&env, "keystone.nothing.create");
    assert_eq!(s, 400, "an unknown Keystone operation is refused: {b}");
}

fn ctl_try(env: &Env, op: &str) -> (u16, Value) {
    crate::fault_support::Control::new(env)
        .try_add(&json!({"operation": op, "effect": "503"}).to_string())
}

#[test]
fn hostile_admin_requests_get_clear_errors_and_change_nothing() {
    let env = spawn_emulator();
    let admin = env.admin();
    let url = |p: &str| format!("{}/identity/v3/{p}", env.emu.base_url);
    let send = |method: Method, path: &str, body: Vec<u8>| {
        let resp = client()
            .request(method, url(path))
            .header("X-Auth-Token", &admin.token)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().unwrap_or(Value::Null))
    };
    let (s, b) = send(Method::POST, "projects", b"{not json".to_vec());
    assert_eq!(s, 400, "{b}");
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Expecting to find valid JSON in request body."));
    let (s, b) = send(Method::POST, "users", b"[1, 2]".to_vec());
    assert_eq!(
        (s, b["error"]["message"].as_str()),
        (400, Some("[1, 2] is not of type 'object'"))
    );
    let (s, b) = send(Method::POST, "roles", br#"{"role": "admin"}"#.to_vec());
    assert_eq!(s, 400);
    assert_eq!(
        b["error"]["message"],
        "Invalid input for field 'role': 'admin' is not of type 'object'"
    );
    let (s, _) = send(
        Method::POST,
        "projects",
        br#"{"project": {"name": 7}}"#.to_vec(),
    );
    assert_eq!(s, 400);
    let long = "x".repeat(65);
    let (s, b) = send(
        Method::POST,
        "projects",
        json!({"project": {"name": long}}).to_string().into_bytes(),
    );
    assert_eq!(s, 400, "{b}");
    let (s, b) = send(Method::POST, "projects", vec![b' '; 200_000]);
    assert_eq!(s, 413, "{b}");
    assert_eq!(b["error"]["code"], 413);
    let (s, b) = send(Method::PUT, "projects", Vec::new());
    assert_eq!(s, 405, "{b}");
    let (s, b) = send(Method::GET, "users/..%2F..%2Fetc", Vec::new());
    assert_eq!(s, 404, "{b}");
    let (s, b) = send(
        Method::PATCH,
        "projects/abc",
        br#"{"project": {"id": "other"}}"#.to_vec(),
    );
    assert_eq!(s, 400, "{b}");
    // Nothing was made by any of it.
    let ks = Ks::of(&env, &admin);
    let (_, projects) = ks.get("projects");
    assert_eq!(
        names(&projects, "projects"),
        ["admin", "alt_demo", "demo", "service"]
    );
    // No token, or a bad one: 401 with Keystone's body.
    let (s, b) = Ks {
        base: env.emu.base_url.clone(),
        token: "junk".into(),
    }
    .get("projects");
    assert_eq!(s, 401);
    assert_eq!(b["error"]["title"], "Unauthorized");
}
