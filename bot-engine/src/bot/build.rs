//! Building a [`Bot`]: embed the whitelist (or take it from the cache),
//! fit the intent head, calibrate the threshold on held-out phrasings, then
//! refit on everything.

use super::assess::runner_up;
use super::embed::embed_cached;
use super::*;

impl Bot {
    /// Embeds every example in the whitelist (or takes the embeddings from
    /// `cache`), trains the head, and calibrates the threshold on the
    /// held-out phrasings unless `config` sets one.
    pub async fn build(
        whitelist: Arc<Whitelist>,
        encoder: EncoderHandle,
        scrubber: Scrubber,
        config: BotConfig,
        cache: &dyn EmbeddingCache,
    ) -> Result<Bot> {
        let model = train_model(&whitelist, &encoder, &scrubber, &config, cache, false).await?;
        let red_flags = RedFlags::new(
            whitelist
                .intents
                .iter()
                .filter(|i| i.urgent)
                .flat_map(|i| i.triggers.iter().map(String::as_str)),
        );
        let urgency = config
            .red_flag_model
            .then(|| train_urgency(&whitelist, &scrubber));
        let mut bot = Bot {
            whitelist,
            model,
            threshold: config.threshold.unwrap_or(UNCALIBRATED_THRESHOLD),
            calibration: None,
            encoder,
            scrubber,
            red_flags,
            urgency,
            spam: SpamScorer::new().with_trusted_domains(&config.trusted_domains),
            example_languages: Vec::new(),
            language: LanguageDetector::new(),
            config,
        };
        bot.example_languages = bot.languages_of_examples();
        let calibration = bot.calibration_on_held_out(cache).await?;
        if bot.config.threshold.is_none()
            && let Some(c) = &calibration
        {
            bot.threshold = c.threshold;
        }
        bot.calibration = calibration;
        if bot.config.refit && bot.calibration.is_some() {
            // Calibrated: the phrasings held out for it now teach the model
            // too, at the threshold they chose (docs/bot.md, "Ordinary
            // questions").
            bot.model = train_model(
                &bot.whitelist,
                &bot.encoder,
                &bot.scrubber,
                &bot.config,
                cache,
                true,
            )
            .await?;
        }
        Ok(bot)
    }

    /// What the held-out phrasings (each intent's `validation`, and the
    /// whitelist's out-of-scope questions) say about thresholds.
    async fn calibration_on_held_out(
        &self,
        cache: &dyn EmbeddingCache,
    ) -> Result<Option<Calibration>> {
        let mut texts = Vec::new();
        let mut expected = Vec::new();
        for intent in &self.whitelist.intents {
            for v in &intent.validation {
                texts.push(v.clone());
                expected.push(Some(intent.id.as_str()));
            }
        }
        let held_out = if self.config.reject_out_of_scope {
            self.whitelist.out_of_scope_half(false)
        } else {
            self.whitelist.out_of_scope.clone()
        };
        for q in held_out {
            texts.push(q);
            expected.push(None);
        }
        if texts.is_empty() {
            return Ok(None);
        }
        let redacted: Vec<(String, String)> = texts
            .iter()
            .map(|t| {
                let language = self.language.detect(t, None, None).0;
                (self.scrubber.redactor().redact(t).text, language)
            })
            .collect();
        let vectors = embed_cached(&self.encoder, &self.scrubber, texts, cache).await?;
        let mut in_scope = Vec::new();
        let mut out_of_scope = Vec::new();
        for ((v, (text, language)), want) in vectors.iter().zip(&redacted).zip(expected) {
            let (ranked, reject) = self
                .model
                .rank_with_rejection(v, self.lexical_text(text, language));
            let Some(top) = ranked.first() else { continue };
            // A near tie (with another intent or with out of scope) is
            // escalated whatever the score: it counts as not answered at any
            // threshold.
            let runner_up = runner_up(&ranked, reject);
            let score = if top.confidence - runner_up >= self.config.margin {
                top.confidence
            } else {
                f32::MIN
            };
            match want {
                Some(id) => in_scope.push((score, top.intent == id)),
                None => out_of_scope.push(score),
            }
        }
        Ok(calibrate(&in_scope, &out_of_scope))
    }

    /// The languages of the whitelist's examples, each with at least
    /// [`LEXICAL_MIN_EXAMPLES`] of them.
    fn languages_of_examples(&self) -> Vec<String> {
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for (_, example) in self.whitelist.examples() {
            *counts
                .entry(self.language.detect(example, None, None).0)
                .or_default() += 1;
        }
        counts
            .into_iter()
            .filter(|&(_, n)| n >= LEXICAL_MIN_EXAMPLES)
            .map(|(language, _)| language)
            .collect()
    }
}

/// The intent model on the whitelist's examples and, with
/// `reject_out_of_scope`, the learned half of its out-of-scope questions;
/// with `everything`, also on the validation phrasings and the other half
/// (after calibration).
async fn train_model(
    whitelist: &Whitelist,
    encoder: &EncoderHandle,
    scrubber: &Scrubber,
    config: &BotConfig,
    cache: &dyn EmbeddingCache,
    everything: bool,
) -> Result<IntentModel> {
    let (labels, examples): (Vec<usize>, Vec<String>) = whitelist
        .intents
        .iter()
        .enumerate()
        .flat_map(|(i, intent)| {
            let held_out = if everything {
                &intent.validation[..]
            } else {
                &[]
            };
            intent
                .examples
                .iter()
                .chain(held_out)
                .map(move |e| (i, e.clone()))
        })
        .unzip();
    let learned = match (config.reject_out_of_scope, everything) {
        (false, _) => Vec::new(),
        (true, false) => whitelist.out_of_scope_half(true),
        (true, true) => whitelist.out_of_scope.clone(),
    };
    // The lexical head learns the same classes from the rules-redacted
    // texts (the out-of-scope class, when learned, after the intents).
    let lexical = (config.lexical_weight > 0.0).then(|| {
        let reject = whitelist.intents.len();
        let texts: Vec<(usize, String)> = labels
            .iter()
            .copied()
            .zip(&examples)
            .chain(learned.iter().map(|q| (reject, q)))
            .map(|(l, t)| (l, scrubber.redactor().redact(t).text))
            .collect();
        let classes = reject + usize::from(!learned.is_empty());
        crate::LexicalHead::train(classes, &texts)
    });
    // Training the head takes seconds; a head trained on the same examples
    // the same way is kept in `cache` like the embeddings.
    let head_key = {
        let mut what = vec![crate::Head::recipe()];
        what.extend(
            labels
                .iter()
                .zip(&examples)
                .map(|(l, t)| format!("{l}\t{t}")),
        );
        what.extend(learned.iter().map(|q| format!("out of scope\t{q}")));
        format!("intent-head-{}", cache_key(encoder, scrubber, &what))
    };
    let vectors = embed_cached(encoder, scrubber, examples, cache).await?;
    let rejection = if learned.is_empty() {
        Vec::new()
    } else {
        embed_cached(encoder, scrubber, learned, cache).await?
    };
    let mut model = IntentModel::build(
        whitelist.intents.iter().map(|i| i.id.clone()).collect(),
        labels.into_iter().zip(vectors).collect(),
        rejection,
        encoder.dim(),
        |classes, examples, dim| {
            if let Some(head) = cache
                .load(&head_key)
                .and_then(|rows| crate::Head::from_parts(rows, dim))
                .filter(|head| head.classes() == classes)
            {
                return Ok(head);
            }
            let head = crate::Head::train(classes, examples, dim)?;
            cache.store(&head_key, &head.parts());
            Ok(head)
        },
    )?
    .with_head_weight(config.head_weight);
    if let Some(head) = lexical {
        model = model.with_lexical(head, config.lexical_weight);
    }
    Ok(model)
}

/// The red-flag model, fitted on [`crate::urgency_training_set`] as the
/// rules redact it, which is what the model reads.
fn train_urgency(whitelist: &Whitelist, scrubber: &Scrubber) -> crate::UrgencyModel {
    let examples = crate::urgency_training_set(whitelist, scrubber.redactor());
    crate::UrgencyModel::train(&examples, &crate::UrgencyOptions::default())
}
