//! A socket's life as the service sees it: a patient's conversation opened
//! or resumed (and refused to a blocked sender), a clinician's console
//! connecting and going away. Frames are queued on a channel the socket's
//! owner drains.

use std::sync::Arc;

use bot_engine::Messages;
use store::{ConvState, Conversation, ConversationId, NewConversation, StoreError, User};
use tokio::sync::mpsc;

use crate::frames::{ClinicianFrame, PatientFrame, PatientStatus};
use crate::hub::{OUTBOUND, encode};
use crate::moderation::Identity;
use crate::tokens::{new_token, token_hash};
use crate::views::HistoryItem;
use crate::{Service, ServiceError, ServiceResult, is_state};

/// What the widget asks for when it connects.
#[derive(Debug, Clone, Default)]
pub struct OpenRequest {
    /// The browser's language (`navigator.language`).
    pub lang: Option<String>,
    /// The resume token of an earlier connection.
    pub resume: Option<String>,
    /// The state the clinic's site serves (`data-state`), for licensing.
    pub state: Option<String>,
}

/// A patient's open socket: registered with the hub until dropped.
pub struct PatientSession {
    service: Arc<Service>,
    pub conversation: ConversationId,
    /// Whether an earlier conversation was resumed.
    pub resumed: bool,
    id: u64,
    tx: mpsc::Sender<String>,
}

impl PatientSession {
    /// One message the patient typed.
    pub async fn message(&self, text: &str) -> ServiceResult<()> {
        self.message_ref(text, None).await
    }

    /// One message the patient typed, with the widget's `ref` for it,
    /// echoed in the `ack` once it is stored.
    pub async fn message_ref(&self, text: &str, reference: Option<&str>) -> ServiceResult<()> {
        if reference.is_some_and(|r| r.chars().count() > crate::frames::MAX_REF_CHARS) {
            return Err(ServiceError::BadRequest(format!(
                "a message's ref has at most {} characters",
                crate::frames::MAX_REF_CHARS
            )));
        }
        self.service
            .patient_message(&self.conversation, text, reference)
            .await
    }

    /// The patient's copy of the conversation, to this socket alone
    /// (audited with the socket's keyed address).
    pub async fn transcript(&self, address: Option<String>) -> ServiceResult<()> {
        let t = self
            .service
            .patient_transcript(&self.conversation, address)
            .await?;
        let day = t.started.rfc3339();
        let frame = PatientFrame::Transcript {
            filename: format!("chat-transcript-{}.html", &day[..10]),
            html: crate::transcript::html(&t, crate::transcript::Copy::Patient),
        };
        self.send(&frame).await;
        Ok(())
    }

    /// The patient accepted the consent text `version`: told so, or shown
    /// the text again when the clinic changed it meanwhile.
    pub async fn consent(&self, version: &str) -> ServiceResult<()> {
        let frame = match self
            .service
            .accept_consent(&self.conversation, version)
            .await?
        {
            Ok(()) => PatientFrame::ConsentAccepted,
            Err(newer) => PatientFrame::Consent(newer),
        };
        let accepted = matches!(frame, PatientFrame::ConsentAccepted);
        self.send(&frame).await;
        if accepted {
            self.ask_intake().await;
        }
        Ok(())
    }

    /// The clinic's intake questions, when this chat still owes them.
    async fn ask_intake(&self) {
        if let Ok(conv) = self.service.store.conversation(&self.conversation).await
            && let Ok(fields) = self.service.intake_owed(&conv).await
            && !fields.is_empty()
        {
            self.send(&PatientFrame::Intake { fields }).await;
        }
    }

    /// The patient's intake answers.
    pub async fn intake(
        &self,
        answers: std::collections::BTreeMap<String, String>,
    ) -> ServiceResult<()> {
        self.service
            .answer_intake(&self.conversation, answers)
            .await?;
        self.send(&PatientFrame::IntakeSaved).await;
        Ok(())
    }

    /// The offline contact form.
    pub async fn contact(&self, input: crate::contact::ContactInput) -> ServiceResult<()> {
        self.service.leave_contact(&self.conversation, input).await
    }

    /// A frame for this socket alone (an error about its last frame).
    pub async fn send(&self, frame: &PatientFrame) {
        let _ = self.tx.send(encode(frame)).await;
    }
}

impl Drop for PatientSession {
    fn drop(&mut self) {
        self.service.hub.remove_patient(&self.conversation, self.id);
    }
}

/// A clinician's open console. [`ClinicianSession::close`] when it goes.
pub struct ClinicianSession {
    service: Arc<Service>,
    pub user: User,
    id: u64,
}

impl ClinicianSession {
    /// The socket closed. With the clinician's last console gone nobody is
    /// watching for new chats: an available clinician becomes away.
    pub async fn close(self) {
        let s = &self.service;
        let last_here = s.hub.remove_clinician(self.user.id, self.id);
        let closed = s
            .routed(async {
                if s.console_closed(self.user.id, last_here) {
                    s.away_if_available(&self.user).await;
                }
                Ok(())
            })
            .await;
        if let Err(e) = closed {
            tracing::error!(error = %e, "a console closing");
        }
    }
}

impl Service {
    /// The clinic's text for a blocked sender, in the browser's language.
    pub fn blocked_text(&self, browser_language: Option<&str>) -> String {
        let language = browser_language
            .and_then(bot_engine::primary_subtag)
            .unwrap_or_else(|| "en".into());
        Messages::render(&self.whitelist().messages.blocked, &language, &[])
    }

    /// The conversation, its resume token, and whether it was resumed. A
    /// blocked browser or address gets neither a new conversation nor an
    /// old one back.
    async fn open_conversation(
        &self,
        q: &OpenRequest,
        who: &Identity,
    ) -> ServiceResult<(Conversation, String, bool)> {
        if self.blocked(who).await? {
            return Err(ServiceError::SenderBlocked);
        }
        let now = self.now_ms();
        if let Some(address) = &who.address {
            self.limits
                .sockets
                .take(address, now)
                .map_err(|retry_after_secs| ServiceError::RateLimited { retry_after_secs })?;
        }
        if let Some(token) = q.resume.as_deref().filter(|t| t.len() == 64) {
            match self.store.conversation_by_resume(&token_hash(token)).await {
                Ok(c) => {
                    let theirs = Identity {
                        fingerprint: c.fingerprint.clone(),
                        address: c.address.clone(),
                    };
                    if self.blocked(&theirs).await? {
                        return Err(ServiceError::SenderBlocked);
                    }
                    return Ok((c, token.to_string(), true));
                }
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(address) = &who.address {
            self.limits
                .new_chats
                .take(address, now)
                .map_err(|retry_after_secs| ServiceError::RateLimited { retry_after_secs })?;
        }
        let id = ConversationId::new(format!("c_{}", &new_token().0[..20]));
        let resume = new_token();
        let mut new = NewConversation::new(id, token_hash(&resume.0));
        new.browser_language = q
            .lang
            .as_deref()
            .map(|l| l.chars().take(35).collect::<String>());
        new.fingerprint = who.fingerprint.clone();
        new.address = who.address.clone();
        new.license_state = q.state.clone().filter(|s| is_state(s));
        let c = self.store.create_conversation(new).await?;
        Ok((c, resume.0, false))
    }

    /// Opens (or resumes) a patient's conversation and registers its
    /// socket: `welcome`, then on a resumed one its `history`, then its
    /// `status` are waiting on the returned channel.
    pub async fn open_patient(
        self: &Arc<Self>,
        q: &OpenRequest,
        who: &Identity,
    ) -> ServiceResult<(PatientSession, mpsc::Receiver<String>)> {
        let (conv, resume, resumed) = self.open_conversation(q, who).await?;
        let (tx, rx) = mpsc::channel::<String>(OUTBOUND);
        let session = PatientSession {
            service: self.clone(),
            conversation: conv.id.clone(),
            resumed,
            id: self.hub.add_patient(&conv.id, tx.clone()),
            tx: tx.clone(),
        };
        let language = Self::shown_language(&conv);
        let welcome = PatientFrame::Welcome {
            conversation: conv.id.clone(),
            resume,
            text: Messages::render(&self.whitelist().messages.welcome, &language, &[]),
            files: self.files_enabled(),
        };
        let _ = tx.send(encode(&welcome)).await;
        if resumed {
            let messages = self.patient_history(&conv).await;
            let _ = tx.send(encode(&PatientFrame::History { messages })).await;
        }
        if conv.state != ConvState::Closed {
            match self.consent_owed(&conv).await {
                Ok(Some(consent)) => {
                    let _ = tx.send(encode(&PatientFrame::Consent(consent))).await;
                }
                // Consent given (or none asked): the intake questions next,
                // when still owed.
                Ok(None) => {
                    if let Ok(fields) = self.intake_owed(&conv).await
                        && !fields.is_empty()
                    {
                        let _ = tx.send(encode(&PatientFrame::Intake { fields })).await;
                    }
                }
                Err(_) => {}
            }
        }
        let status = match conv.state {
            ConvState::Bot => PatientFrame::Status(PatientStatus::Bot),
            ConvState::Queued if conv.offline => PatientFrame::Status(PatientStatus::Offline {
                contact_left: self.contact_left(&conv.id).await,
            }),
            ConvState::Queued => {
                let position = self.hub.router().position(conv.id.as_str());
                self.queued_status(&conv.id, position, conv.urgent)
            }
            ConvState::Assigned => PatientFrame::Status(PatientStatus::Assigned {
                clinician: self.summary(&conv).await.assigned_name,
            }),
            ConvState::Closed => PatientFrame::Status(PatientStatus::Closed),
        };
        let _ = tx.send(encode(&status)).await;
        Ok((session, rx))
    }

    /// The conversation as the patient reads it back: a reload must not
    /// lose the thread, so they see the words as typed (theirs and the
    /// clinician's, opened from the vault), as they saw them live, with
    /// card, account and Social Security numbers masked (a shared screen).
    pub(crate) async fn patient_history(&self, conv: &Conversation) -> Vec<HistoryItem> {
        let mut messages = Vec::new();
        let originals = match self.store.originals(&conv.id).await {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, conversation = conv.id.as_str(), "the originals did not open");
                Default::default()
            }
        };
        if let Ok(stored) = self.store.messages(&conv.id).await {
            for m in &stored {
                let v = self.message_view(m).await;
                messages.push(HistoryItem {
                    from: v.from,
                    text: originals
                        .get(&m.id)
                        .map(|o| crate::masking::mask(o).unwrap_or_else(|| o.clone()))
                        .unwrap_or(v.text),
                    at: v.at,
                    name: v.name,
                    file: v.file,
                });
            }
        }
        messages
    }

    /// Registers a clinician's console: `hello` and their `queue` are
    /// waiting on the returned channel, and the router knows them.
    pub async fn connect_clinician(
        self: &Arc<Self>,
        user: User,
    ) -> (ClinicianSession, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel::<String>(OUTBOUND);
        let id = self.hub.add_clinician(user.id, tx.clone());
        let opened = self
            .routed(async {
                self.console_opened(user.id);
                self.sync_clinician(&user).await;
                Ok(())
            })
            .await;
        if let Err(e) = opened {
            tracing::error!(error = %e, "a console opening");
        }
        let hello = ClinicianFrame::Hello {
            user: self.user_view(&user),
        };
        let _ = tx.send(encode(&hello)).await;
        if let Ok(conversations) = self.visible_to(user.id).await {
            let _ = tx
                .send(encode(&ClinicianFrame::Queue { conversations }))
                .await;
        }
        let session = ClinicianSession {
            service: self.clone(),
            user,
            id,
        };
        (session, rx)
    }
}
