//! [`SharedFiles`] in SQL (SQLite and PostgreSQL): each file sealed under its conversation's
//! data key, as messages' originals are, and written with the message that
//! shows it. Without a vault nothing is kept: a file cannot be redacted.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{SqlStore, add_message_with_file, now, vault};
use crate::{
    ConversationId, FileMeta, Message, NewAudit, NewFile, NewMessage, Sender, SharedFiles,
    StoreError, StoreResult, Timestamp, UserId,
};

const COLUMNS: &str = "id, conversation_id, sender, user_id, name, kind, size, width, height, \
                       pages, scanned, created_at";

fn bad(what: &str) -> StoreError {
    vault::backend(format!("a stored file's {what} is not what was written"))
}

fn meta(row: &AnyRow) -> StoreResult<FileMeta> {
    let sender: String = row.try_get("sender")?;
    let created: String = row.try_get("created_at")?;
    let dimension = |column: &str| -> StoreResult<Option<u32>> {
        row.try_get::<Option<i64>, _>(column)?
            .map(|v| u32::try_from(v).map_err(|_| bad(column)))
            .transpose()
    };
    Ok(FileMeta {
        id: row.try_get("id")?,
        conversation_id: ConversationId::new(row.try_get::<String, _>("conversation_id")?),
        sender: Sender::parse(&sender).ok_or_else(|| bad("sender"))?,
        user_id: row.try_get::<Option<i64>, _>("user_id")?.map(UserId),
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        size: u64::try_from(row.try_get::<i64, _>("size")?).map_err(|_| bad("size"))?,
        width: dimension("width")?,
        height: dimension("height")?,
        pages: dimension("pages")?,
        scanned: super::rows::flag(row, "scanned")?,
        created_at: Timestamp::parse_rfc3339(&created).ok_or_else(|| bad("time"))?,
    })
}

#[async_trait]
impl SharedFiles for SqlStore {
    fn keeps_files(&self) -> bool {
        self.vault.is_some()
    }

    async fn add_file(
        &self,
        file: NewFile,
        message: NewMessage,
        audit: Option<NewAudit>,
    ) -> StoreResult<(FileMeta, Message)> {
        let Some(vault) = &self.vault else {
            return Err(vault::backend(
                "files are kept only sealed, and this store has no vault".into(),
            ));
        };
        if message.conversation_id != file.conversation_id {
            return Err(vault::backend(
                "a file's message belongs to another conversation".into(),
            ));
        }
        let mut tx = self.write().await?;
        let key = vault
            .data_key(&mut tx, &file.conversation_id, true)
            .await?
            .expect("made when absent");
        let sealed = key.seal(file.conversation_id.as_str(), &file.data);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO files (conversation_id, sender, user_id, name, kind, size, width, height, \
             pages, scanned, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             RETURNING id",
        )
        .bind(file.conversation_id.as_str())
        .bind(file.sender.as_str())
        .bind(file.user_id.map(|u| u.0))
        .bind(&file.name)
        .bind(&file.kind)
        .bind(file.data.len() as i64)
        .bind(file.width.map(i64::from))
        .bind(file.height.map(i64::from))
        .bind(file.pages.map(i64::from))
        .bind(file.scanned)
        .bind(sealed)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?;
        let message = add_message_with_file(&mut tx, Some(vault), message, Some(id)).await?;
        if let Some(audit) = &audit {
            super::audit_in(&mut tx, &self.audit_key, audit).await?;
        }
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM files WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((meta(&row)?, message))
    }

    async fn file_meta(&self, id: i64) -> StoreResult<FileMeta> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM files WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        meta(&row)
    }

    async fn file_data(&self, id: i64) -> StoreResult<Vec<u8>> {
        let (conversation, sealed): (String, Vec<u8>) =
            sqlx::query_as("SELECT conversation_id, data FROM files WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound)?;
        let vault = self.vault.as_ref().ok_or(StoreError::NotFound)?;
        let conversation = ConversationId::new(conversation);
        let mut conn = self.pool.acquire().await?;
        let key = vault
            .data_key(&mut conn, &conversation, false)
            .await?
            // Shredded: the bytes no longer open.
            .ok_or(StoreError::NotFound)?;
        key.open(conversation.as_str(), &sealed)
            .map_err(|e| vault::backend(format!("{e} (a file of {})", conversation.as_str())))
    }

    async fn files_of(&self, conversation: &ConversationId) -> StoreResult<Vec<FileMeta>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM files WHERE conversation_id = $1 ORDER BY id"
        ))
        .bind(conversation.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(meta).collect()
    }
}
