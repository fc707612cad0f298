-- A conversation whose message was held for a person to look at: it read
-- like spam on its words alone (docs/bot.md, Spam). Listed for staff until
-- someone takes the chat, blocks the sender or dismisses it.
ALTER TABLE conversations ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
