use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::testing::{CONFIG, random_weights};

/// The reference: candle-transformers' BertModel, one text at a time.
fn reference(
    json: &str,
    weights: &HashMap<String, Tensor>,
    prefix: &str,
    ids: &[u32],
) -> Vec<Vec<f32>> {
    use candle_transformers::models::bert::{BertModel, Config as RefConfig};
    let config: RefConfig = serde_json::from_str(json).unwrap();
    let vb = candle_nn::VarBuilder::from_tensors(weights.clone(), DType::F32, &Device::Cpu);
    let vb = if prefix.is_empty() {
        vb
    } else {
        vb.pp(prefix.trim_end_matches('.'))
    };
    let model = BertModel::load(vb, &config).unwrap();
    let input = Tensor::new(ids, &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let types = input.zeros_like().unwrap();
    model
        .forward(&input, &types, None)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec2()
        .unwrap()
}

fn texts() -> Vec<Vec<u32>> {
    let mut rng = StdRng::seed_from_u64(7);
    // Lengths on both sides of the parallel-heads cut-off, and one piece;
    // ids from the whole vocabulary of 97.
    [5usize, 1, 17, 70, 9]
        .iter()
        .map(|&n| (0..n).map(|_| rng.random_range(0..97)).collect())
        .collect()
}

/// The test model with `heads` attention heads (head size 64 / heads).
fn config_json(heads: usize) -> String {
    CONFIG.replace(
        "\"num_attention_heads\": 4",
        &format!("\"num_attention_heads\": {heads}"),
    )
}

#[test]
fn packed_batch_matches_candle_transformers_text_by_text() {
    // Head sizes 16, 32 (the production models') and 8 (the generic path),
    // with and without a checkpoint prefix.
    for (prefix, heads) in [("", 4), ("bert.", 4), ("", 2), ("", 8)] {
        let json = config_json(heads);
        let weights = random_weights(prefix, 42);
        let config = Config::from_json(json.as_bytes()).unwrap();
        let bert = Bert::load_with(config, &weights, Products::Float).unwrap();
        let texts = texts();
        let refs: Vec<&[u32]> = texts.iter().map(Vec::as_slice).collect();
        let hidden = bert.forward(&refs).unwrap();
        assert_eq!(hidden.texts(), texts.len());
        let mut worst = 0f32;
        for (i, ids) in texts.iter().enumerate() {
            let expected = reference(&json, &weights, prefix, ids);
            let got: Vec<&[f32]> = hidden.rows(i).collect();
            assert_eq!(got.len(), expected.len());
            for (g, e) in got.iter().zip(&expected) {
                for (a, b) in g.iter().zip(e) {
                    worst = worst.max((a - b).abs());
                }
            }
        }
        assert!(
            worst < 1e-4,
            "max |difference| {worst}, prefix {prefix:?}, {heads} heads"
        );
    }
}

#[test]
fn integer_products_stay_close_to_the_f32_pass() {
    let weights = random_weights("", 42);
    let config = || Config::from_json(CONFIG.as_bytes()).unwrap();
    let float = Bert::load_with(config(), &weights, Products::Float).unwrap();
    let integer = Bert::load(config(), &weights).unwrap();
    assert_eq!(float.products(), Products::Float);
    if integer.products() == Products::Float {
        eprintln!("skipped: this CPU has no AVX-512 VNNI, both passes are f32");
        return;
    }
    let texts = texts();
    let refs: Vec<&[u32]> = texts.iter().map(Vec::as_slice).collect();
    let (a, b) = (
        float.forward(&refs).unwrap(),
        integer.forward(&refs).unwrap(),
    );
    let (mut worst, mut total) = (0f32, 0f32);
    for (x, y) in a.data.iter().zip(&b.data) {
        worst = worst.max((x - y).abs());
        total += (x - y).abs();
    }
    let mean = total / a.data.len() as f32;
    // Hidden states are LayerNorm outputs, of size about 1.
    assert!(worst < 0.05 && mean < 0.005, "max {worst}, mean {mean}");
    assert!(worst > 0.0, "the integer pass did not run");
    for i in 0..texts.len() {
        let cos: f32 = a
            .mean_pooled(i)
            .iter()
            .zip(b.mean_pooled(i))
            .map(|(x, y)| x * y)
            .sum();
        assert!(cos > 0.9999, "text {i}: cosine {cos}");
    }
}

#[test]
fn a_text_does_not_depend_on_its_batch() {
    let weights = random_weights("", 3);
    let bert = Bert::load(Config::from_json(CONFIG.as_bytes()).unwrap(), &weights).unwrap();
    let texts = texts();
    let all: Vec<&[u32]> = texts.iter().map(Vec::as_slice).collect();
    let batch = bert.forward(&all).unwrap();
    let alone = bert.forward(&[texts[2].as_slice()]).unwrap();
    let a: Vec<f32> = batch.rows(2).flatten().copied().collect();
    let b: Vec<f32> = alone.rows(0).flatten().copied().collect();
    assert_eq!(a.len(), b.len());
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-5, "{worst}");
    // Mean pooling gives unit vectors.
    let v = batch.mean_pooled(3);
    let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);
}

#[test]
fn max_pooling_takes_each_dimensions_largest_value() {
    let h = Hidden {
        data: vec![1.0, -2.0, 0.0, 3.0, 4.0, -1.0],
        hidden: 2,
        offsets: vec![0, 2, 3],
    };
    // Text 0: rows (1, -2) and (0, 3): max (1, 3), over its length.
    let v = h.max_pooled(0);
    let n = 10f32.sqrt();
    assert!(
        (v[0] - 1.0 / n).abs() < 1e-6 && (v[1] - 3.0 / n).abs() < 1e-6,
        "{v:?}"
    );
    // Text 1 is one row, (4, -1): a negative maximum stays negative.
    let w = h.max_pooled(1);
    let n = 17f32.sqrt();
    assert!(
        (w[0] - 4.0 / n).abs() < 1e-6 && (w[1] + 1.0 / n).abs() < 1e-6,
        "{w:?}"
    );
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let weights = random_weights("", 1);
    let bert = Bert::load(Config::from_json(CONFIG.as_bytes()).unwrap(), &weights).unwrap();
    let too_long = vec![1u32; 81];
    assert!(matches!(
        bert.forward(&[&too_long]),
        Err(BertError::Input(_))
    ));
    assert!(matches!(
        bert.forward(&[&[96, 97]]),
        Err(BertError::Input(_))
    ));
    let empty = bert.forward(&[]).unwrap();
    assert_eq!(empty.texts(), 0);
    let one_empty = bert.forward(&[&[], &[3, 4]]).unwrap();
    assert_eq!(one_empty.rows(0).count(), 0);
    assert_eq!(one_empty.rows(1).count(), 2);
}

#[test]
fn missing_or_misshapen_weights_are_named() {
    let mut weights = random_weights("", 1);
    let config = Config::from_json(CONFIG.as_bytes()).unwrap();
    weights.remove("encoder.layer.1.output.dense.bias");
    let err = Bert::load(config.clone(), &weights)
        .unwrap_err()
        .to_string();
    assert!(err.contains("encoder.layer.1.output.dense.bias"), "{err}");
    let mut weights = random_weights("", 1);
    weights.insert(
        "encoder.layer.0.intermediate.dense.weight".into(),
        Tensor::zeros((64, 64), DType::F32, &Device::Cpu).unwrap(),
    );
    let err = Bert::load(config, &weights).unwrap_err().to_string();
    assert!(err.contains("shape"), "{err}");
}

#[test]
fn config_reads_bert_and_roberta_and_refuses_what_it_cannot_run() {
    let c = Config::from_json(CONFIG.as_bytes()).unwrap();
    assert_eq!(
        (c.hidden, c.heads, c.position_offset, c.max_len()),
        (64, 4, 0, 80)
    );
    let roberta = CONFIG
        .replace("\"bert\"", "\"xlm-roberta\"")
        .replace("\"pad_token_id\": 0", "\"pad_token_id\": 1");
    let c = Config::from_json(roberta.as_bytes()).unwrap();
    assert_eq!((c.position_offset, c.max_len()), (2, 78));
    let tanh = CONFIG.replace("\"gelu\"", "\"gelu_new\"");
    assert!(Config::from_json(tanh.as_bytes()).is_err());
    let odd = CONFIG.replace("\"num_attention_heads\": 4", "\"num_attention_heads\": 5");
    assert!(Config::from_json(odd.as_bytes()).is_err());
}

#[test]
fn exp_and_erf_approximations_are_f32_accurate() {
    let mut worst_exp = 0f64;
    let mut worst_erf = 0f64;
    let mut x = -30.0f32;
    while x < 30.0 {
        let e = (x as f64).exp();
        worst_exp = worst_exp.max(((ops::exp(x) as f64) - e).abs() / e);
        x += 0.0137;
    }
    let mut x = -6.0f32;
    while x < 6.0 {
        worst_erf = worst_erf.max((ops::erf(x) as f64 - erf_reference(x as f64)).abs());
        x += 0.0011;
    }
    assert!(worst_exp < 5e-7, "exp relative error {worst_exp}");
    assert!(worst_erf < 1e-6, "erf absolute error {worst_erf}");
    assert_eq!(ops::exp(-200.0), ops::exp(-87.0));
    assert!(ops::gelu(0.0).abs() < 1e-12);
}

/// erf by its Taylor series (x small) or continued fraction (x large), in f64.
fn erf_reference(x: f64) -> f64 {
    let ax = x.abs();
    let y = if ax < 3.0 {
        let mut term = ax;
        let mut sum = ax;
        for n in 1..200 {
            term *= -ax * ax / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // erfc(x) = exp(-x²)/(x√π) · 1/(1 + 1/(2x²)/(1 + 2/(2x²)/(1 + ...)))
        let mut f = 0.0;
        for k in (1..60).rev() {
            f = (k as f64 / 2.0) / (ax + f);
        }
        1.0 - (-ax * ax).exp() / std::f64::consts::PI.sqrt() / (ax + f)
    };
    y.copysign(x)
}
