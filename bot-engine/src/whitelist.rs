//! The clinic's intent whitelist: plain TOML files an admin can read and edit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{EngineError, Result};

/// The language replies fall back to when the patient's language has none.
pub const FALLBACK_LANGUAGE: &str = "en";

/// One thing a patient may ask, and what the clinic answers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    /// The file's name without `.toml` (a workbench edit takes it from the
    /// path, so its body may leave it out).
    #[serde(default)]
    pub id: String,
    pub title: String,
    /// The skill a person needs when this intent is escalated.
    pub skill: String,
    /// Always goes to a person; the reply only tells the patient so.
    #[serde(default)]
    pub handoff: bool,
    /// A request for a person on whatever the chat was about ("talk to a
    /// human" after a billing answer): escalated, it asks for the skill of
    /// the conversation's earlier topic when there is one, not `skill`.
    #[serde(default)]
    pub inherit_skill: bool,
    /// An emergency: the reply goes out at once and the chat jumps the queue.
    #[serde(default)]
    pub urgent: bool,
    pub examples: Vec<String>,
    /// Held-out phrasings for calibration and tests; never indexed.
    #[serde(default)]
    pub validation: Vec<String>,
    /// Phrases whose mere presence marks a red flag (urgent intents only).
    #[serde(default)]
    pub triggers: Vec<String>,
    /// Canned reply by language code (`en`, `es`, ...).
    pub replies: BTreeMap<String, String>,
}

impl Intent {
    /// The reply in `language`, or in English when the clinic wrote none.
    pub fn reply(&self, language: &str) -> (&str, &str) {
        pick(&self.replies, language)
    }
}

/// Bot-wide messages, each by language code.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Messages {
    pub welcome: BTreeMap<String, String>,
    pub escalate: BTreeMap<String, String>,
    pub queued: BTreeMap<String, String>,
    pub assigned: BTreeMap<String, String>,
    pub closed: BTreeMap<String, String>,
    pub blocked: BTreeMap<String, String>,
    pub offline: BTreeMap<String, String>,
    /// What a patient in an urgent chat is told while they wait for staff,
    /// in place of `queued` and never `offline` (an emergency is never told
    /// to leave a message). Optional, so that a `messages.toml` written
    /// before it existed still loads.
    #[serde(default = "default_urgent_message")]
    pub urgent: BTreeMap<String, String>,
    /// What a patient is told when their message is held for a person to
    /// look at (it reads like spam, but nothing else about the chat does).
    /// Optional, like `urgent`.
    #[serde(default = "default_held_message")]
    pub held: BTreeMap<String, String>,
    /// Shown before the patient's first message, for them to accept: that
    /// they talk to an automated assistant and then to staff, that the chat
    /// is not for emergencies (and the number to call), and that the
    /// privacy notice says how their words are kept. Empty (the default):
    /// no consent step.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub consent: BTreeMap<String, String>,
}

fn default_held_message() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "en".to_string(),
            "Thanks for your message. A member of our staff will look at it and \
             reply here as soon as possible."
                .to_string(),
        ),
        (
            "es".to_string(),
            "Gracias por su mensaje. Una persona de nuestro equipo lo revisará y \
             le responderá aquí lo antes posible."
                .to_string(),
        ),
    ])
}

fn default_urgent_message() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "en".to_string(),
            "Our clinical staff have been alerted and this chat is first in line. \
             If you may be in danger, do not wait for a reply here: call 911 now."
                .to_string(),
        ),
        (
            "es".to_string(),
            "Nuestro personal clínico ha sido alertado y este chat es el primero en la fila. \
             Si puede estar en peligro, no espere una respuesta aquí: llame al 911 ahora."
                .to_string(),
        ),
    ])
}

fn pick<'a>(by_lang: &'a BTreeMap<String, String>, language: &str) -> (&'a str, &'a str) {
    if let Some((lang, text)) = by_lang.get_key_value(language) {
        return (lang, text);
    }
    if let Some((lang, text)) = by_lang.get_key_value(FALLBACK_LANGUAGE) {
        return (lang, text);
    }
    by_lang
        .iter()
        .next()
        .map(|(l, t)| (l.as_str(), t.as_str()))
        .unwrap_or(("en", ""))
}

impl Messages {
    /// A message in `language` (English when missing), with `{key}` filled in.
    pub fn render(
        by_lang: &BTreeMap<String, String>,
        language: &str,
        vars: &[(&str, &str)],
    ) -> String {
        let mut text = pick(by_lang, language).1.to_string();
        for (key, value) in vars {
            text = text.replace(&format!("{{{key}}}"), value);
        }
        text
    }
}

/// The whole whitelist: intents plus bot-wide messages.
/// `out_of_scope.toml`: questions the bot must not answer, for calibrating
/// its threshold (never indexed).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutOfScope {
    questions: Vec<String>,
}

/// `clinic_tests.toml`: the clinic's own test set, kept beside the
/// whitelist and never indexed nor calibrated on: what each question should
/// get (an intent, or none for a question the bot must not answer).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClinicTests {
    #[serde(default, rename = "case")]
    cases: Vec<Case>,
}

/// A question and the intent it should get (`None`: no answer at all).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub text: String,
    #[serde(default)]
    pub intent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Whitelist {
    pub intents: Vec<Intent>,
    pub messages: Messages,
    /// Questions outside every intent (`out_of_scope.toml`), for calibration.
    pub out_of_scope: Vec<String>,
    /// The clinic's test set (`clinic_tests.toml`): evaluated, never
    /// trained or calibrated on.
    pub clinic_tests: Vec<Case>,
}

impl Whitelist {
    /// Parses the whitelist from `(file name, contents)` pairs: `messages.toml`
    /// holds the bot-wide messages, every other `*.toml` one intent named after
    /// its file. The caller reads the files, so this stays free of I/O.
    pub fn parse<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Whitelist> {
        let mut intents = Vec::new();
        let mut messages = None;
        let mut out_of_scope = Vec::new();
        let mut clinic_tests = Vec::new();
        for (name, text) in files {
            let Some(stem) = name.strip_suffix(".toml") else {
                continue;
            };
            if stem == "messages" {
                messages = Some(
                    toml::from_str::<Messages>(text)
                        .map_err(|e| EngineError::Whitelist(format!("{name}: {e}")))?,
                );
                continue;
            }
            if stem == "out_of_scope" {
                out_of_scope = toml::from_str::<OutOfScope>(text)
                    .map_err(|e| EngineError::Whitelist(format!("{name}: {e}")))?
                    .questions;
                continue;
            }
            if stem == "clinic_tests" {
                clinic_tests = toml::from_str::<ClinicTests>(text)
                    .map_err(|e| EngineError::Whitelist(format!("{name}: {e}")))?
                    .cases;
                continue;
            }
            let intent: Intent =
                toml::from_str(text).map_err(|e| EngineError::Whitelist(format!("{name}: {e}")))?;
            if intent.id != stem {
                return Err(EngineError::Whitelist(format!(
                    "{name}: id {:?} differs from the file name",
                    intent.id
                )));
            }
            if intent.examples.is_empty() {
                return Err(EngineError::Whitelist(format!("{name}: no examples")));
            }
            if !intent.replies.contains_key(FALLBACK_LANGUAGE) {
                return Err(EngineError::Whitelist(format!(
                    "{name}: no English reply ([replies] en = ...)"
                )));
            }
            intents.push(intent);
        }
        let messages =
            messages.ok_or_else(|| EngineError::Whitelist("messages.toml is missing".into()))?;
        if intents.is_empty() {
            return Err(EngineError::Whitelist("no intents".into()));
        }
        intents.sort_by(|a, b| a.id.cmp(&b.id));
        if let Some(pair) = intents.windows(2).find(|p| p[0].id == p[1].id) {
            return Err(EngineError::Whitelist(format!(
                "intent {} defined twice",
                pair[0].id
            )));
        }
        if let Some(case) = clinic_tests.iter().find(|c| {
            c.intent
                .as_ref()
                .is_some_and(|id| !intents.iter().any(|i| &i.id == id))
        }) {
            return Err(EngineError::Whitelist(format!(
                "clinic_tests.toml: {:?} expects intent {:?}, which does not exist",
                case.text,
                case.intent.as_deref().unwrap_or_default()
            )));
        }
        Ok(Whitelist {
            intents,
            messages,
            out_of_scope,
            clinic_tests,
        })
    }

    /// Every intent's example phrasings with their intent's index, in
    /// whitelist order: what the bot indexes, and what `carechat train
    /// encoder` trains on.
    pub fn examples(&self) -> impl Iterator<Item = (usize, &str)> {
        self.intents
            .iter()
            .enumerate()
            .flat_map(|(i, intent)| intent.examples.iter().map(move |e| (i, e.as_str())))
    }

    pub fn intent(&self, id: &str) -> Option<&Intent> {
        self.intents.iter().find(|i| i.id == id)
    }

    /// Every text the clinic wrote for the bot to send, with where it is
    /// (`"intent opening_hours, reply es"`, `"message queued, en"`): the
    /// replies and the bot-wide messages, each language.
    pub fn canned_texts(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        for intent in &self.intents {
            for (lang, text) in &intent.replies {
                out.push((format!("intent {}, reply {lang}", intent.id), text.as_str()));
            }
        }
        let m = &self.messages;
        for (name, by_lang) in [
            ("welcome", &m.welcome),
            ("escalate", &m.escalate),
            ("queued", &m.queued),
            ("assigned", &m.assigned),
            ("closed", &m.closed),
            ("blocked", &m.blocked),
            ("offline", &m.offline),
            ("urgent", &m.urgent),
            ("held", &m.held),
            ("consent", &m.consent),
        ] {
            for (lang, text) in by_lang {
                out.push((format!("message {name}, {lang}"), text.as_str()));
            }
        }
        out
    }

    /// The out-of-scope questions split in two, alternately: the half the
    /// model learns as its out-of-scope class (`learned`), and the half
    /// calibration holds out to set the threshold on questions the model
    /// has not seen.
    pub fn out_of_scope_half(&self, learned: bool) -> Vec<String> {
        self.out_of_scope
            .iter()
            .enumerate()
            .filter(|(i, _)| (i % 2 == 0) == learned)
            .map(|(_, q)| q.clone())
            .collect()
    }

    /// The test cases a new version is judged on, by set: each intent's
    /// validation phrasings, the out-of-scope questions the model does not
    /// learn ([`Self::out_of_scope_half`]), and the clinic's own test set.
    /// A bot built to be judged holds all of them out of its training
    /// (no refit on everything); only the first two tune its threshold.
    pub fn gate_cases(&self) -> [(&'static str, Vec<Case>); 3] {
        let validation = self
            .intents
            .iter()
            .flat_map(|i| {
                i.validation.iter().map(|t| Case {
                    text: t.clone(),
                    intent: Some(i.id.clone()),
                })
            })
            .collect();
        let oos = self
            .out_of_scope_half(false)
            .into_iter()
            .map(|text| Case { text, intent: None })
            .collect();
        [
            ("validation", validation),
            ("out_of_scope", oos),
            ("clinic_tests", self.clinic_tests.clone()),
        ]
    }

    /// The emergency intent, if the clinic has one.
    pub fn urgent_intent(&self) -> Option<&Intent> {
        self.intents.iter().find(|i| i.urgent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGES: &str = r#"
welcome = { en = "Hi", es = "Hola" }
escalate = { en = "A person will help" }
queued = { en = "You are number {position}" }
assigned = { en = "{name} joined" }
closed = { en = "Closed" }
blocked = { en = "Blocked" }
offline = { en = "Offline" }
"#;
    const HOURS: &str = r#"
id = "opening_hours"
title = "Opening hours"
skill = "front_desk"
examples = ["when are you open"]
[replies]
en = "We open at 8."
es = "Abrimos a las 8."
"#;

    #[test]
    fn parses_and_picks_language_with_english_fallback() {
        let w =
            Whitelist::parse([("messages.toml", MESSAGES), ("opening_hours.toml", HOURS)]).unwrap();
        let hours = w.intent("opening_hours").unwrap();
        assert_eq!(hours.reply("es"), ("es", "Abrimos a las 8."));
        assert_eq!(hours.reply("fr"), ("en", "We open at 8."));
        assert_eq!(
            Messages::render(&w.messages.queued, "de", &[("position", "3")]),
            "You are number 3"
        );
    }

    #[test]
    fn rejects_id_that_differs_from_file_name() {
        let err = Whitelist::parse([("messages.toml", MESSAGES), ("hours.toml", HOURS)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("differs from the file name"), "{err}");
    }

    #[test]
    fn rejects_unknown_keys_and_missing_english() {
        let typo = HOURS.replace("examples", "exampels");
        assert!(
            Whitelist::parse([("messages.toml", MESSAGES), ("opening_hours.toml", &typo)]).is_err()
        );
        let no_en = HOURS.replace("en = \"We open at 8.\"", "");
        let err = Whitelist::parse([("messages.toml", MESSAGES), ("opening_hours.toml", &no_en)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no English reply"), "{err}");
    }

    #[test]
    fn messages_file_is_required() {
        assert!(Whitelist::parse([("opening_hours.toml", HOURS)]).is_err());
    }
}
