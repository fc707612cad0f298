//! The clinic's intake questions: after consent, the widget may ask the
//! patient's name, date of birth, the reason for the visit and a number to
//! call back (the clinic chooses which, `[intake] fields`). All are
//! optional and may be skipped.
//!
//! Stored as a form of the conversation ([`store::FormKind::Intake`]): the
//! answers as typed sealed under its data key, placeholders (`[NAME]`,
//! `[DATE]`, `[PHONE]`, the reason redacted) in the clear. The clinician
//! who takes the chat (and an admin, or a break-glass reader) sees the
//! answers as typed beside it; a colleague who could take it from the queue
//! sees the placeholders, as with messages.

use serde::{Deserialize, Serialize};
use store::{ConvState, Conversation, FormFields, FormKind, NewPatientForm};

use crate::{Service, ServiceError, ServiceResult};

/// A question the clinic may ask before the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Name,
    DateOfBirth,
    Reason,
    /// A number to call back.
    Callback,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::DateOfBirth => "date_of_birth",
            Field::Reason => "reason",
            Field::Callback => "callback",
        }
    }

    fn parse(s: &str) -> Option<Field> {
        [
            Field::Name,
            Field::DateOfBirth,
            Field::Reason,
            Field::Callback,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }

    /// The most characters an answer may have.
    fn max_chars(self) -> usize {
        match self {
            Field::Name => 100,
            Field::DateOfBirth => 10,
            Field::Reason => 500,
            Field::Callback => 30,
        }
    }
}

/// `YYYY-MM-DD`, a real day, not in the future (as of `today`) and not
/// more than 130 years back.
pub fn valid_birth_date(s: &str, today: store::Timestamp) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i64>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return false;
    };
    if s.len() != 10 || !(1..=12).contains(&m) {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d == 0 || d > days[m as usize - 1] {
        return false;
    }
    let now = today.rfc3339();
    let this_year: i64 = now[..4].parse().unwrap_or(0);
    s <= &now[..10] && y >= this_year - 130
}

impl Service {
    /// The intake questions a new conversation is asked, when the clinic
    /// has any and this one has not answered them.
    pub(crate) async fn intake_owed(&self, conv: &Conversation) -> ServiceResult<Vec<Field>> {
        if self.intake.is_empty() || conv.state == ConvState::Closed {
            return Ok(Vec::new());
        }
        let answered = self
            .store
            .forms_of(&conv.id, false)
            .await?
            .iter()
            .any(|f| f.kind == FormKind::Intake);
        Ok(if answered {
            Vec::new()
        } else {
            self.intake.clone()
        })
    }

    /// The patient's answers: only the clinic's questions, each checked.
    pub async fn answer_intake(
        &self,
        conversation: &store::ConversationId,
        answers: std::collections::BTreeMap<String, String>,
    ) -> ServiceResult<()> {
        let conv = self.store.conversation(conversation).await?;
        self.check_consent(&conv).await?;
        if self.intake_owed(&conv).await?.is_empty() {
            return Err(ServiceError::Conflict(
                "there is nothing to answer in this chat".into(),
            ));
        }
        let mut original = FormFields::new();
        let mut stored = FormFields::new();
        for (key, value) in answers {
            let value = value.trim().to_string();
            let field = Field::parse(&key)
                .filter(|f| self.intake.contains(f))
                .ok_or_else(|| ServiceError::BadRequest(format!("{key} is not asked here")))?;
            if value.is_empty() {
                continue;
            }
            if value.chars().count() > field.max_chars() {
                return Err(ServiceError::BadRequest(format!(
                    "{} is {} characters at most",
                    field.as_str(),
                    field.max_chars()
                )));
            }
            let placeholder = match field {
                Field::Name => "[NAME]".to_string(),
                Field::DateOfBirth if valid_birth_date(&value, self.clock.now()) => {
                    "[DATE]".to_string()
                }
                Field::DateOfBirth => {
                    return Err(ServiceError::BadRequest(
                        "the date of birth is a day in the past, as YYYY-MM-DD".into(),
                    ));
                }
                Field::Callback if crate::contact::valid_phone(&value) => "[PHONE]".to_string(),
                Field::Callback => {
                    return Err(ServiceError::BadRequest(
                        "that does not look like a phone number (7 to 15 digits)".into(),
                    ));
                }
                Field::Reason => self.redact_staff_text(&value).await?,
            };
            stored.insert(key.clone(), placeholder);
            original.insert(key, value);
        }
        self.store
            .add_form(NewPatientForm {
                conversation_id: conversation.clone(),
                kind: FormKind::Intake,
                fields: stored,
                original: Some(original),
            })
            .await?;
        tracing::info!(conversation = conversation.as_str(), "intake answered");
        Ok(())
    }

    /// The intake answers of a conversation as `reader` may see them: as
    /// typed for those who see originals, else as stored.
    pub(crate) async fn intake_of(
        &self,
        conv: &Conversation,
        originals: bool,
    ) -> ServiceResult<Option<FormFields>> {
        Ok(self
            .store
            .forms_of(&conv.id, originals)
            .await?
            .into_iter()
            .rfind(|f| f.kind == FormKind::Intake)
            .map(|f| f.fields))
    }
}

/// The clinic's questions from its configuration (`[intake] fields`).
pub fn fields(names: &[String]) -> Result<Vec<Field>, String> {
    let mut out = Vec::new();
    for n in names {
        let f = Field::parse(n).ok_or_else(|| {
            format!("{n} is not an intake question: use name, date_of_birth, reason, callback")
        })?;
        if !out.contains(&f) {
            out.push(f);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_birth_date_is_a_real_past_day() {
        let today = store::Timestamp::parse_rfc3339("2026-12-07T10:00:00Z").unwrap();
        for ok in ["1980-02-29", "2026-12-07", "1990-12-31"] {
            assert!(valid_birth_date(ok, today), "{ok}");
        }
        for bad in [
            "1981-02-29",
            "2026-12-08",
            "1890-01-01",
            "1990-13-01",
            "1990-1-01",
            "07/12/1990",
            "",
        ] {
            assert!(!valid_birth_date(bad, today), "{bad}");
        }
    }

    #[test]
    fn the_clinics_questions_are_checked() {
        assert_eq!(
            fields(&["reason".into(), "name".into(), "reason".into()]).unwrap(),
            [Field::Reason, Field::Name]
        );
        assert!(fields(&["ssn".into()]).unwrap_err().contains("ssn"));
    }
}
