//! [`Conversations`] on SQLite: conversations, messages, staff notes and
//! team messages.

use async_trait::async_trait;
use sqlx::SqliteConnection;

use super::rows::{self, CONV_COLUMNS, MESSAGE_COLUMNS};
use super::{SqliteStore, add_message_in, now, update_conversation_in};
use crate::{
    ConvState, ConvUpdate, Conversation, ConversationId, Conversations, Message, MessageId,
    NewAudit, NewConversation, NewMessage, StaffText, StaffTextId, StoreResult, Timestamp, UserId,
};

/// One conversation, read on `conn` (a transaction's, for an update).
pub(super) async fn select(
    conn: &mut SqliteConnection,
    id: &ConversationId,
) -> StoreResult<Conversation> {
    let row = sqlx::query(&format!(
        "SELECT {CONV_COLUMNS} FROM conversations WHERE id = ?"
    ))
    .bind(id.as_str())
    .fetch_one(conn)
    .await?;
    Ok(rows::conversation(&row)?)
}

impl SqliteStore {
    async fn conversations_where(&self, filter: &str) -> StoreResult<Vec<Conversation>> {
        let rows = sqlx::query(&format!(
            "SELECT {CONV_COLUMNS} FROM conversations WHERE {filter}"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(rows::conversation)
            .collect::<Result<_, _>>()?)
    }
}

#[async_trait]
impl Conversations for SqliteStore {
    async fn create_conversation(&self, new: NewConversation) -> StoreResult<Conversation> {
        let now = now();
        sqlx::query(
            "INSERT INTO conversations
             (id, resume_hash, state, browser_language, fingerprint, address, license_state,
              created_at, updated_at)
             VALUES (?, ?, 'bot', ?, ?, ?, ?, ?, ?)",
        )
        .bind(new.id.as_str())
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

    async fn conversation(&self, id: &ConversationId) -> StoreResult<Conversation> {
        let mut conn = self.pool.acquire().await?;
        select(&mut conn, id).await
    }

    async fn conversation_by_resume(&self, resume_hash: &str) -> StoreResult<Conversation> {
        let row = sqlx::query(&format!(
            "SELECT {CONV_COLUMNS} FROM conversations WHERE resume_hash = ?"
        ))
        .bind(resume_hash)
        .fetch_one(&self.pool)
        .await?;
        Ok(rows::conversation(&row)?)
    }

    async fn held_conversations(&self) -> StoreResult<Vec<Conversation>> {
        self.conversations_where("held = 1 AND state <> 'closed' ORDER BY updated_at, id")
            .await
    }

    async fn open_conversations(&self) -> StoreResult<Vec<Conversation>> {
        self.conversations_where("state IN ('queued', 'assigned') ORDER BY created_at, id")
            .await
    }

    async fn update_conversation(
        &self,
        id: &ConversationId,
        update: ConvUpdate,
    ) -> StoreResult<Conversation> {
        let mut tx = self.write().await?;
        let c = update_conversation_in(&mut tx, id, update).await?;
        tx.commit().await?;
        Ok(c)
    }

    async fn has_held(&self, conversation: &ConversationId, user: UserId) -> StoreResult<bool> {
        let held: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM conversation_staff WHERE conversation_id = ? AND user_id = ?",
        )
        .bind(conversation.as_str())
        .bind(user.0)
        .fetch_optional(&self.pool)
        .await?;
        Ok(held.is_some())
    }

    async fn add_message(&self, m: NewMessage) -> StoreResult<Message> {
        if m.original.is_some() && self.vault.is_some() {
            let mut tx = self.write().await?;
            let message = add_message_in(&mut tx, self.vault.as_ref(), m).await?;
            tx.commit().await?;
            return Ok(message);
        }
        let mut conn = self.pool.acquire().await?;
        add_message_in(&mut conn, None, m).await
    }

    async fn delete_conversation(
        &self,
        id: &ConversationId,
        audit: Option<NewAudit>,
    ) -> StoreResult<()> {
        let mut tx = self.write().await?;
        if self.vault.is_some() {
            sqlx::query("DELETE FROM vault.data_keys WHERE conversation_id = ?")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        for statement in [
            "DELETE FROM messages WHERE conversation_id = ?",
            "DELETE FROM notes WHERE conversation_id = ?",
            "DELETE FROM conversation_staff WHERE conversation_id = ?",
            // A block outlives the chat it came from (it holds only keyed
            // hashes); it no longer points at it.
            "UPDATE blocks SET conversation_id = NULL WHERE conversation_id = ?",
        ] {
            sqlx::query(statement)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let deleted = sqlx::query("DELETE FROM conversations WHERE id = ?")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(crate::StoreError::NotFound);
        }
        if let Some(audit) = &audit {
            super::audit_in(&mut tx, &self.audit_key, audit).await?;
        }
        tx.commit().await?;
        self.checkpoint().await
    }

    async fn conversations_of_browser(&self, fingerprint: &str) -> StoreResult<Vec<Conversation>> {
        let rows = sqlx::query(&format!(
            "SELECT {CONV_COLUMNS} FROM conversations WHERE fingerprint = ? ORDER BY created_at, id"
        ))
        .bind(fingerprint)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(rows::conversation)
            .collect::<Result<_, _>>()?)
    }

    async fn untouched_since(
        &self,
        state: ConvState,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Conversation>> {
        let rows = sqlx::query(&format!(
            "SELECT {CONV_COLUMNS} FROM conversations c WHERE state = ? AND updated_at < ?
             AND NOT EXISTS (SELECT 1 FROM messages m
                             WHERE m.conversation_id = c.id AND m.created_at >= ?)
             ORDER BY updated_at LIMIT ?"
        ))
        .bind(state.as_str())
        .bind(before.rfc3339())
        .bind(before.rfc3339())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(rows::conversation)
            .collect::<Result<_, _>>()?)
    }

    async fn originals(
        &self,
        conversation: &ConversationId,
    ) -> StoreResult<std::collections::HashMap<MessageId, String>> {
        match &self.vault {
            Some(vault) => {
                vault
                    .originals(&mut *self.pool.acquire().await?, conversation)
                    .await
            }
            None => Ok(Default::default()),
        }
    }

    async fn messages(&self, conversation: &ConversationId) -> StoreResult<Vec<Message>> {
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id"
        ))
        .bind(conversation.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(rows::message).collect::<Result<_, _>>()?)
    }

    async fn add_note(
        &self,
        conversation: &ConversationId,
        user: UserId,
        text: &str,
    ) -> StoreResult<StaffText> {
        let created_at = crate::Timestamp::now();
        let id = sqlx::query(
            "INSERT INTO notes (conversation_id, user_id, text, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(conversation.as_str())
        .bind(user.0)
        .bind(text)
        .bind(created_at.rfc3339())
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        Ok(StaffText {
            id: StaffTextId(id),
            about: conversation.to_string(),
            user_id: user,
            text: text.to_string(),
            created_at,
        })
    }

    async fn notes(&self, conversation: &ConversationId) -> StoreResult<Vec<StaffText>> {
        let rows = sqlx::query(
            "SELECT id, conversation_id AS about, user_id, text, created_at FROM notes
             WHERE conversation_id = ? ORDER BY id",
        )
        .bind(conversation.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(rows::staff_text)
            .collect::<Result<_, _>>()?)
    }

    async fn add_team_message(
        &self,
        from: UserId,
        to: UserId,
        text: &str,
    ) -> StoreResult<StaffText> {
        let created_at = crate::Timestamp::now();
        let id = sqlx::query(
            "INSERT INTO team_messages (from_user, to_user, text, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(from.0)
        .bind(to.0)
        .bind(text)
        .bind(created_at.rfc3339())
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        Ok(StaffText {
            id: StaffTextId(id),
            about: to.to_string(),
            user_id: from,
            text: text.to_string(),
            created_at,
        })
    }

    async fn team_messages(&self, a: UserId, b: UserId, limit: u32) -> StoreResult<Vec<StaffText>> {
        let rows = sqlx::query(
            "SELECT * FROM (
                SELECT id, CAST(to_user AS TEXT) AS about, from_user AS user_id, text, created_at
                FROM team_messages
                WHERE (from_user = ? AND to_user = ?) OR (from_user = ? AND to_user = ?)
                ORDER BY id DESC LIMIT ?
             ) ORDER BY id",
        )
        .bind(a.0)
        .bind(b.0)
        .bind(b.0)
        .bind(a.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(rows::staff_text)
            .collect::<Result<_, _>>()?)
    }
}
