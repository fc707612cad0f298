-- A queued conversation that went to the offline contact form: nobody who
-- could serve it was online, so it waits for staff to pick it up by hand
-- rather than in the router's queue.
ALTER TABLE conversations ADD COLUMN offline INTEGER NOT NULL DEFAULT 0;

-- The machine translation shown beside a message (redacted, like `text`,
-- because the model only ever sees redacted text), and its language.
ALTER TABLE messages ADD COLUMN translation TEXT;
ALTER TABLE messages ADD COLUMN translation_language TEXT;

-- Staff-only notes on a conversation (a transfer's reason, say): never sent
-- to the patient. Redacted before storing.
CREATE TABLE notes (
    id              INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    user_id         INTEGER NOT NULL REFERENCES users (id),
    text            TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX notes_conversation ON notes (conversation_id, id);

-- Clinicians' messages to each other. Redacted before storing.
CREATE TABLE team_messages (
    id         INTEGER PRIMARY KEY,
    from_user  INTEGER NOT NULL REFERENCES users (id),
    to_user    INTEGER NOT NULL REFERENCES users (id),
    text       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX team_messages_pair ON team_messages (from_user, to_user, id);
