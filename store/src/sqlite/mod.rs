//! The embedded default: one SQLite file in WAL mode.
//!
//! `rows.rs` maps rows to records; `accounts.rs`, `conversations.rs` and
//! `moderation.rs` implement one trait each; the writes a unit of work can
//! hold are functions over a connection here, so that a single write and a
//! transaction run the same SQL.

mod accounts;
mod conversations;
mod moderation;
mod rows;
#[cfg(test)]
mod tests;

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};

use crate::work::{Committed, UnitOfWork, Write};
use crate::{
    ConvUpdate, Conversation, ConversationId, Message, MessageId, NewAudit, NewMessage, StoreError,
    StoreResult, Timestamp, Transactions,
};

pub struct SqliteStore {
    pool: SqlitePool,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
            e => StoreError::Backend(Box::new(e)),
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (a path, or a
    /// `sqlite:` URL such as `sqlite::memory:`) and runs the migrations.
    pub async fn open(url: &str) -> StoreResult<SqliteStore> {
        let options = if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url)?
        } else {
            SqliteConnectOptions::new().filename(url)
        };
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Deleted rows are zeroed, not left in free pages.
            .pragma("secure_delete", "on");
        let memory = url.contains(":memory:");
        let mut pool = SqlitePoolOptions::new().max_connections(4);
        if memory {
            // An in-memory database exists once per connection, and dies
            // with it: one connection, never closed for idling or age.
            pool = pool
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        let pool = pool.connect_with(options).await?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        Ok(SqliteStore { pool })
    }

    /// A transaction that will write: `BEGIN IMMEDIATE` takes the write lock
    /// up front. A deferred one that reads first and then writes fails with
    /// "database is locked" (SQLITE_BUSY_SNAPSHOT) whenever another
    /// connection wrote in between, which the busy timeout cannot wait out;
    /// seen with forty patients writing at once.
    async fn write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

fn now() -> String {
    Timestamp::now().rfc3339()
}

async fn update_conversation_in(
    conn: &mut SqliteConnection,
    id: &ConversationId,
    u: ConvUpdate,
) -> StoreResult<Conversation> {
    let mut c = conversations::select(&mut *conn, id).await?;
    if let Some(state) = u.state {
        c.state = state;
    }
    if let Some(urgent) = u.urgent {
        c.urgent = urgent;
    }
    if let Some(language) = u.language {
        c.language = Some(language);
    }
    if let Some(skill) = u.skill {
        c.skill = skill;
    }
    if let Some(assigned_to) = u.assigned_to {
        c.assigned_to = assigned_to;
    }
    if let Some(whisper) = u.whisper {
        c.whisper = Some(whisper);
    }
    if let Some(offline) = u.offline {
        c.offline = offline;
    }
    if let Some(held) = u.held {
        c.held = held;
    }
    c.updated_at = Timestamp::now();
    sqlx::query(
        "UPDATE conversations SET state = ?, urgent = ?, language = ?, skill = ?, assigned_to = ?,
         whisper = ?, offline = ?, held = ?, updated_at = ? WHERE id = ?",
    )
    .bind(c.state.as_str())
    .bind(c.urgent)
    .bind(&c.language)
    .bind(&c.skill)
    .bind(c.assigned_to.map(|u| u.0))
    .bind(c.whisper.as_ref().map(|w| w.to_string()))
    .bind(c.offline)
    .bind(c.held)
    .bind(c.updated_at.rfc3339())
    .bind(id.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(c)
}

async fn add_message_in(conn: &mut SqliteConnection, m: NewMessage) -> StoreResult<Message> {
    let created_at = Timestamp::now();
    let id = sqlx::query(
        "INSERT INTO messages (conversation_id, sender, user_id, text, intent, confidence, spam_score,
         translation, translation_language, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(m.conversation_id.as_str())
    .bind(m.sender.as_str())
    .bind(m.user_id.map(|u| u.0))
    .bind(&m.redacted_text)
    .bind(&m.intent)
    .bind(m.confidence.map(f64::from))
    .bind(m.spam_score.map(f64::from))
    .bind(m.translation.as_ref().map(|t| &t.text))
    .bind(m.translation.as_ref().map(|t| &t.language))
    .bind(created_at.rfc3339())
    .execute(&mut *conn)
    .await?
    .last_insert_rowid();
    Ok(Message {
        id: MessageId(id),
        sender: m.sender,
        user_id: m.user_id,
        text: m.redacted_text,
        intent: m.intent,
        confidence: m.confidence,
        translation: m.translation,
        created_at,
    })
}

async fn audit_in(conn: &mut SqliteConnection, entry: &NewAudit) -> StoreResult<()> {
    sqlx::query("INSERT INTO audit (at, actor_id, action, subject, detail) VALUES (?, ?, ?, ?, ?)")
        .bind(now())
        .bind(entry.actor_id.map(|u| u.0))
        .bind(&entry.action)
        .bind(&entry.subject)
        .bind(&entry.detail)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[async_trait]
impl Transactions for SqliteStore {
    async fn commit(&self, work: UnitOfWork) -> StoreResult<Committed> {
        let mut committed = Committed::default();
        if work.is_empty() {
            return Ok(committed);
        }
        let mut tx = self.write().await?;
        for write in work.into_writes() {
            match write {
                Write::UpdateConversation(id, update) => committed
                    .conversations
                    .push(update_conversation_in(&mut tx, &id, update).await?),
                Write::AddMessage(m) => committed.messages.push(add_message_in(&mut tx, m).await?),
                Write::Audit(entry) => audit_in(&mut tx, &entry).await?,
            }
        }
        tx.commit().await?;
        Ok(committed)
    }
}
