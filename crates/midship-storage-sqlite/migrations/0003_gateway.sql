-- The mobile gateway: backend groups and client-callable APIs of each workspace, and a revision
-- counter every node polls to know when to rebuild its route table.

CREATE TABLE api_groups (
    group_id     TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    name         TEXT NOT NULL,
    definition   TEXT NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE apis (
    api_id         TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (workspace_id),
    operation_type TEXT NOT NULL,
    group_id       TEXT NOT NULL REFERENCES api_groups (group_id),
    definition     TEXT NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (workspace_id, operation_type)
);

CREATE TABLE gateway_revision (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    revision  INTEGER NOT NULL
);
INSERT INTO gateway_revision (singleton, revision) VALUES (1, 0);
