-- Package signing keys become rotatable: a workspace has generations 1, 2, … of its key; the
-- newest signs uploads, and every key not retired signs what devices are offered, so apps that
-- pinned an older key keep verifying. Secrets here (and in app_keys, gateway_envelope_keys and
-- push channel definitions) are sealed by the server under its key-encryption key; rows from
-- before are sealed when a node starts.

ALTER TABLE delivery_signing_keys ADD COLUMN generation BIGINT NOT NULL DEFAULT 1;
ALTER TABLE delivery_signing_keys ALTER COLUMN generation DROP DEFAULT;
ALTER TABLE delivery_signing_keys ADD COLUMN retired_at BIGINT;
ALTER TABLE delivery_signing_keys DROP CONSTRAINT delivery_signing_keys_pkey;
ALTER TABLE delivery_signing_keys ADD PRIMARY KEY (workspace_id, generation);
ALTER TABLE delivery_signing_keys ADD CONSTRAINT delivery_signing_keys_public_key_key UNIQUE (public_key);
