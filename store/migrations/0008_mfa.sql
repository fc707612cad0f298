-- Two-factor sign-in (TOTP, RFC 6238). The secret is stored sealed under a
-- key derived from the server's key file (not in this database): a copy of
-- the database alone cannot make codes. `totp_pending` holds a secret being
-- enrolled until the first code from it is confirmed; `totp_last_step` the
-- last 30-second step used, so that a code works once.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending TEXT;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;

-- One-time recovery codes, for a lost phone: only their SHA-256 is kept.
CREATE TABLE recovery_codes (
    user_id   INTEGER NOT NULL REFERENCES users (id),
    code_hash TEXT NOT NULL,
    used_at   TEXT,
    PRIMARY KEY (user_id, code_hash)
);
