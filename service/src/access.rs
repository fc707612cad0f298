//! Who may see which conversation: least privilege, with a way through for
//! the times a clinic needs one ("break-glass").
//!
//! - An admin sees every conversation.
//! - A clinician sees the queue entries they could serve (their skills, or
//!   a fallback group standing in for one, and their licences; urgent chats
//!   to everyone), the chats they hold, held before, or are offered, and
//!   the chats on the held list (a message that read like spam, waiting
//!   for any staff member to look).
//! - Anything else (a colleague's chat, one the bot still has, another
//!   skill's queue entry) opens only with a stated reason: it is audited as
//!   `break_glass` with the reason (redacted) and pushed to every admin
//!   online. Without a reason the answer is `break_glass_required`.
//! - An auditor never sees a chat.
//!
//! `docs/security.md` has the same rules as a table.

use store::{ConvState, Conversation, NewAudit, Role, User};

use crate::frames::ClinicianFrame;
use crate::{Service, ServiceError, ServiceResult};

/// The shortest and longest stated reason for a break-glass look.
pub const MIN_REASON_CHARS: usize = 10;
pub const MAX_REASON_CHARS: usize = 200;

/// How a user may open a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Theirs to see.
    Granted,
    /// Only with a stated reason.
    BreakGlass,
}

impl Service {
    /// Whether `user` could serve `conv` from the queue: licensed where the
    /// chat must be served from, and with its skill or a fallback for it.
    /// Urgent chats are anyone's.
    pub(crate) fn could_serve(&self, user: &User, conv: &Conversation) -> bool {
        if user.role == Role::Admin {
            return true;
        }
        if let Some(state) = &conv.license_state
            && !user
                .licensed_states
                .iter()
                .any(|s| s.eq_ignore_ascii_case(state))
        {
            return false;
        }
        if conv.urgent {
            return true;
        }
        let Some(skill) = &conv.skill else {
            return true;
        };
        if user.skills.contains(skill) {
            return true;
        }
        let router = self.hub.router();
        router
            .policy()
            .fallback
            .get(skill)
            .is_some_and(|fallbacks| fallbacks.iter().any(|f| user.skills.contains(f)))
    }

    /// How `user` may open `conv`.
    pub async fn access(&self, user: &User, conv: &Conversation) -> ServiceResult<Access> {
        match user.role {
            Role::Auditor => Err(ServiceError::Forbidden("an auditor does not see chats")),
            Role::Admin => Ok(Access::Granted),
            Role::Clinician => {
                let offered = self
                    .hub
                    .router()
                    .offer(conv.id.as_str())
                    .is_some_and(|o| o.clinician == user.id.0);
                let queued_for_them =
                    conv.state == ConvState::Queued && self.could_serve(user, conv);
                if conv.assigned_to == Some(user.id)
                    || offered
                    || queued_for_them
                    || conv.held
                    || self.store.has_held(&conv.id, user.id).await?
                {
                    Ok(Access::Granted)
                } else {
                    Ok(Access::BreakGlass)
                }
            }
        }
    }

    /// Lets `user` open `conv` (to read it, take it or start it) if it is
    /// theirs to see, or if they state a `reason`: then the look is audited
    /// and every admin online is told. True when it took a reason.
    pub(crate) async fn open_for(
        &self,
        user: &User,
        conv: &Conversation,
        reason: Option<&str>,
        address: Option<String>,
    ) -> ServiceResult<bool> {
        if self.access(user, conv).await? == Access::Granted {
            return Ok(false);
        }
        let reason = reason.map(str::trim).unwrap_or_default();
        if reason.is_empty() {
            return Err(ServiceError::BreakGlassRequired);
        }
        let chars = reason.chars().count();
        if !(MIN_REASON_CHARS..=MAX_REASON_CHARS).contains(&chars) {
            return Err(ServiceError::BadRequest(format!(
                "the reason must be {MIN_REASON_CHARS} to {MAX_REASON_CHARS} characters"
            )));
        }
        let reason = self.redact_staff_text(reason).await?;
        self.store
            .audit(
                NewAudit::new(
                    Some(user.id),
                    "break_glass",
                    conv.id.as_str(),
                    reason.clone(),
                )
                .from_address(address),
            )
            .await?;
        let frame = ClinicianFrame::BreakGlass {
            conversation: conv.id.clone(),
            by: user.display_name.clone(),
            reason,
        };
        for id in self.clinicians_online() {
            if let Ok(u) = self.store.user(id).await
                && u.role == Role::Admin
            {
                self.hub.to_clinician(id, &frame);
            }
        }
        tracing::info!(
            user = user.id.0,
            conversation = conv.id.as_str(),
            "break-glass access"
        );
        Ok(true)
    }

    /// Whether `reader`, who opened `conv` (by a stated reason when
    /// `broke_glass`), sees the words as typed: the clinician who has the
    /// chat, an admin, or someone who stated why they must look.
    pub(crate) fn sees_originals(reader: &User, conv: &Conversation, broke_glass: bool) -> bool {
        reader.role == Role::Admin || conv.assigned_to == Some(reader.id) || broke_glass
    }

    /// Staff's own short text (a reason) as stored: through the PII model
    /// when it is loaded, else the rules alone.
    pub(crate) async fn redact_staff_text(&self, text: &str) -> ServiceResult<String> {
        match self.bot() {
            Ok(bot) => Ok(bot.redact(text).await?),
            Err(_) => Ok(redaction::Redactor::new().redact(text).text),
        }
    }
}
