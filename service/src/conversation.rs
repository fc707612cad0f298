//! One patient message through the pipeline, and the conversation's life
//! with staff: escalating, taking, replying, closing. Every text is stored
//! redacted; what the patient and the clinician see live is what was typed.

use bot_engine::{Action, Assessment, Messages, Whisper};
use router::{Assignment, Presence, Routed};
use store::{
    ActivityKind, ConvState, ConvUpdate, Conversation, ConversationId, Message, NewAudit,
    NewMessage, Role, Sender, UnitOfWork, User, UserId,
};

use crate::frames::{ClinicianFrame, PatientFrame, PatientStatus};
use crate::routing::route_error;
use crate::views::{MessageView, Summary, Translation, UserView};
use crate::{Service, ServiceError, ServiceResult, check_text};

/// An escalation's reason as the dashboard counts it.
fn reason_word(r: bot_engine::Reason) -> &'static str {
    match r {
        bot_engine::Reason::LowConfidence => "low_confidence",
        bot_engine::Reason::HandoffIntent => "handoff_intent",
        bot_engine::Reason::RedFlag => "red_flag",
    }
}

impl Service {
    pub fn user_view(&self, u: &User) -> UserView {
        let status = self
            .hub
            .router()
            .clinician(u.id.0)
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

    async fn display_name(&self, user: Option<UserId>) -> Option<String> {
        match user {
            Some(id) => self.store.user(id).await.ok().map(|u| u.display_name),
            None => None,
        }
    }

    pub async fn message_view(&self, m: &Message) -> MessageView {
        MessageView {
            id: m.id,
            from: m.sender,
            text: m.text.clone(),
            at: m.created_at,
            name: self.display_name(m.user_id).await,
            intent: m.intent.clone(),
            confidence: m.confidence,
            translation: m.translation.as_ref().map(Translation::from_stored),
            original: None,
            masked: false,
            file: match m.file_id {
                Some(id) => self.file_view(id).await,
                None => None,
            },
        }
    }

    pub async fn summary(&self, c: &Conversation) -> Summary {
        let assigned_name = self.display_name(c.assigned_to).await;
        // One lock, released before the struct is built: a second
        // `router()` in the same statement would wait on the first.
        let (position, offered_to) = {
            let router = self.hub.router();
            (
                router.position(c.id.as_str()),
                router.offer(c.id.as_str()).map(|o| UserId(o.clinician)),
            )
        };
        Summary {
            id: c.id.clone(),
            state: c.state,
            urgent: c.urgent,
            language: c.language.clone(),
            assigned_to: c.assigned_to,
            assigned_name,
            created_at: c.created_at,
            updated_at: c.updated_at,
            position,
            offline: c.offline,
            offered_to,
            wait_s: self.wait_s(&c.id),
            whisper: c.whisper.clone(),
        }
    }

    /// The router's wait estimate for a queued chat, in whole seconds.
    pub fn wait_s(&self, conversation: &ConversationId) -> Option<u64> {
        self.hub
            .router()
            .wait_estimate(conversation.as_str(), self.now_ms())
            .map(|w| w.estimate_ms.div_ceil(1000))
    }

    /// What a waiting patient is told of their place in line.
    pub(crate) fn queued_status(
        &self,
        conversation: &ConversationId,
        position: Option<usize>,
        urgent: bool,
    ) -> PatientFrame {
        PatientFrame::Status(PatientStatus::Queued {
            position,
            urgent,
            wait_s: self.wait_s(conversation),
        })
    }

    /// The queue entries `user` could serve (all of them for an admin;
    /// urgent first, then oldest) and their own open chats.
    pub async fn visible_to(&self, user: UserId) -> ServiceResult<Vec<Summary>> {
        let user = self.store.user(user).await?;
        if user.role == Role::Auditor {
            return Err(ServiceError::Forbidden("an auditor does not see chats"));
        }
        let open = self.store.open_conversations().await?;
        let mut out = Vec::new();
        for c in &open {
            let queued = c.state == ConvState::Queued && self.could_serve(&user, c);
            if queued || c.assigned_to == Some(user.id) {
                out.push(self.summary(c).await);
            }
        }
        out.sort_by_key(|s| (s.position.is_none(), s.position, s.created_at));
        Ok(out)
    }

    /// Tells every connected clinician their new view, and every waiting
    /// patient their place in line.
    pub async fn broadcast_queue(&self) {
        // Phones of staff who could serve a chat new to the queue.
        self.push_waiting().await;
        // Each node tells its own consoles (the others do on the change).
        for user in self.hub.online_clinicians() {
            if let Ok(conversations) = self.visible_to(user).await {
                self.hub
                    .to_clinician_here(user, &ClinicianFrame::Queue { conversations });
            }
        }
        let queue = self.hub.router().queue();
        for (i, q) in queue.iter().enumerate() {
            let id = ConversationId::new(q.conversation.clone());
            if self.hub.patient_connected(&id) {
                self.hub
                    .to_patient(&id, &self.queued_status(&id, Some(i + 1), q.urgent));
            }
        }
    }

    /// Stores a bot, system or clinician message (`text` redacted where it
    /// needs to be, the words as typed in `original`, sealed) without
    /// telling anyone.
    async fn store_text(
        &self,
        conversation: &ConversationId,
        sender: Sender,
        text: String,
        original: Option<String>,
        user: Option<&User>,
        translation: Option<&Translation>,
    ) -> ServiceResult<Message> {
        let mut m = NewMessage::plain(conversation.clone(), sender, user.map(|u| u.id), text);
        m.original = original;
        m.translation = translation.map(Translation::stored);
        Ok(self.store.add_message(m).await?)
    }

    /// Bot and system texts are the clinic's own words from the whitelist:
    /// stored as written, never redacted (a redactor would misquote the
    /// clinic, "vaya a la sala" becoming "[NAME] a la sala"). The start-up
    /// check warns when one of them looks like it holds PHI
    /// ([`bot_engine::Bot::phi_in_canned_text`]).
    pub(crate) async fn say_canned(
        &self,
        conversation: &ConversationId,
        sender: Sender,
        text: &str,
    ) -> ServiceResult<Message> {
        let m = self
            .store_text(conversation, sender, text.to_string(), None, None, None)
            .await?;
        self.hub.to_patient(
            conversation,
            &PatientFrame::message(sender, text, m.created_at, None),
        );
        Ok(m)
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
        reference: Option<&str>,
    ) -> ServiceResult<()> {
        let conversation = &conv.id;
        self.hub.set_language(conversation, &emergency.language);
        // An urgent chat had the emergency reply already.
        let reply = (!conv.urgent).then(|| emergency.reply.clone());
        if let Some(reply) = &reply {
            self.hub.to_patient(
                conversation,
                &PatientFrame::message(Sender::Bot, reply, self.clock.now(), None),
            );
        }
        self.count(self.event(ActivityKind::Chat, conversation))
            .await;
        if conv.state == ConvState::Bot {
            let mut turn = self.event(ActivityKind::BotTurn, conversation);
            turn.detail = Some(crate::metrics::action_word(Action::Urgent).into());
            turn.intent = emergency.intent.clone();
            self.count(turn).await;
        }
        let redacted = self.bot()?.redact_urgent(text).await?;
        let a = emergency.assessment(redacted);
        let stored = self
            .store_patient_message(conversation, text, &a, None, reference)
            .await?;
        if let Some(reply) = &reply {
            // Already on the patient's screen: stored, not sent again.
            self.store_text(conversation, Sender::Bot, reply.clone(), None, None, None)
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
    /// made of it, and the words as typed (`text`) sealed beside it when
    /// redaction changed them; then acknowledges it to the patient (the
    /// `ack` frame, with the widget's `reference`).
    async fn store_patient_message(
        &self,
        conversation: &ConversationId,
        text: &str,
        a: &Assessment,
        translation: Option<&Translation>,
        reference: Option<&str>,
    ) -> ServiceResult<Message> {
        let stored = self
            .store
            .add_message(NewMessage {
                conversation_id: conversation.clone(),
                sender: Sender::Patient,
                user_id: None,
                redacted_text: a.redacted.clone(),
                original: (text != a.redacted).then(|| text.to_string()),
                intent: a.intent.clone(),
                confidence: Some(a.confidence),
                spam_score: Some(a.spam_score),
                translation: translation.map(Translation::stored),
            })
            .await?;
        tracing::info!(
            conversation = conversation.as_str(),
            action = ?a.action,
            intent = a.intent.as_deref().unwrap_or("-"),
            confidence = a.confidence,
            language = %a.language,
            phi_spans = a.spans.len(),
            "patient message"
        );
        self.hub.to_patient(
            conversation,
            &PatientFrame::Ack {
                id: stored.id,
                at: stored.created_at,
                reference: reference.map(str::to_string),
            },
        );
        Ok(stored)
    }

    /// Live, in memory only: the clinician who has the chat reads what the
    /// patient typed; the stored copy is redacted.
    fn live_to_clinician(
        &self,
        user: UserId,
        conversation: &ConversationId,
        stored: &Message,
        text: &str,
        translation: Option<Translation>,
    ) {
        let message = MessageView {
            id: stored.id,
            from: Sender::Patient,
            text: text.to_string(),
            at: stored.created_at,
            name: None,
            intent: stored.intent.clone(),
            confidence: stored.confidence,
            translation,
            original: None,
            masked: false,
            file: None,
        };
        self.hub.to_clinician(
            user,
            &ClinicianFrame::Message {
                conversation: conversation.clone(),
                message,
            },
        );
    }

    /// One message from a patient, through the whole pipeline.
    pub async fn patient_message(
        &self,
        conversation: &ConversationId,
        text: &str,
        reference: Option<&str>,
    ) -> ServiceResult<()> {
        check_text(text)?;
        let bot = self.bot()?.clone();
        let conv = self.store.conversation(conversation).await?;
        if conv.state == ConvState::Closed {
            return Err(ServiceError::Conflict("the conversation is closed".into()));
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
            crate::metrics::patient_message(Action::Urgent);
            return self
                .patient_emergency(&conv, text, emergency, reference)
                .await;
        }
        // Past the emergency check, nothing before the clinic's consent.
        self.check_consent(&conv).await?;
        // Then a flood is refused before anything is stored or queued for
        // the models.
        self.limits
            .messages
            .take(conversation.as_str(), self.now_ms())
            .map_err(|retry_after_secs| ServiceError::RateLimited { retry_after_secs })?;
        let started = std::time::Instant::now();
        let depth = bot.queue_depth();
        let a = bot.assess(text, &ctx).await?;
        crate::metrics::assessed(started.elapsed(), depth);
        crate::metrics::patient_message(a.action);
        self.hub.set_language(conversation, &a.language);
        let whitelist = self.whitelist();
        if a.action == Action::Answer
            && let Some(intent) = a.intent.as_deref().and_then(|id| whitelist.intent(id))
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
            .store_patient_message(conversation, text, &a, translation.as_ref(), reference)
            .await?;
        let done = self
            .reply_to_patient(&conv, &a, &stored, text, translation)
            .await;
        // Counted once the patient has their reply.
        self.count(self.event(ActivityKind::Chat, conversation))
            .await;
        if conv.state == ConvState::Bot {
            let mut turn = self.event(ActivityKind::BotTurn, conversation);
            turn.detail = Some(crate::metrics::action_word(a.action).into());
            turn.intent = a
                .intent
                .clone()
                .or_else(|| a.top.as_ref().map(|t| t.intent.clone()));
            self.count(turn).await;
            if a.action == Action::Block {
                self.count(self.event(ActivityKind::Blocked, conversation))
                    .await;
            }
        }
        done
    }

    /// What follows a patient's ordinary message, stored as `stored`.
    async fn reply_to_patient(
        &self,
        conv: &Conversation,
        a: &Assessment,
        stored: &Message,
        text: &str,
        translation: Option<Translation>,
    ) -> ServiceResult<()> {
        let conversation = &conv.id;
        match conv.state {
            ConvState::Queued | ConvState::Assigned => {
                if a.action == Action::Urgent && !conv.urgent {
                    self.say_canned(conversation, Sender::Bot, &a.reply).await?;
                    self.make_urgent(conv, a).await?;
                }
                if let Some(user) = conv.assigned_to {
                    self.live_to_clinician(user, conversation, stored, text, translation);
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
                    self.escalate(conv, a).await
                }
            },
            ConvState::Closed => unreachable!("checked above"),
        }
    }

    async fn whisper_for(
        &self,
        conversation: &ConversationId,
        a: &Assessment,
    ) -> ServiceResult<serde_json::Value> {
        let history: Vec<String> = self
            .store
            .messages(conversation)
            .await?
            .into_iter()
            .filter(|m| m.sender == Sender::Patient)
            .map(|m| m.text)
            .collect();
        let whisper = Whisper::new(a, &self.whitelist(), &history);
        serde_json::to_value(&whisper).map_err(|e| ServiceError::Internal(e.into()))
    }

    async fn escalate(&self, conv: &Conversation, a: &Assessment) -> ServiceResult<()> {
        let urgent = a.action == Action::Urgent;
        let mut escalated = self.event(ActivityKind::Escalated, &conv.id);
        escalated.detail = a.reason.map(|r| reason_word(r).to_string());
        escalated.intent = a.intent.clone();
        self.count(escalated).await;
        if urgent {
            self.count(self.event(ActivityKind::Urgent, &conv.id)).await;
            let _ = self.alert_urgent(&conv.id);
        }
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
            .routed(async {
                self.hub
                    .router()
                    .route(self.request_for(&queued))
                    .map_err(|e| ServiceError::Internal(e.into()))
            })
            .await?;
        if let Some(position) = self.carry_out(&conv.id, routed, urgent).await? {
            self.hub.to_patient(
                &conv.id,
                &self.queued_status(&conv.id, Some(position), urgent),
            );
            let whitelist = self.whitelist();
            let messages = &whitelist.messages;
            // An urgent chat is never told to leave a message: it has the
            // emergency reply, and is first in line for whoever comes.
            let text = if urgent {
                Messages::render(&messages.urgent, &a.language, &[])
            } else if self.clinicians_online().is_empty() {
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
        conversation: &ConversationId,
        routed: Routed,
        urgent: bool,
    ) -> ServiceResult<Option<usize>> {
        match routed {
            Routed::Assigned(user) => {
                self.assigned(conversation, UserId(user), None).await?;
            }
            Routed::Offered {
                clinician,
                expires_at,
            } => {
                // Offered is not yet taken: the patient still waits.
                self.hub.to_patient(
                    conversation,
                    &self.queued_status(conversation, None, urgent),
                );
                self.offered(conversation, UserId(clinician), expires_at);
            }
            Routed::Offline => self.went_offline(conversation).await?,
            Routed::Queued { position } => return Ok(Some(position)),
            _ => {}
        }
        Ok(None)
    }

    /// A red flag in a chat already with staff (waiting, or left through the
    /// contact form, or with a clinician): it jumps the queue.
    async fn make_urgent(&self, conv: &Conversation, a: &Assessment) -> ServiceResult<()> {
        let queued = conv.state == ConvState::Queued;
        self.count(self.event(ActivityKind::Urgent, &conv.id)).await;
        let _ = self.alert_urgent(&conv.id);
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
            let routed = self
                .routed(async {
                    let now = self.now_ms();
                    let mut router = self.hub.router();
                    let _ = router.release(conv.id.as_str(), now);
                    let mut request =
                        router::Request::new(conv.id.as_str(), &a.language, now).with_urgent(true);
                    if let Some(skill) = a.skill.as_ref().or(conv.skill.as_ref()) {
                        request = request.with_skill(skill);
                    }
                    if let Some(state) = &conv.license_state {
                        request = request.with_license_state(state);
                    }
                    Ok(router.route(request))
                })
                .await?;
            if let Ok(routed) = routed
                && let Some(position) = self.carry_out(&conv.id, routed, true).await?
            {
                self.hub.to_patient(
                    &conv.id,
                    &self.queued_status(&conv.id, Some(position), true),
                );
                let text = Messages::render(&self.whitelist().messages.urgent, &a.language, &[]);
                self.say_canned(&conv.id, Sender::System, &text).await?;
            }
        }
        self.broadcast_queue().await;
        Ok(())
    }

    /// Records that `user` has the chat (with its system message, and the
    /// audit line when a person chose to) and tells both sides.
    pub(crate) async fn assigned(
        &self,
        conversation: &ConversationId,
        user: UserId,
        audit: Option<NewAudit>,
    ) -> ServiceResult<Summary> {
        let clinician = self.store.user(user).await?;
        let current = self.store.conversation(conversation).await?;
        crate::metrics::waited(self.clock.now().unix() - current.updated_at.unix());
        // The wait is measured on a chat's first assignment (counted once
        // the assignment is written).
        let mut counted = self.event(ActivityKind::Assigned, conversation);
        counted.user = Some(user);
        let first = matches!(
            self.store
                .first_activity(conversation, &[ActivityKind::Assigned])
                .await,
            Ok(None)
        );
        if first {
            counted.seconds = self.since_escalation(conversation).await;
        }
        let language = current.language.clone().unwrap_or_else(|| "en".into());
        let text = Messages::render(
            &self.whitelist().messages.assigned,
            &language,
            &[("name", &clinician.display_name)],
        );
        let mut work = UnitOfWork::new()
            .update_conversation(
                conversation,
                ConvUpdate {
                    state: Some(ConvState::Assigned),
                    assigned_to: Some(Some(user)),
                    offline: Some(false),
                    // A person has the chat now: it leaves the held list,
                    // however it reached them (offer, take, start).
                    held: current.held.then_some(false),
                    ..Default::default()
                },
            )
            .add_message(NewMessage::plain(
                conversation.clone(),
                Sender::System,
                None,
                text.clone(),
            ));
        if let Some(audit) = audit {
            work = work.audit(audit);
        }
        let done = self.store.commit(work).await?;
        self.count(counted).await;
        let conv = done
            .conversation()
            .cloned()
            .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("no conversation written")))?;
        self.hub.to_patient(
            conversation,
            &PatientFrame::Status(PatientStatus::Assigned {
                clinician: Some(clinician.display_name.clone()),
            }),
        );
        if let Some(m) = done.messages.first() {
            self.hub.to_patient(
                conversation,
                &PatientFrame::message(Sender::System, &text, m.created_at, None),
            );
        }
        self.hub.to_clinician(
            user,
            &ClinicianFrame::Assigned {
                conversation: conversation.clone(),
            },
        );
        Ok(self.summary(&conv).await)
    }

    pub(crate) async fn apply_assignments(&self, assignments: Vec<Assignment>) {
        for a in assignments {
            let conversation = ConversationId::new(a.conversation);
            let user = UserId(a.clinician);
            if let Some(expires_at) = a.offer_expires_at {
                self.offered(&conversation, user, expires_at);
                continue;
            }
            if let Err(e) = self.assigned(&conversation, user, None).await {
                tracing::error!(conversation = conversation.as_str(), error = %e, "recording an assignment");
            }
        }
    }

    /// `user` takes a queued chat. One they could not serve (another
    /// skill's, another state's) needs a `reason` ([`crate::access`]).
    pub async fn take(
        &self,
        conversation: &ConversationId,
        user: &User,
        reason: Option<&str>,
        address: Option<String>,
    ) -> ServiceResult<Summary> {
        let conv = self.store.conversation(conversation).await?;
        match conv.state {
            ConvState::Closed => {
                return Err(ServiceError::Conflict("the conversation is closed".into()));
            }
            ConvState::Bot => {
                return Err(ServiceError::Conflict(
                    "the bot still has this conversation".into(),
                ));
            }
            ConvState::Assigned if conv.assigned_to == Some(user.id) => {
                return Ok(self.summary(&conv).await);
            }
            _ => {}
        }
        if user.role == Role::Auditor {
            return Err(ServiceError::Forbidden("an auditor does not take chats"));
        }
        if conv.state == ConvState::Queued {
            self.open_for(user, &conv, reason, address.clone()).await?;
        }
        let request = self.request_for(&conv);
        let known = self
            .routed(async {
                let known = self.know_now(user);
                let now = self.now_ms();
                let mut router = self.hub.router();
                let taken = if conv.state == ConvState::Queued
                    && router.outcome(conversation.as_str()).is_none()
                {
                    // Left through the contact form: the router let it
                    // go, so this is a clinician picking it up by hand.
                    router.start(request, user.id.0, now)
                } else {
                    router.take(conversation.as_str(), user.id.0, now)
                };
                drop(router);
                taken.map_err(route_error)?;
                Ok(known)
            })
            .await?;
        self.apply_assignments(known).await;
        let audit =
            NewAudit::new(Some(user.id), "take", conversation.as_str(), "").from_address(address);
        let summary = self.assigned(conversation, user.id, Some(audit)).await?;
        self.broadcast_queue().await;
        Ok(summary)
    }

    pub async fn clinician_message(
        &self,
        conversation: &ConversationId,
        user: &User,
        text: &str,
    ) -> ServiceResult<MessageView> {
        check_text(text)?;
        let conv = self.store.conversation(conversation).await?;
        if conv.state != ConvState::Assigned || conv.assigned_to != Some(user.id) {
            return Err(ServiceError::Forbidden("take the chat before replying"));
        }
        // Clinicians type PHI too (confirming a date of birth, say).
        let redacted = self.bot()?.redact(text).await?;
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
        let original = (redacted != text).then(|| text.to_string());
        let m = self
            .store_text(
                conversation,
                Sender::Clinician,
                redacted,
                original,
                Some(user),
                translation.as_ref(),
            )
            .await?;
        let frame = match &translation {
            Some(t) => PatientFrame::Message {
                from: Sender::Clinician,
                text: t.text.clone(),
                at: m.created_at,
                name: Some(user.display_name.clone()),
                original: Some(text.to_string()),
                machine_translated: true,
                file: None,
            },
            None => PatientFrame::message(
                Sender::Clinician,
                text,
                m.created_at,
                Some(user.display_name.clone()),
            ),
        };
        self.hub.to_patient(conversation, &frame);
        if let Ok(None) = self
            .store
            .first_activity(conversation, &[ActivityKind::FirstReply])
            .await
        {
            let mut first = self.event(ActivityKind::FirstReply, conversation);
            first.user = Some(user.id);
            first.seconds = self.since_escalation(conversation).await;
            self.count(first).await;
        }
        Ok(MessageView {
            id: m.id,
            from: Sender::Clinician,
            text: text.to_string(),
            at: m.created_at,
            name: Some(user.display_name.clone()),
            intent: None,
            confidence: None,
            translation,
            original: None,
            masked: false,
            file: None,
        })
    }

    /// Takes a chat out of the router (queue, offer or clinician) and marks
    /// it closed, with `also` in the same unit of work; returns the chats the
    /// freed place let the router hand out, and what was written.
    pub(crate) async fn end_conversation(
        &self,
        conversation: &ConversationId,
        also: UnitOfWork,
    ) -> ServiceResult<(Vec<Assignment>, Conversation, Vec<Message>)> {
        let work = also.update_conversation(
            conversation,
            ConvUpdate {
                state: Some(ConvState::Closed),
                ..Default::default()
            },
        );
        let done = self.store.commit(work).await?;
        if self.retention.ephemeral() {
            // Its transcript goes to the clinic; then the chat is deleted.
            self.store
                .set_delivery(conversation, Some(self.clock.now()), 0)
                .await?;
            self.deliveries.notify_one();
        }
        // A chat the router no longer knows (left through the contact
        // form) has nothing to release.
        let freed = self
            .routed(async {
                Ok(self
                    .hub
                    .router()
                    .release(conversation.as_str(), self.now_ms())
                    .unwrap_or_default())
            })
            .await?;
        let conv = done
            .conversation()
            .cloned()
            .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("no conversation written")))?;
        Ok((freed, conv, done.messages))
    }

    pub async fn close(
        &self,
        conversation: &ConversationId,
        user: &User,
        address: Option<String>,
    ) -> ServiceResult<Summary> {
        let conv = self.store.conversation(conversation).await?;
        if conv.state == ConvState::Closed {
            return Ok(self.summary(&conv).await);
        }
        let mine = conv.assigned_to == Some(user.id);
        if !mine && user.role != Role::Admin {
            return Err(ServiceError::Forbidden(
                "only the clinician who has the chat can close it",
            ));
        }
        let audit =
            NewAudit::new(Some(user.id), "close", conversation.as_str(), "").from_address(address);
        let conv = self.close_with(&conv, Some(audit)).await?;
        Ok(self.summary(&conv).await)
    }

    /// Closes `conv` (the patient told, its clinician freed), with `audit`
    /// in the same unit of work when given.
    pub(crate) async fn close_with(
        &self,
        conv: &Conversation,
        audit: Option<NewAudit>,
    ) -> ServiceResult<Conversation> {
        let conversation = &conv.id;
        let language = conv.language.clone().unwrap_or_else(|| "en".into());
        let text = Messages::render(&self.whitelist().messages.closed, &language, &[]);
        let mut work = UnitOfWork::new();
        if let Some(audit) = audit {
            work = work.audit(audit);
        }
        if self.ready() {
            work = work.add_message(NewMessage::plain(
                conversation.clone(),
                Sender::System,
                None,
                text.clone(),
            ));
        }
        let (freed, conv, written) = self.end_conversation(conversation, work).await?;
        if let Some(m) = written.first() {
            self.hub.to_patient(
                conversation,
                &PatientFrame::message(Sender::System, &text, m.created_at, None),
            );
        }
        self.hub
            .to_patient(conversation, &PatientFrame::Status(PatientStatus::Closed));
        self.hub.forget(conversation);
        self.apply_assignments(freed).await;
        self.broadcast_queue().await;
        Ok(conv)
    }
}
