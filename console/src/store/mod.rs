//! Persistence behind one trait, so the handlers never see an engine.
//!
//! SQLite is the embedded default; Postgres can follow as a second
//! implementation of [`Store`] without touching the server.

mod sqlite;

use async_trait::async_trait;
use serde::Serialize;

pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    Conflict,
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Clinician,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clinician => "clinician",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "clinician" => Some(Role::Clinician),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub max_chats: usize,
    /// US states (two letters) the clinician is licensed in.
    pub licensed_states: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub max_chats: usize,
    pub licensed_states: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvState {
    Bot,
    Queued,
    Assigned,
    Closed,
}

impl ConvState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConvState::Bot => "bot",
            ConvState::Queued => "queued",
            ConvState::Assigned => "assigned",
            ConvState::Closed => "closed",
        }
    }
    pub fn parse(s: &str) -> Option<ConvState> {
        match s {
            "bot" => Some(ConvState::Bot),
            "queued" => Some(ConvState::Queued),
            "assigned" => Some(ConvState::Assigned),
            "closed" => Some(ConvState::Closed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: String,
    pub state: ConvState,
    pub urgent: bool,
    pub language: Option<String>,
    pub browser_language: Option<String>,
    pub skill: Option<String>,
    pub assigned_to: Option<i64>,
    /// JSON of the bot's whisper, redacted.
    pub whisper: Option<String>,
    /// Keyed hash of the widget's browser id (see [`crate::auth::IdentityKey`]).
    pub fingerprint: Option<String>,
    /// Keyed hash of the client's IP address.
    pub address: Option<String>,
    /// Queued for staff through the offline contact form, not the router.
    pub offline: bool,
    /// The state the chat must be served from, when the clinic's site says.
    pub license_state: Option<String>,
    /// A message of it is held for staff to look at (it read like spam).
    pub held: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A conversation as the patient's socket opens it.
#[derive(Debug, Clone, Default)]
pub struct NewConversation {
    pub id: String,
    pub resume_hash: String,
    pub browser_language: Option<String>,
    pub fingerprint: Option<String>,
    pub address: Option<String>,
    pub license_state: Option<String>,
}

/// What an admin's block matches a sender by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    Fingerprint,
    Address,
}

impl BlockKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockKind::Fingerprint => "fingerprint",
            BlockKind::Address => "address",
        }
    }
    fn parse(s: &str) -> BlockKind {
        if s == "address" {
            BlockKind::Address
        } else {
            BlockKind::Fingerprint
        }
    }
}

/// A block, active or lifted. The matched value (a keyed hash) stays in the
/// database: nothing outside needs it.
#[derive(Debug, Clone, Serialize)]
pub struct Block {
    pub id: i64,
    pub kind: BlockKind,
    pub conversation_id: Option<String>,
    pub reason: String,
    pub created_by: i64,
    pub created_at: String,
    pub lifted_by: Option<i64>,
    pub lifted_at: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewBlock {
    pub kind: BlockKind,
    /// The keyed hash to match.
    pub value: String,
    pub conversation_id: Option<String>,
    /// Must already be redacted.
    pub reason: String,
    pub created_by: i64,
}

/// One line of the audit trail. `detail` holds ids and kinds, never message
/// text.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor_id: Option<i64>,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sender {
    Patient,
    Bot,
    Clinician,
    System,
}

impl Sender {
    pub fn as_str(self) -> &'static str {
        match self {
            Sender::Patient => "patient",
            Sender::Bot => "bot",
            Sender::Clinician => "clinician",
            Sender::System => "system",
        }
    }
    fn parse(s: &str) -> Sender {
        match s {
            "patient" => Sender::Patient,
            "bot" => Sender::Bot,
            "clinician" => Sender::Clinician,
            _ => Sender::System,
        }
    }
}

/// A stored message. `text` is redacted; the type makes no promise otherwise,
/// so [`NewMessage::redacted_text`] is the only way in.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: i64,
    pub sender: Sender,
    pub user_id: Option<i64>,
    pub text: String,
    pub intent: Option<String>,
    pub confidence: Option<f32>,
    /// A machine translation of `text` (redacted too), and its language.
    pub translation: Option<(String, String)>,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation_id: String,
    pub sender: Sender,
    pub user_id: Option<i64>,
    /// Must already be redacted.
    pub redacted_text: String,
    pub intent: Option<String>,
    pub confidence: Option<f32>,
    pub spam_score: Option<f32>,
    /// A machine translation (redacted) and its language.
    pub translation: Option<(String, String)>,
}

/// A staff-only note on a conversation, or a message between clinicians.
/// `text` is redacted.
#[derive(Debug, Clone, Serialize)]
pub struct StaffText {
    pub id: i64,
    /// The conversation (notes) or the addressee (team messages).
    pub about: String,
    pub user_id: i64,
    pub text: String,
    pub created_at: String,
}

/// A change to a conversation's routing state.
#[derive(Debug, Clone, Default)]
pub struct ConvUpdate {
    pub state: Option<ConvState>,
    pub urgent: Option<bool>,
    pub language: Option<String>,
    pub skill: Option<Option<String>>,
    pub assigned_to: Option<Option<i64>>,
    pub whisper: Option<String>,
    pub offline: Option<bool>,
    pub held: Option<bool>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
    async fn user_by_name(&self, username: &str) -> StoreResult<User>;
    async fn user(&self, id: i64) -> StoreResult<User>;
    async fn users(&self) -> StoreResult<Vec<User>>;

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// The session's user, if the session exists and has not expired at `now`.
    async fn session_user(&self, token_hash: &str, now: i64) -> StoreResult<User>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;

    async fn create_conversation(&self, new: NewConversation) -> StoreResult<Conversation>;
    async fn conversation(&self, id: &str) -> StoreResult<Conversation>;
    async fn conversation_by_resume(&self, resume_hash: &str) -> StoreResult<Conversation>;
    /// Conversations that are queued or assigned, oldest first.
    async fn open_conversations(&self) -> StoreResult<Vec<Conversation>>;
    /// Conversations not closed with a message held for staff, oldest first.
    async fn held_conversations(&self) -> StoreResult<Vec<Conversation>>;
    async fn update_conversation(&self, id: &str, update: ConvUpdate) -> StoreResult<Conversation>;

    async fn add_message(&self, message: NewMessage) -> StoreResult<Message>;
    async fn messages(&self, conversation_id: &str) -> StoreResult<Vec<Message>>;

    /// Adds a staff-only note (already redacted).
    async fn add_note(
        &self,
        conversation_id: &str,
        user_id: i64,
        text: &str,
    ) -> StoreResult<StaffText>;
    async fn notes(&self, conversation_id: &str) -> StoreResult<Vec<StaffText>>;
    /// A message from one clinician to another (already redacted).
    async fn add_team_message(&self, from: i64, to: i64, text: &str) -> StoreResult<StaffText>;
    /// Both directions between two clinicians, oldest first, the last `limit`.
    async fn team_messages(&self, a: i64, b: i64, limit: i64) -> StoreResult<Vec<StaffText>>;

    /// Records a block and its audit line in one transaction. `Conflict` when
    /// an active block of the same kind already matches the same value.
    async fn block(&self, block: NewBlock) -> StoreResult<Block>;
    /// Lifts an active block (and audits it); `NotFound` if there is no such
    /// active block.
    async fn lift_block(&self, id: i64, by: i64) -> StoreResult<Block>;
    /// Active blocks, newest first.
    async fn active_blocks(&self) -> StoreResult<Vec<Block>>;
    /// Distinct browser fingerprints that have opened a conversation from
    /// `address`.
    async fn browsers_at(&self, address: &str) -> StoreResult<i64>;
    /// Whether an active block matches either identity.
    async fn is_blocked(
        &self,
        fingerprint: Option<&str>,
        address: Option<&str>,
    ) -> StoreResult<bool>;

    /// Appends a line to the audit trail.
    async fn audit(
        &self,
        actor_id: Option<i64>,
        action: &str,
        subject: &str,
        detail: &str,
    ) -> StoreResult<()>;
    /// The newest `limit` audit lines, newest first.
    async fn audit_log(&self, limit: i64) -> StoreResult<Vec<AuditEntry>>;
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// RFC 3339 UTC timestamp for `secs` since the epoch (civil-from-days).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_300_245), "2026-11-21T22:30:45Z");
    }
}
