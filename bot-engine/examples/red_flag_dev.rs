//! Development loop for the red-flag model (`src/urgency.rs`), without the
//! encoder or the server: fits the model as the bot does (rules redaction,
//! the whitelist in `intents/`), then prints, for each JSON-lines file given
//! (`{text, lang, urgent}`), recall by language and false alarms at the
//! configured thresholds, and, for each TSV file (`label TAB text`, e.g. the
//! SMS Spam Collection), how many lines it calls urgent.
//!
//! ```sh
//! cargo run --release -p bot-engine --example red_flag_dev -- \
//!     intents bot-engine/testdata/red_flags_3.jsonl ../shared/data/spam/sms_spam_train.tsv
//! ```
//!
//! For tuning on development sets only: a set whose figures are reported
//! (docs/bot.md) must not be run through this while changing anything.

use std::collections::BTreeMap;

use bot_engine::{BotConfig, RedFlags, UrgencyModel, UrgencyOptions, Whitelist};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .expect("usage: red_flag_dev INTENTS_DIR FILE...");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("intents dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        files.push((name, std::fs::read_to_string(&path).expect("read intent")));
    }
    let whitelist = Whitelist::parse(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
        .expect("whitelist parses");
    let redactor = redaction::Redactor::new();
    let examples = bot_engine::urgency_training_set(&whitelist, &redactor);
    let mut options = UrgencyOptions::default();
    let env = |k: &str| std::env::var(k).ok();
    if let Some(v) = env("BITS") {
        options.bits = v.parse().unwrap();
    }
    if let Some(v) = env("EPOCHS") {
        options.epochs = v.parse().unwrap();
    }
    if let Some(v) = env("L2") {
        options.l2 = v.parse().unwrap();
    }
    if let Some(v) = env("LR") {
        options.learning_rate = v.parse().unwrap();
    }
    if let Some(v) = env("CALM") {
        options.calm_weight = v.parse().unwrap();
    }
    let config = BotConfig::default();
    let threshold: f32 =
        env("THRESHOLD").map_or(config.red_flag_model_threshold, |v| v.parse().unwrap());
    let floor: f32 = env("FLOOR").map_or(config.trigger_floor, |v| v.parse().unwrap());
    let started = std::time::Instant::now();
    let model = UrgencyModel::train(&examples, &options);
    eprintln!(
        "trained on {} examples in {:.1}s; threshold {threshold}, trigger floor {floor}",
        examples.len(),
        started.elapsed().as_secs_f64()
    );
    let flags = RedFlags::new(
        whitelist
            .intents
            .iter()
            .filter(|i| i.urgent)
            .flat_map(|i| i.triggers.iter().map(String::as_str)),
    );
    let show = env("SHOW").is_some();
    let urgent = |text: &str| {
        let p = model.probability(&redactor.redact(text).text);
        let fired = match flags.find(text) {
            Some(_) => p >= floor,
            None => p >= threshold,
        };
        (fired, p)
    };
    for file in args {
        let text = std::fs::read_to_string(&file).expect("read file");
        if file.ends_with(".tsv") {
            let mut by: BTreeMap<String, (usize, usize)> = BTreeMap::new();
            for line in text.lines() {
                let Some((label, msg)) = line.split_once('\t') else {
                    continue;
                };
                let (fired, p) = urgent(msg);
                let e = by.entry(label.to_string()).or_default();
                e.0 += 1;
                e.1 += usize::from(fired);
                if fired && show {
                    println!("  urgent {p:.2} [{label}] {msg}");
                }
            }
            println!("{file}: {by:?} (lines, called urgent)");
            continue;
        }
        let mut by: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).expect("json line");
            let msg = v["text"].as_str().unwrap();
            let lang = v["lang"].as_str().unwrap_or("?");
            let is_urgent = v["urgent"].as_bool().unwrap_or(false);
            let (fired, p) = urgent(msg);
            let key = if is_urgent {
                format!("urgent:{lang}")
            } else {
                format!("calm:{lang}")
            };
            let e = by.entry(key).or_default();
            e.0 += 1;
            e.1 += usize::from(fired);
            if show && fired != is_urgent {
                println!(
                    "  {} {p:.2} {msg}",
                    if is_urgent { "MISS " } else { "ALARM" }
                );
            }
        }
        let line: Vec<String> = by
            .iter()
            .map(|(k, (n, f))| format!("{k} {f}/{n} ({:.1}%)", 100.0 * *f as f64 / *n as f64))
            .collect();
        println!("{file}: {}", line.join("  "));
    }
}
