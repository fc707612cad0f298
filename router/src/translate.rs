//! The translation seam. The router decides *whether* a chat needs
//! translating (see [`crate::translation_plan`]); a backend outside this crate
//! (the Candle Marian models, say) does the translating by implementing
//! [`Translator`]. The trait is object-safe and `Send + Sync` so the server
//! can hold one `Arc<dyn Translator>` and call it from any task; it is pure in
//! the sense that it takes text and gives text, with no say over routing.

/// Translates text between languages given as ISO 639-1 codes (`"en"`,
/// `"es"`); codes are compared case-insensitively by callers in this crate.
pub trait Translator: Send + Sync {
    /// Whether this translator can translate from `from` to `to`. Cheap: the
    /// router's callers ask it while deciding a plan.
    fn supports(&self, from: &str, to: &str) -> bool;

    /// Translates `text` from `from` to `to`.
    fn translate(&self, text: &str, from: &str, to: &str) -> Result<String, TranslateError>;
}

/// Why a translation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// No installed model covers this pair.
    #[error("no model translates {from} to {to}")]
    Unsupported { from: String, to: String },
    /// The model ran and failed; the message is for the log, not the patient.
    #[error("translation failed: {0}")]
    Failed(String),
}
