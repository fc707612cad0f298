//! Loading the whitelist and starting the bot: shared by the server, the CLIs
//! and the lab (`carechat-lab`), so that what it measures is what runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use bot_engine::{Bot, BotConfig, Encoder, EncoderHandle, Scrubber, TUNED_RECORD, Whitelist};
use redaction::Redactor;
use redaction::model::NerModel;
use sha2::{Digest, Sha256};

use crate::config::Config;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/default_intents.rs"));
}

/// One file of the built-in whitelist, by name (`messages.toml`, ...).
pub fn default_file(name: &str) -> Option<&'static str> {
    embedded::DEFAULT_INTENTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// The whitelist's files (name to text) from `dir`, or the defaults built
/// into the binary when `dir` does not exist.
pub fn whitelist_files(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    if !dir.exists() {
        tracing::info!(dir = %dir.display(), "no intents directory; using the built-in whitelist");
        return Ok(embedded::DEFAULT_INTENTS
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect());
    }
    let mut files = BTreeMap::new();
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
            files.insert(name, text);
        }
    }
    Ok(files)
}

/// The whitelist from `dir`, or the defaults built into the binary when `dir`
/// does not exist.
pub fn load_whitelist(dir: &Path) -> anyhow::Result<Whitelist> {
    let files = whitelist_files(dir)?;
    Whitelist::parse(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
        .with_context(|| format!("loading the whitelist from {}", dir.display()))
}

/// The directory of `spec` under `models_dir`, pulling it first if missing.
pub(crate) async fn ensure_model(
    spec: &'static model_pull::ModelSpec,
    models_dir: &Path,
) -> anyhow::Result<PathBuf> {
    let models_dir = models_dir.to_path_buf();
    tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        if !spec.is_installed(&models_dir) {
            eprintln!(
                "the model {} is not installed yet: pulling it first",
                spec.name
            );
            model_pull::pull(spec, &models_dir, None)?;
        }
        Ok(models_dir.join(spec.name))
    })
    .await?
}

/// The configured sentence encoder's directory: a model `carechat models
/// pull` knows (pulled first if missing), or a directory of its own, such as
/// one `carechat train encoder` wrote, under `models_dir` or at a path.
pub async fn encoder_dir(config: &Config) -> anyhow::Result<PathBuf> {
    if let Ok(spec) = model_pull::spec(&config.model) {
        return ensure_model(spec, &config.models_dir).await;
    }
    let dir = config.models_dir.join(&config.model);
    let files = ["config.json", "tokenizer.json", "model.safetensors"];
    if files.iter().all(|f| dir.join(f).is_file()) {
        return Ok(dir);
    }
    let known: Vec<_> = model_pull::MODELS.iter().map(|m| m.name).collect();
    anyhow::bail!(
        "unknown sentence encoder {:?}: not a model `carechat models pull` knows ({}), \
         nor a directory holding {} (looked in {})",
        config.model,
        known.join(", "),
        files.join(", "),
        dir.display()
    )
}

/// The PII model as configured, pulled first if missing; None when
/// `redaction_model` is off. Blocking: for the CLIs.
pub fn load_pii_model(config: &Config) -> anyhow::Result<Option<NerModel>> {
    if !config.redaction_model {
        return Ok(None);
    }
    let spec = model_pull::spec(model_pull::PII_MODEL)?;
    if !spec.is_installed(&config.models_dir) {
        eprintln!(
            "the model {} is not installed yet: pulling it first",
            spec.name
        );
        model_pull::pull(spec, &config.models_dir, None)?;
    }
    let model = bot_engine::load_pii_model(&config.models_dir.join(spec.name), config.products())
        .context("loading the PII model")?;
    Ok(Some(model.with_threshold(config.redaction_threshold)))
}

/// Redaction as configured: the rules, plus the PII model (pulled if
/// missing) unless `redaction_model` is off.
pub async fn start_scrubber(config: &Config) -> anyhow::Result<Scrubber> {
    let redactor = Arc::new(Redactor::new());
    if !config.redaction_model {
        return Ok(Scrubber::rules(redactor));
    }
    let dir = ensure_model(model_pull::spec(model_pull::PII_MODEL)?, &config.models_dir).await?;
    let products = config.products();
    let model = tokio::task::spawn_blocking(move || bot_engine::load_pii_model(&dir, products))
        .await?
        .context("loading the PII model")?
        .with_threshold(config.redaction_threshold);
    let scrubber = Scrubber::with_model(redactor, model, config.encoder_queue);
    // The first passes through a model are slower (allocations, caches).
    for _ in 0..3 {
        scrubber
            .redact("warming up with Jane Doe at 1 Main St")
            .await?;
    }
    Ok(scrubber)
}

/// The start-up check on the clinic's canned text, which is sent and stored
/// as written: a warning naming the reply and the kinds of PHI found (never
/// the text itself).
async fn warn_of_phi_in_canned_text(bot: &Bot) -> anyhow::Result<()> {
    for (place, kinds) in bot.phi_in_canned_text().await? {
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        tracing::warn!(
            canned = %place,
            kinds = %kinds.join(","),
            "this canned text looks like it holds PHI; it is sent and stored as written, so check it"
        );
    }
    Ok(())
}

/// Pulls the models if they are missing, loads them on their own threads,
/// embeds the whitelist and warms up: when this returns, the bot answers at
/// full speed.
pub async fn start_bot(config: &Config) -> anyhow::Result<Arc<Bot>> {
    start_bot_with(config, Arc::new(load_whitelist(&config.intents_dir)?)).await
}

/// [`start_bot`] on a whitelist already loaded (the server's live version).
pub async fn start_bot_with(
    config: &Config,
    whitelist: Arc<Whitelist>,
) -> anyhow::Result<Arc<Bot>> {
    let dir = encoder_dir(config).await?;
    check_tuned_for(&dir, &whitelist);
    let products = config.products();
    let encoder = tokio::task::spawn_blocking(move || Encoder::load(&dir, products))
        .await?
        .context("loading the sentence encoder")?;
    let handle = EncoderHandle::spawn(encoder, config.encoder_queue);
    let scrubber = start_scrubber(config).await?;
    let bot = Bot::build(
        whitelist,
        handle.clone(),
        scrubber,
        BotConfig {
            threshold: config.threshold,
            margin: config.margin,
            head_weight: config.head_weight,
            lexical_weight: config.lexical_weight,
            urgent_threshold: config.urgent_threshold,
            red_flag_model: config.red_flag_model,
            reject_out_of_scope: config.reject_out_of_scope,
            refit: config.refit,
            trusted_domains: config.trusted_domains.clone(),
            ..BotConfig::default()
        },
        &crate::cache::FileCache::new(&config.models_dir),
    )
    .await
    .context("embedding the whitelist")?;
    match bot.calibration() {
        Some(c) if config.threshold.is_none() => tracing::info!(
            threshold = c.threshold,
            in_scope = c.in_scope,
            out_of_scope = c.out_of_scope,
            "calibrated the answer threshold"
        ),
        _ => tracing::info!(threshold = bot.threshold(), "answer threshold"),
    }
    warn_of_phi_in_canned_text(&bot).await?;
    for _ in 0..3 {
        handle.embed(vec!["warming up the encoder".into()]).await?;
    }
    Ok(Arc::new(bot))
}

/// The translation models: the configured directories and every directory
/// under `<models_dir>/translate/`. `None` when there are none.
pub(crate) async fn load_translations(
    config: &Config,
) -> anyhow::Result<Option<Arc<translate::Translations>>> {
    let mut dirs = config.translation_models.clone();
    let shelf = config.models_dir.join("translate");
    if let Ok(entries) = std::fs::read_dir(&shelf) {
        let mut found: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            // Hidden directories are installs in progress (or left by one
            // that was interrupted), not models.
            .filter(|p| {
                p.is_dir()
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        found.sort();
        dirs.extend(found);
    }
    if dirs.is_empty() {
        return Ok(None);
    }
    let translations =
        tokio::task::spawn_blocking(move || translate::Translations::load_dirs(&dirs))
            .await?
            .context("loading the translation models")?;
    let pairs: Vec<String> = translations
        .pairs()
        .map(|(f, t)| format!("{f}->{t}"))
        .collect();
    tracing::info!(pairs = %pairs.join(","), "translation models loaded");
    Ok(Some(Arc::new(translations)))
}

/// A SHA-256 over every intent's examples, as the whitelist holds them: what
/// a tuned encoder records it was trained on.
pub(crate) fn examples_digest(whitelist: &Whitelist) -> String {
    let mut digest = Sha256::new();
    for (i, example) in whitelist.examples() {
        digest.update(whitelist.intents[i].id.as_bytes());
        digest.update([0]);
        digest.update(example.as_bytes());
        digest.update([0]);
    }
    hex::encode(digest.finalize())
}

/// Warns when `dir` is an encoder tuned on other examples than
/// `whitelist`'s (the whitelist was edited since): it still works, but it
/// separates the intents it was trained on, so it should be retrained.
pub(crate) fn check_tuned_for(dir: &Path, whitelist: &Whitelist) {
    if tuned_for_other_examples(dir, whitelist) {
        tracing::warn!(
            model = %dir.display(),
            "the sentence encoder was tuned on other examples than this whitelist's; \
             retrain it with `carechat train encoder` for the best answers"
        );
    }
}

/// Whether `dir` is a tuned encoder whose record names other examples than
/// `whitelist`'s (false for an encoder that was never tuned).
fn tuned_for_other_examples(dir: &Path, whitelist: &Whitelist) -> bool {
    let Ok(bytes) = std::fs::read(dir.join(TUNED_RECORD)) else {
        return false;
    };
    let trained = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|r| r.get("examples_sha256")?.as_str().map(str::to_string));
    trained.as_deref() != Some(examples_digest(whitelist).as_str())
}

/// The live whitelist version from the store; on the first start, the
/// whitelist from `intents_dir` (or the built-in one), stored as version 1
/// (the admins' workbench edits it from there; `carechat intents import`
/// brings a folder in as a draft).
pub async fn live_whitelist(config: &Config, store: &store::SqlStore) -> anyhow::Result<Whitelist> {
    use store::Whitelists;
    let files = match store.live_whitelist().await? {
        Some(v) => {
            // Edits to the folder after the first start do nothing until
            // imported: say so rather than leave them silently ignored.
            if config.intents_dir.exists()
                && whitelist_files(&config.intents_dir).is_ok_and(|f| f != v.files)
            {
                tracing::warn!(
                    dir = %config.intents_dir.display(),
                    version = v.id,
                    "the intents folder differs from the live whitelist version, which is what runs; \
                     `carechat intents import` it and publish from the workbench to use it"
                );
            }
            v.files
        }
        None => {
            let files = whitelist_files(&config.intents_dir)?;
            Whitelist::parse(files.iter().map(|(n, t)| (n.as_str(), t.as_str()))).with_context(
                || {
                    format!(
                        "loading the whitelist from {}",
                        config.intents_dir.display()
                    )
                },
            )?;
            let v = store
                .publish_whitelist(
                    store::NewWhitelistVersion {
                        files,
                        created_by: None,
                        note: format!("seeded from {}", config.intents_dir.display()),
                        evaluation: None,
                        override_reason: None,
                    },
                    None,
                )
                .await?;
            tracing::info!(
                version = v.id,
                "the whitelist is stored as its first version"
            );
            v.files
        }
    };
    Whitelist::parse(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
        .context("loading the live whitelist version")
}

/// Builds bots for new whitelist versions on the running bot's encoder and
/// redaction (the admins' workbench); unavailable until the bot is warm.
pub struct BotWorkshop {
    pub base: Arc<std::sync::OnceLock<Arc<Bot>>>,
    pub cache: crate::cache::FileCache,
}

#[async_trait::async_trait]
impl service::Workshop for BotWorkshop {
    async fn build(
        &self,
        whitelist: Arc<Whitelist>,
        judged: bool,
    ) -> anyhow::Result<Arc<dyn service::Assistant>> {
        let base = self
            .base
            .get()
            .context("the bot is still starting; try again in a moment")?;
        let bot = base
            .rebuild(whitelist, &self.cache, judged)
            .await
            .context("embedding the new whitelist")?;
        if !judged {
            warn_of_phi_in_canned_text(&bot).await?;
        }
        Ok(Arc::new(bot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn whitelist(example: &str) -> Whitelist {
        let toml = format!(
            "id = \"opening_hours\"\ntitle = \"Hours\"\nskill = \"front_desk\"\n\
             examples = [\"{example}\"]\n[replies]\nen = \"We open at 8.\"\n"
        );
        let messages = default_file("messages.toml").unwrap();
        Whitelist::parse([
            ("messages.toml", messages),
            ("opening_hours.toml", toml.as_str()),
        ])
        .unwrap()
    }

    #[test]
    fn a_tuned_encoder_knows_whether_the_whitelist_changed() {
        let dir = tempfile::tempdir().unwrap();
        let trained = whitelist("when do you open");
        assert!(
            !tuned_for_other_examples(dir.path(), &trained),
            "not tuned at all"
        );
        std::fs::write(
            dir.path().join(TUNED_RECORD),
            json!({"examples_sha256": examples_digest(&trained)}).to_string(),
        )
        .unwrap();
        assert!(!tuned_for_other_examples(dir.path(), &trained));
        assert!(tuned_for_other_examples(
            dir.path(),
            &whitelist("are you open today")
        ));
        std::fs::write(dir.path().join(TUNED_RECORD), "not json").unwrap();
        assert!(tuned_for_other_examples(dir.path(), &trained));
    }
}
