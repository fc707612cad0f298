//! [`Conversations`] in SQL (SQLite and PostgreSQL): conversations, messages, staff notes and
//! team messages.

use async_trait::async_trait;
use sqlx::AnyConnection;

use super::rows::{self, CONV_COLUMNS, MESSAGE_COLUMNS};
use super::{SqlStore, add_message_in, now, update_conversation_in};
use crate::{
    ConvState, ConvUpdate, Conversation, ConversationId, Conversations, Message, MessageId,
    NewAudit, NewConversation, NewMessage, StaffText, StaffTextId, StoreResult, Timestamp, UserId,
};

/// One conversation, read on `conn` (a transaction's, for an update).
pub(super) async fn select(
    conn: &mut AnyConnection,
    id: &ConversationId,
) -> StoreResult<Conversation> {
    let row = sqlx::query(&format!(
        "SELECT {CONV_COLUMNS} FROM conversations WHERE id = $1"
    ))
    .bind(id.as_str())
    .fetch_one(conn)
    .await?;
    Ok(rows::conversation(&row)?)
}

impl SqlStore {
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
impl Conversations for SqlStore {
    async fn create_conversation(&self, new: NewConversation) -> StoreResult<Conversation> {
        let now = now();
        sqlx::query(
            "INSERT INTO conversations
             (id, resume_hash, state, browser_language, fingerprint, address, license_state,
              created_at, updated_at)
             VALUES ($1, $2, 'bot', $3, $4, $5, $6, $7, $8)",
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
            "SELECT {CONV_COLUMNS} FROM conversations WHERE resume_hash = $1"
        ))
        .bind(resume_hash)
        .fetch_one(&self.pool)
        .await?;
        Ok(rows::conversation(&row)?)
    }

    async fn held_conversations(&self) -> StoreResult<Vec<Conversation>> {
        self.conversations_where("held = TRUE AND state <> 'closed' ORDER BY updated_at, id")
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
            "SELECT 1 FROM conversation_staff WHERE conversation_id = $1 AND user_id = $2",
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
            sqlx::query("DELETE FROM vault.data_keys WHERE conversation_id = $1")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        for statement in [
            "DELETE FROM messages WHERE conversation_id = $1",
            "DELETE FROM files WHERE conversation_id = $1",
            "DELETE FROM notes WHERE conversation_id = $1",
            "DELETE FROM conversation_staff WHERE conversation_id = $1",
            "DELETE FROM transcript_links WHERE conversation_id = $1",
            "DELETE FROM reply_links WHERE conversation_id = $1",
            "DELETE FROM consents WHERE conversation_id = $1",
            "DELETE FROM patient_forms WHERE conversation_id = $1",
            // A block outlives the chat it came from (it holds only keyed
            // hashes); it no longer points at it.
            "UPDATE blocks SET conversation_id = NULL WHERE conversation_id = $1",
            // The dashboard keeps its counts, no longer tied to the chat.
            "UPDATE activity SET conversation = NULL WHERE conversation = $1",
        ] {
            sqlx::query(statement)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let deleted = sqlx::query("DELETE FROM conversations WHERE id = $1")
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

    async fn conversation_ids(&self) -> StoreResult<Vec<ConversationId>> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM conversations ORDER BY created_at, id")
                .fetch_all(&self.pool)
                .await?;
        Ok(ids.into_iter().map(ConversationId::new).collect())
    }

    async fn conversations_of_browser(&self, fingerprint: &str) -> StoreResult<Vec<Conversation>> {
        let rows = sqlx::query(&format!(
            "SELECT {CONV_COLUMNS} FROM conversations WHERE fingerprint = $1 ORDER BY created_at, id"
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
            "SELECT {CONV_COLUMNS} FROM conversations c WHERE state = $1 AND updated_at < $2
             AND delivery_due IS NULL
             AND NOT EXISTS (SELECT 1 FROM messages m
                             WHERE m.conversation_id = c.id AND m.created_at >= $3)
             ORDER BY updated_at LIMIT $4"
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
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 ORDER BY id"
        ))
        .bind(conversation.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(rows::message).collect::<Result<_, _>>()?)
    }

    async fn create_transcript_link(
        &self,
        token_hash: &str,
        conversation: &ConversationId,
        by: UserId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO transcript_links
             (token_hash, conversation_id, created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(conversation.as_str())
        .bind(by.0)
        .bind(now.unix())
        .bind(expires_at.unix())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn use_transcript_link(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<ConversationId> {
        let id: Option<String> = sqlx::query_scalar(
            "UPDATE transcript_links SET used_at = $1
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $3
             RETURNING conversation_id",
        )
        .bind(now.unix())
        .bind(token_hash)
        .bind(now.unix())
        .fetch_optional(&self.pool)
        .await?;
        id.map(ConversationId::new)
            .ok_or(crate::StoreError::NotFound)
    }

    async fn set_delivery(
        &self,
        id: &ConversationId,
        due: Option<Timestamp>,
        attempts: u32,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE conversations SET delivery_due = $1, delivery_attempts = $2 WHERE id = $3",
        )
        .bind(due.map(Timestamp::unix))
        .bind(i64::from(attempts))
        .bind(id.as_str())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(crate::StoreError::NotFound);
        }
        Ok(())
    }

    async fn deliveries_due(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<(ConversationId, u32)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, delivery_attempts FROM conversations
             WHERE delivery_due IS NOT NULL AND delivery_due <= $1
             ORDER BY delivery_due, id LIMIT $2",
        )
        .bind(now.unix())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, attempts)| {
                (
                    ConversationId::new(id),
                    attempts.clamp(0, u32::MAX as i64) as u32,
                )
            })
            .collect())
    }

    async fn add_note(
        &self,
        conversation: &ConversationId,
        user: UserId,
        text: &str,
        original: Option<&str>,
    ) -> StoreResult<StaffText> {
        let created_at = crate::Timestamp::now();
        // The key and the value it seals are written together.
        let mut tx = self.write().await?;
        let sealed = match (&self.vault, original) {
            (Some(vault), Some(original)) => {
                let key = vault
                    .data_key(&mut tx, conversation, true)
                    .await?
                    .expect("made when absent");
                Some(key.seal(conversation.as_str(), original.as_bytes()))
            }
            _ => None,
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO notes (conversation_id, user_id, text, created_at, original)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(conversation.as_str())
        .bind(user.0)
        .bind(text)
        .bind(created_at.rfc3339())
        .bind(sealed)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(StaffText {
            id: StaffTextId(id),
            about: conversation.to_string(),
            user_id: user,
            text: text.to_string(),
            created_at,
            original: None,
        })
    }

    async fn notes(
        &self,
        conversation: &ConversationId,
        originals: bool,
    ) -> StoreResult<Vec<StaffText>> {
        let rows = sqlx::query(
            "SELECT id, conversation_id AS about, user_id, text, created_at, original FROM notes
             WHERE conversation_id = $1 ORDER BY id",
        )
        .bind(conversation.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut notes: Vec<StaffText> = rows
            .iter()
            .map(rows::staff_text)
            .collect::<Result<_, _>>()?;
        if let (true, Some(vault)) = (originals, &self.vault) {
            let sealed: Vec<Option<Vec<u8>>> = rows
                .iter()
                .map(|r| sqlx::Row::try_get(r, "original"))
                .collect::<Result<_, _>>()?;
            if sealed.iter().any(Option::is_some) {
                let mut conn = self.pool.acquire().await?;
                // No key: shredded, and nothing opens.
                if let Some(key) = vault.data_key(&mut conn, conversation, false).await? {
                    for (note, sealed) in notes.iter_mut().zip(sealed) {
                        if let Some(sealed) = sealed {
                            let text = key.open(conversation.as_str(), &sealed).map_err(|e| {
                                super::vault::backend(format!(
                                    "{e} (a note of {})",
                                    conversation.as_str()
                                ))
                            })?;
                            note.original = Some(String::from_utf8_lossy(&text).into_owned());
                        }
                    }
                }
            }
        }
        Ok(notes)
    }

    async fn add_team_message(
        &self,
        from: UserId,
        to: UserId,
        text: &str,
    ) -> StoreResult<StaffText> {
        let created_at = crate::Timestamp::now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO team_messages (from_user, to_user, text, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(from.0)
        .bind(to.0)
        .bind(text)
        .bind(created_at.rfc3339())
        .fetch_one(&self.pool)
        .await?;
        Ok(StaffText {
            id: StaffTextId(id),
            about: to.to_string(),
            user_id: from,
            text: text.to_string(),
            created_at,
            original: None,
        })
    }

    async fn team_messages(&self, a: UserId, b: UserId, limit: u32) -> StoreResult<Vec<StaffText>> {
        let rows = sqlx::query(
            "SELECT * FROM (
                SELECT id, CAST(to_user AS TEXT) AS about, from_user AS user_id, text, created_at
                FROM team_messages
                WHERE (from_user = $1 AND to_user = $2) OR (from_user = $3 AND to_user = $4)
                ORDER BY id DESC LIMIT $5
             ) AS recent ORDER BY id",
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
