//! `carechat train encoder`: fine-tunes the sentence encoder on a
//! whitelist's examples (bot-engine's `tune` says how) and writes a model
//! directory the bot loads like any other (`model = "NAME"`).

use std::time::Instant;

use anyhow::Context;
use bot_engine::train::tune::{Progress, TuneExample, TuneOptions, fine_tune};
use bot_engine::{Encoder, TUNED_RECORD};
use serde_json::json;

use crate::config::Config;

/// Tunes `config.model` on the examples of `config.intents_dir` and writes
/// the result to `<models_dir>/<out>`.
pub async fn train(config: &Config, out: &str, options: TuneOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        !out.is_empty() && !out.contains(['/', '\\']) && out != "." && out != "..",
        "--out names a directory under {} (no slashes)",
        config.models_dir.display()
    );
    anyhow::ensure!(
        model_pull::spec(out).is_err(),
        "--out {out:?} is the name of a model `carechat models pull` installs: choose another"
    );
    let out_dir = config.models_dir.join(out);
    if out_dir.exists() {
        anyhow::ensure!(
            out_dir.join(TUNED_RECORD).is_file(),
            "{} exists and is not a tuned encoder: choose another name",
            out_dir.display()
        );
    }
    let whitelist = crate::engine::load_whitelist(&config.intents_dir)?;
    let base = crate::engine::encoder_dir(config).await?;
    let scrubber = crate::engine::start_scrubber(config).await?;

    // The examples as the bot embeds them: redacted first.
    let (labels, texts): (Vec<usize>, Vec<String>) = whitelist
        .examples()
        .map(|(i, e)| (i, e.to_string()))
        .unzip();
    eprintln!(
        "redacting {} examples of {} intents",
        texts.len(),
        whitelist.intents.len()
    );
    let redacted: Vec<String> = scrubber
        .redact_all(&texts)
        .await?
        .into_iter()
        .map(|r| r.text)
        .collect();
    let examples_sha256 = crate::engine::examples_digest(&whitelist);
    let classes = whitelist.intents.len();
    let model_name = config.model.clone();

    // Written beside the target and renamed into place, so a failed run
    // leaves the previous model (a server may be running on it) whole.
    let staging = config
        .models_dir
        .join(format!(".{out}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let (out_dir2, staging2) = (out_dir.clone(), staging.clone());
    let written = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let read = |name: &str| {
            std::fs::read(base.join(name))
                .with_context(|| format!("reading {}", base.join(name).display()))
        };
        let tokenizer =
            Encoder::load(&base, bert::Products::Float).context("loading the sentence encoder")?;
        let examples = redacted
            .iter()
            .zip(&labels)
            .map(|(text, &label)| {
                Ok(TuneExample {
                    ids: tokenizer.ids(text)?,
                    label,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        drop(tokenizer);
        let bert_config = bert::Config::from_json(&read("config.json")?)?;
        let tensors = bert::load_safetensors(&read("model.safetensors")?)?;
        let started = Instant::now();
        let mut last = None;
        let mut report = |p: &Progress| {
            if p.step == p.steps || p.step.is_multiple_of(50) {
                eprintln!(
                    "epoch {}/{} step {}/{}: loss {:.4}, training accuracy {:.2}% ({:.0} s)",
                    p.epoch + 1,
                    options.epochs,
                    p.step,
                    p.steps,
                    p.loss,
                    100.0 * p.accuracy,
                    started.elapsed().as_secs_f64()
                );
            }
            last = Some(p.clone());
        };
        let tuned = fine_tune(
            &bert_config,
            &tensors,
            &examples,
            classes,
            &options,
            &mut report,
        )?;
        let seconds = started.elapsed().as_secs_f64();
        std::fs::create_dir_all(&staging2)
            .with_context(|| format!("creating {}", staging2.display()))?;
        for name in ["config.json", "tokenizer.json", "carechat.json"] {
            if base.join(name).is_file() {
                std::fs::copy(base.join(name), staging2.join(name))
                    .with_context(|| format!("writing {}", staging2.join(name).display()))?;
            }
        }
        let weights = staging2.join("model.safetensors");
        candle_core::safetensors::save(&tuned, &weights)
            .with_context(|| format!("writing {}", weights.display()))?;
        let last = last.context("no training step ran")?;
        let record = json!({
            "base": model_name,
            "intents": classes,
            "examples": examples.len(),
            "examples_sha256": examples_sha256,
            "options": {
                "epochs": options.epochs,
                "batch": options.batch,
                "learning_rate": options.learning_rate,
                "head_learning_rate": options.head_learning_rate,
                "scale": options.scale,
                "margin": options.margin,
                "dropout": options.dropout,
                "seed": options.seed,
            },
            "final_epoch_loss": last.loss,
            "final_epoch_training_accuracy": last.accuracy,
            "seconds": seconds,
        });
        std::fs::write(
            staging2.join(TUNED_RECORD),
            serde_json::to_vec_pretty(&record)?,
        )?;
        if out_dir2.exists() {
            std::fs::remove_dir_all(&out_dir2)
                .with_context(|| format!("replacing {}", out_dir2.display()))?;
        }
        std::fs::rename(&staging2, &out_dir2)
            .with_context(|| format!("writing {}", out_dir2.display()))?;
        Ok(())
    })
    .await?;
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    written?;
    eprintln!(
        "wrote {}: run with --model {out} (or model = {out:?} in carechat.toml)",
        out_dir.display()
    );
    Ok(())
}
