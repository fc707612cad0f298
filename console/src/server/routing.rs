//! The router's side of the server: time-driven routing (offers expiring,
//! fallbacks, the offline contact form), offers, transfers, chats a
//! clinician starts, team chat between clinicians, and translation between
//! patient and clinician.

use std::sync::Arc;

use bot_engine::Messages;
use router::{Event, Routed, TransferTarget, Translator};
use serde::Deserialize;
use serde_json::json;

use super::shapes::{Summary, Translation, check_text, now_ms, request_for, route_error};
use super::{ApiError, AppState};
use crate::store::{ConvState, ConvUpdate, Role, Sender, StaffText, StoreError, User};

/// The longest staff note kept with a transfer.
pub const MAX_NOTE_CHARS: usize = 1000;

/// Where a clinician sends a chat.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferTo {
    Clinician(i64),
    Skill(String),
}

#[derive(Debug, Deserialize)]
pub struct TransferRequest {
    pub to: TransferTo,
    #[serde(default)]
    pub note: Option<String>,
}

impl AppState {
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
        let assignments = {
            let mut router = self.hub.router();
            let mut policy = router.policy().clone();
            for (from, to) in pairs {
                policy.allow_translation(&from, &to);
            }
            router.set_policy(policy, now_ms())
        };
        // Clinicians may already be online (a first start pulls models).
        self.apply_assignments(assignments).await;
    }

    /// Runs the router's time-driven rules and acts on what they decided.
    pub async fn tick(&self) {
        let events = self.hub.router().tick(now_ms());
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
                    clinician,
                    &json!({"type": "offer_expired", "conversation": conversation}),
                ),
                Event::Offline { conversation } => {
                    if let Err(e) = self.went_offline(&conversation).await {
                        tracing::error!(conversation, error = %e, "recording a left message");
                    }
                }
                _ => {}
            }
        }
        self.broadcast_queue().await;
    }

    /// Tells a clinician a chat is offered to them.
    pub(super) fn offered(&self, conversation: &str, clinician: i64, expires_at: u64) {
        let expires_in = expires_at.saturating_sub(now_ms()).div_ceil(1000);
        self.hub.to_clinician(
            clinician,
            &json!({"type": "offer", "conversation": conversation, "expires_in_s": expires_in}),
        );
    }

    /// Nobody who could serve the chat is online: the patient leaves a
    /// message, which waits for staff (kept, listed, and announced to
    /// whoever has a console open).
    pub(super) async fn went_offline(&self, conversation: &str) -> Result<(), ApiError> {
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
        self.hub
            .to_patient(conversation, &json!({"type": "status", "state": "offline"}));
        let language = conv.language.as_deref().unwrap_or("en");
        let text = Messages::render(&self.whitelist.messages.offline, language, &[]);
        self.say_canned(conversation, Sender::System, &text).await?;
        for user in self.hub.online_clinicians() {
            self.hub.to_clinician(
                user,
                &json!({"type": "left_message", "conversation": conversation}),
            );
        }
        tracing::info!(conversation, "chat left for staff (offline contact form)");
        Ok(())
    }

    pub async fn accept(&self, conversation: &str, user: &User) -> Result<Summary, ApiError> {
        self.hub
            .router()
            .accept(conversation, user.id, now_ms())
            .map_err(route_error)?;
        let summary = self.assigned(conversation, user.id).await?;
        self.broadcast_queue().await;
        Ok(summary)
    }

    pub async fn decline(&self, conversation: &str, user: &User) -> Result<(), ApiError> {
        let next = self
            .hub
            .router()
            .decline(conversation, user.id, now_ms())
            .map_err(route_error)?;
        self.apply_assignments(next).await;
        self.broadcast_queue().await;
        Ok(())
    }

    /// A clinician opens a chat with a known patient (a conversation the bot
    /// has, or one that was closed): it is theirs at once.
    pub async fn start_chat(&self, conversation: &str, user: &User) -> Result<Summary, ApiError> {
        let conv = self.store.conversation(conversation).await?;
        match conv.state {
            ConvState::Queued => return self.take(conversation, user).await,
            ConvState::Assigned if conv.assigned_to == Some(user.id) => {
                return Ok(self.summary(&conv).await);
            }
            ConvState::Assigned => {
                return Err(ApiError::Conflict("another clinician has this chat".into()));
            }
            ConvState::Bot | ConvState::Closed => {}
        }
        self.apply_assignments(self.know(user)).await;
        self.hub
            .router()
            .start(request_for(&conv), user.id, now_ms())
            .map_err(route_error)?;
        let summary = self.assigned(conversation, user.id).await?;
        if conv.held {
            self.set_held(conversation, false).await?;
        }
        self.store
            .audit(Some(user.id), "start", conversation, "")
            .await?;
        self.broadcast_queue().await;
        Ok(summary)
    }

    /// Hands a chat to a colleague or a skill group, with a staff-only note.
    pub async fn transfer(
        &self,
        conversation: &str,
        user: &User,
        req: TransferRequest,
    ) -> Result<Summary, ApiError> {
        let conv = self.store.conversation(conversation).await?;
        let mine = conv.state == ConvState::Assigned && conv.assigned_to == Some(user.id);
        if !mine && user.role != Role::Admin {
            return Err(ApiError::Forbidden(
                "only the clinician who has the chat can transfer it",
            ));
        }
        if conv.state == ConvState::Closed || conv.state == ConvState::Bot {
            return Err(ApiError::Conflict("the chat is not with staff".into()));
        }
        if let Some(note) = &req.note
            && note.chars().count() > MAX_NOTE_CHARS
        {
            return Err(ApiError::TooLong);
        }
        let target = match req.to {
            TransferTo::Clinician(id) => {
                if id == user.id {
                    return Err(ApiError::BadRequest("that is you".into()));
                }
                let colleague = self.store.user(id).await.map_err(|e| match e {
                    StoreError::NotFound => ApiError::NotFound("no such clinician"),
                    e => e.into(),
                })?;
                self.apply_assignments(self.know(&colleague)).await;
                TransferTarget::Clinician(id)
            }
            TransferTo::Skill(skill) => {
                let known = self.whitelist.intents.iter().any(|i| i.skill == skill)
                    || self
                        .store
                        .users()
                        .await?
                        .iter()
                        .any(|u| u.skills.contains(&skill));
                if !known {
                    return Err(ApiError::BadRequest(format!(
                        "no intent or clinician has the skill {skill:?}"
                    )));
                }
                TransferTarget::Skill(skill)
            }
        };
        let note = match req.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => Some(self.bot()?.scrubber().redact(n).await?.text),
            None => None,
        };
        // A chat that went to the contact form has left the router: put it
        // back before moving it.
        if self.hub.router().outcome(conversation).is_none() {
            self.hub
                .router()
                .start(request_for(&conv), user.id, now_ms())
                .map_err(route_error)?;
        }
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
            .hub
            .router()
            .transfer(conversation, target, note.clone(), now_ms())
            .map_err(route_error)?;
        if let Some(n) = &note {
            self.store.add_note(conversation, user.id, n).await?;
        }
        self.store
            .audit(Some(user.id), "transfer", conversation, &detail)
            .await?;
        let handed = json!({"type": "transfer", "conversation": conversation,
            "from": user.display_name, "note": note});
        match t.outcome {
            Routed::Assigned(id) => {
                self.assigned(conversation, id).await?;
                self.hub.to_clinician(id, &handed);
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
                        self.offered(conversation, clinician, expires_at);
                        self.hub.to_clinician(clinician, &handed);
                    }
                    Routed::Offline => self.went_offline(conversation).await?,
                    _ => {}
                }
                let position = self.hub.router().position(conversation);
                self.hub.to_patient(
                    conversation,
                    &json!({"type": "status", "state": "queued", "position": position, "urgent": conv.urgent}),
                );
            }
        }
        self.apply_assignments(t.others).await;
        self.broadcast_queue().await;
        let conv = self.store.conversation(conversation).await?;
        Ok(self.summary(&conv).await)
    }

    /// Staff-only notes on a conversation.
    pub async fn notes(&self, conversation: &str) -> Result<Vec<StaffText>, ApiError> {
        Ok(self.store.notes(conversation).await?)
    }

    /// A message from one clinician to another: stored redacted, delivered
    /// live as typed.
    pub async fn team_send(
        &self,
        from: &User,
        to: i64,
        text: &str,
    ) -> Result<serde_json::Value, ApiError> {
        check_text(text)?;
        if to == from.id {
            return Err(ApiError::BadRequest("that is you".into()));
        }
        self.store.user(to).await.map_err(|e| match e {
            StoreError::NotFound => ApiError::NotFound("no such colleague"),
            e => e.into(),
        })?;
        let redacted = self.bot()?.scrubber().redact(text).await?.text;
        let m = self.store.add_team_message(from.id, to, &redacted).await?;
        let message = json!({"id": m.id, "from": from.id, "to": to, "name": from.display_name,
            "text": text, "at": m.created_at});
        let frame = json!({"type": "team_message", "message": message});
        self.hub.to_clinician(to, &frame);
        Ok(message)
    }

    pub async fn team_thread(&self, me: &User, other: i64) -> Result<Vec<StaffText>, ApiError> {
        Ok(self.store.team_messages(me.id, other, 200).await?)
    }

    /// Translates `redacted` text (the model sees nothing else) when the
    /// two languages differ and a model bridges them. Errors are logged
    /// without the text and the message goes on untranslated.
    pub(super) async fn translate(
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
    pub(super) fn translation_plan(
        &self,
        patient_language: &str,
        clinician: i64,
    ) -> Option<(String, String)> {
        let t = self.translator.get()?;
        let router = self.hub.router();
        let c = router.clinician(clinician)?;
        router::translation_plan_with(patient_language, c, t.as_ref() as &dyn Translator)
    }
}
