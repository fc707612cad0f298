//! The sentence encoder: a BERT-family model (the `bert` crate's packed
//! forward pass), mean-pooled and L2-normalised, on a thread of its own.
//!
//! [`EncoderHandle`] runs it on a [`Worker`] thread: batched, bounded,
//! "busy" when full.

use crate::worker::{BatchModel, Worker};
use crate::{EngineError, Result};
use bert::Bert;
use std::path::Path;
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

/// Texts per forward pass (packed, so longer batches cost no padding; this
/// is where the CPU throughput curve flattens for short chat messages).
const MAX_BATCH: usize = 32;
/// Longest input in tokens. Chat messages are short; long ones are truncated.
const MAX_TOKENS: usize = 256;

pub struct Encoder {
    model: Bert,
    tokenizer: Tokenizer,
    dim: usize,
    prefix: String,
    id: String,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| EngineError::Io {
        path: path.display().to_string(),
        source,
    })
}

impl Encoder {
    /// Loads a model directory holding `config.json`, `tokenizer.json` and
    /// `model.safetensors`. A `carechat.json` beside them may name an input
    /// prefix (e5 models want `"query: "`).
    pub fn load(dir: &Path) -> Result<Encoder> {
        let config = bert::Config::from_json(&read(&dir.join("config.json"))?)?;
        let dim = config.hidden;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| EngineError::Tokenizer(e.to_string()))?;
        // The shipped tokenizer pads every input to 128 tokens: mean pooling
        // must see each text's real tokens only, and padding to the batch's
        // longest text is several times faster for chat-length input.
        tokenizer.with_padding(None::<PaddingParams>);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| EngineError::Tokenizer(e.to_string()))?;
        // Read rather than mmap: the workspace forbids unsafe code, and the
        // model is small enough to hold in memory once.
        let weights = read(&dir.join("model.safetensors"))?;
        let model = Bert::from_safetensors(config, &weights)?;
        let prefix = match std::fs::read(dir.join("carechat.json")) {
            Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("prefix")?.as_str().map(str::to_string))
                .unwrap_or_default(),
            Err(_) => String::new(),
        };
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Encoder {
            model,
            tokenizer,
            dim,
            prefix,
            id,
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The model's name (its directory), for caches keyed by model.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Unit-length embeddings, one per text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        // Sort by length so that texts of a size share a batch.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(MAX_BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            for (&i, v) in chunk.iter().zip(self.embed_batch(&batch)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// The pieces `text` becomes, prefix and start and end tokens included.
    pub fn pieces(&self, text: &str) -> Result<Vec<String>> {
        let encoding = self
            .tokenizer
            .encode(format!("{}{text}", self.prefix), true)
            .map_err(|e| EngineError::Tokenizer(e.to_string()))?;
        Ok(encoding.get_tokens().to_vec())
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let inputs: Vec<String> = texts
            .iter()
            .map(|t| format!("{}{t}", self.prefix))
            .collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| EngineError::Tokenizer(e.to_string()))?;
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        let hidden = self.model.forward(&ids)?;
        Ok((0..texts.len()).map(|i| hidden.mean_pooled(i)).collect())
    }
}

impl BatchModel for Encoder {
    type Output = Vec<f32>;
    fn run(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed(texts)
    }
}

/// A cheap, cloneable handle to the encoder thread.
#[derive(Clone)]
pub struct EncoderHandle {
    worker: Worker<Vec<f32>>,
    dim: usize,
    id: String,
}

impl EncoderHandle {
    /// Moves `encoder` onto its own thread with a queue of `capacity` requests.
    pub fn spawn(encoder: Encoder, capacity: usize) -> EncoderHandle {
        let dim = encoder.dim();
        let id = encoder.id().to_string();
        let worker = Worker::spawn(encoder, "carechat-encoder", capacity, MAX_BATCH);
        EncoderHandle { worker, dim, id }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Embeds `texts` without blocking the caller's thread; `Busy` when the
    /// queue is full.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        self.worker.run(texts).await
    }

    /// Embeds many texts, waiting for queue space: for start-up and batch
    /// tools, not for request handling.
    pub async fn embed_all(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        self.worker.run_all(texts).await
    }
}
