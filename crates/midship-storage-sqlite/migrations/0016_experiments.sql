-- A/B experiments: laboratories own a traffic layer; experiments in one are mutually exclusive.
CREATE TABLE laboratories (
    laboratory_id  TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (workspace_id),
    key            TEXT NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    UNIQUE (workspace_id, key)
);

CREATE TABLE experiments (
    experiment_id   TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (workspace_id),
    laboratory_id   TEXT NOT NULL REFERENCES laboratories (laboratory_id),
    key             TEXT NOT NULL,
    -- draft, debug, running, stopped
    phase           TEXT NOT NULL,
    -- JSON: variations, weights, coverage, audience, unit, metrics (midship-experiments reads it).
    definition      TEXT NOT NULL,
    bucket_version  INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    started_at      INTEGER,
    stopped_at      INTEGER,
    decision        TEXT,
    revision        INTEGER NOT NULL,
    UNIQUE (workspace_id, key)
);

-- Moves on every change to a workspace's experiments, so every node rebuilds its snapshot.
CREATE TABLE experiment_revisions (
    workspace_id  TEXT PRIMARY KEY REFERENCES workspaces (workspace_id),
    revision      INTEGER NOT NULL
);
