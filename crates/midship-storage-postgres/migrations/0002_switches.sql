-- Remote configuration: the draft being edited and the published versions of each workspace.

CREATE TABLE switch_drafts (
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (workspace_id),
    key          TEXT COLLATE "C" NOT NULL,
    definition   TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, key)
);

CREATE TABLE switch_versions (
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (workspace_id),
    version      BIGINT NOT NULL,
    document     TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    published_by TEXT NOT NULL,
    note         TEXT NOT NULL,
    PRIMARY KEY (workspace_id, version)
);
