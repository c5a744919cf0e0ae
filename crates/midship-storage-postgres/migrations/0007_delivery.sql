-- Delivery: packages (blobs live in the package store, addressed by sha256), patches between
-- packages, release tasks, one row per release, device and step reached, and a signing key per
-- workspace.

CREATE TABLE delivery_packages (
    package_id   TEXT PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (workspace_id),
    kind         TEXT NOT NULL,
    app_id       TEXT COLLATE "C" NOT NULL,
    version      TEXT COLLATE "C" NOT NULL,
    blob_sha256  TEXT,
    size         BIGINT NOT NULL,
    details      TEXT NOT NULL,
    manifest     TEXT NOT NULL,
    signature    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (workspace_id, kind, app_id, version)
);

CREATE TABLE delivery_patches (
    from_package_id TEXT NOT NULL REFERENCES delivery_packages (package_id),
    to_package_id   TEXT NOT NULL REFERENCES delivery_packages (package_id),
    blob_sha256     TEXT NOT NULL,
    size            BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (from_package_id, to_package_id)
);
CREATE INDEX delivery_patches_by_target ON delivery_patches (to_package_id);

CREATE TABLE delivery_releases (
    release_id   TEXT PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (workspace_id),
    package_id   TEXT NOT NULL REFERENCES delivery_packages (package_id),
    definition   TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX delivery_releases_by_workspace ON delivery_releases (workspace_id, created_at);

CREATE TABLE delivery_events (
    release_id TEXT COLLATE "C" NOT NULL,
    device_id  TEXT COLLATE "C" NOT NULL,
    kind       TEXT NOT NULL,
    at         BIGINT NOT NULL,
    detail     TEXT,
    PRIMARY KEY (release_id, kind, device_id)
);

CREATE TABLE delivery_signing_keys (
    workspace_id TEXT COLLATE "C" PRIMARY KEY REFERENCES workspaces (workspace_id),
    algorithm    TEXT NOT NULL,
    secret       TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
