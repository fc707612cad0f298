-- Who has held each conversation: every clinician it was ever assigned to.
-- A clinician may open the chats they hold or held without a stated reason;
-- any other needs one (docs/security.md, "break-glass"). Written by the
-- store whenever a conversation is assigned.
CREATE TABLE conversation_staff (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    user_id         INTEGER NOT NULL REFERENCES users (id),
    since           TEXT NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);

-- From before this table: whoever has a conversation now, and whoever
-- wrote in one.
INSERT OR IGNORE INTO conversation_staff (conversation_id, user_id, since)
    SELECT id, assigned_to, updated_at FROM conversations WHERE assigned_to IS NOT NULL;
INSERT OR IGNORE INTO conversation_staff (conversation_id, user_id, since)
    SELECT conversation_id, user_id, MIN(created_at) FROM messages
    WHERE user_id IS NOT NULL AND sender = 'clinician'
    GROUP BY conversation_id, user_id;
