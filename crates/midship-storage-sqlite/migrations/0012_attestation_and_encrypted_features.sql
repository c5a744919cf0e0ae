-- A workspace may require platform attestation (Play Integrity, App Attest) at device
-- registration, checked by its own verifier at this URL; and may send its GrowthBook payload
-- encrypted (encryptedFeatures).
ALTER TABLE workspace_security ADD COLUMN attestation_verifier_url TEXT;
ALTER TABLE workspace_security ADD COLUMN encrypt_features_payload INTEGER NOT NULL DEFAULT 0;
