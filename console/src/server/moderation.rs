//! Blocking an identified spammer, and the audit trail.
//!
//! A patient's browser is known by two keyed hashes recorded when its socket
//! opens ([`Identity`]): the widget's random browser id (kept in the
//! browser's `localStorage`) and the client's IP address. An admin blocks a
//! conversation's sender by either or both; a blocked browser or address can
//! no longer open or resume a chat, and is told to call the clinic instead.
//!
//! Blocking a real patient is far worse than letting a spam message through,
//! so an address shared by many browsers (a clinic's own network, a mobile
//! carrier's NAT, a reverse proxy the server was not told about) is refused
//! unless the admin insists: blocking it would lock out everyone behind it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use bot_engine::Messages;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState, Shared};
use crate::store::{
    Block, BlockKind, ConvState, ConvUpdate, NewBlock, Role, Sender, StoreError, User,
};

/// Distinct browsers seen from one address above which blocking that address
/// needs `force`: more than a household, fewer than a shared network.
pub const SHARED_ADDRESS_BROWSERS: i64 = 5;
/// The longest block reason kept; it is redacted before it is stored.
pub const MAX_REASON_CHARS: usize = 200;

/// Who a patient's browser is, as keyed hashes. Either may be missing: an
/// old widget sends no browser id, and a test harness may have no peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub fingerprint: Option<String>,
    pub address: Option<String>,
}

/// The client's IP address: the TCP peer, or, when the peer is one of the
/// configured `trusted_proxies`, the nearest address in `X-Forwarded-For`
/// that is not itself a trusted proxy.
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<Shared> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, s: &Shared) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddr(
            peer.map(|p| client_ip(p, &parts.headers, &s.trusted_proxies)),
        ))
    }
}

fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    // Right to left: each trusted proxy appended the address it saw.
    forwarded
        .into_iter()
        .rev()
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
}

/// The widget's browser id, if it is one: 16 to 64 characters of `[0-9A-Za-z_-]`.
fn browser_id(raw: Option<&str>) -> Option<&str> {
    raw.filter(|v| {
        (16..=64).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[derive(Deserialize)]
pub struct BlockRequest {
    #[serde(default)]
    reason: String,
    /// What to block by; both when absent.
    #[serde(default)]
    by: Option<Vec<BlockKind>>,
    /// Block an address even when many browsers share it.
    #[serde(default)]
    force: bool,
}

fn admin_only(user: &User) -> Result<(), ApiError> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only an admin can do that"))
    }
}

impl AppState {
    /// The keyed hashes of a connecting browser.
    pub fn identity(&self, browser: Option<&str>, addr: Option<IpAddr>) -> Identity {
        Identity {
            fingerprint: browser_id(browser).map(|b| self.identity_key.hash("browser", b)),
            address: addr.map(|a| self.identity_key.hash("address", &a.to_string())),
        }
    }

    /// Whether either of the identities is blocked.
    pub async fn blocked(&self, who: &Identity) -> Result<bool, ApiError> {
        Ok(self
            .store
            .is_blocked(who.fingerprint.as_deref(), who.address.as_deref())
            .await?)
    }

    /// Blocks the sender of `conversation` and closes it.
    pub async fn block_sender(
        &self,
        conversation: &str,
        admin: &User,
        req: BlockRequest,
    ) -> Result<Vec<Block>, ApiError> {
        admin_only(admin)?;
        if req.reason.chars().count() > MAX_REASON_CHARS {
            return Err(ApiError::BadRequest(format!(
                "the reason is longer than {MAX_REASON_CHARS} characters"
            )));
        }
        let conv = self
            .store
            .conversation(conversation)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => ApiError::NotFound("no such conversation"),
                e => e.into(),
            })?;
        let kinds = req
            .by
            .unwrap_or_else(|| vec![BlockKind::Fingerprint, BlockKind::Address]);
        if kinds.is_empty() {
            return Err(ApiError::BadRequest(
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
                return Err(ApiError::Conflict(format!(
                    "this conversation has no recorded {}",
                    kind.as_str()
                )));
            };
            if kind == BlockKind::Address && !req.force {
                let browsers = self.store.browsers_at(&value).await?;
                if browsers > SHARED_ADDRESS_BROWSERS {
                    return Err(ApiError::Conflict(format!(
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
            self.bot()?.scrubber().redact(req.reason.trim()).await?.text
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
                })
                .await
            {
                Ok(b) => blocks.push(b),
                // Already blocked, by this or another conversation.
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
        }
        tracing::info!(conversation, blocks = blocks.len(), "sender blocked");
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
        conversation: &str,
        language: Option<&str>,
    ) -> Result<(), ApiError> {
        let (freed, _) = self.end_conversation(conversation).await?;
        let text = Messages::render(
            &self.whitelist.messages.blocked,
            language.unwrap_or("en"),
            &[],
        );
        // Stored, like every text, redacted: only once the redactor is up.
        if let Some(bot) = self.bot.get() {
            self.store
                .add_message(crate::store::NewMessage {
                    conversation_id: conversation.to_string(),
                    sender: Sender::System,
                    user_id: None,
                    redacted_text: bot.scrubber().redact(&text).await?.text,
                    intent: None,
                    confidence: None,
                    spam_score: None,
                    translation: None,
                })
                .await?;
        }
        self.hub.to_patient(
            conversation,
            &json!({"type": "error", "code": "sender_blocked", "message": text}),
        );
        self.hub.forget(conversation);
        self.apply_assignments(freed).await;
        self.broadcast_queue().await;
        Ok(())
    }

    pub async fn unblock(&self, id: i64, admin: &User) -> Result<Block, ApiError> {
        admin_only(admin)?;
        let block = self
            .store
            .lift_block(id, admin.id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => ApiError::NotFound("no such active block"),
                e => e.into(),
            })?;
        tracing::info!(block = id, "sender unblocked");
        Ok(block)
    }

    /// Puts a conversation on the held list: its message read like spam on
    /// its words alone, so a person looks before anyone is blocked. Staff
    /// with a console open are told.
    pub(super) async fn hold(&self, conversation: &str) -> Result<(), ApiError> {
        self.set_held(conversation, true).await?;
        for user in self.hub.online_clinicians() {
            self.hub
                .to_clinician(user, &json!({"type": "held", "conversation": conversation}));
        }
        tracing::info!(conversation, "message held for staff to look at");
        Ok(())
    }

    /// The held list, for any staff member: each conversation with its
    /// patient messages (redacted, as stored).
    pub async fn held(&self) -> Result<Vec<serde_json::Value>, ApiError> {
        let mut out = Vec::new();
        for c in self.store.held_conversations().await? {
            let messages: Vec<_> = self
                .store
                .messages(&c.id)
                .await?
                .into_iter()
                .filter(|m| m.sender == Sender::Patient)
                .map(|m| json!({"id": m.id, "text": m.text, "at": m.created_at}))
                .collect();
            out.push(json!({
                "conversation": c.id,
                "state": c.state,
                "language": c.language,
                "updated_at": c.updated_at,
                "messages": messages,
            }));
        }
        Ok(out)
    }

    /// Takes a conversation off the held list without blocking anyone (it
    /// was a patient after all, or harmless); the chat stays where it is.
    pub async fn dismiss_held(&self, conversation: &str, user: &User) -> Result<(), ApiError> {
        let conv = self
            .store
            .conversation(conversation)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => ApiError::NotFound("no such conversation"),
                e => e.into(),
            })?;
        if !conv.held {
            return Err(ApiError::Conflict("the conversation is not held".into()));
        }
        self.set_held(conversation, false).await?;
        self.store
            .audit(Some(user.id), "dismiss_held", conversation, "")
            .await?;
        Ok(())
    }

    /// Sets or clears the held mark (cleared once a person has looked, or
    /// taken the chat).
    pub(super) async fn set_held(&self, conversation: &str, held: bool) -> Result<(), ApiError> {
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

    pub async fn blocks(&self, admin: &User) -> Result<Vec<Block>, ApiError> {
        admin_only(admin)?;
        Ok(self.store.active_blocks().await?)
    }

    pub async fn audit_log(&self, admin: &User) -> Result<serde_json::Value, ApiError> {
        admin_only(admin)?;
        Ok(json!({"entries": self.store.audit_log(500).await?}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ip_believes_forwarded_for_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 10.0.0.2".parse().unwrap());
        // From an untrusted peer the header is the client's own claim.
        let peer: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(client_ip(peer, &headers, &[proxy]), peer);
        // From the proxy: the nearest untrusted hop.
        assert_eq!(
            client_ip(proxy, &headers, &[proxy]),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // A trusted proxy with no usable header is itself the client.
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }

    #[test]
    fn browser_ids_must_look_like_the_widgets() {
        assert_eq!(
            browser_id(Some("0123456789abcdef0123456789abcdef")),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(browser_id(Some("short")), None);
        assert_eq!(browser_id(Some("0123456789abcdef<script>")), None);
        assert_eq!(browser_id(Some(&"a".repeat(65))), None);
        assert_eq!(browser_id(None), None);
    }
}
