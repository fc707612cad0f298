//! What the server's conversation modules share (`service.rs`, the
//! messages and the state machine; `routing.rs`, the router's side): the
//! limits on text, the clock, the views the API and the sockets send, and
//! the adapters between the store's conversations and the router. Kept
//! apart so that neither of the two imports the other.

use router::Request;
use serde::Serialize;
use serde_json::Value;

use super::ApiError;
use crate::store::{ConvState, Conversation};

pub const MAX_MESSAGE_CHARS: usize = 2000;

/// A message anyone may send: not blank, and not over the limit.
pub(super) fn check_text(text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::BadRequest("the message is empty".into()));
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::TooLong);
    }
    Ok(())
}

pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub id: String,
    pub state: ConvState,
    pub urgent: bool,
    pub language: Option<String>,
    pub assigned_to: Option<i64>,
    pub assigned_name: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub position: Option<usize>,
    /// Left through the offline contact form: waits for staff by hand.
    pub offline: bool,
    /// A pending offer: to whom.
    pub offered_to: Option<i64>,
    /// The router's estimate of the wait, when it has a basis for one.
    pub wait_s: Option<u64>,
    pub whisper: Option<Value>,
}

/// A machine translation of a message, as the console and widget show it
/// beside the original.
#[derive(Debug, Clone, Serialize)]
pub struct Translation {
    pub text: String,
    pub language: String,
    /// Always true: the reader is told a machine translated it.
    pub machine: bool,
}

impl Translation {
    /// What the store keeps: the (redacted) text and its language.
    pub fn stored(&self) -> (String, String) {
        (self.text.clone(), self.language.clone())
    }

    pub fn from_stored((text, language): &(String, String)) -> Translation {
        Translation {
            text: text.clone(),
            language: language.clone(),
            machine: true,
        }
    }
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

pub(super) fn request_for(conv: &Conversation) -> Request {
    let mut request = Request::new(&conv.id, conv.language.as_deref().unwrap_or("en"), now_ms())
        .with_urgent(conv.urgent);
    if let Some(skill) = &conv.skill {
        request = request.with_skill(skill);
    }
    if let Some(state) = &conv.license_state {
        request = request.with_license_state(state);
    }
    request
}

pub(super) fn route_error(e: router::RouteError) -> ApiError {
    match e {
        router::RouteError::Conflict { .. } => {
            ApiError::Conflict("another clinician has this chat".into())
        }
        router::RouteError::Offered { .. } => {
            ApiError::Conflict("this chat is offered to another clinician".into())
        }
        router::RouteError::OfferExpired { .. } => {
            ApiError::Conflict("the offer expired; the chat has moved on".into())
        }
        router::RouteError::NotOffered { .. } => {
            ApiError::Conflict("this chat is not offered to you".into())
        }
        e => ApiError::Internal(e.into()),
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
}
