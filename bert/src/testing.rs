//! Random checkpoints, for tests here and in the crates that build on this
//! one (bot-engine's fine-tuning is held to this crate's forward pass on
//! them): a small BERT (hidden 64, two layers, four heads, vocabulary 97)
//! whose weights are drawn from a seeded generator (`rand`'s `StdRng`).

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

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
    let mut rng = StdRng::seed_from_u64(seed);
    let (h, f, v, p) = (64, 128, 97, 80);
    let mut m = HashMap::new();
    let mut put = |name: &str, t: Tensor| {
        m.insert(format!("{prefix}{name}"), t);
    };
    put(
        "embeddings.word_embeddings.weight",
        tensor(&mut rng, &[v, h], 1.0),
    );
    put(
        "embeddings.position_embeddings.weight",
        tensor(&mut rng, &[p, h], 0.5),
    );
    put(
        "embeddings.token_type_embeddings.weight",
        tensor(&mut rng, &[2, h], 0.5),
    );
    put(
        "embeddings.LayerNorm.weight",
        tensor(&mut rng, &[h], 0.2).affine(1.0, 1.0).unwrap(),
    );
    put("embeddings.LayerNorm.bias", tensor(&mut rng, &[h], 0.1));
    for i in 0..2 {
        let l = format!("encoder.layer.{i}");
        for which in ["query", "key", "value"] {
            put(
                &format!("{l}.attention.self.{which}.weight"),
                tensor(&mut rng, &[h, h], 0.25),
            );
            put(
                &format!("{l}.attention.self.{which}.bias"),
                tensor(&mut rng, &[h], 0.1),
            );
        }
        put(
            &format!("{l}.attention.output.dense.weight"),
            tensor(&mut rng, &[h, h], 0.2),
        );
        put(
            &format!("{l}.attention.output.dense.bias"),
            tensor(&mut rng, &[h], 0.1),
        );
        put(
            &format!("{l}.attention.output.LayerNorm.weight"),
            tensor(&mut rng, &[h], 0.2).affine(1.0, 1.0).unwrap(),
        );
        put(
            &format!("{l}.attention.output.LayerNorm.bias"),
            tensor(&mut rng, &[h], 0.1),
        );
        put(
            &format!("{l}.intermediate.dense.weight"),
            tensor(&mut rng, &[f, h], 0.2),
        );
        put(
            &format!("{l}.intermediate.dense.bias"),
            tensor(&mut rng, &[f], 0.1),
        );
        put(
            &format!("{l}.output.dense.weight"),
            tensor(&mut rng, &[h, f], 0.15),
        );
        put(
            &format!("{l}.output.dense.bias"),
            tensor(&mut rng, &[h], 0.1),
        );
        put(
            &format!("{l}.output.LayerNorm.weight"),
            tensor(&mut rng, &[h], 0.2).affine(1.0, 1.0).unwrap(),
        );
        put(
            &format!("{l}.output.LayerNorm.bias"),
            tensor(&mut rng, &[h], 0.1),
        );
    }
    m
}

/// A tensor of `shape` with values drawn uniformly from `[-scale, scale)`.
fn tensor(rng: &mut StdRng, shape: &[usize], scale: f32) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| rng.random_range(-1.0f32..1.0) * scale)
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}
