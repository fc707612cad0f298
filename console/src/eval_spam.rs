//! `carechat train spam` and `carechat eval spam`: the spam scorer's text
//! model, trained from the SMS Spam Collection, and what it costs on the
//! part of the collection it never saw.
//!
//! The two costs are printed apart because they are not alike: a
//! legitimate message flagged is a patient turned away; a spam message
//! missed is a minute of a person's time.

use std::path::Path;

use anyhow::Context as _;
use bot_engine::{DEFAULT_SPAM_THRESHOLD, Example, Part, SpamScorer, TextModel, TrainOptions};

fn read(path: &Path) -> anyhow::Result<Vec<Example>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    bot_engine::parse_tsv(&text).with_context(|| format!("parsing {}", path.display()))
}

pub fn train(data: &Path, ham_json: Option<&Path>, out: &Path) -> anyhow::Result<()> {
    let examples = read(data)?;
    let options = TrainOptions::default();
    let extra = bot_engine::parse_tsv(bot_engine::SPAM_CLINIC_TRAINING)?;
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
    let (model, report) = bot_engine::train_spam(&examples, &extra, &requests, &options);
    let bytes = model.to_bytes();
    std::fs::write(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    let held_out = examples
        .iter()
        .filter(|e| bot_engine::spam_part(&e.text) == Part::Test)
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

/// `data` is the SMS Spam Collection file the model was trained from: only
/// its held-out part is scored. `clinic` is scored whole.
pub fn eval(
    data: &Path,
    clinic: Option<&Path>,
    ham_json: Option<&Path>,
    show: bool,
) -> anyhow::Result<()> {
    let scorer = SpamScorer::new();
    let model: &TextModel = scorer.model();
    println!(
        "threshold: score >= {DEFAULT_SPAM_THRESHOLD} (the text model's logit {:.4} with no other signal)",
        model.threshold()
    );
    let examples = read(data)?;
    let held_out: Vec<&Example> = examples
        .iter()
        .filter(|e| bot_engine::spam_part(&e.text) == Part::Test)
        .collect();
    println!(
        "{}: held-out part, {} of {} messages",
        data.display(),
        held_out.len(),
        examples.len()
    );
    score(&scorer, &held_out, show);
    if let Some(clinic) = clinic {
        let set = read(clinic)?;
        println!("{}: all {} messages", clinic.display(), set.len());
        score(&scorer, &set.iter().collect::<Vec<_>>(), show);
    }
    if let Some(path) = ham_json {
        let set = clinc_ham(path, &["val", "oos_val"])?;
        println!(
            "{}: val and oos_val, {} legitimate requests",
            path.display(),
            set.len()
        );
        score(&scorer, &set.iter().collect::<Vec<_>>(), show);
    }
    Ok(())
}

/// The phrasings of `halves` of a CLINC150-format file, as legitimate
/// messages.
fn clinc_ham(path: &Path, halves: &[&str]) -> anyhow::Result<Vec<Example>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    bot_engine::parse_clinc(&bytes, halves).with_context(|| path.display().to_string())
}

fn score(scorer: &SpamScorer, set: &[&Example], show: bool) {
    let (mut text_only, mut full) = (Counts::default(), Counts::default());
    let mut wrong = Vec::new();
    for e in set {
        // A first message: no repeats, no burst, no history.
        let s = scorer.assess(&e.text, &Default::default());
        text_only.add(e.spam, s.text_margin >= 0.0);
        let flagged = s.score >= DEFAULT_SPAM_THRESHOLD;
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
