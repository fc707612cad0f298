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
//! - **Ephemeral mode** (`days = 0`): nothing but the audit trail outlives
//!   a chat. When it closes, a delivery of its transcript (FHIR JSON) is
//!   owed to the clinic's endpoint ([`crate::Courier`]); until the courier
//!   has it the chat stays as any other, its originals sealed; a failed
//!   attempt is retried with a doubling backoff ([`backoff_secs`]), for
//!   ever. Once delivered, the chat is deleted (`transcript_delivered` in
//!   the audit trail).

use std::sync::Arc;

use store::{ConvState, ConversationId, NewAudit, Role, StoreError, User};

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

impl Retention {
    /// Nothing kept after a chat: `days = 0`.
    pub fn ephemeral(&self) -> bool {
        self.days == Some(0)
    }
}

/// The wait before delivery attempt `attempt` + 1 after `attempt` failed:
/// 15 s, doubling, at most an hour.
pub fn backoff_secs(attempt: u32) -> i64 {
    (15i64 << attempt.saturating_sub(1).min(8)).min(3600)
}

/// What one retention pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Retained {
    pub closed: usize,
    pub deleted: usize,
    /// Ephemeral mode: transcripts now owed (of chats closed before).
    pub owed: usize,
}

/// What one delivery pass did (ephemeral mode).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Delivered, and the chat deleted.
    pub sent: usize,
    /// Failed this time; retried later.
    pub failed: usize,
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
        let now = self.clock.now();
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
        if self.retention.ephemeral() {
            // Chats closed before ephemeral mode was on, or whose delivery
            // was not recorded (a crash right after the close).
            for conv in self
                .store
                .untouched_since(ConvState::Closed, now.plus_secs(1), BATCH)
                .await?
            {
                self.store.set_delivery(&conv.id, Some(now), 0).await?;
                done.owed += 1;
            }
            if done.owed > 0 {
                self.deliveries.notify_one();
            }
        } else if let Some(days) = self.retention.days {
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

    /// One delivery pass (ephemeral mode): every transcript due is handed
    /// to the courier; a delivered chat is deleted, a failed one retried
    /// after [`backoff_secs`].
    pub async fn deliver_transcripts(&self) -> ServiceResult<Delivered> {
        let mut done = Delivered::default();
        let Some(courier) = &self.courier else {
            return Ok(done);
        };
        let now = self.clock.now();
        for (id, attempts) in self.store.deliveries_due(now, BATCH).await? {
            let conv = match self.store.conversation(&id).await {
                Ok(c) => c,
                Err(StoreError::NotFound) => continue,
                Err(e) => return Err(e.into()),
            };
            let transcript = self.transcript_of(&conv).await?;
            let body = serde_json::to_vec(&crate::transcript::fhir(&transcript))
                .map_err(|e| ServiceError::Internal(e.into()))?;
            let attempt = attempts.saturating_add(1);
            match courier.deliver(&id, body).await {
                Ok(()) => {
                    let audit = NewAudit::new(
                        None,
                        "transcript_delivered",
                        id.as_str(),
                        format!("attempts={attempt}"),
                    );
                    match self.store.delete_conversation(&id, Some(audit)).await {
                        Ok(()) | Err(StoreError::NotFound) => {}
                        Err(e) => return Err(e.into()),
                    }
                    self.hub.forget(&id);
                    crate::metrics::delivery(true);
                    done.sent += 1;
                }
                Err(reason) => {
                    let wait = backoff_secs(attempt);
                    tracing::warn!(
                        conversation = id.as_str(),
                        attempt,
                        retry_in_s = wait,
                        reason = %reason,
                        "transcript delivery failed"
                    );
                    self.store
                        .set_delivery(&id, Some(now.plus_secs(wait)), attempt)
                        .await?;
                    crate::metrics::delivery(false);
                    done.failed += 1;
                }
            }
        }
        Ok(done)
    }

    /// Retention every minute, for ever (nothing to do when neither limit
    /// is set); in ephemeral mode, deliveries as soon as a chat closes and
    /// every 5 s for the retries.
    pub async fn run_retention(self: Arc<Self>) {
        if self.retention.days.is_none() && self.retention.bot_idle_secs.is_none() {
            return;
        }
        if self.courier.is_some() {
            tokio::spawn(self.clone().run_deliveries());
        }
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if !self.leads() {
                continue;
            }
            match self.retain().await {
                Ok(r) if r != Retained::default() => {
                    tracing::info!(
                        closed = r.closed,
                        deleted = r.deleted,
                        owed = r.owed,
                        "retention"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retention pass failed"),
            }
        }
    }

    async fn run_deliveries(self: Arc<Self>) {
        loop {
            let pass = if self.leads() {
                self.deliver_transcripts().await
            } else {
                Ok(Delivered::default())
            };
            match pass {
                Ok(d) if d != Delivered::default() => {
                    tracing::info!(sent = d.sent, failed = d.failed, "transcripts delivered");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "transcript delivery pass failed"),
            }
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                self.deliveries.notified(),
            )
            .await;
        }
    }
}
