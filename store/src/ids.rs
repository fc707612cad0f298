//! Typed ids: a user id cannot be passed where a block id belongs.
//!
//! Each serializes as the bare number or string it wraps, so the wire
//! protocol is the same as when they were plain integers.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! integer_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

integer_id!(
    /// A clinician's or an admin's account.
    UserId
);
integer_id!(
    /// A stored message of a conversation.
    MessageId
);
integer_id!(
    /// A staff-only note or a message between clinicians.
    StaffTextId
);
integer_id!(
    /// An admin's block of a sender.
    BlockId
);
integer_id!(
    /// A line of the audit trail.
    AuditId
);

/// A conversation: the random id the patient's socket was given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConversationId(String);

impl ConversationId {
    pub fn new(id: impl Into<String>) -> ConversationId {
        ConversationId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ConversationId {
    fn from(id: &str) -> ConversationId {
        ConversationId(id.to_string())
    }
}

impl From<String> for ConversationId {
    fn from(id: String) -> ConversationId {
        ConversationId(id)
    }
}

impl AsRef<str> for ConversationId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
