-- Where a staff member is told, by email, that chats are waiting (one
-- batched email every few minutes, never a patient's words). NULL: not by
-- email.
ALTER TABLE users ADD COLUMN email TEXT;

-- A link sent to a patient who left their email or mobile number: it
-- opens the staff's answer once the patient types a one-time code sent to
-- the same address or number. Only hashes of the link's token and of the
-- code are kept. `failures` wrong codes in a row end the link.
CREATE TABLE reply_links (
    token_hash      TEXT PRIMARY KEY,
    form_id         INTEGER NOT NULL REFERENCES patient_forms (id),
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    created_at      TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,
    code_hash       TEXT,
    code_expires_at INTEGER,
    failures        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX reply_links_conversation ON reply_links (conversation_id);
