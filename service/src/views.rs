//! What the consoles and the widget are shown of a conversation, a message
//! and a colleague: the shapes inside the frames and the HTTP API's
//! answers (docs/protocol.md).

use router::Presence;
use serde::Serialize;
use serde_json::Value;
use store::{
    ConvState, ConversationId, MessageId, Role, Sender, StoredTranslation, Timestamp, UserId,
};

/// A conversation as a clinician's queue lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub id: ConversationId,
    pub state: ConvState,
    pub urgent: bool,
    pub language: Option<String>,
    pub assigned_to: Option<UserId>,
    pub assigned_name: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub position: Option<usize>,
    /// Left through the offline contact form: waits for staff by hand.
    pub offline: bool,
    /// A pending offer: to whom.
    pub offered_to: Option<UserId>,
    /// The router's estimate of the wait, when it has a basis for one.
    pub wait_s: Option<u64>,
    pub whisper: Option<Value>,
}

/// A machine translation of a message, as the console and widget show it
/// beside the original.
#[derive(Debug, Clone, Serialize)]
pub struct Translation {
    pub text: String,
    pub language: String,
    /// Always true: the reader is told a machine translated it.
    pub machine: bool,
}

impl Translation {
    /// What the store keeps: the (redacted) text and its language.
    pub fn stored(&self) -> StoredTranslation {
        StoredTranslation {
            text: self.text.clone(),
            language: self.language.clone(),
        }
    }

    pub fn from_stored(t: &StoredTranslation) -> Translation {
        Translation {
            text: t.text.clone(),
            language: t.language.clone(),
            machine: true,
        }
    }
}

/// A message as a clinician's console shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: MessageId,
    pub from: Sender,
    pub text: String,
    pub at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For patient messages: the intent the bot matched and its score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// A machine translation beside the original.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub translation: Option<Translation>,
    /// The patient's words as typed, where `text` is the redacted copy:
    /// only to the clinician who has the chat, an admin, or a break-glass
    /// reader, in a conversation read (audited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    /// Card, account and Social Security numbers in `original` show only
    /// their last four characters: `POST .../messages/{id}/reveal` shows
    /// the rest (audited).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub masked: bool,
    /// The shared file the message shows ([`crate::files`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<crate::files::FileView>,
}

/// A message as the patient's history replays it.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryItem {
    pub from: Sender,
    pub text: String,
    pub at: Timestamp,
    pub name: Option<String>,
    /// The shared file the message shows ([`crate::files`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<crate::files::FileView>,
}

/// A colleague, with their presence now.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub status: Presence,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
}

/// A conversation as staff open it: the summary, its messages (redacted,
/// as stored) and the staff-only notes.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationRead {
    pub conversation: Summary,
    pub messages: Vec<MessageView>,
    pub notes: Vec<store::StaffText>,
    /// The patient's intake answers (as typed for those who see the
    /// originals, else as stored), when they gave any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intake: Option<store::FormFields>,
}

/// An account as an admin manages it: never its password hash.
#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub max_chats: usize,
    pub licensed_states: Vec<String>,
    pub disabled_at: Option<Timestamp>,
    pub removed_at: Option<Timestamp>,
    /// Logins refused until then (too many wrong passwords).
    pub locked_until: Option<Timestamp>,
    /// Two-factor sign-in is on.
    pub mfa: bool,
    /// Made by single sign-on: the identity provider sets its role.
    pub sso: bool,
    /// Where waiting chats are announced by email.
    pub email: Option<String>,
}

impl From<&store::User> for AccountView {
    fn from(u: &store::User) -> AccountView {
        AccountView {
            id: u.id,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role: u.role,
            skills: u.skills.clone(),
            languages: u.languages.clone(),
            max_chats: u.max_chats,
            licensed_states: u.licensed_states.clone(),
            disabled_at: u.disabled_at,
            removed_at: u.removed_at,
            locked_until: u.locked_until.filter(|t| *t > Timestamp::now()),
            mfa: u.totp_secret.is_some(),
            sso: u.sso_subject.is_some(),
            email: u.email.clone(),
        }
    }
}

/// A message between clinicians, as typed (the stored copy is redacted).
#[derive(Debug, Clone, Serialize)]
pub struct TeamMessageView {
    pub id: store::StaffTextId,
    pub from: UserId,
    pub to: UserId,
    pub name: String,
    pub text: String,
    pub at: Timestamp,
}

/// A conversation on the held list, with its patient messages as stored.
#[derive(Debug, Clone, Serialize)]
pub struct HeldView {
    pub conversation: ConversationId,
    pub state: ConvState,
    pub language: Option<String>,
    pub updated_at: Timestamp,
    pub messages: Vec<HeldMessage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeldMessage {
    pub id: MessageId,
    pub text: String,
    pub at: Timestamp,
}
