-- The mobile gateway: backend groups and client-callable APIs of each workspace, and a revision
-- counter every node polls to know when to rebuild its route table.

CREATE TABLE api_groups (
    group_id     TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (workspace_id),
    name         TEXT NOT NULL,
    definition   TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE apis (
    api_id         TEXT COLLATE "C" PRIMARY KEY,
    workspace_id   TEXT COLLATE "C" NOT NULL REFERENCES workspaces (workspace_id),
    operation_type TEXT COLLATE "C" NOT NULL,
    group_id       TEXT COLLATE "C" NOT NULL REFERENCES api_groups (group_id),
    definition     TEXT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (workspace_id, operation_type)
);

CREATE TABLE gateway_revision (
    singleton BIGINT PRIMARY KEY CHECK (singleton = 1),
    revision  BIGINT NOT NULL
);
INSERT INTO gateway_revision (singleton, revision) VALUES (1, 0);
