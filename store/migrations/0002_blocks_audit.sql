-- Who a patient's browser is, as far as blocking a spammer needs: keyed
-- hashes (HMAC-SHA256 under the server's identity key, which lives in its own
-- file, not in this database) of the widget's random browser id and of the
-- client's IP address. An IP address is a HIPAA identifier; only its keyed
-- hash is kept, so a copy of this file alone does not reveal it.
ALTER TABLE conversations ADD COLUMN fingerprint TEXT;
ALTER TABLE conversations ADD COLUMN address TEXT;

-- An admin's block of a sender, by browser fingerprint or by address. Lifting
-- a block keeps the row (who lifted it, when) for the audit trail.
CREATE TABLE blocks (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('fingerprint', 'address')),
    value           TEXT NOT NULL,
    conversation_id TEXT REFERENCES conversations (id),
    reason          TEXT NOT NULL DEFAULT '',
    created_by      INTEGER NOT NULL REFERENCES users (id),
    created_at      TEXT NOT NULL,
    lifted_by       INTEGER REFERENCES users (id),
    lifted_at       TEXT
);
CREATE UNIQUE INDEX blocks_active ON blocks (kind, value) WHERE lifted_at IS NULL;

-- What staff did, append-only. `detail` never holds message text or PHI:
-- ids, kinds and the admin's own short reason.
CREATE TABLE audit (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor_id   INTEGER REFERENCES users (id),
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit (id DESC);
