//! Keystone's operation catalogue: one row per (method, path under `/identity/v3`)
//! with its stable operation name (`keystone.token.create`, `keystone.project.create`,
//! …), which fault rules name and the request log records. `{}` matches one path
//! segment. The Keystone hook (`edge/token_hook.rs`) runs every request it names
//! through the fault rules.

/// (method, path pattern, operation).
pub const CATALOGUE: &[(&str, &str, &str)] = &[
    ("POST", "auth/tokens", "keystone.token.create"),
    ("GET", "auth/tokens", "keystone.token.validate"),
    ("HEAD", "auth/tokens", "keystone.token.check"),
    ("DELETE", "auth/tokens", "keystone.token.revoke"),
    ("GET", "auth/catalog", "keystone.catalog.show"),
    ("GET", "auth/projects", "keystone.auth.projects"),
    ("GET", "auth/domains", "keystone.auth.domains"),
    ("GET", "domains", "keystone.domain.list"),
    ("POST", "domains", "keystone.domain.create"),
    ("GET", "domains/{}", "keystone.domain.show"),
    ("PATCH", "domains/{}", "keystone.domain.update"),
    ("DELETE", "domains/{}", "keystone.domain.delete"),
    ("GET", "projects", "keystone.project.list"),
    ("POST", "projects", "keystone.project.create"),
    ("GET", "projects/{}", "keystone.project.show"),
    ("PATCH", "projects/{}", "keystone.project.update"),
    ("DELETE", "projects/{}", "keystone.project.delete"),
    ("GET", "users", "keystone.user.list"),
    ("POST", "users", "keystone.user.create"),
    ("GET", "users/{}", "keystone.user.show"),
    ("PATCH", "users/{}", "keystone.user.update"),
    ("DELETE", "users/{}", "keystone.user.delete"),
    ("POST", "users/{}/password", "keystone.user.password"),
    ("GET", "users/{}/projects", "keystone.user.projects"),
    ("GET", "users/{}/groups", "keystone.user.groups"),
    ("GET", "roles", "keystone.role.list"),
    ("POST", "roles", "keystone.role.create"),
    ("GET", "roles/{}", "keystone.role.show"),
    ("PATCH", "roles/{}", "keystone.role.update"),
    ("DELETE", "roles/{}", "keystone.role.delete"),
    (
        "PUT",
        "projects/{}/users/{}/roles/{}",
        "keystone.grant.create",
    ),
    (
        "GET",
        "projects/{}/users/{}/roles/{}",
        "keystone.grant.check",
    ),
    (
        "HEAD",
        "projects/{}/users/{}/roles/{}",
        "keystone.grant.check",
    ),
    (
        "DELETE",
        "projects/{}/users/{}/roles/{}",
        "keystone.grant.revoke",
    ),
    ("GET", "projects/{}/users/{}/roles", "keystone.grant.list"),
    (
        "PUT",
        "domains/{}/users/{}/roles/{}",
        "keystone.grant.create",
    ),
    (
        "GET",
        "domains/{}/users/{}/roles/{}",
        "keystone.grant.check",
    ),
    (
        "HEAD",
        "domains/{}/users/{}/roles/{}",
        "keystone.grant.check",
    ),
    (
        "DELETE",
        "domains/{}/users/{}/roles/{}",
        "keystone.grant.revoke",
    ),
    ("GET", "domains/{}/users/{}/roles", "keystone.grant.list"),
    ("GET", "role_assignments", "keystone.role_assignment.list"),
    (
        "GET",
        "users/{}/application_credentials",
        "keystone.application_credential.list",
    ),
    (
        "POST",
        "users/{}/application_credentials",
        "keystone.application_credential.create",
    ),
    (
        "GET",
        "users/{}/application_credentials/{}",
        "keystone.application_credential.show",
    ),
    (
        "DELETE",
        "users/{}/application_credentials/{}",
        "keystone.application_credential.delete",
    ),
];

/// Every operation name, once each, in catalogue order.
pub const OPERATIONS: &[&str] = &[
    "keystone.token.create",
    "keystone.token.validate",
    "keystone.token.check",
    "keystone.token.revoke",
    "keystone.catalog.show",
    "keystone.auth.projects",
    "keystone.auth.domains",
    "keystone.domain.list",
    "keystone.domain.create",
    "keystone.domain.show",
    "keystone.domain.update",
    "keystone.domain.delete",
    "keystone.project.list",
    "keystone.project.create",
    "keystone.project.show",
    "keystone.project.update",
    "keystone.project.delete",
    "keystone.user.list",
    "keystone.user.create",
    "keystone.user.show",
    "keystone.user.update",
    "keystone.user.delete",
    "keystone.user.password",
    "keystone.user.projects",
    "keystone.user.groups",
    "keystone.role.list",
    "keystone.role.create",
    "keystone.role.show",
    "keystone.role.update",
    "keystone.role.delete",
    "keystone.grant.create",
    "keystone.grant.check",
    "keystone.grant.revoke",
    "keystone.grant.list",
    "keystone.role_assignment.list",
    "keystone.application_credential.list",
    "keystone.application_credential.create",
    "keystone.application_credential.show",
    "keystone.application_credential.delete",
];

/// The operation of a request to `path` (the full request path), if the catalogue
/// has it.
pub fn operation(method: &str, path: &str) -> Option<&'static str> {
    let rest = path.strip_prefix("/identity/v3/")?.trim_end_matches('/');
    let segs: Vec<&str> = rest.split('/').collect();
    CATALOGUE
        .iter()
        .find(|(m, pattern, _)| {
            *m == method && {
                let pat: Vec<&str> = pattern.split('/').collect();
                pat.len() == segs.len()
                    && pat
                        .iter()
                        .zip(&segs)
                        .all(|(p, s)| *p == "{}" && !s.is_empty() || p == s)
            }
        })
        .map(|(_, _, op)| *op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_resolves_to_its_operation_and_names_are_listed() {
        for (m, pattern, op) in CATALOGUE {
            let path = format!("/identity/v3/{}", pattern.replace("{}", "abc"));
            assert_eq!(operation(m, &path), Some(*op), "{m} {path}");
            assert!(OPERATIONS.contains(op), "{op} missing from OPERATIONS");
        }
        for op in OPERATIONS {
            assert!(CATALOGUE.iter().any(|(_, _, o)| o == op), "{op} has no row");
        }
        assert_eq!(
            operation("GET", "/identity/v3/projects/"),
            Some("keystone.project.list")
        );
        assert_eq!(operation("GET", "/identity/v3/nothing"), None);
        assert_eq!(operation("PUT", "/identity/v3/projects"), None);
        assert_eq!(operation("GET", "/identity/v3/projects//users"), None);
    }
}
