//! The learned half of the spam score: logistic regression over hashed word
//! and character n-grams and, for the encoder it was trained with, the
//! encoder's output the bot computes anyway (mean- and max-pooled,
//! [`crate::Pooled::spam_features`]).
//!
//! Plain Rust, no framework: the model is one weight per hash bucket, one
//! per embedding dimension when it has them, and a bias, small enough to
//! commit (`bot-engine/data/spam*.model`) and embed, so the scorer runs
//! without the data it was trained on. Training is deterministic (fixed
//! hash, fixed shuffle seed, no threads), so `carechat train spam` on the
//! same file writes the same bytes (with `--with-embedding` too: it embeds
//! with f32 products on any CPU).
//!
//! The corpus is split by a hash of each message's text, never by position:
//! the same text always falls on the same side, whatever order the file is
//! in. One fifth is held out for `carechat eval spam` and never trained on;
//! the decision threshold is chosen on out-of-fold scores of the other four
//! fifths.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use crate::linear::{self, Fit, Sample, bucket, fnv1a, logit, mix, unit_features};

/// A link, with or without a scheme.
pub(crate) static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:https?://|www\.)[^\s<>]+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|co|us|ru|xyz|top|biz|info|click|shop|online|site|ly|me)\b(?:/[^\s<>]*)?")
        .expect("url regex")
});

/// What a model file starts with; the digit is the format version: 1 is
/// n-grams only, 2 adds the embedding weights after them.
const MAGIC: &[u8; 8] = b"CCSPAM01";
const MAGIC_DENSE: &[u8; 8] = b"CCSPAM02";
/// magic, bucket bits, bias, threshold, weight scale.
const HEADER: usize = 8 + 4 + 4 + 4 + 4;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("not a spam model file (bad magic or version)")]
    Magic,
    #[error("spam model file: {0}")]
    Corrupt(&'static str),
    #[error("line {line}: {what}")]
    Data { line: usize, what: &'static str },
    #[error("CLINC150 file: {0}")]
    Clinc(String),
    #[error("a training message has no embedding, or one of another length")]
    MissingEmbedding,
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

/// The hashed features of a message: (bucket, value) pairs, each bucket once,
/// L2-normalised so long messages do not score high for their length alone.
fn features(text: &str, bits: u32) -> Vec<(u32, f32)> {
    let mut buckets: Vec<u32> = Vec::with_capacity(text.len() * 4);
    let mut add = |ns: &[u8], s: &str| buckets.push(bucket(ns, s, bits));

    // Links are left to the scorer's capped link signal: in SMS nearly every
    // link is spam, so a model that saw them would block a patient for
    // pasting the clinic's own address.
    let lower = URL.replace_all(text, " ").to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    // Digits as a shape: "08712460324" and "150p" say more as "00000000000"
    // and "000p" than as themselves.
    let shaped: Vec<String> = words
        .iter()
        .map(|w| {
            w.chars()
                .map(|c| if c.is_ascii_digit() { '0' } else { c })
                .collect()
        })
        .collect();
    for (w, s) in words.iter().zip(&shaped) {
        add(b"w", w);
        if s != w {
            add(b"s", s);
        }
    }
    for pair in shaped.windows(2) {
        add(b"b", &format!("{} {}", pair[0], pair[1]));
    }
    let chars: Vec<char> = std::iter::once(' ')
        .chain(
            lower
                .split_whitespace()
                .flat_map(|w| w.chars().chain([' '])),
        )
        .collect();
    let mut gram = String::new();
    // Short grams: longer ones (to 5 or 6) scored lower on the validation
    // folds, being mostly words again.
    for n in 2..=3 {
        for window in chars.windows(n) {
            gram.clear();
            gram.extend(window);
            add(b"c", &gram);
        }
    }
    // What lower-casing and tokenising lose: shouting, symbols, length.
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let upper = text.chars().filter(|c| c.is_uppercase()).count();
    if let Some(share) = (upper * 5).checked_div(letters) {
        add(b"caps", &share.to_string());
    }
    for symbol in ['£', '$', '€', '!', '&', '%', '*', '+', '/'] {
        if text.contains(symbol) {
            add(b"sym", symbol.encode_utf8(&mut [0; 4]));
        }
    }
    let digits = text.chars().filter(char::is_ascii_digit).count();
    add(b"digits", &digits.min(20).div_ceil(5).to_string());
    add(b"len", &(text.chars().count() / 40).min(6).to_string());

    unit_features(buckets)
}

/// A trained text model.
#[derive(Clone, PartialEq)]
pub struct TextModel {
    bits: u32,
    bias: f32,
    /// The logit at or above which the text alone counts as spam.
    threshold: f32,
    weights: Vec<f32>,
    dense: Option<Dense>,
}

/// The embedding half: one weight per value of one encoder's pooled output
/// (the mean's dimensions, then the maximum's).
#[derive(Clone, PartialEq)]
struct Dense {
    /// The encoder's id ([`crate::Encoder::id`]): another encoder's
    /// vectors mean nothing to these weights.
    encoder: String,
    weights: Vec<f32>,
}

impl fmt::Debug for TextModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextModel")
            .field("bits", &self.bits)
            .field("bias", &self.bias)
            .field("threshold", &self.threshold)
            .field("encoder", &self.encoder())
            .finish_non_exhaustive()
    }
}

impl TextModel {
    /// The log-odds that `text` is spam, before the threshold. `embedding`
    /// is the message's embedding by [`TextModel::encoder`] (of
    /// [`embedding_text`]); it is used only by a model that has embedding
    /// weights of its length.
    pub fn logit(&self, text: &str, embedding: Option<&[f32]>) -> f32 {
        let sparse = self.bias
            + features(text, self.bits)
                .iter()
                .map(|&(i, v)| self.weights[i as usize] * v)
                .sum::<f32>();
        match (&self.dense, embedding) {
            (Some(d), Some(e)) if e.len() == d.weights.len() => {
                sparse + d.weights.iter().zip(e).map(|(w, x)| w * x).sum::<f32>()
            }
            _ => sparse,
        }
    }

    /// A model that knows nothing (logit 0 everywhere).
    pub(crate) fn empty() -> TextModel {
        TextModel {
            bits: 8,
            bias: 0.0,
            threshold: 0.0,
            weights: vec![0.0; 256],
            dense: None,
        }
    }

    /// The text logit chosen as the decision threshold.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// The encoder whose embeddings this model also reads, if any.
    pub fn encoder(&self) -> Option<&str> {
        self.dense.as_ref().map(|d| d.encoder.as_str())
    }

    /// The embedding length the model reads (0 for n-grams only; twice the
    /// encoder's width for the mean and the maximum).
    pub fn dim(&self) -> usize {
        self.dense.as_ref().map_or(0, |d| d.weights.len())
    }

    /// The file format, little-endian: `CCSPAM01` (n-grams only) or
    /// `CCSPAM02`, bucket bits (u32), bias, threshold and weight scale
    /// (f32), then one i16 per bucket (weight = value × scale). 16 bits per
    /// weight lose nothing that matters to a decision and halve the file.
    /// `CCSPAM02` then has the encoder's id (u16 length, UTF-8), the
    /// embedding length (u32) and one f32 weight per dimension.
    pub fn to_bytes(&self) -> Vec<u8> {
        let max = self.weights.iter().fold(0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 {
            max / f32::from(i16::MAX)
        } else {
            1.0
        };
        let mut out = Vec::with_capacity(HEADER + 2 * self.weights.len());
        out.extend_from_slice(if self.dense.is_some() {
            MAGIC_DENSE
        } else {
            MAGIC
        });
        out.extend_from_slice(&self.bits.to_le_bytes());
        out.extend_from_slice(&self.bias.to_le_bytes());
        out.extend_from_slice(&self.threshold.to_le_bytes());
        out.extend_from_slice(&scale.to_le_bytes());
        for w in &self.weights {
            out.extend_from_slice(&((w / scale).round() as i16).to_le_bytes());
        }
        if let Some(d) = &self.dense {
            out.extend_from_slice(&(d.encoder.len() as u16).to_le_bytes());
            out.extend_from_slice(d.encoder.as_bytes());
            out.extend_from_slice(&(d.weights.len() as u32).to_le_bytes());
            for w in &d.weights {
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<TextModel, ModelError> {
        if bytes.len() < HEADER || (&bytes[..8] != MAGIC && &bytes[..8] != MAGIC_DENSE) {
            return Err(ModelError::Magic);
        }
        let has_dense = &bytes[..8] == MAGIC_DENSE;
        let word = |at: usize| <[u8; 4]>::try_from(&bytes[at..at + 4]).expect("4 bytes");
        let bits = u32::from_le_bytes(word(8));
        if !(8..=24).contains(&bits) {
            return Err(ModelError::Corrupt("bucket bits out of range"));
        }
        let bias = f32::from_le_bytes(word(12));
        let threshold = f32::from_le_bytes(word(16));
        let scale = f32::from_le_bytes(word(20));
        let end = HEADER + (2 << bits);
        if bytes.len() < end || (!has_dense && bytes.len() != end) {
            return Err(ModelError::Corrupt("wrong number of weights"));
        }
        if ![bias, threshold, scale].iter().all(|x| x.is_finite()) {
            return Err(ModelError::Corrupt("a header value is not finite"));
        }
        let weights = bytes[HEADER..end]
            .chunks_exact(2)
            .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) * scale)
            .collect();
        let dense = if has_dense {
            Some(read_dense(&bytes[end..])?)
        } else {
            None
        };
        Ok(TextModel {
            bits,
            bias,
            threshold,
            weights,
            dense,
        })
    }
}

fn read_dense(mut rest: &[u8]) -> Result<Dense, ModelError> {
    let mut take = |n: usize| -> Result<&[u8], ModelError> {
        if rest.len() < n {
            return Err(ModelError::Corrupt("truncated embedding weights"));
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let len = u16::from_le_bytes(take(2)?.try_into().expect("2 bytes")) as usize;
    let encoder = std::str::from_utf8(take(len)?)
        .map_err(|_| ModelError::Corrupt("encoder id is not UTF-8"))?
        .to_string();
    let dim = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
    if encoder.is_empty() || !(1..=8192).contains(&dim) {
        return Err(ModelError::Corrupt("bad encoder id or embedding length"));
    }
    let weights: Vec<f32> = take(4 * dim)?
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    if !rest.is_empty() {
        return Err(ModelError::Corrupt("bytes after the embedding weights"));
    }
    if !weights.iter().all(|w| w.is_finite()) {
        return Err(ModelError::Corrupt("an embedding weight is not finite"));
    }
    Ok(Dense { encoder, weights })
}

/// What the embedding half of the model reads of a message: its redacted
/// text without links, neither the redactor's `[URL]` nor any it left. In
/// SMS nearly every link is spam, so a model that saw them would block a
/// patient for pasting the clinic's own address (the n-grams leave links
/// out for the same reason; the scorer's capped link signal counts them).
pub fn embedding_text(redacted: &str) -> String {
    let without = redacted.replace("[URL]", " ");
    let without = URL.replace_all(&without, " ");
    without.split_whitespace().collect::<Vec<_>>().join(" ")
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
pub fn train(
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
        let (a, _) = train(&examples, &[], &[], &options, &|_| 0.0, None).unwrap();
        let (b, _) = train(&examples, &[], &[], &options, &|_| 0.0, None).unwrap();
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
            train(&examples, &[], &[], &options, &|_| 0.0, Some(&embeddings)).unwrap();
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
            train(&examples, &[], &[], &options, &|_| 0.0, Some(&missing)),
            Err(ModelError::MissingEmbedding)
        ));
    }

    #[test]
    fn embedding_text_leaves_links_out() {
        assert_eq!(
            embedding_text("see [URL] and www.spam.xyz/win  now, [NAME]"),
            "see and now, [NAME]"
        );
    }

    #[test]
    fn the_clinic_training_set_parses() {
        let set = parse_tsv(CLINIC_TRAINING).unwrap();
        assert!(set.iter().filter(|e| e.spam).count() >= 20);
        assert!(set.iter().filter(|e| !e.spam).count() >= 30);
    }

    #[test]
    fn corrupt_files_are_refused() {
        assert!(matches!(
            TextModel::from_bytes(b"nonsense"),
            Err(ModelError::Magic)
        ));
        let mut bytes = TextModel::empty().to_bytes();
        bytes.pop();
        assert!(matches!(
            TextModel::from_bytes(&bytes),
            Err(ModelError::Corrupt(_))
        ));
        let dense = TextModel {
            dense: Some(Dense {
                encoder: "e".into(),
                weights: vec![0.5; 4],
            }),
            ..TextModel::empty()
        };
        let whole = dense.to_bytes();
        assert_eq!(TextModel::from_bytes(&whole).unwrap(), dense);
        for cut in [1, 4, 17] {
            assert!(matches!(
                TextModel::from_bytes(&whole[..whole.len() - cut]),
                Err(ModelError::Corrupt(_))
            ));
        }
    }
}
