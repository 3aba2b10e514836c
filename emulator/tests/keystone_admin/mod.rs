//! Keystone's admin API over real HTTP: projects, users, roles, grants, role
//! assignments, domains and application credentials, with Keystone's policies, codes
//! and messages; new identities authenticate and see only their project; everything
//! survives a restart.

mod app_creds;

use crate::common;

use common::{client, spawn_emulator, Api, Env};
use reqwest::Method;
use serde_json::{json, Value};

/// A Keystone client with one token.
pub(super) struct Ks {
    pub(super) base: String,
    pub(super) token: String,
}

impl Ks {
    pub(super) fn of(env: &Env, api: &Api) -> Ks {
        Ks {
            base: env.emu.base_url.clone(),
            token: api.token.clone(),
        }
    }

    pub(super) fn req(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut rb = client()
            .request(method, format!("{}/identity/v3/{path}", self.base))
            .header("X-Auth-Token", &self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub(super) fn get(&self, path: &str) -> (u16, Value) {
        self.req(Method::GET, path, None)
    }

    pub(super) fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.req(Method::POST, path, Some(body))
    }

    pub(super) fn put(&self, path: &str) -> (u16, Value) {
        self.req(Method::PUT, path, None)
    }

    pub(super) fn delete(&self, path: &str) -> (u16, Value) {
        self.req(Method::DELETE, path, None)
    }

    pub(super) fn role_id(&self, name: &str) -> String {
        let (s, b) = self.get(&format!("roles?name={name}"));
        assert_eq!(s, 200, "{b}");
        b["roles"][0]["id"].as_str().unwrap().to_string()
    }

    /// A new project with a new user holding `role` on it: (project id, user id).
    pub(super) fn project_with_user(&self, name: &str, role: &str) -> (String, String) {
        let (s, p) = self.post(
            "projects",
            json!({"project": {"name": name, "domain_id": "default", "description": "d"}}),
        );
        assert_eq!(s, 201, "{p}");
        let pid = p["project"]["id"].as_str().unwrap().to_string();
        let (s, u) = self.post(
            "users",
            json!({"user": {"name": format!("{name}-user"), "password": "pw-1", "domain_id": "default"}}),
        );
        assert_eq!(s, 201, "{u}");
        let uid = u["user"]["id"].as_str().unwrap().to_string();
        let rid = self.role_id(role);
        let (s, b) = self.put(&format!("projects/{pid}/users/{uid}/roles/{rid}"));
        assert_eq!(s, 204, "{b}");
        (pid, uid)
    }
}

/// `POST /auth/tokens` with any body: (status, token, body).
pub(super) fn auth(env: &Env, body: Value) -> (u16, Option<String>, Value) {
    let resp = client()
        .post(format!("{}/identity/v3/auth/tokens", env.emu.base_url))
        .json(&body)
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    let token = resp
        .headers()
        .get("x-subject-token")
        .map(|v| v.to_str().unwrap().to_string());
    (status, token, resp.json().unwrap_or(Value::Null))
}

pub(super) fn password_auth(
    env: &Env,
    user: &str,
    password: &str,
    project: &str,
) -> (u16, Option<String>, Value) {
    auth(
        env,
        json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}
        }}),
    )
}

pub(super) fn api_for(env: &Env, token: String, project_id: &str) -> Api {
    Api {
        base: env.emu.base_url.clone(),
        token,
        project_id: project_id.to_string(),
        http: client(),
        mv: None,
    }
}

pub(super) fn names(list: &Value, key: &str) -> Vec<String> {
    let mut v: Vec<String> = list[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn a_new_projects_user_gets_a_token_with_its_roles_and_sees_only_its_volumes() {
    let env = spawn_emulator();
    let admin = Ks::of(&env, &env.admin());
    let (pid, uid) = admin.project_with_user("team-a", "member");

    let (s, token, body) = password_auth(&env, "team-a-user", "pw-1", "team-a");
    assert_eq!(s, 201, "{body}");
    let t = &body["token"];
    assert_eq!(t["user"]["id"], uid.as_str());
    assert_eq!(t["project"]["id"], pid.as_str());
    assert_eq!(t["project"]["domain"]["name"], "Default");
    let roles: Vec<&str> = t["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["member", "reader"], "member implies reader");
    let catalog_url = t["catalog"][1]["endpoints"][0]["url"].as_str().unwrap();
    assert!(catalog_url.ends_with(&pid), "{catalog_url}");

    let team = api_for(&env, token.unwrap(), &pid);
    let mine = team.available_volume(1, None);
    let demo = env.login("demo", "demo");
    let theirs = demo.available_volume(1, None);
    let (s, list) = team.get("/volumes");
    assert_eq!(s, 200);
    let ids: Vec<&str> = list["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine.as_str()]);
    assert_eq!(team.get(&format!("/volumes/{theirs}")).0, 404);
    // A member is not Cinder's admin.
    assert_eq!(
        team.get("/volumes/detail?all_tenants=1").1["volumes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The new project has the default quotas, and its usage counts.
    let (s, q) = team.get(&format!("/os-quota-sets/{pid}?usage=True"));
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["quota_set"]["volumes"]["limit"], 10);
    assert_eq!(q["quota_set"]["volumes"]["in_use"], 1);
    assert_eq!(q["quota_set"]["gigabytes"]["limit"], 1000);

    // Wrong password, or a project the user has no role on: 401.
    assert_eq!(password_auth(&env, "team-a-user", "nope", "team-a").0, 401);
    assert_eq!(password_auth(&env, "team-a-user", "pw-1", "demo").0, 401);
}

#[test]
fn an_admin_role_on_a_new_project_makes_a_cinder_admin() {
    let env = spawn_emulator();
    let admin = Ks::of(&env, &env.admin());
    let (pid, _) = admin.project_with_user("ops", "admin");
    let (s, token, body) = password_auth(&env, "ops-user", "pw-1", "ops");
    assert_eq!(s, 201, "{body}");
    let roles = names(&body["token"], "roles");
    assert_eq!(roles, ["admin", "manager", "member", "reader"]);
    let ops = api_for(&env, token.unwrap(), &pid);
    let (s, _) = ops.get("/os-services");
    assert_eq!(s, 200, "admin-only Cinder API");
    // ...and a Keystone admin.
    let ks = Ks::of(&env, &ops);
    assert_eq!(ks.get("users").0, 200);
}

#[test]
fn non_admins_are_refused_writes_but_read_their_own() {
    let env = spawn_emulator();
    let demo_api = env.login("demo", "demo");
    let demo = Ks::of(&env, &demo_api);
    let (s, b) = demo.post("projects", json!({"project": {"name": "x"}}));
    assert_eq!(s, 403, "{b}");
    assert_eq!(b["error"]["code"], 403);
    assert_eq!(b["error"]["title"], "Forbidden");
    assert_eq!(
        b["error"]["message"],
        "You are not authorized to perform the requested action: identity:create_project."
    );
    for (path, action) in [
        ("projects", "list_projects"),
        ("users", "list_users"),
        ("roles", "list_roles"),
        ("domains", "list_domains"),
        ("role_assignments", "list_role_assignments"),
    ] {
        let (s, b) = demo.get(path);
        assert_eq!(s, 403, "{path}: {b}");
        assert!(b["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with(&format!("identity:{action}.")));
    }
    assert_eq!(demo.post("users", json!({"user": {"name": "u"}})).0, 403);
    assert_eq!(demo.post("roles", json!({"role": {"name": "r"}})).0, 403);

    // Their own user, project, domain and project list.
    let (_, t) = common::issue_token(&env.emu.base_url, "demo", "demo", "demo");
    let uid = t["token"]["user"]["id"].as_str().unwrap();
    let pid = &demo_api.project_id;
    assert_eq!(demo.get(&format!("users/{uid}")).0, 200);
    assert_eq!(demo.get(&format!("projects/{pid}")).0, 200);
    assert_eq!(demo.get("domains/default").0, 200);
    let (s, mine) = demo.get(&format!("users/{uid}/projects"));
    assert_eq!(s, 200);
    assert_eq!(names(&mine, "projects"), ["demo"]);
    let (s, mine) = demo.get("auth/projects");
    assert_eq!(s, 200);
    assert_eq!(names(&mine, "projects"), ["demo"]);
    assert_eq!(
        mine["links"]["self"],
        format!("{}/identity/v3/auth/projects", env.emu.base_url)
    );
    // Someone else's: refused.
    let admin = Ks::of(&env, &env.admin());
    let (_, users) = admin.get("users?name=admin");
    let admin_id = users["users"][0]["id"].as_str().unwrap();
    assert_eq!(demo.get(&format!("users/{admin_id}")).0, 403);
    assert_eq!(demo.get(&format!("users/{admin_id}/projects")).0, 403);
    let (_, ps) = admin.get("projects?name=admin");
    let admin_pid = ps["projects"][0]["id"].as_str().unwrap();
    assert_eq!(demo.get(&format!("projects/{admin_pid}")).0, 403);
}

#[test]
fn admin_writes_answer_with_keystones_codes_and_messages() {
    let env = spawn_emulator();
    let admin = Ks::of(&env, &env.admin());
    let (s, p) = admin.post(
        "projects",
        json!({"project": {"name": "p1", "tags": ["a"]}}),
    );
    assert_eq!(s, 201, "{p}");
    let p = &p["project"];
    let pid = p["id"].as_str().unwrap();
    assert_eq!(pid.len(), 32);
    assert_eq!(p["domain_id"], "default");
    assert_eq!(p["parent_id"], "default");
    assert_eq!(p["enabled"], true);
    assert_eq!(p["is_domain"], false);
    assert_eq!(p["tags"], json!(["a"]));
    assert_eq!(
        p["links"]["self"],
        format!("{}/identity/v3/projects/{pid}", env.emu.base_url)
    );

    let (s, b) = admin.post("projects", json!({"project": {"name": "p1"}}));
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["error"]["title"], "Conflict");
    assert!(b["error"]["message"].as_str().unwrap().starts_with(
        "Conflict occurred attempting to store project - it is not permitted to have two projects"
    ));
    let (s, b) = admin.post("projects", json!({"project": {}}));
    assert_eq!(s, 400);
    assert_eq!(
        b["error"]["message"],
        "Invalid input for field 'project': 'name' is a required property"
    );
    let (s, b) = admin.post(
        "projects",
        json!({"project": {"name": "p2", "enabled": "yes"}}),
    );
    assert_eq!(s, 400);
    assert_eq!(
        b["error"]["message"],
        "Invalid input for field 'project/enabled': 'yes' is not of type 'boolean'"
    );
    let (s, b) = admin.post(
        "projects",
        json!({"project": {"name": "p3", "domain_id": "nope"}}),
    );
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["message"], "Could not find domain: nope.");
    let (s, b) = admin.post("projects", json!({"nothing": {}}));
    assert_eq!(
        (s, b["error"]["message"].as_str()),
        (400, Some("'project' is a required property"))
    );

    let (s, b) = admin.get("projects/0123456789abcdef0123456789abcdef");
    assert_eq!(s, 404);
    assert_eq!(
        b["error"]["message"],
        "Could not find project: 0123456789abcdef0123456789abcdef."
    );
    let (s, b) = admin.req(
        Method::PATCH,
        &format!("projects/{pid}"),
        Some(json!({"project": {"description": "new", "enabled": false}})),
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["project"]["description"], "new");
    assert_eq!(b["project"]["enabled"], false);
    let (_, listed) = admin.get("projects?enabled=false");
    assert_eq!(names(&listed, "projects"), ["p1"]);
    let (_, listed) = admin.get("projects?name=demo");
    assert_eq!(names(&listed, "projects"), ["demo"]);

    // The world file's identities are read-only.
    let (_, demo) = admin.get("projects?name=demo");
    let demo_id = demo["projects"][0]["id"].as_str().unwrap();
    let (s, b) = admin.delete(&format!("projects/{demo_id}"));
    assert_eq!(s, 403, "{b}");

    // Users: duplicate, blank name, password change.
    let (s, u) = admin.post("users", json!({"user": {"name": "bob", "password": "one"}}));
    assert_eq!(s, 201, "{u}");
    let uid = u["user"]["id"].as_str().unwrap();
    assert!(u["user"].get("password").is_none());
    assert_eq!(u["user"]["domain_id"], "default");
    let (s, b) = admin.post("users", json!({"user": {"name": "bob"}}));
    assert_eq!(s, 409);
    assert_eq!(
        b["error"]["message"],
        "Conflict occurred attempting to store user - Duplicate entry found with name bob at domain ID default."
    );
    let (s, _) = admin.post("users", json!({"user": {"name": "  "}}));
    assert_eq!(s, 400);
    let anon = Ks {
        base: env.emu.base_url.clone(),
        token: String::new(),
    };
    let (s, _) = anon.post(
        &format!("users/{uid}/password"),
        json!({"user": {"original_password": "wrong", "password": "two"}}),
    );
    assert_eq!(s, 401);
    let (s, b) = anon.post(
        &format!("users/{uid}/password"),
        json!({"user": {"original_password": "one", "password": "two"}}),
    );
    assert_eq!(s, 204, "{b}");

    // Roles: bootstrap's are there; a duplicate (any case) conflicts; delete.
    let (_, roles) = admin.get("roles");
    let all = names(&roles, "roles");
    for r in ["admin", "manager", "member", "reader", "service"] {
        assert!(all.contains(&r.to_string()), "{all:?}");
    }
    let (s, b) = admin.post("roles", json!({"role": {"name": "Member"}}));
    assert_eq!(s, 409, "{b}");
    let (s, r) = admin.post("roles", json!({"role": {"name": "auditor"}}));
    assert_eq!(s, 201);
    let rid = r["role"]["id"].as_str().unwrap();
    assert_eq!(r["role"]["domain_id"], Value::Null);
    assert_eq!(admin.get(&format!("roles/{rid}")).0, 200);
    assert_eq!(admin.delete(&format!("roles/{rid}")).0, 204);
    assert_eq!(admin.get(&format!("roles/{rid}")).0, 404);
    let member = admin.role_id("member");
    assert_eq!(admin.delete(&format!("roles/{member}")).0, 403);
}

/// Cinder remembers token checks between requests; every identity change that takes a
/// token's rights away must still reach the very next request.
#[test]
fn a_used_token_loses_its_rights_at_once_when_its_identity_changes() {
    let env = spawn_emulator();
    let admin = Ks::of(&env, &env.admin());
    let volumes = |token: &str, pid: &str| api_for(&env, token.to_string(), pid).get("/volumes").0;
    let token_of = |user: &str, project: &str| {
        let (s, t, b) = password_auth(&env, user, "pw-1", project);
        assert_eq!(s, 201, "{b}");
        t.unwrap()
    };

    // Disabling the user.
    let (pid, uid) = admin.project_with_user("cache-a", "member");
    let t = token_of("cache-a-user", "cache-a");
    assert_eq!((volumes(&t, &pid), volumes(&t, &pid)), (200, 200));
    let (s, b) = admin.req(
        Method::PATCH,
        &format!("users/{uid}"),
        Some(json!({"user": {"enabled": false}})),
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(volumes(&t, &pid), 401);

    // Removing the user's only role on the project.
    let (pid, uid) = admin.project_with_user("cache-b", "member");
    let t = token_of("cache-b-user", "cache-b");
    assert_eq!((volumes(&t, &pid), volumes(&t, &pid)), (200, 200));
    let rid = admin.role_id("member");
    let (s, b) = admin.delete(&format!("projects/{pid}/users/{uid}/roles/{rid}"));
    assert_eq!(s, 204, "{b}");
    assert_eq!(volumes(&t, &pid), 401);

    // Revoking the token itself.
    let (pid, _) = admin.project_with_user("cache-c", "member");
    let t = token_of("cache-c-user", "cache-c");
    assert_eq!((volumes(&t, &pid), volumes(&t, &pid)), (200, 200));
    let r = client()
        .delete(format!("{}/identity/v3/auth/tokens", env.emu.base_url))
        .header("X-Auth-Token", &admin.token)
        .header("X-Subject-Token", &t)
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(volumes(&t, &pid), 401);

    // A wipe of the world's state (the control API's reset) forgets API-made users.
    let (pid, _) = admin.project_with_user("cache-d", "member");
    let t = token_of("cache-d-user", "cache-d");
    assert_eq!((volumes(&t, &pid), volumes(&t, &pid)), (200, 200));
    let r = client()
        .post(format!("{}/_cinderbox/reset", env.emu.base_url))
        .header("X-Auth-Token", &admin.token)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(volumes(&t, &pid), 401);
}

#[test]
fn grants_and_role_assignments_follow_keystone() {
    let env = spawn_emulator();
    let admin = Ks::of(&env, &env.admin());
    let (pid, uid) = admin.project_with_user("g1", "member");
    let reader = admin.role_id("reader");
    let member = admin.role_id("member");
    let grant = format!("projects/{pid}/users/{uid}/roles/{reader}");
    let (s, b) = admin.req(Method::HEAD, &grant, None);
    assert_eq!(s, 404, "{b}");
    let (s, b) = admin.delete(&grant);
    assert_eq!(s, 404);
    assert_eq!(
        b["error"]["message"],
        format!("Could not find role assignment with role: {reader}, user or group: {uid}, project, domain, or system: {pid}.")
    );
    assert_eq!(admin.put(&grant).0, 204);
    assert_eq!(admin.put(&grant).0, 204, "granting twice is fine");
    assert_eq!(admin.req(Method::HEAD, &grant, None).0, 204);
    let (s, b) = admin.get(&format!("projects/{pid}/users/{uid}/roles"));
    assert_eq!(s, 200);
    assert_eq!(names(&b, "roles"), ["member", "reader"]);
    assert_eq!(
        admin
            .put(&format!("projects/{pid}/users/{uid}/roles/nope"))
            .0,
        404
    );
    assert_eq!(
        admin
            .put(&format!("projects/nope/users/{uid}/roles/{reader}"))
            .0,
        404
    );
    assert_eq!(
        admin
            .put(&format!("domains/default/users/{uid}/roles/{reader}"))
            .0,
        204
    );

    let (s, b) = admin.get(&format!(
        "role_assignments?user.id={uid}&scope.project.id={pid}"
    ));
    assert_eq!(s, 200, "{b}");
    let rows = b["role_assignments"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{b}");
    let row = rows
        .iter()
        .find(|r| r["role"]["id"] == member.as_str())
        .unwrap();
    assert_eq!(row["user"]["id"], uid.as_str());
    assert_eq!(row["scope"]["project"]["id"], pid.as_str());
    assert_eq!(
        row["links"]["assignment"],
        format!(
            "{}/identity/v3/projects/{pid}/users/{uid}/roles/{member}",
            env.emu.base_url
        )
    );
    let (_, b) = admin.get(&format!(
        "role_assignments?user.id={uid}&include_names=True"
    ));
    let rows = b["role_assignments"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "two on the project, one on the domain: {b}");
    let on_domain = rows
        .iter()
        .find(|r| r["scope"].get("domain").is_some())
        .unwrap();
    assert_eq!(on_domain["scope"]["domain"]["name"], "Default");
    assert_eq!(on_domain["user"]["name"], "g1-user");
    assert_eq!(on_domain["user"]["domain"]["name"], "Default");
    assert_eq!(on_domain["role"]["name"], "reader");
    let (_, b) = admin.get(&format!(
        "role_assignments?role.id={member}&scope.project.id={pid}"
    ));
    assert_eq!(b["role_assignments"].as_array().unwrap().len(), 1);
    // The world's grants are listed too.
    let (_, demo) = admin.get("projects?name=demo");
    let demo_id = demo["projects"][0]["id"].as_str().unwrap();
    let (_, b) = admin.get(&format!(
        "role_assignments?scope.project.id={demo_id}&effective"
    ));
    let rows = b["role_assignments"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "member and the reader it implies: {b}");

    // Revoking the last role takes the user's tokens for the project away.
    let (_, token, _) = password_auth(&env, "g1-user", "pw-1", "g1");
    let user_api = api_for(&env, token.unwrap(), &pid);
    assert_eq!(user_api.get("/volumes").0, 200);
    assert_eq!(admin.delete(&grant).0, 204);
    assert_eq!(
        admin
            .delete(&format!("projects/{pid}/users/{uid}/roles/{member}"))
            .0,
        204
    );
    assert_eq!(user_api.get("/volumes").0, 401);
    assert_eq!(password_auth(&env, "g1-user", "pw-1", "g1").0, 401);
}

#[test]
fn deleting_a_user_or_project_ends_its_tokens() {
    let env = spawn_emulator();
    let admin = Ks::of(&env, &env.admin());
    let (pid, uid) = admin.project_with_user("gone", "member");
    let (_, token, _) = password_auth(&env, "gone-user", "pw-1", "gone");
    let user_api = api_for(&env, token.unwrap(), &pid);
    assert_eq!(user_api.get("/volumes").0, 200);
    assert_eq!(admin.delete(&format!("users/{uid}")).0, 204);
    assert_eq!(user_api.get("/volumes").0, 401);
    assert_eq!(admin.get(&format!("users/{uid}")).0, 404);
    assert_eq!(admin.delete(&format!("projects/{pid}")).0, 204);
    assert_eq!(admin.get(&format!("projects/{pid}")).0, 404);
    let (_, b) = admin.get(&format!("role_assignments?scope.project.id={pid}"));
    assert_eq!(b["role_assignments"], json!([]));
}

#[test]
fn domains_list_show_and_an_enabled_domain_is_not_deleted() {
    let env = spawn_emulator();
    let admin = Ks::of(&env, &env.admin());
    let (s, b) = admin.get("domains?name=Default");
    assert_eq!(s, 200);
    assert_eq!(b["domains"][0]["id"], "default");
    let (s, d) = admin.post("domains", json!({"domain": {"name": "dev"}}));
    assert_eq!(s, 201, "{d}");
    let did = d["domain"]["id"].as_str().unwrap();
    let (s, p) = admin.post(
        "projects",
        json!({"project": {"name": "in-dev", "domain_id": did}}),
    );
    assert_eq!(s, 201, "{p}");
    let (s, b) = admin.delete(&format!("domains/{did}"));
    assert_eq!(s, 403, "{b}");
    assert_eq!(
        b["error"]["message"],
        "Cannot delete a domain that is enabled, please disable it first."
    );
    let (s, _) = admin.req(
        Method::PATCH,
        &format!("domains/{did}"),
        Some(json!({"domain": {"enabled": false}})),
    );
    assert_eq!(s, 200);
    assert_eq!(admin.delete(&format!("domains/{did}")).0, 204);
    let (_, b) = admin.get("projects?name=in-dev");
    assert_eq!(
        b["projects"],
        json!([]),
        "the domain's projects went with it"
    );
    assert_eq!(admin.delete("domains/default").0, 403);
}
