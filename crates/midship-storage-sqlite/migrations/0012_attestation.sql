-- A workspace may require platform attestation (Play Integrity, App Attest) at device
-- registration, checked by its own verifier at this URL.
ALTER TABLE workspace_security ADD COLUMN attestation_verifier_url TEXT;
