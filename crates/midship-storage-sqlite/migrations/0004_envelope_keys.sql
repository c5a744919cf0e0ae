-- The gateway's key pairs for body encryption, one per workspace and suite (secret bytes as hex).

CREATE TABLE gateway_envelope_keys (
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    suite        TEXT NOT NULL,
    secret       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, suite)
);
