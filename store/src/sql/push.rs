//! [`PushSubscriptions`] in SQL (SQLite and PostgreSQL).

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{SqlStore, now};
use crate::{NewPushSubscription, PushSubscription, PushSubscriptions, StoreResult, UserId};

const COLUMNS: &str = "id, user_id, endpoint, p256dh, auth";

fn subscription(row: &AnyRow) -> StoreResult<PushSubscription> {
    Ok(PushSubscription {
        id: row.try_get("id")?,
        user_id: UserId(row.try_get("user_id")?),
        endpoint: row.try_get("endpoint")?,
        p256dh: row.try_get("p256dh")?,
        auth: row.try_get("auth")?,
    })
}

#[async_trait]
impl PushSubscriptions for SqlStore {
    async fn add_push_subscription(&self, s: NewPushSubscription) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (endpoint) DO UPDATE SET \
             user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth, \
             created_at = excluded.created_at",
        )
        .bind(s.user_id.0)
        .bind(&s.endpoint)
        .bind(&s.p256dh)
        .bind(&s.auth)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn remove_push_subscription(
        &self,
        user: Option<UserId>,
        endpoint: &str,
    ) -> StoreResult<bool> {
        let done = match user {
            Some(user) => {
                sqlx::query("DELETE FROM push_subscriptions WHERE endpoint = $1 AND user_id = $2")
                    .bind(endpoint)
                    .bind(user.0)
                    .execute(&self.pool)
                    .await?
            }
            None => {
                sqlx::query("DELETE FROM push_subscriptions WHERE endpoint = $1")
                    .bind(endpoint)
                    .execute(&self.pool)
                    .await?
            }
        };
        Ok(done.rows_affected() > 0)
    }

    async fn push_subscriptions(&self) -> StoreResult<Vec<PushSubscription>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM push_subscriptions ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(subscription).collect()
    }

    async fn push_subscriptions_of(&self, user: UserId) -> StoreResult<Vec<PushSubscription>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM push_subscriptions WHERE user_id = $1 ORDER BY id"
        ))
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(subscription).collect()
    }
}
