-- Device credentials: a device that registered holds a credential derived from its workspace's
-- server-only device key; this records when its id was claimed, so no one claims it again.
ALTER TABLE devices ADD COLUMN credential_issued_at BIGINT;

-- A workspace's device security policy: from when calls signed only with the app's secret are
-- refused (device registration aside), and since when connection tokens are valid (an earlier
-- issue time means revoked), and whether config may be pulled without a signature.
CREATE TABLE workspace_security (
    workspace_id                     TEXT COLLATE "C" PRIMARY KEY REFERENCES workspaces (workspace_id),
    device_credentials_required_from BIGINT,
    connect_tokens_valid_after       BIGINT NOT NULL,
    unsigned_config_pull             BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at                       BIGINT NOT NULL
);
