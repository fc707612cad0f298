//! [`Whitelists`] in SQL (SQLite and PostgreSQL): versions of the intent whitelist, the live
//! one, and the draft.

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{SqlStore, audit_in, now};
use crate::{
    NewAudit, NewWhitelistVersion, StoreError, StoreResult, Timestamp, UserId, WhitelistDraft,
    WhitelistVersion, Whitelists,
};

const COLUMNS: &str = "v.id, v.files, v.created_at, v.created_by, v.note, v.evaluation, \
                       v.override_reason, (l.version IS NOT NULL) AS live";
const FROM: &str = "whitelist_versions v LEFT JOIN whitelist_live l ON l.version = v.id";

fn bad(what: &str) -> StoreError {
    StoreError::Backend(format!("a stored whitelist's {what} is not what was written").into())
}

fn version(row: &AnyRow) -> StoreResult<WhitelistVersion> {
    let files: String = row.try_get("files")?;
    let evaluation: Option<String> = row.try_get("evaluation")?;
    let created_at: String = row.try_get("created_at")?;
    Ok(WhitelistVersion {
        id: row.try_get("id")?,
        files: serde_json::from_str(&files).map_err(|_| bad("files"))?,
        created_at: Timestamp::parse_rfc3339(&created_at).ok_or_else(|| bad("time"))?,
        created_by: row.try_get::<Option<i64>, _>("created_by")?.map(UserId),
        note: row.try_get("note")?,
        evaluation: match evaluation {
            Some(e) => Some(serde_json::from_str(&e).map_err(|_| bad("evaluation"))?),
            None => None,
        },
        override_reason: row.try_get("override_reason")?,
        live: super::rows::flag(row, "live")?,
    })
}

fn json(files: &BTreeMap<String, String>) -> String {
    serde_json::to_string(files).expect("a map of strings serializes")
}

#[async_trait]
impl Whitelists for SqlStore {
    async fn live_whitelist(&self) -> StoreResult<Option<WhitelistVersion>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE l.version IS NOT NULL"
        ))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(version).transpose()
    }

    async fn whitelist_version(&self, id: i64) -> StoreResult<WhitelistVersion> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM {FROM} WHERE v.id = $1"))
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        version(&row)
    }

    async fn whitelist_versions(&self) -> StoreResult<Vec<WhitelistVersion>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM {FROM} ORDER BY v.id DESC",
            COLUMNS.replace("v.files", "'{}' AS files")
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version).collect()
    }

    async fn publish_whitelist(
        &self,
        new: NewWhitelistVersion,
        audit: Option<NewAudit>,
    ) -> StoreResult<WhitelistVersion> {
        let mut tx = self.write().await?;
        let at = now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO whitelist_versions
             (files, created_at, created_by, note, evaluation, override_reason)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(json(&new.files))
        .bind(&at)
        .bind(new.created_by.map(|u| u.0))
        .bind(&new.note)
        .bind(new.evaluation.map(|e| e.to_string()))
        .bind(&new.override_reason)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO whitelist_live (id, version, since) VALUES (1, $1, $2)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, since = excluded.since",
        )
        .bind(id)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM whitelist_draft")
            .execute(&mut *tx)
            .await?;
        if let Some(mut audit) = audit {
            audit.subject = format!("version:{id}");
            audit_in(&mut tx, &self.audit_key, &audit).await?;
        }
        tx.commit().await?;
        self.whitelist_version(id).await
    }

    async fn set_live_whitelist(&self, id: i64, audit: NewAudit) -> StoreResult<WhitelistVersion> {
        let mut tx = self.write().await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM whitelist_versions WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO whitelist_live (id, version, since) VALUES (1, $1, $2)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, since = excluded.since",
        )
        .bind(id)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        audit_in(&mut tx, &self.audit_key, &audit).await?;
        tx.commit().await?;
        self.whitelist_version(id).await
    }

    async fn whitelist_draft(&self) -> StoreResult<Option<WhitelistDraft>> {
        let row = sqlx::query("SELECT files, base, updated_at, updated_by FROM whitelist_draft")
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let files: String = row.try_get("files")?;
        let updated_at: String = row.try_get("updated_at")?;
        Ok(Some(WhitelistDraft {
            files: serde_json::from_str(&files).map_err(|_| bad("draft"))?,
            base: row.try_get("base")?,
            updated_at: Timestamp::parse_rfc3339(&updated_at).ok_or_else(|| bad("time"))?,
            updated_by: row.try_get::<Option<i64>, _>("updated_by")?.map(UserId),
        }))
    }

    async fn save_whitelist_draft(&self, draft: &WhitelistDraft) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO whitelist_draft (id, files, base, updated_at, updated_by)
             VALUES (1, $1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET files = excluded.files, base = excluded.base,
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(json(&draft.files))
        .bind(draft.base)
        .bind(draft.updated_at.rfc3339())
        .bind(draft.updated_by.map(|u| u.0))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn discard_whitelist_draft(&self) -> StoreResult<()> {
        sqlx::query("DELETE FROM whitelist_draft")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
