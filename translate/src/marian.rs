//! One OPUS-MT model: a Candle `marian::MTModel`, its tokenizers, and
//! greedy decoding.

use crate::tokenize::Tokenizers;
use crate::{Error, Result, invalid};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::marian::{self, MTModel};
use std::path::Path;
use std::sync::Mutex;

/// The most target tokens one line of a message may become, unless
/// [`MarianModel::with_max_tokens`] says otherwise. Chat lines are short;
/// this bounds the time a degenerate decode can take.
pub const DEFAULT_MAX_TOKENS: usize = 256;

/// A decode stops when its output ends in one block of up to this many
/// tokens repeated [`LOOP_REPEATS`] times: greedy decoding that starts
/// looping never stops by itself.
const LOOP_PERIOD: usize = 8;
const LOOP_REPEATS: usize = 4;

const CONFIG: &str = "config.json";
const WEIGHTS: &str = "model.safetensors";

/// A MarianMT translation model for one language pair.
///
/// [`MarianModel::translate`] takes `&self`; the model's key-value cache
/// sits behind a mutex, so one model translates one message at a time and
/// concurrent callers wait for each other. It is CPU-heavy: call it from
/// `spawn_blocking` or a thread of its own, never on an async worker.
pub struct MarianModel {
    model: Mutex<MTModel>,
    tokenizers: Tokenizers,
    config: marian::Config,
    max_tokens: usize,
    name: String,
}

impl std::fmt::Debug for MarianModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarianModel")
            .field("name", &self.name)
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

impl MarianModel {
    /// Loads an OPUS-MT model directory as Helsinki-NLP publish them for
    /// `transformers`, with its weights in safetensors form:
    ///
    /// - `config.json`: the Hugging Face `MarianConfig`;
    /// - `model.safetensors`: the `MarianMTModel` weights (read into memory,
    ///   not mmapped: the workspace forbids unsafe code);
    /// - the tokenizers, either `tokenizer-source.json` and
    ///   `tokenizer-target.json` (Hugging Face `tokenizers` files), or
    ///   `source.spm`, `target.spm` and `vocab.json` as published.
    ///
    /// A missing or malformed file is an error that names it.
    pub fn load(dir: &Path) -> Result<MarianModel> {
        let config = crate::config::load(&dir.join(CONFIG))?;
        let tokenizers = Tokenizers::load(dir, config.vocab_size, config.eos_token_id)?;
        let weights_path = dir.join(WEIGHTS);
        let weights = crate::read(&weights_path)?;
        let model = load_weights(&config, &weights, &weights_path)?;
        Ok(MarianModel {
            model: Mutex::new(model),
            tokenizers,
            config,
            max_tokens: DEFAULT_MAX_TOKENS,
            name: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        })
    }

    /// Caps the target tokens of each line at `max_tokens` (at least 1).
    /// The cap is also never above three times the line's source tokens
    /// plus 16, nor above the model's positions.
    pub fn with_max_tokens(mut self, max_tokens: usize) -> MarianModel {
        self.max_tokens = max_tokens.max(1);
        self
    }

    /// The model's name: its directory.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The source ids the encoder sees for `text`, `</s>` last.
    pub fn source_ids(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizers.encode(text)
    }

    /// The target pieces the model generates for `text` taken as one line,
    /// before they are joined into text (`</s>` not included): for
    /// inspecting a model.
    pub fn target_pieces(&self, text: &str) -> Result<Vec<String>> {
        let ids = self.generate(&self.source_ids(text)?)?;
        Ok(ids
            .iter()
            .map(|&id| self.tokenizers.target_piece(id).unwrap_or_default())
            .collect())
    }

    /// Translates `text`. Each line is translated on its own (a line break
    /// means something in a chat message, and sentencepiece would turn it
    /// into a space); blank lines stay blank.
    pub fn translate(&self, text: &str) -> Result<String> {
        let mut out = Vec::new();
        for line in text.split('\n') {
            let line = line.trim();
            if line.is_empty() {
                out.push(String::new());
            } else {
                let ids = self.generate(&self.source_ids(line)?)?;
                out.push(self.tokenizers.decode(&ids)?);
            }
        }
        Ok(out.join("\n"))
    }

    /// Greedy decoding with the key-value cache: one token per step, the
    /// most likely one, until `</s>`, the length cap, or a loop.
    fn generate(&self, source: &[u32]) -> Result<Vec<u32>> {
        let positions = self.config.max_position_embeddings;
        if source.len() > positions {
            return Err(Error::TooLong {
                tokens: source.len(),
                limit: positions,
            });
        }
        let cap = self.max_tokens.min(3 * source.len() + 16).min(positions);
        // A panic mid-decode leaves only a stale cache, which is reset
        // before every use.
        let mut model = self.model.lock().unwrap_or_else(|p| p.into_inner());
        // Candle's encoder layers keep a cache too: without a reset the
        // previous message's keys would leak into this one.
        model.reset_kv_cache();
        let result = decode(&mut model, &self.config, source, cap);
        model.reset_kv_cache();
        result
    }
}

fn decode(
    model: &mut MTModel,
    config: &marian::Config,
    source: &[u32],
    cap: usize,
) -> Result<Vec<u32>> {
    let device = Device::Cpu;
    let input = Tensor::new(source, &device)?.unsqueeze(0)?;
    let encoded = model.encoder().forward(&input, 0)?;
    let mut out: Vec<u32> = Vec::new();
    let mut previous = config.decoder_start_token_id;
    for step in 0..cap {
        let input = Tensor::new(&[previous], &device)?.unsqueeze(0)?;
        let logits = model
            .decode(&input, &encoded, step)?
            .squeeze(0)?
            .squeeze(0)?
            .to_vec1::<f32>()?;
        let next = best(&logits, config)?;
        if next == config.eos_token_id || next == config.forced_eos_token_id {
            break;
        }
        out.push(next);
        if let Some(keep) = looping(&out) {
            out.truncate(keep);
            break;
        }
        previous = next;
    }
    Ok(out)
}

/// The most likely next token. Padding is never a candidate (OPUS-MT
/// configs list it in `bad_words_ids`): it is the decoder's start token,
/// not output.
fn best(logits: &[f32], config: &marian::Config) -> Result<u32> {
    let pad = config.pad_token_id as usize;
    let banned = |i: usize| i == pad && config.pad_token_id != config.eos_token_id;
    let (id, score) = logits
        .iter()
        .enumerate()
        .filter(|&(i, s)| !banned(i) && !s.is_nan())
        .max_by(|a, b| a.1.total_cmp(b.1))
        .ok_or_else(|| Error::Inference(candle_core::Error::Msg("no usable logits".into())))?;
    if !score.is_finite() {
        return Err(Error::Inference(candle_core::Error::Msg(
            "the logits are not finite".into(),
        )));
    }
    Ok(id as u32)
}

/// If `ids` ends in one block of at most [`LOOP_PERIOD`] ids repeated
/// [`LOOP_REPEATS`] times, the length that keeps the first copy.
fn looping(ids: &[u32]) -> Option<usize> {
    (1..=LOOP_PERIOD).find_map(|period| {
        let n = period * LOOP_REPEATS;
        let tail = ids.get(ids.len().checked_sub(n)?..)?;
        let block = &tail[..period];
        tail.chunks(period)
            .all(|c| c == block)
            .then_some(ids.len() - n + period)
    })
}

/// Builds the model from safetensors bytes, tolerating the ways exports of
/// the same model differ: the shared embedding may be saved only under a
/// tied name, and `final_logits_bias` (zeros when it was never trained)
/// may be absent.
fn load_weights(config: &marian::Config, bytes: &[u8], path: &Path) -> Result<MTModel> {
    let weights_error = |source| Error::Weights {
        path: path.to_path_buf(),
        source,
    };
    let mut tensors =
        candle_core::safetensors::load_buffer(bytes, &Device::Cpu).map_err(weights_error)?;
    const SHARED: &str = "model.shared.weight";
    if !tensors.contains_key(SHARED) {
        let tied = [
            "model.encoder.embed_tokens.weight",
            "model.decoder.embed_tokens.weight",
            "lm_head.weight",
        ]
        .iter()
        .find_map(|name| tensors.get(*name).cloned());
        if let Some(t) = tied {
            tensors.insert(SHARED.into(), t);
        }
    }
    // Candle's output layer is the shared embedding; a model whose own
    // `lm_head` differs would translate wrongly without a word.
    if let (Some(head), Some(shared)) = (tensors.get("lm_head.weight"), tensors.get(SHARED))
        && head.shape() == shared.shape()
    {
        let differs = (head.to_dtype(DType::F32).map_err(weights_error)?
            - shared.to_dtype(DType::F32).map_err(weights_error)?)
        .and_then(|d| d.abs()?.max_all()?.to_scalar::<f32>())
        .map_err(weights_error)?;
        if differs > 1e-6 {
            return Err(invalid(
                path,
                "lm_head.weight is not the shared embedding: untied output layers are not supported",
            ));
        }
    }
    if !tensors.contains_key("final_logits_bias") {
        let zeros = Tensor::zeros((1, config.vocab_size), DType::F32, &Device::Cpu)
            .map_err(weights_error)?;
        tensors.insert("final_logits_bias".into(), zeros);
    }
    let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
    MTModel::new(config, vb).map_err(weights_error)
}

#[cfg(test)]
mod tests {
    use super::looping;

    #[test]
    fn a_loop_is_cut_to_one_copy_and_ordinary_repeats_are_not() {
        assert_eq!(looping(&[5, 7, 7, 7, 7]), Some(2));
        assert_eq!(looping(&[1, 2, 3, 2, 3, 2, 3, 2, 3]), Some(3));
        assert_eq!(looping(&[7, 7, 7]), None, "three is not a loop");
        assert_eq!(looping(&[1, 2, 1, 2, 1, 3]), None);
        assert_eq!(looping(&[]), None);
    }
}
