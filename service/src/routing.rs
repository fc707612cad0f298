//! The router's side of the service: who is online and what they can take,
//! time-driven routing (offers expiring, fallbacks, the offline contact
//! form), offers, transfers, chats a clinician starts, team chat between
//! clinicians, translation between patient and clinician, and rebuilding
//! the router after a restart.

use std::sync::Arc;

use bot_engine::Messages;
use router::{Assignment, Event, Presence, Request, Routed, TransferTarget, Translator};
use serde::Deserialize;
use store::{
    ConvState, ConvUpdate, Conversation, ConversationId, NewAudit, Role, Sender, StaffText, User,
    UserId,
};

use crate::frames::{ClinicianFrame, PatientFrame, PatientStatus};
use crate::views::{Summary, TeamMessageView, Translation};
use crate::{Service, ServiceError, ServiceResult, check_text};

/// The longest staff note kept with a transfer.
pub const MAX_NOTE_CHARS: usize = 1000;

/// Where a clinician sends a chat.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferTo {
    Clinician(UserId),
    Skill(String),
}

#[derive(Debug, Deserialize)]
pub struct TransferRequest {
    pub to: TransferTo,
    #[serde(default)]
    pub note: Option<String>,
}

/// A US state or territory code: two capital letters (a clinician's
/// licence, a patient's state).
pub fn is_state(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// A clinician's language as accounts store it: `es` (fluent), or with a
/// level, `es:basic`, `es:fluent`, `es:native`. `None` for anything else.
pub fn clinician_language(tag: &str) -> Option<router::Language> {
    let (code, level) = match tag.split_once(':') {
        Some((code, "basic")) => (code, router::Fluency::Basic),
        Some((code, "fluent")) => (code, router::Fluency::Fluent),
        Some((code, "native")) => (code, router::Fluency::Native),
        Some(_) => return None,
        None => (tag, router::Fluency::Fluent),
    };
    let ok = (2..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase());
    ok.then(|| (code, level).into())
}

pub(crate) fn route_error(e: router::RouteError) -> ServiceError {
    match e {
        router::RouteError::Conflict { .. } => {
            ServiceError::Conflict("another clinician has this chat".into())
        }
        router::RouteError::Offered { .. } => {
            ServiceError::Conflict("this chat is offered to another clinician".into())
        }
        router::RouteError::OfferExpired { .. } => {
            ServiceError::Conflict("the offer expired; the chat has moved on".into())
        }
        router::RouteError::NotOffered { .. } => {
            ServiceError::Conflict("this chat is not offered to you".into())
        }
        e => ServiceError::Internal(e.into()),
    }
}

impl Service {
    /// What the router is asked for a stored conversation.
    pub(crate) fn request_for(&self, conv: &Conversation) -> Request {
        let mut request = Request::new(
            conv.id.as_str(),
            conv.language.as_deref().unwrap_or("en"),
            self.now_ms(),
        )
        .with_urgent(conv.urgent);
        if let Some(skill) = &conv.skill {
            request = request.with_skill(skill);
        }
        if let Some(state) = &conv.license_state {
            request = request.with_license_state(state);
        }
        request
    }

    /// Makes sure the router knows `user` with their current profile, and
    /// returns any chats a changed profile (a new skill, more capacity) lets
    /// the router hand them.
    /// An auditor, or an account no longer active, is not one the router
    /// may hand chats to: it is made sure to be offline instead.
    pub(crate) async fn know(&self, user: &User) -> ServiceResult<Vec<Assignment>> {
        self.routed(async { Ok(self.know_now(user)) }).await
    }

    /// [`Self::know`], under the routing lease already held.
    pub(crate) fn know_now(&self, user: &User) -> Vec<Assignment> {
        if user.role == Role::Auditor || !user.active() {
            let now = self.now_ms();
            let mut router = self.hub.router();
            if router.clinician(user.id.0).is_some() {
                return router
                    .set_presence(user.id.0, Presence::Offline, now)
                    .unwrap_or_default();
            }
            return Vec::new();
        }
        let profile = router::Clinician::new(user.id.0, &user.display_name)
            .with_skills(user.skills.clone())
            .with_languages(user.languages.iter().filter_map(|l| clinician_language(l)))
            .with_max_chats(user.max_chats)
            .with_licensed_states(user.licensed_states.clone());
        self.hub.router().upsert_clinician(profile, self.now_ms())
    }

    /// As [`Self::know`], and records what it let the router hand out.
    pub async fn sync_clinician(&self, user: &User) {
        let assignments = match self.know(user).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "updating the router's clinician");
                return;
            }
        };
        if !assignments.is_empty() {
            self.apply_assignments(assignments).await;
            self.broadcast_queue().await;
        }
    }

    pub async fn set_presence(&self, user: &User, presence: Presence) -> ServiceResult<()> {
        if user.role == Role::Auditor && presence != Presence::Offline {
            return Err(ServiceError::Forbidden("an auditor does not take chats"));
        }
        let assignments = self
            .routed(async {
                let mut assignments = self.know_now(user);
                let more = self
                    .hub
                    .router()
                    .set_presence(user.id.0, presence, self.now_ms())
                    .map_err(|e| ServiceError::Internal(e.into()))?;
                assignments.extend(more);
                Ok(assignments)
            })
            .await?;
        self.apply_assignments(assignments).await;
        self.broadcast_queue().await;
        Ok(())
    }

    /// Installs loaded translation models and tells the router which
    /// language pairs it can now bridge.
    pub async fn use_translations(&self, t: Arc<translate::Translations>) {
        // The router counts a pair only when both directions are there.
        let pairs: Vec<(String, String)> = t
            .pairs()
            .filter(|(from, to)| t.supports(to, from))
            .map(|(f, to)| (f.to_string(), to.to_string()))
            .collect();
        let _ = self.translator.set(t);
        let assignments = self
            .routed(async {
                let now = self.now_ms();
                let mut router = self.hub.router();
                let mut policy = router.policy().clone();
                for (from, to) in &pairs {
                    policy.allow_translation(from, to);
                }
                Ok(router.set_policy(policy, now))
            })
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "telling the router of the translations");
                Vec::new()
            });
        // Clinicians may already be online (a first start pulls models).
        self.apply_assignments(assignments).await;
    }

    /// Runs the router's time-driven rules and acts on what they decided,
    /// and forgets the memory of chats whose patient left long ago
    /// ([`crate::hub::FORGET_AFTER_MS`]).
    pub async fn tick(&self) {
        self.hub.sweep(self.now_ms());
        self.cluster_tick().await;
        let _ = self.notify_staff().await;
        let events = match self
            .routed(async { Ok(self.hub.router().tick(self.now_ms())) })
            .await
        {
            Ok(events) => events,
            Err(e) => {
                tracing::error!(error = %e, "running the router's rules of time");
                return;
            }
        };
        if events.is_empty() {
            return;
        }
        for event in events {
            match event {
                Event::Assigned(a) => self.apply_assignments(vec![a]).await,
                Event::OfferExpired {
                    conversation,
                    clinician,
                } => self.hub.to_clinician(
                    UserId(clinician),
                    &ClinicianFrame::OfferExpired {
                        conversation: ConversationId::new(conversation),
                    },
                ),
                Event::Offline { conversation } => {
                    let conversation = ConversationId::new(conversation);
                    if let Err(e) = self.went_offline(&conversation).await {
                        tracing::error!(conversation = conversation.as_str(), error = %e, "recording a left message");
                    }
                }
                _ => {}
            }
        }
        self.broadcast_queue().await;
    }

    /// Tells a clinician a chat is offered to them.
    pub(crate) fn offered(
        &self,
        conversation: &ConversationId,
        clinician: UserId,
        expires_at: u64,
    ) {
        let expires_in_s = expires_at.saturating_sub(self.now_ms()).div_ceil(1000);
        self.hub.to_clinician(
            clinician,
            &ClinicianFrame::Offer {
                conversation: conversation.clone(),
                expires_in_s,
            },
        );
    }

    /// Nobody who could serve the chat is online: the patient leaves a
    /// message, which waits for staff (kept, listed, and announced to
    /// whoever has a console open).
    pub(crate) async fn went_offline(&self, conversation: &ConversationId) -> ServiceResult<()> {
        let conv = self
            .store
            .update_conversation(
                conversation,
                ConvUpdate {
                    state: Some(ConvState::Queued),
                    offline: Some(true),
                    ..Default::default()
                },
            )
            .await?;
        let contact_left = self.contact_left(conversation).await;
        self.hub.to_patient(
            conversation,
            &PatientFrame::Status(PatientStatus::Offline { contact_left }),
        );
        self.count(self.event(store::ActivityKind::LeftMessage, conversation))
            .await;
        let language = conv.language.as_deref().unwrap_or("en");
        let text = Messages::render(&self.whitelist().messages.offline, language, &[]);
        self.say_canned(conversation, Sender::System, &text).await?;
        for user in self.clinicians_online() {
            self.hub.to_clinician(
                user,
                &ClinicianFrame::LeftMessage {
                    conversation: conversation.clone(),
                },
            );
        }
        tracing::info!(
            conversation = conversation.as_str(),
            "chat left for staff (offline contact form)"
        );
        Ok(())
    }

    pub async fn accept(
        &self,
        conversation: &ConversationId,
        user: &User,
    ) -> ServiceResult<Summary> {
        self.routed(async {
            self.hub
                .router()
                .accept(conversation.as_str(), user.id.0, self.now_ms())
                .map_err(route_error)
        })
        .await?;
        let summary = self.assigned(conversation, user.id, None).await?;
        self.broadcast_queue().await;
        Ok(summary)
    }

    pub async fn decline(&self, conversation: &ConversationId, user: &User) -> ServiceResult<()> {
        let next = self
            .routed(async {
                self.hub
                    .router()
                    .decline(conversation.as_str(), user.id.0, self.now_ms())
                    .map_err(route_error)
            })
            .await?;
        self.apply_assignments(next).await;
        self.broadcast_queue().await;
        Ok(())
    }

    /// A clinician opens a chat with a known patient (a conversation the bot
    /// has, or one that was closed): it is theirs at once. One they never
    /// held needs a `reason` ([`crate::access`]).
    pub async fn start_chat(
        &self,
        conversation: &ConversationId,
        user: &User,
        reason: Option<&str>,
        address: Option<String>,
    ) -> ServiceResult<Summary> {
        let conv = self.store.conversation(conversation).await?;
        match conv.state {
            ConvState::Queued => return self.take(conversation, user, reason, address).await,
            ConvState::Assigned if conv.assigned_to == Some(user.id) => {
                return Ok(self.summary(&conv).await);
            }
            ConvState::Assigned => {
                return Err(ServiceError::Conflict(
                    "another clinician has this chat".into(),
                ));
            }
            ConvState::Bot | ConvState::Closed => {}
        }
        if user.role == Role::Auditor {
            return Err(ServiceError::Forbidden("an auditor does not take chats"));
        }
        self.open_for(user, &conv, reason, address.clone()).await?;
        let request = self.request_for(&conv);
        let known = self
            .routed(async {
                let known = self.know_now(user);
                self.hub
                    .router()
                    .start(request, user.id.0, self.now_ms())
                    .map_err(route_error)?;
                Ok(known)
            })
            .await?;
        self.apply_assignments(known).await;
        let audit =
            NewAudit::new(Some(user.id), "start", conversation.as_str(), "").from_address(address);
        let summary = self.assigned(conversation, user.id, Some(audit)).await?;
        self.broadcast_queue().await;
        Ok(summary)
    }

    /// Hands a chat to a colleague or a skill group, with a staff-only note.
    pub async fn transfer(
        &self,
        conversation: &ConversationId,
        user: &User,
        req: TransferRequest,
        address: Option<String>,
    ) -> ServiceResult<Summary> {
        let conv = self.store.conversation(conversation).await?;
        let mine = conv.state == ConvState::Assigned && conv.assigned_to == Some(user.id);
        if !mine && user.role != Role::Admin {
            return Err(ServiceError::Forbidden(
                "only the clinician who has the chat can transfer it",
            ));
        }
        if conv.state == ConvState::Closed || conv.state == ConvState::Bot {
            return Err(ServiceError::Conflict("the chat is not with staff".into()));
        }
        if let Some(note) = &req.note
            && note.chars().count() > MAX_NOTE_CHARS
        {
            return Err(ServiceError::TooLong);
        }
        let target = match req.to {
            TransferTo::Clinician(id) => {
                if id == user.id {
                    return Err(ServiceError::BadRequest("that is you".into()));
                }
                let colleague = self
                    .store
                    .user(id)
                    .await
                    .map_err(ServiceError::not_found("no such clinician"))?;
                self.apply_assignments(self.know(&colleague).await?).await;
                TransferTarget::Clinician(id.0)
            }
            TransferTo::Skill(skill) => {
                let known = self.whitelist().intents.iter().any(|i| i.skill == skill)
                    || self
                        .store
                        .users()
                        .await?
                        .iter()
                        .any(|u| u.skills.contains(&skill));
                if !known {
                    return Err(ServiceError::BadRequest(format!(
                        "no intent or clinician has the skill {skill:?}"
                    )));
                }
                TransferTarget::Skill(skill)
            }
        };
        // Stored redacted, with the words as typed sealed beside it.
        let (note, typed) = match req.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => {
                let redacted = self.bot()?.redact(n).await?;
                let typed = (redacted != n).then(|| n.to_string());
                (Some(redacted), typed)
            }
            None => (None, None),
        };
        let request = self.request_for(&conv);
        let skill = match &target {
            TransferTarget::Skill(s) => Some(s.clone()),
            _ => None,
        };
        let detail = match &target {
            TransferTarget::Clinician(id) => format!("to=clinician:{id}"),
            TransferTarget::Skill(s) => format!("to=skill:{s}"),
            _ => String::new(),
        };
        let t = self
            .routed(async {
                let now = self.now_ms();
                let mut router = self.hub.router();
                // A chat that went to the contact form has left the
                // router: put it back before moving it.
                if router.outcome(conversation.as_str()).is_none() {
                    router.start(request, user.id.0, now).map_err(route_error)?;
                }
                router
                    .transfer(conversation.as_str(), target, note.clone(), now)
                    .map_err(route_error)
            })
            .await?;
        if let Some(n) = &note {
            self.store
                .add_note(conversation, user.id, n, typed.as_deref())
                .await?;
        }
        self.store
            .audit(
                NewAudit::new(Some(user.id), "transfer", conversation.as_str(), detail)
                    .from_address(address),
            )
            .await?;
        let handed = ClinicianFrame::Transfer {
            conversation: conversation.clone(),
            from: user.display_name.clone(),
            note: note.clone(),
        };
        match t.outcome {
            Routed::Assigned(id) => {
                self.assigned(conversation, UserId(id), None).await?;
                self.hub.to_clinician(UserId(id), &handed);
            }
            outcome => {
                self.store
                    .update_conversation(
                        conversation,
                        ConvUpdate {
                            state: Some(ConvState::Queued),
                            assigned_to: Some(None),
                            skill: skill.map(Some),
                            ..Default::default()
                        },
                    )
                    .await?;
                match outcome {
                    Routed::Offered {
                        clinician,
                        expires_at,
                    } => {
                        self.offered(conversation, UserId(clinician), expires_at);
                        self.hub.to_clinician(UserId(clinician), &handed);
                    }
                    Routed::Offline => self.went_offline(conversation).await?,
                    _ => {}
                }
                let position = self.hub.router().position(conversation.as_str());
                self.hub.to_patient(
                    conversation,
                    &self.queued_status(conversation, position, conv.urgent),
                );
            }
        }
        self.apply_assignments(t.others).await;
        self.broadcast_queue().await;
        let conv = self.store.conversation(conversation).await?;
        Ok(self.summary(&conv).await)
    }

    /// Staff-only notes on a conversation (redacted; with the words as
    /// typed when `originals`, for a reader who may see them).
    pub async fn notes(
        &self,
        conversation: &ConversationId,
        originals: bool,
    ) -> ServiceResult<Vec<StaffText>> {
        Ok(self.store.notes(conversation, originals).await?)
    }

    /// A message from one clinician to another: stored redacted, delivered
    /// live as typed.
    pub async fn team_send(
        &self,
        from: &User,
        to: UserId,
        text: &str,
    ) -> ServiceResult<TeamMessageView> {
        check_text(text)?;
        if to == from.id {
            return Err(ServiceError::BadRequest("that is you".into()));
        }
        self.store
            .user(to)
            .await
            .map_err(ServiceError::not_found("no such colleague"))?;
        let redacted = self.bot()?.redact(text).await?;
        let m = self.store.add_team_message(from.id, to, &redacted).await?;
        let message = TeamMessageView {
            id: m.id,
            from: from.id,
            to,
            name: from.display_name.clone(),
            text: text.to_string(),
            at: m.created_at,
        };
        self.hub.to_clinician(
            to,
            &ClinicianFrame::TeamMessage {
                message: message.clone(),
            },
        );
        Ok(message)
    }

    pub async fn team_thread(&self, me: &User, other: UserId) -> ServiceResult<Vec<StaffText>> {
        Ok(self.store.team_messages(me.id, other, 200).await?)
    }

    /// Translates `redacted` text (the model sees nothing else) when the
    /// two languages differ and a model bridges them. Errors are logged
    /// without the text and the message goes on untranslated.
    pub(crate) async fn translate(
        &self,
        redacted: &str,
        from: &str,
        to: &str,
    ) -> Option<Translation> {
        let t = self.translator.get()?.clone();
        if from == to || !t.supports(from, to) {
            return None;
        }
        let (text, f, l) = (redacted.to_string(), from.to_string(), to.to_string());
        match tokio::task::spawn_blocking(move || t.translate(&text, &f, &l)).await {
            Ok(Ok(text)) => Some(Translation {
                text,
                language: to.to_string(),
                machine: true,
            }),
            Ok(Err(e)) => {
                tracing::error!(from, to, error = %e, "translation failed");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "translation task failed");
                None
            }
        }
    }

    /// The languages to translate between for `clinician` and a patient
    /// writing `patient_language`: (patient's, clinician's), or `None` when
    /// the clinician reads it or no model bridges the two.
    pub(crate) fn translation_plan(
        &self,
        patient_language: &str,
        clinician: UserId,
    ) -> Option<(String, String)> {
        let t = self.translator.get()?;
        let router = self.hub.router();
        let c = router.clinician(clinician.0)?;
        router::translation_plan_with(patient_language, c, t.as_ref() as &dyn Translator)
    }

    /// Rebuilds the router from the store after a restart: every clinician
    /// starts offline, open chats go back to whoever had them, queued ones
    /// queue.
    pub async fn restore(&self) -> anyhow::Result<()> {
        Ok(self.routed(self.restore_now()).await?)
    }

    async fn restore_now(&self) -> ServiceResult<()> {
        // Another node already runs the clinic: its state, which this
        // node took with the lease, is the one to go on from.
        if self.routing_stored().await? {
            return Ok(());
        }
        for user in self.store.users().await? {
            // Everyone starts offline, so nothing can be assigned yet.
            let assigned = self.know_now(&user);
            debug_assert!(assigned.is_empty());
        }
        for c in self.store.open_conversations().await? {
            let routed = {
                let request = self.request_for(&c);
                let now = self.now_ms();
                let mut router = self.hub.router();
                match (c.state, c.assigned_to) {
                    (ConvState::Assigned, Some(user)) => {
                        router
                            .start(request, user.0, now)
                            .map_err(|e| ServiceError::Internal(e.into()))?;
                        continue;
                    }
                    // Waiting for staff by hand already.
                    _ if c.offline => continue,
                    _ => router
                        .route(request)
                        .map_err(|e| ServiceError::Internal(e.into()))?,
                }
            };
            // Everyone is offline after a restart: with the contact form on, a
            // queued chat is now a message left for staff.
            if routed == Routed::Offline {
                self.store
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clinician_languages_take_an_optional_level() {
        let level = |t: &str| clinician_language(t).map(|l| (l.code, l.level));
        assert_eq!(level("es"), Some(("es".into(), router::Fluency::Fluent)));
        assert_eq!(
            level("es:basic"),
            Some(("es".into(), router::Fluency::Basic))
        );
        assert_eq!(
            level("fr:native"),
            Some(("fr".into(), router::Fluency::Native))
        );
        for bad in ["es:so-so", "Spanish", "", "e", "ES"] {
            assert_eq!(level(bad), None, "{bad}");
        }
    }

    #[test]
    fn states_are_two_capitals() {
        assert!(is_state("CA"));
        for bad in ["ca", "C", "CAL", "C1", ""] {
            assert!(!is_state(bad), "{bad}");
        }
    }
}
