-- The patient's words as typed, beside the redacted `text`: sealed
-- (AES-256-GCM) under the conversation's data key, which lives wrapped in
-- the vault (`<db>.vault`), never in this file. NULL where nothing was
-- kept (bot and system texts, the clinic's own words).
ALTER TABLE messages ADD COLUMN original BLOB;
