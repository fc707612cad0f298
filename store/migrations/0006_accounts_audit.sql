-- Account lifecycle and a tamper-evident audit trail.
--
-- `users` is rebuilt because SQLite cannot change a CHECK constraint in
-- place: the new `auditor` role (reads the audit trail, never a chat), and
-- `disabled_at` / `removed_at` (a removed account keeps its row, so that the
-- audit trail and the messages it wrote still name it, but can never log in
-- or be enabled again), and the login lockout's counters. SQLite's own
-- procedure for changing a table: a new one, the rows copied with their ids,
-- the old one dropped, the new one renamed. The store runs migrations with
-- foreign keys off (`SqliteStore::open`), as that procedure needs, and
-- checks every reference before it goes on.
CREATE TABLE users_new (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('clinician', 'admin', 'auditor')),
    password_hash   TEXT NOT NULL,
    skills          TEXT NOT NULL DEFAULT '',
    languages       TEXT NOT NULL DEFAULT 'en',
    max_chats       INTEGER NOT NULL DEFAULT 4,
    created_at      TEXT NOT NULL,
    licensed_states TEXT NOT NULL DEFAULT '',
    disabled_at     TEXT,
    removed_at      TEXT,
    -- Wrong passwords in a row, and until when (unix seconds) logins are
    -- refused after too many: lifted by time, a good login after it, or an
    -- admin.
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    INTEGER
);
INSERT INTO users_new (id, username, display_name, role, password_hash, skills, languages,
                       max_chats, created_at, licensed_states)
    SELECT id, username, display_name, role, password_hash, skills, languages, max_chats,
           created_at, licensed_states FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

-- A session also ends after a stretch with no request from its person
-- (`last_seen`, unix seconds), besides its absolute `expires_at`.
ALTER TABLE sessions ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sessions_user ON sessions (user_id);

-- Each audit entry carries the address the request came from (staff's own,
-- never a patient's) and `mac`: HMAC-SHA256, under a key kept outside this
-- database, over the entry's fields and the `mac` of the entry before it.
-- Changing or removing an entry breaks the chain from there on
-- (`carechat audit verify`).
ALTER TABLE audit ADD COLUMN address TEXT;
ALTER TABLE audit ADD COLUMN mac TEXT;
CREATE INDEX audit_actor ON audit (actor_id, id);
