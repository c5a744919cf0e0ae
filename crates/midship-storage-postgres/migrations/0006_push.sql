-- Push: devices with their channel token and bound user; named definitions (templates, channel
-- credentials); tasks; and one delivery per task and device (the dispatcher's to-do list and the
-- statistics at once).

CREATE TABLE push_devices (
    workspace_id     TEXT COLLATE "C" NOT NULL REFERENCES workspaces (workspace_id),
    device_id        TEXT COLLATE "C" NOT NULL,
    platform         TEXT NOT NULL,
    channel          TEXT NOT NULL,
    token            TEXT,
    token_retired_at BIGINT,
    user_id          TEXT,
    bound_at         BIGINT,
    reported_at      BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, device_id)
);
CREATE INDEX push_devices_by_user ON push_devices (workspace_id, user_id);

CREATE TABLE push_definitions (
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (workspace_id),
    kind         TEXT NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    definition   TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, kind, name)
);

CREATE TABLE push_tasks (
    task_id        TEXT PRIMARY KEY,
    workspace_id   TEXT COLLATE "C" NOT NULL REFERENCES workspaces (workspace_id),
    parent_task_id TEXT,
    kind           TEXT NOT NULL,
    definition     TEXT NOT NULL,
    status         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    next_run_at    BIGINT,
    runs           BIGINT NOT NULL
);
CREATE INDEX push_tasks_by_workspace ON push_tasks (workspace_id, created_at);
CREATE INDEX push_tasks_by_status ON push_tasks (status, next_run_at);
CREATE INDEX push_tasks_by_parent ON push_tasks (parent_task_id);

CREATE TABLE push_deliveries (
    task_id      TEXT NOT NULL REFERENCES push_tasks (task_id),
    workspace_id TEXT NOT NULL,
    device_id    TEXT COLLATE "C" NOT NULL,
    user_id      TEXT,
    platform     TEXT NOT NULL,
    channel      TEXT NOT NULL,
    token        TEXT,
    msg_id       TEXT NOT NULL,
    target_values TEXT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    sent_at      BIGINT,
    failed_at    BIGINT,
    error        TEXT,
    delivered_at BIGINT,
    opened_at    BIGINT,
    ignored_at   BIGINT,
    revoked_at   BIGINT,
    PRIMARY KEY (task_id, device_id)
);
CREATE INDEX push_deliveries_by_time ON push_deliveries (workspace_id, created_at);
CREATE INDEX push_deliveries_by_msg_id ON push_deliveries (workspace_id, msg_id);
