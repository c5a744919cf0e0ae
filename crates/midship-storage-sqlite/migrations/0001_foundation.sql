-- Tenancy, access tokens, the audit log, and the device and user tables later services fill.
-- Times are milliseconds since the Unix epoch.

CREATE TABLE tenants (
    tenant_id  TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE apps (
    app_id     TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (tenant_id),
    name       TEXT NOT NULL,
    platforms  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE workspaces (
    workspace_id TEXT PRIMARY KEY,
    app_id       TEXT NOT NULL REFERENCES apps (app_id),
    name         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (app_id, name)
);

CREATE TABLE app_keys (
    key_id     TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL REFERENCES apps (app_id),
    secret     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
);
CREATE INDEX app_keys_by_app ON app_keys (app_id, created_at);

CREATE TABLE api_tokens (
    token_id   TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (tenant_id),
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    app_ids    TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    hint       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT,
    expires_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX api_tokens_by_tenant ON api_tokens (tenant_id, token_id);

CREATE TABLE audit_log (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      TEXT NOT NULL,
    at             INTEGER NOT NULL,
    actor_token_id TEXT,
    actor_name     TEXT NOT NULL,
    action         TEXT NOT NULL,
    target_kind    TEXT NOT NULL,
    target_id      TEXT NOT NULL,
    app_id         TEXT,
    before_json    TEXT,
    after_json     TEXT
);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, seq);

-- Devices get a utdid at first contact (gateway issue); users are the app's own identities.
CREATE TABLE devices (
    utdid         TEXT PRIMARY KEY,
    app_id        TEXT NOT NULL REFERENCES apps (app_id),
    workspace_id  TEXT NOT NULL REFERENCES workspaces (workspace_id),
    platform      TEXT NOT NULL,
    model         TEXT,
    os_version    TEXT,
    app_version   TEXT,
    first_seen_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL
);
CREATE INDEX devices_by_workspace ON devices (workspace_id, last_seen_at);

CREATE TABLE app_users (
    workspace_id  TEXT NOT NULL REFERENCES workspaces (workspace_id),
    user_id       TEXT NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);

-- A device is bound to at most one user at a time; a user may have many devices.
CREATE TABLE device_bindings (
    utdid        TEXT PRIMARY KEY REFERENCES devices (utdid),
    workspace_id TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    bound_at     INTEGER NOT NULL,
    FOREIGN KEY (workspace_id, user_id) REFERENCES app_users (workspace_id, user_id)
);
CREATE INDEX device_bindings_by_user ON device_bindings (workspace_id, user_id);
