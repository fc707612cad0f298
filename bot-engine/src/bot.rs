//! The decision pipeline for one patient message.

use std::sync::Arc;

use redaction::Span;
use serde::{Deserialize, Serialize};

use crate::{
    Embedded, EncoderHandle, IntentModel, LanguageDetector, RedFlags, Result, Scored, Scrubber,
    Signals, SpamScorer, Whitelist, whitelist::Messages,
};

/// What the bot does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A canned reply from the whitelist.
    Answer,
    /// A person takes over.
    Escalate,
    /// An emergency: the emergency reply, and the chat jumps the queue.
    Urgent,
    /// Spam: not answered, not routed.
    Block,
    /// Reads like spam on its words alone, with nothing else against it (no
    /// repeats, no burst, no earlier blocked message): not answered, and
    /// held for a person to look at, not blocked.
    Hold,
}

/// Why a chat went to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    LowConfidence,
    HandoffIntent,
    RedFlag,
}

#[derive(Debug, Clone)]
pub struct BotConfig {
    /// The lowest intent score the bot answers on; below it, a person
    /// helps. `None`: calibrated at start-up on the whitelist's held-out
    /// phrasings ([`calibrate`]).
    pub threshold: Option<f32>,
    /// When the two best intents score within this of each other the
    /// message is ambiguous: a person decides rather than the bot guessing.
    pub margin: f32,
    /// Spam score at or above which a message is blocked.
    pub spam_threshold: f32,
    /// The trained head's share of an intent's score, the rest being the
    /// nearest-neighbour similarity's ([`crate::IntentModel::rank`]).
    pub head_weight: f32,
    /// The lexical head's share of the trained part of the score
    /// ([`crate::LexicalHead`], [`crate::IntentModel::with_lexical`]); 0
    /// leaves it out.
    pub lexical_weight: f32,
    /// The lowest score at which the emergency intent, ranked first by the
    /// model, makes a chat urgent. Below it the chat still goes to a person,
    /// as an ordinary one: a greeting in a script the encoder barely knows
    /// lands nearest *some* intent, and that must not be a 911 reply.
    /// Independent of [`BotConfig::threshold`] on purpose: how sure the bot
    /// must be to answer a FAQ says nothing about emergencies.
    pub urgent_threshold: f32,
    /// Whether the red-flag model ([`crate::UrgencyModel`]) decides beside
    /// the trigger phrases (on by default; docs/bot.md, "Emergencies
    /// first"). Off, the trigger phrases alone decide.
    pub red_flag_model: bool,
    /// The red-flag model's probability at or above which a message is an
    /// emergency with no trigger phrase.
    pub red_flag_model_threshold: f32,
    /// A trigger phrase makes a message an emergency when the red-flag model
    /// gives it at least this: a past event or an idiom ("I had a stroke in
    /// 2019, need my records", "this bill is killing me") holds the words
    /// but reads calm to the model.
    pub trigger_floor: f32,
    /// The clinic's own web domains: a patient pasting a link to one (a
    /// booking page, a form) is not dropping a link.
    pub trusted_domains: Vec<String>,
    /// Whether half the whitelist's out-of-scope questions are learned as a
    /// class of their own ([`crate::IntentModel::train_with_rejection`]),
    /// the other half calibrating the threshold; otherwise they all only
    /// calibrate it.
    pub reject_out_of_scope: bool,
    /// Whether, once the threshold is calibrated, the model is trained
    /// again on the held-out phrasings too (every validation phrasing and
    /// out-of-scope question), keeping the threshold.
    pub refit: bool,
}

impl Default for BotConfig {
    fn default() -> Self {
        BotConfig {
            threshold: None,
            // Measured no better than 0 on the default whitelist (docs/bot.md).
            margin: 0.0,
            // The text model's own threshold, chosen on validation folds
            // of the SMS Spam Collection (docs/bot.md, Spam).
            spam_threshold: crate::DEFAULT_SPAM_THRESHOLD,
            head_weight: crate::DEFAULT_HEAD_WEIGHT,
            lexical_weight: crate::DEFAULT_LEXICAL_WEIGHT,
            urgent_threshold: DEFAULT_URGENT_THRESHOLD,
            red_flag_model: true,
            red_flag_model_threshold: 0.5,
            trigger_floor: 0.1,
            trusted_domains: Vec::new(),
            reject_out_of_scope: true,
            refit: true,
        }
    }
}

/// See [`BotConfig::urgent_threshold`] and docs/bot.md ("Emergencies first")
/// for how it was chosen.
pub const DEFAULT_URGENT_THRESHOLD: f32 = 0.6;

/// The threshold used when there is nothing to calibrate on (a whitelist
/// without validation phrasings or out-of-scope questions).
pub const UNCALIBRATED_THRESHOLD: f32 = 0.62;

/// How much worse a wrong answer is than a needless escalation. A wrong
/// canned reply misleads a patient (a wrong time, a wrong form, a reply to
/// a question that was not asked); an escalation costs a person a minute.
pub const WRONG_ANSWER_COST: f64 = 4.0;

/// The decision threshold and what it gave on the calibration phrasings.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    pub threshold: f32,
    pub in_scope: usize,
    pub out_of_scope: usize,
    /// Shares of the in-scope phrasings answered rightly, answered wrongly
    /// and escalated, and of the out-of-scope ones answered.
    pub in_scope_correct: f64,
    pub in_scope_wrong: f64,
    pub in_scope_escalated: f64,
    pub out_of_scope_answered: f64,
}

/// The policy in one place. For each held-out phrasing the bot knows its
/// best score and, for in-scope ones, whether the best intent was right.
/// Every candidate threshold is priced at [`WRONG_ANSWER_COST`] per share
/// of in-scope phrasings answered wrongly and per share of out-of-scope
/// phrasings answered, and 1 per share of in-scope phrasings escalated
/// that would have been answered rightly; the cheapest wins, the higher of
/// equals (escalating is preferred to guessing). Shares rather than counts,
/// so that how many out-of-scope examples a whitelist has does not tilt it.
pub fn calibrate(in_scope: &[(f32, bool)], out_of_scope: &[f32]) -> Option<Calibration> {
    if in_scope.is_empty() && out_of_scope.is_empty() {
        return None;
    }
    let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let measure = |t: f32| {
        let answered = |s: f32| s >= t;
        let right = in_scope
            .iter()
            .filter(|(s, ok)| *ok && answered(*s))
            .count();
        let wrong = in_scope
            .iter()
            .filter(|(s, ok)| !*ok && answered(*s))
            .count();
        let oos = out_of_scope.iter().filter(|s| answered(**s)).count();
        Calibration {
            threshold: t,
            in_scope: in_scope.len(),
            out_of_scope: out_of_scope.len(),
            in_scope_correct: share(right, in_scope.len()),
            in_scope_wrong: share(wrong, in_scope.len()),
            in_scope_escalated: share(in_scope.len() - right - wrong, in_scope.len()),
            out_of_scope_answered: share(oos, out_of_scope.len()),
        }
    };
    let cost = |c: &Calibration| {
        WRONG_ANSWER_COST * (c.in_scope_wrong + c.out_of_scope_answered)
            + (c.in_scope_escalated
                - share(
                    in_scope
                        .iter()
                        .filter(|(s, ok)| !*ok && *s < c.threshold)
                        .count(),
                    in_scope.len(),
                ))
    };
    // Thresholds just above each observed score, and at the lowest one.
    let mut candidates: Vec<f32> = in_scope
        .iter()
        .map(|(s, _)| *s)
        .chain(out_of_scope.iter().copied())
        .flat_map(|s| [s, s.next_up()])
        .collect();
    candidates.sort_by(f32::total_cmp);
    candidates.dedup();
    let mut best: Option<(f64, Calibration)> = None;
    for t in candidates {
        let c = measure(t);
        let k = cost(&c);
        if best.as_ref().is_none_or(|(b, _)| k <= *b) {
            best = Some((k, c));
        }
    }
    best.map(|(_, c)| c)
}

impl BotConfig {
    /// Answer only on a score at or above `threshold` that is also clearly
    /// ahead of the next intent.
    pub fn confident(&self, threshold: f32, top: f32, runner_up: f32) -> bool {
        top >= threshold && top - runner_up >= self.margin
    }
}

/// What the pipeline knows about the conversation so far.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub previous_language: Option<String>,
    pub browser_language: Option<String>,
    /// The skill of the last intent the bot answered in this conversation:
    /// its topic so far, for intents that [`Intent::inherit_skill`].
    ///
    /// [`Intent::inherit_skill`]: crate::Intent::inherit_skill
    pub previous_skill: Option<String>,
    /// How many times this conversation already sent this exact text.
    pub repeats: usize,
    /// Messages this conversation sent in the last minute.
    pub recent: usize,
    /// The sender (this conversation or its address) already had a message
    /// blocked as spam.
    pub known_bad_sender: bool,
}

/// Everything the pipeline decided about one message.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// The message with PHI replaced by placeholders: the only form stored.
    pub redacted: String,
    pub spans: Vec<Span>,
    pub language: String,
    pub language_confidence: f64,
    pub spam_score: f32,
    pub spam: bool,
    /// The matched intent, when the score cleared the threshold (or a red flag fired).
    pub intent: Option<String>,
    /// The best intent's score, whether or not it cleared the threshold.
    pub confidence: f32,
    pub top: Option<Scored>,
    pub alternatives: Vec<Scored>,
    pub action: Action,
    pub reason: Option<Reason>,
    /// The skill a person needs, when the chat escalates.
    pub skill: Option<String>,
    /// What the patient is told now, in their language when the clinic wrote it.
    pub reply: String,
    /// The red-flag phrase that fired, if any.
    pub red_flag: Option<String>,
}

/// An emergency recognised on the text in memory, before any model queue
/// ([`Bot::emergency`]): what the patient is told at once and where the
/// chat goes. The message's redacted form comes later
/// ([`Scrubber::redact_urgent`]).
#[derive(Debug, Clone)]
pub struct Emergency {
    pub language: String,
    pub language_confidence: f64,
    /// The red-flag trigger that fired.
    pub red_flag: String,
    /// The clinic's emergency intent, when it has one.
    pub intent: Option<String>,
    pub skill: Option<String>,
    /// The emergency reply, in the patient's language when the clinic wrote it.
    pub reply: String,
}

impl Emergency {
    /// The whole assessment, once the message is redacted.
    pub fn assessment(self, redacted: redaction::Redacted) -> Assessment {
        Assessment {
            redacted: redacted.text,
            spans: redacted.spans,
            language: self.language,
            language_confidence: self.language_confidence,
            spam_score: 0.0,
            spam: false,
            intent: self.intent,
            confidence: 1.0,
            top: None,
            alternatives: Vec::new(),
            action: Action::Urgent,
            reason: Some(Reason::RedFlag),
            skill: self.skill,
            reply: self.reply,
            red_flag: Some(self.red_flag),
        }
    }
}

pub struct Bot {
    whitelist: Arc<Whitelist>,
    model: IntentModel,
    threshold: f32,
    calibration: Option<Calibration>,
    encoder: EncoderHandle,
    scrubber: Scrubber,
    red_flags: RedFlags,
    urgency: Option<crate::UrgencyModel>,
    spam: SpamScorer,
    language: LanguageDetector,
    /// The languages the whitelist's examples are written in: the only ones
    /// the lexical head reads ([`crate::LexicalHead`]).
    example_languages: Vec<String>,
    config: BotConfig,
}

/// How many of the whitelist's examples a language needs for the lexical
/// head to read messages in it.
const LEXICAL_MIN_EXAMPLES: usize = 20;

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
            out_of_scope_split(&self.whitelist, false)
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

    /// The threshold in use (configured, or calibrated at start-up).
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// What calibration found, when there were held-out phrasings.
    pub fn calibration(&self) -> Option<&Calibration> {
        self.calibration.as_ref()
    }

    pub fn whitelist(&self) -> &Arc<Whitelist> {
        &self.whitelist
    }

    /// Redaction as the message path does it (rules, and the model when
    /// installed).
    pub fn scrubber(&self) -> &Scrubber {
        &self.scrubber
    }

    pub fn config(&self) -> &BotConfig {
        &self.config
    }

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
        let spam_text = spam_reads.then(|| crate::spam_embedding_text(&redacted.text));
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

    /// `text` for the lexical head when it is in a language the examples
    /// are written in; `None` otherwise.
    fn lexical_text<'a>(&self, text: &'a str, language: &str) -> Option<&'a str> {
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
fn runner_up(ranked: &[Scored], reject: Option<f32>) -> f32 {
    let second = ranked.get(1).map_or(f32::MIN, |s| s.confidence);
    reject.map_or(second, |r| second.max(r))
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
        (true, false) => out_of_scope_split(whitelist, true),
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

/// The out-of-scope questions split in two, alternately: the half the
/// model learns as its out-of-scope class (`learned`), and the half
/// calibration holds out to set the threshold on questions the model has
/// not seen.
fn out_of_scope_split(whitelist: &Whitelist, learned: bool) -> Vec<String> {
    whitelist
        .out_of_scope
        .iter()
        .enumerate()
        .filter(|(i, _)| (i % 2 == 0) == learned)
        .map(|(_, q)| q.clone())
        .collect()
}

/// The red-flag model, fitted on [`crate::urgency_training_set`] as the
/// rules redact it, which is what the model reads.
fn train_urgency(whitelist: &Whitelist, scrubber: &Scrubber) -> crate::UrgencyModel {
    let examples = crate::urgency_training_set(whitelist, scrubber.redactor());
    crate::UrgencyModel::train(&examples, &crate::UrgencyOptions::default())
}

/// Where example embeddings are kept between starts, so that a restart (or
/// a second evaluation run) does not redact and embed thousands of
/// phrasings again. The engine does no I/O: the server implements this.
pub trait EmbeddingCache: Send + Sync {
    fn load(&self, key: &str) -> Option<Vec<Vec<f32>>>;
    fn store(&self, key: &str, vectors: &[Vec<f32>]);
}

/// No cache: embed every time.
pub struct NoCache;

impl EmbeddingCache for NoCache {
    fn load(&self, _: &str) -> Option<Vec<Vec<f32>>> {
        None
    }
    fn store(&self, _: &str, _: &[Vec<f32>]) {}
}

/// The cache key of `texts` as this encoder and scrubber would embed them:
/// a SHA-256 over the model's name, the redaction set-up and every text.
pub fn cache_key(encoder: &EncoderHandle, scrubber: &Scrubber, texts: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"carechat-embeddings-v1\0");
    h.update(encoder.id().as_bytes());
    h.update(b"\0");
    h.update(scrubber.id().as_bytes());
    for t in texts {
        h.update(b"\0");
        h.update(t.as_bytes());
    }
    crate::hex(&h.finalize())
}

/// `texts` redacted as patients' messages are (so "my name is [NAME]" is
/// compared with "my name is [NAME]") and embedded, through `cache`.
async fn embed_cached(
    encoder: &EncoderHandle,
    scrubber: &Scrubber,
    texts: Vec<String>,
    cache: &dyn EmbeddingCache,
) -> Result<Vec<Vec<f32>>> {
    embed_view(encoder, scrubber, texts, cache, false).await
}

/// `texts` as the spam model reads them in [`Bot::assess`]: redacted, links
/// left out ([`crate::spam_embedding_text`]), embedded and pooled both ways
/// ([`crate::Pooled::spam_features`], twice the encoder's width), through
/// `cache`. For `carechat train spam` and `eval spam`.
pub async fn embed_for_spam(
    encoder: &EncoderHandle,
    scrubber: &Scrubber,
    texts: Vec<String>,
    cache: &dyn EmbeddingCache,
) -> Result<Vec<Vec<f32>>> {
    embed_view(encoder, scrubber, texts, cache, true).await
}

/// Redacts `texts`, takes the spam model's view of each if `for_spam`,
/// embeds (the mean for the intents; both poolings for spam).
async fn embed_view(
    encoder: &EncoderHandle,
    scrubber: &Scrubber,
    texts: Vec<String>,
    cache: &dyn EmbeddingCache,
    for_spam: bool,
) -> Result<Vec<Vec<f32>>> {
    let mut key = cache_key(encoder, scrubber, &texts);
    let dim = if for_spam {
        key = format!("spam-mean-max-{key}");
        2 * encoder.dim()
    } else {
        encoder.dim()
    };
    if let Some(v) = cache.load(&key)
        && v.len() == texts.len()
        && v.iter().all(|x| x.len() == dim)
    {
        return Ok(v);
    }
    let redacted = scrubber
        .redact_all(&texts)
        .await?
        .into_iter()
        .map(|r| {
            if for_spam {
                crate::spam_embedding_text(&r.text)
            } else {
                r.text
            }
        })
        .collect();
    let vectors = if for_spam {
        let pooled = encoder.embed_all_pooled(redacted).await?;
        pooled.iter().map(crate::Pooled::spam_features).collect()
    } else {
        encoder.embed_all(redacted).await?
    };
    cache.store(&key, &vectors);
    Ok(vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_only_high_and_clear_scores() {
        let c = BotConfig {
            threshold: Some(0.6),
            margin: 0.05,
            ..BotConfig::default()
        };
        assert!(c.confident(0.6, 0.8, 0.5));
        assert!(!c.confident(0.6, 0.59, 0.1), "below the threshold");
        assert!(!c.confident(0.6, 0.8, 0.77), "a near tie");
        assert!(c.confident(0.6, 0.8, f32::MIN), "a single intent");
    }

    #[test]
    fn calibration_prices_wrong_answers_above_escalations() {
        // Right answers score high, wrong ones and out-of-scope in between.
        let in_scope = [
            (0.9, true),
            (0.85, true),
            (0.8, true),
            (0.7, false),
            (0.65, true),
        ];
        let oos = [0.6, 0.5, 0.72];
        let c = calibrate(&in_scope, &oos).unwrap();
        // Above 0.72 nothing wrong is answered; losing the 0.65 right answer
        // (cost 1/5) is cheaper than answering 0.7 wrongly (4/5).
        assert!(c.threshold > 0.72 && c.threshold <= 0.8, "{c:?}");
        assert_eq!(c.out_of_scope_answered, 0.0);
        assert_eq!(c.in_scope_wrong, 0.0);
        assert!((c.in_scope_correct - 0.6).abs() < 1e-9);
        // With nothing out of scope and every answer right, answer all.
        let c = calibrate(&[(0.3, true), (0.5, true)], &[]).unwrap();
        assert!(c.threshold <= 0.3, "{c:?}");
        assert!(calibrate(&[], &[]).is_none());
    }
}
