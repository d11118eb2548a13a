-- One schema for SQLite and PostgreSQL: identifiers are text, times are Unix
-- seconds in BIGINT, and flags are BIGINT 0/1, so that the same statements and
-- the same decoding work on both backends.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- The TOTP secret in the Rails Active Record Encryption envelope. While
    -- mfa_enabled is 0 it is the pending secret of an unfinished enrolment.
    otp_secret TEXT,
    mfa_enabled BIGINT NOT NULL DEFAULT 0,
    mfa_enabled_at BIGINT,
    -- The last TOTP step accepted; only later steps are accepted after it.
    otp_last_step BIGINT,
    -- Consecutive second-factor failures, and when the factor was locked.
    mfa_failures BIGINT NOT NULL DEFAULT 0,
    mfa_locked_at BIGINT
);

CREATE TABLE backup_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- HMAC-SHA256 of the code under a key derived from the deterministic key.
    digest TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, digest)
);

CREATE TABLE sessions (
    token_digest TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE mfa_challenges (
    token_digest TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    failures BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE audit_events (
    -- Time-ordered: microseconds since the epoch in hex, then random bits.
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    user_id TEXT,
    email TEXT,
    actor TEXT,
    ip TEXT,
    user_agent TEXT,
    detail TEXT
);
CREATE INDEX audit_events_by_time ON audit_events (at);

CREATE TABLE rate_limits (
    bucket TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    hits BIGINT NOT NULL,
    -- How many times this bucket has been blocked in a row; each block lasts
    -- twice as long as the one before.
    strikes BIGINT NOT NULL DEFAULT 0,
    blocked_until BIGINT NOT NULL DEFAULT 0
);
