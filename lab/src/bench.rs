//! Evaluation and benchmark commands: figures come from here, not from timed
//! tests.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use carechat::config::Config;
use serde_json::{Value, json};

/// `carechat-lab eval whitelist`: for a sweep of thresholds, how the bot
/// does on the whitelist's held-out `validation` phrasings (in scope) and
/// on out-of-scope questions (CLINC150's `oos_val`, when given).
pub async fn eval_whitelist(config: &Config, oos: Option<&Path>) -> anyhow::Result<()> {
    let bot = carechat::engine::start_bot(config).await?;
    let whitelist = bot.whitelist().clone();
    let mut texts = Vec::new();
    let mut expected = Vec::new();
    for intent in &whitelist.intents {
        for text in &intent.validation {
            texts.push(text.clone());
            expected.push(Some(intent.id.clone()));
        }
    }
    let in_scope = texts.len();
    if let Some(path) = oos {
        let data: Value = serde_json::from_slice(
            &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        )?;
        let list = data["oos_val"]
            .as_array()
            .context("no oos_val list in the file")?;
        for pair in list {
            let text = pair[0]
                .as_str()
                .context("oos_val items are [text, label]")?;
            texts.push(text.to_string());
            expected.push(None);
        }
    }
    let out_of_scope = texts.len() - in_scope;
    let redacted = bot
        .scrubber()
        .redact_all(&texts)
        .await?
        .into_iter()
        .map(|r| r.text)
        .collect();
    // (expected intent or None for out of scope, top intent, score, runner-up score)
    let rows: Vec<(Option<String>, String, f32, f32)> = bot
        .rank_all_redacted(redacted)
        .await?
        .into_iter()
        .zip(expected)
        .map(|(ranked, expected)| {
            let runner_up = ranked.get(1).map_or(f32::MIN, |s| s.confidence);
            (
                expected,
                ranked[0].intent.clone(),
                ranked[0].confidence,
                runner_up,
            )
        })
        .collect();
    let mut sweep = Vec::new();
    for margin in [0.0f32, 0.03] {
        let mut t = 0.30f32;
        while t <= 0.951 {
            let policy = bot_engine::BotConfig {
                margin,
                ..Default::default()
            };
            let (mut right, mut wrong, mut escalated, mut oos_answered) = (0, 0, 0, 0);
            for (expected, top, score, runner_up) in &rows {
                let answered = policy.confident(t, *score, *runner_up);
                match expected {
                    Some(_) if !answered => escalated += 1,
                    Some(e) if e == top => right += 1,
                    Some(_) => wrong += 1,
                    None if answered => oos_answered += 1,
                    None => {}
                }
            }
            sweep.push(json!({
            "threshold": (t * 100.0).round() / 100.0,
            "margin": margin,
            "in_scope_correct": right as f64 / in_scope as f64,
            "in_scope_wrong_answer": wrong as f64 / in_scope as f64,
            "in_scope_escalated": escalated as f64 / in_scope as f64,
            "oos_answered": if out_of_scope > 0 { json!(oos_answered as f64 / out_of_scope as f64) } else { Value::Null },
        }));
            t += 0.02;
        }
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "model": config.model,
            "configured_threshold": config.threshold,
            "threshold_in_use": bot.threshold(),
            "calibration": bot.calibration(),
            "configured_margin": config.margin,
            "in_scope_phrasings": in_scope,
            "out_of_scope_phrasings": out_of_scope,
            "sweep": sweep,
        }))?
    );
    Ok(())
}

/// The value at quantile `p` of an ascending list.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// How `carechat-lab bench bot` loads the bot.
#[derive(Debug, Clone, Copy)]
pub enum Load {
    /// `n` patients, each sending its next message when the last is answered.
    Closed { concurrency: usize },
    /// Messages arriving as a Poisson process at `rate` per second (seeded),
    /// whatever the bot's speed, as patients' messages do. Each latency
    /// counts from the message's arrival, so time spent queued behind
    /// earlier messages counts too.
    Open { rate: f64 },
}

/// `carechat-lab bench bot`: the whole per-message pipeline (spam, language,
/// redaction, red flags, encoder, classifier) under `load`, `messages`
/// messages in all.
pub async fn bench_bot(config: &Config, load: Load, messages: usize) -> anyhow::Result<()> {
    let bot = carechat::engine::start_bot(config).await?;
    let texts: Arc<Vec<String>> = Arc::new(
        bot.whitelist()
            .intents
            .iter()
            .flat_map(|i| i.validation.iter().cloned())
            .collect(),
    );
    anyhow::ensure!(
        !texts.is_empty(),
        "the whitelist has no validation phrasings to send"
    );
    let started = Instant::now();
    let (mut all, busy) = match load {
        Load::Closed { concurrency } => closed_loop(&bot, &texts, concurrency, messages).await?,
        Load::Open { rate } => {
            anyhow::ensure!(rate > 0.0 && rate.is_finite(), "--rate must be positive");
            open_loop(&bot, &texts, rate, messages).await?
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    let (concurrency, rate) = match load {
        Load::Closed { concurrency } => (Some(concurrency), None),
        Load::Open { rate } => (None, Some(rate)),
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "model": config.model,
            "concurrency": concurrency,
            "arrival_rate_per_s": rate,
            "messages": all.len(),
            "busy": busy,
            "throughput_msgs_per_s": all.len() as f64 / elapsed,
            "latency_ms": {
                "p50": percentile(&all, 0.50),
                "p90": percentile(&all, 0.90),
                "p99": percentile(&all, 0.99),
                "max": all.last().copied().unwrap_or(f64::NAN),
            },
        }))?
    );
    Ok(())
}

type Latencies = (Vec<f64>, usize);

async fn closed_loop(
    bot: &Arc<bot_engine::Bot>,
    texts: &Arc<Vec<String>>,
    concurrency: usize,
    messages: usize,
) -> anyhow::Result<Latencies> {
    let concurrency = concurrency.max(1);
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let bot = bot.clone();
        let texts = texts.clone();
        let share = messages / concurrency + usize::from(worker < messages % concurrency);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            let mut busy = 0usize;
            for k in 0..share {
                let text = &texts[(worker * 7919 + k) % texts.len()];
                let t0 = Instant::now();
                match bot.assess(text, &bot_engine::Context::default()).await {
                    Ok(_) => latencies.push(t0.elapsed().as_secs_f64() * 1000.0),
                    Err(bot_engine::EngineError::Busy) => busy += 1,
                    Err(e) => return Err(anyhow::Error::from(e)),
                }
            }
            Ok((latencies, busy))
        }));
    }
    let mut all = Vec::new();
    let mut busy = 0;
    for t in tasks {
        let (l, b) = t.await??;
        all.extend(l);
        busy += b;
    }
    Ok((all, busy))
}

/// Arrival times from `start` at `rate` per second, as a Poisson process:
/// exponential gaps from a seeded `StdRng`, the same times on every run.
fn poisson_arrivals(
    start: tokio::time::Instant,
    rate: f64,
) -> impl FnMut() -> tokio::time::Instant {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x9e37_79b9_7f4a_7c15);
    let mut at = 0.0f64;
    move || {
        let uniform: f64 = rng.random();
        at += -(1.0 - uniform).ln() / rate;
        start + std::time::Duration::from_secs_f64(at)
    }
}

async fn open_loop(
    bot: &Arc<bot_engine::Bot>,
    texts: &Arc<Vec<String>>,
    rate: f64,
    messages: usize,
) -> anyhow::Result<Latencies> {
    let start = tokio::time::Instant::now();
    let mut arrivals = poisson_arrivals(start, rate);
    let mut tasks = Vec::with_capacity(messages);
    for k in 0..messages {
        let arrival = arrivals();
        tokio::time::sleep_until(arrival).await;
        let bot = bot.clone();
        let texts = texts.clone();
        tasks.push(tokio::spawn(async move {
            let text = &texts[(k * 7919) % texts.len()];
            let result = bot.assess(text, &bot_engine::Context::default()).await;
            (result, arrival.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let mut all = Vec::with_capacity(messages);
    let mut busy = 0;
    for t in tasks {
        match t.await? {
            (Ok(_), ms) => all.push(ms),
            (Err(bot_engine::EngineError::Busy), _) => busy += 1,
            (Err(e), _) => return Err(e.into()),
        }
    }
    Ok((all, busy))
}

/// `carechat-lab bench emergency`: the emergency path while the model queues
/// are full. `flood` patients (by default twice the encoder queue) send
/// ordinary questions back to back (closed loop, so the PII model's and the
/// encoder's queues stay full and some are told `busy`) while emergencies (the emergency intent's own phrasings)
/// arrive open loop at `rate` per second, `messages` in all. For each
/// emergency: the time from its arrival to the emergency reply decided
/// ([`bot_engine::Bot::emergency`], what the server sends at once) and to
/// its redacted form ready to store (the PII model's urgent lane).
pub async fn bench_emergency(
    config: &Config,
    flood: Option<usize>,
    rate: f64,
    messages: usize,
) -> anyhow::Result<()> {
    anyhow::ensure!(rate > 0.0 && rate.is_finite(), "--rate must be positive");
    let flood = flood.unwrap_or(2 * config.encoder_queue).max(1);
    let bot = carechat::engine::start_bot(config).await?;
    let whitelist = bot.whitelist();
    let ordinary: Arc<Vec<String>> = Arc::new(
        whitelist
            .intents
            .iter()
            .filter(|i| !i.urgent)
            .flat_map(|i| i.validation.iter().cloned())
            .collect(),
    );
    // The phrasings the emergency path itself recognises (the rest are
    // caught later, by the encoder, and are not what this measures).
    let emergencies: Vec<String> = whitelist
        .urgent_intent()
        .map(|i| i.examples.iter().chain(&i.validation))
        .into_iter()
        .flatten()
        .filter(|t| bot.emergency(t, &bot_engine::Context::default()).is_some())
        .cloned()
        .collect();
    anyhow::ensure!(
        !ordinary.is_empty() && !emergencies.is_empty(),
        "the whitelist needs an emergency intent and ordinary validation phrasings"
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (answered, busy) = (
        Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        Arc::new(std::sync::atomic::AtomicUsize::new(0)),
    );
    let mut flooders = Vec::new();
    for worker in 0..flood {
        let (bot, texts, stop) = (bot.clone(), ordinary.clone(), stop.clone());
        let (answered, busy) = (answered.clone(), busy.clone());
        flooders.push(tokio::spawn(async move {
            let mut k = worker;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let text = &texts[(k * 7919) % texts.len()];
                k += flood;
                match bot.assess(text, &bot_engine::Context::default()).await {
                    Ok(_) => answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                    Err(bot_engine::EngineError::Busy) => {
                        // Told busy: a patient's widget shows it and the
                        // patient tries again later, not in a tight loop.
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        busy.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    }
                    Err(e) => return Err(e),
                };
            }
            Ok(())
        }));
    }
    // Let the queues fill before the first emergency.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let start = tokio::time::Instant::now();
    let mut arrivals = poisson_arrivals(start, rate);
    let mut tasks = Vec::with_capacity(messages);
    for k in 0..messages {
        let arrival = arrivals();
        tokio::time::sleep_until(arrival).await;
        let bot = bot.clone();
        let text = emergencies[k % emergencies.len()].clone();
        tasks.push(tokio::spawn(async move {
            let ctx = bot_engine::Context::default();
            let caught = bot.emergency(&text, &ctx).is_some();
            let reply_ms = arrival.elapsed().as_secs_f64() * 1000.0;
            let redacted = bot.scrubber().redact_urgent(&text).await;
            let stored_ms = arrival.elapsed().as_secs_f64() * 1000.0;
            (caught, reply_ms, redacted.map(|_| stored_ms))
        }));
    }
    let (mut reply, mut stored, mut missed) = (Vec::new(), Vec::new(), 0usize);
    for t in tasks {
        let (caught, reply_ms, stored_ms) = t.await?;
        missed += usize::from(!caught);
        reply.push(reply_ms);
        stored.push(stored_ms?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for f in flooders {
        f.await??;
    }
    reply.sort_by(f64::total_cmp);
    stored.sort_by(f64::total_cmp);
    let figures = |v: &[f64]| {
        json!({
            "p50": round3(percentile(v, 0.50)),
            "p99": round3(percentile(v, 0.99)),
            "max": round3(v.last().copied().unwrap_or(f64::NAN)),
        })
    };
    let (answered, busy) = (
        answered.load(std::sync::atomic::Ordering::Relaxed),
        busy.load(std::sync::atomic::Ordering::Relaxed),
    );
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "model": config.model,
            "pii_model": bot.scrubber().has_model(),
            "red_flag_model": config.red_flag_model,
            "flood_patients": flood,
            "emergency_rate_per_s": rate,
            "emergencies": reply.len(),
            "emergencies_not_recognised": missed,
            "emergency_phrasings": emergencies.len(),
            "ordinary_answered_per_s": round1(answered as f64 / elapsed),
            "ordinary_told_busy_per_s": round1(busy as f64 / elapsed),
            "reply_decided_ms": figures(&reply),
            "redacted_ready_ms": figures(&stored),
        }))?
    );
    Ok(())
}

/// `carechat-lab bench encoder`: the sentence encoders side by side, on the
/// whitelist's examples and validation phrasings (as redacted text would
/// be: chat-length), one text per call and in batches of `batch`, on the
/// calling thread. Each encoder named is pulled first if missing.
pub fn bench_encoder(config: &Config, names: &[String], batch: usize) -> anyhow::Result<()> {
    use std::hint::black_box;
    let whitelist = carechat::engine::load_whitelist(&config.intents_dir)?;
    let texts: Vec<String> = whitelist
        .intents
        .iter()
        .flat_map(|i| i.examples.iter().chain(&i.validation).cloned())
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut rows = Vec::new();
    for name in names {
        let spec = model_pull::spec(name)?;
        if !spec.is_installed(&config.models_dir) {
            model_pull::pull(spec, &config.models_dir, None)?;
        }
        let started = Instant::now();
        let encoder =
            bot_engine::Encoder::load(&config.models_dir.join(spec.name), config.products())
                .with_context(|| format!("loading {}", spec.name))?;
        let load_s = started.elapsed().as_secs_f64();
        // Warm up, then time the median of REDACT_PASSES passes each way.
        encoder.embed(&refs[..refs.len().min(64)])?;
        let timed = |f: &dyn Fn() -> anyhow::Result<()>| -> anyhow::Result<f64> {
            let mut passes = Vec::new();
            for _ in 0..REDACT_PASSES {
                let t0 = Instant::now();
                f()?;
                passes.push(t0.elapsed().as_secs_f64());
            }
            passes.sort_by(f64::total_cmp);
            Ok(refs.len() as f64 / passes[passes.len() / 2])
        };
        let single = timed(&|| {
            for t in &refs {
                black_box(encoder.embed(&[t])?);
            }
            Ok(())
        })?;
        let batched = timed(&|| {
            for chunk in refs.chunks(batch.max(1)) {
                black_box(encoder.embed(chunk)?);
            }
            Ok(())
        })?;
        let pieces: usize = refs
            .iter()
            .map(|t| encoder.pieces(t).map(|p| p.len()))
            .sum::<Result<usize, _>>()?;
        rows.push(json!({
            "model": spec.name,
            "layers": serde_json::from_slice::<Value>(&std::fs::read(config.models_dir.join(spec.name).join("config.json"))?)?["num_hidden_layers"],
            "load_s": round3(load_s),
            "mean_pieces": round1(pieces as f64 / refs.len() as f64),
            "texts_per_s_one_at_a_time": round1(single),
            "texts_per_s_batched": round1(batched),
            "ms_per_text_one_at_a_time": round3(1000.0 / single),
        }));
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "texts": refs.len(),
            "batch": batch,
            "passes": REDACT_PASSES,
            "encoders": rows,
        }))?
    );
    Ok(())
}

/// Timed passes over a data set, for each configuration; the median pass
/// is reported (with the fastest and slowest), since this machine's other
/// work makes single passes noisy.
const REDACT_PASSES: usize = 5;

/// `carechat-lab bench redact`: for each data set, redaction throughput with
/// the rules only, on one thread, and with the PII model, batched as the
/// server batches (the model's matrix products and fused passes use every
/// core).
/// Where the model runs on integer products, the same model on f32 products
/// is timed in the same run, passes interleaved, for the ratio. Prints one
/// JSON object.
pub fn bench_redact(config: &Config, files: &[std::path::PathBuf]) -> anyhow::Result<()> {
    use std::hint::black_box;
    let redactor = redaction::Redactor::new();
    let model = carechat::engine::load_pii_model(config)?;
    let float_model = match &model {
        Some(m) if m.products() == bert::Products::Integer => {
            let float = Config {
                integer_products: false,
                ..config.clone()
            };
            carechat::engine::load_pii_model(&float)?
        }
        _ => None,
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut sets = Vec::new();
    for path in files {
        let texts = crate::eval_redact::load_texts(path)?;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let bytes: usize = texts.iter().map(String::len).sum();
        let rate = |mut passes: Vec<f64>, threads: usize| {
            passes.sort_by(f64::total_cmp);
            let per_s = |secs: f64| texts.len() as f64 / secs.max(f64::MIN_POSITIVE);
            let median = passes[passes.len() / 2];
            json!({
                "messages_per_s": round1(per_s(median)),
                "messages_per_s_range": [round1(per_s(passes[passes.len() - 1])), round1(per_s(passes[0]))],
                "mb_per_s": round3(bytes as f64 / 1e6 / median),
                "messages_per_s_per_core": round1(per_s(median) / threads as f64),
                "mb_per_s_per_core": round3(bytes as f64 / 1e6 / median / threads as f64),
                "threads": threads,
                "passes": passes.len(),
            })
        };
        // Warm the rule tables, then time.
        for t in &refs {
            black_box(redactor.find(t));
        }
        let passes = (0..REDACT_PASSES)
            .map(|_| {
                let started = Instant::now();
                for t in &refs {
                    black_box(redactor.find(black_box(t)));
                }
                started.elapsed().as_secs_f64()
            })
            .collect();
        let rules = rate(passes, 1);
        let pass = |m: &redaction::model::NerModel| -> anyhow::Result<f64> {
            let started = Instant::now();
            let extra = crate::eval_redact::model_spans(m, &refs)?;
            for (t, e) in refs.iter().zip(&extra) {
                black_box(redactor.find_with(t, e));
            }
            Ok(started.elapsed().as_secs_f64())
        };
        // The configured model and, where that is integer, the f32 one:
        // each pass round starts with a different one.
        let mut runs: Vec<(&redaction::model::NerModel, Vec<f64>)> = model
            .iter()
            .chain(&float_model)
            .map(|m| (m, Vec::new()))
            .collect();
        for i in 0..REDACT_PASSES {
            for k in 0..runs.len() {
                let n = runs.len();
                let (m, times) = &mut runs[(i + k) % n];
                times.push(pass(m)?);
            }
        }
        let mut runs = runs.into_iter().map(|(_, times)| times);
        let (passes, float_passes) = (
            runs.next().unwrap_or_default(),
            runs.next().unwrap_or_default(),
        );
        let median = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            percentile(&v, 0.5)
        };
        let speedup = (!float_passes.is_empty())
            .then(|| (median(&float_passes) / median(&passes) * 100.0).round() / 100.0);
        let with_model = match &model {
            None => Value::Null,
            Some(m) => {
                let mut r = rate(passes, cores);
                r["products"] = json!(format!("{:?}", m.products()).to_lowercase());
                r
            }
        };
        let with_float = (!float_passes.is_empty()).then(|| rate(float_passes, cores));
        sets.push(json!({
            "dataset": path.display().to_string(),
            "messages": texts.len(),
            "mean_chars": round1(texts.iter().map(|t| t.chars().count()).sum::<usize>() as f64 / texts.len().max(1) as f64),
            "rules": rules,
            "rules_and_model": with_model,
            "rules_and_model_f32": with_float,
            "integer_speedup": speedup,
        }));
    }
    let report = json!({
        "cores": cores,
        "model_batch": crate::eval_redact::MODEL_BATCH,
        "datasets": sets,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `carechat-lab eval red-flags FILE`: JSON lines `{text, lang, category,
/// urgent}` through the whole pipeline, one at a time. Recall (urgent
/// messages that got the emergency reply) overall, by language and by
/// category, which layer caught each (a trigger phrase, or the classifier
/// matching the emergency intent), and false alarms on the non-urgent ones.
/// The texts are written test phrasings, not patients' messages, so the
/// misses are printed to be read.
pub async fn eval_red_flags(config: &Config, file: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut rows = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: Value = serde_json::from_str(line)
            .with_context(|| format!("{} line {}: not JSON", file.display(), n + 1))?;
        let (Some(text), Some(urgent)) = (v["text"].as_str(), v["urgent"].as_bool()) else {
            anyhow::bail!(
                "{} line {}: needs `text` and `urgent`",
                file.display(),
                n + 1
            );
        };
        let lang = v["lang"].as_str().unwrap_or("?").to_string();
        let category = v["category"].as_str().unwrap_or("?").to_string();
        rows.push((text.to_string(), lang, category, urgent));
    }
    anyhow::ensure!(!rows.is_empty(), "no phrasings in {}", file.display());
    let bot = carechat::engine::start_bot(config).await?;
    // (urgent phrasings, caught) by group, and what caught them.
    let mut by: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let (mut by_trigger, mut by_classifier) = (0, 0);
    let (mut negatives, mut false_alarms) = (0, 0);
    let mut missed = Vec::new();
    let mut alarms = Vec::new();
    for (text, lang, category, urgent) in &rows {
        let a = bot.assess(text, &bot_engine::Context::default()).await?;
        let caught = a.action == bot_engine::Action::Urgent;
        if *urgent {
            for key in [
                "all".to_string(),
                format!("lang:{lang}"),
                format!("category:{category}"),
            ] {
                let e = by.entry(key).or_default();
                e.0 += 1;
                e.1 += usize::from(caught);
            }
            if caught {
                if a.red_flag.is_some() {
                    by_trigger += 1;
                } else {
                    by_classifier += 1;
                }
            } else {
                missed.push(json!({
                    "text": text,
                    "action": a.action,
                    "top": a.top.as_ref().map(|s| &s.intent),
                    "confidence": a.confidence,
                }));
            }
        } else {
            negatives += 1;
            if caught {
                false_alarms += 1;
                alarms.push(json!({"text": text, "trigger": a.red_flag}));
            }
        }
    }
    let recall: serde_json::Map<String, Value> = by
        .into_iter()
        .map(|(k, (n, c))| {
            (
                k,
                json!({"urgent": n, "caught": c, "recall": round3(c as f64 / n as f64)}),
            )
        })
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "data": file.display().to_string(),
            "model": config.model,
            "threshold_in_use": bot.threshold(),
            "recall": recall,
            "caught_by_trigger": by_trigger,
            "caught_by_classifier": by_classifier,
            "not_urgent": negatives,
            "false_alarms": false_alarms,
            "false_alarm_rate": if negatives > 0 { json!(round3(false_alarms as f64 / negatives as f64)) } else { Value::Null },
            "missed": missed,
            "false_alarm_phrasings": alarms,
        }))?
    );
    Ok(())
}

/// `carechat-lab bench routing`: the routing simulation (`router::sim`), with
/// the router's decisions timed by this machine's clock. One JSON object
/// with each policy's figures keyed by its name.
pub fn bench_routing(
    seed: Option<u64>,
    teams_per_skill: bool,
    json_only: bool,
) -> anyhow::Result<()> {
    let mut config = router::sim::SimConfig::default();
    if let Some(seed) = seed {
        config.seed = seed;
    }
    if teams_per_skill {
        config.teams = config
            .chat_skills
            .iter()
            .map(|(s, _)| (s.clone(), vec![s.clone()]))
            .collect();
    }
    let start = Instant::now();
    let mut clock = || u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let report = router::sim::run(&config, &mut clock);
    let mut policies = serde_json::Map::new();
    for p in &report.policies {
        policies.insert(p.policy.clone(), serde_json::to_value(p)?);
    }
    let out = json!({
        "seed": report.seed,
        "clinicians": config.clinicians,
        "chats": config.chats,
        "baseline_teams": if teams_per_skill { "one per skill" } else { "front office and clinical" },
        "policies": policies,
    });
    if json_only {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}
