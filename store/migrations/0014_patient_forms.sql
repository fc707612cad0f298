-- What a patient filled in besides chatting: the offline contact form
-- ("how to reach me": channel, phone or email, best time) and, later, the
-- clinic's intake questions. `fields` is a JSON object of the values as
-- stored: free text redacted, so a store without a vault keeps no PHI;
-- `original` is the same object as typed, sealed (AES-256-GCM) under the
-- conversation's data key in the vault, NULL without one. A contact request
-- is open until a staff member marks it done (`done_at`, `done_by`);
-- `replied_at` is when one answered it through the patient's channel.
CREATE TABLE patient_forms (
    id              INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    kind            TEXT NOT NULL,
    fields          TEXT NOT NULL,
    original        BLOB,
    created_at      TEXT NOT NULL,
    done_at         TEXT,
    done_by         INTEGER REFERENCES users (id),
    replied_at      TEXT
);
CREATE INDEX patient_forms_conversation ON patient_forms (conversation_id);
CREATE INDEX patient_forms_open ON patient_forms (kind, done_at);

-- A patient's acceptance of the clinic's consent text before their first
-- message: which text (`version`, a hash of the words and the privacy
-- notice's address, in the language shown), when. No PHI.
CREATE TABLE consents (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations (id),
    version         TEXT NOT NULL,
    language        TEXT NOT NULL,
    accepted_at     TEXT NOT NULL
);
