//! A clinic's data leaving the server: `carechat backup` and `restore`, and
//! `carechat export` (docs/data.md).
//!
//! - **Backup**: a consistent snapshot of the live database (SQLite's
//!   `VACUUM INTO`, while the server runs), sealed under the current master
//!   key ([`store::backup`]) into one file. The vault is left out on
//!   purpose: a conversation deleted after the backup stays shredded even
//!   in it.
//! - **Restore**: only with the server stopped (it holds `<db>.lock`). The
//!   file is opened, checked (SQLite's integrity check, Carechat's
//!   migrations), and put in place; the database it replaces is moved
//!   aside, not deleted. Audited.
//! - **Export**: every conversation (with its originals, opened with the
//!   master key), its FHIR transcript, the audit trail, the accounts (never
//!   a password hash or a secret) and the settings (secrets left out), as
//!   JSON lines and JSON in a new directory, for a clinic that audits or
//!   leaves.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};
use store::{Accounts, Conversations, Moderation, NewAudit, PatientForms, SharedFiles, Timestamp};

use crate::config::{Config, beside};

/// The lock a running server holds on its database.
pub struct ServerLock {
    _file: File,
}

fn lock_path(config: &Config) -> Option<PathBuf> {
    config.db_file().map(|db| beside(&db, ".lock"))
}

/// Takes `<db>.lock` for as long as the server runs: a second server on the
/// same database, or a restore under a running one, is refused. Released by
/// the system when the process ends, however it ends.
pub fn lock(config: &Config) -> anyhow::Result<Option<ServerLock>> {
    let Some(path) = lock_path(config) else {
        return Ok(None);
    };
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(ServerLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "the database {} is in use by a running Carechat server (it holds {})",
            config.db,
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// A new file only the owner may read, failing if it exists.
fn create_new(path: &Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {} (it must not exist)", path.display()))
}

/// A temporary file beside `path`, removed when dropped unless kept.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn scratch_beside(path: &Path, what: &str) -> Scratch {
    let mut tag = [0u8; 6];
    getrandom::fill(&mut tag).expect("the OS random source");
    Scratch(beside(path, &format!(".{what}-{}", hex::encode(tag))))
}

/// `carechat backup --out FILE`.
pub async fn backup(config: &Config, out: &Path) -> anyhow::Result<()> {
    ensure!(
        !config.postgres(),
        "a PostgreSQL database is backed up with pg_dump --exclude-schema=vault \
         (docs/deploy.md, \"Backups\")"
    );
    ensure!(
        config.db_file().is_some(),
        "an in-memory database has nothing to back up"
    );
    let (store, _) = crate::open_store(config).await?;
    let keyring = crate::master::Source::of(config).load()?;
    let mut file = create_new(out)?;
    // Written beside the backup, owner-only, removed once sealed: it holds
    // only what the database holds (redacted text, sealed originals).
    let snapshot = scratch_beside(out, "snapshot");
    // Made empty and owner-only first: SQLite writes into it as it is.
    drop(create_new(&snapshot.0)?);
    store.snapshot(&snapshot.0).await?;
    let mut input = BufReader::new(File::open(&snapshot.0)?);
    let sealed = (|| -> anyhow::Result<()> {
        let mut w = BufWriter::new(&mut file);
        store::backup::seal(keyring.current(), &mut input, &mut w)?;
        w.flush()?;
        drop(w);
        file.sync_all()?;
        Ok(())
    })();
    if let Err(e) = sealed {
        let _ = std::fs::remove_file(out);
        return Err(e.context(format!("writing {}", out.display())));
    }
    let size = std::fs::metadata(out)?.len();
    store
        .audit(NewAudit::new(
            None,
            "backup",
            "database",
            format!("key={} bytes={size}", keyring.current().id()),
        ))
        .await?;
    println!(
        "backup written to {} ({size} bytes), sealed under master key {}",
        out.display(),
        keyring.current().id()
    );
    Ok(())
}

/// `carechat restore FILE`: the server must be stopped.
pub async fn restore(config: &Config, file: &Path) -> anyhow::Result<()> {
    ensure!(
        !config.postgres(),
        "a PostgreSQL database is restored with pg_restore (docs/deploy.md, \"Backups\")"
    );
    let Some(db) = config.db_file() else {
        bail!("an in-memory database cannot be restored into");
    };
    let _lock = lock(config).context("stop the server before restoring")?;
    let keyring = crate::master::Source::of(config).load()?;
    let restored = scratch_beside(&db, "restoring");
    {
        let mut input = BufReader::new(
            File::open(file).with_context(|| format!("opening {}", file.display()))?,
        );
        let mut output = BufWriter::new(create_new(&restored.0)?);
        store::backup::open(&keyring, &mut input, &mut output)
            .with_context(|| format!("opening the backup {}", file.display()))?;
        output.flush()?;
        output
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
    }
    check_snapshot(&restored.0).await?;
    // The database it replaces is kept aside (with its write-ahead log),
    // never deleted: a restore can be undone.
    let aside = beside(&db, &format!(".before-restore-{}", Timestamp::now().unix()));
    let mut moved = Vec::new();
    if db.exists() {
        for suffix in ["", "-wal", "-shm"] {
            let from = beside(&db, suffix);
            if from.exists() {
                let to = beside(&aside, suffix);
                std::fs::rename(&from, &to)
                    .with_context(|| format!("moving {} aside", from.display()))?;
                moved.push(to);
            }
        }
    }
    std::fs::rename(&restored.0, &db)
        .with_context(|| format!("putting the backup in place at {}", db.display()))?;
    std::mem::forget(restored);
    let (store, _) = crate::open_store(config).await?;
    let verdict = store.verify_audit().await?;
    store
        .audit(NewAudit::new(None, "restore", "database", ""))
        .await?;
    println!("restored {} from {}", db.display(), file.display());
    if !moved.is_empty() {
        println!("the database it replaced is kept at {}", aside.display());
    }
    if let Some((id, why)) = verdict.broken {
        println!(
            "warning: the restored audit trail does not verify from entry {} ({why}); was the server key (`{}`) changed since the backup?",
            id.0,
            config
                .key_path()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// A restored file is a Carechat database in one piece.
async fn check_snapshot(path: &Path) -> anyhow::Result<()> {
    use sqlx::Connection;
    let url = format!("sqlite://{}?mode=ro", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await?;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .context("the restored file is not a SQLite database")?;
    ensure!(check == "ok", "the restored database is damaged: {check}");
    let migrations: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = 1")
            .fetch_one(&mut conn)
            .await
            .context("the restored file is not a Carechat database")?;
    ensure!(
        migrations > 0,
        "the restored file is not a Carechat database"
    );
    conn.close().await?;
    Ok(())
}

/// One JSON value per line.
fn jsonl(path: &Path, rows: impl IntoIterator<Item = Value>) -> anyhow::Result<usize> {
    let mut w = BufWriter::new(create_new(path)?);
    let mut n = 0;
    for row in rows {
        serde_json::to_writer(&mut w, &row)?;
        w.write_all(b"\n")?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}

fn json_file(path: &Path, value: &Value) -> anyhow::Result<()> {
    let mut w = BufWriter::new(create_new(path)?);
    serde_json::to_writer_pretty(&mut w, value)?;
    w.write_all(b"\n")?;
    w.flush()?;
    Ok(())
}

/// The settings as configured, with every secret left out.
fn settings(config: &Config) -> anyhow::Result<Value> {
    let mut v = serde_json::to_value(config)?;
    for pointer in [
        "/master_key",
        "/retention/webhook_secret",
        "/sso/client_secret",
        "/metrics_token",
        "/notify/smtp/password",
        "/notify/sms/password",
    ] {
        if let Some(slot) = v.pointer_mut(pointer)
            && !slot.is_null()
        {
            *slot = json!("(secret, not exported)");
        }
    }
    Ok(v)
}

/// `carechat export --out DIR`.
pub async fn export(config: &Config, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir(out)
        .with_context(|| format!("creating {} (it must not exist)", out.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o700))?;
    }
    let (store, _) = crate::open_store(config).await?;
    let transcripts = out.join("transcripts");
    std::fs::create_dir(&transcripts)?;
    let shared = out.join("files");
    std::fs::create_dir(&shared)?;
    let mut file_count = 0usize;

    let mut conversations = Vec::new();
    let mut originals_opened = 0usize;
    for id in store.conversation_ids().await? {
        let conv = match store.conversation(&id).await {
            Ok(c) => c,
            // Deleted since the list was read.
            Err(store::StoreError::NotFound) => continue,
            Err(e) => return Err(e.into()),
        };
        let originals = store.originals(&id).await?;
        originals_opened += originals.len();
        let messages: Vec<Value> = store
            .messages(&id)
            .await?
            .into_iter()
            .map(|m| {
                json!({
                    "id": m.id.0,
                    "from": m.sender,
                    "user_id": m.user_id,
                    "at": m.created_at,
                    "text": m.text,
                    "original": originals.get(&m.id),
                    "intent": m.intent,
                    "confidence": m.confidence,
                    "translation": m.translation.as_ref().map(|t| json!({"text": t.text, "language": t.language})),
                    "file_id": m.file_id,
                })
            })
            .collect();
        let notes: Vec<Value> = store
            .notes(&id, true)
            .await?
            .into_iter()
            .map(|n| serde_json::to_value(n).unwrap_or(Value::Null))
            .collect();
        // The contact details left offline, opened like the messages.
        let forms: Vec<Value> = store
            .forms_of(&id, true)
            .await?
            .into_iter()
            .map(|f| serde_json::to_value(f).unwrap_or(Value::Null))
            .collect();
        // Shared files, opened, each as `files/ID/FILE-ID.EXT`.
        let mut files = Vec::new();
        for f in store.files_of(&id).await? {
            let path = format!(
                "files/{}/{}.{}",
                id.as_str(),
                f.id,
                service::files::extension(&f.kind)
            );
            std::fs::create_dir_all(shared.join(id.as_str()))?;
            match store.file_data(f.id).await {
                Ok(bytes) => std::fs::write(out.join(&path), bytes)?,
                // Shredded since the list was read.
                Err(store::StoreError::NotFound) => continue,
                Err(e) => return Err(e.into()),
            }
            file_count += 1;
            let mut v = serde_json::to_value(&f).unwrap_or(Value::Null);
            v["path"] = json!(path);
            files.push(v);
        }
        let consent = store
            .consent(&id)
            .await?
            .map(|(version, at)| json!({"version": version, "accepted_at": at}));
        conversations.push(json!({
            "id": conv.id,
            "state": conv.state,
            "urgent": conv.urgent,
            "language": conv.language,
            "skill": conv.skill,
            "assigned_to": conv.assigned_to,
            "offline": conv.offline,
            "license_state": conv.license_state,
            "created_at": conv.created_at,
            "updated_at": conv.updated_at,
            "messages": messages,
            "notes": notes,
            "forms": forms,
            "files": files,
            "consent": consent,
        }));
        let transcript = service::transcript::build(&store, &conv).await?;
        json_file(
            &transcripts.join(format!("{}.fhir.json", conv.id.as_str())),
            &service::transcript::fhir(&transcript),
        )?;
    }
    let conversation_count = jsonl(&out.join("conversations.jsonl"), conversations)?;

    let mut audit = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .audit_search(&store::AuditFilter {
                before,
                limit: 1000,
                ..Default::default()
            })
            .await?;
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        audit.extend(page.into_iter().map(|e| {
            json!({
                "id": e.id,
                "at": e.at,
                "actor_id": e.actor_id,
                "action": e.action,
                "subject": e.subject,
                "detail": e.detail,
                "address": e.address,
            })
        }));
    }
    // Oldest first, as the trail was written.
    audit.reverse();
    let audit_count = jsonl(&out.join("audit.jsonl"), audit)?;
    let users = store.users().await?;
    let user_count = jsonl(
        &out.join("users.jsonl"),
        users.iter().map(|u| {
            serde_json::to_value(service::views::AccountView::from(u)).unwrap_or(Value::Null)
        }),
    )?;
    json_file(&out.join("settings.json"), &settings(config)?)?;
    let verdict = store.verify_audit().await?;
    json_file(
        &out.join("manifest.json"),
        &json!({
            "format": "carechat-export/1",
            "exported_at": Timestamp::now(),
            "conversations": conversation_count,
            "originals": originals_opened,
            "audit_entries": audit_count,
            "audit_trail_verifies": verdict.broken.is_none(),
            "users": user_count,
            "shared_files": file_count,
            "files": {
                "files/ID/FILE.EXT": "the files shared in each conversation, opened (as stored: metadata stripped)",
                "conversations.jsonl": "one conversation per line, with its messages (text: the redacted copy; original: the words as typed, where kept) and staff notes",
                "transcripts/ID.fhir.json": "each conversation as a FHIR R4 Bundle of Communication resources (numbers masked, as every transcript)",
                "audit.jsonl": "the audit trail, oldest first",
                "users.jsonl": "staff accounts, without password hashes or secrets",
                "settings.json": "the configuration, secrets left out",
            },
        }),
    )?;
    store
        .audit(NewAudit::new(
            None,
            "export",
            "all",
            format!("conversations={conversation_count} audit={audit_count} files={file_count}"),
        ))
        .await?;
    println!(
        "exported {conversation_count} conversations ({originals_opened} originals opened), \
         {audit_count} audit entries and {user_count} accounts to {}",
        out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exported_settings_hold_no_secret() {
        let config = Config {
            metrics_token: Some("scrape-secret".into()),
            notify: crate::config::Notify {
                smtp: Some(crate::config::Smtp {
                    host: "smtp.maple.test".into(),
                    port: None,
                    security: crate::config::Security::Starttls,
                    username: Some("chat".into()),
                    password: Some("smtp-secret".into()),
                    from: "chat@maple.test".into(),
                    ca_file: None,
                }),
                sms: Some(crate::config::SmsConfig {
                    url: "https://sms.maple.test".into(),
                    username: "AC1".into(),
                    password: Some("sms-secret".into()),
                    from: "+15550100000".into(),
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let text = settings(&config).unwrap().to_string();
        for secret in ["scrape-secret", "smtp-secret", "sms-secret"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("smtp.maple.test"), "the rest is kept: {text}");
    }
}
