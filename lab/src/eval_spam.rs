//! `carechat-lab train spam` and `carechat-lab eval spam`: the spam
//! scorer's text model, trained from the SMS Spam Collection, and what it
//! costs on the part of the collection it never saw. The model that reads the sentence
//! embedding too (`--with-embedding`) needs the encoder and the redactor:
//! messages are embedded as the bot embeds them (redacted, links left out).
//!
//! The two costs are printed apart because they are not alike: a
//! legitimate message flagged is a patient turned away; a spam message
//! missed is a minute of a person's time.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use bot_engine::spam::{DEFAULT_THRESHOLD, Embedded, SpamScorer, TextModel};
use bot_engine::train::spam::{self as training, Embeddings, Example, Part, TrainOptions};
use bot_engine::{Encoder, EncoderHandle, Scrubber};
use carechat::config::Config;

fn read(path: &Path) -> anyhow::Result<Vec<Example>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    training::parse_tsv(&text).with_context(|| format!("parsing {}", path.display()))
}

/// The configured encoder and redaction, to embed messages as the bot does
/// for its spam model.
struct SpamView {
    encoder: EncoderHandle,
    scrubber: Scrubber,
    cache: carechat::cache::FileCache,
}

/// Each distinct text of a set and its embedding.
type Vectors = HashMap<String, Vec<f32>>;

impl SpamView {
    async fn start(config: &Config) -> anyhow::Result<SpamView> {
        let dir = carechat::engine::encoder_dir(config).await?;
        let products = config.products();
        let encoder = tokio::task::spawn_blocking(move || Encoder::load(&dir, products))
            .await?
            .context("loading the sentence encoder")?;
        Ok(SpamView {
            encoder: EncoderHandle::spawn(encoder, config.encoder_queue),
            scrubber: carechat::engine::start_scrubber(config).await?,
            cache: carechat::cache::FileCache::new(&config.models_dir),
        })
    }

    /// The encoder's id as a spam model records it.
    fn encoder_id(&self) -> &str {
        bot_engine::spam::trained_encoder_id(self.encoder.id())
    }

    async fn embed<'a>(&self, texts: impl Iterator<Item = &'a str>) -> anyhow::Result<Vectors> {
        let mut unique: Vec<String> = texts.map(str::to_string).collect();
        unique.sort_unstable();
        unique.dedup();
        eprintln!(
            "embedding {} messages (redacted, links left out) with {}",
            unique.len(),
            self.encoder.id()
        );
        let vectors =
            bot_engine::embed_for_spam(&self.encoder, &self.scrubber, unique.clone(), &self.cache)
                .await?;
        Ok(unique.into_iter().zip(vectors).collect())
    }
}

pub async fn train(
    config: &Config,
    data: &Path,
    ham_json: Option<&Path>,
    with_embedding: bool,
    options: &TrainOptions,
    out: &Path,
) -> anyhow::Result<()> {
    let examples = read(data)?;
    let extra = training::parse_tsv(training::CLINIC_TRAINING)?;
    let clinic = extra.len();
    let requests = match ham_json {
        Some(path) => {
            let ham = clinc_ham(path, &["train", "oos_train"])?;
            println!(
                "{} legitimate requests from {} (trained on; they do not choose the threshold)",
                ham.len(),
                path.display()
            );
            ham
        }
        None => Vec::new(),
    };
    let (model, report) = if with_embedding {
        // Trained on f32 products whatever the CPU, so that the file does
        // not depend on the machine it was trained on (integer products,
        // where the bot uses them, agree within rounding).
        let f32_config = Config {
            integer_products: false,
            ..config.clone()
        };
        let view = SpamView::start(&f32_config).await?;
        let trained_on = examples
            .iter()
            .filter(|e| training::part(&e.text) == Part::Train)
            .chain(&extra)
            .chain(&requests);
        let vectors = view.embed(trained_on.map(|e| e.text.as_str())).await?;
        let of = |text: &str| vectors.get(text).map(Vec::as_slice);
        let embeddings = Embeddings {
            encoder: view.encoder_id(),
            of: &of,
        };
        println!("with the embedding of {}", view.encoder_id());
        training::train(&examples, &extra, &requests, options, Some(&embeddings))?
    } else {
        training::train(&examples, &extra, &requests, options, None)?
    };
    let bytes = model.to_bytes();
    std::fs::write(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    let held_out = examples
        .iter()
        .filter(|e| training::part(&e.text) == Part::Test)
        .count();
    println!(
        "trained on {} messages ({} spam, {} ham): {} of {} in {} ({held_out} held out) \
         and the {} of bot-engine/data/spam_clinic_train.tsv",
        report.train_spam + report.train_ham,
        report.train_spam,
        report.train_ham,
        examples.len() - held_out,
        examples.len(),
        data.display(),
        clinic,
    );
    println!("options: {options:?}");
    println!(
        "threshold (text logit) {:.4}, chosen on {}-fold out-of-fold scores: recall {:.2}%, legitimate flagged {:.2}%",
        report.threshold,
        options.folds,
        100.0 * report.validation_recall,
        100.0 * report.validation_false_positive_rate,
    );
    println!("wrote {} ({} bytes)", out.display(), bytes.len());
    Ok(())
}

#[derive(Default)]
struct Counts {
    caught: usize,
    missed: usize,
    flagged: usize,
    passed: usize,
}

impl Counts {
    fn add(&mut self, spam: bool, flagged: bool) {
        match (spam, flagged) {
            (true, true) => self.caught += 1,
            (true, false) => self.missed += 1,
            (false, true) => self.flagged += 1,
            (false, false) => self.passed += 1,
        }
    }

    fn print(&self, label: &str) {
        let spam = self.caught + self.missed;
        let ham = self.flagged + self.passed;
        let pct = |a: usize, b: usize| {
            if b == 0 {
                "-".to_string()
            } else {
                format!("{:.2}%", 100.0 * a as f64 / b as f64)
            }
        };
        println!("  {label}");
        println!(
            "    recall {} ({} of {} spam caught); precision {}",
            pct(self.caught, spam),
            self.caught,
            spam,
            pct(self.caught, self.caught + self.flagged),
        );
        println!(
            "    legitimate messages flagged: {} of {} ({})",
            self.flagged,
            ham,
            pct(self.flagged, ham)
        );
        println!(
            "    spam missed: {} of {} ({})",
            self.missed,
            spam,
            pct(self.missed, spam)
        );
    }
}

/// The sets `eval spam` scores.
pub struct Sets<'a> {
    /// The SMS Spam Collection file the model was trained from: only its
    /// held-out part is scored.
    pub data: &'a Path,
    /// Scored whole.
    pub clinic: Option<&'a Path>,
    /// A CLINC150-format file whose `val` and `oos_val` are scored as
    /// legitimate.
    pub ham_json: Option<&'a Path>,
}

pub async fn eval(
    config: &Config,
    sets: &Sets<'_>,
    ngrams_only: bool,
    spam_model: Option<&Path>,
    show: bool,
) -> anyhow::Result<()> {
    let scorer = match spam_model {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let model =
                Arc::new(TextModel::from_bytes(&bytes).context(path.display().to_string())?);
            if model.encoder().is_some() {
                SpamScorer::new().with_embedding_model(model)
            } else {
                SpamScorer::with_model(model)
            }
        }
        None => SpamScorer::new(),
    };
    let examples = read(sets.data)?;
    let held_out: Vec<Example> = examples
        .into_iter()
        .filter(|e| training::part(&e.text) == Part::Test)
        .collect();
    let clinic = sets.clinic.map(read).transpose()?;
    let requests = sets
        .ham_json
        .map(|path| clinc_ham(path, &["val", "oos_val"]))
        .transpose()?;

    let view = if ngrams_only {
        None
    } else {
        let view = SpamView::start(config).await?;
        if scorer.reads_embeddings_of(view.encoder.id()) {
            Some(view)
        } else {
            println!(
                "no spam model reads {}'s embeddings: scoring with the n-gram model",
                view.encoder.id()
            );
            None
        }
    };
    let all = held_out
        .iter()
        .chain(clinic.iter().flatten())
        .chain(requests.iter().flatten());
    let vectors = match &view {
        Some(v) => Some((v.encoder.id(), v.embed(all.map(|e| e.text.as_str())).await?)),
        None => None,
    };
    let model = match (&vectors, scorer.embedding_model()) {
        (Some(_), Some(m)) => {
            println!(
                "text model: n-grams and the embedding of {}",
                m.encoder().unwrap_or_default()
            );
            m
        }
        _ => {
            println!("text model: n-grams only");
            scorer.model()
        }
    };
    println!(
        "threshold: score >= {DEFAULT_THRESHOLD} (the text model's logit {:.4} with no other signal)",
        model.threshold()
    );
    let vectors = vectors.as_ref().map(|(id, v)| (*id, v));
    println!(
        "{}: held-out part, {} messages",
        sets.data.display(),
        held_out.len(),
    );
    score(&scorer, &held_out, vectors, show);
    if let (Some(path), Some(set)) = (sets.clinic, &clinic) {
        println!("{}: all {} messages", path.display(), set.len());
        score(&scorer, set, vectors, show);
    }
    if let (Some(path), Some(set)) = (sets.ham_json, &requests) {
        println!(
            "{}: val and oos_val, {} legitimate requests",
            path.display(),
            set.len()
        );
        score(&scorer, set, vectors, show);
    }
    Ok(())
}

/// The phrasings of `halves` of a CLINC150-format file, as legitimate
/// messages.
fn clinc_ham(path: &Path, halves: &[&str]) -> anyhow::Result<Vec<Example>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    training::parse_clinc(&bytes, halves).with_context(|| path.display().to_string())
}

fn score(scorer: &SpamScorer, set: &[Example], vectors: Option<(&str, &Vectors)>, show: bool) {
    let (mut text_only, mut full) = (Counts::default(), Counts::default());
    let mut wrong = Vec::new();
    for e in set {
        let embedding = vectors.and_then(|(encoder, v)| {
            Some(Embedded {
                encoder,
                vector: v.get(&e.text)?,
            })
        });
        // A first message: no repeats, no burst, no history.
        let s = scorer.assess_embedded(&e.text, embedding, &Default::default());
        text_only.add(e.spam, s.text_margin >= 0.0);
        let flagged = s.score >= DEFAULT_THRESHOLD;
        full.add(e.spam, flagged);
        if flagged != e.spam {
            wrong.push((e, s));
        }
    }
    text_only.print("text model alone");
    full.print("the scorer (text model + clinic-website signals)");
    if show {
        for (e, s) in wrong {
            let what = if e.spam { "missed" } else { "flagged" };
            println!(
                "    {what}: score {:.3} (text {:+.2}, signals {:+.2}): {}",
                s.score, s.text_margin, s.signals, e.text
            );
        }
    }
}
