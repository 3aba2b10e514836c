//! Keystone's wire shapes for the admin API: each entity with its `links.self`, and
//! collections with `links` (`self`, `previous`, `next`).

use serde_json::{json, Value};

use crate::edge::Edge;
use crate::identity::directory::{Domain, Project, Role, User};
use crate::identity::model::AppCredRec;
use crate::timefmt;

fn link(app: &Edge, path: &str) -> Value {
    json!({"self": format!("{}/{path}", app.identity_url())})
}

/// `{key: items, "links": {...}}`; `self_path` is the request's path under `/v3` with
/// its query, if any.
pub fn collection(app: &Edge, key: &str, self_path: &str, items: Vec<Value>) -> Value {
    json!({
        key: items,
        "links": {
            "self": format!("{}/{self_path}", app.identity_url()),
            "previous": null,
            "next": null,
        },
    })
}

pub fn domain(app: &Edge, d: &Domain) -> Value {
    json!({
        "id": d.id,
        "name": d.name,
        "description": d.description,
        "enabled": d.enabled,
        "tags": [],
        "options": {},
        "links": link(app, &format!("domains/{}", d.id)),
    })
}

pub fn project(app: &Edge, p: &Project) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "domain_id": p.domain_id,
        "description": p.description,
        "enabled": p.enabled,
        "parent_id": p.domain_id,
        "is_domain": false,
        "tags": p.tags,
        "options": {},
        "links": link(app, &format!("projects/{}", p.id)),
    })
}

pub fn user(app: &Edge, u: &User) -> Value {
    let mut v = json!({
        "id": u.id,
        "name": u.name,
        "domain_id": u.domain_id,
        "enabled": u.enabled,
        "password_expires_at": null,
        "options": {},
        "links": link(app, &format!("users/{}", u.id)),
    });
    if let Some(p) = &u.default_project_id {
        v["default_project_id"] = json!(p);
    }
    if let Some(d) = &u.description {
        v["description"] = json!(d);
    }
    if let Some(e) = &u.email {
        v["email"] = json!(e);
    }
    v
}

pub fn role(app: &Edge, r: &Role) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "domain_id": null,
        "description": r.description,
        "options": {},
        "links": link(app, &format!("roles/{}", r.id)),
    })
}

/// An application credential; `secret` only in the create response.
pub fn app_cred(app: &Edge, a: &AppCredRec, roles: &[Role], secret: Option<&str>) -> Value {
    let roles: Vec<Value> = a
        .roles
        .iter()
        .filter_map(|id| roles.iter().find(|r| r.id == *id))
        .map(|r| json!({"id": r.id, "name": r.name, "domain_id": null}))
        .collect();
    let mut v = json!({
        "id": a.id,
        "name": a.name,
        "description": a.description,
        "user_id": a.user_id,
        "project_id": a.project_id,
        "expires_at": a.expires_at_us.map(timefmt::keystone),
        "unrestricted": a.unrestricted,
        "roles": roles,
        "access_rules": [],
        "links": link(
            app,
            &format!("users/{}/application_credentials/{}", a.user_id, a.id),
        ),
    });
    if let Some(s) = secret {
        v["secret"] = json!(s);
    }
    v
}
