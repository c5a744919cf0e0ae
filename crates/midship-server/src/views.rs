//! Domain values as the admin API shows them.

use midship_api::{AppKeyView, AppView, AuditEntryView, TenantView, TokenView, WorkspaceView};
use midship_core::access::TokenRecord;
use midship_core::clock::format_rfc3339;
use midship_core::{App, AppKey, AuditEntry, Platform, Tenant, Workspace};

pub fn tenant(tenant: Tenant) -> TenantView {
    TenantView { tenant_id: tenant.tenant_id, name: tenant.name, created_at: format_rfc3339(tenant.created_at) }
}

pub fn app(app: App) -> AppView {
    AppView {
        app_id: app.app_id,
        tenant_id: app.tenant_id,
        name: app.name,
        platforms: app.platforms.iter().map(|platform| platform.as_str().to_owned()).collect(),
        created_at: format_rfc3339(app.created_at),
    }
}

pub fn workspace(workspace: Workspace) -> WorkspaceView {
    WorkspaceView {
        workspace_id: workspace.workspace_id,
        app_id: workspace.app_id,
        name: workspace.name,
        created_at: format_rfc3339(workspace.created_at),
    }
}

pub fn key(key: AppKey, now_ms: i64) -> AppKeyView {
    AppKeyView {
        active: key.is_valid_at(now_ms),
        key_id: key.key_id,
        created_at: format_rfc3339(key.created_at),
        expires_at: key.expires_at.map(format_rfc3339),
    }
}

pub fn token(record: TokenRecord, now_ms: i64) -> TokenView {
    TokenView {
        active: record.is_active_at(now_ms),
        token_id: record.token_id,
        tenant_id: record.tenant_id,
        name: record.name,
        role: record.role.as_str().to_owned(),
        app_ids: record.app_ids,
        hint: record.hint,
        created_at: format_rfc3339(record.created_at),
        created_by: record.created_by,
        expires_at: record.expires_at.map(format_rfc3339),
        revoked_at: record.revoked_at.map(format_rfc3339),
    }
}

pub fn audit(entry: AuditEntry) -> AuditEntryView {
    let AuditEntry { seq, entry } = entry;
    AuditEntryView {
        seq,
        at: format_rfc3339(entry.at),
        actor_token_id: entry.actor_token_id,
        actor_name: entry.actor_name,
        action: entry.action,
        target_kind: entry.target_kind,
        target_id: entry.target_id,
        app_id: entry.app_id,
        before: entry.before,
        after: entry.after,
    }
}

pub fn platforms(platforms: &[Platform]) -> String {
    Platform::join(platforms)
}
