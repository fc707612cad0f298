//! The embedded default: one SQLite file in WAL mode.

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};

use super::*;

pub struct SqliteStore {
    pool: SqlitePool,
}

const USER_COLUMNS: &str = "id, username, display_name, role, password_hash, skills, languages, max_chats, licensed_states";
const CONV_COLUMNS: &str = "id, resume_hash, state, urgent, language, browser_language, skill, \
                            assigned_to, whisper, fingerprint, address, offline, license_state, \
                            held, created_at, updated_at";
const BLOCK_COLUMNS: &str =
    "id, kind, conversation_id, reason, created_by, created_at, lifted_by, lifted_at";
const MESSAGE_COLUMNS: &str =
    "id, sender, user_id, text, intent, confidence, translation, translation_language, created_at";

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn user_from(row: &SqliteRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        role: Role::parse(row.try_get("role")?).unwrap_or(Role::Clinician),
        password_hash: row.try_get("password_hash")?,
        skills: split_list(row.try_get("skills")?),
        languages: split_list(row.try_get("languages")?),
        max_chats: row.try_get::<i64, _>("max_chats")?.max(0) as usize,
        licensed_states: split_list(row.try_get("licensed_states")?),
    })
}

fn conversation_from(row: &SqliteRow) -> Result<Conversation, sqlx::Error> {
    Ok(Conversation {
        id: row.try_get("id")?,
        state: ConvState::parse(row.try_get("state")?).unwrap_or(ConvState::Closed),
        urgent: row.try_get("urgent")?,
        language: row.try_get("language")?,
        browser_language: row.try_get("browser_language")?,
        skill: row.try_get("skill")?,
        assigned_to: row.try_get("assigned_to")?,
        whisper: row.try_get("whisper")?,
        fingerprint: row.try_get("fingerprint")?,
        address: row.try_get("address")?,
        offline: row.try_get("offline")?,
        license_state: row.try_get("license_state")?,
        held: row.try_get("held")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn message_from(row: &SqliteRow) -> Result<Message, sqlx::Error> {
    Ok(Message {
        id: row.try_get("id")?,
        sender: Sender::parse(row.try_get("sender")?),
        user_id: row.try_get("user_id")?,
        text: row.try_get("text")?,
        intent: row.try_get("intent")?,
        confidence: row
            .try_get::<Option<f64>, _>("confidence")?
            .map(|c| c as f32),
        translation: match (
            row.try_get::<Option<String>, _>("translation")?,
            row.try_get::<Option<String>, _>("translation_language")?,
        ) {
            (Some(t), Some(l)) => Some((t, l)),
            _ => None,
        },
        created_at: row.try_get("created_at")?,
    })
}

fn staff_text_from(row: &SqliteRow) -> Result<StaffText, sqlx::Error> {
    Ok(StaffText {
        id: row.try_get("id")?,
        about: row.try_get("about")?,
        user_id: row.try_get("user_id")?,
        text: row.try_get("text")?,
        created_at: row.try_get("created_at")?,
    })
}

fn block_from(row: &SqliteRow) -> Result<Block, sqlx::Error> {
    Ok(Block {
        id: row.try_get("id")?,
        kind: BlockKind::parse(row.try_get("kind")?),
        conversation_id: row.try_get("conversation_id")?,
        reason: row.try_get("reason")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        lifted_by: row.try_get("lifted_by")?,
        lifted_at: row.try_get("lifted_at")?,
    })
}

async fn audit_in(
    conn: &mut sqlx::SqliteConnection,
    actor_id: Option<i64>,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit (at, actor_id, action, subject, detail) VALUES (?, ?, ?, ?, ?)")
        .bind(rfc3339(unix_now()))
        .bind(actor_id)
        .bind(action)
        .bind(subject)
        .bind(detail)
        .execute(conn)
        .await?;
    Ok(())
}

fn not_found(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        e => StoreError::Db(e),
    }
}

impl SqliteStore {
    /// A transaction that will write: `BEGIN IMMEDIATE` takes the write lock
    /// up front. A deferred one that reads first and then writes fails with
    /// "database is locked" (SQLITE_BUSY_SNAPSHOT) whenever another
    /// connection wrote in between, which the busy timeout cannot wait out;
    /// seen with forty patients writing at once.
    async fn write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

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
        let pool = SqlitePoolOptions::new()
            // An in-memory database exists once per connection.
            .max_connections(if memory { 1 } else { 4 })
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        let result = sqlx::query(
            "INSERT INTO users (username, display_name, role, password_hash, skills, languages, max_chats,
             licensed_states, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&user.username)
        .bind(&user.display_name)
        .bind(user.role.as_str())
        .bind(&user.password_hash)
        .bind(user.skills.join(","))
        .bind(user.languages.join(","))
        .bind(user.max_chats as i64)
        .bind(user.licensed_states.join(","))
        .bind(rfc3339(unix_now()))
        .execute(&self.pool)
        .await;
        match result {
            Ok(r) => self.user(r.last_insert_rowid()).await,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict),
            Err(e) => Err(e.into()),
        }
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<User> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = ?"
        ))
        .bind(username)
        .fetch_one(&self.pool)
        .await
        .map_err(not_found)?;
        Ok(user_from(&row)?)
    }

    async fn user(&self, id: i64) -> StoreResult<User> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .map_err(not_found)?;
        Ok(user_from(&row)?)
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(user_from).collect::<Result<_, _>>()?)
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (?, ?, ?)")
            .bind(token_hash)
            .bind(user_id)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn session_user(&self, token_hash: &str, now: i64) -> StoreResult<User> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ? AND s.expires_at > ?",
            USER_COLUMNS
                .split(", ")
                .map(|c| format!("u.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(not_found)?;
        Ok(user_from(&row)?)
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_conversation(&self, new: NewConversation) -> StoreResult<Conversation> {
        let now = rfc3339(unix_now());
        sqlx::query(
            "INSERT INTO conversations
             (id, resume_hash, state, browser_language, fingerprint, address, license_state,
              created_at, updated_at)
             VALUES (?, ?, 'bot', ?, ?, ?, ?, ?, ?)",
        )
        .bind(&new.id)
        .bind(&new.resume_hash)
        .bind(&new.browser_language)
        .bind(&new.fingerprint)
        .bind(&new.address)
        .bind(&new.license_state)
        .bind(&now)
        .bind(&now)
        .execute(&self.pool)
        .await?;
        self.conversation(&new.id).await
    }

    async fn conversation(&self, id: &str) -> StoreResult<Conversation> {
        let row = sqlx::query(&format!(
            "SELECT {CONV_COLUMNS} FROM conversations WHERE id = ?"
        ))
        .bind(id)
        .fetch_one(&self.pool)
        .await
        .map_err(not_found)?;
        Ok(conversation_from(&row)?)
    }

    async fn conversation_by_resume(&self, resume_hash: &str) -> StoreResult<Conversation> {
        let row = sqlx::query(&format!(
            "SELECT {CONV_COLUMNS} FROM conversations WHERE resume_hash = ?"
        ))
        .bind(resume_hash)
        .fetch_one(&self.pool)
        .await
        .map_err(not_found)?;
        Ok(conversation_from(&row)?)
    }

    async fn held_conversations(&self) -> StoreResult<Vec<Conversation>> {
        let rows = sqlx::query(&format!(
            "SELECT {CONV_COLUMNS} FROM conversations WHERE held = 1 AND state <> 'closed'
             ORDER BY updated_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(conversation_from)
            .collect::<Result<_, _>>()?)
    }

    async fn open_conversations(&self) -> StoreResult<Vec<Conversation>> {
        let rows = sqlx::query(&format!(
            "SELECT {CONV_COLUMNS} FROM conversations WHERE state IN ('queued', 'assigned')
             ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(conversation_from)
            .collect::<Result<_, _>>()?)
    }

    async fn update_conversation(&self, id: &str, u: ConvUpdate) -> StoreResult<Conversation> {
        let mut tx = self.write().await?;
        let row = sqlx::query(&format!(
            "SELECT {CONV_COLUMNS} FROM conversations WHERE id = ?"
        ))
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(not_found)?;
        let mut c = conversation_from(&row)?;
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
        c.updated_at = rfc3339(unix_now());
        sqlx::query(
            "UPDATE conversations SET state = ?, urgent = ?, language = ?, skill = ?, assigned_to = ?,
             whisper = ?, offline = ?, held = ?, updated_at = ? WHERE id = ?",
        )
        .bind(c.state.as_str())
        .bind(c.urgent)
        .bind(&c.language)
        .bind(&c.skill)
        .bind(c.assigned_to)
        .bind(&c.whisper)
        .bind(c.offline)
        .bind(c.held)
        .bind(&c.updated_at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(c)
    }

    async fn add_message(&self, m: NewMessage) -> StoreResult<Message> {
        let now = rfc3339(unix_now());
        let id = sqlx::query(
            "INSERT INTO messages (conversation_id, sender, user_id, text, intent, confidence, spam_score,
             translation, translation_language, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&m.conversation_id)
        .bind(m.sender.as_str())
        .bind(m.user_id)
        .bind(&m.redacted_text)
        .bind(&m.intent)
        .bind(m.confidence.map(f64::from))
        .bind(m.spam_score.map(f64::from))
        .bind(m.translation.as_ref().map(|t| &t.0))
        .bind(m.translation.as_ref().map(|t| &t.1))
        .bind(&now)
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        Ok(Message {
            id,
            sender: m.sender,
            user_id: m.user_id,
            text: m.redacted_text,
            intent: m.intent,
            confidence: m.confidence,
            translation: m.translation,
            created_at: now,
        })
    }

    async fn messages(&self, conversation_id: &str) -> StoreResult<Vec<Message>> {
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id"
        ))
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(message_from).collect::<Result<_, _>>()?)
    }

    async fn add_note(
        &self,
        conversation_id: &str,
        user_id: i64,
        text: &str,
    ) -> StoreResult<StaffText> {
        let now = rfc3339(unix_now());
        let id = sqlx::query(
            "INSERT INTO notes (conversation_id, user_id, text, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(conversation_id)
        .bind(user_id)
        .bind(text)
        .bind(&now)
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        Ok(StaffText {
            id,
            about: conversation_id.to_string(),
            user_id,
            text: text.to_string(),
            created_at: now,
        })
    }

    async fn notes(&self, conversation_id: &str) -> StoreResult<Vec<StaffText>> {
        let rows = sqlx::query(
            "SELECT id, conversation_id AS about, user_id, text, created_at FROM notes
             WHERE conversation_id = ? ORDER BY id",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(staff_text_from).collect::<Result<_, _>>()?)
    }

    async fn add_team_message(&self, from: i64, to: i64, text: &str) -> StoreResult<StaffText> {
        let now = rfc3339(unix_now());
        let id = sqlx::query(
            "INSERT INTO team_messages (from_user, to_user, text, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(from)
        .bind(to)
        .bind(text)
        .bind(&now)
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        Ok(StaffText {
            id,
            about: to.to_string(),
            user_id: from,
            text: text.to_string(),
            created_at: now,
        })
    }

    async fn team_messages(&self, a: i64, b: i64, limit: i64) -> StoreResult<Vec<StaffText>> {
        let rows = sqlx::query(
            "SELECT * FROM (
                SELECT id, CAST(to_user AS TEXT) AS about, from_user AS user_id, text, created_at
                FROM team_messages
                WHERE (from_user = ? AND to_user = ?) OR (from_user = ? AND to_user = ?)
                ORDER BY id DESC LIMIT ?
             ) ORDER BY id",
        )
        .bind(a)
        .bind(b)
        .bind(b)
        .bind(a)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(staff_text_from).collect::<Result<_, _>>()?)
    }

    async fn block(&self, b: NewBlock) -> StoreResult<Block> {
        let mut tx = self.write().await?;
        let result = sqlx::query(
            "INSERT INTO blocks (kind, value, conversation_id, reason, created_by, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(b.kind.as_str())
        .bind(&b.value)
        .bind(&b.conversation_id)
        .bind(&b.reason)
        .bind(b.created_by)
        .bind(rfc3339(unix_now()))
        .execute(&mut *tx)
        .await;
        let id = match result {
            Ok(r) => r.last_insert_rowid(),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict);
            }
            Err(e) => return Err(e.into()),
        };
        let detail = format!(
            "{} conversation={}",
            b.kind.as_str(),
            b.conversation_id.as_deref().unwrap_or("-")
        );
        audit_in(
            &mut tx,
            Some(b.created_by),
            "block",
            &format!("block:{id}"),
            &detail,
        )
        .await?;
        let row = sqlx::query(&format!("SELECT {BLOCK_COLUMNS} FROM blocks WHERE id = ?"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(block_from(&row)?)
    }

    async fn lift_block(&self, id: i64, by: i64) -> StoreResult<Block> {
        let mut tx = self.write().await?;
        let lifted = sqlx::query(
            "UPDATE blocks SET lifted_by = ?, lifted_at = ? WHERE id = ? AND lifted_at IS NULL",
        )
        .bind(by)
        .bind(rfc3339(unix_now()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if lifted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        let row = sqlx::query(&format!("SELECT {BLOCK_COLUMNS} FROM blocks WHERE id = ?"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let block = block_from(&row)?;
        audit_in(
            &mut tx,
            Some(by),
            "unblock",
            &format!("block:{id}"),
            block.kind.as_str(),
        )
        .await?;
        tx.commit().await?;
        Ok(block)
    }

    async fn active_blocks(&self) -> StoreResult<Vec<Block>> {
        let rows = sqlx::query(&format!(
            "SELECT {BLOCK_COLUMNS} FROM blocks WHERE lifted_at IS NULL ORDER BY id DESC"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(block_from).collect::<Result<_, _>>()?)
    }

    async fn browsers_at(&self, address: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(DISTINCT fingerprint) FROM conversations WHERE address = ?",
        )
        .bind(address)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn is_blocked(
        &self,
        fingerprint: Option<&str>,
        address: Option<&str>,
    ) -> StoreResult<bool> {
        if fingerprint.is_none() && address.is_none() {
            return Ok(false);
        }
        let hit: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM blocks WHERE lifted_at IS NULL AND
             ((kind = 'fingerprint' AND value = ?) OR (kind = 'address' AND value = ?)) LIMIT 1",
        )
        .bind(fingerprint)
        .bind(address)
        .fetch_optional(&self.pool)
        .await?;
        Ok(hit.is_some())
    }

    async fn audit(
        &self,
        actor_id: Option<i64>,
        action: &str,
        subject: &str,
        detail: &str,
    ) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        audit_in(&mut conn, actor_id, action, subject, detail).await?;
        Ok(())
    }

    async fn audit_log(&self, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, at, actor_id, action, subject, detail FROM audit ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    actor_id: r.try_get("actor_id")?,
                    action: r.try_get("action")?,
                    subject: r.try_get("subject")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> SqliteStore {
        SqliteStore::open("sqlite::memory:").await.unwrap()
    }

    fn new_user(name: &str) -> NewUser {
        NewUser {
            username: name.into(),
            display_name: format!("Dr {name}"),
            role: Role::Clinician,
            password_hash: "hash".into(),
            skills: vec!["billing".into(), "nursing".into()],
            languages: vec!["en".into(), "es".into()],
            max_chats: 3,
            licensed_states: vec!["CA".into()],
        }
    }

    #[tokio::test]
    async fn users_round_trip_and_names_are_unique() {
        let s = store().await;
        let u = s.create_user(new_user("ana")).await.unwrap();
        assert_eq!(u.skills, ["billing", "nursing"]);
        assert_eq!(s.user_by_name("ana").await.unwrap().id, u.id);
        assert!(matches!(
            s.create_user(new_user("ana")).await,
            Err(StoreError::Conflict)
        ));
        assert!(matches!(
            s.user_by_name("bob").await,
            Err(StoreError::NotFound)
        ));
    }

    #[tokio::test]
    async fn sessions_expire() {
        let s = store().await;
        let u = s.create_user(new_user("ana")).await.unwrap();
        s.create_session("h1", u.id, 100).await.unwrap();
        assert_eq!(s.session_user("h1", 99).await.unwrap().id, u.id);
        assert!(matches!(
            s.session_user("h1", 100).await,
            Err(StoreError::NotFound)
        ));
        s.delete_session("h1").await.unwrap();
        assert!(matches!(
            s.session_user("h1", 0).await,
            Err(StoreError::NotFound)
        ));
    }

    #[tokio::test]
    async fn conversations_and_messages() {
        let s = store().await;
        let c = s
            .create_conversation(NewConversation {
                id: "c1".into(),
                resume_hash: "r1".into(),
                browser_language: Some("es-MX".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(c.state, ConvState::Bot);
        assert!(s.open_conversations().await.unwrap().is_empty());
        let c = s
            .update_conversation(
                "c1",
                ConvUpdate {
                    state: Some(ConvState::Queued),
                    urgent: Some(true),
                    skill: Some(Some("nursing".into())),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(c.urgent);
        assert_eq!(s.open_conversations().await.unwrap().len(), 1);
        assert_eq!(s.conversation_by_resume("r1").await.unwrap().id, "c1");
        for text in ["one", "two"] {
            s.add_message(NewMessage {
                conversation_id: "c1".into(),
                sender: Sender::Patient,
                user_id: None,
                redacted_text: text.into(),
                intent: None,
                confidence: Some(0.5),
                spam_score: None,
                translation: None,
            })
            .await
            .unwrap();
        }
        let m = s.messages("c1").await.unwrap();
        assert_eq!(
            m.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
            ["one", "two"]
        );
        assert_eq!(m[0].confidence, Some(0.5));
        assert!(matches!(
            s.conversation("nope").await,
            Err(StoreError::NotFound)
        ));
    }

    #[tokio::test]
    async fn blocks_match_either_identity_and_lifting_is_audited() {
        let s = store().await;
        let admin = s.create_user(new_user("ada")).await.unwrap();
        s.create_conversation(NewConversation {
            id: "c1".into(),
            resume_hash: "r1".into(),
            fingerprint: Some("fp1".into()),
            address: Some("ip1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
        assert!(!s.is_blocked(Some("fp1"), Some("ip1")).await.unwrap());
        assert_eq!(s.browsers_at("ip1").await.unwrap(), 1);
        assert_eq!(s.browsers_at("ip2").await.unwrap(), 0);
        let b = s
            .block(NewBlock {
                kind: BlockKind::Fingerprint,
                value: "fp1".into(),
                conversation_id: Some("c1".into()),
                reason: "SEO pitch".into(),
                created_by: admin.id,
            })
            .await
            .unwrap();
        // Matched by fingerprint whatever the address; a fingerprint value
        // does not match as an address.
        assert!(s.is_blocked(Some("fp1"), Some("other")).await.unwrap());
        assert!(!s.is_blocked(Some("other"), Some("fp1")).await.unwrap());
        assert!(!s.is_blocked(None, None).await.unwrap());
        let again = s
            .block(NewBlock {
                kind: BlockKind::Fingerprint,
                value: "fp1".into(),
                conversation_id: None,
                reason: String::new(),
                created_by: admin.id,
            })
            .await;
        assert!(matches!(again, Err(StoreError::Conflict)));
        assert_eq!(s.active_blocks().await.unwrap().len(), 1);

        let lifted = s.lift_block(b.id, admin.id).await.unwrap();
        assert_eq!(lifted.lifted_by, Some(admin.id));
        assert!(!s.is_blocked(Some("fp1"), None).await.unwrap());
        assert!(s.active_blocks().await.unwrap().is_empty());
        assert!(matches!(
            s.lift_block(b.id, admin.id).await,
            Err(StoreError::NotFound)
        ));
        // Once lifted, the same sender can be blocked again.
        s.block(NewBlock {
            kind: BlockKind::Fingerprint,
            value: "fp1".into(),
            conversation_id: None,
            reason: String::new(),
            created_by: admin.id,
        })
        .await
        .unwrap();
        let log = s.audit_log(10).await.unwrap();
        let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["block", "unblock", "block"]);
        assert_eq!(log[1].subject, format!("block:{}", b.id));
        assert_eq!(log[2].detail, "fingerprint conversation=c1");
    }

    #[tokio::test]
    async fn notes_and_team_messages() {
        let s = store().await;
        let a = s.create_user(new_user("ana")).await.unwrap();
        let b = s.create_user(new_user("ben")).await.unwrap();
        let c = s.create_user(new_user("cy")).await.unwrap();
        s.create_conversation(NewConversation {
            id: "c1".into(),
            resume_hash: "r1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        s.add_note("c1", a.id, "billing question, see [NAME]")
            .await
            .unwrap();
        let notes = s.notes("c1").await.unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!((notes[0].user_id, notes[0].about.as_str()), (a.id, "c1"));
        assert!(
            s.messages("c1").await.unwrap().is_empty(),
            "a note is not a message"
        );

        for (from, to, text) in [
            (a.id, b.id, "one"),
            (b.id, a.id, "two"),
            (a.id, c.id, "other"),
            (a.id, b.id, "three"),
        ] {
            s.add_team_message(from, to, text).await.unwrap();
        }
        let thread: Vec<String> = s
            .team_messages(b.id, a.id, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(thread, ["one", "two", "three"]);
        let last: Vec<String> = s
            .team_messages(a.id, b.id, 2)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(last, ["two", "three"], "the newest, oldest first");
    }
}
