//! The minimum role of every admin route, in one table so it reads and reviews as a whole. The
//! services enforce the roles (each names an `Action`); this table states them in the OpenAPI
//! document, as the `x-minimum-role` extension and a sentence closing each description, so
//! generated clients and the reference page show them. docs/security.md repeats it for
//! people, and the server's tests call every route with the role below its minimum to keep the
//! three in step.

use midship_core::access::Role;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::{Operation, PathItem};

/// The OpenAPI extension that carries an operation's minimum role (`admin`, `developer`,
/// `operator` or `viewer`).
const MINIMUM_ROLE_EXTENSION: &str = "x-minimum-role";

/// Method, path and the least role that may call it; each role may do what the roles below it may
/// (admin, developer, operator, viewer).
const MINIMUM_ROLES: &[(&str, &str, Role)] = &[
    // Tenants, apps, workspaces, keys.
    ("GET", "/api/v1/whoami", Role::Viewer),
    ("GET", "/api/v1/tenant", Role::Viewer),
    ("GET", "/api/v1/tenants", Role::Admin),
    ("POST", "/api/v1/tenants", Role::Admin),
    ("GET", "/api/v1/apps", Role::Viewer),
    ("POST", "/api/v1/apps", Role::Developer),
    ("GET", "/api/v1/apps/{app_id}", Role::Viewer),
    ("GET", "/api/v1/apps/{app_id}/workspaces", Role::Viewer),
    ("POST", "/api/v1/apps/{app_id}/workspaces", Role::Developer),
    ("GET", "/api/v1/apps/{app_id}/keys", Role::Viewer),
    ("POST", "/api/v1/apps/{app_id}/keys/rotate", Role::Developer),
    // Access tokens and the audit log.
    ("GET", "/api/v1/people", Role::Admin),
    ("POST", "/api/v1/people", Role::Admin),
    ("GET", "/api/v1/people/{person_id}", Role::Admin),
    ("PATCH", "/api/v1/people/{person_id}", Role::Admin),
    ("POST", "/api/v1/people/{person_id}/reset", Role::Admin),
    ("POST", "/api/v1/people/{person_id}/sign-out", Role::Admin),
    ("GET", "/api/v1/tokens", Role::Admin),
    ("POST", "/api/v1/tokens", Role::Admin),
    ("DELETE", "/api/v1/tokens/{token_id}", Role::Admin),
    ("GET", "/api/v1/audit", Role::Viewer),
    // Remote configuration.
    ("GET", "/api/v1/workspaces/{workspace_id}/switches", Role::Viewer),
    ("POST", "/api/v1/workspaces/{workspace_id}/switches", Role::Operator),
    ("GET", "/api/v1/workspaces/{workspace_id}/switches/{key}", Role::Viewer),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/switches/{key}", Role::Operator),
    // Experiments.
    ("GET", "/api/v1/workspaces/{workspace_id}/laboratories", Role::Viewer),
    ("POST", "/api/v1/workspaces/{workspace_id}/laboratories", Role::Operator),
    ("GET", "/api/v1/workspaces/{workspace_id}/experiments", Role::Viewer),
    ("POST", "/api/v1/workspaces/{workspace_id}/experiments", Role::Operator),
    ("GET", "/api/v1/workspaces/{workspace_id}/experiments/{key}", Role::Viewer),
    ("PUT", "/api/v1/workspaces/{workspace_id}/experiments/{key}", Role::Operator),
    ("POST", "/api/v1/workspaces/{workspace_id}/experiments/{key}/phase", Role::Operator),
    ("GET", "/api/v1/workspaces/{workspace_id}/experiments/{key}/results", Role::Viewer),
    ("POST", "/api/v1/workspaces/{workspace_id}/experiments/{key}/promote", Role::Operator),
    ("POST", "/api/v1/workspaces/{workspace_id}/config/publish", Role::Operator),
    ("GET", "/api/v1/workspaces/{workspace_id}/config/versions", Role::Viewer),
    ("POST", "/api/v1/workspaces/{workspace_id}/config/rollback", Role::Operator),
    ("GET", "/api/v1/workspaces/{workspace_id}/config/export", Role::Viewer),
    ("POST", "/api/v1/workspaces/{workspace_id}/config/import", Role::Developer),
    // Approvals.
    ("GET", "/api/v1/workspaces/{workspace_id}/approval-policy", Role::Viewer),
    ("PUT", "/api/v1/workspaces/{workspace_id}/approval-policy", Role::Admin),
    ("GET", "/api/v1/workspaces/{workspace_id}/approvals", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/approvals/{approval_id}", Role::Viewer),
    ("POST", "/api/v1/workspaces/{workspace_id}/approvals/{approval_id}/approve", Role::Operator),
    ("POST", "/api/v1/workspaces/{workspace_id}/approvals/{approval_id}/refuse", Role::Operator),
    // Gateway.
    ("GET", "/api/v1/workspaces/{workspace_id}/api-groups", Role::Viewer),
    ("POST", "/api/v1/workspaces/{workspace_id}/api-groups", Role::Developer),
    ("GET", "/api/v1/workspaces/{workspace_id}/apis", Role::Viewer),
    ("POST", "/api/v1/workspaces/{workspace_id}/apis", Role::Developer),
    ("GET", "/api/v1/workspaces/{workspace_id}/apis/{operation_type}", Role::Viewer),
    ("PUT", "/api/v1/workspaces/{workspace_id}/apis/{operation_type}", Role::Developer),
    ("POST", "/api/v1/workspaces/{workspace_id}/apis/{operation_type}/open", Role::Operator),
    ("POST", "/api/v1/workspaces/{workspace_id}/apis/{operation_type}/close", Role::Operator),
    ("GET", "/api/v1/workspaces/{workspace_id}/gateway-keys", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/api-stats", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/device-security", Role::Viewer),
    ("PUT", "/api/v1/workspaces/{workspace_id}/device-security", Role::Developer),
    ("POST", "/api/v1/workspaces/{workspace_id}/devices/{device_id}/revoke-credential", Role::Operator),
    // Data sync.
    ("GET", "/api/v1/workspaces/{workspace_id}/sync/configs", Role::Viewer),
    ("POST", "/api/v1/workspaces/{workspace_id}/sync/configs", Role::Developer),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/sync/configs/{biz_type}", Role::Developer),
    ("POST", "/api/v1/workspaces/{workspace_id}/sync/send", Role::Operator),
    ("POST", "/api/v1/workspaces/{workspace_id}/sync/global", Role::Operator),
    ("POST", "/api/v1/workspaces/{workspace_id}/sync/batch", Role::Operator),
    ("GET", "/api/v1/workspaces/{workspace_id}/sync/status", Role::Viewer),
    ("POST", "/api/v1/workspaces/{workspace_id}/sync/tokens", Role::Developer),
    // Push.
    ("POST", "/api/v1/workspaces/{workspace_id}/push/send/{kind}", Role::Operator),
    ("GET", "/api/v1/workspaces/{workspace_id}/push/tasks", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/push/tasks/{task_id}", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/push/tasks/{task_id}/deliveries", Role::Viewer),
    ("POST", "/api/v1/workspaces/{workspace_id}/push/tasks/{task_id}/cancel", Role::Operator),
    ("POST", "/api/v1/workspaces/{workspace_id}/push/revoke", Role::Operator),
    ("GET", "/api/v1/workspaces/{workspace_id}/push/stats", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/push/templates", Role::Viewer),
    ("PUT", "/api/v1/workspaces/{workspace_id}/push/templates/{name}", Role::Operator),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/push/templates/{name}", Role::Operator),
    ("GET", "/api/v1/workspaces/{workspace_id}/push/channels", Role::Viewer),
    ("PUT", "/api/v1/workspaces/{workspace_id}/push/channels/{name}", Role::Developer),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/push/channels/{name}", Role::Developer),
    ("GET", "/api/v1/workspaces/{workspace_id}/push/settings", Role::Viewer),
    ("PUT", "/api/v1/workspaces/{workspace_id}/push/settings", Role::Developer),
    ("PUT", "/api/v1/workspaces/{workspace_id}/push/devices/{device_id}/binding", Role::Developer),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/push/devices/{device_id}/binding", Role::Developer),
    // Delivery.
    ("POST", "/api/v1/workspaces/{workspace_id}/delivery/packages", Role::Operator),
    ("GET", "/api/v1/workspaces/{workspace_id}/delivery/packages", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/delivery/signing-key", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/delivery/signing-keys", Role::Viewer),
    ("POST", "/api/v1/workspaces/{workspace_id}/delivery/signing-keys", Role::Developer),
    ("POST", "/api/v1/workspaces/{workspace_id}/delivery/signing-keys/{generation}/retire", Role::Developer),
    ("POST", "/api/v1/workspaces/{workspace_id}/delivery/releases", Role::Operator),
    ("GET", "/api/v1/workspaces/{workspace_id}/delivery/releases", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/delivery/releases/{release_id}", Role::Viewer),
    ("POST", "/api/v1/workspaces/{workspace_id}/delivery/releases/{release_id}/{action}", Role::Operator),
    // Analytics.
    ("GET", "/api/v1/workspaces/{workspace_id}/analytics/overview", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/analytics/realtime", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/analytics/retention", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/analytics/funnel", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/analytics/events", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/analytics/pages", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/analytics/paths", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/analytics/perf", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/analytics/crashes", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/analytics/crashes/{fingerprint}", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/analytics/policy", Role::Viewer),
    ("PUT", "/api/v1/workspaces/{workspace_id}/analytics/policy", Role::Operator),
    ("POST", "/api/v1/analytics/export", Role::Admin),
    ("GET", "/api/v1/workspaces/{workspace_id}/analytics/alerts", Role::Viewer),
    ("POST", "/api/v1/workspaces/{workspace_id}/analytics/alerts", Role::Developer),
    ("PUT", "/api/v1/workspaces/{workspace_id}/analytics/alerts/{rule_id}", Role::Developer),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/analytics/alerts/{rule_id}", Role::Developer),
    ("GET", "/api/v1/workspaces/{workspace_id}/analytics/alert-history", Role::Viewer),
    ("POST", "/api/v1/workspaces/{workspace_id}/analytics/symbols", Role::Operator),
    ("GET", "/api/v1/workspaces/{workspace_id}/analytics/symbols", Role::Viewer),
    ("POST", "/api/v1/workspaces/{workspace_id}/analytics/logs", Role::Operator),
    ("GET", "/api/v1/workspaces/{workspace_id}/analytics/logs", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/analytics/logs/search", Role::Viewer),
    ("GET", "/api/v1/workspaces/{workspace_id}/analytics/logs/{file_id}", Role::Viewer),
];

/// The minimum role of a route, if the table has it.
fn minimum_role(method: &str, path: &str) -> Option<Role> {
    MINIMUM_ROLES
        .iter()
        .find(|(row_method, row_path, _)| (*row_method, *row_path) == (method, path))
        .map(|(_, _, role)| *role)
}

/// States each operation's minimum role in `document`.
pub fn add_minimum_roles(document: &mut OpenApi) {
    for (path, item) in document.paths.paths.iter_mut() {
        for (method, operation) in operations(item) {
            let Some(role) = minimum_role(method, path) else { continue };
            let sentence = format!("Minimum role: {role}.");
            operation.description = Some(match operation.description.take() {
                Some(description) if !description.is_empty() => format!("{description}\n\n{sentence}"),
                _ => sentence,
            });
            let extensions = operation.extensions.get_or_insert_with(Default::default);
            extensions.insert(MINIMUM_ROLE_EXTENSION.to_owned(), serde_json::Value::from(role.as_str()));
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("GET", item.get.as_mut()),
        ("POST", item.post.as_mut()),
        ("PUT", item.put.as_mut()),
        ("PATCH", item.patch.as_mut()),
        ("DELETE", item.delete.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|operation| (method, operation)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A route added without a row would reach the document with no role stated; a row whose
    /// route went away would state a role for nothing.
    #[test]
    fn every_route_has_exactly_one_row() {
        let (_, mut document) = super::super::routes();
        let mut routes = Vec::new();
        for (path, item) in document.paths.paths.iter_mut() {
            for (method, operation) in operations(item) {
                let stated =
                    operation.extensions.as_ref().and_then(|extensions| extensions.get(MINIMUM_ROLE_EXTENSION));
                assert!(stated.is_some(), "{method} {path} has no minimum role: add it to MINIMUM_ROLES");
                routes.push((method, path.clone()));
            }
        }
        for (method, path, _) in MINIMUM_ROLES {
            let rows = MINIMUM_ROLES
                .iter()
                .filter(|(other_method, other_path, _)| (other_method, other_path) == (method, path));
            assert_eq!(rows.count(), 1, "{method} {path} has more than one row");
            assert!(
                routes.iter().any(|(route_method, route_path)| (route_method, route_path.as_str()) == (method, *path)),
                "{method} {path} is no route"
            );
        }
    }
}
