//! The learned half of the red-flag decision: logistic regression over
//! hashed word and character n-grams of the (rules-redacted) message.
//!
//! Trigger phrases ([`crate::RedFlags`]) catch the textbook wording and miss
//! the rest ("my husband is sweating and says his jaw and left arm feel
//! heavy"); the sentence encoder would catch more but sits behind a bounded
//! queue, and an emergency must be decided before any queue. This model is
//! the middle way: microseconds on the caller's thread, trained at start-up
//! on `data/red_flag_train.jsonl` plus the
//! whitelist's own examples and seeded line noise ([`line_noise`]), so a clinic's edits to its emergency intent
//! count at once and no weights need committing. Training is deterministic:
//! fixed hashing, a seeded order, no threads (`linear.rs`, shared with the
//! spam model).
//!
//! Character n-grams (2 to 5, inside words) carry it across typos,
//! missing accents and Spanish inflections; word pairs carry "can't
//! breathe" apart from "breathing test". It reads only rules-redacted text:
//! no model sees a patient's raw words.

use redaction::Redactor;
use serde::Deserialize;

use crate::Whitelist;

use crate::linear::{self, Fit, Sample, SplitMix, logit, sigmoid, text_features};

/// The corpora the model learns from besides the whitelist: urgent
/// messages and near misses in English and Spanish, ordinary questions in
/// other languages, introductions with names, SMS-style spam and casual
/// chat (`data/README.md`).
const CORPORA: [&str; 5] = [
    include_str!("../data/red_flag_train.jsonl"),
    include_str!("../data/red_flag_train_2.jsonl"),
    include_str!("../data/red_flag_train_3.jsonl"),
    include_str!("../data/red_flag_train_4.jsonl"),
    include_str!("../data/red_flag_train_5.jsonl"),
];

/// One labelled message.
#[derive(Debug, Clone, Deserialize)]
pub struct UrgencyExample {
    pub text: String,
    pub urgent: bool,
}

/// The built-in training corpus.
pub fn urgency_corpus() -> Vec<UrgencyExample> {
    CORPORA
        .iter()
        .flat_map(|c| c.lines())
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("the built-in red-flag corpus parses"))
        .collect()
}

/// Everything the model is fitted on, as the rules redact it: the built-in
/// corpus; the whitelist's emergency examples and plain trigger phrases as
/// urgent; every other intent's examples, the out-of-scope questions and
/// line noise as calm.
pub fn urgency_training_set(whitelist: &Whitelist, redactor: &Redactor) -> Vec<UrgencyExample> {
    let mut examples = urgency_corpus();
    for intent in &whitelist.intents {
        for text in intent.examples.iter().chain(&intent.validation) {
            examples.push(UrgencyExample {
                text: text.clone(),
                urgent: intent.urgent,
            });
        }
        for trigger in intent.triggers.iter().filter(|t| !t.contains(['+', '|'])) {
            examples.push(UrgencyExample {
                text: trigger.clone(),
                urgent: true,
            });
        }
    }
    for q in &whitelist.out_of_scope {
        examples.push(UrgencyExample {
            text: q.clone(),
            urgent: false,
        });
    }
    examples.extend(line_noise(1500, 0x5eed_0fc0_ffee));
    for e in &mut examples {
        e.text = redactor.redact(&e.text).text;
    }
    examples
}

/// Seeded lines of random characters and emoji, as calm examples: a model
/// that has only seen words in two scripts otherwise scores text with no
/// known n-gram by its bias alone, about even odds, and a "你好" or a line
/// of emoji would become an emergency.
pub fn line_noise(count: usize, seed: u64) -> Vec<UrgencyExample> {
    const BLOCKS: [(u32, u32); 11] = [
        (0x0021, 0x007E),
        (0x00A1, 0x00FF),
        (0x0370, 0x03FF),
        (0x0400, 0x04FF),
        (0x0590, 0x06FF),
        (0x0900, 0x097F),
        (0x3040, 0x30FF),
        (0x4E00, 0x9FFF),
        (0xAC00, 0xD7A3),
        (0x1F300, 0x1F64F),
        (0x1F900, 0x1F9FF),
    ];
    let mut rng = SplitMix(seed);
    let mut next = |n: u32| rng.below(n as usize) as u32;
    (0..count)
        .map(|_| {
            let len = 1 + next(40);
            let text = (0..len)
                .filter_map(|_| {
                    if next(6) == 0 {
                        return Some(' ');
                    }
                    let (lo, hi) = BLOCKS[next(BLOCKS.len() as u32) as usize];
                    char::from_u32(lo + next(hi - lo + 1))
                })
                .collect();
            UrgencyExample {
                text,
                urgent: false,
            }
        })
        .collect()
}

/// How the model is fitted.
#[derive(Debug, Clone)]
pub struct UrgencyOptions {
    /// log2 of the number of hash buckets.
    pub bits: u32,
    pub epochs: usize,
    /// L2 penalty per example and epoch.
    pub l2: f32,
    pub learning_rate: f32,
    /// Seeds the order examples are seen in.
    pub seed: u64,
    /// What the calm examples weigh together against the urgent ones.
    pub calm_weight: f32,
}

impl Default for UrgencyOptions {
    fn default() -> Self {
        UrgencyOptions {
            bits: 18,
            epochs: 12,
            l2: 1e-6,
            learning_rate: 0.5,
            seed: 0x2545_f491_4f6c_dd1d,
            calm_weight: 1.0,
        }
    }
}

/// A fitted model: one weight per hash bucket and a bias.
#[derive(Clone)]
pub struct UrgencyModel {
    bits: u32,
    bias: f32,
    weights: Vec<f32>,
}

impl std::fmt::Debug for UrgencyModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrgencyModel")
            .field("bits", &self.bits)
            .field("bias", &self.bias)
            .finish_non_exhaustive()
    }
}

impl UrgencyModel {
    /// Fits the model: logistic regression by AdaGrad
    /// ([`linear::fit_logistic`]), the two classes weighted to count
    /// equally.
    pub fn train(examples: &[UrgencyExample], options: &UrgencyOptions) -> UrgencyModel {
        let rows: Vec<Vec<(u32, f32)>> = examples
            .iter()
            .map(|e| text_features(&e.text, options.bits))
            .collect();
        let urgent = examples.iter().filter(|e| e.urgent).count().max(1) as f32;
        let calm = examples.iter().filter(|e| !e.urgent).count().max(1) as f32;
        let total = examples.len().max(1) as f32;
        let samples: Vec<Sample> = examples
            .iter()
            .zip(&rows)
            .map(|(e, x)| Sample {
                x,
                label: e.urgent,
                weight: if e.urgent {
                    total / (2.0 * urgent)
                } else {
                    options.calm_weight * total / (2.0 * calm)
                },
            })
            .collect();
        let (bias, weights) = linear::fit_logistic(
            &samples,
            1 << options.bits,
            &Fit {
                epochs: options.epochs,
                learning_rate: options.learning_rate,
                l2: options.l2,
                seed: options.seed,
            },
        );
        UrgencyModel {
            bits: options.bits,
            bias,
            weights,
        }
    }

    /// The probability that `text` (rules-redacted) is an emergency.
    pub fn probability(&self, text: &str) -> f32 {
        sigmoid(logit(
            self.bias,
            &self.weights,
            &text_features(text, self.bits),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(text: &str, urgent: bool) -> UrgencyExample {
        UrgencyExample {
            text: text.into(),
            urgent,
        }
    }

    #[test]
    fn learns_the_corpus_and_is_deterministic() {
        let corpus = urgency_corpus();
        assert!(corpus.len() > 1000, "{}", corpus.len());
        assert!(corpus.iter().any(|e| e.urgent) && corpus.iter().any(|e| !e.urgent));
        let options = UrgencyOptions::default();
        let model = UrgencyModel::train(&corpus, &options);
        let again = UrgencyModel::train(&corpus, &options);
        assert_eq!(model.bias, again.bias);
        assert_eq!(model.weights, again.weights);
        // Its own training messages: nearly all on the right side.
        let right = corpus
            .iter()
            .filter(|e| (model.probability(&e.text) >= 0.5) == e.urgent)
            .count();
        assert!(
            right as f64 / corpus.len() as f64 > 0.97,
            "{right} of {}",
            corpus.len()
        );
    }

    #[test]
    fn separates_a_toy_problem_across_typos_and_accents() {
        let examples = [
            ex("i cant breathe", true),
            ex("she can't breathe at all", true),
            ex("no puedo respirar", true),
            ex("do you do breathing tests", false),
            ex("what are your hours", false),
            ex("necesito una cita", false),
        ];
        let model = UrgencyModel::train(&examples, &UrgencyOptions::default());
        assert!(model.probability("I CANT BREATH") > 0.5);
        assert!(model.probability("no puedo respirár") > 0.5);
        assert!(model.probability("what are your hours on monday") < 0.5);
    }
}
