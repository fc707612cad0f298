//! The learned half of the spam score: logistic regression over hashed word
//! and character n-grams and, for the encoder it was trained with, the
//! encoder's output the bot computes anyway (mean- and max-pooled,
//! [`crate::Pooled::spam_features`]).
//!
//! Plain Rust, no framework: the model is one weight per hash bucket, one
//! per embedding dimension when it has them, and a bias, small enough to
//! commit (`bot-engine/data/spam*.model`) and embed, so the scorer runs
//! without the data it was trained on. Training lives in
//! [`crate::train::spam`]; this module reads, writes and scores a model.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use crate::linear::{bucket, unit_features};

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

/// The hashed features of a message: (bucket, value) pairs, each bucket once,
/// L2-normalised so long messages do not score high for their length alone.
pub(crate) fn features(text: &str, bits: u32) -> Vec<(u32, f32)> {
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
    pub(crate) bits: u32,
    pub(crate) bias: f32,
    /// The logit at or above which the text alone counts as spam.
    pub(crate) threshold: f32,
    pub(crate) weights: Vec<f32>,
    pub(crate) dense: Option<Dense>,
}

/// The embedding half: one weight per value of one encoder's pooled output
/// (the mean's dimensions, then the maximum's).
#[derive(Clone, PartialEq)]
pub(crate) struct Dense {
    /// The encoder's id ([`crate::Encoder::id`]): another encoder's
    /// vectors mean nothing to these weights.
    pub(crate) encoder: String,
    pub(crate) weights: Vec<f32>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedding_text_leaves_links_out() {
        assert_eq!(
            embedding_text("see [URL] and www.spam.xyz/win  now, [NAME]"),
            "see and now, [NAME]"
        );
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
