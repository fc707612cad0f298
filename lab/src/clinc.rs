//! CLINC150 (Larson et al., EMNLP 2019) as a whitelist, and the evaluation
//! that measures the bot on it: `carechat-lab intents import --format clinc150`
//! and `carechat-lab eval intents`.
//!
//! The data's `train` phrasings become each intent's examples. Calibration
//! (the answer threshold) is fitted on held-out phrasings: by default the
//! even-numbered `val` phrasings of each intent and `oos_train`, so that the
//! odd-numbered ones and `oos_val` stay unseen and `eval intents` can report
//! validation figures on them when the file has no `test` half. With
//! `--all-val`, every `val` phrasing calibrates (for a run on the test half).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, bail, ensure};
use carechat::config::Config;
use serde::Serialize;
use serde_json::{Value, json};

use crate::bench::percentile;

/// CLINC150's label for out-of-scope phrasings.
const OOS: &str = "oos";

/// One `[text, intent]` list of a CLINC150 file.
fn pairs(data: &Value, key: &str) -> anyhow::Result<Option<Vec<(String, String)>>> {
    let Some(list) = data.get(key) else {
        return Ok(None);
    };
    let list = list
        .as_array()
        .with_context(|| format!("`{key}` is not a list"))?;
    let mut out = Vec::with_capacity(list.len());
    for (n, item) in list.iter().enumerate() {
        let (Some(text), Some(intent)) = (item[0].as_str(), item[1].as_str()) else {
            bail!("`{key}` item {n} is not a [text, intent] pair");
        };
        out.push((text.to_string(), intent.to_string()));
    }
    Ok(Some(out))
}

fn read(path: &Path) -> anyhow::Result<Value> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not JSON", path.display()))
}

/// Splits `val` per intent by position: the even-numbered phrasings of each
/// intent calibrate, the odd-numbered ones are held out. Import and
/// evaluation share this, so they always agree on the halves.
/// A `[text, intent]` pair.
type Pair = (String, String);

fn split_val(val: &[Pair]) -> (Vec<&Pair>, Vec<&Pair>) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut calibrate, mut held_out) = (Vec::new(), Vec::new());
    for pair in val {
        let k = seen.entry(pair.1.as_str()).or_default();
        if k.is_multiple_of(2) {
            calibrate.push(pair);
        } else {
            held_out.push(pair);
        }
        *k += 1;
    }
    (calibrate, held_out)
}

#[derive(Serialize)]
struct IntentFile<'a> {
    id: &'a str,
    title: String,
    skill: &'a str,
    handoff: bool,
    urgent: bool,
    examples: Vec<&'a str>,
    validation: Vec<&'a str>,
    replies: BTreeMap<&'a str, String>,
}

#[derive(Serialize)]
struct OutOfScopeFile<'a> {
    questions: Vec<&'a str>,
}

/// `carechat-lab intents import --format clinc150 FILE --out DIR`.
pub fn import(file: &Path, out: &Path, all_val: bool) -> anyhow::Result<()> {
    let data = read(file)?;
    let train = pairs(&data, "train")?.context("no `train` list: not a CLINC150 file")?;
    let val = pairs(&data, "val")?.unwrap_or_default();
    let oos_train = pairs(&data, "oos_train")?.unwrap_or_default();
    if out.exists()
        && std::fs::read_dir(out)?
            .filter_map(Result::ok)
            .any(|e| e.path().extension().is_some_and(|x| x == "toml"))
    {
        bail!(
            "{} already holds a whitelist: choose an empty or new directory",
            out.display()
        );
    }
    let calibrate: Vec<&(String, String)> = if all_val {
        val.iter().collect()
    } else {
        split_val(&val).0
    };
    let mut intents: BTreeMap<&str, (Vec<&str>, Vec<&str>)> = BTreeMap::new();
    for (text, intent) in &train {
        if intent != OOS {
            intents.entry(intent).or_default().0.push(text);
        }
    }
    for (text, intent) in calibrate {
        if intent == OOS {
            continue;
        }
        let Some(entry) = intents.get_mut(intent.as_str()) else {
            bail!("`val` names the intent {intent:?}, which has no `train` phrasings");
        };
        entry.1.push(text);
    }
    ensure!(!intents.is_empty(), "the file has no in-scope intents");
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for (id, (examples, validation)) in &intents {
        ensure!(
            !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "the intent name {id:?} cannot be a file name"
        );
        let title = id.replace('_', " ");
        let file = IntentFile {
            id,
            // CLINC150 has no replies: the imported whitelist is for
            // measuring the classifier, and says so wherever it would answer.
            replies: BTreeMap::from([(
                "en",
                format!("(CLINC150 intent \"{title}\": no clinic reply was written for it.)"),
            )]),
            title,
            skill: "front_desk",
            handoff: false,
            urgent: false,
            examples: examples.clone(),
            validation: validation.clone(),
        };
        let text = format!(
            "# Imported from CLINC150 (CC BY 3.0; Larson et al., EMNLP 2019) by `carechat-lab intents import`.\n{}",
            toml::to_string_pretty(&file)?
        );
        std::fs::write(out.join(format!("{id}.toml")), text)?;
    }
    let questions: Vec<&str> = oos_train.iter().map(|(t, _)| t.as_str()).collect();
    std::fs::write(
        out.join("out_of_scope.toml"),
        format!(
            "# CLINC150 `oos_train`: questions the bot must not answer, for calibration.\n{}",
            toml::to_string_pretty(&OutOfScopeFile { questions })?
        ),
    )?;
    let messages = carechat::engine::default_file("messages.toml")
        .context("the built-in whitelist has no messages.toml")?;
    std::fs::write(out.join("messages.toml"), messages)?;
    let calibration_in = intents.values().map(|(_, v)| v.len()).sum::<usize>();
    println!(
        "wrote {} intents ({} examples, {} calibration phrasings) and {} out-of-scope questions to {}",
        intents.len(),
        intents.values().map(|(e, _)| e.len()).sum::<usize>(),
        calibration_in,
        oos_train.len(),
        out.display()
    );
    Ok(())
}

fn ratio(n: usize, of: usize) -> Value {
    if of == 0 {
        Value::Null
    } else {
        json!((n as f64 / of as f64 * 10_000.0).round() / 10_000.0)
    }
}

/// `carechat-lab eval intents DIR --test FILE`: every phrasing through the
/// bot's whole pipeline (spam, language, redaction, red flags, encoder,
/// classifier, threshold), one at a time, as a patient would send it.
/// Measures the file's `test` and `oos_test` halves when it has them, else
/// the held-out halves of `val` (the odd-numbered phrasings of each intent,
/// which `import` leaves out of calibration) and `oos_val`.
pub async fn eval(config: &Config, test: &Path) -> anyhow::Result<()> {
    ensure!(
        config.intents_dir.is_dir(),
        "no whitelist directory at {}",
        config.intents_dir.display()
    );
    let data = read(test)?;
    let (split, in_scope, out_of_scope) = match pairs(&data, "test")? {
        Some(test) => (
            "test + oos_test",
            test,
            pairs(&data, "oos_test")?.unwrap_or_default(),
        ),
        None => {
            let val = pairs(&data, "val")?.context("the file has neither `test` nor `val`")?;
            let held_out = split_val(&val).1.into_iter().cloned().collect();
            (
                "odd-numbered val phrasings + oos_val",
                held_out,
                pairs(&data, "oos_val")?.unwrap_or_default(),
            )
        }
    };
    let items: Vec<(String, Option<String>)> = in_scope
        .into_iter()
        .map(|(t, i)| {
            let want = (i != OOS).then_some(i);
            (t, want)
        })
        .chain(out_of_scope.into_iter().map(|(t, _)| (t, None)))
        .collect();
    ensure!(
        !items.is_empty(),
        "nothing to evaluate in {}",
        test.display()
    );
    let bot = carechat::engine::start_bot(config).await?;
    // A phrasing the bot was built or calibrated on is not a held-out one.
    let seen: std::collections::HashSet<&str> = bot
        .whitelist()
        .intents
        .iter()
        .flat_map(|i| i.examples.iter().chain(&i.validation))
        .chain(&bot.whitelist().out_of_scope)
        .map(String::as_str)
        .collect();
    let overlap = items
        .iter()
        .filter(|(t, _)| seen.contains(t.as_str()))
        .count();
    let (mut right, mut wrong, mut escalated, mut blocked) = (0, 0, 0, 0);
    let (mut oos_total, mut oos_declined, mut declined) = (0, 0, 0);
    let mut latencies = Vec::with_capacity(items.len());
    // For the trade-off curve: in-scope (score, best intent right), and
    // out-of-scope scores; a red flag or spam block counts as it was decided.
    let mut curve_in: Vec<(f32, bool)> = Vec::new();
    let mut curve_oos: Vec<f32> = Vec::new();
    let context = bot_engine::Context::default();
    for (text, want) in &items {
        let started = Instant::now();
        let a = bot.assess(text, &context).await?;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        let answered = match a.action {
            bot_engine::Action::Answer | bot_engine::Action::Urgent => a.intent.as_deref(),
            bot_engine::Action::Block | bot_engine::Action::Hold => {
                blocked += 1;
                None
            }
            bot_engine::Action::Escalate => None,
        };
        if answered.is_none() {
            declined += 1;
        }
        let score = match a.action {
            bot_engine::Action::Urgent => f32::INFINITY,
            bot_engine::Action::Block | bot_engine::Action::Hold => f32::NEG_INFINITY,
            _ => a.confidence,
        };
        let top = a
            .top
            .as_ref()
            .map(|t| t.intent.as_str())
            .or(a.intent.as_deref());
        match want {
            Some(w) => curve_in.push((score, top == Some(w.as_str()))),
            None => curve_oos.push(score),
        }
        match (want, answered) {
            (Some(w), Some(got)) if w == got => right += 1,
            (Some(_), Some(_)) => wrong += 1,
            (Some(_), None) => escalated += 1,
            (None, got) => {
                oos_total += 1;
                if got.is_none() {
                    oos_declined += 1;
                }
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let raw_accuracy = ratio(curve_in.iter().filter(|c| c.1).count(), curve_in.len());
    curve_oos.sort_by(f32::total_cmp);
    let operating_points: Vec<Value> = [0.8, 0.9, 0.95]
        .iter()
        .filter(|_| !curve_oos.is_empty())
        .map(|&r| {
            // The lowest threshold that declines a share `r` of the
            // out-of-scope phrasings.
            let k = ((curve_oos.len() as f64 * r).ceil() as usize).min(curve_oos.len());
            let t = if k == 0 {
                f32::NEG_INFINITY
            } else {
                curve_oos[k - 1].next_up()
            };
            let right = curve_in.iter().filter(|(s, ok)| *ok && *s >= t).count();
            json!({
                "oos_recall": ratio(curve_oos.iter().filter(|s| **s < t).count(), curve_oos.len()),
                "threshold": t,
                "in_scope_accuracy": ratio(right, curve_in.len()),
            })
        })
        .collect();
    let in_scope_n = items.len() - oos_total;
    let round = |x: f64| (x * 100.0).round() / 100.0;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "data": test.display().to_string(),
            "split": split,
            "model": config.model,
            "redaction_model": config.redaction_model,
            "threshold_in_use": bot.threshold(),
            "threshold_calibrated": config.threshold.is_none(),
            "calibration": bot.calibration(),
            "in_scope": in_scope_n,
            "out_of_scope": oos_total,
            "in_scope_accuracy": ratio(right, in_scope_n),
            "in_scope_wrong_answer": ratio(wrong, in_scope_n),
            "in_scope_escalated": ratio(escalated, in_scope_n),
            "oos_recall": ratio(oos_declined, oos_total),
            "oos_precision": ratio(oos_declined, declined),
            "blocked_as_spam": blocked,
            "in_scope_accuracy_without_threshold": raw_accuracy,
            "operating_points_chosen_on_this_set": operating_points,
            "phrasings_also_in_whitelist": overlap,
            "latency_ms": {
                "messages": latencies.len(),
                "one_at_a_time": true,
                "p50": round(percentile(&latencies, 0.50)),
                "p90": round(percentile(&latencies, 0.90)),
                "p99": round(percentile(&latencies, 0.99)),
                "max": round(latencies.last().copied().unwrap_or(f64::NAN)),
            },
        }))?
    );
    if overlap > 0 {
        eprintln!(
            "warning: {overlap} evaluated phrasings are also examples, calibration phrasings or \
             out-of-scope questions of the whitelist: these figures are not held-out ones"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn val_halves_alternate_within_each_intent() {
        let val: Vec<(String, String)> = [
            ("a1", "a"),
            ("b1", "b"),
            ("a2", "a"),
            ("a3", "a"),
            ("b2", "b"),
        ]
        .iter()
        .map(|(t, i)| (t.to_string(), i.to_string()))
        .collect();
        let (cal, held) = split_val(&val);
        let texts = |v: Vec<&(String, String)>| v.iter().map(|p| p.0.clone()).collect::<Vec<_>>();
        assert_eq!(texts(cal), ["a1", "b1", "a3"]);
        assert_eq!(texts(held), ["a2", "b2"]);
    }
}
