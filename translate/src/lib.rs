//! Machine translation between patient and clinician: a Candle MarianMT
//! backend for the OPUS-MT models Helsinki-NLP publishes, one model per
//! language pair, run on the clinic's own machine.
//!
//! It is its own crate so that the router stays pure and light: the router
//! only needs the [`Translator`] trait, while a Marian model pulls in
//! `candle-transformers` and `tokenizers`, which only a server that actually
//! loads translation models should have to build.
//!
//! [`MarianModel`] is one model directory (see [`MarianModel::load`] for
//! its files and both tokenizer forms); [`Translations`] holds several,
//! picks one by `(from, to)` and implements [`Translator`]. A directory
//! says which pair it translates by a `carechat.json` (`{"from": "es",
//! "to": "en"}`) or, without one, by a Helsinki-NLP name
//! (`opus-mt-es-en`):
//!
//! ```text
//! models/translate/opus-mt-es-en/     models/translate/clinic-en-es/
//!   config.json                         carechat.json   {"from":"en","to":"es"}
//!   model.safetensors                   config.json
//!   source.spm  target.spm              model.safetensors
//!   vocab.json                          tokenizer-source.json  tokenizer-target.json
//! ```
//!
//! Translation is CPU-bound and takes from tens of milliseconds to seconds
//! per message: the caller must run it off the async runtime
//! (`tokio::task::spawn_blocking` or an inference thread of its own), never
//! on a tokio worker. Reading model files is the only I/O here.

mod config;
mod marian;
mod registry;
mod spm;
mod tokenize;

pub use marian::{DEFAULT_MAX_TOKENS, MarianModel};
pub use registry::{PAIR_FILE, Translations, pair_of};
pub use router::{TranslateError, Translator};

use std::path::PathBuf;

/// Everything that can go wrong loading or running a translation model.
///
/// No variant carries message text: errors are logged, and chat text is
/// patient data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A model file is missing or unreadable.
    #[error("reading {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A model file is there but is not what it should be.
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    /// The weights do not fit the configuration.
    #[error("{}: {source}", path.display())]
    Weights {
        path: PathBuf,
        source: candle_core::Error,
    },
    /// Tokenizing or detokenizing a message failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The forward pass failed.
    #[error("inference: {0}")]
    Inference(#[from] candle_core::Error),
    /// A line of the message is longer than the model's positions.
    #[error("a line of {tokens} tokens is longer than the model takes ({limit})")]
    TooLong { tokens: usize, limit: usize },
    /// Two directories translate the same pair.
    #[error("both {} and {} translate {from} to {to}", first.display(), second.display())]
    DuplicatePair {
        from: String,
        to: String,
        first: PathBuf,
        second: PathBuf,
    },
}

/// This crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Reads a whole file, naming it if that fails.
pub(crate) fn read(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// An [`Error::Invalid`] about `path`.
pub(crate) fn invalid(path: &std::path::Path, message: impl Into<String>) -> Error {
    Error::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}
