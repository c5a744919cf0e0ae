-- A/B experiments: laboratories own a traffic layer; experiments in one are mutually exclusive.
CREATE TABLE laboratories (
    laboratory_id  TEXT COLLATE "C" PRIMARY KEY,
    workspace_id   TEXT COLLATE "C" NOT NULL REFERENCES workspaces (workspace_id),
    key            TEXT COLLATE "C" NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    UNIQUE (workspace_id, key)
);

CREATE TABLE experiments (
    experiment_id   TEXT COLLATE "C" PRIMARY KEY,
    workspace_id    TEXT COLLATE "C" NOT NULL REFERENCES workspaces (workspace_id),
    laboratory_id   TEXT COLLATE "C" NOT NULL REFERENCES laboratories (laboratory_id),
    key             TEXT COLLATE "C" NOT NULL,
    -- draft, debug, running, stopped
    phase           TEXT NOT NULL,
    -- JSON: variations, weights, coverage, audience, unit, metrics (midship-experiments reads it).
    definition      TEXT NOT NULL,
    bucket_version  BIGINT NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    started_at      BIGINT,
    stopped_at      BIGINT,
    decision        TEXT,
    revision        BIGINT NOT NULL,
    UNIQUE (workspace_id, key)
);

-- Moves on every change to a workspace's experiments, so every node rebuilds its snapshot.
CREATE TABLE experiment_revisions (
    workspace_id  TEXT COLLATE "C" PRIMARY KEY REFERENCES workspaces (workspace_id),
    revision      BIGINT NOT NULL
);
