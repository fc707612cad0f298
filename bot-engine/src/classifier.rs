//! Intent scoring: nearest neighbours over the whitelist's example
//! phrasings, and a small trained head over the same embeddings.
//!
//! The two fail differently. Nearest neighbours say how close a message is
//! to something the clinic wrote, which is what out-of-scope detection
//! needs (a question about the weather is far from every example), but they
//! confuse intents whose examples overlap ("reschedule" and "cancel"). The
//! head, a softmax regression trained at load time, draws the boundaries
//! between intents from all their examples at once, but gives a confident
//! probability to anything, however far from the examples. An intent's
//! score is therefore a weighted mean of the two ([`IntentModel::rank`];
//! equal weights unless `head_weight` says otherwise): high only when the
//! message is both near the intent's examples and on its side of the
//! boundaries.

use candle_core::{DType, Device, Tensor};
use candle_nn::{Optimizer, VarBuilder, VarMap};
use serde::Serialize;

use crate::Result;

/// An intent and how well the message matches it (cosine similarity, -1..1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    pub intent: String,
    pub confidence: f32,
}

/// Every example's embedding, row by row, with the intent it belongs to.
pub struct IntentIndex {
    intents: Vec<String>,
    labels: Vec<usize>,
    rows: Vec<f32>,
    dim: usize,
}

impl IntentIndex {
    /// `examples` pairs an index into `intents` with a unit-length embedding.
    pub fn new(intents: Vec<String>, examples: Vec<(usize, Vec<f32>)>, dim: usize) -> IntentIndex {
        let mut labels = Vec::with_capacity(examples.len());
        let mut rows = Vec::with_capacity(examples.len() * dim);
        for (label, v) in examples {
            assert_eq!(v.len(), dim, "embedding size");
            assert!(label < intents.len(), "label out of range");
            labels.push(label);
            rows.extend(v);
        }
        IntentIndex {
            intents,
            labels,
            rows,
            dim,
        }
    }

    /// Intents by descending score. An intent's score is its best example's
    /// similarity, nudged by its second best so that one lucky example counts
    /// for less than two good ones.
    pub fn rank(&self, query: &[f32]) -> Vec<Scored> {
        let mut out: Vec<Scored> = self
            .scores(query)
            .into_iter()
            .enumerate()
            .filter(|&(_, score)| score > f32::MIN)
            .map(|(i, confidence)| Scored {
                intent: self.intents[i].clone(),
                confidence,
            })
            .collect();
        out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        out
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Each intent's nearest-neighbour score for `query`, by intent index
    /// (`f32::MIN` for an intent without examples).
    fn scores(&self, query: &[f32]) -> Vec<f32> {
        let mut best = vec![(f32::MIN, f32::MIN); self.intents.len()];
        for (row, &label) in self.rows.chunks_exact(self.dim).zip(&self.labels) {
            let s: f32 = row.iter().zip(query).map(|(a, b)| a * b).sum();
            let b = &mut best[label];
            if s > b.0 {
                *b = (s, b.0);
            } else if s > b.1 {
                b.1 = s;
            }
        }
        best.into_iter()
            .map(|(first, second)| {
                if second > f32::MIN {
                    0.8 * first + 0.2 * second
                } else {
                    first
                }
            })
            .collect()
    }
}

/// Training settings of the head. Fixed, and the optimisation starts from
/// zero weights, so the same examples always give the same head.
const HEAD_EPOCHS: usize = 250;
const HEAD_LEARNING_RATE: f64 = 0.05;
const HEAD_WEIGHT_DECAY: f64 = 1e-4;
/// Unit-length embeddings have small coordinates; scaling them lets the
/// regression reach confident probabilities with small weights.
const HEAD_INPUT_SCALE: f64 = 10.0;

/// A softmax regression from embedding to intent, trained with candle-nn.
pub struct Head {
    weight: Vec<f32>,
    bias: Vec<f32>,
    dim: usize,
}

impl Head {
    /// Trains on `examples` (intent index, unit embedding) with full-batch
    /// AdamW. Takes seconds for thousands of examples.
    pub fn train(intents: usize, examples: &[(usize, Vec<f32>)], dim: usize) -> Result<Head> {
        let device = Device::Cpu;
        let n = examples.len();
        let xs: Vec<f32> = examples
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .collect();
        let ys: Vec<u32> = examples.iter().map(|(l, _)| *l as u32).collect();
        let xs = (Tensor::from_vec(xs, (n, dim), &device)? * HEAD_INPUT_SCALE)?;
        let ys = Tensor::from_vec(ys, n, &device)?;
        let vars = VarMap::new();
        let vb = VarBuilder::from_varmap(&vars, DType::F32, &device);
        let w = vb.get_with_hints((dim, intents), "w", candle_nn::Init::Const(0.0))?;
        let b = vb.get_with_hints(intents, "b", candle_nn::Init::Const(0.0))?;
        let mut opt = candle_nn::AdamW::new(
            vars.all_vars(),
            candle_nn::ParamsAdamW {
                lr: HEAD_LEARNING_RATE,
                weight_decay: HEAD_WEIGHT_DECAY,
                ..Default::default()
            },
        )?;
        for _ in 0..HEAD_EPOCHS {
            let logits = xs.matmul(&w)?.broadcast_add(&b)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &ys)?;
            opt.backward_step(&loss)?;
        }
        Ok(Head {
            weight: w.flatten_all()?.to_vec1()?,
            bias: b.to_vec1()?,
            dim,
        })
    }

    /// Probability of each intent for `query`.
    pub fn probabilities(&self, query: &[f32]) -> Vec<f32> {
        let k = self.bias.len();
        let mut logits = self.bias.clone();
        for (d, &x) in query.iter().enumerate().take(self.dim) {
            let x = x * HEAD_INPUT_SCALE as f32;
            for (l, w) in logits.iter_mut().zip(&self.weight[d * k..(d + 1) * k]) {
                *l += x * w;
            }
        }
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for l in &mut logits {
            *l = (*l - max).exp();
            sum += *l;
        }
        logits.iter().map(|l| l / sum).collect()
    }
}

/// The head's share of an intent's score by default: the plain mean.
pub const DEFAULT_HEAD_WEIGHT: f32 = 0.5;

/// Nearest neighbours and the head together: what the bot ranks with.
///
/// Optionally with one more class, out of scope, learned from questions
/// the clinic has no reply for ([`IntentModel::train_with_rejection`]):
/// the head then draws a boundary around the whitelist instead of giving
/// every message to some intent, and the nearest neighbours say how close a
/// message is to a known off-topic question. The class is never an intent:
/// [`IntentModel::rank`] leaves it out and
/// [`IntentModel::rank_with_rejection`] returns its score apart.
pub struct IntentModel {
    index: IntentIndex,
    head: Head,
    head_weight: f32,
    /// The out-of-scope class's index, when there is one.
    reject: Option<usize>,
}

/// The out-of-scope class's name in the index: not an intent id (those are
/// file names), and never returned as one.
const REJECT: &str = "\u{0}out_of_scope";

impl IntentModel {
    /// Indexes `examples` and trains the head on them.
    pub fn train(
        intents: Vec<String>,
        examples: Vec<(usize, Vec<f32>)>,
        dim: usize,
    ) -> Result<IntentModel> {
        let head = Head::train(intents.len(), &examples, dim)?;
        Ok(IntentModel {
            index: IntentIndex::new(intents, examples, dim),
            head,
            head_weight: DEFAULT_HEAD_WEIGHT,
            reject: None,
        })
    }

    /// [`IntentModel::train`] with `rejection` (embeddings of out-of-scope
    /// questions) as one more class; without any, the same as `train`.
    pub fn train_with_rejection(
        mut intents: Vec<String>,
        mut examples: Vec<(usize, Vec<f32>)>,
        rejection: Vec<Vec<f32>>,
        dim: usize,
    ) -> Result<IntentModel> {
        if rejection.is_empty() {
            return IntentModel::train(intents, examples, dim);
        }
        let reject = intents.len();
        intents.push(REJECT.to_string());
        examples.extend(rejection.into_iter().map(|v| (reject, v)));
        let mut model = IntentModel::train(intents, examples, dim)?;
        model.reject = Some(reject);
        Ok(model)
    }

    /// The head's share of the score (0..=1, clamped), the rest being the
    /// nearest-neighbour similarity's.
    pub fn with_head_weight(mut self, weight: f32) -> IntentModel {
        self.head_weight = weight.clamp(0.0, 1.0);
        self
    }

    /// Intents by descending score: the weighted mean of the head's
    /// probability and the nearest-neighbour similarity (see the module
    /// documentation; [`DEFAULT_HEAD_WEIGHT`] each by default).
    pub fn rank(&self, query: &[f32]) -> Vec<Scored> {
        self.rank_with_rejection(query).0
    }

    /// [`IntentModel::rank`], and the out-of-scope class's score on the same
    /// scale (`None` without the class).
    pub fn rank_with_rejection(&self, query: &[f32]) -> (Vec<Scored>, Option<f32>) {
        let knn = self.index.scores(query);
        let p = self.head.probabilities(query);
        let score = |i: usize| (1.0 - self.head_weight) * knn[i] + self.head_weight * p[i];
        let mut out: Vec<Scored> = (0..self.index.intents.len())
            .filter(|&i| knn[i] > f32::MIN && Some(i) != self.reject)
            .map(|i| Scored {
                intent: self.index.intents[i].clone(),
                confidence: score(i),
            })
            .collect();
        out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        (out, self.reject.map(score))
    }

    /// Example phrasings indexed (with the out-of-scope questions learned
    /// as such).
    pub fn examples(&self) -> usize {
        self.index.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn ranks_by_nearest_examples() {
        let index = IntentIndex::new(
            vec!["a".into(), "b".into()],
            vec![
                (0, unit(&[1.0, 0.0, 0.0])),
                (0, unit(&[0.9, 0.1, 0.0])),
                (1, unit(&[0.0, 1.0, 0.0])),
            ],
            3,
        );
        let r = index.rank(&unit(&[0.2, 1.0, 0.0]));
        assert_eq!(r[0].intent, "b");
        assert_eq!(r[1].intent, "a");
        assert!(r[0].confidence > r[1].confidence);
        let r = index.rank(&unit(&[1.0, 0.05, 0.0]));
        assert_eq!(r[0].intent, "a");
        assert!(r[0].confidence > 0.95);
    }

    #[test]
    fn the_head_weight_mixes_neighbours_and_head() {
        let intents: Vec<String> = vec!["a".into(), "b".into()];
        let examples = vec![
            (0, unit(&[1.0, 0.0, 0.0])),
            (0, unit(&[0.9, 0.1, 0.0])),
            (1, unit(&[0.0, 1.0, 0.0])),
            (1, unit(&[0.1, 0.9, 0.0])),
        ];
        let q = unit(&[0.6, 0.8, 0.0]);
        let knn = IntentIndex::new(intents.clone(), examples.clone(), 3).rank(&q);
        let model = |w| {
            IntentModel::train(intents.clone(), examples.clone(), 3)
                .unwrap()
                .with_head_weight(w)
        };
        assert_eq!(model(0.0).rank(&q), knn);
        let head = model(1.0).rank(&q);
        let total: f32 = head.iter().map(|s| s.confidence).sum();
        assert!((total - 1.0).abs() < 1e-4, "probabilities: {head:?}");
        let score = |list: &[Scored], id: &str| {
            list.iter()
                .find(|s| s.intent == id)
                .map(|s| s.confidence)
                .unwrap()
        };
        for (w, id) in [(0.5, "a"), (0.5, "b"), (0.2, "b")] {
            let mixed = score(&model(w).rank(&q), id);
            let want = (1.0 - w) * score(&knn, id) + w * score(&head, id);
            assert!((mixed - want).abs() < 1e-5, "{w} {id}: {mixed} vs {want}");
        }
        assert_eq!(model(7.0).rank(&q), head, "clamped to 1");
    }
}
