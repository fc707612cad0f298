//! The records the store keeps, and what it is handed to create or change
//! them. Every text field that can hold patient words is redacted before it
//! gets here; the names say so where it matters (`redacted_text`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{AuditId, BlockId, ConversationId, MessageId, StaffTextId, UserId};
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Clinician,
    Admin,
    /// Reads the audit trail; never a chat (separation of duties).
    Auditor,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Clinician, Role::Admin, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clinician => "clinician",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub max_chats: usize,
    /// US states (two letters) the clinician is licensed in.
    pub licensed_states: Vec<String>,
    /// Set while the account may not log in.
    pub disabled_at: Option<Timestamp>,
    /// Set once the account is removed: its row stays, so that the audit
    /// trail and its messages still name it, but it never logs in again.
    pub removed_at: Option<Timestamp>,
    /// Wrong passwords in a row since the last good login.
    pub failed_logins: u32,
    /// Logins are refused until then after too many wrong passwords.
    pub locked_until: Option<Timestamp>,
    /// The TOTP secret, sealed (two-factor sign-in is on when set).
    pub totp_secret: Option<String>,
    /// A TOTP secret being enrolled, sealed, until a code confirms it.
    pub totp_pending: Option<String>,
    /// The identity provider's `issuer subject` for an account made by
    /// single sign-on.
    pub sso_subject: Option<String>,
    /// Where batched notifications of waiting chats go; none when unset.
    pub email: Option<String>,
}

impl User {
    /// Whether logins are refused at `now` for too many wrong passwords.
    pub fn locked_at(&self, now: Timestamp) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }

    /// Neither disabled nor removed.
    pub fn active(&self) -> bool {
        self.disabled_at.is_none() && self.removed_at.is_none()
    }
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub password_hash: Option<String>,
    pub skills: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    pub max_chats: Option<usize>,
    pub licensed_states: Option<Vec<String>>,
    /// `Some(true)` disables the account, `Some(false)` enables it again.
    pub disabled: Option<bool>,
    /// Lifts a login lockout and forgets the wrong passwords.
    pub unlock: bool,
    /// Sets or clears the (sealed) TOTP secret.
    pub totp_secret: Option<Option<String>>,
    /// Sets or clears the (sealed) TOTP secret being enrolled.
    pub totp_pending: Option<Option<String>>,
    /// Sets or clears the notification email address.
    pub email: Option<Option<String>>,
}

impl UserUpdate {
    /// Whether the change must end the account's sessions: a new role or
    /// password, or disabling it.
    pub fn ends_sessions(&self) -> bool {
        self.role.is_some() || self.password_hash.is_some() || self.disabled == Some(true)
    }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    pub id: ConversationId,
    pub state: ConvState,
    pub urgent: bool,
    pub language: Option<String>,
    pub browser_language: Option<String>,
    pub skill: Option<String>,
    pub assigned_to: Option<UserId>,
    /// The bot's whisper for staff (redacted), as a JSON document.
    pub whisper: Option<Value>,
    /// Keyed hash of the widget's browser id.
    pub fingerprint: Option<String>,
    /// Keyed hash of the client's IP address.
    pub address: Option<String>,
    /// Queued for staff through the offline contact form, not the router.
    pub offline: bool,
    /// The state the chat must be served from, when the clinic's site says.
    pub license_state: Option<String>,
    /// A message of it is held for staff to look at (it read like spam).
    pub held: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A conversation as the patient's socket opens it.
#[derive(Debug, Clone)]
pub struct NewConversation {
    pub id: ConversationId,
    /// Hash of the patient's resume token.
    pub resume_hash: String,
    pub browser_language: Option<String>,
    pub fingerprint: Option<String>,
    pub address: Option<String>,
    pub license_state: Option<String>,
}

impl NewConversation {
    pub fn new(id: ConversationId, resume_hash: impl Into<String>) -> NewConversation {
        NewConversation {
            id,
            resume_hash: resume_hash.into(),
            browser_language: None,
            fingerprint: None,
            address: None,
            license_state: None,
        }
    }
}

/// A change to a conversation's routing state; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ConvUpdate {
    pub state: Option<ConvState>,
    pub urgent: Option<bool>,
    pub language: Option<String>,
    pub skill: Option<Option<String>>,
    pub assigned_to: Option<Option<UserId>>,
    pub whisper: Option<Value>,
    pub offline: Option<bool>,
    pub held: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    pub fn parse(s: &str) -> Option<Sender> {
        match s {
            "patient" => Some(Sender::Patient),
            "bot" => Some(Sender::Bot),
            "clinician" => Some(Sender::Clinician),
            "system" => Some(Sender::System),
            _ => None,
        }
    }
}

/// A machine translation of a message (redacted, like the message), and the
/// language it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTranslation {
    pub text: String,
    pub language: String,
}

/// A stored message. `text` is redacted: [`NewMessage::redacted_text`] is the
/// only way in.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: MessageId,
    pub sender: Sender,
    pub user_id: Option<UserId>,
    pub text: String,
    pub intent: Option<String>,
    pub confidence: Option<f32>,
    pub translation: Option<StoredTranslation>,
    pub created_at: Timestamp,
    /// The shared file the message shows ([`FileMeta`]), if any.
    pub file_id: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation_id: ConversationId,
    pub sender: Sender,
    pub user_id: Option<UserId>,
    /// Must already be redacted.
    pub redacted_text: String,
    /// The words as typed, when they differ from the redacted text: sealed
    /// under the conversation's data key before they are written, and not
    /// kept at all by a store without a vault.
    pub original: Option<String>,
    pub intent: Option<String>,
    pub confidence: Option<f32>,
    pub spam_score: Option<f32>,
    pub translation: Option<StoredTranslation>,
}

impl NewMessage {
    /// A message with nothing but its sender and (redacted) text.
    pub fn plain(
        conversation_id: ConversationId,
        sender: Sender,
        user_id: Option<UserId>,
        redacted_text: String,
    ) -> NewMessage {
        NewMessage {
            conversation_id,
            sender,
            user_id,
            redacted_text,
            original: None,
            intent: None,
            confidence: None,
            spam_score: None,
            translation: None,
        }
    }
}

/// A staff-only note on a conversation, or a message between clinicians.
/// `text` is redacted.
#[derive(Debug, Clone, Serialize)]
pub struct StaffText {
    pub id: StaffTextId,
    /// The conversation (notes) or the addressee's user id (team messages).
    pub about: String,
    pub user_id: UserId,
    pub text: String,
    pub created_at: Timestamp,
    /// A note's words as typed, where redaction changed them: only for
    /// those who may read the conversation's originals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
}

/// What an admin's block matches a sender by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    pub fn parse(s: &str) -> Option<BlockKind> {
        match s {
            "fingerprint" => Some(BlockKind::Fingerprint),
            "address" => Some(BlockKind::Address),
            _ => None,
        }
    }
}

/// A block, active or lifted. The matched value (a keyed hash) stays in the
/// store: nothing outside needs it.
#[derive(Debug, Clone, Serialize)]
pub struct Block {
    pub id: BlockId,
    pub kind: BlockKind,
    pub conversation_id: Option<ConversationId>,
    pub reason: String,
    pub created_by: UserId,
    pub created_at: Timestamp,
    pub lifted_by: Option<UserId>,
    pub lifted_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewBlock {
    pub kind: BlockKind,
    /// The keyed hash to match.
    pub value: String,
    pub conversation_id: Option<ConversationId>,
    /// Must already be redacted.
    pub reason: String,
    pub created_by: UserId,
    /// The admin's own address, for the audit line.
    pub admin_address: Option<String>,
}

/// One line of the audit trail. `detail` holds ids and kinds, never message
/// text.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: AuditId,
    pub at: Timestamp,
    pub actor_id: Option<UserId>,
    pub action: String,
    pub subject: String,
    pub detail: String,
    /// The address the request came from: staff's own; for a patient's
    /// own request (a transcript), only its keyed hash, as the conversation
    /// keeps it.
    pub address: Option<String>,
}

/// Which audit lines to read: every field that is set must match. Newest
/// first, at most `limit`, older than `before` when paging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<UserId>,
    pub action: Option<String>,
    pub subject: Option<String>,
    /// At or after.
    pub since: Option<Timestamp>,
    /// Before.
    pub until: Option<Timestamp>,
    /// Only entries with a smaller id (the next page).
    pub before: Option<AuditId>,
    pub limit: u32,
}

/// A line to append to the audit trail.
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub actor_id: Option<UserId>,
    pub action: String,
    pub subject: String,
    /// Ids and kinds, never message text.
    pub detail: String,
    /// The address the request came from (staff's own, never a patient's).
    pub address: Option<String>,
}

impl NewAudit {
    pub fn new(
        actor_id: Option<UserId>,
        action: impl Into<String>,
        subject: impl Into<String>,
        detail: impl Into<String>,
    ) -> NewAudit {
        NewAudit {
            actor_id,
            action: action.into(),
            subject: subject.into(),
            detail: detail.into(),
            address: None,
        }
    }

    /// The same entry, naming the address the request came from.
    pub fn from_address(mut self, address: Option<String>) -> NewAudit {
        self.address = address;
        self
    }
}

/// One version of the intent whitelist: the whole set of TOML files.
#[derive(Debug, Clone, Serialize)]
pub struct WhitelistVersion {
    pub id: i64,
    /// File name (`opening_hours.toml`) to its text; empty in a listing.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub files: std::collections::BTreeMap<String, String>,
    pub created_at: Timestamp,
    pub created_by: Option<UserId>,
    /// How it came to be (`seeded`, `published`, `imported`).
    pub note: String,
    /// The evaluation gate's figures, when it ran.
    pub evaluation: Option<Value>,
    /// Why it was published past the gate (redacted).
    pub override_reason: Option<String>,
    pub live: bool,
}

/// A version to add.
#[derive(Debug, Clone)]
pub struct NewWhitelistVersion {
    pub files: std::collections::BTreeMap<String, String>,
    pub created_by: Option<UserId>,
    pub note: String,
    pub evaluation: Option<Value>,
    pub override_reason: Option<String>,
}

/// The next version being edited.
#[derive(Debug, Clone, Serialize)]
pub struct WhitelistDraft {
    pub files: std::collections::BTreeMap<String, String>,
    /// The version it started from.
    pub base: Option<i64>,
    pub updated_at: Timestamp,
    pub updated_by: Option<UserId>,
}

/// A canned reply: the clinic's words a clinician picks from the reply box.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CannedReply {
    pub id: i64,
    /// `None`: shared with the whole team (admins manage it); else the
    /// clinician whose own reply it is.
    pub owner: Option<UserId>,
    pub language: String,
    pub title: String,
    /// As written, `{clinic}`, `{clinician}` and `{phone}` unfilled.
    pub body: String,
    /// How often the clinician who asked used it.
    pub uses: i64,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewCannedReply {
    pub owner: Option<UserId>,
    pub language: String,
    pub title: String,
    pub body: String,
}

/// What happened, as the dashboard counts it (never text: see
/// `migrations/0013_canned_activity.sql`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// A chat's first message from the patient (once per chat).
    Chat,
    /// The bot decided on a patient's message while it had the chat:
    /// `detail` is what it did (`answer`, `escalate`, `urgent`, `hold`,
    /// `block`), `intent` its best guess.
    BotTurn,
    /// The chat went to staff: `detail` is why (`low_confidence`,
    /// `handoff_intent`, `red_flag`).
    Escalated,
    /// A red flag made the chat urgent.
    Urgent,
    /// Held for a person as possible spam.
    Held,
    /// Blocked as spam.
    Blocked,
    /// Nobody could serve it: the patient was asked to leave a message
    /// (once per chat).
    LeftMessage,
    /// A clinician got the chat (`user_id`); `seconds` is the wait since it
    /// went to staff, on its first assignment.
    Assigned,
    /// A person's first message in the chat (once per chat); `seconds`
    /// since it went to staff.
    FirstReply,
}

impl ActivityKind {
    pub const ALL: [ActivityKind; 9] = [
        ActivityKind::Chat,
        ActivityKind::BotTurn,
        ActivityKind::Escalated,
        ActivityKind::Urgent,
        ActivityKind::Held,
        ActivityKind::Blocked,
        ActivityKind::LeftMessage,
        ActivityKind::Assigned,
        ActivityKind::FirstReply,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Chat => "chat",
            ActivityKind::BotTurn => "bot_turn",
            ActivityKind::Escalated => "escalated",
            ActivityKind::Urgent => "urgent",
            ActivityKind::Held => "held",
            ActivityKind::Blocked => "blocked",
            ActivityKind::LeftMessage => "left_message",
            ActivityKind::Assigned => "assigned",
            ActivityKind::FirstReply => "first_reply",
        }
    }

    pub fn parse(s: &str) -> Option<ActivityKind> {
        ActivityKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One event to count.
#[derive(Debug, Clone)]
pub struct NewActivity {
    pub at: Timestamp,
    pub kind: ActivityKind,
    pub conversation: Option<ConversationId>,
    pub intent: Option<String>,
    pub detail: Option<String>,
    pub user: Option<UserId>,
    pub seconds: Option<i64>,
}

impl NewActivity {
    pub fn new(at: Timestamp, kind: ActivityKind, conversation: &ConversationId) -> NewActivity {
        NewActivity {
            at,
            kind,
            conversation: Some(conversation.clone()),
            intent: None,
            detail: None,
            user: None,
            seconds: None,
        }
    }
}

/// A counted event as read back: no conversation id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Activity {
    pub at: Timestamp,
    pub kind: ActivityKind,
    pub intent: Option<String>,
    pub detail: Option<String>,
    pub user: Option<UserId>,
    pub seconds: Option<i64>,
}

/// What kind of form a patient filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormKind {
    /// The offline contact form: how to reach the patient.
    Contact,
    /// The clinic's intake questions, asked before the chat.
    Intake,
}

impl FormKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FormKind::Contact => "contact",
            FormKind::Intake => "intake",
        }
    }
    pub fn parse(s: &str) -> Option<FormKind> {
        match s {
            "contact" => Some(FormKind::Contact),
            "intake" => Some(FormKind::Intake),
            _ => None,
        }
    }
}

/// A staff member's Web Push subscription (see `migrations/0017_push.sql`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSubscription {
    pub id: i64,
    pub user_id: UserId,
    pub endpoint: String,
    /// The browser's P-256 public key, base64url.
    pub p256dh: String,
    /// The browser's push secret, base64url.
    pub auth: String,
}

/// A subscription to keep.
#[derive(Debug, Clone)]
pub struct NewPushSubscription {
    pub user_id: UserId,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

/// A file shared in a conversation, without its bytes (see
/// `migrations/0016_files.sql`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileMeta {
    pub id: i64,
    pub conversation_id: ConversationId,
    /// The patient or a clinician.
    pub sender: Sender,
    pub user_id: Option<UserId>,
    /// The name it was sent with, redacted.
    pub name: String,
    /// What it is by content: `jpeg`, `png`, `webp` or `pdf`.
    pub kind: String,
    /// Bytes, as stored (cleaned, before sealing).
    pub size: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub pages: Option<u32>,
    /// Whether the clinic's virus scanner passed it (false only where
    /// scanning is turned off).
    pub scanned: bool,
    pub created_at: Timestamp,
}

/// A file to store with the message that shows it: `data` is sealed under
/// the conversation's data key before it is written.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub conversation_id: ConversationId,
    pub sender: Sender,
    pub user_id: Option<UserId>,
    /// Already redacted.
    pub name: String,
    pub kind: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub pages: Option<u32>,
    pub scanned: bool,
    pub data: Vec<u8>,
}

/// A form's values by field name, in a stable order.
pub type FormFields = std::collections::BTreeMap<String, String>;

/// A form to store: `fields` already redacted; `original` the values as
/// typed, sealed under the conversation's data key before they are
/// written, and not kept at all by a store without a vault.
#[derive(Debug, Clone)]
pub struct NewPatientForm {
    pub conversation_id: ConversationId,
    pub kind: FormKind,
    pub fields: FormFields,
    pub original: Option<FormFields>,
}

/// A stored form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatientForm {
    pub id: i64,
    pub conversation_id: ConversationId,
    pub kind: FormKind,
    /// The values as typed when they were asked for and could be opened;
    /// else as stored (redacted).
    pub fields: FormFields,
    /// Whether `fields` are the values as typed.
    pub opened: bool,
    pub created_at: Timestamp,
    pub done_at: Option<Timestamp>,
    pub done_by: Option<UserId>,
    pub replied_at: Option<Timestamp>,
}

/// A patient's link to staff's answer (see `migrations/0015_notify.sql`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyLink {
    pub form_id: i64,
    pub conversation_id: ConversationId,
    pub expires_at: Timestamp,
    pub code_hash: Option<String>,
    pub code_expires_at: Option<Timestamp>,
    pub failures: u32,
}
