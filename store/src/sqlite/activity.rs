//! [`CannedReplies`] and [`Activities`] on SQLite: the clinicians' canned
//! replies, and the dashboard's events.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, now};
use crate::{
    Activities, Activity, ActivityKind, CannedReplies, CannedReply, ConversationId, NewActivity,
    NewCannedReply, StoreError, StoreResult, Timestamp, UserId,
};

/// `NotFound` when a write touched no row.
fn found(rows: u64) -> StoreResult<()> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

fn bad(what: &str) -> StoreError {
    StoreError::Backend(format!("a stored {what} is not what was written").into())
}

const CANNED: &str = "SELECT r.id, r.owner, r.language, r.title, r.body, r.updated_at, \
                      COALESCE(u.uses, 0) AS uses \
                      FROM canned_replies r \
                      LEFT JOIN canned_uses u ON u.reply = r.id AND u.user_id = ?";

fn canned(row: &SqliteRow) -> StoreResult<CannedReply> {
    let updated_at: String = row.try_get("updated_at")?;
    Ok(CannedReply {
        id: row.try_get("id")?,
        owner: row.try_get::<Option<i64>, _>("owner")?.map(UserId),
        language: row.try_get("language")?,
        title: row.try_get("title")?,
        body: row.try_get("body")?,
        uses: row.try_get("uses")?,
        updated_at: Timestamp::parse_rfc3339(&updated_at).ok_or_else(|| bad("reply's time"))?,
    })
}

#[async_trait]
impl CannedReplies for SqliteStore {
    async fn canned_replies(&self, user: UserId) -> StoreResult<Vec<CannedReply>> {
        let rows = sqlx::query(&format!(
            "{CANNED} WHERE r.owner IS NULL OR r.owner = ? \
             ORDER BY uses DESC, r.title COLLATE NOCASE, r.id"
        ))
        .bind(user.0)
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(canned).collect()
    }

    async fn canned_reply(&self, id: i64, user: UserId) -> StoreResult<CannedReply> {
        let row = sqlx::query(&format!("{CANNED} WHERE r.id = ?"))
            .bind(user.0)
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        canned(&row)
    }

    async fn add_canned_reply(&self, new: NewCannedReply) -> StoreResult<CannedReply> {
        let at = now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO canned_replies (owner, language, title, body, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(new.owner.map(|u| u.0))
        .bind(&new.language)
        .bind(&new.title)
        .bind(&new.body)
        .bind(&at)
        .bind(&at)
        .fetch_one(&self.pool)
        .await?;
        self.canned_reply(id, new.owner.unwrap_or(UserId(0))).await
    }

    async fn update_canned_reply(&self, id: i64, new: NewCannedReply) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE canned_replies SET language = ?, title = ?, body = ?, updated_at = ? \
             WHERE id = ?",
        )
        .bind(&new.language)
        .bind(&new.title)
        .bind(&new.body)
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        found(done.rows_affected())
    }

    async fn delete_canned_reply(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM canned_replies WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        found(done.rows_affected())
    }

    async fn use_canned_reply(&self, id: i64, user: UserId) -> StoreResult<()> {
        let done = sqlx::query(
            "INSERT INTO canned_uses (reply, user_id, uses) \
             SELECT id, ?, 1 FROM canned_replies WHERE id = ? \
             ON CONFLICT (reply, user_id) DO UPDATE SET uses = uses + 1",
        )
        .bind(user.0)
        .bind(id)
        .execute(&self.pool)
        .await?;
        found(done.rows_affected())
    }
}

#[async_trait]
impl Activities for SqliteStore {
    async fn record_activity(&self, new: NewActivity) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT OR IGNORE INTO activity \
             (at, kind, conversation, intent, detail, user_id, seconds) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new.at.unix())
        .bind(new.kind.as_str())
        .bind(new.conversation.as_ref().map(ConversationId::as_str))
        .bind(&new.intent)
        .bind(&new.detail)
        .bind(new.user.map(|u| u.0))
        .bind(new.seconds)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn first_activity(
        &self,
        conversation: &ConversationId,
        kinds: &[ActivityKind],
    ) -> StoreResult<Option<Timestamp>> {
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(at) FROM activity WHERE conversation = ? \
             AND kind IN (SELECT value FROM json_each(?))",
        )
        .bind(conversation.as_str())
        .bind(serde_json::to_string(&kinds).expect("strings serialize"))
        .fetch_one(&self.pool)
        .await?;
        Ok(at.map(Timestamp::from_unix))
    }

    async fn activity(&self, from: Timestamp, to: Timestamp) -> StoreResult<Vec<Activity>> {
        let rows = sqlx::query(
            "SELECT at, kind, intent, detail, user_id, seconds FROM activity \
             WHERE at >= ? AND at < ? ORDER BY at, id",
        )
        .bind(from.unix())
        .bind(to.unix())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                Ok(Activity {
                    at: Timestamp::from_unix(row.try_get("at")?),
                    kind: ActivityKind::parse(&kind).ok_or_else(|| bad("activity's kind"))?,
                    intent: row.try_get("intent")?,
                    detail: row.try_get("detail")?,
                    user: row.try_get::<Option<i64>, _>("user_id")?.map(UserId),
                    seconds: row.try_get("seconds")?,
                })
            })
            .collect()
    }
}
