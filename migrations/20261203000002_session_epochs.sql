-- Sessions belong to an epoch of their user. Every change to the user's
-- second factor starts a new epoch, in the same statement that makes the
-- change, and a session is live only while its epoch is the user's current
-- one. So a sign-in that raced with enabling MFA cannot leave a session
-- behind that skipped the second factor.
ALTER TABLE users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
