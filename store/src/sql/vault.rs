//! The vault: each conversation's data key, wrapped under the master key
//! ([`crate::envelope`]), kept apart from the main database: on SQLite a
//! database file of its own beside the main one (`<db>.vault`, attached to
//! every connection as `vault`); on PostgreSQL the schema `vault`
//! (migrations-postgres/0002). The queries name `vault.data_keys` on both.
//!
//! Why apart: a backup or a copy of the main database holds sealed
//! originals but never the keys that open them. Deleting a conversation
//! deletes its key here (on SQLite the file zeroes deleted rows,
//! `secure_delete`, and its write-ahead log is truncated), so every earlier
//! copy of the main database holds nothing that opens again:
//! crypto-shredding.

use std::collections::HashMap;
use std::sync::RwLock;

use sqlx::{AnyConnection, Row};

use crate::envelope::{DataKey, Keyring};
use crate::{ConversationId, MessageId, StoreError, StoreResult};

/// The keyring the vault's keys are wrapped under; replaced when the master
/// key source changes (a rotation).
pub struct Vault {
    keyring: RwLock<Keyring>,
}

pub(super) fn backend(message: String) -> StoreError {
    StoreError::Backend(message.into())
}

impl Vault {
    pub fn new(keyring: Keyring) -> Vault {
        Vault {
            keyring: RwLock::new(keyring),
        }
    }

    pub fn keyring(&self) -> Keyring {
        self.keyring.read().expect("not poisoned").clone()
    }

    pub fn set_keyring(&self, keyring: Keyring) {
        *self.keyring.write().expect("not poisoned") = keyring;
    }

    /// The conversation's data key; made (and wrapped under the current
    /// master key) when `create` and there is none yet.
    pub async fn data_key(
        &self,
        conn: &mut AnyConnection,
        conversation: &ConversationId,
        create: bool,
    ) -> StoreResult<Option<DataKey>> {
        let row: Option<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT master_id, wrapped FROM vault.data_keys WHERE conversation_id = $1",
        )
        .bind(conversation.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        let keyring = self.keyring();
        match row {
            Some((master_id, wrapped)) => {
                let master = keyring.get(&master_id).ok_or_else(|| {
                    backend(format!(
                        "conversation {} is sealed under master key {master_id}, which is not in the keyring",
                        conversation.as_str()
                    ))
                })?;
                let key = master
                    .unwrap(conversation.as_str(), &wrapped)
                    .map_err(|e| backend(format!("{e} (data key of {})", conversation.as_str())))?;
                Ok(Some(key))
            }
            None if create => {
                let key = DataKey::random();
                let master = keyring.current();
                sqlx::query(
                    "INSERT INTO vault.data_keys (conversation_id, master_id, wrapped) VALUES ($1, $2, $3)",
                )
                .bind(conversation.as_str())
                .bind(master.id())
                .bind(master.wrap(conversation.as_str(), &key))
                .execute(&mut *conn)
                .await?;
                Ok(Some(key))
            }
            None => Ok(None),
        }
    }

    /// The originals of a conversation's messages, opened.
    pub async fn originals(
        &self,
        conn: &mut AnyConnection,
        conversation: &ConversationId,
    ) -> StoreResult<HashMap<MessageId, String>> {
        let rows = sqlx::query(
            "SELECT id, original FROM messages WHERE conversation_id = $1 AND original IS NOT NULL",
        )
        .bind(conversation.as_str())
        .fetch_all(&mut *conn)
        .await?;
        if rows.is_empty() {
            return Ok(HashMap::new());
        }
        let Some(key) = self.data_key(conn, conversation, false).await? else {
            // Sealed values without a key: shredded.
            return Ok(HashMap::new());
        };
        let mut out = HashMap::new();
        for row in rows {
            let sealed: Vec<u8> = row.try_get("original")?;
            let text = key
                .open(conversation.as_str(), &sealed)
                .map_err(|e| backend(format!("{e} (a message of {})", conversation.as_str())))?;
            out.insert(
                MessageId(row.try_get("id")?),
                String::from_utf8_lossy(&text).into_owned(),
            );
        }
        Ok(out)
    }

    /// Wraps every data key not under the current master key under it, a
    /// batch at a time; how many were moved.
    pub async fn rewrap(&self, conn: &mut AnyConnection) -> StoreResult<u64> {
        let keyring = self.keyring();
        let current = keyring.current();
        let rows: Vec<(String, String, Vec<u8>)> = sqlx::query_as(
            "SELECT conversation_id, master_id, wrapped FROM vault.data_keys WHERE master_id <> $1 LIMIT 500",
        )
        .bind(current.id())
        .fetch_all(&mut *conn)
        .await?;
        let mut moved = 0;
        for (conversation, master_id, wrapped) in rows {
            let old = keyring.get(&master_id).ok_or_else(|| {
                backend(format!(
                    "master key {master_id} is not in the keyring: it must be until every key it wrapped is moved"
                ))
            })?;
            let key = old
                .unwrap(&conversation, &wrapped)
                .map_err(|e| backend(format!("{e} (data key of {conversation})")))?;
            sqlx::query(
                "UPDATE vault.data_keys SET master_id = $1, wrapped = $2 WHERE conversation_id = $3 AND master_id = $4",
            )
            .bind(current.id())
            .bind(current.wrap(&conversation, &key))
            .bind(&conversation)
            .bind(&master_id)
            .execute(&mut *conn)
            .await?;
            moved += 1;
        }
        Ok(moved)
    }
}

/// The vault's table on SQLite, created on first use (PostgreSQL's is made
/// by its migrations).
pub async fn create(conn: &mut AnyConnection) -> StoreResult<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS vault.data_keys (
             conversation_id TEXT PRIMARY KEY,
             master_id       TEXT NOT NULL,
             wrapped         BLOB NOT NULL
         )",
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
