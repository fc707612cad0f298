//! [`CannedReplies`] and [`Activities`] in SQL (SQLite and PostgreSQL): the clinicians' canned
//! replies, and the dashboard's events.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{SqlStore, now};
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
                      LEFT JOIN canned_uses u ON u.reply = r.id AND u.user_id = $1";

fn canned(row: &AnyRow) -> StoreResult<CannedReply> {
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
impl CannedReplies for SqlStore {
    async fn canned_replies(&self, user: UserId) -> StoreResult<Vec<CannedReply>> {
        let rows = sqlx::query(&format!(
            "{CANNED} WHERE r.owner IS NULL OR r.owner = $1 \
             ORDER BY uses DESC, LOWER(r.title), r.id"
        ))
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(canned).collect()
    }

    async fn canned_reply(&self, id: i64, user: UserId) -> StoreResult<CannedReply> {
        let row = sqlx::query(&format!("{CANNED} WHERE r.id = $2"))
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
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
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
            "UPDATE canned_replies SET language = $1, title = $2, body = $3, updated_at = $4 \
             WHERE id = $5",
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
        let done = sqlx::query("DELETE FROM canned_replies WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        found(done.rows_affected())
    }

    async fn use_canned_reply(&self, id: i64, user: UserId) -> StoreResult<()> {
        let done = sqlx::query(
            "INSERT INTO canned_uses (reply, user_id, uses) \
             SELECT id, $1, 1 FROM canned_replies WHERE id = $2 \
             ON CONFLICT (reply, user_id) DO UPDATE SET uses = canned_uses.uses + 1",
        )
        .bind(user.0)
        .bind(id)
        .execute(&self.pool)
        .await?;
        found(done.rows_affected())
    }
}

#[async_trait]
impl Activities for SqlStore {
    async fn record_activity(&self, new: NewActivity) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO activity \
             (at, kind, conversation, intent, detail, user_id, seconds) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
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
        if kinds.is_empty() {
            return Ok(None);
        }
        let places: Vec<String> = (2..kinds.len() + 2).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT MIN(at) FROM activity WHERE conversation = $1 AND kind IN ({})",
            places.join(", ")
        );
        let mut query = sqlx::query_scalar(&sql).bind(conversation.as_str());
        for kind in kinds {
            query = query.bind(kind.as_str());
        }
        let at: Option<i64> = query.fetch_one(&self.pool).await?;
        Ok(at.map(Timestamp::from_unix))
    }

    async fn activity(&self, from: Timestamp, to: Timestamp) -> StoreResult<Vec<Activity>> {
        let rows = sqlx::query(
            "SELECT at, kind, intent, detail, user_id, seconds FROM activity \
             WHERE at >= $1 AND at < $2 ORDER BY at, id",
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
