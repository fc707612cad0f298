//! Telling people outside the console: staff by a batched email that chats
//! are waiting, the on-call list by a text message when one is urgent, and
//! a patient who left their email or mobile number that the team answered.
//!
//! Nothing sent holds a patient's words or details: staff get counts and a
//! link to the console ("3 chats waiting, 1 urgent"); a patient gets a link
//! that opens the answer only after a one-time code sent to the same
//! address or number. The sending itself is the server's
//! ([`Notifier`]: SMTP and an SMS provider's HTTP API); the service decides
//! who is told what, and when.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use store::{ConvState, ConversationId, NewAudit, Role, UserId};

use crate::contact::ContactView;
use crate::tokens::{new_token, token_hash};
use crate::views::HistoryItem;
use crate::{Service, ServiceError, ServiceResult};

/// Sends email and text messages (the server's SMTP client and SMS
/// provider). Errors are words fit for the log: never the body or the
/// address.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Whether email is set up.
    fn can_email(&self) -> bool;
    /// Whether text messages are set up.
    fn can_sms(&self) -> bool;
    async fn email(&self, to: &str, subject: &str, body: &str) -> Result<(), String>;
    async fn sms(&self, to: &str, body: &str) -> Result<(), String>;
}

/// What the service needs to know to notify.
#[derive(Clone)]
pub struct Notifications {
    pub notifier: Arc<dyn Notifier>,
    /// The server's address as staff and patients reach it (links).
    pub public_url: String,
    /// One staff email per this many milliseconds at most.
    pub email_every_ms: u64,
    /// Numbers told by text message when a chat is urgent.
    pub on_call: Vec<String>,
}

/// How long a patient's link to the answer works.
pub const LINK_DAYS: i64 = 7;
/// How long a one-time code works.
pub const CODE_SECS: i64 = 10 * 60;
/// Wrong codes that end a link.
pub const MAX_CODE_FAILURES: u32 = 5;
/// A new code at most this often per link.
pub const CODE_EVERY_SECS: i64 = 60;
/// How often the waiting chats are counted for the staff emails.
const DIGEST_EVERY_MS: u64 = 10_000;

/// What was told to whom, in memory: the staff emails' batching.
#[derive(Default)]
pub(crate) struct Told {
    /// When the digest last ran.
    last_run_ms: u64,
    /// Per staff member: when their last email went, and the waiting chats
    /// it counted.
    staff: HashMap<UserId, (u64, HashSet<ConversationId>)>,
    /// Urgent chats the on-call list was told of.
    urgent: HashSet<ConversationId>,
    /// Waiting chats pushed to staff's phones, and whether as urgent
    /// ([`crate::push`]).
    pub(crate) pushed: HashSet<(ConversationId, bool)>,
}

pub(crate) type ToldState = Mutex<Told>;

/// The staff email's subject and body for `waiting` chats, `urgent` of
/// them urgent and `left` left as messages: counts and a link only.
pub fn digest_text(waiting: usize, urgent: usize, left: usize, console: &str) -> (String, String) {
    let chats = if waiting == 1 { "chat" } else { "chats" };
    let mut subject = format!("Carechat: {waiting} {chats} waiting");
    if urgent > 0 {
        subject.push_str(&format!(", {urgent} urgent"));
    }
    let mut parts = Vec::new();
    if urgent > 0 {
        parts.push(format!("{urgent} urgent"));
    }
    if left > 0 {
        parts.push(format!("{left} left a message"));
    }
    let detail = if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    };
    let body = format!(
        "{waiting} {chats} waiting for the team{detail}.\r\n\r\nOpen the console: {console}\r\n\r\n\
         This email never holds what patients wrote. You get at most one every few minutes \
         while your console is closed; an admin sets the address on your account.\r\n"
    );
    (subject, body)
}

impl Service {
    /// Email, text messages and links to answers ([`crate::notify`]).
    pub fn with_notifications(mut self, n: Notifications) -> Service {
        self.notifications = Some(n);
        self
    }

    /// Staff emails: run from the ticker; every few seconds it counts, for
    /// each staff member with an email address and no console open, the
    /// waiting chats they could serve, and emails them when one is new to
    /// them, at most once per `email_every_ms`. How many emails it sent off.
    pub(crate) async fn notify_staff(&self) -> usize {
        let Some(n) = &self.notifications else {
            return 0;
        };
        if !self.leads() {
            return 0;
        }
        if !n.notifier.can_email() {
            return 0;
        }
        let now = self.now_ms();
        {
            let mut told = self.told.lock().unwrap_or_else(|e| e.into_inner());
            if now.saturating_sub(told.last_run_ms) < DIGEST_EVERY_MS && told.last_run_ms != 0 {
                return 0;
            }
            told.last_run_ms = now;
        }
        let Ok(users) = self.store.users().await else {
            return 0;
        };
        let mut sent = 0;
        let online = self.clinicians_online();
        for user in users {
            let Some(email) = user.email.clone() else {
                continue;
            };
            if user.role == Role::Auditor
                || user.disabled_at.is_some()
                || user.removed_at.is_some()
                || online.contains(&user.id)
            {
                continue;
            }
            let Ok(visible) = self.visible_to(user.id).await else {
                continue;
            };
            let waiting: Vec<_> = visible
                .iter()
                .filter(|s| s.state == ConvState::Queued)
                .collect();
            let ids: HashSet<ConversationId> = waiting.iter().map(|s| s.id.clone()).collect();
            let due = {
                let mut told = self.told.lock().unwrap_or_else(|e| e.into_inner());
                let entry = told.staff.entry(user.id).or_default();
                let new = ids.iter().any(|id| !entry.1.contains(id));
                let rested = entry.0 == 0 || now.saturating_sub(entry.0) >= n.email_every_ms;
                if new && rested {
                    *entry = (now, ids.clone());
                    true
                } else {
                    // Chats that left the queue are forgotten, so that one
                    // coming back is news again.
                    entry.1.retain(|id| ids.contains(id));
                    false
                }
            };
            if !due {
                continue;
            }
            let urgent = waiting.iter().filter(|s| s.urgent).count();
            let left = waiting.iter().filter(|s| s.offline).count();
            let console = format!("{}/console", n.public_url);
            let (subject, body) = digest_text(waiting.len(), urgent, left, &console);
            let notifier = n.notifier.clone();
            let id = user.id;
            sent += 1;
            tokio::spawn(async move {
                match notifier.email(&email, &subject, &body).await {
                    Ok(()) => tracing::info!(user = id.0, "staff told of waiting chats by email"),
                    Err(e) => tracing::warn!(user = id.0, error = %e, "a staff email failed"),
                }
            });
        }
        sent
    }

    /// A chat became urgent: the on-call list is told by text message,
    /// once per chat, with no words of the patient's. Whether it did.
    pub(crate) fn alert_urgent(&self, conversation: &ConversationId) -> bool {
        let Some(n) = &self.notifications else {
            return false;
        };
        if !n.notifier.can_sms() || n.on_call.is_empty() {
            return false;
        }
        if !self
            .told
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .urgent
            .insert(conversation.clone())
        {
            return false;
        }
        let body = format!(
            "Carechat: an urgent chat is waiting. Open the console: {}/console",
            n.public_url
        );
        for number in n.on_call.clone() {
            let notifier = n.notifier.clone();
            let body = body.clone();
            let conversation = conversation.clone();
            tokio::spawn(async move {
                match notifier.sms(&number, &body).await {
                    Ok(()) => tracing::info!(
                        conversation = conversation.as_str(),
                        "on-call told of an urgent chat by text message"
                    ),
                    Err(e) => tracing::warn!(
                        conversation = conversation.as_str(),
                        error = %e,
                        "an urgent text message failed"
                    ),
                }
            });
        }
        true
    }

    /// Tells the patient who left their email or mobile number that the
    /// team answered: a link to `/reply`, which opens the answer after a
    /// one-time code. Only for staff who may see the chat, and only once
    /// someone wrote in it after the form was left.
    pub async fn notify_patient(
        &self,
        user: &store::User,
        id: i64,
        address: Option<String>,
    ) -> ServiceResult<ContactView> {
        let (form, conv) = self.handled_form(user, id, true).await?;
        let channel = form.fields.get("channel").map(String::as_str);
        let Some(n) = &self.notifications else {
            return Err(ServiceError::Conflict(
                "email and text messages are not set up on this server".into(),
            ));
        };
        let sendable = match channel {
            Some("email") => n.notifier.can_email(),
            Some("sms") => n.notifier.can_sms(),
            _ => {
                return Err(ServiceError::Conflict(
                    "the patient asked for a call back: call them".into(),
                ));
            }
        };
        if !sendable {
            return Err(ServiceError::Conflict(format!(
                "{} is not set up on this server",
                if channel == Some("email") {
                    "email"
                } else {
                    "text messaging"
                }
            )));
        }
        if !form.opened {
            return Err(ServiceError::Conflict(
                "the patient's details were not kept (no encryption)".into(),
            ));
        }
        let answered = self
            .store
            .messages(&conv.id)
            .await?
            .iter()
            .any(|m| m.sender == store::Sender::Clinician && m.created_at >= form.created_at);
        if !answered {
            return Err(ServiceError::Conflict(
                "answer in the chat first; the patient is sent a link to read it".into(),
            ));
        }
        let to = form.fields.get("contact").cloned().unwrap_or_default();
        let token = new_token().0;
        let expires = self.clock.now().plus_secs(LINK_DAYS * 86_400);
        self.store
            .add_reply_link(&token_hash(&token), id, expires)
            .await?;
        let link = format!("{}/reply#{token}", n.public_url);
        let clinic = self.clinic_name();
        let sent = if channel == Some("email") {
            let body = format!(
                "{clinic} answered the message you left.\r\n\r\nRead it here: {link}\r\n\r\n\
                 We will send a one-time code to this address when you open the link. \
                 The link works for {LINK_DAYS} days.\r\n"
            );
            n.notifier
                .email(&to, &format!("{clinic} answered your message"), &body)
                .await
        } else {
            n.notifier
                .sms(&to, &format!("{clinic} answered your message: {link}"))
                .await
        };
        if let Err(e) = sent {
            tracing::warn!(conversation = conv.id.as_str(), error = %e, "telling the patient failed");
            let _ = self.store.delete_reply_link(&token_hash(&token)).await;
            return Err(ServiceError::Conflict(format!(
                "the {} could not be sent; try again later",
                if channel == Some("email") {
                    "email"
                } else {
                    "text message"
                }
            )));
        }
        self.store.set_form_replied(id).await?;
        self.store
            .audit(
                NewAudit::new(
                    Some(user.id),
                    "contact_notify",
                    conv.id.as_str(),
                    channel.unwrap_or_default(),
                )
                .from_address(address),
            )
            .await?;
        let form = self.store.form(id, true).await?;
        Ok(self.contact_view(form, &conv).await)
    }

    /// The link's one-time code, sent to the address or number the patient
    /// left. `NotFound` alike for a link that never was, was ended or has
    /// expired.
    pub async fn send_reply_code(&self, token: &str) -> ServiceResult<()> {
        let (hash, link) = self.live_link(token).await?;
        let now = self.clock.now();
        if let Some(until) = link.code_expires_at
            && until.unix() - CODE_SECS + CODE_EVERY_SECS > now.unix()
        {
            return Err(ServiceError::RateLimited {
                retry_after_secs: (until.unix() - CODE_SECS + CODE_EVERY_SECS - now.unix()).max(1)
                    as u64,
            });
        }
        let n = self
            .notifications
            .as_ref()
            .ok_or(ServiceError::NotFound("no such link"))?;
        let form = self.store.form(link.form_id, true).await?;
        let to = form.fields.get("contact").cloned().unwrap_or_default();
        let code = six_digits();
        self.store
            .set_reply_code(&hash, &code_hash(token, &code), now.plus_secs(CODE_SECS))
            .await?;
        let clinic = self.clinic_name();
        let text = format!("Your {clinic} code is {code}. It works for 10 minutes.");
        let sent = match form.fields.get("channel").map(String::as_str) {
            Some("email") => {
                n.notifier
                    .email(&to, &format!("Your {clinic} code"), &text)
                    .await
            }
            _ => n.notifier.sms(&to, &text).await,
        };
        sent.map_err(|e| {
            tracing::warn!(conversation = link.conversation_id.as_str(), error = %e, "a code was not sent");
            ServiceError::Busy
        })?;
        self.store
            .audit(NewAudit::new(
                None,
                "reply_code",
                link.conversation_id.as_str(),
                "",
            ))
            .await?;
        Ok(())
    }

    /// The conversation as the patient reads it, for the holder of the
    /// link and its code. A wrong code counts; [`MAX_CODE_FAILURES`] end
    /// the link.
    pub async fn read_reply(&self, token: &str, code: &str) -> ServiceResult<Vec<HistoryItem>> {
        let (hash, link) = self.live_link(token).await?;
        let now = self.clock.now();
        let fresh = link.code_expires_at.is_some_and(|t| t > now);
        let right = fresh
            && link
                .code_hash
                .as_deref()
                // Hashes of a random token and the code: nothing to learn
                // from how long the comparison takes.
                .is_some_and(|h| h == code_hash(token, code.trim()));
        if !right {
            let failures = self.store.reply_code_failed(&hash).await?;
            if failures >= MAX_CODE_FAILURES {
                self.store.delete_reply_link(&hash).await?;
                self.store
                    .audit(NewAudit::new(
                        None,
                        "reply_link_ended",
                        link.conversation_id.as_str(),
                        "",
                    ))
                    .await?;
            }
            return Err(ServiceError::Forbidden(
                "that code is not right, or it has expired; ask for a new one",
            ));
        }
        let conv = self.store.conversation(&link.conversation_id).await?;
        let history = self.patient_history(&conv).await;
        self.store
            .audit(NewAudit::new(None, "reply_read", conv.id.as_str(), ""))
            .await?;
        Ok(history)
    }

    async fn live_link(&self, token: &str) -> ServiceResult<(String, store::ReplyLink)> {
        let hash = token_hash(token);
        let link = self
            .store
            .reply_link(&hash)
            .await
            .map_err(ServiceError::not_found("no such link"))?;
        if link.expires_at <= self.clock.now() {
            return Err(ServiceError::NotFound("no such link"));
        }
        Ok((hash, link))
    }

    fn clinic_name(&self) -> String {
        if self.clinic.name.is_empty() {
            "The clinic".into()
        } else {
            self.clinic.name.clone()
        }
    }
}

/// Six random digits.
fn six_digits() -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("the system's random source");
    format!("{:06}", u64::from_le_bytes(b) % 1_000_000)
}

/// A code is only good with its link: the two hashed together.
fn code_hash(token: &str, code: &str) -> String {
    token_hash(&format!("{token}:{code}"))
}
