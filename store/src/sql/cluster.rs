//! [`Coordination`] on PostgreSQL: the routing state every node shares,
//! taken by one node at a time, and the nodes seen. SQLite serves one
//! process, which keeps its routing state in memory: there these calls
//! refuse.

use async_trait::async_trait;

use super::{Engine, SqlStore};
use crate::{Coordination, Lease, Leased, StoreError, StoreResult};

/// The advisory lock a routing lease holds (not the write lock: a lease
/// spans an operation that writes through the store meanwhile).
const ROUTING_LOCK: i64 = 0x4341_5246;

/// The channel a new routing state is announced on (its version).
pub const ROUTING_CHANNEL: &str = "carechat_routing";

fn postgres_only(store: &SqlStore) -> StoreResult<()> {
    if store.engine == Engine::Postgres {
        Ok(())
    } else {
        Err(StoreError::Backend(
            "several nodes need PostgreSQL: a SQLite store serves one process".into(),
        ))
    }
}

struct PgLease {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    version: i64,
}

#[async_trait]
impl Lease for PgLease {
    async fn release(mut self: Box<Self>, state: Option<String>) -> StoreResult<i64> {
        let Some(state) = state else {
            self.tx.commit().await?;
            return Ok(self.version);
        };
        let version = self.version + 1;
        sqlx::query(
            "INSERT INTO routing_state (id, version, state) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, state = excluded.state",
        )
        .bind(version)
        .bind(state)
        .execute(&mut *self.tx)
        .await?;
        // Delivered to the other nodes when this commits.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(ROUTING_CHANNEL)
            .bind(version.to_string())
            .execute(&mut *self.tx)
            .await?;
        self.tx.commit().await?;
        Ok(version)
    }
}

impl SqlStore {
    /// Sends `payload` to every node listening on `channel` (PostgreSQL
    /// `NOTIFY`; under 8,000 bytes).
    pub async fn notify(&self, channel: &str, payload: &str) -> StoreResult<()> {
        postgres_only(self)?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Coordination for SqlStore {
    async fn lease_routing(&self, known: i64) -> StoreResult<Leased> {
        postgres_only(self)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(ROUTING_LOCK)
            .execute(&mut *tx)
            .await?;
        let stored: Option<(i64, Option<String>)> = sqlx::query_as(
            "SELECT version, CASE WHEN version <> $1 THEN state END FROM routing_state WHERE id = 1",
        )
        .bind(known)
        .fetch_optional(&mut *tx)
        .await?;
        let (version, state) = stored.unwrap_or((0, None));
        Ok(Leased {
            version,
            state,
            lease: Box::new(PgLease { tx, version }),
        })
    }

    async fn routing_state(&self) -> StoreResult<Option<(i64, String)>> {
        postgres_only(self)?;
        Ok(
            sqlx::query_as("SELECT version, state FROM routing_state WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn node_seen(&self, node: &str, at: crate::Timestamp) -> StoreResult<()> {
        postgres_only(self)?;
        sqlx::query(
            "INSERT INTO nodes (id, seen_at) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
        )
        .bind(node)
        .bind(at.unix())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn nodes(&self) -> StoreResult<Vec<(String, crate::Timestamp)>> {
        postgres_only(self)?;
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT id, seen_at FROM nodes ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, at)| (id, crate::Timestamp::from_unix(at)))
            .collect())
    }

    async fn forget_node(&self, node: &str) -> StoreResult<()> {
        postgres_only(self)?;
        sqlx::query("DELETE FROM nodes WHERE id = $1")
            .bind(node)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
