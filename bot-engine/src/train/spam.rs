//! Training the spam scorer's text model ([`crate::spam::TextModel`]), for
//! `carechat-lab train spam` and `eval spam`.
//!
//! Training is deterministic (fixed hash, fixed shuffle seed, no threads),
//! so training on the same file writes the same bytes (with
//! `--with-embedding` too: it embeds with f32 products on any CPU).
//!
//! The corpus is split by a hash of each message's text, never by position:
//! the same text always falls on the same side, whatever order the file is
//! in. One fifth is held out for `carechat-lab eval spam` and never trained
//! on; the decision threshold is chosen on out-of-fold scores of the other
//! four fifths.

use std::sync::Arc;

use crate::linear::{self, Fit, Sample, fnv1a, logit, mix};
use crate::spam::model::{Dense, features};
use crate::spam::{ModelError, SpamScorer, TextModel};

/// Trains the text model with the threshold chosen on the whole
/// first-message score: model plus links and pitch phrases (see
/// [`train_with_offset`]).
pub fn train(
    examples: &[Example],
    extra: &[Example],
    requests: &[Example],
    options: &TrainOptions,
    embeddings: Option<&Embeddings>,
) -> Result<(TextModel, TrainReport), ModelError> {
    let signals = SpamScorer::with_model(Arc::new(TextModel::empty()));
    train_with_offset(
        examples,
        extra,
        requests,
        options,
        &|text| {
            let (links, shady, _) = signals.links(text);
            signals.text_signals(text, links, shady)
        },
        embeddings,
    )
}

/// One labelled message.
#[derive(Debug, Clone)]
pub struct Example {
    pub spam: bool,
    pub text: String,
}

/// Reads the SMS Spam Collection's format: `ham` or `spam`, a TAB, the text.
/// Blank lines are skipped; anything else is an error naming the line.
pub fn parse_tsv(data: &str) -> Result<Vec<Example>, ModelError> {
    let mut out = Vec::new();
    for (n, line) in data.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (label, text) = line.split_once('\t').ok_or(ModelError::Data {
            line: n + 1,
            what: "expected a label, a TAB and the text",
        })?;
        let spam = match label.trim() {
            "spam" => true,
            "ham" => false,
            _ => {
                return Err(ModelError::Data {
                    line: n + 1,
                    what: "the label must be ham or spam",
                });
            }
        };
        out.push(Example {
            spam,
            text: text.to_string(),
        });
    }
    Ok(out)
}

/// The phrasings of `halves` (`"train"`, `"oos_val"`, ...) of a CLINC150
/// JSON file (lists of `[text, intent]`), as legitimate messages: requests
/// as people type them to an assistant, which is how patients write in a
/// clinic's chat box and how nobody writes an SMS.
pub fn parse_clinc(json: &[u8], halves: &[&str]) -> Result<Vec<Example>, ModelError> {
    let data: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| ModelError::Clinc(e.to_string()))?;
    let mut out = Vec::new();
    for half in halves {
        let rows = data[half]
            .as_array()
            .ok_or_else(|| ModelError::Clinc(format!("no {half:?} list")))?;
        for row in rows {
            let text = row[0].as_str().ok_or_else(|| {
                ModelError::Clinc(format!("{half}: expected [text, intent] pairs"))
            })?;
            out.push(Example {
                spam: false,
                text: text.to_string(),
            });
        }
    }
    Ok(out)
}

/// Which side of the split a message falls on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Trained on; its folds choose the threshold.
    Train,
    /// Held out: only `carechat eval spam` and the held-out test read it.
    Test,
}

/// 80% train, 20% test, by a hash of the text.
pub fn part(text: &str) -> Part {
    if mix(fnv1a(b"split", text.as_bytes())).is_multiple_of(5) {
        Part::Test
    } else {
        Part::Train
    }
}

/// The cross-validation fold (0..folds) of a training message.
fn fold(text: &str, folds: u64) -> usize {
    (mix(fnv1a(b"fold", text.as_bytes())) % folds) as usize
}

/// Messages' embeddings for training a model with embedding weights.
pub struct Embeddings<'a> {
    /// The encoder's id, written into the model.
    pub encoder: &'a str,
    /// Each message's embedding of its [`embedding_text`], looked up by the
    /// message's own (raw) text.
    pub of: &'a dyn Fn(&str) -> Option<&'a [f32]>,
}

/// How `train` learns. The defaults are what the committed model was
/// trained with.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// log2 of the number of hash buckets.
    pub bits: u32,
    pub epochs: usize,
    /// AdaGrad's base learning rate.
    pub learning_rate: f32,
    /// L2 penalty on the weights a message touches.
    pub l2: f32,
    /// Cross-validation folds over the training part, for the threshold.
    pub folds: usize,
    /// The threshold is the lowest at which at most this share of the
    /// validation folds' legitimate messages is flagged. Half the 0.5% the
    /// target allows: a blocked patient costs more than a missed spam.
    pub max_false_positive_rate: f64,
    pub seed: u64,
    /// What each embedding value is multiplied by as a feature, against the
    /// n-grams' unit length (training with embeddings only).
    pub embedding_scale: f32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            bits: 17,
            epochs: 12,
            learning_rate: 0.5,
            l2: 1e-5,
            folds: 5,
            max_false_positive_rate: 0.0025,
            seed: 0x5eed_c4ec,
            embedding_scale: 2.5,
        }
    }
}

/// What training saw on its validation folds.
#[derive(Debug, Clone)]
pub struct TrainReport {
    pub train_spam: usize,
    pub train_ham: usize,
    pub threshold: f32,
    /// Out-of-fold recall and false-positive rate at `threshold`.
    pub validation_recall: f64,
    pub validation_false_positive_rate: f64,
}

/// Clinic-website messages written for this project, trained on whole:
/// the SMS corpus has no patient asking about an offer and no vendor
/// pitching SEO. The test set (`bot-engine/testdata/spam_clinic.tsv`) is
/// written apart from it.
pub const CLINIC_TRAINING: &str = include_str!("../../data/spam_clinic_train.tsv");

/// Trains on the [`Part::Train`] messages of `examples` (the others are
/// ignored), all of `extra` and all of `requests`, choosing the threshold on
/// out-of-fold scores of the first two. `requests` are legitimate messages
/// of another kind (well-formed requests, where SMS ham is chatter): they
/// teach the model that "set a timer for 10 minutes" is not a sales text,
/// but being easy, and many, they would pull the threshold down until the
/// SMS ham it must hold for was flagged, so they do not choose it.
/// `offset` is what the rest of the scorer adds to a message's logit (its
/// links and pitch phrases): the threshold is chosen for the whole score,
/// the one that decides.
///
/// With `embeddings`, the model also learns one weight per embedding
/// dimension, jointly with the n-grams (each value scaled by
/// [`TrainOptions::embedding_scale`] as a feature), and is for that encoder
/// only; every message then needs its embedding.
fn train_with_offset(
    examples: &[Example],
    extra: &[Example],
    requests: &[Example],
    options: &TrainOptions,
    offset: &dyn Fn(&str) -> f32,
    embeddings: Option<&Embeddings>,
) -> Result<(TextModel, TrainReport), ModelError> {
    let buckets = 1u32 << options.bits;
    let row = |e: &Example, calibrates: bool| -> Result<Row, ModelError> {
        let mut x = features(&e.text, options.bits);
        if let Some(emb) = embeddings {
            let v = (emb.of)(&e.text).ok_or(ModelError::MissingEmbedding)?;
            x.extend(
                v.iter()
                    .enumerate()
                    .map(|(i, &value)| (buckets + i as u32, value * options.embedding_scale)),
            );
        }
        Ok(Row {
            x,
            spam: e.spam,
            fold: fold(&e.text, options.folds as u64),
            offset: offset(&e.text),
            calibrates,
        })
    };
    let train: Vec<Row> = examples
        .iter()
        .filter(|e| part(&e.text) == Part::Train)
        .chain(extra)
        .map(|e| row(e, true))
        .chain(requests.iter().map(|e| row(e, false)))
        .collect::<Result<_, _>>()?;
    let dims: Vec<usize> = train
        .iter()
        .map(|t| t.x.iter().filter(|&&(i, _)| i >= buckets).count())
        .collect();
    let dim = dims.first().copied().unwrap_or(0);
    if dims.iter().any(|&d| d != dim) || (embeddings.is_some() && dim == 0) {
        return Err(ModelError::MissingEmbedding);
    }
    let size = buckets as usize + dim;
    let mut out_of_fold: Vec<(f32, bool)> = Vec::with_capacity(train.len());
    for k in 0..options.folds {
        let fit: Vec<_> = train.iter().filter(|t| t.fold != k).collect();
        let (bias, weights) = fit_logistic(&fit, size, options);
        for t in train.iter().filter(|t| t.fold == k && t.calibrates) {
            out_of_fold.push((logit(bias, &weights, &t.x) + t.offset, t.spam));
        }
    }
    let (threshold, recall, fpr) = choose_threshold(&out_of_fold, options.max_false_positive_rate);
    let all: Vec<_> = train.iter().collect();
    let (bias, mut weights) = fit_logistic(&all, size, options);
    let report = TrainReport {
        train_spam: train.iter().filter(|t| t.spam).count(),
        train_ham: train.iter().filter(|t| !t.spam).count(),
        threshold,
        validation_recall: recall,
        validation_false_positive_rate: fpr,
    };
    // The scale folds into the weights: the scorer multiplies raw values.
    let dense = embeddings.map(|emb| Dense {
        encoder: emb.encoder.to_string(),
        weights: weights
            .split_off(buckets as usize)
            .into_iter()
            .map(|w| w * options.embedding_scale)
            .collect(),
    });
    let model = TextModel {
        bits: options.bits,
        bias,
        threshold,
        weights,
        dense,
    };
    // What is written is what is scored: round-trip through the file format
    // so training and the embedded model agree to the bit.
    let model = TextModel::from_bytes(&model.to_bytes()).expect("a model just written");
    Ok((model, report))
}

/// One training message: its features, label, cross-validation fold, what
/// the rest of the scorer adds to its logit, and whether it takes part in
/// choosing the threshold.
struct Row {
    x: Vec<(u32, f32)>,
    spam: bool,
    fold: usize,
    offset: f32,
    calibrates: bool,
}

/// Logistic regression by AdaGrad, in a seeded order.
/// `size` is the number of weights (buckets, then embedding dimensions).
fn fit_logistic(data: &[&Row], size: usize, o: &TrainOptions) -> (f32, Vec<f32>) {
    let samples: Vec<Sample> = data
        .iter()
        .map(|r| Sample {
            x: &r.x,
            label: r.spam,
            weight: 1.0,
        })
        .collect();
    linear::fit_logistic(
        &samples,
        size,
        &Fit {
            epochs: o.epochs,
            learning_rate: o.learning_rate,
            l2: o.l2,
            seed: o.seed,
        },
    )
}

/// The lowest threshold whose false-positive rate is within `max_fpr`, with
/// its recall and false-positive rate. Thresholds sit halfway between
/// neighbouring scores, so the choice does not hang on one message's exact
/// score.
fn choose_threshold(scored: &[(f32, bool)], max_fpr: f64) -> (f32, f64, f64) {
    let mut s = scored.to_vec();
    s.sort_by(|a, b| b.0.total_cmp(&a.0));
    let spam = s.iter().filter(|x| x.1).count().max(1) as f64;
    let ham = s.iter().filter(|x| !x.1).count().max(1) as f64;
    let allowed = (max_fpr * ham).floor() as usize;
    let (mut caught, mut flagged) = (0usize, 0usize);
    let mut best = (s.first().map_or(0.0, |x| x.0 + 1.0), 0.0, 0.0);
    for (i, &(score, is_spam)) in s.iter().enumerate() {
        if is_spam {
            caught += 1;
        } else {
            flagged += 1;
        }
        if flagged > allowed {
            break;
        }
        // Only between distinct scores: everything at this score is in.
        let next = s.get(i + 1).map(|x| x.0);
        if next.is_some_and(|n| n == score) {
            continue;
        }
        let t = next.map_or(score - 1.0, |n| (score + n) / 2.0);
        best = (t, caught as f64 / spam, flagged as f64 / ham);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::mix;

    #[test]
    fn the_split_is_by_text_and_about_one_fifth() {
        let texts: Vec<String> = (0..5000).map(|i| format!("message number {i}")).collect();
        let test = texts.iter().filter(|t| part(t) == Part::Test).count();
        assert!((900..1100).contains(&test), "{test}");
        assert_eq!(part("same text"), part("same text"));
    }

    #[test]
    fn parse_tsv_names_the_bad_line() {
        let ok = parse_tsv("ham\thello\n\nspam\tWIN now\n").unwrap();
        assert_eq!(ok.len(), 2);
        assert!(ok[1].spam && !ok[0].spam);
        assert!(matches!(
            parse_tsv("ham\tfine\nmaybe\ttext\n"),
            Err(ModelError::Data { line: 2, .. })
        ));
        assert!(matches!(
            parse_tsv("no tab here"),
            Err(ModelError::Data { line: 1, .. })
        ));
    }

    #[test]
    fn threshold_respects_the_false_positive_budget() {
        // Five spam above, one ham among them, then ham.
        let mut scored = vec![(9.0, true), (8.0, true), (7.0, false), (6.0, true)];
        scored.extend((0..100).map(|i| (-(i as f32), false)));
        let (t, recall, fpr) = choose_threshold(&scored, 0.0);
        assert!(t > 7.0 && t < 8.0, "{t}");
        assert_eq!((recall, fpr), (2.0 / 3.0, 0.0));
        let (t, recall, _) = choose_threshold(&scored, 0.01);
        assert!(t > 0.0 && t < 6.0, "{t}");
        assert_eq!(recall, 1.0);
    }

    #[test]
    fn training_is_deterministic_and_the_file_round_trips() {
        let mut examples = Vec::new();
        for i in 0..60 {
            examples.push(Example {
                spam: true,
                text: format!("WIN a £{i}00 prize! Text CLAIM to 8{i}123 now"),
            });
            examples.push(Example {
                spam: false,
                text: format!("see you at {i} o'clock, shall I bring anything?"),
            });
        }
        let options = TrainOptions {
            bits: 12,
            ..TrainOptions::default()
        };
        let (a, _) = train_with_offset(&examples, &[], &[], &options, &|_| 0.0, None).unwrap();
        let (b, _) = train_with_offset(&examples, &[], &[], &options, &|_| 0.0, None).unwrap();
        assert_eq!(a.to_bytes(), b.to_bytes());
        let back = TextModel::from_bytes(&a.to_bytes()).unwrap();
        assert_eq!(back, a);
        assert_eq!(a.encoder(), None);
        assert!(a.logit("WIN a £500 prize! Text CLAIM to 81234", None) > a.threshold());
        assert!(a.logit("see you at 7, shall I bring anything?", None) < a.threshold());
    }

    /// Texts the n-grams cannot tell apart, whose embeddings can: the
    /// model's embedding weights learn it, and the file keeps them.
    #[test]
    fn embedding_weights_are_learned_and_kept() {
        // The label is a hash of the number: nothing in the text says it.
        let is_spam = |i: u64| mix(i).is_multiple_of(2);
        let examples: Vec<Example> = (0..80u64)
            .map(|i| Example {
                spam: is_spam(i),
                text: format!("message {i}"),
            })
            .collect();
        let vector = |text: &str| -> [f32; 2] {
            if is_spam(text[8..].parse().unwrap()) {
                [1.0, 0.0]
            } else {
                [0.0, 1.0]
            }
        };
        let table: Vec<(String, [f32; 2])> = examples
            .iter()
            .map(|e| (e.text.clone(), vector(&e.text)))
            .collect();
        let of = |text: &str| {
            table
                .iter()
                .find(|(t, _)| t == text)
                .map(|(_, v)| v.as_slice())
        };
        let embeddings = Embeddings {
            encoder: "toy-encoder",
            of: &of,
        };
        let options = TrainOptions {
            bits: 10,
            ..TrainOptions::default()
        };
        let (m, report) =
            train_with_offset(&examples, &[], &[], &options, &|_| 0.0, Some(&embeddings)).unwrap();
        assert_eq!((m.encoder(), m.dim()), (Some("toy-encoder"), 2));
        assert!(report.validation_recall > 0.9, "{report:?}");
        let back = TextModel::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(back, m);
        let spam = m.logit("message 1000", Some(&[1.0, 0.0]));
        let ham = m.logit("message 1000", Some(&[0.0, 1.0]));
        assert!(spam > m.threshold() && ham < m.threshold(), "{spam} {ham}");
        // Without an embedding (or with one of another length) the
        // embedding weights are not read.
        assert_eq!(
            m.logit("message 1000", None),
            m.logit("message 1000", Some(&[1.0, 0.0, 0.0]))
        );
        // Every training message needs its embedding.
        let none = |_: &str| None;
        let missing = Embeddings {
            encoder: "toy-encoder",
            of: &none,
        };
        assert!(matches!(
            train_with_offset(&examples, &[], &[], &options, &|_| 0.0, Some(&missing)),
            Err(ModelError::MissingEmbedding)
        ));
    }

    #[test]
    fn the_clinic_training_set_parses() {
        let set = parse_tsv(CLINIC_TRAINING).unwrap();
        assert!(set.iter().filter(|e| e.spam).count() >= 20);
        assert!(set.iter().filter(|e| !e.spam).count() >= 30);
    }
}
