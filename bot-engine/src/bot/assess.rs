//! Deciding one message: the red-flag check on the text in memory, then
//! redaction, the spam score, language and the intent head.

use super::*;

impl Bot {
    /// The red-flag decision alone, on the text in memory: no model, no
    /// queue, no spam score and no threshold stand before it, so an
    /// emergency is recognised in microseconds however loaded the server
    /// is. `None` when no trigger fires; [`Bot::assess`] then runs the rest.
    pub fn emergency(&self, text: &str, ctx: &Context) -> Option<Emergency> {
        let trigger = self.red_flags.find(text);
        let fired = match &self.urgency {
            None => trigger?.to_string(),
            Some(model) => {
                // The model reads the rules' redaction (microseconds, no queue).
                let redacted = self.scrubber.redactor().redact(text).text;
                let probability = model.probability(&redacted);
                match trigger {
                    Some(phrase) if probability >= self.config.trigger_floor => phrase.to_string(),
                    _ if probability >= self.config.red_flag_model_threshold => {
                        format!("red-flag model ({probability:.2})")
                    }
                    _ => return None,
                }
            }
        };
        let (language, language_confidence) = self.language.detect(
            text,
            ctx.previous_language.as_deref(),
            ctx.browser_language.as_deref(),
        );
        let (intent, skill, reply) = self.emergency_reply(&language);
        Some(Emergency {
            language,
            language_confidence,
            red_flag: fired,
            intent,
            skill,
            reply,
        })
    }

    /// The emergency intent's id, skill and reply in `language`; a clinic
    /// without one has the chat escalated with the `escalate` message.
    fn emergency_reply(&self, language: &str) -> (Option<String>, Option<String>, String) {
        match self.whitelist.urgent_intent() {
            Some(intent) => (
                Some(intent.id.clone()),
                Some(intent.skill.clone()),
                intent.reply(language).1.to_string(),
            ),
            None => (
                None,
                None,
                Messages::render(&self.whitelist.messages.escalate, language, &[]),
            ),
        }
    }

    /// Runs the whole pipeline on one message. An emergency
    /// ([`Bot::emergency`]) is decided first and then only redacted, through
    /// the PII model's urgent lane; it never gets [`crate::EngineError::Busy`].
    pub async fn assess(&self, text: &str, ctx: &Context) -> Result<Assessment> {
        if let Some(e) = self.emergency(text, ctx) {
            let redacted = self.scrubber.redact_urgent(text).await?;
            return Ok(e.assessment(redacted));
        }
        self.assess_ordinary(text, ctx).await
    }

    /// The pipeline after [`Bot::emergency`] found nothing: for a caller
    /// that asked it first (the server, which answers an emergency before
    /// its redaction), so that the triage does not run twice.
    pub async fn assess_ordinary(&self, text: &str, ctx: &Context) -> Result<Assessment> {
        let (language, language_confidence) = self.language.detect(
            text,
            ctx.previous_language.as_deref(),
            ctx.browser_language.as_deref(),
        );
        let redacted = self.scrubber.redact(text).await?;
        // One encoder call: the redacted text for the intents and, when the
        // spam model reads embeddings and the text has links, the same text
        // without them for the spam score (see `spam_embedding_text`), which
        // reads both poolings of it.
        let spam_reads = self.spam.reads_embeddings_of(self.encoder.id());
        let spam_text = spam_reads.then(|| crate::spam::embedding_text(&redacted.text));
        let mut batch = vec![redacted.text.clone()];
        batch.extend(spam_text.filter(|t| *t != redacted.text));
        let pooled = self.encoder.embed_pooled(batch).await?;
        let spam_vector =
            spam_reads.then(|| pooled.last().expect("one vector per text").spam_features());
        let spam = self.spam.assess_embedded(
            text,
            spam_vector.as_deref().map(|vector| Embedded {
                encoder: self.encoder.id(),
                vector,
            }),
            &Signals {
                repeats: ctx.repeats,
                recent: ctx.recent,
                known_bad: ctx.known_bad_sender,
            },
        );
        let spam_score = spam.score;
        let mut a = Assessment {
            redacted: redacted.text,
            spans: redacted.spans,
            language,
            language_confidence,
            spam_score,
            spam: spam_score >= self.config.spam_threshold,
            intent: None,
            confidence: 0.0,
            top: None,
            alternatives: Vec::new(),
            action: Action::Escalate,
            reason: None,
            skill: None,
            reply: String::new(),
            red_flag: None,
        };
        let (ranked, reject) = self
            .model
            .rank_with_rejection(&pooled[0].mean, self.lexical_text(&a.redacted, &a.language));
        a.alternatives = ranked.iter().skip(1).take(3).cloned().collect();
        a.top = ranked.first().cloned();
        // The emergency intent ranked first goes as urgent on a score well
        // below the FAQ threshold, and before the spam decision (a false
        // alarm costs a nurse a look; a missed emergency costs far more),
        // but not on any score at all: below `urgent_threshold` it is an
        // ordinary message like any other.
        if let Some(top) = ranked.first()
            && top.confidence >= self.config.urgent_threshold
            && let Some(intent) = self.whitelist.intent(&top.intent).filter(|i| i.urgent)
        {
            a.intent = Some(intent.id.clone());
            self.urgent(&mut a, top.confidence);
            return Ok(a);
        }
        if a.spam {
            // Flagged by the words alone: a person looks before anyone is
            // blocked (a false positive costs a patient their answer).
            if spam.behaviour == 0.0 {
                a.action = Action::Hold;
                a.reply = Messages::render(&self.whitelist.messages.held, &a.language, &[]);
            } else {
                a.action = Action::Block;
                a.reply = Messages::render(&self.whitelist.messages.blocked, &a.language, &[]);
            }
            return Ok(a);
        }
        let Some(top) = ranked.first() else {
            return Ok(self.low_confidence(a));
        };
        a.confidence = top.confidence;
        let intent = self
            .whitelist
            .intent(&top.intent)
            .expect("index and whitelist agree");
        if intent.urgent {
            return Ok(self.low_confidence(a));
        }
        let runner_up = runner_up(&ranked, reject);
        if !self
            .config
            .confident(self.threshold, top.confidence, runner_up)
        {
            return Ok(self.low_confidence(a));
        }
        a.intent = Some(intent.id.clone());
        a.reply = intent.reply(&a.language).1.to_string();
        if intent.handoff {
            a.action = Action::Escalate;
            a.reason = Some(Reason::HandoffIntent);
            a.skill = Some(match &ctx.previous_skill {
                Some(topic) if intent.inherit_skill => topic.clone(),
                _ => intent.skill.clone(),
            });
        } else {
            a.action = Action::Answer;
        }
        Ok(a)
    }

    /// `text` for the lexical head when it is in a language the examples
    /// are written in; `None` otherwise.
    pub(super) fn lexical_text<'a>(&self, text: &'a str, language: &str) -> Option<&'a str> {
        self.example_languages
            .iter()
            .any(|l| l == language)
            .then_some(text)
    }

    fn urgent(&self, a: &mut Assessment, confidence: f32) {
        a.action = Action::Urgent;
        a.reason = Some(Reason::RedFlag);
        a.confidence = confidence;
        let (intent, skill, reply) = self.emergency_reply(&a.language);
        // Without an emergency intent, what the model matched stays named.
        if intent.is_some() {
            a.intent = intent;
        }
        a.skill = skill;
        a.reply = reply;
    }

    fn low_confidence(&self, mut a: Assessment) -> Assessment {
        a.action = Action::Escalate;
        a.reason = Some(Reason::LowConfidence);
        a.reply = Messages::render(&self.whitelist.messages.escalate, &a.language, &[]);
        a
    }

    /// The clinic's canned texts that look like they hold PHI about a
    /// person, with where each is and the kinds found. Canned text is sent
    /// and stored as written, never redacted, so a patient's details pasted
    /// into a reply by mistake would reach every patient and the disk: the
    /// server warns at start-up. The clinic's own contact details (its
    /// address, phone, e-mail and web links) are expected there and do not
    /// count; `{name}`-style placeholders are filled with staff names later.
    pub async fn phi_in_canned_text(&self) -> Result<Vec<(String, Vec<redaction::Kind>)>> {
        use redaction::Kind;
        let canned = self.whitelist.canned_texts();
        let texts: Vec<String> = canned.iter().map(|(_, t)| t.to_string()).collect();
        let redacted = self.scrubber.redact_all(&texts).await?;
        let mut out = Vec::new();
        for ((place, text), r) in canned.into_iter().zip(redacted) {
            let mut kinds: Vec<Kind> = r
                .spans
                .iter()
                .filter(|s| {
                    // A name a clinic wrote is capitalised; the PII model
                    // also marks some lower-case Spanish verbs ("vaya").
                    s.kind != Kind::Name
                        || text.chars().nth(s.start).is_some_and(char::is_uppercase)
                })
                .map(|s| s.kind)
                .filter(|k| {
                    !matches!(
                        k,
                        Kind::Address
                            | Kind::Location
                            | Kind::Zip
                            | Kind::Phone
                            | Kind::Email
                            | Kind::Url
                    )
                })
                .collect();
            kinds.sort_by_key(|k| k.as_str());
            kinds.dedup();
            if !kinds.is_empty() {
                out.push((place, kinds));
            }
        }
        Ok(out)
    }

    /// Ranks `text` against the whitelist without the rest of the pipeline:
    /// for evaluation tools. `text` must already be redacted.
    pub async fn rank_redacted(&self, text: &str) -> Result<Vec<Scored>> {
        let query = self.encoder.embed(vec![text.to_string()]).await?;
        let language = self.language.detect(text, None, None).0;
        Ok(self
            .model
            .rank(&query[0], self.lexical_text(text, &language)))
    }

    /// Ranks many already-redacted texts in one go (batched through the
    /// encoder's queue): for evaluation tools.
    pub async fn rank_all_redacted(&self, texts: Vec<String>) -> Result<Vec<Vec<Scored>>> {
        let vectors = self.encoder.embed_all(texts.clone()).await?;
        Ok(vectors
            .iter()
            .zip(&texts)
            .map(|(v, t)| {
                let language = self.language.detect(t, None, None).0;
                self.model.rank(v, self.lexical_text(t, &language))
            })
            .collect())
    }
}

/// The score an answer must clearly beat: the second intent's, or the
/// out-of-scope class's when that is higher.
pub(super) fn runner_up(ranked: &[Scored], reject: Option<f32>) -> f32 {
    let second = ranked.get(1).map_or(f32::MIN, |s| s.confidence);
    reject.map_or(second, |r| second.max(r))
}
