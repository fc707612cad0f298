-- The vault: each conversation's data key, wrapped under the master key, in
-- a schema of its own so that a backup of the conversations
-- (`pg_dump --exclude-schema=vault`) never holds the keys that open their
-- sealed originals, and deleting a conversation's key shreds them in every
-- earlier backup. Created whether or not the clinic keeps originals: empty
-- when it does not.
CREATE SCHEMA IF NOT EXISTS vault;
CREATE TABLE vault.data_keys (
    conversation_id TEXT PRIMARY KEY,
    master_id       TEXT NOT NULL,
    wrapped         BYTEA NOT NULL
);
