-- Several nodes on one database (docs/deploy.md, "Several nodes").
--
-- The router's whole state (who is online with what, the queue, offers,
-- who has which chat) as one JSON document, changed by one node at a time
-- under a transaction-scoped advisory lock; `version` grows with each
-- change, so a node reads it again only when another node changed it.
-- It holds ids, skills, languages and times: no message text.
CREATE TABLE routing_state (
    id      BIGINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL,
    state   TEXT NOT NULL
);

-- The nodes serving the clinic, each seen every few seconds; one not seen
-- for long is gone, and its clinicians with it.
CREATE TABLE nodes (
    id      TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
);
