//! [`Accounts`] in SQL (SQLite and PostgreSQL): users and login sessions.

use async_trait::async_trait;

use super::rows::{self, USER_COLUMNS};
use super::{SqlStore, now};
use crate::{Accounts, NewUser, StoreError, StoreResult, Timestamp, User, UserId, UserUpdate};

async fn user_in(conn: &mut sqlx::AnyConnection, id: UserId) -> StoreResult<User> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id.0)
        .fetch_one(conn)
        .await?;
    Ok(rows::user(&row)?)
}

async fn end_sessions_in(conn: &mut sqlx::AnyConnection, user: UserId) -> StoreResult<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user.0)
        .execute(conn)
        .await?
        .rows_affected())
}

impl SqlStore {
    async fn insert_user(&self, user: NewUser, sso_subject: Option<&str>) -> StoreResult<User> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, display_name, role, password_hash, skills, languages, max_chats,
             licensed_states, created_at, sso_subject)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
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
        .bind(sso_subject)
        .fetch_one(&self.pool)
        .await?;
        self.user(UserId(id)).await
    }
}

#[async_trait]
impl Accounts for SqlStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        self.insert_user(user, None).await
    }

    async fn create_sso_user(&self, user: NewUser, subject: &str) -> StoreResult<User> {
        self.insert_user(user, Some(subject)).await
    }

    async fn user_by_sso_subject(&self, subject: &str) -> StoreResult<User> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE sso_subject = $1"
        ))
        .bind(subject)
        .fetch_one(&self.pool)
        .await?;
        Ok(rows::user(&row)?)
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<User> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_one(&self.pool)
        .await?;
        Ok(rows::user(&row)?)
    }

    async fn user(&self, id: UserId) -> StoreResult<User> {
        user_in(&mut *self.pool.acquire().await?, id).await
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(rows::user).collect::<Result<_, _>>()?)
    }

    async fn update_user(&self, id: UserId, u: UserUpdate) -> StoreResult<User> {
        let mut tx = self.write().await?;
        let mut user = user_in(&mut tx, id).await?;
        if user.removed_at.is_some() {
            return Err(StoreError::NotFound);
        }
        let ends_sessions = u.ends_sessions();
        if let Some(v) = u.display_name {
            user.display_name = v;
        }
        if let Some(v) = u.role {
            user.role = v;
        }
        if let Some(v) = u.password_hash {
            user.password_hash = v;
        }
        if let Some(v) = u.skills {
            user.skills = v;
        }
        if let Some(v) = u.languages {
            user.languages = v;
        }
        if let Some(v) = u.max_chats {
            user.max_chats = v;
        }
        if let Some(v) = u.licensed_states {
            user.licensed_states = v;
        }
        match u.disabled {
            Some(true) if user.disabled_at.is_none() => user.disabled_at = Some(Timestamp::now()),
            Some(false) => user.disabled_at = None,
            _ => {}
        }
        if u.unlock {
            user.failed_logins = 0;
            user.locked_until = None;
        }
        if let Some(v) = u.totp_secret {
            user.totp_secret = v;
            // A new secret (or none): codes of the old one are of no use.
            sqlx::query("UPDATE users SET totp_last_step = NULL WHERE id = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(v) = u.totp_pending {
            user.totp_pending = v;
        }
        if let Some(v) = u.email {
            user.email = v;
        }
        sqlx::query(
            "UPDATE users SET display_name = $1, role = $2, password_hash = $3, skills = $4,
             languages = $5, max_chats = $6, licensed_states = $7, disabled_at = $8,
             failed_logins = $9, locked_until = $10, totp_secret = $11, totp_pending = $12, email = $13
             WHERE id = $14",
        )
        .bind(&user.display_name)
        .bind(user.role.as_str())
        .bind(&user.password_hash)
        .bind(user.skills.join(","))
        .bind(user.languages.join(","))
        .bind(user.max_chats as i64)
        .bind(user.licensed_states.join(","))
        .bind(user.disabled_at.map(|t| t.rfc3339()))
        .bind(i64::from(user.failed_logins))
        .bind(user.locked_until.map(|t| t.unix()))
        .bind(&user.totp_secret)
        .bind(&user.totp_pending)
        .bind(&user.email)
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        if ends_sessions {
            end_sessions_in(&mut tx, id).await?;
        }
        tx.commit().await?;
        Ok(user)
    }

    async fn remove_user(&self, id: UserId) -> StoreResult<User> {
        let mut tx = self.write().await?;
        let at = now();
        let done = sqlx::query(
            "UPDATE users SET removed_at = $1, disabled_at = COALESCE(disabled_at, $2)
             WHERE id = $3 AND removed_at IS NULL",
        )
        .bind(&at)
        .bind(&at)
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        end_sessions_in(&mut tx, id).await?;
        let user = user_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user: UserId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        // Sessions past their lifetime are of no use to anyone: gone.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now.unix())
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, expires_at, last_seen) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user.0)
        .bind(expires_at.unix())
        .bind(now.unix())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session_user(
        &self,
        token_hash: &str,
        now: Timestamp,
        idle_secs: i64,
    ) -> StoreResult<User> {
        let columns = USER_COLUMNS
            .split(", ")
            .map(|c| format!("u.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let row = sqlx::query(&format!(
            "SELECT {columns} FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen > $3
             AND u.disabled_at IS NULL AND u.removed_at IS NULL"
        ))
        .bind(token_hash)
        .bind(now.unix())
        .bind(now.unix() - idle_secs)
        .fetch_one(&self.pool)
        .await?;
        Ok(rows::user(&row)?)
    }

    async fn login_failed(
        &self,
        user: UserId,
        now: Timestamp,
        limit: u32,
        lock_secs: i64,
    ) -> StoreResult<User> {
        let mut tx = self.write().await?;
        // A lock that has run out starts the count again.
        sqlx::query(
            "UPDATE users SET failed_logins = 0, locked_until = NULL
             WHERE id = $1 AND locked_until IS NOT NULL AND locked_until <= $2",
        )
        .bind(user.0)
        .bind(now.unix())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE users SET failed_logins = failed_logins + 1,
             locked_until = CASE WHEN failed_logins + 1 >= $1 THEN $2 ELSE locked_until END
             WHERE id = $3",
        )
        .bind(i64::from(limit))
        .bind(now.unix() + lock_secs)
        .bind(user.0)
        .execute(&mut *tx)
        .await?;
        let user = user_in(&mut tx, user).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn login_succeeded(&self, user: UserId) -> StoreResult<()> {
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
            .bind(user.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn use_totp_step(&self, user: UserId, step: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $1
             WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $3)",
        )
        .bind(step)
        .bind(user.0)
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn totp_last_step(&self, user: UserId) -> StoreResult<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT totp_last_step FROM users WHERE id = $1")
                .bind(user.0)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn set_recovery_codes(&self, user: UserId, hashes: &[String]) -> StoreResult<()> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        for hash in hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user.0)
                .bind(hash)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn use_recovery_code(&self, user: UserId, hash: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1
             WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now())
        .bind(user.0)
        .bind(hash)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn recovery_codes_left(&self, user: UserId) -> StoreResult<u32> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user.0)
        .fetch_one(&self.pool)
        .await?;
        Ok(n.max(0) as u32)
    }

    async fn touch_session(&self, token_hash: &str, now: Timestamp) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_seen = CASE WHEN last_seen > $1 THEN last_seen ELSE $1 END WHERE token_hash = $2")
            .bind(now.unix())
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn end_sessions(&self, user: UserId) -> StoreResult<u64> {
        end_sessions_in(&mut *self.pool.acquire().await?, user).await
    }
}
