//! Every frame the two WebSockets send, as types: the patient's widget
//! ([`PatientFrame`]) and the clinician's console ([`ClinicianFrame`]).
//! `docs/protocol.md` describes the same frames; a test holds the two to
//! each other.

use serde::{Deserialize, Serialize};
use store::{ConversationId, Sender, Timestamp};

use crate::views::{HistoryItem, MessageView, Summary, TeamMessageView, UserView};

/// Server to patient.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PatientFrame {
    /// First on every connection.
    Welcome {
        conversation: ConversationId,
        resume: String,
        text: String,
        /// Whether the patient may send files once a person has the chat
        /// ([`crate::files`]).
        files: bool,
    },
    /// After `welcome` on a resumed conversation: what was stored, redacted.
    History {
        messages: Vec<HistoryItem>,
    },
    /// A reply from the bot, a clinician or the system.
    Message {
        from: Sender,
        text: String,
        at: Timestamp,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// What the clinician wrote, when `text` is a machine translation.
        #[serde(skip_serializing_if = "Option::is_none")]
        original: Option<String>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        machine_translated: bool,
        /// A file the clinician sent ([`crate::files`]).
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<crate::files::FileView>,
    },
    Status(PatientStatus),
    /// The patient's message is stored: sent once the write that holds it
    /// has committed, before anything the message leads to (the bot's
    /// reply, a clinician's screen), except a red flag's emergency reply,
    /// which never waits for storage. `id` is the stored message's id;
    /// `ref` echoes the `ref` the widget gave the message, if any. A
    /// message without its ack may not be stored: the widget sends it again
    /// after a reconnect.
    Ack {
        id: store::MessageId,
        at: Timestamp,
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    /// The clinic's consent text, to accept before the first message
    /// ([`crate::consent`]); sent after `welcome` until accepted.
    Consent(crate::consent::Consent),
    /// The consent was recorded: the patient may write.
    ConsentAccepted,
    /// The clinic's intake questions, all optional ([`crate::intake`]).
    Intake {
        fields: Vec<crate::intake::Field>,
    },
    /// The intake answers were stored.
    IntakeSaved,
    /// The patient's copy of the conversation, asked for with a
    /// `transcript` frame: a printable HTML page to save as `filename`.
    Transcript {
        filename: String,
        html: String,
    },
    /// The last frame could not be handled; the connection stays open
    /// (unless `code` is `sender_blocked`).
    Error {
        code: String,
        message: String,
    },
}

impl PatientFrame {
    /// A message the patient reads as written.
    pub fn message(from: Sender, text: &str, at: Timestamp, name: Option<String>) -> PatientFrame {
        PatientFrame::Message {
            from,
            text: text.to_string(),
            at,
            name,
            original: None,
            machine_translated: false,
            file: None,
        }
    }
}

/// Where the patient's conversation stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PatientStatus {
    Bot,
    /// Waiting for a person: `position` 1 is next, `None` while offered.
    Queued {
        position: Option<usize>,
        urgent: bool,
        wait_s: Option<u64>,
    },
    Assigned {
        clinician: Option<String>,
    },
    /// Nobody who could help is online: messages are kept for staff, and
    /// the widget asks how to reach the patient unless `contact_left`.
    Offline {
        contact_left: bool,
    },
    Closed,
}

/// Server to clinician.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClinicianFrame {
    Hello {
        user: UserView,
    },
    Queue {
        conversations: Vec<Summary>,
    },
    /// A new message in one of the clinician's own chats (a patient's as
    /// typed, in memory only).
    Message {
        conversation: ConversationId,
        message: MessageView,
    },
    Assigned {
        conversation: ConversationId,
    },
    Offer {
        conversation: ConversationId,
        expires_in_s: u64,
    },
    OfferExpired {
        conversation: ConversationId,
    },
    LeftMessage {
        conversation: ConversationId,
    },
    Held {
        conversation: ConversationId,
    },
    Transfer {
        conversation: ConversationId,
        from: String,
        note: Option<String>,
    },
    TeamMessage {
        message: TeamMessageView,
    },
    /// To admins: a clinician opened a chat that was not theirs, saying why
    /// (the reason redacted).
    BreakGlass {
        conversation: ConversationId,
        by: String,
        reason: String,
    },
}

/// The longest `ref` a patient's message may carry.
pub const MAX_REF_CHARS: usize = 64;

/// Patient to server: what the widget sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PatientInput {
    Message {
        text: String,
        /// The widget's own name for the message (at most
        /// [`MAX_REF_CHARS`]), echoed in its `ack`.
        #[serde(rename = "ref", default)]
        reference: Option<String>,
    },
    /// Asks for the patient's copy of the conversation.
    Transcript,
    /// The offline contact form ([`crate::contact`]).
    Contact(crate::contact::ContactInput),
    /// Accepts the consent text of `version` ([`crate::consent`]).
    Consent { version: String },
    /// Answers the intake questions ([`crate::intake`]).
    Intake {
        fields: std::collections::BTreeMap<String, String>,
    },
}
