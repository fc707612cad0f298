//! A unit of work: writes collected first, then applied all or nothing by
//! [`crate::Transactions::commit`].

use crate::ids::ConversationId;
use crate::records::{ConvUpdate, Conversation, Message, NewAudit, NewMessage};

/// One write of a unit of work.
#[derive(Debug, Clone)]
pub enum Write {
    UpdateConversation(ConversationId, ConvUpdate),
    AddMessage(NewMessage),
    Audit(NewAudit),
}

/// Writes to apply together, in order.
#[derive(Debug, Clone, Default)]
pub struct UnitOfWork {
    writes: Vec<Write>,
}

impl UnitOfWork {
    pub fn new() -> UnitOfWork {
        UnitOfWork::default()
    }

    pub fn update_conversation(mut self, id: &ConversationId, update: ConvUpdate) -> Self {
        self.writes
            .push(Write::UpdateConversation(id.clone(), update));
        self
    }

    pub fn add_message(mut self, message: NewMessage) -> Self {
        self.writes.push(Write::AddMessage(message));
        self
    }

    pub fn audit(mut self, entry: NewAudit) -> Self {
        self.writes.push(Write::Audit(entry));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    pub fn into_writes(self) -> Vec<Write> {
        self.writes
    }
}

/// What a committed unit of work wrote, each kind in the order written.
#[derive(Debug, Clone, Default)]
pub struct Committed {
    pub conversations: Vec<Conversation>,
    pub messages: Vec<Message>,
}

impl Committed {
    /// The conversation as the last of its updates left it.
    pub fn conversation(&self) -> Option<&Conversation> {
        self.conversations.last()
    }
}
