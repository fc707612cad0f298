//! PHI redaction for the message path: the redactor's rules, plus the PII
//! model on its own inference thread when one is installed.
//!
//! The rules run on the caller's thread (microseconds); the model runs on a
//! [`Worker`], batched with other conversations' messages, and its spans are
//! merged with the rules' by [`Redactor::redact_with`]. Without a model the
//! scrubber is rules only, which is also what the `redaction.model = false`
//! setting gives.

use std::path::Path;
use std::sync::Arc;

use redaction::model::NerModel;
use redaction::{Redacted, Redactor, Span};

use crate::worker::{BatchModel, Worker};
use crate::{EngineError, Result};

/// Word pieces per batch of the PII model's worker (about 32 chat messages).
const BATCH_PIECES: usize = 1024;

impl BatchModel for NerModel {
    type Output = Vec<Span>;
    fn run(&self, texts: &[&str]) -> Result<Vec<Vec<Span>>> {
        self.detect_batch(texts)
            .map_err(|e| EngineError::Config(e.to_string()))
    }
    fn cost(&self, text: &str) -> usize {
        self.pieces(text)
    }
}

/// Loads a PII token-classifier directory (`config.json`, `tokenizer.json`,
/// `model.safetensors`).
pub fn load_pii_model(dir: &Path, products: bert::Products) -> Result<NerModel> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| EngineError::Io {
            path: path.display().to_string(),
            source,
        })
    };
    NerModel::from_bytes(
        &read("config.json")?,
        &read("tokenizer.json")?,
        read("model.safetensors")?,
        products,
    )
    .map_err(|e| EngineError::Config(e.to_string()))
}

/// Redacts text with the rules and, when present, the PII model.
#[derive(Clone)]
pub struct Scrubber {
    redactor: Arc<Redactor>,
    model: Option<Worker<Vec<Span>>>,
    /// What redacts, for caches keyed by it ("rules", "rules+pii-ner@0.3",
    /// "rules+pii-ner@0.3+integer").
    id: String,
}

impl Scrubber {
    /// Rules only.
    pub fn rules(redactor: Arc<Redactor>) -> Scrubber {
        Scrubber {
            redactor,
            model: None,
            id: "rules".into(),
        }
    }

    /// Rules plus `model` on its own thread with a queue of `capacity`.
    pub fn with_model(redactor: Arc<Redactor>, model: NerModel, capacity: usize) -> Scrubber {
        let mut id = format!("rules+pii-ner@{}", model.threshold());
        if model.products() == bert::Products::Integer {
            id.push_str("+integer");
        }
        Scrubber {
            redactor,
            model: Some(Worker::spawn(model, "carechat-pii", capacity, BATCH_PIECES)),
            id,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn has_model(&self) -> bool {
        self.model.is_some()
    }

    pub fn redactor(&self) -> &Arc<Redactor> {
        &self.redactor
    }

    /// `text` redacted; `Busy` when the model's queue is full (the message
    /// must then be refused, never stored unredacted).
    pub async fn redact(&self, text: &str) -> Result<Redacted> {
        let Some(model) = &self.model else {
            return Ok(self.redactor.redact(text));
        };
        let spans = model.run(vec![text.to_string()]).await?;
        Ok(self.redactor.redact_with(text, &spans[0]))
    }

    /// `text` redacted through the model's urgent lane: never `Busy`, and
    /// ahead of every ordinary message waiting (an emergency's redaction).
    pub async fn redact_urgent(&self, text: &str) -> Result<Redacted> {
        let Some(model) = &self.model else {
            return Ok(self.redactor.redact(text));
        };
        let spans = model.run_urgent(vec![text.to_string()]).await?;
        Ok(self.redactor.redact_with(text, &spans[0]))
    }

    /// Many texts, waiting for queue space: for start-up and batch tools.
    pub async fn redact_all(&self, texts: &[String]) -> Result<Vec<Redacted>> {
        let Some(model) = &self.model else {
            return Ok(texts.iter().map(|t| self.redactor.redact(t)).collect());
        };
        let spans = model.run_all(texts.to_vec()).await?;
        Ok(texts
            .iter()
            .zip(&spans)
            .map(|(t, s)| self.redactor.redact_with(t, s))
            .collect())
    }
}
