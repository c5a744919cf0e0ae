-- People who sign in to the console, and their sessions. API tokens stay for machines.
CREATE TABLE people (
    person_id             TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL REFERENCES tenants (tenant_id),
    -- Lower case; unique in the installation, so signing in needs no tenant.
    login                 TEXT NOT NULL,
    display_name          TEXT NOT NULL,
    role                  TEXT NOT NULL,
    app_ids               TEXT,
    -- Argon2id, PHC string; NULL for someone who signs in only through single sign-on.
    password_hash         TEXT,
    -- Set by an admin: the next sign-in must choose a new password.
    password_must_change  INTEGER NOT NULL DEFAULT 0,
    -- Base32, sealed under the keyring; enabled once confirmed with a first code.
    totp_secret           TEXT,
    totp_enabled_at       INTEGER,
    -- The last 30-second step whose code was accepted: a code is never accepted twice.
    totp_last_step        INTEGER NOT NULL DEFAULT 0,
    -- "issuer subject" of the person's single sign-on identity.
    oidc_subject          TEXT,
    failed_sign_ins       INTEGER NOT NULL DEFAULT 0,
    locked_until          INTEGER,
    -- Sessions begun before this are over ("sign out everywhere", a password change).
    sessions_valid_after  INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL,
    created_by            TEXT,
    disabled_at           INTEGER,
    UNIQUE (login),
    UNIQUE (oidc_subject)
);

CREATE TABLE console_sessions (
    -- SHA-256 of the cookie's secret; the secret itself is never stored.
    session_hash  TEXT PRIMARY KEY,
    person_id     TEXT NOT NULL REFERENCES people (person_id),
    tenant_id     TEXT NOT NULL,
    -- 'password' while a second factor is still owed, then 'full'.
    stage         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    address       TEXT NOT NULL
);
CREATE INDEX console_sessions_by_person ON console_sessions (person_id);

ALTER TABLE audit_log ADD COLUMN actor_person_id TEXT;
