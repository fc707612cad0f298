//! Numbers shown masked even to those who may read a chat: a card, a bank
//! account (with its routing number and IBAN) or a Social Security number in
//! the words as typed shows only its last four characters until someone
//! asks to see it ([`Service::reveal`]), which is audited.

use std::sync::OnceLock;

use redaction::{Kind, Redactor};
use store::{ConversationId, MessageId, NewAudit, Role, User};

use crate::{Service, ServiceError, ServiceResult};

/// What is masked on screen.
const MASKED: [Kind; 5] = [
    Kind::Ssn,
    Kind::Card,
    Kind::Account,
    Kind::Iban,
    Kind::Routing,
];
/// Characters left showing at the end of a masked number.
const SHOWN: usize = 4;

fn rules() -> &'static Redactor {
    static RULES: OnceLock<Redactor> = OnceLock::new();
    RULES.get_or_init(Redactor::new)
}

/// `text` with every card, account and Social Security number masked but
/// for its last four letters or digits (separators kept); `None` when it
/// holds none.
pub fn mask(text: &str) -> Option<String> {
    let spans: Vec<_> = rules()
        .redact(text)
        .spans
        .into_iter()
        .filter(|s| MASKED.contains(&s.kind))
        .collect();
    if spans.is_empty() {
        return None;
    }
    let mut chars: Vec<char> = text.chars().collect();
    for span in spans {
        let end = span.end.min(chars.len());
        let shown_from = {
            let mut kept = 0;
            let mut at = end;
            while at > span.start && kept < SHOWN {
                at -= 1;
                if chars[at].is_alphanumeric() {
                    kept += 1;
                }
            }
            at
        };
        for c in &mut chars[span.start..shown_from] {
            if c.is_alphanumeric() {
                *c = '•';
            }
        }
    }
    Some(chars.into_iter().collect())
}

impl Service {
    /// The whole original of one message, for a reader who may see the
    /// chat's originals and asks to (`reason` as for reading it); audited
    /// as `reveal`.
    pub async fn reveal(
        &self,
        conversation: &ConversationId,
        message: MessageId,
        reader: &User,
        reason: Option<&str>,
        address: Option<String>,
    ) -> ServiceResult<String> {
        if reader.role == Role::Auditor {
            return Err(ServiceError::Forbidden("an auditor does not see chats"));
        }
        let conv = self
            .store
            .conversation(conversation)
            .await
            .map_err(ServiceError::not_found("no such conversation"))?;
        let broke_glass = self
            .open_for(reader, &conv, reason, address.clone())
            .await?;
        if !Self::sees_originals(reader, &conv, broke_glass) {
            return Err(ServiceError::BreakGlassRequired);
        }
        let original = self
            .store
            .originals(conversation)
            .await?
            .remove(&message)
            .ok_or(ServiceError::NotFound(
                "no such message, or nothing kept of it",
            ))?;
        self.store
            .audit(
                NewAudit::new(
                    Some(reader.id),
                    "reveal",
                    conversation.as_str(),
                    format!("message={}", message.0),
                )
                .from_address(address),
            )
            .await?;
        Ok(original)
    }
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn numbers_show_their_last_four_and_nothing_else_changes() {
        assert_eq!(
            mask("my SSN is 123-45-6789, thanks").as_deref(),
            Some("my SSN is •••-••-6789, thanks")
        );
        let card = mask("card 4111 1111 1111 1111 exp 09/27").unwrap();
        assert!(card.contains("•••• •••• •••• 1111"), "{card}");
        assert_eq!(mask("see you at 9:00 on Saturday"), None);
    }
}
