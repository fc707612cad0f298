//! Spam scoring for a clinic's chat box.
//!
//! Two halves. A learned text model ([`TextModel`], logistic regression over
//! hashed word and character n-grams, trained on the SMS Spam Collection by
//! `carechat-lab train spam` and embedded from `bot-engine/data/spam.model`)
//! knows generic spam: prizes, premium numbers, "txt STOP". With the
//! default encoder it also reads the message's sentence embedding, which the
//! bot computes anyway (`spam-all-MiniLM-L6-v2.model`); with any other it is
//! the n-gram model alone. The SMS corpus has never seen what reaches a
//! clinic's website, so hand-set signals add it: vendor, SEO and crypto
//! pitches, link drops, the same text pasted again and again, a burst of
//! messages, a sender already caught once.
//!
//! The score is one logistic function of the text model's margin over its
//! threshold plus the signals, placed so that [`DEFAULT_THRESHOLD`] sits
//! exactly at the text model's chosen threshold. Every signal is capped below
//! the margin an ordinary message has, so a single weak signal (one link, one
//! repeat, fast typing, one pitch word) never blocks a patient: a blocked
//! patient costs far more than a missed spam message.

pub(crate) mod model;

pub use model::{ModelError, TextModel, embedding_text};

use aho_corasick::{AhoCorasick, MatchKind};
use std::sync::{Arc, LazyLock};

use model::URL;

/// The score at or above which a message is spam: the text model's own
/// threshold when no other signal fires.
pub const DEFAULT_THRESHOLD: f32 = 0.9;

/// The committed models (see `bot-engine/data/README.md` for provenance):
/// n-grams only, for any encoder, and n-grams with the default encoder's
/// embedding.
static EMBEDDED: &[u8] = include_bytes!("../../data/spam.model");
static EMBEDDED_WITH_EMBEDDING: &[u8] = include_bytes!("../../data/spam-all-MiniLM-L6-v2.model");

static EMBEDDED_MODEL: LazyLock<Arc<TextModel>> = LazyLock::new(|| {
    Arc::new(TextModel::from_bytes(EMBEDDED).expect("the embedded spam model is valid"))
});
static EMBEDDED_JOINT: LazyLock<Arc<TextModel>> = LazyLock::new(|| {
    Arc::new(
        TextModel::from_bytes(EMBEDDED_WITH_EMBEDDING).expect("the embedded spam model is valid"),
    )
});

/// A message's embedding (of [`embedding_text`] of its redacted text) and
/// the encoder that computed it.
#[derive(Debug, Clone, Copy)]
pub struct Embedded<'a> {
    /// [`crate::Encoder::id`].
    pub encoder: &'a str,
    pub vector: &'a [f32],
}

/// What a spam model trained with the encoder `id` records as its encoder:
/// the model, whether it multiplies in f32 or in integers (same answers
/// within rounding), but not a tuned copy (whose id differs).
pub fn trained_encoder_id(id: &str) -> &str {
    id.strip_suffix("+integer").unwrap_or(id)
}

/// Whether a model trained on `trained_with`'s embeddings reads those of
/// the encoder `id`.
fn same_encoder(trained_with: &str, id: &str) -> bool {
    trained_encoder_id(id) == trained_with
}

/// Link shorteners and the top-level domains that spam prefers: a link there
/// says more than a link.
const SHADY_HOSTS: &[&str] = &[
    "bit.ly",
    "tinyurl.com",
    "goo.gl",
    "t.co",
    "ow.ly",
    "is.gd",
    "cutt.ly",
    "rebrand.ly",
];
const SHADY_TLDS: &[&str] = &[
    ".ru", ".xyz", ".top", ".biz", ".click", ".shop", ".online", ".site",
];

/// What clinic-website spam says and the SMS corpus never did, with
/// weights. Phrases, not single words, where a single word would also occur
/// in a patient's question ("free", "offer", "marketing"). Generic spam
/// ("you have won", "txt STOP") is the text model's job.
const PITCH: &[(&str, f32)] = &[
    ("seo", 1.6),
    ("backlink", 2.0),
    ("search engine", 1.4),
    ("rank your", 1.6),
    ("first page of google", 2.0),
    ("google ranking", 1.8),
    ("web design", 1.3),
    ("website design", 1.3),
    ("redesign your website", 1.8),
    ("digital marketing", 1.6),
    ("marketing services", 1.6),
    ("marketing agency", 1.6),
    ("lead generation", 1.6),
    ("more patients", 0.8),
    ("new patients every month", 1.4),
    ("increase your revenue", 1.4),
    ("our agency", 1.2),
    ("business proposal", 1.2),
    ("guest post", 1.6),
    ("domain authority", 1.8),
    ("social media management", 1.4),
    ("outsourcing", 1.0),
    ("virtual assistant", 1.0),
    ("crypto", 1.4),
    ("bitcoin", 1.4),
    ("usdt", 1.4),
    ("forex", 1.4),
    ("investment opportunity", 1.8),
    ("passive income", 1.6),
    ("casino", 1.8),
    ("viagra", 2.0),
    ("cialis", 2.0),
    ("whatsapp me", 1.4),
    ("telegram", 1.0),
    ("unsubscribe", 1.2),
];

/// What the conversation adds to the text.
#[derive(Debug, Clone, Copy, Default)]
pub struct Signals {
    /// How many times this conversation already sent this exact text.
    pub repeats: usize,
    /// Messages this conversation sent in the last minute.
    pub recent: usize,
    /// The sender (its conversation or its address) already had a message
    /// blocked as spam.
    pub known_bad: bool,
}

/// A score and where it came from, for evaluation and the whisper.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpamScore {
    /// In 0..1; spam at [`DEFAULT_THRESHOLD`] or more.
    pub score: f32,
    /// The text model's logit minus its threshold: positive is spam.
    pub text_margin: f32,
    /// Whether the text model that scored it read the embedding too.
    pub embedding: bool,
    /// The sum of the clinic-website signals (log-odds, never negative).
    pub signals: f32,
    /// The part of `signals` that is the conversation's behaviour (repeats,
    /// a burst, a sender already caught) rather than the message's words
    /// and links: 0 when the message was judged on itself alone.
    pub behaviour: f32,
}

pub struct SpamScorer {
    /// N-grams only: for messages without an embedding the joint model
    /// reads.
    model: Arc<TextModel>,
    /// N-grams and one encoder's embedding.
    joint: Option<Arc<TextModel>>,
    pitch: AhoCorasick,
    /// The clinic's own domains: a patient pasting one is not a link drop.
    trusted: Vec<String>,
}

impl Default for SpamScorer {
    fn default() -> Self {
        Self::new()
    }
}

/// `ln(0.9 / 0.1)`: where the text model's threshold lands on the score.
fn threshold_logit() -> f32 {
    (DEFAULT_THRESHOLD / (1.0 - DEFAULT_THRESHOLD)).ln()
}

fn host(url: &str) -> String {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .unwrap_or(&lower);
    let host = rest.split(['/', ':', '?', '#']).next().unwrap_or(rest);
    host.trim_start_matches("www.")
        .trim_end_matches(['.', ',', ')', '!'])
        .to_string()
}

fn on_domain(host: &str, domain: &str) -> bool {
    host == domain || host.ends_with(&format!(".{domain}"))
}

impl SpamScorer {
    /// The scorer with the embedded models.
    pub fn new() -> Self {
        Self::with_model(EMBEDDED_MODEL.clone()).with_embedding_model(EMBEDDED_JOINT.clone())
    }

    /// A scorer with this n-gram model and no embedding model.
    pub fn with_model(model: Arc<TextModel>) -> Self {
        SpamScorer {
            model,
            joint: None,
            pitch: AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(PITCH.iter().map(|(p, _)| p))
                .expect("pitch automaton"),
            trusted: Vec::new(),
        }
    }

    /// Links to these domains (and their subdomains) are the clinic's own:
    /// they count as no link and the text model does not see them.
    pub fn with_trusted_domains<S: AsRef<str>>(
        mut self,
        domains: impl IntoIterator<Item = S>,
    ) -> Self {
        self.trusted = domains
            .into_iter()
            .map(|d| host(d.as_ref().trim()))
            .filter(|d| !d.is_empty())
            .collect();
        self
    }

    /// Also a model that reads an encoder's embeddings (one trained with
    /// them; a model without is ignored), for the messages that come with
    /// that encoder's.
    pub fn with_embedding_model(mut self, model: Arc<TextModel>) -> Self {
        self.joint = model.encoder().is_some().then_some(model);
        self
    }

    /// The n-gram model.
    pub fn model(&self) -> &TextModel {
        &self.model
    }

    /// The embedding model, if any.
    pub fn embedding_model(&self) -> Option<&TextModel> {
        self.joint.as_deref()
    }

    /// Whether an embedding from the encoder `id` changes a score: the
    /// bot embeds a message for the scorer only when it does.
    pub fn reads_embeddings_of(&self, id: &str) -> bool {
        self.joint
            .as_ref()
            .and_then(|m| m.encoder())
            .is_some_and(|e| same_encoder(e, id))
    }

    /// A score in 0..1. `repeats` is how many times this conversation already
    /// sent the same text; `recent` how many messages it sent in the last
    /// minute.
    pub fn score(&self, text: &str, repeats: usize, recent: usize) -> f32 {
        self.assess(
            text,
            &Signals {
                repeats,
                recent,
                known_bad: false,
            },
        )
        .score
    }

    /// The score of a message without an embedding: the n-gram model.
    pub fn assess(&self, text: &str, signals: &Signals) -> SpamScore {
        self.assess_embedded(text, None, signals)
    }

    /// The score of a message, by the embedding model when `embedding` is
    /// its encoder's, else by the n-gram model.
    pub fn assess_embedded(
        &self,
        text: &str,
        embedding: Option<Embedded>,
        signals: &Signals,
    ) -> SpamScore {
        let (links, shady, trusted_spans) = self.links(text);
        let model_text = if trusted_spans.is_empty() {
            std::borrow::Cow::Borrowed(text)
        } else {
            let mut kept = String::with_capacity(text.len());
            let mut at = 0;
            for r in trusted_spans {
                kept.push_str(&text[at..r.start]);
                at = r.end;
            }
            kept.push_str(&text[at..]);
            std::borrow::Cow::Owned(kept)
        };
        let joint = self.joint.as_deref().zip(embedding).filter(|(m, e)| {
            m.encoder().is_some_and(|id| same_encoder(id, e.encoder)) && m.dim() == e.vector.len()
        });
        let text_margin = match joint {
            Some((m, e)) => m.logit(&model_text, Some(e.vector)) - m.threshold(),
            None => self.model.logit(&model_text, None) - self.model.threshold(),
        };
        // The words: the model's margin, pitch phrases, a shady link.
        let (pitch, link, shady) = self.text_signal_parts(text, links, shady);
        let words = text_margin + pitch + shady;
        // The weak signals, each capped. No bonus for shouting: the text
        // model sees capitals already, and a frightened patient shouts.
        let repeat = (0.75 * signals.repeats as f32).min(2.25);
        let burst = if signals.recent > 8 {
            (0.4 * (signals.recent - 8) as f32).min(2.0)
        } else {
            0.0
        };
        let known = if signals.known_bad { 2.0 } else { 0.0 };
        // Only the words flag a message. The rest (links, repeats, a burst)
        // adds weight to what the words already say, or to a sender already
        // caught, and never flags a message whose words do not: a patient
        // asking again, typing fast or pasting a link is not a spammer.
        let vouched = words >= 0.0 || known > 0.0;
        let (counted, behaviour) = if vouched {
            (link + repeat + burst + known, repeat + burst + known)
        } else {
            (0.0, 0.0)
        };
        let z = words - text_margin + counted;
        let total = threshold_logit() + text_margin + z;
        SpamScore {
            score: 1.0 / (1.0 + (-total).exp()),
            text_margin,
            embedding: joint.is_some(),
            signals: z,
            behaviour,
        }
    }

    /// Links not on a trusted domain, whether any is shady, and where the
    /// trusted ones are.
    pub(crate) fn links(&self, text: &str) -> (usize, bool, Vec<std::ops::Range<usize>>) {
        let mut links = 0usize;
        let mut shady = false;
        let mut trusted_spans = Vec::new();
        for m in URL.find_iter(text) {
            let h = host(m.as_str());
            if self.trusted.iter().any(|d| on_domain(&h, d)) {
                trusted_spans.push(m.range());
                continue;
            }
            links += 1;
            shady |= SHADY_HOSTS.iter().any(|s| on_domain(&h, s))
                || SHADY_TLDS.iter().any(|t| h.ends_with(t));
        }
        (links, shady, trusted_spans)
    }

    /// What the text says beyond the model: pitch phrases and links. Each
    /// signal is capped: together they can outweigh an ordinary message's
    /// margin, alone they cannot.
    pub(crate) fn text_signals(&self, text: &str, links: usize, shady: bool) -> f32 {
        let (pitch, link, shady) = self.text_signal_parts(text, links, shady);
        pitch + link + shady
    }

    /// [`SpamScorer::text_signals`] in its parts: pitch phrases, links, a
    /// shady link.
    fn text_signal_parts(&self, text: &str, links: usize, shady: bool) -> (f32, f32, f32) {
        (
            self.pitch_weight(text).min(6.0),
            (0.75 * links as f32).min(1.5),
            if shady { 1.0 } else { 0.0 },
        )
    }

    fn pitch_weight(&self, text: &str) -> f32 {
        let bytes = text.as_bytes();
        let mut seen = [false; PITCH.len()];
        let mut z = 0.0;
        for m in self.pitch.find_iter(text) {
            let ok_before = m.start() == 0 || !bytes[m.start() - 1].is_ascii_alphanumeric();
            // A plural still counts: "backlinks".
            let end = if bytes.get(m.end()) == Some(&b's') {
                m.end() + 1
            } else {
                m.end()
            };
            let ok_after = end == bytes.len() || !bytes[end].is_ascii_alphanumeric();
            let i = m.pattern().as_usize();
            if ok_before && ok_after && !seen[i] {
                seen[i] = true;
                z += PITCH[i].1;
            }
        }
        z
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::spam::{
        CLINIC_TRAINING, Example, Part, TrainOptions, parse_clinc, parse_tsv, part, train,
    };

    fn flagged(s: &SpamScorer, text: &str, signals: &Signals) -> bool {
        s.assess(text, signals).score >= DEFAULT_THRESHOLD
    }

    fn clinic_set() -> Vec<Example> {
        parse_tsv(include_str!("../../testdata/spam_clinic.tsv")).unwrap()
    }

    /// Legitimate clinic messages the scorer still flags, measured and kept
    /// here so that a fix and a regression both fail this test. See
    /// docs/bot.md (Spam).
    const KNOWN_FLAGGED_HAM: &[&str] =
        &["Do you offer payment plans for implants? The price on your website seemed high"];

    #[test]
    fn clinic_patients_are_not_flagged() {
        let s = SpamScorer::new();
        let mut wrong = Vec::new();
        for e in clinic_set().iter().filter(|e| !e.spam) {
            let is_flagged = flagged(&s, &e.text, &Signals::default());
            if is_flagged != KNOWN_FLAGGED_HAM.contains(&e.text.as_str()) {
                wrong.push(format!("{:.3} {}", s.score(&e.text, 0, 1), e.text));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    /// Clinic-website spam the scorer misses, measured and kept here for
    /// the same reason. Since the text model learned from CLINC150's
    /// requests that a short imperative is not a sales text, this one scores
    /// 0.84 (its spammy link adds less than the threshold needs).
    const KNOWN_MISSED_SPAM: &[&str] = &["check out my page www.hotsingles-local.xyz"];

    #[test]
    fn clinic_website_spam_is_flagged() {
        let s = SpamScorer::new();
        let wrong: Vec<_> = clinic_set()
            .into_iter()
            .filter(|e| e.spam)
            .filter(|e| {
                flagged(&s, &e.text, &Signals::default())
                    == KNOWN_MISSED_SPAM.contains(&e.text.as_str())
            })
            .map(|e| e.text)
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn a_single_weak_signal_never_blocks_a_patient() {
        let s = SpamScorer::new();
        let alone = [
            (
                "a repeat",
                Signals {
                    repeats: 3,
                    ..Default::default()
                },
            ),
            (
                "a burst",
                Signals {
                    recent: 30,
                    ..Default::default()
                },
            ),
        ];
        for e in clinic_set().iter().filter(|e| !e.spam) {
            if KNOWN_FLAGGED_HAM.contains(&e.text.as_str()) {
                continue;
            }
            for (what, signals) in &alone {
                assert!(!flagged(&s, &e.text, signals), "{what}: {}", e.text);
            }
            let with_link = format!("{} https://www.example.com/page", e.text);
            assert!(
                !flagged(&s, &with_link, &Signals::default()),
                "a link: {with_link}"
            );
        }
    }

    #[test]
    fn the_clinics_own_links_count_for_nothing() {
        let s = SpamScorer::new().with_trusted_domains(["brightsmilesdental.com"]);
        let text = "saw the offer at https://www.brightsmilesdental.com/offers and www.brightsmilesdental.com/book";
        let own = s.assess(text, &Signals::default());
        let bare = s.assess("saw the offer at and", &Signals::default());
        assert_eq!(own.signals, 0.0);
        assert_eq!(own.text_margin, bare.text_margin);
        // Links add weight only where something else already counts
        // against the message: here, a sender already caught.
        let caught = Signals {
            known_bad: true,
            ..Default::default()
        };
        let own_caught = s.assess(text, &caught);
        let other = SpamScorer::new().assess(text, &caught);
        assert!(
            other.signals > own_caught.signals,
            "an unknown domain is a link"
        );
    }

    #[test]
    fn the_embedding_model_is_for_the_default_encoder_only() {
        let s = SpamScorer::new();
        assert_eq!(
            s.embedding_model().and_then(TextModel::encoder),
            Some("all-MiniLM-L6-v2")
        );
        assert!(s.reads_embeddings_of("all-MiniLM-L6-v2"));
        assert!(s.reads_embeddings_of("all-MiniLM-L6-v2+integer"));
        assert!(!s.reads_embeddings_of("all-MiniLM-L6-v2@0a1b2c3d4e5f"));
        assert!(!s.reads_embeddings_of("multilingual-e5-small"));
        // It reads MiniLM's mean- and max-pooled vectors (384 each), as the
        // bot hands them over (`Pooled::spam_features`).
        assert_eq!(s.embedding_model().map(TextModel::dim), Some(2 * 384));
        // Another encoder's vector, or one of the wrong length, is not read:
        // the n-gram model scores.
        let text = "Congratulations! You have won a prize, call now to claim";
        let dim = s.embedding_model().map_or(0, TextModel::dim);
        let vector = vec![0.1; dim];
        let plain = s.assess(text, &Signals::default());
        for (encoder, v) in [
            ("multilingual-e5-small", &vector[..]),
            ("all-MiniLM-L6-v2", &vector[1..]),
        ] {
            let other = s.assess_embedded(
                text,
                Some(Embedded { encoder, vector: v }),
                &Signals::default(),
            );
            assert_eq!(other, plain);
        }
        let read = s.assess_embedded(
            text,
            Some(Embedded {
                encoder: "all-MiniLM-L6-v2",
                vector: &vector,
            }),
            &Signals::default(),
        );
        assert!(read.embedding && !plain.embedding);
    }

    #[test]
    fn patients_score_low() {
        let s = SpamScorer::new();
        for text in [
            "what time do you open on saturday?",
            "Do you take Blue Cross insurance?",
            "I need a refill of my lisinopril, is the pharmacy on Main St ok?",
            "Can I get a free flu shot?",
            "I HAVE A TERRIBLE TOOTHACHE PLEASE HELP",
            "My results are on the portal at https://portal.example.org, can someone explain them?",
        ] {
            assert!(s.score(text, 0, 1) < 0.5, "{text}: {}", s.score(text, 0, 1));
        }
    }

    #[test]
    fn pitches_and_link_drops_score_high() {
        let s = SpamScorer::new();
        for text in [
            "We can get your clinic to the first page of Google with our SEO and backlink packages, visit www.rankfast.biz",
            "Congratulations! You have won a $1000 gift card. Click here to claim your prize: http://bit.ly/x",
            "Hi, our agency offers digital marketing services and web design. Get more patients! www.agency.top",
        ] {
            assert!(s.score(text, 0, 1) > 0.9, "{text}: {}", s.score(text, 0, 1));
        }
    }

    #[test]
    fn repetition_speed_and_a_bad_sender_raise_the_score() {
        let s = SpamScorer::new();
        // Against a message whose words already flag it, repeats and a burst
        // add weight (and make it a block rather than a hold); against one
        // whose words do not, they add nothing.
        let pitch = "Congratulations! You have won a $1000 gift card. Click here to claim your prize: http://bit.ly/x";
        let flagged = s.score(pitch, 0, 1);
        assert!(flagged >= DEFAULT_THRESHOLD);
        assert!(s.score(pitch, 3, 1) > flagged);
        assert!(s.score(pitch, 0, 12) > flagged);
        assert_eq!(s.assess(pitch, &Signals::default()).behaviour, 0.0);
        let repeated = Signals {
            repeats: 2,
            ..Default::default()
        };
        assert!(s.assess(pitch, &repeated).behaviour > 0.0);
        let text = "check out my page www.example.xyz";
        let base = s.score(text, 0, 1);
        assert!(base < DEFAULT_THRESHOLD);
        assert_eq!(s.score(text, 3, 1), base);
        assert_eq!(s.score(text, 0, 30), base);
        let bad = s.assess(
            text,
            &Signals {
                known_bad: true,
                ..Default::default()
            },
        );
        assert!(bad.score > base);
    }

    #[test]
    fn the_score_stays_in_zero_to_one() {
        let s = SpamScorer::new();
        let worst = "SEO backlinks crypto bitcoin casino viagra www.a.xyz bit.ly/x ".repeat(20);
        for (text, signals) in [
            ("", Signals::default()),
            (
                worst.as_str(),
                Signals {
                    repeats: 1000,
                    recent: 1000,
                    known_bad: true,
                },
            ),
        ] {
            let score = s.assess(text, &signals).score;
            assert!((0.0..=1.0).contains(&score), "{score}");
        }
    }

    /// The SMS Spam Collection, where the workspace's sibling `shared/data`
    /// has it (never copied into the repository: CC BY 4.0).
    fn sms_collection() -> Option<Vec<Example>> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data/spam/sms_spam_train.tsv");
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(parse_tsv(&text).unwrap()),
            Err(_) => {
                eprintln!(
                    "SKIPPED: {} is not there (the SMS Spam Collection is not in the repository)",
                    path.display()
                );
                None
            }
        }
    }

    /// The target, on the fifth of the collection the model never
    /// saw: recall at least 95% with at most 0.5% of legitimate messages
    /// flagged.
    /// The n-gram model alone: what the bot scores with when no embedding
    /// model was trained for its encoder. The bot's default path (with the
    /// embedding) is tested end to end
    /// (`tests/tests/e2e/cli.rs`, `held_out_sms_spam_through_the_bot`).
    #[test]
    #[ignore = "target not met by the n-gram model alone: 93.07% recall at 0.40% flagged (docs/bot.md, Spam)"]
    fn held_out_sms_meets_the_target() {
        let Some(examples) = sms_collection() else {
            return;
        };
        let s = SpamScorer::new();
        let (mut caught, mut spam, mut flagged_ham, mut ham) = (0, 0, 0, 0);
        for e in examples.iter().filter(|e| part(&e.text) == Part::Test) {
            let f = flagged(&s, &e.text, &Signals::default());
            if e.spam {
                spam += 1;
                caught += usize::from(f);
            } else {
                ham += 1;
                flagged_ham += usize::from(f);
            }
        }
        let recall = caught as f64 / spam as f64;
        let fpr = flagged_ham as f64 / ham as f64;
        assert!(recall >= 0.95, "recall {recall:.4} ({caught}/{spam})");
        assert!(
            fpr <= 0.005,
            "legitimate flagged {fpr:.4} ({flagged_ham}/{ham})"
        );
    }

    /// The committed weights are what `carechat-lab train spam --ham-json`
    /// writes from the collection and CLINC150's training half: nothing was
    /// edited by hand.
    #[test]
    fn the_embedded_model_is_reproducible_from_the_data() {
        let Some(examples) = sms_collection() else {
            return;
        };
        let clinic = parse_tsv(CLINIC_TRAINING).unwrap();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data/intents/clinc150_trainval.json");
        let Ok(json) = std::fs::read(&path) else {
            eprintln!("SKIPPED: {} is not there", path.display());
            return;
        };
        let requests = parse_clinc(&json, &["train", "oos_train"]).unwrap();
        let (model, _) = train(
            &examples,
            &clinic,
            &requests,
            &TrainOptions::default(),
            None,
        )
        .unwrap();
        assert!(
            model.to_bytes() == EMBEDDED,
            "bot-engine/data/spam.model is stale: run carechat-lab train spam"
        );
    }
}
