//! Fine-tuning the sentence encoder on a whitelist's own examples.
//!
//! A general-purpose encoder places "what time do you open" and "are you
//! open on saturday" near each other, but it was never told which of a
//! clinic's intents are which, so neighbouring intents overlap and a message
//! outside the whitelist can sit as close to an example as one inside it.
//! Fine-tuning moves the examples: every intent's phrasings are pulled
//! together and away from the other intents', which is what both the
//! nearest-neighbour scores and the out-of-scope threshold feed on.
//!
//! The objective is a cosine classifier with an additive margin (CosFace):
//! the mean-pooled, unit-length embedding is compared with one learned unit
//! vector per intent, and the right intent's cosine must lead the others by
//! `margin` before the loss lets go. The classifier is thrown away after
//! training; what is kept is the encoder, which the bot uses exactly as it
//! uses the one it started from (its own head and threshold are trained and
//! calibrated on the new embeddings at start-up).
//!
//! The forward pass here is candle's ordinary differentiable tensor
//! operations over a padded batch, unlike the `bert` crate's packed
//! inference pass, which has no gradients. The embedding layer (the word,
//! position and type tables and their LayerNorm) stays frozen: it is most
//! of the model's weights, and a whitelist's few thousand phrasings would
//! only move the rows of the words they happen to contain; the transformer
//! layers above it are trained. Dropout masks come from a seeded generator, so
//! the same examples and options give the same model.
//!
//! Pure: weights in, weights out; the console reads and writes the files.

use std::collections::HashMap;

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use crate::linear::SplitMix as Rng;
use crate::{EngineError, Result};

/// How the encoder is tuned.
#[derive(Debug, Clone, PartialEq)]
pub struct TuneOptions {
    /// Passes over the examples.
    pub epochs: usize,
    /// Examples per optimisation step.
    pub batch: usize,
    /// Peak learning rate of the encoder's layers (warmed up over the first
    /// tenth of the steps, then decayed linearly to zero).
    pub learning_rate: f64,
    /// Learning rate of the per-intent vectors, which start at the intents'
    /// mean embeddings.
    pub head_learning_rate: f64,
    /// Cosines are multiplied by this before the softmax.
    pub scale: f64,
    /// How far the right intent's cosine must lead (CosFace margin).
    pub margin: f64,
    /// Dropout on each sublayer's output during training.
    pub dropout: f64,
    /// Seed of the shuffling and of the dropout masks.
    pub seed: u64,
}

impl Default for TuneOptions {
    fn default() -> TuneOptions {
        TuneOptions {
            epochs: 3,
            batch: 32,
            learning_rate: 6e-5,
            head_learning_rate: 1e-2,
            scale: 20.0,
            margin: 0.1,
            dropout: 0.1,
            seed: 7,
        }
    }
}

/// Where training is, after each step.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub epoch: usize,
    pub step: usize,
    pub steps: usize,
    /// The mean loss of the epoch so far.
    pub loss: f32,
    /// Share of the epoch's examples whose intent the classifier got right
    /// (on dropout-perturbed passes).
    pub accuracy: f32,
}

/// One training example: its piece ids (start and end tokens included, as
/// the encoder's tokenizer gives them) and its intent's index.
#[derive(Debug, Clone, PartialEq)]
pub struct TuneExample {
    pub ids: Vec<u32>,
    pub label: usize,
}

/// The names a layer's trainable tensors have in a Hugging Face checkpoint.
const LAYER_TENSORS: [&str; 16] = [
    "attention.self.query.weight",
    "attention.self.query.bias",
    "attention.self.key.weight",
    "attention.self.key.bias",
    "attention.self.value.weight",
    "attention.self.value.bias",
    "attention.output.dense.weight",
    "attention.output.dense.bias",
    "attention.output.LayerNorm.weight",
    "attention.output.LayerNorm.bias",
    "intermediate.dense.weight",
    "intermediate.dense.bias",
    "output.dense.weight",
    "output.dense.bias",
    "output.LayerNorm.weight",
    "output.LayerNorm.bias",
];

struct Layer {
    /// The tensors of [`LAYER_TENSORS`], in order, as trainable variables.
    vars: Vec<Var>,
}

impl Layer {
    fn t(&self, i: usize) -> &Tensor {
        self.vars[i].as_tensor()
    }
}

/// The differentiable model: frozen embeddings, trainable layers.
struct Model {
    config: bert::Config,
    word: Tensor,
    positions: Tensor,
    token_type: Tensor,
    embed_norm: (Tensor, Tensor),
    layers: Vec<Layer>,
}

/// Dropout masks from the seeded generator the engine's models share.
impl Rng {
    /// A dropout mask: 0 with probability `p`, else 1 / (1 - p).
    fn mask(&mut self, shape: &[usize], p: f64) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        let keep = (1.0 / (1.0 - p)) as f32;
        let threshold = (p * u32::MAX as f64) as u64;
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let r = self.next();
            for half in [r & 0xFFFF_FFFF, r >> 32] {
                if out.len() < n {
                    out.push(if half < threshold { 0.0 } else { keep });
                }
            }
        }
        Ok(Tensor::from_vec(out, shape, &Device::Cpu)?)
    }
}

fn layer_norm(x: &Tensor, (gamma, beta): (&Tensor, &Tensor), eps: f64) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let centred = x.broadcast_sub(&mean)?;
    let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
    let normed = centred.broadcast_div(&(var + eps)?.sqrt()?)?;
    Ok(normed.broadcast_mul(gamma)?.broadcast_add(beta)?)
}

/// `x` [rows, in] times a Hugging Face weight [out, in], plus its bias.
fn linear(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    Ok(x.matmul(&weight.t()?)?.broadcast_add(bias)?)
}

impl Model {
    fn dropout(&self, x: Tensor, rng: &mut Option<&mut Rng>, p: f64) -> Result<Tensor> {
        match rng {
            Some(rng) if p > 0.0 => {
                let mask = rng.mask(x.dims(), p)?;
                Ok((x * mask)?)
            }
            _ => Ok(x),
        }
    }

    /// Mean-pooled, unit-length embeddings of a padded batch: `ids` and
    /// `mask` are [texts, length]; dropout only when `rng` is given.
    fn embed(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        mut rng: Option<&mut Rng>,
        p: f64,
    ) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let h = self.config.hidden;
        let heads = self.config.heads;
        let d = h / heads;
        let eps = self.config.eps as f64;
        let words = self.word.index_select(&ids.flatten_all()?, 0)?;
        let positions = self
            .positions
            .narrow(0, self.config.position_offset, t)?
            .repeat((b, 1))?;
        let x = words.add(&positions)?.broadcast_add(&self.token_type)?;
        let mut x = layer_norm(&x, (&self.embed_norm.0, &self.embed_norm.1), eps)?;
        // Padded keys get -10,000 before the softmax: [b, 1, 1, t].
        let key_bias = ((mask.clone() - 1.0)? * 10_000.0)?.reshape((b, 1, 1, t))?;
        let scale = 1.0 / (d as f64).sqrt();
        for layer in &self.layers {
            let split = |y: Tensor| -> Result<Tensor> {
                Ok(y.reshape((b, t, heads, d))?.transpose(1, 2)?.contiguous()?)
            };
            let q = split(linear(&x, layer.t(0), layer.t(1))?)?;
            let k = split(linear(&x, layer.t(2), layer.t(3))?)?;
            let v = split(linear(&x, layer.t(4), layer.t(5))?)?;
            let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&key_bias)?;
            let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
            let context = probs
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((b * t, h))?;
            let attended = self.dropout(linear(&context, layer.t(6), layer.t(7))?, &mut rng, p)?;
            let a = layer_norm(&(attended + &x)?, (layer.t(8), layer.t(9)), eps)?;
            let up = linear(&a, layer.t(10), layer.t(11))?.gelu_erf()?;
            let down = self.dropout(linear(&up, layer.t(12), layer.t(13))?, &mut rng, p)?;
            x = layer_norm(&(down + &a)?, (layer.t(14), layer.t(15)), eps)?;
        }
        let mask3 = mask.reshape((b, t, 1))?;
        let summed = x.reshape((b, t, h))?.broadcast_mul(&mask3)?.sum(1)?;
        let pooled = summed.broadcast_div(&mask.sum_keepdim(1)?)?;
        unit_rows(&pooled)
    }
}

impl Model {
    /// The model of a checkpoint, and the prefix its tensor names carry.
    fn from_checkpoint(
        config: &bert::Config,
        tensors: &HashMap<String, Tensor>,
    ) -> Result<(Model, &'static str)> {
        let prefix = ["", "bert.", "roberta.", "model."]
            .into_iter()
            .find(|p| tensors.contains_key(&format!("{p}embeddings.word_embeddings.weight")))
            .ok_or_else(|| EngineError::Config("no embeddings.word_embeddings.weight".into()))?;
        let get = |name: &str| -> Result<Tensor> {
            let full = format!("{prefix}{name}");
            let t = tensors
                .get(&full)
                .ok_or_else(|| EngineError::Config(format!("{full} is missing")))?;
            Ok(t.to_dtype(DType::F32)?)
        };
        let mut layers = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let vars = LAYER_TENSORS
                .iter()
                .map(|name| {
                    Ok(Var::from_tensor(&get(&format!(
                        "encoder.layer.{i}.{name}"
                    ))?)?)
                })
                .collect::<Result<Vec<Var>>>()?;
            layers.push(Layer { vars });
        }
        let model = Model {
            config: config.clone(),
            word: get("embeddings.word_embeddings.weight")?,
            positions: get("embeddings.position_embeddings.weight")?,
            token_type: get("embeddings.token_type_embeddings.weight")?.narrow(0, 0, 1)?,
            embed_norm: (
                get("embeddings.LayerNorm.weight")?,
                get("embeddings.LayerNorm.bias")?,
            ),
            layers,
        };
        Ok((model, prefix))
    }
}

fn unit_rows(x: &Tensor) -> Result<Tensor> {
    let norm = (x.sqr()?.sum_keepdim(D::Minus1)? + 1e-12)?.sqrt()?;
    Ok(x.broadcast_div(&norm)?)
}

/// Pads `examples` into one batch: ids, a 0/1 mask, and the labels.
fn batch(examples: &[&TuneExample]) -> Result<(Tensor, Tensor, Tensor)> {
    let t = examples.iter().map(|e| e.ids.len()).max().unwrap_or(1);
    let mut ids = Vec::with_capacity(examples.len() * t);
    let mut mask = Vec::with_capacity(examples.len() * t);
    for e in examples {
        ids.extend(e.ids.iter().copied());
        ids.extend(std::iter::repeat_n(0, t - e.ids.len()));
        mask.extend(std::iter::repeat_n(1f32, e.ids.len()));
        mask.extend(std::iter::repeat_n(0f32, t - e.ids.len()));
    }
    let labels: Vec<u32> = examples.iter().map(|e| e.label as u32).collect();
    let n = examples.len();
    Ok((
        Tensor::from_vec(ids, (n, t), &Device::Cpu)?,
        Tensor::from_vec(mask, (n, t), &Device::Cpu)?,
        Tensor::from_vec(labels, n, &Device::Cpu)?,
    ))
}

/// Batches of examples of similar length (little padding), in shuffled
/// order: sorted by length with random tie-breaks, cut into batches, and the
/// batches shuffled.
fn batches<'a>(
    examples: &'a [TuneExample],
    size: usize,
    rng: &mut Rng,
) -> Vec<Vec<&'a TuneExample>> {
    let mut order: Vec<(usize, u64)> = (0..examples.len()).map(|i| (i, rng.next())).collect();
    order.sort_by_key(|&(i, r)| (examples[i].ids.len(), r));
    let mut out: Vec<Vec<&TuneExample>> = order
        .chunks(size.max(1))
        .map(|c| c.iter().map(|&(i, _)| &examples[i]).collect())
        .collect();
    rng.shuffle(&mut out);
    out
}

/// Fine-tunes the encoder whose checkpoint is `tensors` on `examples`
/// (`classes` intents) and returns the checkpoint with its layers replaced,
/// under their original names; `progress` hears after every step.
pub fn fine_tune(
    config: &bert::Config,
    tensors: &HashMap<String, Tensor>,
    examples: &[TuneExample],
    classes: usize,
    options: &TuneOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<HashMap<String, Tensor>> {
    if examples.is_empty() || classes < 2 {
        return Err(EngineError::Config(
            "tuning needs examples of at least two intents".into(),
        ));
    }
    if let Some(e) = examples
        .iter()
        .find(|e| e.label >= classes || e.ids.is_empty())
    {
        return Err(EngineError::Config(format!(
            "tuning example with label {} of {classes} and {} pieces",
            e.label,
            e.ids.len()
        )));
    }
    let longest = examples.iter().map(|e| e.ids.len()).max().unwrap_or(0);
    if longest > config.max_len() {
        return Err(EngineError::Config(format!(
            "a tuning example has {longest} pieces, more than the model's {}",
            config.max_len()
        )));
    }
    let (model, prefix) = Model::from_checkpoint(config, tensors)?;
    let mut rng = Rng(options.seed);

    // The intents' vectors start at their examples' mean embedding.
    let h = config.hidden;
    let mut sums = vec![0f32; classes * h];
    for chunk in batches(examples, 64, &mut rng) {
        let (ids, mask, labels) = batch(&chunk)?;
        let e = model.embed(&ids, &mask, None, 0.0)?.to_vec2::<f32>()?;
        for (row, label) in e.iter().zip(labels.to_vec1::<u32>()?) {
            for (s, x) in sums[label as usize * h..][..h].iter_mut().zip(row) {
                *s += x;
            }
        }
    }
    let centres = Var::from_tensor(&unit_rows(&Tensor::from_vec(
        sums,
        (classes, h),
        &Device::Cpu,
    )?)?)?;

    let layer_vars: Vec<Var> = model.layers.iter().flat_map(|l| l.vars.clone()).collect();
    let mut encoder_opt = AdamW::new(
        layer_vars,
        ParamsAdamW {
            lr: options.learning_rate,
            weight_decay: 0.01,
            ..Default::default()
        },
    )?;
    let mut head_opt = AdamW::new(
        vec![centres.clone()],
        ParamsAdamW {
            lr: options.head_learning_rate,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let steps_per_epoch = examples.len().div_ceil(options.batch.max(1));
    let total = (steps_per_epoch * options.epochs).max(1);
    let warmup = (total / 10).max(1);
    let mut step = 0;
    for epoch in 0..options.epochs {
        let (mut loss_sum, mut right, mut seen) = (0f64, 0usize, 0usize);
        for (k, chunk) in batches(examples, options.batch, &mut rng)
            .iter()
            .enumerate()
        {
            let rate = if step < warmup {
                (step + 1) as f64 / warmup as f64
            } else {
                (total - step) as f64 / (total - warmup) as f64
            };
            encoder_opt.set_learning_rate(options.learning_rate * rate);
            head_opt.set_learning_rate(options.head_learning_rate * rate);
            let (ids, mask, labels) = batch(chunk)?;
            let e = model.embed(&ids, &mask, Some(&mut rng), options.dropout)?;
            let cosines = e.matmul(&unit_rows(centres.as_tensor())?.t()?)?;
            let target = candle_nn::encoding::one_hot(labels.clone(), classes, 1f32, 0f32)?;
            let logits = ((cosines.clone() - (target * options.margin)?)? * options.scale)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &labels)?;
            let grads = loss.backward()?;
            encoder_opt.step(&grads)?;
            head_opt.step(&grads)?;
            let predicted = cosines.argmax(D::Minus1)?.to_vec1::<u32>()?;
            right += predicted
                .iter()
                .zip(labels.to_vec1::<u32>()?)
                .filter(|(p, l)| **p == *l)
                .count();
            seen += chunk.len();
            loss_sum += loss.to_scalar::<f32>()? as f64 * chunk.len() as f64;
            step += 1;
            progress(&Progress {
                epoch,
                step: k + 1,
                steps: steps_per_epoch,
                loss: (loss_sum / seen as f64) as f32,
                accuracy: right as f32 / seen as f32,
            });
        }
    }

    let mut out = tensors.clone();
    for (i, layer) in model.layers.iter().enumerate() {
        for (name, var) in LAYER_TENSORS.iter().zip(&layer.vars) {
            out.insert(
                format!("{prefix}encoder.layer.{i}.{name}"),
                var.as_tensor().detach(),
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bert::testing::{CONFIG, random_weights};

    fn config() -> bert::Config {
        bert::Config::from_json(CONFIG.as_bytes()).unwrap()
    }

    fn example(ids: &[u32], label: usize) -> TuneExample {
        TuneExample {
            ids: ids.to_vec(),
            label,
        }
    }

    #[test]
    fn dropout_masks_are_seeded_and_keep_the_expected_share() {
        let a = Rng(3)
            .mask(&[10_000], 0.1)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let b = Rng(3)
            .mask(&[10_000], 0.1)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(a, b);
        let dropped = a.iter().filter(|&&x| x == 0.0).count();
        assert!(
            (800..1200).contains(&dropped),
            "{dropped} of 10,000 dropped"
        );
        assert!(a.iter().all(|&x| x == 0.0 || (x - 1.0 / 0.9).abs() < 1e-6));
    }

    /// The padded, differentiable pass computes what the bot's packed
    /// inference pass does, so what is trained is what is served.
    #[test]
    fn training_pass_matches_the_inference_pass() {
        let weights = random_weights("bert.", 5);
        let (model, prefix) = Model::from_checkpoint(&config(), &weights).unwrap();
        assert_eq!(prefix, "bert.");
        let texts = [
            example(&[1, 5, 9, 2], 0),
            example(&[1, 40, 41, 42, 43, 44, 2], 0),
            example(&[1, 2], 0),
        ];
        let refs: Vec<&TuneExample> = texts.iter().collect();
        let (ids, mask, _) = batch(&refs).unwrap();
        let trained = model
            .embed(&ids, &mask, None, 0.0)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let served = bert::Bert::load_with(config(), &weights, bert::Products::Float).unwrap();
        let inputs: Vec<&[u32]> = texts.iter().map(|t| t.ids.as_slice()).collect();
        let hidden = served.forward(&inputs).unwrap();
        for (i, row) in trained.iter().enumerate() {
            let pooled = hidden.mean_pooled(i);
            let norm = pooled.iter().map(|x| x * x).sum::<f32>().sqrt();
            for (a, b) in row.iter().zip(&pooled) {
                assert!((a - b / norm).abs() < 1e-4, "text {i}: {a} vs {}", b / norm);
            }
        }
    }

    /// Three "intents" whose texts share a marker piece amid random noise:
    /// tuning must pull held-out texts of an intent together and away from
    /// the others', keep the embeddings and every tensor name, and give the
    /// same weights for the same seed.
    #[test]
    fn tuning_separates_intents_deterministically() {
        let weights = random_weights("", 11);
        let mut noise = Rng(99);
        let mut make = |label: usize| {
            let mut ids = vec![1, 10 + label as u32];
            for _ in 0..4 + noise.below(4) {
                ids.push(20 + noise.below(70) as u32);
            }
            ids.push(2);
            example(&ids, label)
        };
        let train: Vec<TuneExample> = (0..90).map(|i| make(i % 3)).collect();
        let held_out: Vec<TuneExample> = (0..30).map(|i| make(i % 3)).collect();
        // Mean same-intent cosine minus mean other-intent cosine.
        let separation = |weights: &HashMap<String, Tensor>| -> f32 {
            let (model, _) = Model::from_checkpoint(&config(), weights).unwrap();
            let refs: Vec<&TuneExample> = held_out.iter().collect();
            let (ids, mask, _) = batch(&refs).unwrap();
            let e = model.embed(&ids, &mask, None, 0.0).unwrap();
            let cos = e.matmul(&e.t().unwrap()).unwrap().to_vec2::<f32>().unwrap();
            let (mut same, mut ns, mut other, mut no) = (0f32, 0, 0f32, 0);
            for i in 0..held_out.len() {
                for j in 0..held_out.len() {
                    if i == j {
                        continue;
                    }
                    if held_out[i].label == held_out[j].label {
                        same += cos[i][j];
                        ns += 1;
                    } else {
                        other += cos[i][j];
                        no += 1;
                    }
                }
            }
            same / ns as f32 - other / no as f32
        };
        let options = TuneOptions {
            epochs: 8,
            batch: 16,
            learning_rate: 1e-3,
            ..TuneOptions::default()
        };
        let tune = || fine_tune(&config(), &weights, &train, 3, &options, &mut |_| {}).unwrap();
        let tuned = tune();
        let (before, after) = (separation(&weights), separation(&tuned));
        assert!(
            after > before + 0.1,
            "separation {before} before tuning, {after} after"
        );
        let mut names: Vec<&String> = tuned.keys().collect();
        let mut original: Vec<&String> = weights.keys().collect();
        names.sort();
        original.sort();
        assert_eq!(names, original);
        let same = |a: &Tensor, b: &Tensor| {
            a.flatten_all().unwrap().to_vec1::<f32>().unwrap()
                == b.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        };
        let word = "embeddings.word_embeddings.weight";
        assert!(same(&tuned[word], &weights[word]), "embeddings are frozen");
        let query = "encoder.layer.1.attention.self.query.weight";
        assert!(!same(&tuned[query], &weights[query]), "layers are trained");
        let again = tune();
        assert!(
            tuned.keys().all(|k| same(&tuned[k], &again[k])),
            "same seed, same weights"
        );
    }

    #[test]
    fn rejects_examples_it_cannot_train_on() {
        let weights = random_weights("", 1);
        let options = TuneOptions::default();
        let run = |examples: &[TuneExample], classes| {
            fine_tune(
                &config(),
                &weights,
                examples,
                classes,
                &options,
                &mut |_| {},
            )
            .err()
            .map(|e| e.to_string())
        };
        assert!(
            run(&[example(&[1, 2], 0), example(&[1, 2], 3)], 2)
                .unwrap()
                .contains("label 3")
        );
        assert!(
            run(&[example(&[1, 2], 0)], 1)
                .unwrap()
                .contains("two intents")
        );
        let long: Vec<u32> = (0..200).map(|i| i % 90).collect();
        assert!(
            run(&[example(&long, 0), example(&[1, 2], 1)], 2)
                .unwrap()
                .contains("pieces")
        );
    }
}
