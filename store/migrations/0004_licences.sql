-- The states a clinician is licensed in (comma-separated, `CA,NY`), and the
-- state a chat must be served from (the clinic's site says which, through
-- the widget's `data-state`): only a clinician licensed there gets it
-- automatically.
ALTER TABLE users ADD COLUMN licensed_states TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN license_state TEXT;
