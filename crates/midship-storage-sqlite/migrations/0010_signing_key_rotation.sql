-- Package signing keys become rotatable: a workspace has generations 1, 2, … of its key; the
-- newest signs uploads, and every key not retired signs what devices are offered, so apps that
-- pinned an older key keep verifying. Secrets here (and in app_keys, gateway_envelope_keys and
-- push channel definitions) are sealed by the server under its key-encryption key; rows from
-- before are sealed when a node starts.

CREATE TABLE delivery_signing_keys_by_generation (
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    generation   INTEGER NOT NULL,
    algorithm    TEXT NOT NULL,
    secret       TEXT NOT NULL,
    public_key   TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    retired_at   INTEGER,
    PRIMARY KEY (workspace_id, generation)
) WITHOUT ROWID;

INSERT INTO delivery_signing_keys_by_generation (workspace_id, generation, algorithm, secret, public_key, created_at)
SELECT workspace_id, 1, algorithm, secret, public_key, created_at FROM delivery_signing_keys;

DROP TABLE delivery_signing_keys;
ALTER TABLE delivery_signing_keys_by_generation RENAME TO delivery_signing_keys;
