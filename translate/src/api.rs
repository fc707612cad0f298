// TEMPORARY: identical to router::Translator; replaced by the router's trait at merge
//! The contract between the router and a translation backend.

/// Translates chat text between two languages, by language code.
pub trait Translator: Send + Sync {
    /// Whether a model translates `from` into `to`.
    fn supports(&self, from: &str, to: &str) -> bool;
    /// `text` in `from`, translated into `to`.
    fn translate(&self, text: &str, from: &str, to: &str) -> Result<String, TranslateError>;
}

/// Why a translation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// No loaded model translates this pair.
    #[error("no model translates {from} to {to}")]
    Unsupported { from: String, to: String },
    /// The model failed (tokenizer, inference, or a message it cannot take).
    #[error("translation failed: {0}")]
    Failed(String),
}
