//! How long conversations are kept, and deleting them for good.
//!
//! - **Deleting**: the store destroys the conversation's data key first
//!   (crypto-shredding: every copy of its sealed originals is noise from
//!   then on), then its messages and records; the audit trail keeps that it
//!   happened, by whom, and never what was in it.
//! - **Retention** ([`Service::retain`], every minute on a server): a chat
//!   left with the bot and untouched for [`Retention::bot_idle_secs`] is
//!   closed (a patient who comes back starts a new one); a closed chat
//!   untouched for [`Retention::days`] is deleted as above. Each pass is
//!   audited by count, never content.

use std::sync::Arc;

use store::{ConvState, ConversationId, NewAudit, Role, StoreError, Timestamp, User};

use crate::{Service, ServiceError, ServiceResult};

/// Conversations handled in one pass, at most (the next pass takes the
/// rest).
const BATCH: u32 = 200;

/// How long conversations are kept.
#[derive(Debug, Clone, Default)]
pub struct Retention {
    /// Closed conversations untouched this many days are deleted; `None`
    /// keeps them.
    pub days: Option<u32>,
    /// Chats left with the bot and untouched this long are closed; `None`
    /// leaves them open.
    pub bot_idle_secs: Option<u64>,
}

/// What one retention pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Retained {
    pub closed: usize,
    pub deleted: usize,
}

impl Service {
    /// An admin deletes a conversation. One still open is closed first
    /// (the patient is told, as at any close).
    pub async fn delete_conversation(
        &self,
        id: &ConversationId,
        admin: &User,
        address: Option<String>,
    ) -> ServiceResult<()> {
        if admin.role != Role::Admin {
            return Err(ServiceError::Forbidden("only an admin can delete a chat"));
        }
        let conv = self
            .store
            .conversation(id)
            .await
            .map_err(ServiceError::not_found("no such conversation"))?;
        if conv.state != ConvState::Closed {
            self.close(id, admin, address.clone()).await?;
        }
        match self
            .store
            .delete_conversation(
                id,
                Some(
                    NewAudit::new(Some(admin.id), "conversation_delete", id.as_str(), "")
                        .from_address(address),
                ),
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => {
                return Err(ServiceError::NotFound("no such conversation"));
            }
            Err(e) => return Err(e.into()),
        }
        self.hub.forget(id);
        self.broadcast_queue().await;
        Ok(())
    }

    /// An admin deletes every conversation from the browser that wrote
    /// `id` (its keyed id; a chat with none is deleted alone): a patient's
    /// request to be forgotten. Each is deleted as by
    /// [`Service::delete_conversation`]; how many.
    pub async fn delete_patient(
        &self,
        id: &ConversationId,
        admin: &User,
        address: Option<String>,
    ) -> ServiceResult<usize> {
        if admin.role != Role::Admin {
            return Err(ServiceError::Forbidden("only an admin can delete a chat"));
        }
        let conv = self
            .store
            .conversation(id)
            .await
            .map_err(ServiceError::not_found("no such conversation"))?;
        let all = match &conv.fingerprint {
            Some(fingerprint) => self.store.conversations_of_browser(fingerprint).await?,
            None => vec![conv],
        };
        for c in &all {
            self.delete_conversation(&c.id, admin, address.clone())
                .await?;
        }
        Ok(all.len())
    }

    /// One retention pass at the service clock's now.
    pub async fn retain(&self) -> ServiceResult<Retained> {
        let now = Timestamp::from_unix((self.now_ms() / 1000) as i64);
        let mut done = Retained::default();
        if let Some(idle) = self.retention.bot_idle_secs {
            let before = now.plus_secs(-(idle.min(i64::MAX as u64) as i64));
            for conv in self
                .store
                .untouched_since(ConvState::Bot, before, BATCH)
                .await?
            {
                self.close_with(&conv, None).await?;
                done.closed += 1;
            }
            if done.closed > 0 {
                self.store
                    .audit(NewAudit::new(
                        None,
                        "retention_close",
                        "conversations",
                        format!("count={} idle_secs={idle}", done.closed),
                    ))
                    .await?;
            }
        }
        if let Some(days) = self.retention.days {
            let before = now.plus_secs(-(i64::from(days) * 86_400));
            for conv in self
                .store
                .untouched_since(ConvState::Closed, before, BATCH)
                .await?
            {
                match self.store.delete_conversation(&conv.id, None).await {
                    Ok(()) | Err(StoreError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
                self.hub.forget(&conv.id);
                done.deleted += 1;
            }
            if done.deleted > 0 {
                self.store
                    .audit(NewAudit::new(
                        None,
                        "retention_purge",
                        "conversations",
                        format!("count={} days={days}", done.deleted),
                    ))
                    .await?;
            }
        }
        Ok(done)
    }

    /// Retention every minute, for ever (nothing to do when neither limit
    /// is set).
    pub async fn run_retention(self: Arc<Self>) {
        if self.retention.days.is_none() && self.retention.bot_idle_secs.is_none() {
            return;
        }
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match self.retain().await {
                Ok(r) if r != Retained::default() => {
                    tracing::info!(closed = r.closed, deleted = r.deleted, "retention");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retention pass failed"),
            }
        }
    }
}
