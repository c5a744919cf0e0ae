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
