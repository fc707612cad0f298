//! Writes tiny Marian model directories for the tests: a real
//! `config.json`, `model.safetensors` under the tensor names candle's
//! marian loader reads, and tokenizer files in either form.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "carechat-translate-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A fresh subdirectory named `name`.
    pub fn sub(&self, name: &str) -> PathBuf {
        let dir = self.0.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The shared vocabulary, in id order: `vocab.json`.
pub const VOCAB: [&str; 40] = [
    "</s>",
    "<unk>",
    "▁hello",
    "▁world",
    "▁he",
    "llo",
    "▁wor",
    "ld",
    "▁",
    "h",
    "e",
    "l",
    "o",
    "w",
    "r",
    "d",
    "▁hola",
    "▁mundo",
    "▁buenos",
    "▁días",
    "▁dolor",
    "▁de",
    "▁cabeza",
    "▁good",
    "▁morning",
    "▁pain",
    "▁head",
    "▁the",
    "▁la",
    "▁el",
    "▁y",
    "▁and",
    "▁me",
    "▁duele",
    "▁it",
    "▁hurts",
    "▁sí",
    "▁no",
    "▁yes",
    "<pad>",
];
pub const EOS: u32 = 0;
pub const UNK: u32 = 1;
pub const HOLA: u32 = 16;
pub const PAD: u32 = 39;

pub const D_MODEL: usize = 16;
pub const FFN: usize = 32;
pub const ENCODER_LAYERS: usize = 2;
pub const DECODER_LAYERS: usize = 1;
pub const MAX_POSITIONS: usize = 64;

/// The English side's sentencepiece pieces with their scores. `▁zzz` is
/// in the sentencepiece model but not in `vocab.json`: it must become
/// `<unk>`, as it does in `MarianTokenizer`.
pub const SOURCE_PIECES: [(&str, f32); 26] = [
    ("▁hello", -2.0),
    ("▁world", -2.5),
    ("▁he", -3.0),
    ("llo", -3.0),
    ("▁wor", -3.5),
    ("ld", -3.5),
    ("▁", -4.0),
    ("h", -5.0),
    ("e", -5.0),
    ("l", -5.0),
    ("o", -5.0),
    ("w", -5.0),
    ("r", -5.0),
    ("d", -5.0),
    ("▁good", -2.0),
    ("▁morning", -2.0),
    ("▁pain", -2.0),
    ("▁head", -2.0),
    ("▁the", -2.0),
    ("▁and", -2.0),
    ("▁it", -2.0),
    ("▁hurts", -2.0),
    ("▁yes", -2.0),
    ("▁no", -2.0),
    ("▁zzz", -1.0),
    ("z", -5.0),
];

/// The Spanish side's pieces.
pub const TARGET_PIECES: [(&str, f32); 14] = [
    ("▁hola", -2.0),
    ("▁mundo", -2.0),
    ("▁buenos", -2.0),
    ("▁días", -2.0),
    ("▁dolor", -2.0),
    ("▁de", -2.0),
    ("▁cabeza", -2.0),
    ("▁la", -2.0),
    ("▁el", -2.0),
    ("▁y", -2.0),
    ("▁me", -2.0),
    ("▁duele", -2.0),
    ("▁sí", -2.0),
    ("▁no", -2.0),
];

/// A Hugging Face `MarianConfig` as an older `transformers` wrote it: no
/// `decoder_vocab_size`, `share_encoder_decoder_embeddings` or
/// `forced_eos_token_id`, and BART leftovers the model ignores.
pub fn config_json() -> serde_json::Value {
    serde_json::json!({
        "_num_labels": 3,
        "activation_dropout": 0.0,
        "activation_function": "swish",
        "add_final_layer_norm": false,
        "architectures": ["MarianMTModel"],
        "bad_words_ids": [[PAD]],
        "d_model": D_MODEL,
        "decoder_attention_heads": 2,
        "decoder_ffn_dim": FFN,
        "decoder_layers": DECODER_LAYERS,
        "decoder_start_token_id": PAD,
        "dropout": 0.1,
        "encoder_attention_heads": 2,
        "encoder_ffn_dim": FFN,
        "encoder_layers": ENCODER_LAYERS,
        "eos_token_id": EOS,
        "is_encoder_decoder": true,
        "max_length": 512,
        "max_position_embeddings": MAX_POSITIONS,
        "model_type": "marian",
        "normalize_before": false,
        "normalize_embedding": false,
        "num_beams": 4,
        "pad_token_id": PAD,
        "scale_embedding": true,
        "static_position_embeddings": true,
        "vocab_size": VOCAB.len()
    })
}

/// What the weights make the model do.
#[derive(Clone, Copy)]
pub enum Weights {
    /// Random weights from a seed: output unpredictable but deterministic.
    Random(u64),
    /// The decoder ignores the source and says `▁hola </s>`.
    SaysHola,
    /// The decoder says `▁hola` forever: only a cap stops it.
    SaysHolaForever,
}

/// Every tensor candle's `marian::MTModel::new` reads, with its shape.
pub fn tensor_shapes() -> Vec<(String, Vec<usize>)> {
    let d = D_MODEL;
    let mut out = vec![
        ("final_logits_bias".to_string(), vec![1, VOCAB.len()]),
        ("model.shared.weight".to_string(), vec![VOCAB.len(), d]),
    ];
    let attention = |prefix: &str, out: &mut Vec<(String, Vec<usize>)>| {
        for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            out.push((format!("{prefix}.{proj}.weight"), vec![d, d]));
            out.push((format!("{prefix}.{proj}.bias"), vec![d]));
        }
    };
    let norm = |prefix: &str, out: &mut Vec<(String, Vec<usize>)>| {
        out.push((format!("{prefix}.weight"), vec![d]));
        out.push((format!("{prefix}.bias"), vec![d]));
    };
    let ffn = |prefix: &str, out: &mut Vec<(String, Vec<usize>)>| {
        out.push((format!("{prefix}.fc1.weight"), vec![FFN, d]));
        out.push((format!("{prefix}.fc1.bias"), vec![FFN]));
        out.push((format!("{prefix}.fc2.weight"), vec![d, FFN]));
        out.push((format!("{prefix}.fc2.bias"), vec![d]));
    };
    for i in 0..ENCODER_LAYERS {
        let p = format!("model.encoder.layers.{i}");
        attention(&format!("{p}.self_attn"), &mut out);
        norm(&format!("{p}.self_attn_layer_norm"), &mut out);
        ffn(&p, &mut out);
        norm(&format!("{p}.final_layer_norm"), &mut out);
    }
    for i in 0..DECODER_LAYERS {
        let p = format!("model.decoder.layers.{i}");
        attention(&format!("{p}.self_attn"), &mut out);
        norm(&format!("{p}.self_attn_layer_norm"), &mut out);
        attention(&format!("{p}.encoder_attn"), &mut out);
        norm(&format!("{p}.encoder_attn_layer_norm"), &mut out);
        ffn(&p, &mut out);
        norm(&format!("{p}.final_layer_norm"), &mut out);
    }
    out
}

/// The weights' values, by name.
pub fn weights(kind: Weights) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let seed = match kind {
        Weights::Random(seed) => seed,
        _ => 7,
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut uniform = move || rng.random_range(-1.0f32..1.0);
    let mut out: Vec<(String, Vec<usize>, Vec<f32>)> = tensor_shapes()
        .into_iter()
        .map(|(name, shape)| {
            let n = shape.iter().product();
            let values = if name.contains("layer_norm.weight") {
                (0..n).map(|_| 1.0 + 0.1 * uniform()).collect()
            } else {
                (0..n).map(|_| 0.5 * uniform()).collect()
            };
            (name, shape, values)
        })
        .collect();
    if matches!(kind, Weights::Random(_)) {
        return out;
    }
    // The rigged decoder: every sublayer adds nothing (zero output
    // projections), so its output is the layer norm of the previous
    // token's embedding plus its position, and the output layer (the
    // shared embedding again) scores each token by how well its embedding
    // lines up with that. The embeddings below make the start token point
    // at `▁hola`, and `▁hola` point at `</s>` more than at itself.
    let unit = |a: usize, b: usize| {
        let mut v = vec![0.0f32; D_MODEL];
        v[a] = std::f32::consts::FRAC_1_SQRT_2;
        v[b] = -std::f32::consts::FRAC_1_SQRT_2;
        v
    };
    let (u1, u2, u3) = (unit(0, 1), unit(2, 3), unit(4, 5));
    let mix = |a: &[f32], b: &[f32], s: f32| -> Vec<f32> {
        a.iter().zip(b).map(|(x, y)| s * (x + y)).collect()
    };
    for (name, _, values) in &mut out {
        let decoder = name.starts_with("model.decoder.");
        if decoder && (name.contains("out_proj") || name.contains("fc2")) {
            values.fill(0.0);
        } else if decoder && name.contains("layer_norm.weight") {
            values.fill(1.0);
        } else if (decoder && name.contains("layer_norm.bias")) || name == "final_logits_bias" {
            values.fill(0.0);
        } else if name == "model.shared.weight" {
            for v in values.iter_mut() {
                *v *= 0.1;
            }
            let mut set = |id: u32, row: Vec<f32>| {
                values[id as usize * D_MODEL..(id as usize + 1) * D_MODEL].copy_from_slice(&row);
            };
            set(PAD, u1.iter().map(|x| 10.0 * x).collect());
            set(HOLA, mix(&u1, &u2, 5.0));
            if matches!(kind, Weights::SaysHola) {
                set(EOS, mix(&u2, &u3, 15.0));
            }
        }
    }
    out
}

/// Writes `config.json` and `model.safetensors` into `dir`.
pub fn write_model(dir: &Path, kind: Weights) {
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_vec_pretty(&config_json()).unwrap(),
    )
    .unwrap();
    write_weights(dir, weights(kind));
}

/// Writes `tensors` as `dir/model.safetensors`.
pub fn write_weights(dir: &Path, tensors: Vec<(String, Vec<usize>, Vec<f32>)>) {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(name, shape, values)| {
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name, shape, bytes)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = bytes
        .iter()
        .map(|(name, shape, data)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), data)
                    .unwrap();
            (name.clone(), view)
        })
        .collect();
    safetensors::serialize_to_file(views, None, &dir.join("model.safetensors")).unwrap();
}

/// `vocab.json`: piece to id.
pub fn vocab_json() -> String {
    let map: HashMap<&str, usize> = VOCAB.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    serde_json::to_string(&map).unwrap()
}

// The protobuf wire format, by hand.
use protowire::write::{fixed32_field, len_field, varint_field};

/// A sentencepiece `ModelProto`: `<unk>`, `<s>`, `</s>` first, as
/// sentencepiece orders them, then `pieces`; a unigram trainer spec and an
/// identity normalizer spec that strips extra whitespace.
pub fn spm_model(pieces: &[(&str, f32)]) -> Vec<u8> {
    let mut model = Vec::new();
    let specials = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)];
    let all = specials
        .iter()
        .copied()
        .chain(pieces.iter().map(|&(p, s)| (p, s, 1)));
    for (piece, score, kind) in all {
        let mut body = Vec::new();
        len_field(1, piece.as_bytes(), &mut body);
        fixed32_field(2, score.to_le_bytes(), &mut body);
        if kind != 1 {
            varint_field(3, kind, &mut body);
        }
        len_field(1, &body, &mut model);
    }
    let mut trainer = Vec::new();
    len_field(2, b"opus", &mut trainer);
    varint_field(3, 1, &mut trainer);
    varint_field(4, pieces.len() as u64 + 3, &mut trainer);
    len_field(2, &trainer, &mut model);
    let mut normalizer = Vec::new();
    len_field(1, b"identity", &mut normalizer);
    varint_field(3, 1, &mut normalizer);
    varint_field(4, 1, &mut normalizer);
    len_field(3, &normalizer, &mut model);
    model
}

/// The published form: `source.spm`, `target.spm` and `vocab.json`.
pub fn write_spm_tokenizers(dir: &Path) {
    std::fs::write(dir.join("source.spm"), spm_model(&SOURCE_PIECES)).unwrap();
    std::fs::write(dir.join("target.spm"), spm_model(&TARGET_PIECES)).unwrap();
    std::fs::write(dir.join("vocab.json"), vocab_json()).unwrap();
}

/// The converted form: `tokenizer-source.json` and
/// `tokenizer-target.json`, Unigram tokenizers over the shared vocabulary
/// in id order, as candle's marian example converts them.
pub fn write_json_tokenizers(dir: &Path) {
    use tokenizers::models::unigram::Unigram;
    use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
    use tokenizers::{AddedToken, Tokenizer};
    let side = |pieces: &[(&str, f32)], file: &str| {
        let scores: HashMap<&str, f32> = pieces.iter().copied().collect();
        let vocab: Vec<(String, f64)> = VOCAB
            .iter()
            .map(|p| (p.to_string(), f64::from(*scores.get(p).unwrap_or(&-100.0))))
            .collect();
        let mut tokenizer =
            Tokenizer::new(Unigram::from(vocab, Some(UNK as usize), false).unwrap());
        tokenizer.with_pre_tokenizer(Some(Metaspace::new('▁', PrependScheme::Always, true)));
        tokenizer.with_decoder(Some(Metaspace::new('▁', PrependScheme::Always, true)));
        tokenizer
            .add_special_tokens(["</s>", "<unk>", "<pad>"].map(|s| AddedToken::from(s, true)))
            .unwrap();
        tokenizer.save(dir.join(file), false).unwrap();
    };
    side(&SOURCE_PIECES, "tokenizer-source.json");
    side(&TARGET_PIECES, "tokenizer-target.json");
}

/// Which tokenizer files a model directory gets.
#[derive(Clone, Copy, Debug)]
pub enum Form {
    Spm,
    Json,
}

/// A complete model directory `dir` of weights `kind` and tokenizer form `form`.
pub fn write_dir(dir: &Path, kind: Weights, form: Form) {
    write_model(dir, kind);
    match form {
        Form::Spm => write_spm_tokenizers(dir),
        Form::Json => write_json_tokenizers(dir),
    }
}
