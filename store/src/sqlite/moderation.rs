//! [`Moderation`] on SQLite: blocks, and the audit trail.

use async_trait::async_trait;

use super::rows::{self, BLOCK_COLUMNS};
use super::{SqliteStore, audit_in, now};
use crate::{
    AuditEntry, Block, BlockId, Moderation, NewAudit, NewBlock, StoreError, StoreResult, UserId,
};

impl SqliteStore {
    async fn block_in(conn: &mut sqlx::SqliteConnection, id: i64) -> StoreResult<Block> {
        let row = sqlx::query(&format!("SELECT {BLOCK_COLUMNS} FROM blocks WHERE id = ?"))
            .bind(id)
            .fetch_one(conn)
            .await?;
        Ok(rows::block(&row)?)
    }
}

#[async_trait]
impl Moderation for SqliteStore {
    async fn block(&self, b: NewBlock) -> StoreResult<Block> {
        let mut tx = self.write().await?;
        let id = sqlx::query(
            "INSERT INTO blocks (kind, value, conversation_id, reason, created_by, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(b.kind.as_str())
        .bind(&b.value)
        .bind(b.conversation_id.as_ref().map(|c| c.as_str()))
        .bind(&b.reason)
        .bind(b.created_by.0)
        .bind(now())
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        let detail = format!(
            "{} conversation={}",
            b.kind.as_str(),
            b.conversation_id.as_ref().map_or("-", |c| c.as_str())
        );
        let entry = NewAudit::new(Some(b.created_by), "block", format!("block:{id}"), detail);
        audit_in(&mut tx, &entry).await?;
        let block = Self::block_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(block)
    }

    async fn lift_block(&self, id: BlockId, by: UserId) -> StoreResult<Block> {
        let mut tx = self.write().await?;
        let lifted = sqlx::query(
            "UPDATE blocks SET lifted_by = ?, lifted_at = ? WHERE id = ? AND lifted_at IS NULL",
        )
        .bind(by.0)
        .bind(now())
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        if lifted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        let block = Self::block_in(&mut tx, id.0).await?;
        let entry = NewAudit::new(
            Some(by),
            "unblock",
            format!("block:{id}"),
            block.kind.as_str(),
        );
        audit_in(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(block)
    }

    async fn active_blocks(&self) -> StoreResult<Vec<Block>> {
        let rows = sqlx::query(&format!(
            "SELECT {BLOCK_COLUMNS} FROM blocks WHERE lifted_at IS NULL ORDER BY id DESC"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(rows::block).collect::<Result<_, _>>()?)
    }

    async fn browsers_at(&self, address: &str) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT fingerprint) FROM conversations WHERE address = ?",
        )
        .bind(address)
        .fetch_one(&self.pool)
        .await?;
        Ok(n.max(0) as u64)
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

    async fn audit(&self, entry: NewAudit) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        audit_in(&mut conn, &entry).await
    }

    async fn audit_log(&self, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, at, actor_id, action, subject, detail FROM audit ORDER BY id DESC LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(rows::audit_entry)
            .collect::<Result<_, _>>()?)
    }
}
