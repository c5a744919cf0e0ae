-- Push: devices with their channel token and bound user; named definitions (templates, channel
-- credentials); tasks; and one delivery per task and device (the dispatcher's to-do list and the
-- statistics at once).

CREATE TABLE push_devices (
    workspace_id     TEXT NOT NULL REFERENCES workspaces (workspace_id),
    device_id        TEXT NOT NULL,
    platform         TEXT NOT NULL,
    channel          TEXT NOT NULL,
    token            TEXT,
    token_retired_at INTEGER,
    user_id          TEXT,
    bound_at         INTEGER,
    reported_at      INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, device_id)
) WITHOUT ROWID;
CREATE INDEX push_devices_by_user ON push_devices (workspace_id, user_id);

CREATE TABLE push_definitions (
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    definition   TEXT NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, kind, name)
) WITHOUT ROWID;

CREATE TABLE push_tasks (
    task_id        TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (workspace_id),
    parent_task_id TEXT,
    kind           TEXT NOT NULL,
    definition     TEXT NOT NULL,
    status         TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    next_run_at    INTEGER,
    runs           INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX push_tasks_by_workspace ON push_tasks (workspace_id, created_at);
CREATE INDEX push_tasks_by_status ON push_tasks (status, next_run_at);
CREATE INDEX push_tasks_by_parent ON push_tasks (parent_task_id);

CREATE TABLE push_deliveries (
    task_id      TEXT NOT NULL REFERENCES push_tasks (task_id),
    workspace_id TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    user_id      TEXT,
    platform     TEXT NOT NULL,
    channel      TEXT NOT NULL,
    token        TEXT,
    msg_id       TEXT NOT NULL,
    target_values TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    sent_at      INTEGER,
    failed_at    INTEGER,
    error        TEXT,
    delivered_at INTEGER,
    opened_at    INTEGER,
    ignored_at   INTEGER,
    revoked_at   INTEGER,
    PRIMARY KEY (task_id, device_id)
) WITHOUT ROWID;
CREATE INDEX push_deliveries_by_time ON push_deliveries (workspace_id, created_at);
CREATE INDEX push_deliveries_by_msg_id ON push_deliveries (workspace_id, msg_id);
