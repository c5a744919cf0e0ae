-- Remote configuration: the draft being edited and the published versions of each workspace.

CREATE TABLE switch_drafts (
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    key          TEXT NOT NULL,
    definition   TEXT NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, key)
);

CREATE TABLE switch_versions (
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    version      INTEGER NOT NULL,
    document     TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    published_by TEXT NOT NULL,
    note         TEXT NOT NULL,
    PRIMARY KEY (workspace_id, version)
);
