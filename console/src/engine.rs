//! Loading the whitelist and starting the bot: shared by the server and the CLIs.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use bot_engine::{Bot, BotConfig, Encoder, EncoderHandle, Whitelist};
use redaction::Redactor;

use crate::config::Config;
use crate::models;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/default_intents.rs"));
}

/// The whitelist from `dir`, or the defaults built into the binary when `dir`
/// does not exist.
pub fn load_whitelist(dir: &Path) -> anyhow::Result<Whitelist> {
    if !dir.exists() {
        tracing::info!(dir = %dir.display(), "no intents directory; using the built-in whitelist");
        return Ok(Whitelist::parse(embedded::DEFAULT_INTENTS.iter().copied())?);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "toml") {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            files.push((name, text));
        }
    }
    Whitelist::parse(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
        .with_context(|| format!("loading the whitelist from {}", dir.display()))
}

/// Pulls the model if it is missing, loads it on its own thread, embeds the
/// whitelist and warms up: when this returns, the bot answers at full speed.
pub async fn start_bot(config: &Config) -> anyhow::Result<Arc<Bot>> {
    let whitelist = Arc::new(load_whitelist(&config.intents_dir)?);
    let spec = models::spec(&config.model)?;
    let models_dir = config.models_dir.clone();
    let dir = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        if !spec.is_installed(&models_dir) {
            eprintln!(
                "the model {} is not installed yet: pulling it first",
                spec.name
            );
            models::pull(spec, &models_dir, None)?;
        }
        Ok(models_dir.join(spec.name))
    })
    .await??;
    let encoder = tokio::task::spawn_blocking(move || Encoder::load(&dir))
        .await?
        .context("loading the sentence encoder")?;
    let handle = EncoderHandle::spawn(encoder, config.encoder_queue);
    let bot = Bot::build(
        whitelist,
        handle.clone(),
        Arc::new(Redactor::new()),
        BotConfig {
            threshold: config.threshold,
            margin: config.margin,
            ..BotConfig::default()
        },
    )
    .await
    .context("embedding the whitelist")?;
    // The first passes through a model are slower (allocations, caches).
    for _ in 0..3 {
        handle.embed(vec!["warming up the encoder".into()]).await?;
    }
    Ok(Arc::new(bot))
}
