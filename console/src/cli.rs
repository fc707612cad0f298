//! The command-line tools: accounts, the audit trail's check, and the
//! JSON-lines filters that evaluations drive (`redact`, `classify`).

use std::io::{BufRead, Write};
use std::sync::Arc;

use anyhow::{Context, bail, ensure};
use redaction::Redactor;
use redaction::model::NerModel;
use serde_json::{Value, json};

use crate::config::Config;
use service::accounts::Profile;
use service::tokens::Secret;
use store::{Conversations, Moderation, NewAudit, User};

/// An account command, as `carechat user ...` parsed it.
pub enum UserCommand {
    Add { name: String, profile: Profile },
    List { removed: bool },
    Passwd { name: String },
    Disable { name: String },
    Enable { name: String },
    Unlock { name: String },
    Remove { name: String },
    Set { name: String, profile: Profile },
    MfaEnroll { name: String },
    MfaReset { name: String },
}

/// A password from standard input: prompted for without echo at a
/// terminal, else the first line.
fn read_password(name: &str) -> anyhow::Result<Secret> {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let first = rpassword::prompt_password(format!("Password for {name}: "))?;
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            bail!("the two passwords differ");
        }
        return Ok(Secret(first));
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(Secret(line.trim_end_matches(['\r', '\n']).to_string()))
}

fn show(u: &User) -> String {
    let state = if u.removed_at.is_some() {
        "removed"
    } else if u.disabled_at.is_some() {
        "disabled"
    } else if u.locked_at(store::Timestamp::now()) {
        "locked"
    } else {
        "active"
    };
    format!(
        "{}\t{}\t{}\t{}\tskills={}\tlanguages={}\tstates={}\tmax_chats={}",
        u.id,
        u.username,
        u.role.as_str(),
        state,
        u.skills.join(","),
        u.languages.join(","),
        u.licensed_states.join(","),
        u.max_chats
    )
}

/// `carechat user ...`: the same rules and audit trail as the admin API
/// (`service::accounts`), with no actor (whoever holds the machine). A
/// running server sees a change within a second: its consoles check their
/// sessions in the database.
pub async fn user(config: &Config, command: UserCommand) -> anyhow::Result<()> {
    let (store, key) = crate::open_store(config).await?;
    let staff = crate::staff(config, Arc::new(store), &key);
    let named = |name: String| {
        let staff = &staff;
        async move {
            staff
                .account_named(&name)
                .await
                .map_err(anyhow::Error::from)
        }
    };
    match command {
        UserCommand::Add { name, mut profile } => {
            // The long-standing default for a new account from the command line.
            profile.skills.get_or_insert_with(|| "front_desk".into());
            let password = read_password(&name)?;
            let user = staff.add_account(None, &name, &profile, password).await?;
            println!(
                "added {} {} (id {})",
                user.role.as_str(),
                user.username,
                user.id
            );
        }
        UserCommand::List { removed } => {
            for u in staff.accounts(None, removed).await? {
                println!("{}", show(&u));
            }
        }
        UserCommand::Passwd { name } => {
            let user = named(name).await?;
            let password = read_password(&user.username)?;
            staff.reset_password(None, user.id, password).await?;
            println!(
                "set the password of {}; their sessions have ended",
                user.username
            );
        }
        UserCommand::Disable { name } => {
            let user = named(name).await?;
            staff.set_disabled(None, user.id, true).await?;
            println!("disabled {}; their sessions have ended", user.username);
        }
        UserCommand::Enable { name } => {
            let user = named(name).await?;
            staff.set_disabled(None, user.id, false).await?;
            println!("enabled {}", user.username);
        }
        UserCommand::Unlock { name } => {
            let user = named(name).await?;
            staff.unlock(None, user.id).await?;
            println!("unlocked {}", user.username);
        }
        UserCommand::Remove { name } => {
            let user = named(name).await?;
            staff.remove_account(None, user.id).await?;
            println!("removed {}; their sessions have ended", user.username);
        }
        UserCommand::MfaEnroll { name } => {
            let user = named(name).await?;
            let e = staff.enroll_mfa(None, user.id).await?;
            println!("two-factor sign-in is on for {}.", user.username);
            println!("Scan this with an authenticator app, or type in the URI or the secret:");
            if let Ok(qr) = qrcode::QrCode::new(e.uri.as_bytes()) {
                println!(
                    "{}",
                    qr.render::<qrcode::render::unicode::Dense1x2>()
                        .quiet_zone(true)
                        .build()
                );
            }
            println!("{}", e.uri);
            println!("secret: {}", e.secret);
            println!("Recovery codes, each good once (keep them somewhere safe):");
            for code in &e.recovery_codes {
                println!("  {code}");
            }
        }
        UserCommand::MfaReset { name } => {
            let user = named(name).await?;
            staff.reset_mfa(None, user.id).await?;
            println!("two-factor sign-in is off for {}", user.username);
        }
        UserCommand::Set { name, profile } => {
            let user = named(name).await?;
            let user = staff.change_account(None, user.id, &profile).await?;
            println!("{}", show(&user));
        }
    }
    Ok(())
}

/// `carechat audit verify`: exits non-zero naming the first broken entry.
pub async fn audit_verify(config: &Config) -> anyhow::Result<()> {
    let (store, _) = crate::open_store(config).await?;
    let verdict = store.verify_audit().await?;
    match verdict.broken {
        None => {
            println!(
                "the audit trail holds: {} entries, every seal matches",
                verdict.entries
            );
            Ok(())
        }
        Some((id, why)) => bail!("the audit trail is broken at entry {id}: {why}"),
    }
}

/// `carechat keys rotate`: every data key under a new master key.
pub async fn keys_rotate(config: &Config) -> anyhow::Result<()> {
    let (store, _) = crate::open_store(config).await?;
    let source = crate::master::Source::of(config);
    // Running servers read the key file every FILE_EVERY: give them one
    // look, and a second, at the new key before keys move under it.
    let settle = crate::master::FILE_EVERY * 2 + std::time::Duration::from_secs(1);
    let rotated = crate::master::rotate(&store, &source, settle).await?;
    store
        .audit(NewAudit::new(
            None,
            "keys_rotate",
            format!("master:{}", rotated.new_id),
            format!("moved={} via=cli", rotated.moved),
        ))
        .await?;
    println!(
        "every data key is now wrapped under master key {} ({} moved)",
        rotated.new_id, rotated.moved
    );
    if !matches!(source, crate::master::Source::File(_)) {
        println!("remove the older keys from the key source now");
    }
    Ok(())
}

/// `carechat keys status`.
pub async fn keys_status(config: &Config) -> anyhow::Result<()> {
    let (store, _) = crate::open_store(config).await?;
    let keyring = crate::master::Source::of(config).load()?;
    println!("current master key: {}", keyring.current().id());
    for (id, count) in store.keys_by_master().await? {
        println!("{id}: wraps {count} data keys");
    }
    Ok(())
}

/// `carechat conversation delete ID`: only a closed conversation, since a
/// running server may hold an open one in memory (delete those through the
/// API, which ends them first).
pub async fn conversation_delete(config: &Config, id: &str) -> anyhow::Result<()> {
    let (store, _) = crate::open_store(config).await?;
    let id = store::ConversationId::new(id);
    let conv = match store.conversation(&id).await {
        Ok(c) => c,
        Err(store::StoreError::NotFound) => bail!("no conversation {}", id.as_str()),
        Err(e) => return Err(e.into()),
    };
    ensure!(
        conv.state == store::ConvState::Closed,
        "conversation {} is not closed: close it in the console, or delete it there",
        id.as_str()
    );
    store
        .delete_conversation(
            &id,
            Some(NewAudit::new(
                None,
                "conversation_delete",
                id.as_str(),
                "via=cli",
            )),
        )
        .await?;
    println!(
        "conversation {} deleted; its data key is destroyed",
        id.as_str()
    );
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

/// `carechat intents export DIR`: the live version's files (the built-in
/// or `intents_dir` whitelist stored first, on a database that has none).
pub async fn intents_export(config: &Config, dir: &std::path::Path) -> anyhow::Result<()> {
    let (store, _) = crate::open_store(config).await?;
    crate::engine::live_whitelist(config, &store).await?;
    let live = store::Whitelists::live_whitelist(&store)
        .await?
        .context("no live whitelist version")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, text) in &live.files {
        ensure!(
            !name.contains('/') && !name.contains('\\') && name.ends_with(".toml"),
            "a stored file has an unexpected name: {name}"
        );
        std::fs::write(dir.join(name), text)
            .with_context(|| format!("writing {}", dir.join(name).display()))?;
    }
    println!(
        "whitelist version {} written to {} ({} files)",
        live.id,
        dir.display(),
        live.files.len()
    );
    Ok(())
}

/// `carechat intents import DIR`: DIR's files become the draft.
pub async fn intents_import(config: &Config, dir: &std::path::Path) -> anyhow::Result<()> {
    ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    let files = crate::engine::whitelist_files(dir)?;
    bot_engine::Whitelist::parse(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
        .with_context(|| format!("the files in {} do not load", dir.display()))?;
    let (store, _) = crate::open_store(config).await?;
    crate::engine::live_whitelist(config, &store).await?;
    let base = store::Whitelists::live_whitelist(&store)
        .await?
        .map(|v| v.id);
    store::Whitelists::save_whitelist_draft(
        &store,
        &store::WhitelistDraft {
            files,
            base,
            updated_at: store::Timestamp::now(),
            updated_by: None,
        },
    )
    .await?;
    store
        .audit(NewAudit::new(
            None,
            "whitelist_draft",
            "whitelist",
            "imported via=cli",
        ))
        .await?;
    println!(
        "the draft is now the whitelist in {}: publish it from the workbench (POST /api/whitelist/publish), through the evaluation gate",
        dir.display()
    );
    Ok(())
}
