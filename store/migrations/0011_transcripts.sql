-- A staff note's words as typed, sealed like a message's (`messages.original`)
-- under the conversation's data key; NULL where redaction changed nothing.
ALTER TABLE notes ADD COLUMN original BLOB;

-- A one-time link to a patient's copy of their transcript: only a hash of
-- the token is kept; it works once, until `expires_at` (unix seconds).
-- Deleting the conversation deletes its links.
CREATE TABLE transcript_links (
    token_hash TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX transcript_links_conversation ON transcript_links(conversation_id);

-- Ephemeral mode (`retention.days = 0`): a closed conversation waits,
-- sealed, until its transcript reaches the clinic's endpoint. `delivery_due`
-- (unix seconds) is when the next attempt is due; NULL when none is owed.
ALTER TABLE conversations ADD COLUMN delivery_due INTEGER;
ALTER TABLE conversations ADD COLUMN delivery_attempts INTEGER NOT NULL DEFAULT 0;
CREATE INDEX conversations_delivery_due ON conversations(delivery_due) WHERE delivery_due IS NOT NULL;
