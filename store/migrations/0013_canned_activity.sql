-- Canned replies clinicians pick from the reply box (`/`): shared ones
-- (`owner` NULL, managed by admins) and each clinician's own, one language
-- each. The clinic's words, never a patient's: the service refuses a body
-- in which the redactor finds PHI, and fills `{clinic}`, `{clinician}` and
-- `{phone}` in when one is used.
CREATE TABLE canned_replies (
    id         INTEGER PRIMARY KEY,
    owner      INTEGER REFERENCES users (id) ON DELETE CASCADE,
    language   TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX canned_replies_owner ON canned_replies (owner);

-- How often each clinician used each reply: their picker lists the most
-- used first.
CREATE TABLE canned_uses (
    reply   INTEGER NOT NULL REFERENCES canned_replies (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    uses    INTEGER NOT NULL,
    PRIMARY KEY (reply, user_id)
);

-- What the dashboard counts: one row per event (a chat started, the bot
-- answered, a chat escalated, a clinician was assigned...), with the
-- whitelist's intent id, a reason word, the clinician and a duration in
-- seconds: never a message, a name, an address or a patient's detail.
-- `conversation` links the events of one chat while it exists (to measure
-- its waits and count its start once) and is cleared when the chat is
-- deleted, leaving the counts. `at` is unix seconds.
CREATE TABLE activity (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    conversation TEXT,
    intent       TEXT,
    detail       TEXT,
    user_id      INTEGER,
    seconds      INTEGER
);
CREATE INDEX activity_at ON activity (at);
CREATE INDEX activity_conversation ON activity (conversation, kind);
-- A chat starts once, is left as a message once, and has one first reply
-- from a person.
CREATE UNIQUE INDEX activity_once ON activity (conversation, kind)
    WHERE kind IN ('chat', 'left_message', 'first_reply') AND conversation IS NOT NULL;
