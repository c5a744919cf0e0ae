-- Analytics: every accepted batch of client logs (reports are derived from these in memory), unique
-- per device and batch id so a retried upload is stored once, and each workspace's upload policy.

CREATE TABLE analytics_batches (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    batch_id     TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    event_count  INTEGER NOT NULL,
    payload      BLOB NOT NULL,
    UNIQUE (workspace_id, device_id, batch_id)
);

CREATE TABLE analytics_policies (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (workspace_id),
    policy       TEXT NOT NULL,
    updated_at   INTEGER NOT NULL
) WITHOUT ROWID;

-- Alert rules (their definition is JSON the analytics service owns) and every notification sent.
CREATE TABLE analytics_alert_rules (
    rule_id      TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    definition   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX analytics_alert_rules_by_workspace ON analytics_alert_rules (workspace_id);

CREATE TABLE analytics_alert_events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id      TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    state        TEXT NOT NULL,
    value        REAL NOT NULL,
    at           INTEGER NOT NULL,
    delivered    BOOLEAN NOT NULL,
    attempts     INTEGER NOT NULL,
    detail       TEXT
);
CREATE INDEX analytics_alert_events_by_workspace ON analytics_alert_events (workspace_id, seq);

-- Symbol files (ProGuard/R8 mappings) per app version, applied to that version's crash stacks.
CREATE TABLE analytics_symbol_files (
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    app_version  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    content      BLOB NOT NULL,
    uploaded_at  INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, app_version, kind)
) WITHOUT ROWID;

-- Diagnosis: requests for one device's (or user's) local log file, and the files uploaded.
CREATE TABLE analytics_log_requests (
    request_id   TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    device_id    TEXT,
    user_id      TEXT,
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX analytics_log_requests_by_workspace ON analytics_log_requests (workspace_id, created_at);

CREATE TABLE analytics_log_files (
    file_id      TEXT PRIMARY KEY,
    request_id   TEXT NOT NULL REFERENCES analytics_log_requests (request_id),
    workspace_id TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    user_id      TEXT,
    file_name    TEXT NOT NULL,
    size         INTEGER NOT NULL,
    content      BLOB NOT NULL,
    uploaded_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX analytics_log_files_by_workspace ON analytics_log_files (workspace_id, uploaded_at);
