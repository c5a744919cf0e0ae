-- Four eyes: workspaces whose gated changes need a second person, and the requests.
CREATE TABLE approval_policies (
    workspace_id  TEXT PRIMARY KEY REFERENCES workspaces (workspace_id),
    required      INTEGER NOT NULL DEFAULT 0,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE approvals (
    approval_id          TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL,
    app_id               TEXT NOT NULL,
    workspace_id         TEXT NOT NULL REFERENCES workspaces (workspace_id),
    -- config.publish, config.rollback, release.start, release.rollback, push.broadcast
    change               TEXT NOT NULL,
    -- JSON: what applying needs, exactly as asked.
    payload              TEXT NOT NULL,
    summary              TEXT NOT NULL,
    requested_by_token   TEXT,
    requested_by_person  TEXT,
    requested_by_name    TEXT NOT NULL,
    requested_at         INTEGER NOT NULL,
    -- pending, applied, failed, refused, cancelled
    status               TEXT NOT NULL,
    decided_by_token     TEXT,
    decided_by_person    TEXT,
    decided_by_name      TEXT,
    decided_at           INTEGER,
    comment              TEXT NOT NULL DEFAULT '',
    outcome              TEXT NOT NULL DEFAULT ''
);
CREATE INDEX approvals_by_workspace ON approvals (workspace_id, approval_id);

-- Command-line sign-ins waiting for a person to confirm their code (RFC 8628's device flow).
CREATE TABLE device_logins (
    user_code    TEXT PRIMARY KEY,
    -- SHA-256 of the CLI's secret, which becomes the session's once confirmed.
    code_hash    TEXT NOT NULL UNIQUE,
    client_name  TEXT NOT NULL,
    address      TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    -- pending, approved, denied
    status       TEXT NOT NULL,
    person_id    TEXT
);
