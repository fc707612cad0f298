//! The sentence encoder: a BERT-family model run with Candle, mean-pooled and
//! L2-normalised, on a thread of its own.
//!
//! Inference is CPU-bound and takes milliseconds, so it must not run on a
//! tokio worker. [`EncoderHandle`] owns one inference thread fed by a bounded
//! queue; the thread drains whatever is waiting into one batch, which is where
//! the throughput under load comes from. A full queue is reported as
//! [`EngineError::Busy`] at once rather than making callers wait without bound.

use std::path::Path;
use std::sync::mpsc::{self, SyncSender, TrySendError};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};
use tokio::sync::oneshot;

use crate::{EngineError, Result};

/// Texts per forward pass. Larger batches pad more; this is where the CPU
/// throughput curve flattens for short chat messages.
const MAX_BATCH: usize = 32;
/// Longest input in tokens. Chat messages are short; long ones are truncated.
const MAX_TOKENS: usize = 256;

pub struct Encoder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
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
        let config: Config = serde_json::from_slice(&read(&dir.join("config.json"))?)
            .map_err(|e| EngineError::Config(e.to_string()))?;
        let dim = hidden_size(&read(&dir.join("config.json"))?)?;
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
        let device = Device::Cpu;
        // Read rather than mmap: the workspace forbids unsafe code, and the
        // model is small enough to hold in memory once.
        let weights = read(&dir.join("model.safetensors"))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)?;
        let model = BertModel::load(vb, &config)?;
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
            device,
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
        // Sort by length so each batch pads as little as possible.
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
        let len = encodings
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(1)
            .max(1);
        let mut ids = Vec::with_capacity(texts.len() * len);
        let mut mask = Vec::with_capacity(texts.len() * len);
        for e in &encodings {
            let n = e.get_ids().len();
            ids.extend_from_slice(e.get_ids());
            ids.extend(std::iter::repeat_n(0u32, len - n));
            mask.extend(std::iter::repeat_n(1u32, n));
            mask.extend(std::iter::repeat_n(0u32, len - n));
        }
        let ids = Tensor::from_vec(ids, (texts.len(), len), &self.device)?;
        let mask = Tensor::from_vec(mask, (texts.len(), len), &self.device)?;
        let type_ids = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?;
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let mean = summed.broadcast_div(&mask.sum(1)?)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
        Ok(mean.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }
}

fn hidden_size(config: &[u8]) -> Result<usize> {
    serde_json::from_slice::<serde_json::Value>(config)
        .ok()
        .and_then(|v| v.get("hidden_size")?.as_u64())
        .map(|n| n as usize)
        .ok_or_else(|| EngineError::Config("config.json has no hidden_size".into()))
}

struct Job {
    texts: Vec<String>,
    reply: oneshot::Sender<Result<Vec<Vec<f32>>>>,
}

/// A cheap, cloneable handle to the encoder thread.
#[derive(Clone)]
pub struct EncoderHandle {
    tx: SyncSender<Job>,
    dim: usize,
    id: String,
}

impl EncoderHandle {
    /// Moves `encoder` onto its own thread with a queue of `capacity` requests.
    pub fn spawn(encoder: Encoder, capacity: usize) -> EncoderHandle {
        let (tx, rx) = mpsc::sync_channel::<Job>(capacity.max(1));
        let dim = encoder.dim();
        let id = encoder.id().to_string();
        std::thread::Builder::new()
            .name("carechat-encoder".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut jobs = vec![first];
                    let mut n = jobs[0].texts.len();
                    while n < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(job) => {
                                n += job.texts.len();
                                jobs.push(job);
                            }
                            Err(_) => break,
                        }
                    }
                    let all: Vec<&str> = jobs
                        .iter()
                        .flat_map(|j| j.texts.iter().map(String::as_str))
                        .collect();
                    match encoder.embed(&all) {
                        Ok(mut vectors) => {
                            for job in jobs.into_iter().rev() {
                                let rest = vectors.split_off(vectors.len() - job.texts.len());
                                let _ = job.reply.send(Ok(rest));
                            }
                        }
                        Err(e) => {
                            let message = e.to_string();
                            for job in jobs {
                                let _ = job.reply.send(Err(EngineError::Config(message.clone())));
                            }
                        }
                    }
                }
            })
            .expect("spawning the encoder thread");
        EncoderHandle { tx, dim, id }
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
        let (reply, rx) = oneshot::channel();
        match self.tx.try_send(Job { texts, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(EngineError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(EngineError::Stopped),
        }
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Embeds many texts, waiting for queue space: for start-up and batch
    /// tools, not for request handling.
    pub async fn embed_all(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(MAX_BATCH) {
            let (reply, rx) = oneshot::channel();
            let tx = self.tx.clone();
            let job = Job {
                texts: chunk.to_vec(),
                reply,
            };
            // A blocking send would stall a tokio worker; wait for queue
            // space on the blocking pool instead.
            tokio::task::spawn_blocking(move || tx.send(job))
                .await
                .map_err(|_| EngineError::Stopped)?
                .map_err(|_| EngineError::Stopped)?;
            out.extend(rx.await.map_err(|_| EngineError::Stopped)??);
        }
        Ok(out)
    }
}
