//! The bot engine: everything that decides what Carechat says to a patient
//! before a person does.
//!
//! A clinic's bot may only say what the clinic wrote, so the engine is built
//! around a whitelist ([`Whitelist`]) of intents with canned replies, and its
//! job is mostly to decide *whether* one of them fits. One pipeline
//! ([`Bot::assess`]) runs every message through the same steps in the same
//! order: red flags on the text in memory first ([`Bot::emergency`]: no
//! model and no queue stand before an emergency), then language, PHI
//! redaction, the sentence encoder on the *redacted* text only, the spam
//! score (n-grams of the text in memory and that embedding), and the intent
//! classifier on the embedding. The encoder is a Candle BERT model that runs on its
//! own thread behind a bounded queue ([`EncoderHandle`]), so the async server
//! never blocks on it and can say "busy" instead of queueing without bound.
//! The PII model behind redaction runs the same way ([`Scrubber`]).
//!
//! Training (fine-tuning the encoder, fitting the spam model) sits behind
//! [`train`], which serving never calls; the spam scorer is [`spam`].
//!
//! Reading model files is the only I/O here; persistence lives in the
//! `store` crate, the conversation in `service`, sockets and HTTP in
//! `console`.

mod bot;
mod classifier;
mod encoder;
mod language;
mod lexical;
mod linear;
mod redflag;
mod scrub;
pub mod spam;
pub mod train;
mod urgency;
mod whisper;
mod whitelist;
mod worker;

pub use bot::{
    Action, Assessment, Bot, BotConfig, Calibration, Context, DEFAULT_URGENT_THRESHOLD,
    EmbeddingCache, Emergency, Evaluation, NoCache, Reason, UNCALIBRATED_THRESHOLD,
    WRONG_ANSWER_COST, cache_key, calibrate, embed_for_spam,
};
pub use classifier::{DEFAULT_HEAD_WEIGHT, Head, IntentIndex, IntentModel, Scored};
pub use encoder::{Encoder, EncoderHandle, Pooled, TUNED_RECORD};
pub use language::{LanguageDetector, primary_subtag};
pub use lexical::{DEFAULT_LEXICAL_WEIGHT, LexicalHead};
pub use redflag::RedFlags;
pub use scrub::{Scrubber, load_pii_model};
pub use urgency::{
    UrgencyExample, UrgencyModel, UrgencyOptions, line_noise, urgency_corpus, urgency_training_set,
};
pub use whisper::{Suggestion, Whisper};
pub use whitelist::{Case, Intent, Messages, Whitelist};
pub use worker::{BatchModel, Worker};

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("model: {0}")]
    Model(#[from] bert::BertError),
    #[error("training the intent head: {0}")]
    Head(#[from] candle_core::Error),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("model config: {0}")]
    Config(String),
    #[error("whitelist: {0}")]
    Whitelist(String),
    /// A model's queue is full: the caller should tell its client to retry.
    #[error("the model is busy")]
    Busy,
    /// A model's thread has stopped (it panicked or was shut down).
    #[error("the model has stopped")]
    Stopped,
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Lower-case hexadecimal, for digests in cache keys and model ids.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
