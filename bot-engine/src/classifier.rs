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
//!
//! A third scorer reads the words rather than the embedding
//! ([`crate::LexicalHead`]: insurer names, weekdays, Spanish the small
//! encoder knows poorly); its probability is mixed into the trained part at
//! `lexical_weight` ([`IntentModel::with_lexical`]).

use candle_core::{DType, Device, Tensor};
use candle_nn::{Optimizer, VarBuilder, VarMap};
use serde::Serialize;

use crate::Result;
use crate::lexical::LexicalHead;

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
            let s = dot(row, query);
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

/// The dot product in eight independent sums, which the compiler turns
/// into vector instructions (one running sum, as `Iterator::sum` keeps,
/// cannot be reordered): ranking compares a message with every example,
/// thousands of them, on the server's runtime threads.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (a8, a_rest) = a.as_chunks::<8>();
    let (b8, b_rest) = b.as_chunks::<8>();
    let mut acc = [0f32; 8];
    for (x, y) in a8.iter().zip(b8) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let rest: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + rest
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

    /// How heads are trained (the fixed settings above), for keys of caches
    /// that keep trained heads: a change to the training makes new keys.
    pub fn recipe() -> String {
        format!(
            "softmax-adamw-v1 epochs={HEAD_EPOCHS} lr={HEAD_LEARNING_RATE} \
             decay={HEAD_WEIGHT_DECAY} scale={HEAD_INPUT_SCALE}"
        )
    }

    /// The head as rows of equal length, to be kept (in an embedding cache,
    /// say) and given back to [`Head::from_parts`]: one row of class
    /// weights per input value, then the biases.
    pub fn parts(&self) -> Vec<Vec<f32>> {
        let k = self.bias.len();
        self.weight
            .chunks_exact(k)
            .map(<[f32]>::to_vec)
            .chain([self.bias.clone()])
            .collect()
    }

    /// A head from [`Head::parts`] for inputs of `dim` values; `None` when
    /// the rows do not fit that.
    pub fn from_parts(mut rows: Vec<Vec<f32>>, dim: usize) -> Option<Head> {
        let k = rows.first()?.len();
        if k == 0 || rows.len() != dim + 1 || rows.iter().any(|r| r.len() != k) {
            return None;
        }
        let bias = rows.pop()?;
        Some(Head {
            weight: rows.concat(),
            bias,
            dim,
        })
    }

    /// How many classes it tells apart.
    pub fn classes(&self) -> usize {
        self.bias.len()
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
    /// The words' own model ([`crate::LexicalHead`]) and its share of the
    /// trained part of the score.
    lexical: Option<(LexicalHead, f32)>,
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
        IntentModel::build(intents, examples, Vec::new(), dim, Head::train)
    }

    /// [`IntentModel::train`] with `rejection` (embeddings of out-of-scope
    /// questions) as one more class; without any, the same as `train`.
    pub fn train_with_rejection(
        intents: Vec<String>,
        examples: Vec<(usize, Vec<f32>)>,
        rejection: Vec<Vec<f32>>,
        dim: usize,
    ) -> Result<IntentModel> {
        IntentModel::build(intents, examples, rejection, dim, Head::train)
    }

    /// [`IntentModel::train_with_rejection`] with the head from `head`,
    /// given the number of classes, every example (the out-of-scope ones
    /// last, as the last class) and `dim`: [`Head::train`], or a head kept
    /// from an earlier training on the same examples.
    pub fn build(
        mut intents: Vec<String>,
        mut examples: Vec<(usize, Vec<f32>)>,
        rejection: Vec<Vec<f32>>,
        dim: usize,
        head: impl FnOnce(usize, &[(usize, Vec<f32>)], usize) -> Result<Head>,
    ) -> Result<IntentModel> {
        let reject = (!rejection.is_empty()).then(|| {
            let reject = intents.len();
            intents.push(REJECT.to_string());
            examples.extend(rejection.into_iter().map(|v| (reject, v)));
            reject
        });
        let head = head(intents.len(), &examples, dim)?;
        Ok(IntentModel {
            index: IntentIndex::new(intents, examples, dim),
            head,
            head_weight: DEFAULT_HEAD_WEIGHT,
            lexical: None,
            reject,
        })
    }

    /// The head's share of the score (0..=1, clamped), the rest being the
    /// nearest-neighbour similarity's.
    pub fn with_head_weight(mut self, weight: f32) -> IntentModel {
        self.head_weight = weight.clamp(0.0, 1.0);
        self
    }

    /// Adds the lexical head, trained on the same classes (the out-of-scope
    /// class last, when there is one), at `weight` (0..=1, clamped) of the
    /// trained part of the score: the head's probability becomes the
    /// weighted mean of the encoder head's and the lexical head's.
    pub fn with_lexical(mut self, head: LexicalHead, weight: f32) -> IntentModel {
        self.lexical = Some((head, weight.clamp(0.0, 1.0)));
        self
    }

    /// Intents by descending score for a message's embedding and its
    /// redacted text: the weighted mean of the heads' probability and the
    /// nearest-neighbour similarity (see the module documentation;
    /// [`DEFAULT_HEAD_WEIGHT`] each by default). Without a text (a message
    /// in a language the lexical head never saw) the encoder's head alone
    /// gives the trained part.
    pub fn rank(&self, query: &[f32], text: Option<&str>) -> Vec<Scored> {
        self.rank_with_rejection(query, text).0
    }

    /// [`IntentModel::rank`], and the out-of-scope class's score on the same
    /// scale (`None` without the class).
    pub fn rank_with_rejection(
        &self,
        query: &[f32],
        text: Option<&str>,
    ) -> (Vec<Scored>, Option<f32>) {
        let knn = self.index.scores(query);
        let mut p = self.head.probabilities(query);
        if let (Some((lexical, weight)), Some(text)) = (&self.lexical, text) {
            for (p, l) in p.iter_mut().zip(lexical.probabilities(text)) {
                *p = (1.0 - weight) * *p + weight * l;
            }
        }
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
    fn the_vector_dot_product_is_the_plain_one() {
        for len in [0, 1, 7, 8, 9, 384, 385] {
            let a: Vec<f32> = (0..len)
                .map(|i| ((i * 37 % 11) as f32 - 5.0) / 7.0)
                .collect();
            let b: Vec<f32> = (0..len)
                .map(|i| ((i * 13 % 7) as f32 - 3.0) / 5.0)
                .collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-4, "{len}");
        }
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
    fn a_head_comes_back_whole_from_its_parts() {
        let examples = vec![
            (0, unit(&[1.0, 0.0, 0.0])),
            (1, unit(&[0.0, 1.0, 0.0])),
            (2, unit(&[0.0, 0.0, 1.0])),
        ];
        let head = Head::train(3, &examples, 3).unwrap();
        let parts = head.parts();
        assert_eq!(parts.len(), 4, "three rows of weights and the biases");
        let back = Head::from_parts(parts.clone(), 3).unwrap();
        let q = unit(&[0.3, 0.5, 0.1]);
        assert_eq!(back.probabilities(&q), head.probabilities(&q));
        assert!(
            Head::from_parts(parts.clone(), 4).is_none(),
            "wrong input size"
        );
        let mut ragged = parts;
        ragged[1].pop();
        assert!(Head::from_parts(ragged, 3).is_none(), "ragged rows");
        assert!(Head::from_parts(Vec::new(), 0).is_none());
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
        assert_eq!(model(0.0).rank(&q, None), knn);
        let head = model(1.0).rank(&q, None);
        let total: f32 = head.iter().map(|s| s.confidence).sum();
        assert!((total - 1.0).abs() < 1e-4, "probabilities: {head:?}");
        let score = |list: &[Scored], id: &str| {
            list.iter()
                .find(|s| s.intent == id)
                .map(|s| s.confidence)
                .unwrap()
        };
        for (w, id) in [(0.5, "a"), (0.5, "b"), (0.2, "b")] {
            let mixed = score(&model(w).rank(&q, None), id);
            let want = (1.0 - w) * score(&knn, id) + w * score(&head, id);
            assert!((mixed - want).abs() < 1e-5, "{w} {id}: {mixed} vs {want}");
        }
        assert_eq!(model(7.0).rank(&q, None), head, "clamped to 1");
    }
}
