-- The intent whitelist's versions (the admin workbench): each the whole set
-- of TOML files, as `intents/` holds them, in a JSON object (file name to
-- text). One is live; the draft is the next one being edited.
CREATE TABLE whitelist_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    files TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by INTEGER REFERENCES users(id),
    -- How it came to be: "seeded from intents/", "published", "imported".
    note TEXT NOT NULL DEFAULT '',
    -- The evaluation gate's figures before and after (JSON), when it ran.
    evaluation TEXT,
    -- Published past the gate: why (redacted).
    override_reason TEXT
);

CREATE TABLE whitelist_live (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL REFERENCES whitelist_versions(id),
    since TEXT NOT NULL
);

CREATE TABLE whitelist_draft (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    files TEXT NOT NULL,
    -- The version it was started from.
    base INTEGER REFERENCES whitelist_versions(id),
    updated_at TEXT NOT NULL,
    updated_by INTEGER REFERENCES users(id)
);
