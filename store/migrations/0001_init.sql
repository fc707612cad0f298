-- Message text is always redacted before it reaches this database: no column
-- here ever holds a raw patient message.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('clinician', 'admin')),
    password_hash TEXT NOT NULL,
    skills        TEXT NOT NULL DEFAULT '',
    languages     TEXT NOT NULL DEFAULT 'en',
    max_chats     INTEGER NOT NULL DEFAULT 4,
    created_at    TEXT NOT NULL
);

-- Only a hash of each session token is kept: a copy of the database file does
-- not let anyone log in.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);

CREATE TABLE conversations (
    id               TEXT PRIMARY KEY,
    resume_hash      TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('bot', 'queued', 'assigned', 'closed')),
    urgent           INTEGER NOT NULL DEFAULT 0,
    language         TEXT,
    browser_language TEXT,
    skill            TEXT,
    assigned_to      INTEGER REFERENCES users (id),
    whisper          TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX conversations_state ON conversations (state);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    sender          TEXT NOT NULL CHECK (sender IN ('patient', 'bot', 'clinician', 'system')),
    user_id         INTEGER REFERENCES users (id),
    text            TEXT NOT NULL,
    intent          TEXT,
    confidence      REAL,
    spam_score      REAL,
    created_at      TEXT NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);
