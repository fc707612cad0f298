//! [`Moderation`] in SQL (SQLite and PostgreSQL): blocks, and the audit trail.

use async_trait::async_trait;

use super::rows::{self, BLOCK_COLUMNS};
use super::{SqlStore, audit_in, now};
use crate::chain::Sealed;
use crate::{
    AuditEntry, AuditFilter, AuditId, AuditVerdict, Block, BlockId, Moderation, NewAudit, NewBlock,
    StoreError, StoreResult, UserId,
};

/// An audit row as stored, seal included: what sealing and checking read.
#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    pub id: i64,
    at: String,
    actor_id: Option<i64>,
    action: String,
    subject: String,
    detail: String,
    address: Option<String>,
    pub mac: Option<String>,
}

impl AuditRow {
    pub fn sealed(&self) -> Sealed<'_> {
        Sealed {
            id: self.id,
            at: &self.at,
            actor_id: self.actor_id,
            action: &self.action,
            subject: &self.subject,
            detail: &self.detail,
            address: self.address.as_deref(),
        }
    }
}

/// Every audit row, oldest first.
pub(super) async fn audit_rows(conn: &mut sqlx::AnyConnection) -> StoreResult<Vec<AuditRow>> {
    Ok(sqlx::query_as(
        "SELECT id, at, actor_id, action, subject, detail, address, mac FROM audit ORDER BY id",
    )
    .fetch_all(conn)
    .await?)
}

impl SqlStore {
    async fn block_in(conn: &mut sqlx::AnyConnection, id: i64) -> StoreResult<Block> {
        let row = sqlx::query(&format!("SELECT {BLOCK_COLUMNS} FROM blocks WHERE id = $1"))
            .bind(id)
            .fetch_one(conn)
            .await?;
        Ok(rows::block(&row)?)
    }
}

#[async_trait]
impl Moderation for SqlStore {
    async fn block(&self, b: NewBlock) -> StoreResult<Block> {
        let mut tx = self.write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO blocks (kind, value, conversation_id, reason, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(b.kind.as_str())
        .bind(&b.value)
        .bind(b.conversation_id.as_ref().map(|c| c.as_str()))
        .bind(&b.reason)
        .bind(b.created_by.0)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?;
        let detail = format!(
            "{} conversation={}",
            b.kind.as_str(),
            b.conversation_id.as_ref().map_or("-", |c| c.as_str())
        );
        let entry = NewAudit::new(Some(b.created_by), "block", format!("block:{id}"), detail)
            .from_address(b.admin_address.clone());
        audit_in(&mut tx, &self.audit_key, &entry).await?;
        let block = Self::block_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(block)
    }

    async fn lift_block(
        &self,
        id: BlockId,
        by: UserId,
        address: Option<String>,
    ) -> StoreResult<Block> {
        let mut tx = self.write().await?;
        let lifted = sqlx::query(
            "UPDATE blocks SET lifted_by = $1, lifted_at = $2 WHERE id = $3 AND lifted_at IS NULL",
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
        )
        .from_address(address);
        audit_in(&mut tx, &self.audit_key, &entry).await?;
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
            "SELECT COUNT(DISTINCT fingerprint) FROM conversations WHERE address = $1",
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
             ((kind = 'fingerprint' AND value = $1) OR (kind = 'address' AND value = $2)) LIMIT 1",
        )
        .bind(fingerprint)
        .bind(address)
        .fetch_optional(&self.pool)
        .await?;
        Ok(hit.is_some())
    }

    async fn audit(&self, entry: NewAudit) -> StoreResult<()> {
        let mut tx = self.write().await?;
        audit_in(&mut tx, &self.audit_key, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_search(&self, f: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let mut sql = String::from(
            "SELECT id, at, actor_id, action, subject, detail, address FROM audit WHERE 1 = 1",
        );
        let mut n = 0;
        for (set, clause) in [
            (f.actor.is_some(), " AND actor_id = "),
            (f.action.is_some(), " AND action = "),
            (f.subject.is_some(), " AND subject = "),
            (f.since.is_some(), " AND at >= "),
            (f.until.is_some(), " AND at < "),
            (f.before.is_some(), " AND id < "),
        ] {
            if set {
                n += 1;
                sql.push_str(&format!("{clause}${n}"));
            }
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", n + 1));
        let mut q = sqlx::query(&sql);
        if let Some(a) = f.actor {
            q = q.bind(a.0);
        }
        if let Some(a) = &f.action {
            q = q.bind(a);
        }
        if let Some(s) = &f.subject {
            q = q.bind(s);
        }
        // Times are stored as RFC 3339 in UTC, one format: they sort as text.
        if let Some(t) = f.since {
            q = q.bind(t.rfc3339());
        }
        if let Some(t) = f.until {
            q = q.bind(t.rfc3339());
        }
        if let Some(b) = f.before {
            q = q.bind(b.0);
        }
        let rows = q.bind(i64::from(f.limit)).fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(rows::audit_entry)
            .collect::<Result<_, _>>()?)
    }

    async fn verify_audit(&self) -> StoreResult<AuditVerdict> {
        let rows = audit_rows(&mut *self.pool.acquire().await?).await?;
        let mut previous = String::new();
        for (n, row) in rows.iter().enumerate() {
            let broken = match &row.mac {
                None => Some("it has no seal"),
                Some(mac) if *mac != row.sealed().seal(&self.audit_key, &previous) => Some(
                    "its seal does not match: it was changed, an entry before it was removed, \
                     or the key is not the one that sealed it",
                ),
                Some(_) => None,
            };
            if let Some(why) = broken {
                return Ok(AuditVerdict {
                    entries: n as u64 + 1,
                    broken: Some((AuditId(row.id), why)),
                });
            }
            previous = row.mac.clone().unwrap_or_default();
        }
        Ok(AuditVerdict {
            entries: rows.len() as u64,
            broken: None,
        })
    }
}
