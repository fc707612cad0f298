//! The command-line tools: accounts, and the JSON-lines filters that
//! evaluations drive (`redact`, `classify`).

use std::io::{BufRead, Write};

use anyhow::{Context, bail};
use redaction::Redactor;
use redaction::model::NerModel;
use serde_json::{Value, json};

use crate::auth::hash_password;
use crate::config::Config;
use service::tokens::Secret;
use store::{Accounts, NewUser, Role, SqliteStore, StoreError};

pub struct NewAccount {
    pub name: String,
    pub role: String,
    pub display_name: Option<String>,
    pub skills: String,
    pub languages: String,
    pub max_chats: usize,
    pub states: String,
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

pub async fn user_add(config: &Config, account: NewAccount) -> anyhow::Result<()> {
    let role = Role::parse(&account.role).context("role must be clinician or admin")?;
    let name = account.name.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(char::is_whitespace) {
        bail!("the login name must be 1 to 64 characters without spaces");
    }
    let languages = list(&account.languages);
    if let Some(bad) = languages
        .iter()
        .find(|l| service::clinician_language(l).is_none())
    {
        bail!(
            "{bad:?} is not a language: use ISO 639-1 codes (en, es), optionally with a level (es:basic, es:fluent, es:native)"
        );
    }
    let licensed_states = list(&account.states);
    if let Some(bad) = licensed_states.iter().find(|s| !service::is_state(s)) {
        bail!("{bad:?} is not a state: use two capital letters (CA, NY)");
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprint!("Password for {name}: ");
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = Secret(line.trim_end_matches(['\r', '\n']).to_string());
    if password.0.chars().count() < 8 {
        bail!("the password must be at least 8 characters");
    }
    let store = SqliteStore::open(&config.db).await?;
    let user = store
        .create_user(NewUser {
            username: name.to_string(),
            display_name: account.display_name.unwrap_or_else(|| name.to_string()),
            role,
            password_hash: hash_password(&password)?,
            skills: list(&account.skills),
            languages,
            max_chats: account.max_chats,
            licensed_states,
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict => anyhow::anyhow!("a user named {name} already exists"),
            e => e.into(),
        })?;
    println!("added {} {} (id {})", role.as_str(), user.username, user.id);
    Ok(())
}

/// Reads JSON lines with a string `text`; bad lines are reported on stderr
/// and skipped so one bad record never stops a stream.
fn for_each_line(mut f: impl FnMut(Value, &str) -> anyhow::Result<Value>) -> anyhow::Result<()> {
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    for (n, line) in stdin.lines().enumerate() {
        let line = line.context("reading standard input")?;
        if line.trim().is_empty() {
            continue;
        }
        let record: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("line {}: not JSON ({e})", n + 1);
                continue;
            }
        };
        let Some(text) = record.get("text").and_then(Value::as_str) else {
            eprintln!("line {}: no string \"text\" field", n + 1);
            continue;
        };
        let id = record.get("id").cloned().unwrap_or(Value::Null);
        match f(id, text) {
            Ok(out) => {
                serde_json::to_writer(&mut stdout, &out)?;
                stdout.write_all(b"\n")?;
                // Flushed per line so a driver can feed and read in turn.
                stdout.flush()?;
            }
            Err(e) => eprintln!("line {}: {e:#}", n + 1),
        }
    }
    Ok(())
}

/// `model` joins the rules as one more layer when given.
pub fn redact(model: Option<NerModel>) -> anyhow::Result<()> {
    let mut redactor = Redactor::new();
    if let Some(model) = model {
        redactor = redactor.with_detector(Box::new(model));
    }
    for_each_line(|id, text| {
        let r = redactor.redact(text);
        Ok(json!({"id": id, "text": r.text, "spans": r.spans}))
    })
}

pub async fn classify(config: &Config) -> anyhow::Result<()> {
    let bot = crate::engine::start_bot(config).await?;
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        for_each_line(|id, text| {
            let a = runtime.block_on(bot.assess(text, &bot_engine::Context::default()))?;
            Ok(json!({
                "id": id,
                "intent": a.intent,
                "confidence": a.confidence,
                "language": a.language,
                "spam": a.spam,
                "spam_score": a.spam_score,
                "action": a.action,
                "reply": a.reply,
            }))
        })
    })
    .await?
}
