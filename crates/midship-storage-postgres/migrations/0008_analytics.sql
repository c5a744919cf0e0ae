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
