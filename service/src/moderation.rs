//! Blocking an identified spammer, the held list, and the audit trail.
//!
//! A patient's browser is known by two keyed hashes the HTTP edge computes
//! when its socket opens ([`Identity`]): the widget's random browser id and
//! the client's IP address. An admin blocks a conversation's sender by
//! either or both; a blocked browser or address can no longer open or
//! resume a chat, and is told to call the clinic instead.
//!
//! Blocking a real patient is far worse than letting a spam message through,
//! so an address shared by many browsers (a clinic's own network, a mobile
//! carrier's NAT, a reverse proxy the server was not told about) is refused
//! unless the admin insists: blocking it would lock out everyone behind it.

use bot_engine::Messages;
use serde::Deserialize;
use store::{
    Block, BlockId, BlockKind, ConvState, ConvUpdate, ConversationId, NewAudit, NewBlock,
    NewMessage, Role, Sender, StoreError, UnitOfWork, User,
};

use crate::frames::{ClinicianFrame, PatientFrame};
use crate::views::{ConversationRead, HeldMessage, HeldView};
use crate::{Service, ServiceError, ServiceResult};

/// Distinct browsers seen from one address above which blocking that address
/// needs `force`: more than a household, fewer than a shared network.
pub const SHARED_ADDRESS_BROWSERS: u64 = 5;
/// The longest block reason kept; it is redacted before it is stored.
pub const MAX_REASON_CHARS: usize = 200;

/// Who a patient's browser is, as keyed hashes. Either may be missing: an
/// old widget sends no browser id, and a test harness may have no peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub fingerprint: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct BlockRequest {
    #[serde(default)]
    pub reason: String,
    /// What to block by; both when absent.
    #[serde(default)]
    pub by: Option<Vec<BlockKind>>,
    /// Block an address even when many browsers share it.
    #[serde(default)]
    pub force: bool,
}

fn admin_only(user: &User) -> ServiceResult<()> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(ServiceError::Forbidden("only an admin can do that"))
    }
}

impl Service {
    /// Whether either of the identities is blocked.
    pub async fn blocked(&self, who: &Identity) -> ServiceResult<bool> {
        Ok(self
            .store
            .is_blocked(who.fingerprint.as_deref(), who.address.as_deref())
            .await?)
    }

    /// Blocks the sender of `conversation` and closes it.
    pub async fn block_sender(
        &self,
        conversation: &ConversationId,
        admin: &User,
        req: BlockRequest,
        address: Option<String>,
    ) -> ServiceResult<Vec<Block>> {
        admin_only(admin)?;
        if req.reason.chars().count() > MAX_REASON_CHARS {
            return Err(ServiceError::BadRequest(format!(
                "the reason is longer than {MAX_REASON_CHARS} characters"
            )));
        }
        let conv = self
            .store
            .conversation(conversation)
            .await
            .map_err(ServiceError::not_found("no such conversation"))?;
        let kinds = req
            .by
            .unwrap_or_else(|| vec![BlockKind::Fingerprint, BlockKind::Address]);
        if kinds.is_empty() {
            return Err(ServiceError::BadRequest(
                "by must name fingerprint, address or both".into(),
            ));
        }
        let mut targets = Vec::new();
        for kind in kinds {
            let value = match kind {
                BlockKind::Fingerprint => conv.fingerprint.clone(),
                BlockKind::Address => conv.address.clone(),
            };
            let Some(value) = value else {
                return Err(ServiceError::Conflict(format!(
                    "this conversation has no recorded {}",
                    kind.as_str()
                )));
            };
            if kind == BlockKind::Address && !req.force {
                let browsers = self.store.browsers_at(&value).await?;
                if browsers > SHARED_ADDRESS_BROWSERS {
                    return Err(ServiceError::Conflict(format!(
                        "{browsers} different browsers have chatted from this address: \
                         blocking it would lock them all out. Block by fingerprint only, \
                         or force the address block"
                    )));
                }
            }
            targets.push((kind, value));
        }
        // Admins type names too ("the Smith spammer"): the reason is stored
        // redacted, like every other text.
        let reason = if req.reason.trim().is_empty() {
            String::new()
        } else {
            self.bot()?.redact(req.reason.trim()).await?
        };
        let mut blocks = Vec::new();
        for (kind, value) in targets {
            match self
                .store
                .block(NewBlock {
                    kind,
                    value,
                    conversation_id: Some(conv.id.clone()),
                    reason: reason.clone(),
                    created_by: admin.id,
                    admin_address: address.clone(),
                })
                .await
            {
                Ok(b) => blocks.push(b),
                // Already blocked, by this or another conversation.
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
        }
        tracing::info!(
            conversation = conversation.as_str(),
            blocks = blocks.len(),
            "sender blocked"
        );
        if conv.state != ConvState::Closed {
            self.close_blocked(&conv.id, conv.language.as_deref())
                .await?;
        }
        Ok(blocks)
    }

    /// Ends a blocked sender's conversation: out of the queue, closed, and
    /// the patient told to call.
    async fn close_blocked(
        &self,
        conversation: &ConversationId,
        language: Option<&str>,
    ) -> ServiceResult<()> {
        let text = Messages::render(
            &self.whitelist().messages.blocked,
            language.unwrap_or("en"),
            &[],
        );
        // Stored, like every text, redacted: only once the redactor is up.
        let mut work = UnitOfWork::new();
        if let Ok(bot) = self.bot() {
            work = work.add_message(NewMessage::plain(
                conversation.clone(),
                Sender::System,
                None,
                bot.redact(&text).await?,
            ));
        }
        let (freed, _, _) = self.end_conversation(conversation, work).await?;
        self.hub.to_patient(
            conversation,
            &PatientFrame::Error {
                code: "sender_blocked".into(),
                message: text,
            },
        );
        self.hub.forget(conversation);
        self.apply_assignments(freed).await;
        self.broadcast_queue().await;
        Ok(())
    }

    pub async fn unblock(
        &self,
        id: BlockId,
        admin: &User,
        address: Option<String>,
    ) -> ServiceResult<Block> {
        admin_only(admin)?;
        let block = self
            .store
            .lift_block(id, admin.id, address)
            .await
            .map_err(ServiceError::not_found("no such active block"))?;
        tracing::info!(block = id.0, "sender unblocked");
        Ok(block)
    }

    /// Puts a conversation on the held list: its message read like spam on
    /// its words alone, so a person looks before anyone is blocked. Staff
    /// with a console open are told.
    pub(crate) async fn hold(&self, conversation: &ConversationId) -> ServiceResult<()> {
        self.set_held(conversation, true).await?;
        self.count(self.event(store::ActivityKind::Held, conversation))
            .await;
        for user in self.clinicians_online() {
            self.hub.to_clinician(
                user,
                &ClinicianFrame::Held {
                    conversation: conversation.clone(),
                },
            );
        }
        tracing::info!(
            conversation = conversation.as_str(),
            "message held for staff to look at"
        );
        Ok(())
    }

    /// The held list, for any staff member: each conversation with its
    /// patient messages (redacted, as stored).
    pub async fn held(&self) -> ServiceResult<Vec<HeldView>> {
        let mut out = Vec::new();
        for c in self.store.held_conversations().await? {
            let messages = self
                .store
                .messages(&c.id)
                .await?
                .into_iter()
                .filter(|m| m.sender == Sender::Patient)
                .map(|m| HeldMessage {
                    id: m.id,
                    text: m.text,
                    at: m.created_at,
                })
                .collect();
            out.push(HeldView {
                conversation: c.id,
                state: c.state,
                language: c.language,
                updated_at: c.updated_at,
                messages,
            });
        }
        Ok(out)
    }

    /// Takes a conversation off the held list without blocking anyone (it
    /// was a patient after all, or harmless); the chat stays where it is.
    pub async fn dismiss_held(
        &self,
        conversation: &ConversationId,
        user: &User,
        address: Option<String>,
    ) -> ServiceResult<()> {
        let conv = self
            .store
            .conversation(conversation)
            .await
            .map_err(ServiceError::not_found("no such conversation"))?;
        if !conv.held {
            return Err(ServiceError::Conflict(
                "the conversation is not held".into(),
            ));
        }
        self.store
            .commit(
                UnitOfWork::new()
                    .update_conversation(
                        conversation,
                        ConvUpdate {
                            held: Some(false),
                            ..Default::default()
                        },
                    )
                    .audit(
                        NewAudit::new(Some(user.id), "dismiss_held", conversation.as_str(), "")
                            .from_address(address),
                    ),
            )
            .await?;
        Ok(())
    }

    /// Sets or clears the held mark (a person taking the chat clears it in
    /// the assignment's own unit of work, [`Service::assigned`]).
    pub(crate) async fn set_held(
        &self,
        conversation: &ConversationId,
        held: bool,
    ) -> ServiceResult<()> {
        self.store
            .update_conversation(
                conversation,
                ConvUpdate {
                    held: Some(held),
                    ..Default::default()
                },
            )
            .await?;
        Ok(())
    }

    pub async fn blocks(&self, admin: &User) -> ServiceResult<Vec<Block>> {
        admin_only(admin)?;
        Ok(self.store.active_blocks().await?)
    }

    /// A conversation opened by `reader` (from `address`): its messages and
    /// notes. Every read is on the audit trail. One that is not the
    /// reader's needs a `reason` ([`crate::access`]); an auditor never reads
    /// a chat.
    pub async fn read_conversation(
        &self,
        id: &ConversationId,
        reader: &User,
        reason: Option<&str>,
        address: Option<String>,
    ) -> ServiceResult<ConversationRead> {
        if reader.role == Role::Auditor {
            return Err(ServiceError::Forbidden("an auditor does not see chats"));
        }
        let conv = self
            .store
            .conversation(id)
            .await
            .map_err(ServiceError::not_found("no such conversation"))?;
        let broke_glass = self
            .open_for(reader, &conv, reason, address.clone())
            .await?;
        let sees = Self::sees_originals(reader, &conv, broke_glass);
        let originals = if sees {
            self.store.originals(id).await?
        } else {
            Default::default()
        };
        let detail = if originals.is_empty() {
            conv.state.as_str().to_string()
        } else {
            format!("{} originals", conv.state.as_str())
        };
        self.store
            .audit(
                NewAudit::new(Some(reader.id), "read", id.as_str(), detail).from_address(address),
            )
            .await?;
        let mut messages = Vec::new();
        for m in self.store.messages(id).await? {
            let mut view = self.message_view(&m).await;
            if let Some(original) = originals.get(&m.id) {
                let masked = crate::masking::mask(original);
                view.masked = masked.is_some();
                view.original = Some(masked.unwrap_or_else(|| original.clone()));
            }
            messages.push(view);
        }
        Ok(ConversationRead {
            conversation: self.summary(&conv).await,
            messages,
            notes: self.notes(id, sees).await?,
            intake: self.intake_of(&conv, sees).await?,
        })
    }
}
