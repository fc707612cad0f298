//! Intent scoring from the message's own words: a softmax regression over
//! hashed word, word-pair and character n-grams, beside the sentence
//! encoder's two scorers ([`crate::IntentModel`]).
//!
//! A small sentence encoder has never learned that Aetna is an insurer or
//! that "muela" is a tooth, and its Spanish is weaker than its English.
//! The clinic's own examples name insurers, weekdays, relatives and
//! medicines; a linear model over their words learns those at once, and
//! character n-grams carry it across typos and missing accents. It is
//! trained at load time on the same examples (and the same out-of-scope
//! class) as the encoder's head, deterministically (fixed hashing, a seeded
//! order; `linear.rs`), in about a second, and scores a message in
//! microseconds. Like every model in Carechat it reads redacted text only,
//! and it leaves the placeholders out ([`words`]): "my name is [NAME],
//! phone [PHONE]" says nothing about an intent, and read as words "name"
//! and "phone" would pull a patient's introduction towards the questions
//! about the clinic's phone number.
//!
//! It knows only the languages the clinic's examples are written in; the
//! bot asks it nothing about a message in another
//! ([`crate::IntentModel::rank`] without a text), where a multilingual
//! encoder still can answer.

use crate::linear::{SplitMix, text_features};

/// The lexical head's share of the trained part of an intent's score by
/// default ([`crate::IntentModel::with_lexical`]).
pub const DEFAULT_LEXICAL_WEIGHT: f32 = 0.15;

/// log2 of the hash buckets: 2^16 buckets × classes weights.
const BITS: u32 = 16;
const EPOCHS: usize = 12;
const LEARNING_RATE: f32 = 0.5;
const L2: f32 = 1e-6;
const SEED: u64 = 0x1e71_ca15_eed5_0001;

/// A fitted softmax regression over hashed n-grams.
pub struct LexicalHead {
    classes: usize,
    /// `weights[bucket * classes + class]`: one bucket's classes together.
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl LexicalHead {
    /// Fits `classes` classes on `examples` (class index, redacted text) by
    /// AdaGrad on the cross-entropy, each class weighted by the inverse of
    /// its example count so that a class with many examples (out of scope,
    /// say) does not win by number alone.
    pub fn train(classes: usize, examples: &[(usize, String)]) -> LexicalHead {
        let size = 1usize << BITS;
        let rows: Vec<Vec<(u32, f32)>> = examples
            .iter()
            .map(|(_, t)| text_features(&words(t), BITS))
            .collect();
        let mut counts = vec![0usize; classes];
        for (c, _) in examples {
            counts[*c] += 1;
        }
        let present = counts.iter().filter(|&&n| n > 0).count().max(1) as f32;
        let total = examples.len().max(1) as f32;
        let class_weight: Vec<f32> = counts
            .iter()
            .map(|&n| {
                if n == 0 {
                    0.0
                } else {
                    total / (present * n as f32)
                }
            })
            .collect();
        let mut w = vec![0f32; size * classes];
        let mut g2 = vec![0f32; size * classes];
        let mut bias = vec![0f32; classes];
        let mut bias_g2 = vec![0f32; classes];
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut rng = SplitMix(SEED);
        let mut p = vec![0f32; classes];
        for _ in 0..EPOCHS {
            rng.shuffle(&mut order);
            for &i in &order {
                let (label, _) = examples[i];
                let x = &rows[i];
                softmax_into(&w, &bias, x, classes, &mut p);
                let weight = class_weight[label];
                for c in 0..classes {
                    let err = (p[c] - if c == label { 1.0 } else { 0.0 }) * weight;
                    if err == 0.0 {
                        continue;
                    }
                    for &(j, v) in x {
                        let k = j as usize * classes + c;
                        let g = err * v + L2 * w[k];
                        g2[k] += g * g;
                        w[k] -= LEARNING_RATE * g / (g2[k].sqrt() + 1e-8);
                    }
                    bias_g2[c] += err * err;
                    bias[c] -= LEARNING_RATE * err / (bias_g2[c].sqrt() + 1e-8);
                }
            }
        }
        LexicalHead {
            classes,
            weights: w,
            bias,
        }
    }

    /// Each class's probability for `text` (redacted).
    pub fn probabilities(&self, text: &str) -> Vec<f32> {
        let mut p = vec![0f32; self.classes];
        softmax_into(
            &self.weights,
            &self.bias,
            &text_features(&words(text), BITS),
            self.classes,
            &mut p,
        );
        p
    }
}

/// `text` without redaction placeholders (`[NAME]`, `[PHONE]`, ...).
pub fn words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close)
                if close > 0
                    && after[..close]
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b == b'_') =>
            {
                out.push(' ');
                rest = &after[close + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn softmax_into(w: &[f32], bias: &[f32], x: &[(u32, f32)], classes: usize, out: &mut [f32]) {
    out.copy_from_slice(bias);
    for &(j, v) in x {
        let row = &w[j as usize * classes..(j as usize + 1) * classes];
        for (o, wc) in out.iter_mut().zip(row) {
            *o += v * wc;
        }
    }
    let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for o in out.iter_mut() {
        *o = (*o - max).exp();
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(c: usize, t: &str) -> (usize, String) {
        (c, t.to_string())
    }

    #[test]
    fn learns_words_the_encoder_does_not_know_and_is_deterministic() {
        let examples = vec![
            ex(0, "do you take aetna"),
            ex(0, "is my cigna plan accepted"),
            ex(0, "aceptan el seguro de aetna"),
            ex(1, "do you take new patients"),
            ex(1, "are you accepting new patients"),
            ex(1, "aceptan pacientes nuevos"),
            ex(2, "what time do you open"),
            ex(2, "a que hora abren"),
        ];
        let head = LexicalHead::train(3, &examples);
        let again = LexicalHead::train(3, &examples);
        assert_eq!(head.weights, again.weights);
        assert_eq!(head.bias, again.bias);
        let p = head.probabilities("do you take AETNA ppo");
        assert!(p[0] > p[1] && p[0] > p[2], "{p:?}");
        let p = head.probabilities("aceptan pacientes nuevos?");
        assert!(p[1] > 0.5, "{p:?}");
        let p = head.probabilities("a qué hora abrén");
        assert!(p[2] > 0.5, "typos and accents: {p:?}");
        let total: f32 = p.iter().sum();
        assert!((total - 1.0).abs() < 1e-4);
    }

    #[test]
    fn placeholders_are_not_words() {
        assert_eq!(
            words("my name is [NAME], phone [PHONE_NUMBER]."),
            "my name is  , phone  ."
        );
        assert_eq!(words("[a] [] [NAME"), "[a] [] [NAME");
        assert_eq!(words("años [DATE]"), "años  ");
    }
}
