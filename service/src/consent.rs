//! Consent before the first message: the clinic's text (bot-wide message
//! `consent`, one per language) says the patient is talking to an automated
//! assistant and then to staff, that the chat is not for emergencies and the
//! number to call, and links the privacy notice (`[clinic] privacy_url`).
//!
//! - The widget shows it after `welcome`, and nothing can be typed until
//!   the patient accepts; the acceptance is recorded with the text's
//!   version (a hash of the words shown and the notice's address) and the
//!   time: no PHI.
//! - A message before acceptance is refused (`consent_required`), except
//!   an emergency: a red flag gets the emergency reply, always.
//! - A clinic that leaves the text out has no consent step.

use serde::Serialize;
use sha2::{Digest, Sha256};
use store::{Conversation, ConversationId};

use crate::{Service, ServiceError, ServiceResult};

/// The consent text as one patient is shown it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Consent {
    /// Names exactly these words and this notice: what is recorded.
    pub version: String,
    pub text: String,
    /// The clinic's privacy notice, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy_url: Option<String>,
    /// The language of `text`.
    #[serde(skip)]
    pub language: String,
}

/// The version of a consent text: the first 16 hex digits of the SHA-256
/// of its language, words and notice address.
pub fn version(language: &str, text: &str, privacy_url: &str) -> String {
    let digest = Sha256::digest(format!("{language}\n{text}\n{privacy_url}").as_bytes());
    hex::encode(&digest[..8])
}

impl Service {
    /// The language a conversation's fixed texts are shown in.
    pub(crate) fn shown_language(conv: &Conversation) -> String {
        conv.language
            .clone()
            .or_else(|| {
                conv.browser_language
                    .as_deref()
                    .and_then(bot_engine::primary_subtag)
            })
            .unwrap_or_else(|| "en".into())
    }

    /// The consent text for `language`, when the clinic has one.
    pub fn consent_text(&self, language: &str) -> Option<Consent> {
        let whitelist = self.whitelist();
        let by_lang = &whitelist.messages.consent;
        if by_lang.is_empty() {
            return None;
        }
        let shown = if by_lang.contains_key(language) {
            language
        } else {
            "en"
        };
        let text = bot_engine::Messages::render(by_lang, shown, &[]);
        let url = self.clinic.privacy_url.trim();
        Some(Consent {
            version: version(shown, &text, url),
            text,
            privacy_url: (!url.is_empty()).then(|| url.to_string()),
            language: shown.to_string(),
        })
    }

    /// The consent the conversation's patient still has to give, if any.
    /// Runs before every ordinary patient message: a clinic without a
    /// consent text, or a chat that accepted it, costs no more than that.
    pub(crate) async fn consent_owed(&self, conv: &Conversation) -> ServiceResult<Option<Consent>> {
        if self.whitelist().messages.consent.is_empty()
            || self.store.consent(&conv.id).await?.is_some()
        {
            return Ok(None);
        }
        Ok(self.consent_text(&Self::shown_language(conv)))
    }

    /// The patient accepted `version`. A version that is not the text they
    /// would be shown now (the clinic changed it meanwhile) is refused with
    /// the new text to show.
    pub async fn accept_consent(
        &self,
        conversation: &ConversationId,
        version: &str,
    ) -> ServiceResult<Result<(), Consent>> {
        let conv = self.store.conversation(conversation).await?;
        let Some(current) = self.consent_text(&Self::shown_language(&conv)) else {
            return Ok(Ok(()));
        };
        if current.version != version {
            return Ok(Err(current));
        }
        self.store
            .record_consent(conversation, version, &current.language)
            .await?;
        tracing::info!(
            conversation = conversation.as_str(),
            version,
            "consent recorded"
        );
        Ok(Ok(()))
    }

    /// Refuses an ordinary message before consent.
    pub(crate) async fn check_consent(&self, conv: &Conversation) -> ServiceResult<()> {
        match self.consent_owed(conv).await? {
            Some(_) => Err(ServiceError::ConsentRequired),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_names_the_words_the_language_and_the_notice() {
        let v = version("en", "Not for emergencies.", "https://maple.test/privacy");
        assert_eq!(v.len(), 16);
        assert_eq!(
            v,
            version("en", "Not for emergencies.", "https://maple.test/privacy")
        );
        assert_ne!(
            v,
            version("en", "Not for emergencies!", "https://maple.test/privacy")
        );
        assert_ne!(
            v,
            version("es", "Not for emergencies.", "https://maple.test/privacy")
        );
        assert_ne!(
            v,
            version("en", "Not for emergencies.", "https://maple.test/privacy2")
        );
    }
}
