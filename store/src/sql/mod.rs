//! The store on SQL: the embedded default, one SQLite file in WAL mode, or
//! PostgreSQL for a clinic that runs several nodes (`postgres://` URLs).
//!
//! One implementation serves both, through sqlx's `Any` driver: the
//! queries are written once in the SQL both engines read alike (numbered
//! `$n` parameters, `ON CONFLICT`, `RETURNING`), and [`Engine`] keeps the
//! few places that differ (opening, the write lock, migrations, the
//! vault's home, reclaiming deleted pages) in this file.
//!
//! `rows.rs` maps rows to records; `accounts.rs`, `conversations.rs` and
//! `moderation.rs` implement one trait each; the writes a unit of work can
//! hold are functions over a connection here, so that a single write and a
//! transaction run the same SQL.

mod accounts;
mod activity;
pub mod cluster;
mod conversations;
mod files;
mod forms;
mod moderation;
mod push;
mod rows;
#[cfg(test)]
mod tests;
mod vault;
mod whitelists;

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyConnection, AnyPool};

use crate::chain::{AuditKey, Sealed};
use crate::envelope::Keyring;
use crate::work::{Committed, UnitOfWork, Write};
use crate::{
    ConvUpdate, Conversation, ConversationId, Message, MessageId, NewAudit, NewMessage, StoreError,
    StoreResult, Timestamp, Transactions,
};

/// Which database engine a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine a `--db` value names: a `postgres://` (or
    /// `postgresql://`) URL, or else SQLite (a path or a `sqlite:` URL).
    pub fn of(url: &str) -> Engine {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Engine::Postgres
        } else {
            Engine::Sqlite
        }
    }
}

/// The key of the PostgreSQL advisory lock every write transaction holds
/// (see [`SqlStore::write`]); an arbitrary constant ("CARE" in ASCII).
const WRITE_LOCK: i64 = 0x4341_5245;

pub struct SqlStore {
    pool: AnyPool,
    engine: Engine,
    /// Seals the audit trail; never written to the database.
    audit_key: AuditKey,
    /// The conversations' data keys, when originals are kept.
    vault: Option<vault::Vault>,
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

impl SqlStore {
    /// Opens the database at `url` and runs the migrations: a
    /// `postgres://` URL, or SQLite (a path, or a `sqlite:` URL such as
    /// `sqlite::memory:`), created if needed, a new file readable by its
    /// owner only. `audit_key` seals the audit trail; an audit trail from
    /// before sealing existed is sealed now, once.
    pub async fn open(url: &str, audit_key: AuditKey) -> StoreResult<SqlStore> {
        Self::open_inner(url, audit_key, None).await
    }

    /// As [`SqlStore::open`], keeping originals: sealed in the main
    /// database under data keys kept in the vault beside it, wrapped under
    /// `keyring`'s current master key. On SQLite the vault is a file of its
    /// own (`<file>.vault`; in memory for an in-memory database); on
    /// PostgreSQL it is the schema `vault`, which backups leave out.
    pub async fn open_with_vault(
        url: &str,
        audit_key: AuditKey,
        keyring: Keyring,
    ) -> StoreResult<SqlStore> {
        Self::open_inner(url, audit_key, Some(keyring)).await
    }

    async fn open_inner(
        url: &str,
        audit_key: AuditKey,
        keyring: Option<Keyring>,
    ) -> StoreResult<SqlStore> {
        sqlx::any::install_default_drivers();
        let engine = Engine::of(url);
        let pool = match engine {
            Engine::Sqlite => open_sqlite(url, keyring.is_some()).await?,
            Engine::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(10)
                    .connect(url)
                    .await?;
                sqlx::migrate!("./migrations-postgres")
                    .run(&pool)
                    .await
                    .map_err(|e| StoreError::Backend(Box::new(e)))?;
                pool
            }
        };
        let vault = match keyring {
            Some(keyring) => {
                if engine == Engine::Sqlite {
                    vault::create(&mut *pool.acquire().await?).await?;
                }
                Some(vault::Vault::new(keyring))
            }
            None => None,
        };
        let store = SqlStore {
            pool,
            engine,
            audit_key,
            vault,
        };
        store.seal_history().await?;
        Ok(store)
    }

    /// The engine this store runs on.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Seals an audit trail written before entries were sealed (the first
    /// start after the upgrade). Once any entry is sealed this does nothing:
    /// an unsealed entry after that is a break that `verify_audit` reports.
    async fn seal_history(&self) -> StoreResult<()> {
        let mut tx = self.write().await?;
        let sealed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE mac IS NOT NULL")
            .fetch_one(&mut *tx)
            .await?;
        if sealed > 0 {
            return Ok(());
        }
        let rows = moderation::audit_rows(&mut tx).await?;
        let mut previous = String::new();
        for row in &rows {
            let mac = row.sealed().seal(&self.audit_key, &previous);
            sqlx::query("UPDATE audit SET mac = $1 WHERE id = $2")
                .bind(&mac)
                .bind(row.id)
                .execute(&mut *tx)
                .await?;
            previous = mac;
        }
        tx.commit().await?;
        Ok(())
    }

    /// After a deletion, leaves no page of what was deleted where the
    /// engine would otherwise keep it. SQLite: the write-ahead logs are
    /// copied into their databases and truncated (`secure_delete` has
    /// zeroed the rows). PostgreSQL: the vault's table is vacuumed, so the
    /// space a shredded key held is marked free for the next key (the
    /// engine does not zero it; docs/deploy.md says what that means).
    pub(crate) async fn checkpoint(&self) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        match self.engine {
            Engine::Sqlite => {
                sqlx::query("PRAGMA main.wal_checkpoint(TRUNCATE)")
                    .execute(&mut *conn)
                    .await?;
                if self.vault.is_some() {
                    sqlx::query("PRAGMA vault.wal_checkpoint(TRUNCATE)")
                        .execute(&mut *conn)
                        .await?;
                }
            }
            Engine::Postgres => {
                if self.vault.is_some() {
                    sqlx::raw_sql("VACUUM vault.data_keys")
                        .execute(&self.pool)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Writes a consistent copy of the main database (never the vault: a
    /// backup must not hold the keys a deletion destroys) to `path`, which
    /// must not exist or be empty, while others go on reading and writing.
    /// SQLite only: a PostgreSQL database is backed up with `pg_dump`
    /// (docs/deploy.md).
    pub async fn snapshot(&self, path: &std::path::Path) -> StoreResult<()> {
        if self.engine == Engine::Postgres {
            return Err(StoreError::Backend(
                "a PostgreSQL database is backed up with pg_dump --exclude-schema=vault \
                 (docs/deploy.md), not with carechat backup"
                    .into(),
            ));
        }
        let mut conn = self.pool.acquire().await?;
        sqlx::query("VACUUM main INTO $1")
            .bind(path.to_string_lossy().into_owned())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Replaces the master keys (the key source changed: a rotation).
    pub fn set_keyring(&self, keyring: Keyring) {
        if let Some(vault) = &self.vault {
            vault.set_keyring(keyring);
        }
    }

    /// Wraps every data key under the current master key; how many moved.
    /// Run while the server runs: each batch is its own transaction.
    pub async fn rewrap_keys(&self) -> StoreResult<u64> {
        let Some(vault) = &self.vault else {
            return Ok(0);
        };
        let mut total = 0;
        loop {
            let mut tx = self.write().await?;
            let moved = vault.rewrap(&mut tx).await?;
            tx.commit().await?;
            total += moved;
            if moved == 0 {
                break;
            }
        }
        self.checkpoint().await?;
        Ok(total)
    }

    /// How many data keys each master key wraps, by master key id.
    pub async fn keys_by_master(&self) -> StoreResult<Vec<(String, i64)>> {
        if self.vault.is_none() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(
            "SELECT master_id, COUNT(*) FROM vault.data_keys GROUP BY master_id ORDER BY master_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// A transaction that will write, holding the engine's write lock
    /// from its first statement, so that what it reads stays true until it
    /// commits: the audit chain's last seal, a conversation it updates.
    ///
    /// SQLite: `BEGIN IMMEDIATE` takes the write lock up front. A deferred
    /// one that reads first and then writes fails with "database is locked"
    /// (SQLITE_BUSY_SNAPSHOT) whenever another connection wrote in between,
    /// which the busy timeout cannot wait out; seen with forty patients
    /// writing at once.
    ///
    /// PostgreSQL: one transaction-scoped advisory lock ([`WRITE_LOCK`]),
    /// shared by every node on the database, serializes these transactions
    /// as SQLite's single writer does; reads and single-statement writes do
    /// not take it.
    async fn write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Any>> {
        match self.engine {
            Engine::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Engine::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(WRITE_LOCK)
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }
}

fn now() -> String {
    Timestamp::now().rfc3339()
}

async fn update_conversation_in(
    conn: &mut AnyConnection,
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
        "UPDATE conversations SET state = $1, urgent = $2, language = $3, skill = $4, assigned_to = $5,
         whisper = $6, offline = $7, held = $8, updated_at = $9 WHERE id = $10",
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
    if let Some(user) = c.assigned_to {
        sqlx::query(
            "INSERT INTO conversation_staff (conversation_id, user_id, since)
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(id.as_str())
        .bind(user.0)
        .bind(c.updated_at.rfc3339())
        .execute(&mut *conn)
        .await?;
    }
    Ok(c)
}

/// Writes a message; its original sealed under the conversation's data key
/// (made now if it is the first), or not kept without a vault. Inside a
/// transaction when there is an original, so that the key and the value
/// it seals are written together.
async fn add_message_in(
    conn: &mut AnyConnection,
    vault: Option<&vault::Vault>,
    m: NewMessage,
) -> StoreResult<Message> {
    add_message_with_file(conn, vault, m, None).await
}

/// [`add_message_in`], for a message that shows the shared file `file_id`.
async fn add_message_with_file(
    conn: &mut AnyConnection,
    vault: Option<&vault::Vault>,
    m: NewMessage,
    file_id: Option<i64>,
) -> StoreResult<Message> {
    let created_at = Timestamp::now();
    let sealed = match (vault, &m.original) {
        (Some(vault), Some(original)) => {
            let key = vault
                .data_key(&mut *conn, &m.conversation_id, true)
                .await?
                .expect("made when absent");
            Some(key.seal(m.conversation_id.as_str(), original.as_bytes()))
        }
        _ => None,
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO messages (conversation_id, sender, user_id, text, intent, confidence, spam_score,
         translation, translation_language, created_at, original, file_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    // Not kept prepared: sqlx's Any driver sends a missing f64 as a NULL
    // of PostgreSQL's float4, and a statement first prepared so refuses
    // the next message's 8-byte float ("incorrect binary data format").
    .persistent(false)
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
    .bind(sealed)
    .bind(file_id)
    .fetch_one(&mut *conn)
        .await?;
    Ok(Message {
        id: MessageId(id),
        sender: m.sender,
        user_id: m.user_id,
        text: m.redacted_text,
        intent: m.intent,
        confidence: m.confidence,
        translation: m.translation,
        created_at,
        file_id,
    })
}

/// Opens a SQLite pool: WAL, foreign keys, deleted rows zeroed, the vault
/// attached when originals are kept; then migrates.
async fn open_sqlite(url: &str, with_vault: bool) -> StoreResult<AnyPool> {
    let options = if url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url)?
    } else {
        SqliteConnectOptions::new().filename(url)
    };
    let memory = url.contains(":memory:");
    let file = options.get_filename().to_path_buf();
    let any_url = if memory {
        "sqlite::memory:".to_string()
    } else {
        owner_only(&file)?;
        format!("sqlite://{}?mode=rwc", url_path(&file))
    };
    let vault_file = match (with_vault, memory) {
        (false, _) => None,
        (true, true) => Some(":memory:".to_string()),
        (true, false) => {
            let mut name = file.as_os_str().to_owned();
            name.push(".vault");
            let path = std::path::PathBuf::from(name);
            owner_only(&path)?;
            Some(path.to_string_lossy().into_owned())
        }
    };
    let mut pool = AnyPoolOptions::new().max_connections(4);
    if memory {
        // An in-memory database exists once per connection, and dies
        // with it: one connection, never closed for idling or age.
        pool = pool
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    }
    let pool = pool
        .after_connect(move |conn, _| {
            let vault_file = vault_file.clone();
            Box::pin(async move {
                for pragma in [
                    "PRAGMA journal_mode = WAL",
                    "PRAGMA synchronous = NORMAL",
                    "PRAGMA foreign_keys = ON",
                    // Deleted rows are zeroed, not left in free pages.
                    "PRAGMA secure_delete = ON",
                ] {
                    sqlx::query(pragma).execute(&mut *conn).await?;
                }
                if let Some(vault_file) = vault_file {
                    // Every connection sees the vault as `vault` (with the
                    // main database's `secure_delete`, which ATTACH
                    // inherits).
                    sqlx::query("ATTACH DATABASE $1 AS vault")
                        .bind(vault_file)
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA vault.journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            })
        })
        .connect(&any_url)
        .await?;
    migrate_sqlite(&pool).await?;
    Ok(pool)
}

/// A file path as the path of a `sqlite://` URL: every byte but unreserved
/// ones and `/` percent-encoded (the driver decodes them).
fn url_path(path: &std::path::Path) -> String {
    let mut out = String::new();
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Runs the SQLite migrations on one connection with foreign keys off, as
/// SQLite's procedure for rebuilding a table needs (a table others
/// reference cannot be dropped and replaced otherwise, and sqlx runs each
/// migration in a transaction, where the pragma cannot change). Every
/// reference is checked afterwards: a migration that broke one fails here.
async fn migrate_sqlite(pool: &AnyPool) -> StoreResult<()> {
    let mut conn = pool.acquire().await?;
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&mut *conn)
        .await?;
    let migrated = sqlx::migrate!("./migrations").run(&mut *conn).await;
    let broken: Vec<(String,)> = sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
        .fetch_all(&mut *conn)
        .await?;
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut *conn)
        .await?;
    migrated.map_err(|e| StoreError::Backend(Box::new(e)))?;
    if let Some((table,)) = broken.first() {
        return Err(StoreError::Backend(
            format!("a migration left a broken reference in {table}").into(),
        ));
    }
    Ok(())
}

/// The database file and its WAL and shared-memory files, owner only: they
/// hold the (redacted) conversations, the audit trail and password hashes.
/// A new file is created empty with mode 0600 before SQLite opens it (SQLite
/// gives its WAL and shared-memory files the database file's mode); files
/// from an older version are narrowed to it.
fn owner_only(file: &std::path::Path) -> StoreResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let backend = |e: std::io::Error| StoreError::Backend(Box::new(e));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(file)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(backend(e)),
        }
        let mut paths = vec![file.to_path_buf()];
        for suffix in ["-wal", "-shm"] {
            let mut name = file.as_os_str().to_owned();
            name.push(suffix);
            paths.push(name.into());
        }
        for path in paths.iter().filter(|p| p.exists()) {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(backend)?;
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Appends `entry` sealed to the last entry. Only ever called inside a
/// write transaction, so no other entry can come between the read of the
/// last seal and this insert.
async fn audit_in(conn: &mut AnyConnection, key: &AuditKey, entry: &NewAudit) -> StoreResult<()> {
    let last: Option<(i64, Option<String>)> =
        sqlx::query_as("SELECT id, mac FROM audit ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    let (id, previous) = match last {
        Some((id, mac)) => (id + 1, mac.unwrap_or_default()),
        None => (1, String::new()),
    };
    let at = now();
    let mac = Sealed {
        id,
        at: &at,
        actor_id: entry.actor_id.map(|u| u.0),
        action: &entry.action,
        subject: &entry.subject,
        detail: &entry.detail,
        address: entry.address.as_deref(),
    }
    .seal(key, &previous);
    sqlx::query(
        "INSERT INTO audit (id, at, actor_id, action, subject, detail, address, mac)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(&at)
    .bind(entry.actor_id.map(|u| u.0))
    .bind(&entry.action)
    .bind(&entry.subject)
    .bind(&entry.detail)
    .bind(&entry.address)
    .bind(&mac)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait]
impl Transactions for SqlStore {
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
                Write::AddMessage(m) => committed
                    .messages
                    .push(add_message_in(&mut tx, self.vault.as_ref(), m).await?),
                Write::Audit(entry) => audit_in(&mut tx, &self.audit_key, &entry).await?,
            }
        }
        tx.commit().await?;
        Ok(committed)
    }
}
