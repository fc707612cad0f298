//! The offline contact form: when nobody who could help is online, the
//! patient says how to reach them (email, text message or a call, and when)
//! and asks their question; staff see it on the "Left a message" list, mark
//! it done, and answer when they are back.
//!
//! - The way to reach the patient is sealed with the conversation, as
//!   their messages' originals are; what is stored in the clear is
//!   redacted (`[EMAIL]`, `[PHONE]`, and the best time through the
//!   redactor). A store without a vault keeps the redacted values only,
//!   and the list says so (`encrypted: false`).
//! - The question is an ordinary patient message: red flags first (an
//!   emergency gets the emergency reply and jumps the queue), redacted
//!   before it is stored.
//! - Staff read the details where they may read the chat
//!   ([`Service::access`]), each list read audited as `contact_read`.

use serde::{Deserialize, Serialize};
use store::{
    ConvState, ConversationId, FormFields, FormKind, NewAudit, NewPatientForm, Role, User,
};

use crate::access::Access;
use crate::frames::{ClinicianFrame, PatientFrame, PatientStatus};
use crate::{MAX_MESSAGE_CHARS, Service, ServiceError, ServiceResult};

/// How the patient would like to be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    /// A text message to a mobile number.
    Sms,
    /// A call back.
    Phone,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Phone => "phone",
        }
    }

    fn parse(s: &str) -> Option<Channel> {
        [Channel::Email, Channel::Sms, Channel::Phone]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// What the widget's form sends.
#[derive(Debug, Clone, Deserialize)]
pub struct ContactInput {
    pub channel: Channel,
    /// An email address, or a phone number.
    pub contact: String,
    #[serde(default)]
    pub best_time: String,
    /// The patient's question; may be empty when they wrote it already.
    #[serde(default)]
    pub question: String,
}

/// The longest best-time answer.
pub const MAX_BEST_TIME_CHARS: usize = 100;
/// How many times one conversation may leave its details.
pub const MAX_PER_CONVERSATION: usize = 3;

/// An email address as people type them: one `@`, something before it, a
/// dotted domain after it, no spaces, at most 254 characters.
pub fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// A phone number as people type them: digits with spaces, dots, dashes,
/// parentheses and one leading `+`; 7 to 15 digits (E.164's most).
pub fn valid_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let body = s.strip_prefix('+').unwrap_or(s);
    (7..=15).contains(&digits)
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-' | '(' | ')'))
}

impl ContactInput {
    /// Checks the form, trimmed: a clear word for each thing wrong.
    fn checked(mut self) -> ServiceResult<ContactInput> {
        self.contact = self.contact.trim().to_string();
        self.best_time = self.best_time.trim().to_string();
        self.question = self.question.trim().to_string();
        let ok = match self.channel {
            Channel::Email => valid_email(&self.contact),
            Channel::Sms | Channel::Phone => valid_phone(&self.contact),
        };
        if !ok {
            return Err(ServiceError::BadRequest(match self.channel {
                Channel::Email => "that does not look like an email address".into(),
                _ => "that does not look like a phone number (7 to 15 digits)".into(),
            }));
        }
        if self.best_time.chars().count() > MAX_BEST_TIME_CHARS {
            return Err(ServiceError::BadRequest(format!(
                "the best time to reach you is {MAX_BEST_TIME_CHARS} characters at most"
            )));
        }
        if self.question.chars().count() > MAX_MESSAGE_CHARS {
            return Err(ServiceError::TooLong);
        }
        Ok(self)
    }
}

/// A left message as staff see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContactView {
    pub id: i64,
    #[schema(value_type = String)]
    pub conversation: ConversationId,
    pub channel: Channel,
    /// The address or number as the patient typed it; `[EMAIL]` or
    /// `[PHONE]` where it was not kept (a store without encryption).
    pub contact: String,
    pub best_time: String,
    /// Whether the details are the patient's own words, opened from the
    /// vault.
    pub encrypted: bool,
    /// The patient's language, when known.
    pub language: Option<String>,
    pub urgent: bool,
    #[schema(value_type = String)]
    pub created_at: store::Timestamp,
    #[schema(value_type = Option<String>)]
    pub done_at: Option<store::Timestamp>,
    pub done_by: Option<String>,
    #[schema(value_type = Option<String>)]
    pub replied_at: Option<store::Timestamp>,
}

fn fields(channel: Channel, contact: &str, best_time: &str) -> FormFields {
    [
        ("channel".to_string(), channel.as_str().to_string()),
        ("contact".to_string(), contact.to_string()),
        ("best_time".to_string(), best_time.to_string()),
    ]
    .into()
}

impl Service {
    /// The patient filled in the contact form. Refused unless the chat is
    /// waiting for staff with nobody online (the form is not a way around
    /// the queue), and after [`MAX_PER_CONVERSATION`] forms.
    pub async fn leave_contact(
        &self,
        conversation: &ConversationId,
        input: ContactInput,
    ) -> ServiceResult<()> {
        let input = input.checked()?;
        let conv = self.store.conversation(conversation).await?;
        self.check_consent(&conv).await?;
        if !(conv.state == ConvState::Queued && conv.offline) {
            return Err(ServiceError::Conflict(
                "the contact form is for when nobody is online".into(),
            ));
        }
        let left = self
            .store
            .forms_of(conversation, false)
            .await?
            .iter()
            .filter(|f| f.kind == FormKind::Contact)
            .count();
        if left >= MAX_PER_CONVERSATION {
            return Err(ServiceError::Conflict(
                "your details were left already; a team member will be in touch".into(),
            ));
        }
        // Counted against the conversation's message limit, as a message is.
        self.limits
            .messages
            .take(conversation.as_str(), self.now_ms())
            .map_err(|retry_after_secs| ServiceError::RateLimited { retry_after_secs })?;
        let placeholder = match input.channel {
            Channel::Email => "[EMAIL]",
            Channel::Sms | Channel::Phone => "[PHONE]",
        };
        let best_time = if input.best_time.is_empty() {
            String::new()
        } else {
            self.redact_staff_text(&input.best_time).await?
        };
        self.store
            .add_form(NewPatientForm {
                conversation_id: conversation.clone(),
                kind: FormKind::Contact,
                fields: fields(input.channel, placeholder, &best_time),
                original: Some(fields(input.channel, &input.contact, &input.best_time)),
            })
            .await?;
        tracing::info!(
            conversation = conversation.as_str(),
            channel = input.channel.as_str(),
            "contact details left for staff"
        );
        self.hub.to_patient(
            conversation,
            &PatientFrame::Status(PatientStatus::Offline { contact_left: true }),
        );
        for user in self.clinicians_online() {
            self.hub.to_clinician(
                user,
                &ClinicianFrame::LeftMessage {
                    conversation: conversation.clone(),
                },
            );
        }
        if !input.question.is_empty() {
            self.patient_message(conversation, &input.question, None)
                .await?;
        }
        Ok(())
    }

    /// The "Left a message" list: the contact forms of the chats `user` may
    /// see, open ones only unless `all`, oldest first. Reading it opens the
    /// patients' details, so it is audited (`contact_read`, with how many).
    pub async fn contact_requests(
        &self,
        user: &User,
        all: bool,
        address: Option<String>,
    ) -> ServiceResult<Vec<ContactView>> {
        if user.role == Role::Auditor {
            return Err(ServiceError::Forbidden("an auditor does not see chats"));
        }
        let forms = self.store.forms(FormKind::Contact, !all, true).await?;
        let mut out = Vec::new();
        for form in forms {
            let Ok(conv) = self.store.conversation(&form.conversation_id).await else {
                continue;
            };
            if self.access(user, &conv).await? != Access::Granted {
                continue;
            }
            out.push(self.contact_view(form, &conv).await);
        }
        if !out.is_empty() {
            self.store
                .audit(
                    NewAudit::new(Some(user.id), "contact_read", "", out.len().to_string())
                        .from_address(address),
                )
                .await?;
        }
        Ok(out)
    }

    /// Marks a left message done (or, `done` false, open again).
    pub async fn contact_done(
        &self,
        user: &User,
        id: i64,
        done: bool,
        address: Option<String>,
    ) -> ServiceResult<ContactView> {
        let (_, conv) = self.handled_form(user, id, false).await?;
        let audit = NewAudit::new(
            Some(user.id),
            if done {
                "contact_done"
            } else {
                "contact_reopen"
            },
            conv.id.as_str(),
            id.to_string(),
        )
        .from_address(address);
        self.store
            .set_form_done(id, done.then_some(user.id), audit)
            .await?;
        let form = self.store.form(id, true).await?;
        Ok(self.contact_view(form, &conv).await)
    }

    /// A left message (a contact form, not intake answers) and its chat,
    /// for a staff member who may see the chat without a reason; its
    /// details opened when `open`.
    pub(crate) async fn handled_form(
        &self,
        user: &User,
        id: i64,
        open: bool,
    ) -> ServiceResult<(store::PatientForm, store::Conversation)> {
        let form = self
            .store
            .form(id, open)
            .await
            .ok()
            .filter(|f| f.kind == FormKind::Contact)
            .ok_or(ServiceError::NotFound("no such message"))?;
        let conv = self.store.conversation(&form.conversation_id).await?;
        if user.role == Role::Auditor || self.access(user, &conv).await? != Access::Granted {
            return Err(ServiceError::Forbidden(
                "this message is not yours to handle",
            ));
        }
        Ok((form, conv))
    }

    pub(crate) async fn contact_view(
        &self,
        form: store::PatientForm,
        conv: &store::Conversation,
    ) -> ContactView {
        let field = |k: &str| form.fields.get(k).cloned().unwrap_or_default();
        let done_by = match form.done_by {
            Some(u) => self.store.user(u).await.ok().map(|u| u.display_name),
            None => None,
        };
        ContactView {
            id: form.id,
            conversation: form.conversation_id.clone(),
            channel: Channel::parse(&field("channel")).unwrap_or(Channel::Phone),
            contact: field("contact"),
            best_time: field("best_time"),
            encrypted: form.opened,
            language: conv.language.clone(),
            urgent: conv.urgent,
            created_at: form.created_at,
            done_at: form.done_at,
            done_by,
            replied_at: form.replied_at,
        }
    }

    /// Whether the patient already left their details in this chat (the
    /// widget then shows the thanks, not the form).
    pub(crate) async fn contact_left(&self, conversation: &ConversationId) -> bool {
        self.store
            .forms_of(conversation, false)
            .await
            .is_ok_and(|f| f.iter().any(|f| f.kind == FormKind::Contact))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_phone_numbers_as_people_type_them() {
        for ok in [
            "ana@example.org",
            "a.b+c@mail.example.co.uk",
            "zoë@exämple.de",
        ] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.org",
            "ana@example",
            "ana @example.org",
            "a@b@c.org",
            "ana@exa_mple.org",
            "ana@.org",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
        for ok in [
            "+1 (555) 010-2030",
            "555.010.2030",
            "0044 20 7946 0958",
            "5550102",
        ] {
            assert!(valid_phone(ok), "{ok}");
        }
        for bad in [
            "",
            "555-01",
            "call me",
            "+1 555 010 2030 ext 4",
            "1234567890123456",
            "++15550102030",
        ] {
            assert!(!valid_phone(bad), "{bad}");
        }
    }

    #[test]
    fn a_form_is_trimmed_and_each_mistake_named() {
        let form = |channel, contact: &str, best_time: &str| ContactInput {
            channel,
            contact: contact.into(),
            best_time: best_time.into(),
            question: "  Can I move my appointment?  ".into(),
        };
        let ok = form(Channel::Sms, " +1 555 010 2030 ", " mornings ")
            .checked()
            .unwrap();
        assert_eq!(
            (ok.contact.as_str(), ok.best_time.as_str()),
            ("+1 555 010 2030", "mornings")
        );
        assert_eq!(ok.question, "Can I move my appointment?");
        let e = form(Channel::Email, "+1 555 010 2030", "")
            .checked()
            .unwrap_err();
        assert!(e.to_string().contains("email address"), "{e}");
        let e = form(Channel::Phone, "ana@example.org", "")
            .checked()
            .unwrap_err();
        assert!(e.to_string().contains("phone number"), "{e}");
        let e = form(Channel::Phone, "5550102030", &"x".repeat(101))
            .checked()
            .unwrap_err();
        assert!(e.to_string().contains("100 characters"), "{e}");
        let mut long = form(Channel::Phone, "5550102030", "");
        long.question = "x".repeat(MAX_MESSAGE_CHARS + 1);
        assert!(matches!(long.checked(), Err(ServiceError::TooLong)));
    }
}
