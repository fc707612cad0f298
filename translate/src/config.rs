//! `config.json` as Hugging Face writes it for a `MarianMTModel`, turned
//! into candle's `marian::Config`.
//!
//! Candle's `Config` deserializes from the same field names but has no
//! defaults, and Helsinki-NLP's configs were written by several
//! `transformers` versions: older ones lack `decoder_vocab_size`,
//! `share_encoder_decoder_embeddings` or `forced_eos_token_id`. This reads
//! the file with `MarianConfig`'s own defaults for those, and refuses the
//! variants candle's model cannot run (a separate decoder vocabulary,
//! unshared embeddings) with a message instead of a shape error later.

use crate::{Result, invalid};
use candle_transformers::models::marian;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
struct HfMarianConfig {
    #[serde(default)]
    model_type: Option<String>,
    vocab_size: usize,
    #[serde(default)]
    decoder_vocab_size: Option<usize>,
    max_position_embeddings: usize,
    encoder_layers: usize,
    encoder_ffn_dim: usize,
    encoder_attention_heads: usize,
    decoder_layers: usize,
    decoder_ffn_dim: usize,
    decoder_attention_heads: usize,
    #[serde(default)]
    activation_function: candle_nn::Activation,
    d_model: usize,
    decoder_start_token_id: u32,
    #[serde(default)]
    scale_embedding: bool,
    pad_token_id: u32,
    #[serde(default)]
    eos_token_id: u32,
    #[serde(default)]
    forced_eos_token_id: Option<u32>,
    #[serde(default = "yes")]
    share_encoder_decoder_embeddings: bool,
}

fn yes() -> bool {
    true
}

/// Reads and checks `path` (a model directory's `config.json`).
pub(crate) fn load(path: &Path) -> Result<marian::Config> {
    let bytes = crate::read(path)?;
    let hf: HfMarianConfig =
        serde_json::from_slice(&bytes).map_err(|e| invalid(path, e.to_string()))?;
    if let Some(kind) = hf.model_type.as_deref()
        && kind != "marian"
    {
        return Err(invalid(
            path,
            format!("model_type is {kind:?}, not \"marian\""),
        ));
    }
    // Candle ties the output layer to the shared embeddings, so the
    // target vocabulary must be the shared one.
    if let Some(v) = hf.decoder_vocab_size
        && v != hf.vocab_size
    {
        return Err(invalid(
            path,
            format!(
                "decoder_vocab_size {v} differs from vocab_size {}: separate target vocabularies are not supported",
                hf.vocab_size
            ),
        ));
    }
    if !hf.share_encoder_decoder_embeddings {
        return Err(invalid(
            path,
            "share_encoder_decoder_embeddings is false: only models with one shared embedding are supported",
        ));
    }
    for (name, heads) in [
        ("encoder_attention_heads", hf.encoder_attention_heads),
        ("decoder_attention_heads", hf.decoder_attention_heads),
    ] {
        if heads == 0 || !hf.d_model.is_multiple_of(heads) {
            return Err(invalid(
                path,
                format!("d_model {} is not a multiple of {name} {heads}", hf.d_model),
            ));
        }
    }
    if hf.max_position_embeddings < 2 {
        return Err(invalid(path, "max_position_embeddings is below 2"));
    }
    let forced_eos = hf.forced_eos_token_id.unwrap_or(hf.eos_token_id);
    for (name, id) in [
        ("decoder_start_token_id", hf.decoder_start_token_id),
        ("pad_token_id", hf.pad_token_id),
        ("eos_token_id", hf.eos_token_id),
        ("forced_eos_token_id", forced_eos),
    ] {
        if id as usize >= hf.vocab_size {
            return Err(invalid(
                path,
                format!("{name} {id} is outside the vocabulary of {}", hf.vocab_size),
            ));
        }
    }
    Ok(marian::Config {
        vocab_size: hf.vocab_size,
        decoder_vocab_size: Some(hf.vocab_size),
        max_position_embeddings: hf.max_position_embeddings,
        encoder_layers: hf.encoder_layers,
        encoder_ffn_dim: hf.encoder_ffn_dim,
        encoder_attention_heads: hf.encoder_attention_heads,
        decoder_layers: hf.decoder_layers,
        decoder_ffn_dim: hf.decoder_ffn_dim,
        decoder_attention_heads: hf.decoder_attention_heads,
        use_cache: true,
        is_encoder_decoder: true,
        activation_function: hf.activation_function,
        d_model: hf.d_model,
        decoder_start_token_id: hf.decoder_start_token_id,
        scale_embedding: hf.scale_embedding,
        pad_token_id: hf.pad_token_id,
        eos_token_id: hf.eos_token_id,
        forced_eos_token_id: forced_eos,
        share_encoder_decoder_embeddings: true,
    })
}
