-- Analytics: every accepted batch of client logs (reports are derived from these in memory), unique
-- per device and batch id so a retried upload is stored once, and each workspace's upload policy.

CREATE TABLE analytics_batches (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL,
    device_id    TEXT COLLATE "C" NOT NULL,
    batch_id     TEXT COLLATE "C" NOT NULL,
    received_at  BIGINT NOT NULL,
    event_count  BIGINT NOT NULL,
    payload      BYTEA NOT NULL,
    UNIQUE (workspace_id, device_id, batch_id)
);

CREATE TABLE analytics_policies (
    workspace_id TEXT COLLATE "C" PRIMARY KEY REFERENCES workspaces (workspace_id),
    policy       TEXT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- Alert rules (their definition is JSON the analytics service owns) and every notification sent.
CREATE TABLE analytics_alert_rules (
    rule_id      TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (workspace_id),
    definition   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX analytics_alert_rules_by_workspace ON analytics_alert_rules (workspace_id);

CREATE TABLE analytics_alert_events (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id      TEXT COLLATE "C" NOT NULL,
    workspace_id TEXT COLLATE "C" NOT NULL,
    state        TEXT NOT NULL,
    value        DOUBLE PRECISION NOT NULL,
    at           BIGINT NOT NULL,
    delivered    BOOLEAN NOT NULL,
    attempts     BIGINT NOT NULL,
    detail       TEXT
);
CREATE INDEX analytics_alert_events_by_workspace ON analytics_alert_events (workspace_id, seq);

-- Symbol files (ProGuard/R8 mappings) per app version, applied to that version's crash stacks.
CREATE TABLE analytics_symbol_files (
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (workspace_id),
    app_version  TEXT COLLATE "C" NOT NULL,
    kind         TEXT NOT NULL,
    content      BYTEA NOT NULL,
    uploaded_at  BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, app_version, kind)
);

-- Diagnosis: requests for one device's (or user's) local log file, and the files uploaded.
CREATE TABLE analytics_log_requests (
    request_id   TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (workspace_id),
    device_id    TEXT COLLATE "C",
    user_id      TEXT COLLATE "C",
    created_at   BIGINT NOT NULL
);
CREATE INDEX analytics_log_requests_by_workspace ON analytics_log_requests (workspace_id, created_at);

CREATE TABLE analytics_log_files (
    file_id      TEXT COLLATE "C" PRIMARY KEY,
    request_id   TEXT COLLATE "C" NOT NULL REFERENCES analytics_log_requests (request_id),
    workspace_id TEXT COLLATE "C" NOT NULL,
    device_id    TEXT COLLATE "C" NOT NULL,
    user_id      TEXT COLLATE "C",
    file_name    TEXT NOT NULL,
    size         BIGINT NOT NULL,
    content      BYTEA NOT NULL,
    uploaded_at  BIGINT NOT NULL
);
CREATE INDEX analytics_log_files_by_workspace ON analytics_log_files (workspace_id, uploaded_at);
