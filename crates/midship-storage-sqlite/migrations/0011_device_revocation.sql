-- A device's credential can be revoked (a lost or stolen phone): its signatures are refused from
-- then on, and its id cannot be claimed again (the app registers anew, under a new id).
ALTER TABLE devices ADD COLUMN credential_revoked_at INTEGER;
