//! The sentence encoder: a BERT-family model (the `bert` crate's packed
//! forward pass), mean-pooled and L2-normalised, on a thread of its own.
//! Each pass also keeps the max-pooled vector ([`Pooled`]), which the spam
//! model reads beside the mean.
//!
//! [`EncoderHandle`] runs it on a [`Worker`] thread: batched, bounded,
//! "busy" when full.

use crate::worker::{BatchModel, Worker};
use crate::{EngineError, Result};
use bert::Bert;
use std::path::Path;
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

/// Tokens per forward pass. The pass is packed (no padding), so its cost
/// follows its tokens; about 32 chat messages, where the CPU throughput
/// curve flattens, and few enough that a patient queued behind a batch
/// waits one short pass.
const BATCH_TOKENS: usize = 768;
/// Longest input in tokens. Chat messages are short; long ones are truncated.
const MAX_TOKENS: usize = 256;

/// The file a tuned encoder's directory holds beside its weights: how it
/// was trained (written by `carechat train encoder`).
pub const TUNED_RECORD: &str = "tuned.json";

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
    /// prefix (e5 models want `"query: "`). `products` says how the linear
    /// layers multiply.
    pub fn load(dir: &Path, products: bert::Products) -> Result<Encoder> {
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
        let model = Bert::from_safetensors(config, &weights, products)?;
        let prefix = match std::fs::read(dir.join("carechat.json")) {
            Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("prefix")?.as_str().map(str::to_string))
                .unwrap_or_default(),
            Err(_) => String::new(),
        };
        // The name, and how it multiplies: integer and f32 embeddings differ
        // in the last digits, so caches keep them apart.
        let mut id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // A tuned model (`carechat train encoder`) can be retrained under
        // the same name: its training record tells the versions apart.
        if let Ok(record) = std::fs::read(dir.join(TUNED_RECORD)) {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(&record);
            id.push('@');
            id.push_str(&crate::hex(&digest[..6]));
        }
        if model.products() == bert::Products::Integer {
            id.push_str("+integer");
        }
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

    /// `text` as the model sees it: prefix, start and end tokens included,
    /// truncated to the longest input.
    fn encode(&self, text: &str) -> Result<tokenizers::Encoding> {
        self.tokenizer
            .encode(format!("{}{text}", self.prefix), true)
            .map_err(|e| EngineError::Tokenizer(e.to_string()))
    }

    /// The pieces `text` becomes, prefix and start and end tokens included.
    pub fn pieces(&self, text: &str) -> Result<Vec<String>> {
        Ok(self.encode(text)?.get_tokens().to_vec())
    }

    /// Unit-length embeddings, one per text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(self.pooled(texts)?.into_iter().map(|p| p.mean).collect())
    }

    /// Each text's hidden states pooled both ways, in order.
    pub fn pooled(&self, texts: &[&str]) -> Result<Vec<Pooled>> {
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
        // Sorted by length, so that each pass holds texts of a size, and cut
        // into passes under the token budget.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].len());
        let mut out = vec![Pooled::default(); texts.len()];
        let mut start = 0;
        while start < order.len() {
            let mut end = start;
            let mut tokens = 0;
            while end < order.len()
                && (end == start || tokens + encodings[order[end]].len() <= BATCH_TOKENS)
            {
                tokens += encodings[order[end]].len();
                end += 1;
            }
            let pass = &order[start..end];
            let ids: Vec<&[u32]> = pass.iter().map(|&i| encodings[i].get_ids()).collect();
            let hidden = self.model.forward(&ids)?;
            for (k, &i) in pass.iter().enumerate() {
                out[i] = Pooled {
                    mean: hidden.mean_pooled(k),
                    max: hidden.max_pooled(k),
                };
            }
            start = end;
        }
        Ok(out)
    }

    /// The piece ids of `text` as the model sees it (prefix, start and end
    /// tokens included, truncated to the longest input).
    pub fn ids(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.encode(text)?.get_ids().to_vec())
    }

    /// How many tokens `text` takes (prefix and special tokens included).
    pub fn tokens(&self, text: &str) -> usize {
        self.encode(text).map_or(MAX_TOKENS, |e| e.len())
    }
}

/// A text's final hidden states pooled two ways, each scaled to unit
/// length: the mean, the sentence embedding the intents compare, and the
/// element-wise maximum, which says whether any piece of the text pointed a
/// way ("prize", "txt") where the mean over a long message dilutes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pooled {
    pub mean: Vec<f32>,
    pub max: Vec<f32>,
}

impl Pooled {
    /// What the spam model reads: the mean, then the maximum.
    pub fn spam_features(&self) -> Vec<f32> {
        [self.mean.as_slice(), self.max.as_slice()].concat()
    }
}

impl BatchModel for Encoder {
    type Output = Pooled;
    fn run(&self, texts: &[&str]) -> Result<Vec<Pooled>> {
        self.pooled(texts)
    }
    fn cost(&self, text: &str) -> usize {
        self.tokens(text)
    }
}

/// A cheap, cloneable handle to the encoder thread.
#[derive(Clone)]
pub struct EncoderHandle {
    worker: Worker<Pooled>,
    dim: usize,
    id: String,
}

impl EncoderHandle {
    /// Moves `encoder` onto its own thread with a queue of `capacity` requests.
    pub fn spawn(encoder: Encoder, capacity: usize) -> EncoderHandle {
        let dim = encoder.dim();
        let id = encoder.id().to_string();
        let worker = Worker::spawn(encoder, "carechat-encoder", capacity, BATCH_TOKENS);
        EncoderHandle { worker, dim, id }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Requests waiting for the encoder now.
    pub fn waiting(&self) -> usize {
        self.worker.waiting()
    }

    /// Embeds `texts` without blocking the caller's thread; `Busy` when the
    /// queue is full.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        Ok(means(self.embed_pooled(texts).await?))
    }

    /// [`EncoderHandle::embed`], both poolings.
    pub async fn embed_pooled(&self, texts: Vec<String>) -> Result<Vec<Pooled>> {
        self.worker.run(texts).await
    }

    /// Embeds many texts, waiting for queue space: for start-up and batch
    /// tools, not for request handling.
    pub async fn embed_all(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        Ok(means(self.embed_all_pooled(texts).await?))
    }

    /// [`EncoderHandle::embed_all`], both poolings.
    pub async fn embed_all_pooled(&self, texts: Vec<String>) -> Result<Vec<Pooled>> {
        self.worker.run_all(texts).await
    }
}

fn means(pooled: Vec<Pooled>) -> Vec<Vec<f32>> {
    pooled.into_iter().map(|p| p.mean).collect()
}
