//! Random checkpoints, for tests here and in the crates that build on this
//! one (bot-engine's fine-tuning is held to this crate's forward pass on
//! them): a small BERT (hidden 64, two layers, four heads, vocabulary 97)
//! whose weights are drawn from a seeded generator.

use std::collections::HashMap;

use candle_core::{Device, Tensor};

/// xorshift64*, for reproducible random weights without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }

    pub fn tensor(&mut self, shape: &[usize], scale: f32) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| self.next_f32() * scale).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }
}

/// The checkpoint's `config.json`.
pub const CONFIG: &str = r#"{
    "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 128, "vocab_size": 97, "max_position_embeddings": 80,
    "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1, "initializer_range": 0.02, "pad_token_id": 0,
    "classifier_dropout": null, "model_type": "bert"
}"#;

/// A checkpoint with random weights, under `prefix` (as a Hugging Face
/// `BertModel` names them).
pub fn random_weights(prefix: &str, seed: u64) -> HashMap<String, Tensor> {
    let mut rng = Rng(seed);
    let (h, f, v, p) = (64, 128, 97, 80);
    let mut m = HashMap::new();
    let mut put = |name: &str, t: Tensor| {
        m.insert(format!("{prefix}{name}"), t);
    };
    put(
        "embeddings.word_embeddings.weight",
        rng.tensor(&[v, h], 1.0),
    );
    put(
        "embeddings.position_embeddings.weight",
        rng.tensor(&[p, h], 0.5),
    );
    put(
        "embeddings.token_type_embeddings.weight",
        rng.tensor(&[2, h], 0.5),
    );
    put(
        "embeddings.LayerNorm.weight",
        rng.tensor(&[h], 0.2).affine(1.0, 1.0).unwrap(),
    );
    put("embeddings.LayerNorm.bias", rng.tensor(&[h], 0.1));
    for i in 0..2 {
        let l = format!("encoder.layer.{i}");
        for which in ["query", "key", "value"] {
            put(
                &format!("{l}.attention.self.{which}.weight"),
                rng.tensor(&[h, h], 0.25),
            );
            put(
                &format!("{l}.attention.self.{which}.bias"),
                rng.tensor(&[h], 0.1),
            );
        }
        put(
            &format!("{l}.attention.output.dense.weight"),
            rng.tensor(&[h, h], 0.2),
        );
        put(
            &format!("{l}.attention.output.dense.bias"),
            rng.tensor(&[h], 0.1),
        );
        put(
            &format!("{l}.attention.output.LayerNorm.weight"),
            rng.tensor(&[h], 0.2).affine(1.0, 1.0).unwrap(),
        );
        put(
            &format!("{l}.attention.output.LayerNorm.bias"),
            rng.tensor(&[h], 0.1),
        );
        put(
            &format!("{l}.intermediate.dense.weight"),
            rng.tensor(&[f, h], 0.2),
        );
        put(
            &format!("{l}.intermediate.dense.bias"),
            rng.tensor(&[f], 0.1),
        );
        put(
            &format!("{l}.output.dense.weight"),
            rng.tensor(&[h, f], 0.15),
        );
        put(&format!("{l}.output.dense.bias"), rng.tensor(&[h], 0.1));
        put(
            &format!("{l}.output.LayerNorm.weight"),
            rng.tensor(&[h], 0.2).affine(1.0, 1.0).unwrap(),
        );
        put(&format!("{l}.output.LayerNorm.bias"), rng.tensor(&[h], 0.1));
    }
    m
}
