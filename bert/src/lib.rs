//! A BERT-family encoder's forward pass, on CPU, for short texts.
//!
//! Carechat runs two such models on every patient message: the redactor's
//! PII token classifier and the bot's sentence encoder (both six layers,
//! hidden size 384). Both serve chat messages of ten to forty word pieces, a
//! shape that candle-transformers' `BertModel` handles poorly: it pads every
//! text in a batch to the longest one, builds a four-dimensional attention
//! mask, and runs about twenty small tensor operations per layer, each
//! allocating a fresh tensor; its GELU goes through libm's `erf`. Measured on
//! this project's machine, the matrix products were about a third of its
//! time and the rest was that overhead.
//!
//! So this crate keeps Candle for what it is good at, the matrix products,
//! and does the rest in a few fused passes shaped for the job:
//!
//! - a batch is **packed**: the pieces of all its texts are the rows of one
//!   matrix, so each linear layer is one large matrix product with no
//!   padding at all;
//! - the query, key and value projections are **one** product (their weights
//!   concatenated at load time);
//! - attention runs per text, over that text's rows only, with the softmax
//!   inside the same pass;
//! - bias + GELU, and bias + residual + LayerNorm, are single in-place
//!   passes, spread over the cores with rayon;
//! - `exp` and `erf` are branch-free polynomial approximations (errors
//!   below 1e-6, the size of f32 rounding in these sums) that the compiler
//!   vectorises.
//!
//! Where the CPU has AVX-512 VNNI, the linear layers themselves run on
//! 11-bit integers instead of Candle's f32 product ([`Products::Integer`],
//! the default of [`Bert::load`]; `quant.rs` says how and why). Elsewhere,
//! or with [`Products::Float`], they stay f32.
//!
//! The crate is pure: it is built from tensors the caller loaded and does no
//! I/O. Its tests hold it to candle-transformers' `BertModel` on random
//! weights.

mod ops;
#[cfg(target_arch = "x86_64")]
mod quant;
pub mod testing;

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};

/// Everything that can go wrong building or running the model.
#[derive(Debug, thiserror::Error)]
pub enum BertError {
    #[error("config.json: {0}")]
    Config(String),
    #[error("weights: {0}")]
    Weights(String),
    #[error("input: {0}")]
    Input(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, BertError>;

/// The architecture, read from a Hugging Face `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub vocab: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
    pub eps: f32,
    /// The first position id. BERT counts from 0; RoBERTa-style models
    /// (XLM-R, multilingual e5) count from `pad_token_id + 1`.
    pub position_offset: usize,
}

#[derive(serde::Deserialize)]
struct RawConfig {
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    vocab_size: usize,
    max_position_embeddings: usize,
    #[serde(default = "one")]
    type_vocab_size: usize,
    #[serde(default = "default_eps")]
    layer_norm_eps: f64,
    #[serde(default)]
    hidden_act: Option<String>,
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    pad_token_id: Option<usize>,
    #[serde(default)]
    position_embedding_type: Option<String>,
}

fn one() -> usize {
    1
}

fn default_eps() -> f64 {
    1e-12
}

impl Config {
    pub fn from_json(bytes: &[u8]) -> Result<Config> {
        let raw: RawConfig =
            serde_json::from_slice(bytes).map_err(|e| BertError::Config(e.to_string()))?;
        match raw.hidden_act.as_deref() {
            None | Some("gelu") => {}
            Some(other) => {
                return Err(BertError::Config(format!(
                    "hidden_act {other:?} is not supported (only \"gelu\")"
                )));
            }
        }
        match raw.position_embedding_type.as_deref() {
            None | Some("absolute") => {}
            Some(other) => {
                return Err(BertError::Config(format!(
                    "position_embedding_type {other:?} is not supported (only \"absolute\")"
                )));
            }
        }
        if raw.num_attention_heads == 0 || !raw.hidden_size.is_multiple_of(raw.num_attention_heads)
        {
            return Err(BertError::Config(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                raw.hidden_size, raw.num_attention_heads
            )));
        }
        let position_offset = match raw.model_type.as_deref() {
            Some("roberta" | "xlm-roberta" | "camembert") => raw.pad_token_id.unwrap_or(1) + 1,
            _ => 0,
        };
        if position_offset >= raw.max_position_embeddings {
            return Err(BertError::Config(
                "no positions left after the padding offset".into(),
            ));
        }
        Ok(Config {
            hidden: raw.hidden_size,
            layers: raw.num_hidden_layers,
            heads: raw.num_attention_heads,
            intermediate: raw.intermediate_size,
            vocab: raw.vocab_size,
            max_positions: raw.max_position_embeddings,
            type_vocab: raw.type_vocab_size.max(1),
            eps: raw.layer_norm_eps as f32,
            position_offset,
        })
    }

    /// The longest text, in pieces, that the position table holds.
    pub fn max_len(&self) -> usize {
        self.max_positions - self.position_offset
    }
}

/// How the linear layers multiply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Products {
    /// Candle's f32 matrix multiply, on every CPU.
    Float,
    /// 11-bit integer weights and activations on AVX-512 VNNI (see
    /// `quant.rs`), where the CPU has it; f32 elsewhere.
    Integer,
}

/// A linear layer's weight, `[inputs, outputs]`.
enum Dense {
    Float(Tensor),
    #[cfg(target_arch = "x86_64")]
    Integer(quant::QLinear),
}

impl Dense {
    fn new(weight: Tensor, products: Products) -> Result<Dense> {
        #[cfg(target_arch = "x86_64")]
        if products == Products::Integer {
            let (inputs, outputs) = weight.dims2()?;
            if let Some(q) = quant::QLinear::new(&floats(&weight)?, inputs, outputs) {
                return Ok(Dense::Integer(q));
            }
        }
        let _ = products;
        Ok(Dense::Float(weight))
    }

    fn is_integer(&self) -> bool {
        !matches!(self, Dense::Float(_))
    }

    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Dense::Float(w) => x.matmul(w)?,
            #[cfg(target_arch = "x86_64")]
            Dense::Integer(q) => x.apply_op1_no_bwd(&quant::QMatMul(q))?,
        })
    }
}

struct Layer {
    /// `[hidden, 3 × hidden]`: query, key and value side by side.
    qkv: Dense,
    qkv_bias: Vec<f32>,
    attn_out: Dense,
    attn_out_bias: Vec<f32>,
    attn_norm: ops::Norm,
    up: Dense,
    up_bias: Vec<f32>,
    down: Dense,
    down_bias: Vec<f32>,
    out_norm: ops::Norm,
}

/// A loaded encoder. `Send + Sync`; run it from one inference thread.
pub struct Bert {
    config: Config,
    word: Tensor,
    /// `[max_positions, hidden]` then `[hidden]` of token type 0, flat.
    positions: Vec<f32>,
    token_type: Vec<f32>,
    embed_norm: ops::Norm,
    layers: Vec<Layer>,
    products: Products,
}

impl std::fmt::Debug for Bert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bert")
            .field("config", &self.config)
            .field("products", &self.products)
            .finish_non_exhaustive()
    }
}

/// The final hidden states of a batch, packed: text `i` owns rows
/// `offsets[i]..offsets[i + 1]`.
#[derive(Debug, Clone)]
pub struct Hidden {
    pub data: Vec<f32>,
    pub hidden: usize,
    pub offsets: Vec<usize>,
}

impl Hidden {
    pub fn texts(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Text `i`'s rows, one per piece.
    pub fn rows(&self, i: usize) -> std::slice::ChunksExact<'_, f32> {
        let (a, b) = (self.offsets[i], self.offsets[i + 1]);
        self.data[a * self.hidden..b * self.hidden].chunks_exact(self.hidden)
    }

    /// Text `i`'s mean over its rows, scaled to unit length: a sentence
    /// embedding.
    pub fn mean_pooled(&self, i: usize) -> Vec<f32> {
        let mut sum = vec![0f32; self.hidden];
        for row in self.rows(i) {
            for (s, x) in sum.iter_mut().zip(row) {
                *s += x;
            }
        }
        unit_length(sum)
    }

    /// Text `i`'s element-wise maximum over its rows, scaled to unit
    /// length: whether any piece of the text pointed a way, which a mean
    /// over a long text dilutes.
    pub fn max_pooled(&self, i: usize) -> Vec<f32> {
        let mut max = vec![f32::NEG_INFINITY; self.hidden];
        for row in self.rows(i) {
            for (m, x) in max.iter_mut().zip(row) {
                *m = m.max(*x);
            }
        }
        if max.iter().any(|m| !m.is_finite()) {
            return vec![0.0; self.hidden];
        }
        unit_length(max)
    }
}

/// `v` divided by its length; all zeros stay zeros (a text with no rows).
fn unit_length(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

/// A dense layer on top of the encoder (a task head such as a token
/// classifier): `y = W x + b` for each row.
#[derive(Debug, Clone)]
pub struct Linear {
    /// `[outputs, inputs]`, row-major, as checkpoints store it.
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl Linear {
    /// From a checkpoint's `weight` (`[outputs, inputs]`) and `bias`.
    pub fn new(weight: &Tensor, bias: &Tensor) -> Result<Linear> {
        let (outputs, inputs) = weight.dims2()?;
        let (weight, bias) = (floats(weight)?, floats(bias)?);
        if bias.len() != outputs || weight.len() != outputs * inputs {
            return Err(BertError::Weights(
                "a dense layer's bias does not fit its weight".into(),
            ));
        }
        Ok(Linear { weight, bias })
    }

    pub fn outputs(&self) -> usize {
        self.bias.len()
    }

    /// The layer on each of `rows` (each as long as the layer's input),
    /// outputs concatenated.
    pub fn apply<'a>(&self, rows: impl Iterator<Item = &'a [f32]>) -> Vec<f32> {
        let mut out = Vec::new();
        for row in rows {
            ops::linear_row(&self.weight, &self.bias, row, &mut out);
        }
        out
    }
}

/// A tensor's values as f32, flattened.
pub fn floats(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
}

/// Every tensor of a `model.safetensors` held in memory (read, not
/// mapped: the workspace forbids unsafe code), by name.
pub fn load_safetensors(bytes: &[u8]) -> Result<HashMap<String, Tensor>> {
    Ok(candle_core::safetensors::load_buffer(bytes, &Device::Cpu)?)
}

impl Bert {
    /// Builds the encoder from a checkpoint's tensors (Hugging Face names,
    /// with or without a `bert.`/`roberta.` prefix; heads such as a pooler
    /// or classifier are ignored), with integer products where the CPU has
    /// them.
    pub fn load(config: Config, tensors: &HashMap<String, Tensor>) -> Result<Bert> {
        Bert::load_with(config, tensors, Products::Integer)
    }

    /// [`Bert::load`], choosing how the linear layers multiply.
    pub fn load_with(
        config: Config,
        tensors: &HashMap<String, Tensor>,
        products: Products,
    ) -> Result<Bert> {
        let prefix = ["", "bert.", "roberta.", "model."]
            .into_iter()
            .find(|p| tensors.contains_key(&format!("{p}embeddings.word_embeddings.weight")))
            .ok_or_else(|| BertError::Weights("no embeddings.word_embeddings.weight".into()))?;
        let get = |name: &str, shape: &[usize]| -> Result<Tensor> {
            let full = format!("{prefix}{name}");
            let t = tensors
                .get(&full)
                .ok_or_else(|| BertError::Weights(format!("{full} is missing")))?;
            if t.dims() != shape {
                return Err(BertError::Weights(format!(
                    "{full} has shape {:?}, expected {shape:?}",
                    t.dims()
                )));
            }
            Ok(t.to_dtype(DType::F32)?)
        };
        let (h, f) = (config.hidden, config.intermediate);
        // Linear weights are stored [out, in]; the products want [in, out].
        let linear_t = |t: Tensor| -> Result<Dense> { Dense::new(t.t()?.contiguous()?, products) };
        let norm = |name: &str| -> Result<ops::Norm> {
            Ok(ops::Norm {
                gamma: floats(&get(&format!("{name}.weight"), &[h])?)?,
                beta: floats(&get(&format!("{name}.bias"), &[h])?)?,
                eps: config.eps,
            })
        };
        let word = get("embeddings.word_embeddings.weight", &[config.vocab, h])?.contiguous()?;
        let positions = floats(&get(
            "embeddings.position_embeddings.weight",
            &[config.max_positions, h],
        )?)?;
        let token_type = floats(
            &get(
                "embeddings.token_type_embeddings.weight",
                &[config.type_vocab, h],
            )?
            .narrow(0, 0, 1)?,
        )?;
        let embed_norm = norm("embeddings.LayerNorm")?;
        let mut layers = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let p = format!("encoder.layer.{i}");
            let proj = |which: &str| get(&format!("{p}.attention.self.{which}.weight"), &[h, h]);
            let bias = |name: &str, n: usize| floats(&get(&format!("{p}.{name}.bias"), &[n])?);
            let qkv = Tensor::cat(&[proj("query")?, proj("key")?, proj("value")?], 0)?;
            let mut qkv_bias = bias("attention.self.query", h)?;
            qkv_bias.extend(bias("attention.self.key", h)?);
            qkv_bias.extend(bias("attention.self.value", h)?);
            layers.push(Layer {
                qkv: linear_t(qkv)?,
                qkv_bias,
                attn_out: linear_t(get(&format!("{p}.attention.output.dense.weight"), &[h, h])?)?,
                attn_out_bias: bias("attention.output.dense", h)?,
                attn_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
                up: linear_t(get(&format!("{p}.intermediate.dense.weight"), &[f, h])?)?,
                up_bias: bias("intermediate.dense", f)?,
                down: linear_t(get(&format!("{p}.output.dense.weight"), &[h, f])?)?,
                down_bias: bias("output.dense", h)?,
                out_norm: norm(&format!("{p}.output.LayerNorm"))?,
            });
        }
        let integer = layers.iter().any(|l| l.qkv.is_integer());
        Ok(Bert {
            config,
            word,
            positions,
            token_type,
            embed_norm,
            layers,
            products: if integer {
                Products::Integer
            } else {
                Products::Float
            },
        })
    }

    /// Loads a `model.safetensors` held in memory.
    pub fn from_safetensors(config: Config, bytes: &[u8], products: Products) -> Result<Bert> {
        Bert::load_with(config, &load_safetensors(bytes)?, products)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How this model's linear layers multiply: integer only where asked
    /// for and the CPU has the instructions.
    pub fn products(&self) -> Products {
        self.products
    }

    /// The final hidden states of `texts` (piece ids, each already wrapped
    /// in its model's start and end tokens). Texts longer than
    /// [`Config::max_len`] are an error: window them first.
    pub fn forward(&self, texts: &[&[u32]]) -> Result<Hidden> {
        let h = self.config.hidden;
        let mut offsets = Vec::with_capacity(texts.len() + 1);
        offsets.push(0);
        let mut ids = Vec::new();
        let mut positions = Vec::new();
        for t in texts {
            if t.len() > self.config.max_len() {
                return Err(BertError::Input(format!(
                    "{} pieces is more than the model's {}",
                    t.len(),
                    self.config.max_len()
                )));
            }
            if let Some(&bad) = t.iter().find(|&&id| id as usize >= self.config.vocab) {
                return Err(BertError::Input(format!(
                    "piece id {bad} is outside the vocabulary"
                )));
            }
            ids.extend_from_slice(t);
            positions.extend((0..t.len()).map(|p| p + self.config.position_offset));
            offsets.push(ids.len());
        }
        let n = ids.len();
        if n == 0 {
            return Ok(Hidden {
                data: Vec::new(),
                hidden: h,
                offsets,
            });
        }
        let ids = Tensor::from_vec(ids, n, &Device::Cpu)?;
        let x = self.word.index_select(&ids, 0)?;
        x.inplace_op1(&ops::Embed {
            positions: &positions,
            table: &self.positions,
            token_type: &self.token_type,
            norm: &self.embed_norm,
            hidden: h,
        })?;
        let mut x = x;
        for l in &self.layers {
            let qkv = l.qkv.apply(&x)?;
            let context = qkv.apply_op1_no_bwd(&ops::Attention {
                bias: &l.qkv_bias,
                offsets: &offsets,
                heads: self.config.heads,
                hidden: h,
            })?;
            let attended = l.attn_out.apply(&context)?;
            attended.inplace_op2(
                &x,
                &ops::AddNorm {
                    bias: &l.attn_out_bias,
                    norm: &l.attn_norm,
                },
            )?;
            let up = l.up.apply(&attended)?;
            up.inplace_op1(&ops::BiasGelu { bias: &l.up_bias })?;
            let down = l.down.apply(&up)?;
            down.inplace_op2(
                &attended,
                &ops::AddNorm {
                    bias: &l.down_bias,
                    norm: &l.out_norm,
                },
            )?;
            x = down;
        }
        Ok(Hidden {
            data: x.flatten_all()?.to_vec1::<f32>()?,
            hidden: h,
            offsets,
        })
    }
}

#[cfg(test)]
mod tests;
