//! The decision pipeline for one patient message: the [`Bot`] and what it
//! decides. Building it (embedding the whitelist, fitting and calibrating
//! the heads) is in `build`, deciding one message in `assess`, the policy
//! knobs in `config`, the threshold's choice in `calibration`, the
//! embedding cache in `embed`, and a bot judged on known answers (and
//! rebuilt for another whitelist) in `evaluate`.

mod assess;
mod build;
mod calibration;
mod config;
mod embed;
mod evaluate;

pub use calibration::{Calibration, WRONG_ANSWER_COST, calibrate};
pub use config::{BotConfig, DEFAULT_URGENT_THRESHOLD, UNCALIBRATED_THRESHOLD};
pub use embed::{EmbeddingCache, NoCache, cache_key, embed_for_spam};
pub use evaluate::Evaluation;

use std::sync::Arc;

use redaction::Span;
use serde::{Deserialize, Serialize};

use crate::spam::{Embedded, Signals, SpamScorer};
use crate::{
    EncoderHandle, IntentModel, LanguageDetector, RedFlags, Result, Scored, Scrubber, Whitelist,
    whitelist::Messages,
};

/// What the bot does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A canned reply from the whitelist.
    Answer,
    /// A person takes over.
    Escalate,
    /// An emergency: the emergency reply, and the chat jumps the queue.
    Urgent,
    /// Spam: not answered, not routed.
    Block,
    /// Reads like spam on its words alone, with nothing else against it (no
    /// repeats, no burst, no earlier blocked message): not answered, and
    /// held for a person to look at, not blocked.
    Hold,
}

/// Why a chat went to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    LowConfidence,
    HandoffIntent,
    RedFlag,
}

/// What the pipeline knows about the conversation so far.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub previous_language: Option<String>,
    pub browser_language: Option<String>,
    /// The skill of the last intent the bot answered in this conversation:
    /// its topic so far, for intents that [`Intent::inherit_skill`].
    ///
    /// [`Intent::inherit_skill`]: crate::Intent::inherit_skill
    pub previous_skill: Option<String>,
    /// How many times this conversation already sent this exact text.
    pub repeats: usize,
    /// Messages this conversation sent in the last minute.
    pub recent: usize,
    /// The sender (this conversation or its address) already had a message
    /// blocked as spam.
    pub known_bad_sender: bool,
}

/// Everything the pipeline decided about one message.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// The message with PHI replaced by placeholders: the only form stored.
    pub redacted: String,
    pub spans: Vec<Span>,
    pub language: String,
    pub language_confidence: f64,
    pub spam_score: f32,
    pub spam: bool,
    /// The matched intent, when the score cleared the threshold (or a red flag fired).
    pub intent: Option<String>,
    /// The best intent's score, whether or not it cleared the threshold.
    pub confidence: f32,
    pub top: Option<Scored>,
    pub alternatives: Vec<Scored>,
    pub action: Action,
    pub reason: Option<Reason>,
    /// The skill a person needs, when the chat escalates.
    pub skill: Option<String>,
    /// What the patient is told now, in their language when the clinic wrote it.
    pub reply: String,
    /// The red-flag phrase that fired, if any.
    pub red_flag: Option<String>,
}

/// An emergency recognised on the text in memory, before any model queue
/// ([`Bot::emergency`]): what the patient is told at once and where the
/// chat goes. The message's redacted form comes later
/// ([`Scrubber::redact_urgent`]).
#[derive(Debug, Clone)]
pub struct Emergency {
    pub language: String,
    pub language_confidence: f64,
    /// The red-flag trigger that fired.
    pub red_flag: String,
    /// The clinic's emergency intent, when it has one.
    pub intent: Option<String>,
    pub skill: Option<String>,
    /// The emergency reply, in the patient's language when the clinic wrote it.
    pub reply: String,
}

impl Emergency {
    /// The whole assessment, once the message is redacted.
    pub fn assessment(self, redacted: redaction::Redacted) -> Assessment {
        Assessment {
            redacted: redacted.text,
            spans: redacted.spans,
            language: self.language,
            language_confidence: self.language_confidence,
            spam_score: 0.0,
            spam: false,
            intent: self.intent,
            confidence: 1.0,
            top: None,
            alternatives: Vec::new(),
            action: Action::Urgent,
            reason: Some(Reason::RedFlag),
            skill: self.skill,
            reply: self.reply,
            red_flag: Some(self.red_flag),
        }
    }
}

pub struct Bot {
    whitelist: Arc<Whitelist>,
    model: IntentModel,
    threshold: f32,
    calibration: Option<Calibration>,
    encoder: EncoderHandle,
    scrubber: Scrubber,
    red_flags: RedFlags,
    urgency: Option<crate::UrgencyModel>,
    spam: SpamScorer,
    language: LanguageDetector,
    /// The languages the whitelist's examples are written in: the only ones
    /// the lexical head reads ([`crate::LexicalHead`]).
    example_languages: Vec<String>,
    config: BotConfig,
}

/// How many of the whitelist's examples a language needs for the lexical
/// head to read messages in it.
const LEXICAL_MIN_EXAMPLES: usize = 20;

impl Bot {
    /// The threshold in use (configured, or calibrated at start-up).
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// What calibration found, when there were held-out phrasings.
    pub fn calibration(&self) -> Option<&Calibration> {
        self.calibration.as_ref()
    }

    pub fn whitelist(&self) -> &Arc<Whitelist> {
        &self.whitelist
    }

    /// Redaction as the message path does it (rules, and the model when
    /// installed).
    pub fn scrubber(&self) -> &Scrubber {
        &self.scrubber
    }

    pub fn config(&self) -> &BotConfig {
        &self.config
    }

    /// Requests waiting for the sentence encoder now.
    pub fn encoder_waiting(&self) -> usize {
        self.encoder.waiting()
    }
}
