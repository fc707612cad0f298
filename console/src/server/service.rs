//! Conversation logic shared by the patient socket and the clinician API:
//! storing (redacted) messages, escalating, assigning, closing, and telling
//! every connected party what changed.

use std::sync::Arc;

use bot_engine::{Action, Assessment, Messages, Whisper};
use router::{Assignment, Presence, Request, Routed};
use serde::Serialize;
use serde_json::json;

use super::shapes::{Summary, Translation, check_text, now_ms, request_for, route_error};
use super::{ApiError, AppState};
use crate::store::{ConvState, ConvUpdate, Conversation, Message, NewMessage, Sender, User};

#[derive(Debug, Serialize)]
pub struct MessageView {
    pub id: i64,
    pub from: Sender,
    pub text: String,
    pub at: String,
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
}

#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: crate::store::Role,
    pub status: Presence,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
}

impl AppState {
    pub fn user_view(&self, u: &User) -> UserView {
        let status = self
            .hub
            .router()
            .clinician(u.id)
            .map(|c| c.presence())
            .unwrap_or(Presence::Offline);
        UserView {
            id: u.id,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role: u.role,
            status,
            skills: u.skills.clone(),
            languages: u.languages.clone(),
        }
    }

    pub async fn message_view(&self, m: &Message) -> MessageView {
        let name = match m.user_id {
            Some(id) => self.store.user(id).await.ok().map(|u| u.display_name),
            None => None,
        };
        MessageView {
            id: m.id,
            from: m.sender,
            text: m.text.clone(),
            at: m.created_at.clone(),
            name,
            intent: m.intent.clone(),
            confidence: m.confidence,
            translation: m.translation.as_ref().map(Translation::from_stored),
        }
    }

    pub async fn summary(&self, c: &Conversation) -> Summary {
        let assigned_name = match c.assigned_to {
            Some(id) => self.store.user(id).await.ok().map(|u| u.display_name),
            None => None,
        };
        // One lock, released before the struct is built: a second
        // `router()` in the same statement would wait on the first.
        let (position, offered_to) = {
            let router = self.hub.router();
            (
                router.position(&c.id),
                router.offer(&c.id).map(|o| o.clinician),
            )
        };
        let wait_s = self.wait_s(&c.id);
        Summary {
            id: c.id.clone(),
            state: c.state,
            urgent: c.urgent,
            language: c.language.clone(),
            assigned_to: c.assigned_to,
            assigned_name,
            created_at: c.created_at.clone(),
            updated_at: c.updated_at.clone(),
            position,
            offline: c.offline,
            offered_to,
            wait_s,
            whisper: c
                .whisper
                .as_deref()
                .and_then(|w| serde_json::from_str(w).ok()),
        }
    }

    /// The router's wait estimate for a queued chat, in whole seconds.
    pub fn wait_s(&self, conversation: &str) -> Option<u64> {
        self.hub
            .router()
            .wait_estimate(conversation, now_ms())
            .map(|w| w.estimate_ms.div_ceil(1000))
    }

    /// The queue (urgent first, then oldest) and `user`'s own open chats.
    pub async fn visible_to(&self, user: i64) -> Result<Vec<Summary>, ApiError> {
        let open = self.store.open_conversations().await?;
        let mut out = Vec::new();
        for c in &open {
            if c.state == ConvState::Queued || c.assigned_to == Some(user) {
                out.push(self.summary(c).await);
            }
        }
        out.sort_by_key(|s| (s.position.is_none(), s.position, s.created_at.clone()));
        Ok(out)
    }

    /// Tells every connected clinician their new view, and every waiting
    /// patient their place in line.
    pub async fn broadcast_queue(&self) {
        for user in self.hub.online_clinicians() {
            if let Ok(conversations) = self.visible_to(user).await {
                self.hub.to_clinician(
                    user,
                    &json!({"type": "queue", "conversations": conversations}),
                );
            }
        }
        let queue = self.hub.router().queue();
        for (i, q) in queue.iter().enumerate() {
            if self.hub.patient_connected(&q.conversation) {
                self.hub.to_patient(
                    &q.conversation,
                    &json!({"type": "status", "state": "queued", "position": i + 1,
                        "urgent": q.urgent, "wait_s": self.wait_s(&q.conversation)}),
                );
            }
        }
    }

    /// Stores a message (its text must be redacted) and sends the patient the
    /// `shown` text, which is what they or the bot actually wrote.
    async fn say(
        &self,
        conversation: &str,
        sender: Sender,
        redacted: String,
        shown: &str,
        user: Option<&User>,
    ) -> Result<Message, ApiError> {
        self.say_translated(conversation, sender, redacted, shown, user, None)
            .await
    }

    /// As [`Self::say`], with a machine translation for the patient: they
    /// get the translation, with the original beside it.
    async fn say_translated(
        &self,
        conversation: &str,
        sender: Sender,
        redacted: String,
        shown: &str,
        user: Option<&User>,
        translation: Option<Translation>,
    ) -> Result<Message, ApiError> {
        let m = self
            .store_text(conversation, sender, redacted, user, translation.as_ref())
            .await?;
        let mut frame =
            json!({"type": "message", "from": sender, "text": shown, "at": m.created_at});
        if let Some(t) = &translation {
            frame["text"] = json!(t.text);
            frame["original"] = json!(shown);
            frame["machine_translated"] = json!(true);
        }
        if let Some(u) = user {
            frame["name"] = json!(u.display_name);
        }
        self.hub.to_patient(conversation, &frame);
        Ok(m)
    }

    /// Stores a bot, system or clinician message (`text` redacted where it
    /// needs to be) without telling anyone.
    async fn store_text(
        &self,
        conversation: &str,
        sender: Sender,
        text: String,
        user: Option<&User>,
        translation: Option<&Translation>,
    ) -> Result<Message, ApiError> {
        Ok(self
            .store
            .add_message(NewMessage {
                conversation_id: conversation.to_string(),
                sender,
                user_id: user.map(|u| u.id),
                redacted_text: text,
                intent: None,
                confidence: None,
                spam_score: None,
                translation: translation.map(Translation::stored),
            })
            .await?)
    }

    /// Bot and system texts are the clinic's own words from the whitelist:
    /// stored as written, never redacted (a redactor would misquote the
    /// clinic, "vaya a la sala" becoming "[NAME] a la sala"). The start-up
    /// check warns when one of them looks like it holds PHI
    /// ([`bot_engine::Bot::phi_in_canned_text`]).
    pub(super) async fn say_canned(
        &self,
        conversation: &str,
        sender: Sender,
        text: &str,
    ) -> Result<Message, ApiError> {
        self.say(conversation, sender, text.to_string(), text, None)
            .await
    }

    /// A patient message that fired a red flag ([`bot_engine::Bot::emergency`],
    /// decided on the text in memory before any model queue). The patient is
    /// told to call 911 before anything else happens; the message is then
    /// redacted through the PII model's urgent lane (never "busy"), stored,
    /// and the chat jumps the queue.
    async fn patient_emergency(
        &self,
        conv: &Conversation,
        text: &str,
        emergency: bot_engine::Emergency,
    ) -> Result<(), ApiError> {
        let conversation = conv.id.as_str();
        self.hub.set_language(conversation, &emergency.language);
        // An urgent chat had the emergency reply already.
        let reply = (!conv.urgent).then(|| emergency.reply.clone());
        if let Some(reply) = &reply {
            self.hub.to_patient(
                conversation,
                &json!({"type": "message", "from": Sender::Bot, "text": reply,
                    "at": crate::store::rfc3339(crate::store::unix_now())}),
            );
        }
        let redacted = self.bot()?.scrubber().redact_urgent(text).await?;
        let a = emergency.assessment(redacted);
        let stored = self.store_patient_message(conversation, &a, None).await?;
        if let Some(reply) = &reply {
            // Already on the patient's screen: stored, not sent again.
            self.store_text(conversation, Sender::Bot, reply.clone(), None, None)
                .await?;
        }
        match conv.state {
            ConvState::Bot => self.escalate(conv, &a).await,
            ConvState::Queued | ConvState::Assigned => {
                if !conv.urgent {
                    self.make_urgent(conv, &a).await?;
                }
                if let Some(user) = conv.assigned_to {
                    self.live_to_clinician(user, conversation, &stored, text, None);
                }
                Ok(())
            }
            ConvState::Closed => unreachable!("checked by the caller"),
        }
    }

    /// Stores a patient message in its redacted form, with what the bot
    /// made of it.
    async fn store_patient_message(
        &self,
        conversation: &str,
        a: &Assessment,
        translation: Option<&Translation>,
    ) -> Result<Message, ApiError> {
        let stored = self
            .store
            .add_message(NewMessage {
                conversation_id: conversation.to_string(),
                sender: Sender::Patient,
                user_id: None,
                redacted_text: a.redacted.clone(),
                intent: a.intent.clone(),
                confidence: Some(a.confidence),
                spam_score: Some(a.spam_score),
                translation: translation.map(Translation::stored),
            })
            .await?;
        tracing::info!(
            conversation,
            action = ?a.action,
            intent = a.intent.as_deref().unwrap_or("-"),
            confidence = a.confidence,
            language = %a.language,
            phi_spans = a.spans.len(),
            "patient message"
        );
        Ok(stored)
    }

    /// Live, in memory only: the clinician who has the chat reads what the
    /// patient typed; the stored copy is redacted.
    fn live_to_clinician(
        &self,
        user: i64,
        conversation: &str,
        stored: &Message,
        text: &str,
        translation: Option<Translation>,
    ) {
        let view = MessageView {
            id: stored.id,
            from: Sender::Patient,
            text: text.to_string(),
            at: stored.created_at.clone(),
            name: None,
            intent: stored.intent.clone(),
            confidence: stored.confidence,
            translation,
        };
        self.hub.to_clinician(
            user,
            &json!({"type": "message", "conversation": conversation, "message": view}),
        );
    }

    /// One message from a patient, through the whole pipeline.
    pub async fn patient_message(&self, conversation: &str, text: &str) -> Result<(), ApiError> {
        check_text(text)?;
        let bot = self.bot()?.clone();
        let conv = self.store.conversation(conversation).await?;
        if conv.state == ConvState::Closed {
            return Err(ApiError::Conflict("the conversation is closed".into()));
        }
        let (repeats, recent) = self.hub.note_message(conversation, text);
        let ctx = bot_engine::Context {
            previous_language: self.hub.language(conversation).or(conv.language.clone()),
            browser_language: conv.browser_language.clone(),
            previous_skill: self.hub.topic(conversation),
            repeats,
            recent,
            known_bad_sender: self.hub.known_bad(conversation),
        };
        // Emergencies first: decided on the text in memory, before the
        // model queues that may answer "busy".
        if let Some(emergency) = bot.emergency(text, &ctx) {
            return self.patient_emergency(&conv, text, emergency).await;
        }
        let a = bot.assess_ordinary(text, &ctx).await?;
        self.hub.set_language(conversation, &a.language);
        if a.action == Action::Answer
            && let Some(intent) = a.intent.as_deref().and_then(|id| self.whitelist.intent(id))
        {
            self.hub.set_topic(conversation, &intent.skill);
        }
        if a.action == Action::Block {
            self.hub.mark_spam(conversation);
        }
        // For a clinician who does not read the patient's language, a
        // translation of the redacted text goes beside it.
        let translation = match (conv.state, conv.assigned_to) {
            (ConvState::Assigned, Some(user)) => match self.translation_plan(&a.language, user) {
                Some((from, to)) => self.translate(&a.redacted, &from, &to).await,
                None => None,
            },
            _ => None,
        };
        let stored = self
            .store_patient_message(conversation, &a, translation.as_ref())
            .await?;
        match conv.state {
            ConvState::Queued | ConvState::Assigned => {
                if a.action == Action::Urgent && !conv.urgent {
                    self.say_canned(conversation, Sender::Bot, &a.reply).await?;
                    self.make_urgent(&conv, &a).await?;
                }
                if let Some(user) = conv.assigned_to {
                    self.live_to_clinician(user, conversation, &stored, text, translation);
                }
                Ok(())
            }
            ConvState::Bot => match a.action {
                Action::Answer => {
                    self.say_canned(conversation, Sender::Bot, &a.reply).await?;
                    Ok(())
                }
                Action::Block => {
                    self.say_canned(conversation, Sender::System, &a.reply)
                        .await?;
                    Ok(())
                }
                Action::Hold => {
                    // On the staff's list before the patient is told a
                    // person will look at it.
                    self.hold(conversation).await?;
                    self.say_canned(conversation, Sender::System, &a.reply)
                        .await?;
                    Ok(())
                }
                Action::Escalate | Action::Urgent => {
                    self.say_canned(conversation, Sender::Bot, &a.reply).await?;
                    self.escalate(&conv, &a).await
                }
            },
            ConvState::Closed => unreachable!("checked above"),
        }
    }

    async fn whisper_for(&self, conversation: &str, a: &Assessment) -> Result<String, ApiError> {
        let history: Vec<String> = self
            .store
            .messages(conversation)
            .await?
            .into_iter()
            .filter(|m| m.sender == Sender::Patient)
            .map(|m| m.text)
            .collect();
        let whisper = Whisper::new(a, &self.whitelist, &history);
        serde_json::to_string(&whisper).map_err(|e| ApiError::Internal(e.into()))
    }

    async fn escalate(&self, conv: &Conversation, a: &Assessment) -> Result<(), ApiError> {
        let urgent = a.action == Action::Urgent;
        let whisper = self.whisper_for(&conv.id, a).await?;
        let queued = self
            .store
            .update_conversation(
                &conv.id,
                ConvUpdate {
                    state: Some(ConvState::Queued),
                    urgent: Some(urgent),
                    language: Some(a.language.clone()),
                    skill: Some(a.skill.clone()),
                    whisper: Some(whisper),
                    ..Default::default()
                },
            )
            .await?;
        let routed = self
            .hub
            .router()
            .route(request_for(&queued))
            .map_err(|e| ApiError::Internal(e.into()))?;
        if let Some(position) = self.carry_out(&conv.id, routed, urgent).await? {
            self.hub.to_patient(
                &conv.id,
                &json!({"type": "status", "state": "queued", "position": position,
                    "urgent": urgent, "wait_s": self.wait_s(&conv.id)}),
            );
            let messages = &self.whitelist.messages;
            // An urgent chat is never told to leave a message: it has the
            // emergency reply, and is first in line for whoever comes.
            let text = if urgent {
                Messages::render(&messages.urgent, &a.language, &[])
            } else if self.hub.online_clinicians().is_empty() {
                Messages::render(&messages.offline, &a.language, &[])
            } else {
                Messages::render(
                    &messages.queued,
                    &a.language,
                    &[("position", &position.to_string())],
                )
            };
            self.say_canned(&conv.id, Sender::System, &text).await?;
        }
        self.broadcast_queue().await;
        Ok(())
    }

    /// Carries out what the router decided for a chat that asked for a
    /// person. A queued chat's position is returned for the caller to tell.
    async fn carry_out(
        &self,
        conversation: &str,
        routed: Routed,
        urgent: bool,
    ) -> Result<Option<usize>, ApiError> {
        match routed {
            Routed::Assigned(user) => {
                self.assigned(conversation, user).await?;
            }
            Routed::Offered {
                clinician,
                expires_at,
            } => {
                // Offered is not yet taken: the patient still waits.
                self.hub.to_patient(
                    conversation,
                    &json!({"type": "status", "state": "queued", "position": null, "urgent": urgent}),
                );
                self.offered(conversation, clinician, expires_at);
            }
            Routed::Offline => self.went_offline(conversation).await?,
            Routed::Queued { position } => return Ok(Some(position)),
            _ => {}
        }
        Ok(None)
    }

    /// A red flag in a chat already with staff (waiting, or left through the
    /// contact form, or with a clinician): it jumps the queue.
    async fn make_urgent(&self, conv: &Conversation, a: &Assessment) -> Result<(), ApiError> {
        let queued = conv.state == ConvState::Queued;
        self.store
            .update_conversation(
                &conv.id,
                ConvUpdate {
                    urgent: Some(true),
                    // A message left for staff becomes a chat in line again.
                    offline: queued.then_some(false),
                    whisper: Some(self.whisper_for(&conv.id, a).await?),
                    ..Default::default()
                },
            )
            .await?;
        if queued {
            let routed = {
                let mut router = self.hub.router();
                let _ = router.release(&conv.id, now_ms());
                let mut request = Request::new(&conv.id, &a.language, now_ms()).with_urgent(true);
                if let Some(skill) = a.skill.as_ref().or(conv.skill.as_ref()) {
                    request = request.with_skill(skill);
                }
                if let Some(state) = &conv.license_state {
                    request = request.with_license_state(state);
                }
                router.route(request)
            };
            if let Ok(routed) = routed
                && let Some(position) = self.carry_out(&conv.id, routed, true).await?
            {
                self.hub.to_patient(
                    &conv.id,
                    &json!({"type": "status", "state": "queued", "position": position,
                        "urgent": true, "wait_s": self.wait_s(&conv.id)}),
                );
                let text = Messages::render(&self.whitelist.messages.urgent, &a.language, &[]);
                self.say_canned(&conv.id, Sender::System, &text).await?;
            }
        }
        self.broadcast_queue().await;
        Ok(())
    }

    /// Records that `user` has the chat and tells both sides.
    pub(super) async fn assigned(
        &self,
        conversation: &str,
        user: i64,
    ) -> Result<Summary, ApiError> {
        let conv = self
            .store
            .update_conversation(
                conversation,
                ConvUpdate {
                    state: Some(ConvState::Assigned),
                    assigned_to: Some(Some(user)),
                    offline: Some(false),
                    ..Default::default()
                },
            )
            .await?;
        let clinician = self.store.user(user).await?;
        self.hub.to_patient(
            conversation,
            &json!({"type": "status", "state": "assigned", "clinician": clinician.display_name}),
        );
        let language = conv.language.clone().unwrap_or_else(|| "en".into());
        let text = Messages::render(
            &self.whitelist.messages.assigned,
            &language,
            &[("name", &clinician.display_name)],
        );
        self.say_canned(conversation, Sender::System, &text).await?;
        self.hub.to_clinician(
            user,
            &json!({"type": "assigned", "conversation": conversation}),
        );
        Ok(self.summary(&conv).await)
    }

    pub(super) async fn apply_assignments(&self, assignments: Vec<Assignment>) {
        for a in assignments {
            if let Some(expires_at) = a.offer_expires_at {
                self.offered(&a.conversation, a.clinician, expires_at);
                continue;
            }
            if let Err(e) = self.assigned(&a.conversation, a.clinician).await {
                tracing::error!(conversation = %a.conversation, error = %e, "recording an assignment");
            }
        }
    }

    /// Makes sure the router knows `user` with their current profile, and
    /// records any chats that a changed profile (a new skill, more capacity)
    /// lets the router hand them.
    pub async fn sync_clinician(&self, user: &User) {
        let assignments = self.know(user);
        if !assignments.is_empty() {
            self.apply_assignments(assignments).await;
            self.broadcast_queue().await;
        }
    }

    pub(super) fn know(&self, user: &User) -> Vec<Assignment> {
        let profile = router::Clinician::new(user.id, &user.display_name)
            .with_skills(user.skills.clone())
            .with_languages(
                user.languages
                    .iter()
                    .filter_map(|l| super::shapes::clinician_language(l)),
            )
            .with_max_chats(user.max_chats)
            .with_licensed_states(user.licensed_states.clone());
        self.hub.router().upsert_clinician(profile, now_ms())
    }

    pub async fn set_presence(&self, user: &User, presence: Presence) -> Result<(), ApiError> {
        let mut assignments = self.know(user);
        let more = self
            .hub
            .router()
            .set_presence(user.id, presence, now_ms())
            .map_err(|e| ApiError::Internal(e.into()))?;
        assignments.extend(more);
        self.apply_assignments(assignments).await;
        self.broadcast_queue().await;
        Ok(())
    }

    pub async fn take(&self, conversation: &str, user: &User) -> Result<Summary, ApiError> {
        let conv = self.store.conversation(conversation).await?;
        match conv.state {
            ConvState::Closed => {
                return Err(ApiError::Conflict("the conversation is closed".into()));
            }
            ConvState::Bot => {
                return Err(ApiError::Conflict(
                    "the bot still has this conversation".into(),
                ));
            }
            ConvState::Assigned if conv.assigned_to == Some(user.id) => {
                return Ok(self.summary(&conv).await);
            }
            _ => {}
        }
        self.apply_assignments(self.know(user)).await;
        let taken = {
            let mut router = self.hub.router();
            if conv.state == ConvState::Queued && router.outcome(conversation).is_none() {
                // Left through the contact form: the router let it go, so
                // this is a clinician picking it up by hand.
                router.start(request_for(&conv), user.id, now_ms())
            } else {
                router.take(conversation, user.id, now_ms())
            }
        };
        taken.map_err(route_error)?;
        let summary = self.assigned(conversation, user.id).await?;
        self.store
            .audit(Some(user.id), "take", conversation, "")
            .await?;
        self.broadcast_queue().await;
        Ok(summary)
    }

    pub async fn clinician_message(
        &self,
        conversation: &str,
        user: &User,
        text: &str,
    ) -> Result<MessageView, ApiError> {
        check_text(text)?;
        let conv = self.store.conversation(conversation).await?;
        if conv.state != ConvState::Assigned || conv.assigned_to != Some(user.id) {
            return Err(ApiError::Forbidden("take the chat before replying"));
        }
        // Clinicians type PHI too (confirming a date of birth, say).
        let redacted = self.bot()?.scrubber().redact(text).await?.text;
        // The patient reads their own language: the clinician's message is
        // translated the other way from the plan for the patient's.
        let translation = match conv
            .language
            .as_deref()
            .and_then(|l| self.translation_plan(l, user.id))
        {
            Some((patient, clinician)) => self.translate(&redacted, &clinician, &patient).await,
            None => None,
        };
        let m = self
            .say_translated(
                conversation,
                Sender::Clinician,
                redacted,
                text,
                Some(user),
                translation.clone(),
            )
            .await?;
        Ok(MessageView {
            id: m.id,
            from: Sender::Clinician,
            text: text.to_string(),
            at: m.created_at,
            name: Some(user.display_name.clone()),
            intent: None,
            confidence: None,
            translation,
        })
    }

    /// Takes a chat out of the router (queue, offer or clinician) and marks
    /// it closed; returns the chats the freed place let the router hand out.
    pub(super) async fn end_conversation(
        &self,
        conversation: &str,
    ) -> Result<(Vec<Assignment>, Conversation), ApiError> {
        // A chat the router no longer knows (left through the contact
        // form) has nothing to release.
        let freed = self
            .hub
            .router()
            .release(conversation, now_ms())
            .unwrap_or_default();
        let conv = self
            .store
            .update_conversation(
                conversation,
                ConvUpdate {
                    state: Some(ConvState::Closed),
                    ..Default::default()
                },
            )
            .await?;
        Ok((freed, conv))
    }

    pub async fn close(&self, conversation: &str, user: &User) -> Result<Summary, ApiError> {
        let conv = self.store.conversation(conversation).await?;
        if conv.state == ConvState::Closed {
            return Ok(self.summary(&conv).await);
        }
        let mine = conv.assigned_to == Some(user.id);
        if !mine && user.role != crate::store::Role::Admin {
            return Err(ApiError::Forbidden(
                "only the clinician who has the chat can close it",
            ));
        }
        let (freed, conv) = self.end_conversation(conversation).await?;
        self.store
            .audit(Some(user.id), "close", conversation, "")
            .await?;
        let language = conv.language.clone().unwrap_or_else(|| "en".into());
        let text = Messages::render(&self.whitelist.messages.closed, &language, &[]);
        if self.bot.get().is_some() {
            self.say_canned(conversation, Sender::System, &text).await?;
        }
        self.hub
            .to_patient(conversation, &json!({"type": "status", "state": "closed"}));
        self.hub.forget(conversation);
        self.apply_assignments(freed).await;
        self.broadcast_queue().await;
        Ok(self.summary(&conv).await)
    }
}

/// Rebuilds the router from the database after a restart: every clinician
/// starts offline, open chats go back to whoever had them, queued ones queue.
pub async fn restore(state: &Arc<AppState>) -> anyhow::Result<()> {
    for user in state.store.users().await? {
        // Everyone starts offline, so nothing can be assigned yet.
        let assigned = state.know(&user);
        debug_assert!(assigned.is_empty());
    }
    for c in state.store.open_conversations().await? {
        let routed = {
            let mut router = state.hub.router();
            match (c.state, c.assigned_to) {
                (ConvState::Assigned, Some(user)) => {
                    router.start(request_for(&c), user, now_ms())?;
                    continue;
                }
                // Waiting for staff by hand already.
                _ if c.offline => continue,
                _ => router.route(request_for(&c))?,
            }
        };
        // Everyone is offline after a restart: with the contact form on, a
        // queued chat is now a message left for staff.
        if routed == Routed::Offline {
            state
                .store
                .update_conversation(
                    &c.id,
                    ConvUpdate {
                        offline: Some(true),
                        ..Default::default()
                    },
                )
                .await?;
        }
    }
    Ok(())
}
