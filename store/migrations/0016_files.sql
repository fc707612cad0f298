-- Files shared in a conversation, both ways: photos and PDFs, their type
-- decided by content and their metadata stripped before they get here
-- (the `attachments` crate). `data` is the cleaned file sealed
-- (AES-256-GCM) under the conversation's data key in the vault: a store
-- without a vault keeps no files at all. `name` is the name it was sent
-- with, redacted; `scanned` whether the clinic's virus scanner passed it
-- (0 only where the clinic turned scanning off).
CREATE TABLE files (
    id              INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    sender          TEXT NOT NULL CHECK (sender IN ('patient', 'clinician')),
    user_id         INTEGER REFERENCES users (id),
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    size            INTEGER NOT NULL,
    width           INTEGER,
    height          INTEGER,
    pages           INTEGER,
    scanned         INTEGER NOT NULL,
    data            BLOB NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX files_conversation ON files (conversation_id);

-- The message that shows a file in the chat ("📎 name").
ALTER TABLE messages ADD COLUMN file_id INTEGER REFERENCES files (id);
