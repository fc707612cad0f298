//! `carechat-lab eval questions FILE`: what the bot does with realistic
//! patient questions, the way issue 16 scores it: the right intent (a
//! handoff intent counts when the chat is escalated to its skill), wrong
//! answers (a canned reply for another intent), out-of-scope questions
//! answered, and the rest (escalated as unsure, false alarms, blocked).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use bot_engine::{Action, Assessment, Whitelist};
use carechat::config::Config;
use serde::Deserialize;
use serde_json::{Value, json};

/// One line of the file: the question, its language and the intent it
/// belongs to (`null`: out of scope).
#[derive(Debug, Deserialize)]
struct Question {
    text: String,
    #[serde(default)]
    lang: Option<String>,
    intent: Option<String>,
}

/// What became of one question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// In scope: its intent's reply, or its handoff to the intent's skill.
    Right,
    /// In scope: another intent's canned reply.
    Wrong,
    /// In scope: escalated to a person without its intent (or to another
    /// skill than its handoff intent's).
    Escalated,
    /// Out of scope and not answered (escalated or told the bot cannot help).
    OutOfScopeKept,
    /// Out of scope and answered with a canned reply.
    OutOfScopeAnswered,
    /// Given the emergency reply.
    Urgent,
    /// Blocked as spam, or held for staff as possible spam.
    Blocked,
}

impl Outcome {
    fn key(self) -> &'static str {
        match self {
            Outcome::Right => "right",
            Outcome::Wrong => "wrong_answer",
            Outcome::Escalated => "escalated",
            Outcome::OutOfScopeKept => "out_of_scope_not_answered",
            Outcome::OutOfScopeAnswered => "out_of_scope_answered",
            Outcome::Urgent => "urgent",
            Outcome::Blocked => "blocked",
        }
    }
}

fn outcome(whitelist: &Whitelist, expected: Option<&str>, a: &Assessment) -> Outcome {
    match a.action {
        Action::Urgent => return Outcome::Urgent,
        Action::Block | Action::Hold => return Outcome::Blocked,
        _ => {}
    }
    let Some(expected) = expected else {
        return if a.action == Action::Answer {
            Outcome::OutOfScopeAnswered
        } else {
            Outcome::OutOfScopeKept
        };
    };
    if a.intent.as_deref() == Some(expected) {
        return Outcome::Right;
    }
    if a.action == Action::Answer {
        return Outcome::Wrong;
    }
    // Escalated: right when the question's intent is itself a handoff and
    // the chat went to the skill that intent would have sent it to.
    let handoff_skill = whitelist
        .intent(expected)
        .filter(|i| i.handoff)
        .map(|i| i.skill.as_str());
    if handoff_skill.is_some() && a.skill.as_deref() == handoff_skill {
        Outcome::Right
    } else {
        Outcome::Escalated
    }
}

/// Runs every question through the whole pipeline (one at a time, a fresh
/// conversation each) and prints the figures as JSON, overall and by
/// language; with `show`, also each question that was not right.
pub async fn eval_questions(config: &Config, file: &Path, show: bool) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut questions = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let q: Question = serde_json::from_str(line).with_context(|| {
            format!(
                "{} line {}: needs `text` and `intent` (an id or null)",
                file.display(),
                n + 1
            )
        })?;
        questions.push(q);
    }
    anyhow::ensure!(!questions.is_empty(), "no questions in {}", file.display());
    let bot = carechat::engine::start_bot(config).await?;
    for q in &questions {
        if let Some(id) = &q.intent {
            anyhow::ensure!(
                bot.whitelist().intent(id).is_some(),
                "{}: intent {id:?} is not in the whitelist",
                file.display()
            );
        }
    }
    // Counts of each outcome, by group ("all", "lang:en", ...).
    let mut counts: BTreeMap<String, BTreeMap<&'static str, usize>> = BTreeMap::new();
    let mut not_right = Vec::new();
    for q in &questions {
        let a = bot.assess(&q.text, &bot_engine::Context::default()).await?;
        let o = outcome(bot.whitelist(), q.intent.as_deref(), &a);
        let lang = q.lang.as_deref().unwrap_or("?");
        for group in ["all".to_string(), format!("lang:{lang}")] {
            let scope = if q.intent.is_some() {
                "in_scope"
            } else {
                "out_of_scope"
            };
            let c = counts.entry(group).or_default();
            *c.entry(scope).or_default() += 1;
            *c.entry(o.key()).or_default() += 1;
        }
        if show && !matches!(o, Outcome::Right | Outcome::OutOfScopeKept) {
            not_right.push(json!({
                "text": q.text,
                "expected": q.intent,
                "outcome": o.key(),
                "intent": a.intent,
                "top": a.top.as_ref().map(|s| (&s.intent, s.confidence)),
                "second": a.alternatives.first().map(|s| (&s.intent, s.confidence)),
            }));
        }
    }
    let rate = |n: usize, d: usize| {
        if d == 0 {
            Value::Null
        } else {
            json!((n as f64 / d as f64 * 1000.0).round() / 1000.0)
        }
    };
    let groups: serde_json::Map<String, Value> = counts
        .into_iter()
        .map(|(group, c)| {
            let get = |k: &str| c.get(k).copied().unwrap_or(0);
            let (inside, outside) = (get("in_scope"), get("out_of_scope"));
            let mut v = json!({
                "right_rate": rate(get("right"), inside),
                "wrong_answer_rate": rate(get("wrong_answer"), inside),
                "out_of_scope_answered": get("out_of_scope_answered"),
                "out_of_scope_answered_rate": rate(get("out_of_scope_answered"), outside),
            });
            for (k, n) in &c {
                v[*k] = json!(n);
            }
            (group, v)
        })
        .collect();
    let mut out = json!({
        "data": file.display().to_string(),
        "model": config.model,
        "threshold_in_use": bot.threshold(),
        "questions": questions.len(),
        "results": groups,
    });
    if show {
        out["not_right"] = json!(not_right);
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
