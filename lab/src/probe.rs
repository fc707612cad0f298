//! The probes: a model's raw output for each line of stdin, as JSON lines,
//! for checking Carechat's converted models against their original engines
//! (`lab/dev/check_pii_ner.py`, `lab/dev/check_e5.py`,
//! `lab/dev/spam_embedding_probe.py`).

use std::io::{BufRead, Write};

use anyhow::Context;
use carechat::config::Config;
use redaction::model::NerModel;
use serde_json::json;

/// `carechat-lab eval ner-logits`: the PII model's tokens, their offsets and
/// its logits.
pub fn ner_logits(model: &NerModel) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let t = model.logits(&line)?;
        serde_json::to_writer(
            &mut stdout,
            &json!({"text": line, "tokens": t.tokens, "offsets": t.offsets, "logits": t.logits}),
        )?;
        stdout.write_all(b"\n")?;
    }
    Ok(())
}

/// `carechat-lab eval embed`: each line of stdin through the configured
/// sentence encoder, exactly as the bot embeds a message (prefix,
/// tokenizer, pooling), with its pieces.
pub async fn embed(config: &Config) -> anyhow::Result<()> {
    let dir = carechat::engine::encoder_dir(config).await?;
    let products = config.products();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let encoder =
            bot_engine::Encoder::load(&dir, products).context("loading the sentence encoder")?;
        let mut stdout = std::io::stdout().lock();
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            let embedding = encoder.embed(&[line.as_str()])?.remove(0);
            let pieces = encoder.pieces(&line)?;
            serde_json::to_writer(
                &mut stdout,
                &json!({"text": line, "pieces": pieces, "embedding": embedding}),
            )?;
            stdout.write_all(b"\n")?;
        }
        Ok(())
    })
    .await?
}
