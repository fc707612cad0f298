-- Staff's Web Push subscriptions (docs/notify.md): where a browser or
-- phone takes pushes (the push service's `endpoint`) and the keys a push
-- is sealed to (`p256dh`, the browser's P-256 public key, and `auth`, its
-- secret; base64url). One endpoint is one browser: it belongs to the last
-- account that subscribed on it. No patient data.
CREATE TABLE push_subscriptions (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint   TEXT NOT NULL UNIQUE,
    p256dh     TEXT NOT NULL,
    auth       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id);
