//! Web Push to clinicians' phones: a chat waiting that they could serve,
//! told once, and an urgent one told at once, even with a console open.
//!
//! A clinician subscribes from the console (the browser's Push API with
//! the server's VAPID key, [`Pusher::public_key`]); the subscription is kept
//! against their account. What is pushed is sealed to their browser by the
//! server's sender (`console/src/push.rs`, RFC 8291 and 8292) and holds no
//! patient's words and no chat's id: "A chat is waiting", "An urgent chat
//! is waiting", and the console's address.
//!
//! Who is told: staff with a subscription, not disabled or removed, never
//! an auditor, who could serve the chat ([`Service::could_serve`]). A
//! waiting chat is pushed to those whose console is closed, once per chat;
//! an urgent one to everyone who could serve it, once per chat. A
//! subscription the push service says is gone (404, 410) is dropped.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use store::{ConvState, Conversation, NewPushSubscription, PushSubscription, Role, User};

use crate::{Service, ServiceError, ServiceResult};

/// What became of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// The push service no longer knows the subscription.
    Gone,
}

/// Sends Web Push messages (the server's VAPID sender).
#[async_trait]
pub trait Pusher: Send + Sync {
    /// The VAPID public key browsers subscribe with (base64url).
    fn public_key(&self) -> String;
    /// Whether a subscription may be kept: an endpoint the server may send
    /// to, and keys of the right shape. The reason when not.
    fn check(&self, endpoint: &str, p256dh: &str, auth: &str) -> Result<(), String>;
    /// Seals `payload` to the subscription and sends it; `urgent` asks the
    /// push service to deliver at once. Errors never hold the payload.
    async fn push(
        &self,
        subscription: &PushSubscription,
        payload: &[u8],
        urgent: bool,
    ) -> Result<Delivery, String>;
}

/// A browser's subscription, as the Push API's `PushSubscription.toJSON()`
/// gives it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct SubscriptionInput {
    pub endpoint: String,
    pub keys: SubscriptionKeys,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct SubscriptionKeys {
    pub p256dh: String,
    pub auth: String,
}

/// The longest endpoint kept (push services' are a few hundred bytes).
const MAX_ENDPOINT: usize = 1024;
/// Subscriptions one account may keep (a phone, a tablet, a few browsers).
const MAX_PER_USER: usize = 10;

/// What a push says: a count and the console's address, never a word of
/// the patient's.
pub fn payload(urgent: bool, console: &str) -> String {
    let (title, body, tag) = if urgent {
        (
            "Urgent chat waiting",
            "An urgent chat is waiting for the team.",
            "carechat-urgent",
        )
    } else {
        (
            "Chat waiting",
            "A chat is waiting for the team.",
            "carechat-waiting",
        )
    };
    serde_json::json!({
        "title": title,
        "body": body,
        "tag": tag,
        "urgent": urgent,
        "url": console,
    })
    .to_string()
}

impl Service {
    /// The server's Web Push sender ([`crate::push`]).
    pub fn with_pusher(mut self, pusher: Arc<dyn Pusher>) -> Service {
        self.pusher = Some(pusher);
        self
    }

    /// The VAPID public key browsers subscribe with, when push is set up.
    pub fn push_key(&self) -> Option<String> {
        self.pusher.as_ref().map(|p| p.public_key())
    }

    /// Keeps `user`'s subscription (one endpoint is one browser: a new
    /// account on it takes it over).
    pub async fn subscribe_push(&self, user: &User, s: SubscriptionInput) -> ServiceResult<()> {
        let Some(pusher) = &self.pusher else {
            return Err(ServiceError::Conflict("push is not set up".into()));
        };
        if user.role == Role::Auditor {
            return Err(ServiceError::Forbidden("an auditor is told of no chat"));
        }
        if s.endpoint.len() > MAX_ENDPOINT {
            return Err(ServiceError::BadRequest("the endpoint is too long".into()));
        }
        pusher
            .check(&s.endpoint, &s.keys.p256dh, &s.keys.auth)
            .map_err(ServiceError::BadRequest)?;
        let mine = self.store.push_subscriptions_of(user.id).await?;
        if mine.len() >= MAX_PER_USER && !mine.iter().any(|m| m.endpoint == s.endpoint) {
            return Err(ServiceError::Conflict(format!(
                "{MAX_PER_USER} devices at most: turn notifications off on one first"
            )));
        }
        self.store
            .add_push_subscription(NewPushSubscription {
                user_id: user.id,
                endpoint: s.endpoint,
                p256dh: s.keys.p256dh,
                auth: s.keys.auth,
            })
            .await?;
        tracing::info!(user = user.id.0, "push subscription kept");
        Ok(())
    }

    /// Forgets `user`'s subscription at `endpoint`.
    pub async fn unsubscribe_push(&self, user: &User, endpoint: &str) -> ServiceResult<()> {
        if self
            .store
            .remove_push_subscription(Some(user.id), endpoint)
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound("no such subscription"))
        }
    }

    /// Pushes the waiting chats not pushed yet to who could serve them
    /// (run when the queue changes). How many pushes it sent off.
    pub(crate) async fn push_waiting(&self) -> usize {
        let Some(pusher) = self.pusher.clone() else {
            return 0;
        };
        if !self.leads() {
            return 0;
        }
        let Ok(subscriptions) = self.store.push_subscriptions().await else {
            return 0;
        };
        if subscriptions.is_empty() {
            return 0;
        }
        let Ok(open) = self.store.open_conversations().await else {
            return 0;
        };
        let waiting: Vec<Conversation> = open
            .into_iter()
            .filter(|c| c.state == ConvState::Queued)
            .collect();
        let fresh: Vec<&Conversation> = {
            let mut told = self.told.lock().unwrap_or_else(|e| e.into_inner());
            let ids: std::collections::HashSet<_> = waiting.iter().map(|c| c.id.clone()).collect();
            // Chats that left the queue are forgotten: one coming back is news.
            told.pushed.retain(|(id, _)| ids.contains(id));
            waiting
                .iter()
                .filter(|c| told.pushed.insert((c.id.clone(), c.urgent)))
                .collect()
        };
        if fresh.is_empty() {
            return 0;
        }
        let online = self.clinicians_online();
        let console = self.console_url();
        let mut users = std::collections::HashMap::new();
        let mut sent = 0;
        for conv in fresh {
            let body = payload(conv.urgent, &console);
            for s in &subscriptions {
                let user = match users.get(&s.user_id) {
                    Some(u) => u,
                    None => match self.store.user(s.user_id).await {
                        Ok(u) => users.entry(s.user_id).or_insert(u),
                        Err(_) => continue,
                    },
                };
                let active = user.role != Role::Auditor
                    && user.disabled_at.is_none()
                    && user.removed_at.is_none();
                // A waiting chat goes to a closed console; an urgent one
                // to every device.
                if !active
                    || !self.could_serve(user, conv)
                    || (!conv.urgent && online.contains(&user.id))
                {
                    continue;
                }
                sent += 1;
                let (pusher, store, s, body, urgent) = (
                    pusher.clone(),
                    self.store.clone(),
                    s.clone(),
                    body.clone(),
                    conv.urgent,
                );
                tokio::spawn(async move {
                    match pusher.push(&s, body.as_bytes(), urgent).await {
                        Ok(Delivery::Sent) => {
                            tracing::info!(user = s.user_id.0, urgent, "pushed a waiting chat")
                        }
                        Ok(Delivery::Gone) => {
                            tracing::info!(user = s.user_id.0, "a push subscription is gone");
                            let _ = store.remove_push_subscription(None, &s.endpoint).await;
                        }
                        Err(e) => {
                            tracing::warn!(user = s.user_id.0, error = %e, "a push failed")
                        }
                    }
                });
            }
        }
        sent
    }

    /// The console's address for links: the configured public address,
    /// else the path alone (the browser resolves it against the server).
    fn console_url(&self) -> String {
        match &self.notifications {
            Some(n) if !n.public_url.is_empty() => format!("{}/console", n.public_url),
            _ => "/console".into(),
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn a_push_says_a_count_and_a_link_only() {
        let p: serde_json::Value = serde_json::from_str(&payload(true, "/console")).unwrap();
        assert_eq!(p["title"], "Urgent chat waiting");
        assert_eq!(p["urgent"], true);
        assert_eq!(p["url"], "/console");
        assert_eq!(p.as_object().unwrap().len(), 5);
    }
}
