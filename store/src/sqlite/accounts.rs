//! [`Accounts`] on SQLite: users and login sessions.

use async_trait::async_trait;

use super::rows::{self, USER_COLUMNS};
use super::{SqliteStore, now};
use crate::{Accounts, NewUser, StoreResult, Timestamp, User, UserId};

#[async_trait]
impl Accounts for SqliteStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        let id = sqlx::query(
            "INSERT INTO users (username, display_name, role, password_hash, skills, languages, max_chats,
             licensed_states, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&user.username)
        .bind(&user.display_name)
        .bind(user.role.as_str())
        .bind(&user.password_hash)
        .bind(user.skills.join(","))
        .bind(user.languages.join(","))
        .bind(user.max_chats as i64)
        .bind(user.licensed_states.join(","))
        .bind(now())
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        self.user(UserId(id)).await
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<User> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = ?"
        ))
        .bind(username)
        .fetch_one(&self.pool)
        .await?;
        Ok(rows::user(&row)?)
    }

    async fn user(&self, id: UserId) -> StoreResult<User> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id.0)
            .fetch_one(&self.pool)
            .await?;
        Ok(rows::user(&row)?)
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(rows::user).collect::<Result<_, _>>()?)
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user: UserId,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (?, ?, ?)")
            .bind(token_hash)
            .bind(user.0)
            .bind(expires_at.unix())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn session_user(&self, token_hash: &str, now: Timestamp) -> StoreResult<User> {
        let columns = USER_COLUMNS
            .split(", ")
            .map(|c| format!("u.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let row = sqlx::query(&format!(
            "SELECT {columns} FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ? AND s.expires_at > ?"
        ))
        .bind(token_hash)
        .bind(now.unix())
        .fetch_one(&self.pool)
        .await?;
        Ok(rows::user(&row)?)
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
