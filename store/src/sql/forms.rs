//! [`PatientForms`] in SQL (SQLite and PostgreSQL): what patients filled in (the offline contact
//! form), its values as typed sealed under the conversation's data key as
//! messages' originals are.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{SqlStore, now, vault};
use crate::{
    ConversationId, FormFields, FormKind, NewAudit, NewPatientForm, PatientForm, PatientForms,
    ReplyLink, StoreError, StoreResult, Timestamp, UserId,
};

const COLUMNS: &str =
    "id, conversation_id, kind, fields, original, created_at, done_at, done_by, replied_at";

fn bad(what: &str) -> StoreError {
    vault::backend(format!("a stored form's {what} is not what was written"))
}

fn time(row: &AnyRow, column: &str) -> StoreResult<Option<Timestamp>> {
    match row.try_get::<Option<String>, _>(column)? {
        Some(s) => Ok(Some(
            Timestamp::parse_rfc3339(&s).ok_or_else(|| bad(column))?,
        )),
        None => Ok(None),
    }
}

impl SqlStore {
    /// Rows to forms, each opened with its conversation's key when `open`
    /// (a shredded conversation's stay as stored).
    async fn to_forms(&self, rows: Vec<AnyRow>, open: bool) -> StoreResult<Vec<PatientForm>> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let conversation = ConversationId::new(row.try_get::<String, _>("conversation_id")?);
            let stored: String = row.try_get("fields")?;
            let mut fields: FormFields =
                serde_json::from_str(&stored).map_err(|_| bad("fields"))?;
            let mut opened = false;
            let sealed: Option<Vec<u8>> = row.try_get("original")?;
            if let (true, Some(vault), Some(sealed)) = (open, &self.vault, sealed) {
                let mut conn = self.pool.acquire().await?;
                if let Some(key) = vault.data_key(&mut conn, &conversation, false).await? {
                    let plain = key.open(conversation.as_str(), &sealed).map_err(|e| {
                        vault::backend(format!("{e} (a form of {})", conversation.as_str()))
                    })?;
                    fields = serde_json::from_slice(&plain).map_err(|_| bad("original"))?;
                    opened = true;
                }
            }
            let kind: String = row.try_get("kind")?;
            out.push(PatientForm {
                id: row.try_get("id")?,
                conversation_id: conversation,
                kind: FormKind::parse(&kind).ok_or_else(|| bad("kind"))?,
                fields,
                opened,
                created_at: time(&row, "created_at")?.ok_or_else(|| bad("time"))?,
                done_at: time(&row, "done_at")?,
                done_by: row.try_get::<Option<i64>, _>("done_by")?.map(UserId),
                replied_at: time(&row, "replied_at")?,
            });
        }
        Ok(out)
    }

    async fn one_form(&self, id: i64, open: bool) -> StoreResult<PatientForm> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM patient_forms WHERE id = $1"
        ))
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        let mut forms = self.to_forms(vec![row], open).await?;
        Ok(forms.remove(0))
    }
}

#[async_trait]
impl PatientForms for SqlStore {
    async fn add_form(&self, form: NewPatientForm) -> StoreResult<PatientForm> {
        let fields = serde_json::to_string(&form.fields).map_err(|_| bad("fields"))?;
        // The key and the value it seals are written together.
        let mut tx = self.write().await?;
        let sealed = match (&self.vault, &form.original) {
            (Some(vault), Some(original)) => {
                let key = vault
                    .data_key(&mut tx, &form.conversation_id, true)
                    .await?
                    .expect("made when absent");
                let plain = serde_json::to_vec(original).map_err(|_| bad("original"))?;
                Some(key.seal(form.conversation_id.as_str(), &plain))
            }
            _ => None,
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO patient_forms (conversation_id, kind, fields, original, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(form.conversation_id.as_str())
        .bind(form.kind.as_str())
        .bind(fields)
        .bind(sealed)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        self.one_form(id, false).await
    }

    async fn form(&self, id: i64, open: bool) -> StoreResult<PatientForm> {
        self.one_form(id, open).await
    }

    async fn forms(
        &self,
        kind: FormKind,
        open_only: bool,
        open: bool,
    ) -> StoreResult<Vec<PatientForm>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM patient_forms WHERE kind = $1 {} ORDER BY created_at, id",
            if open_only { "AND done_at IS NULL" } else { "" }
        ))
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await?;
        self.to_forms(rows, open).await
    }

    async fn forms_of(
        &self,
        conversation: &ConversationId,
        open: bool,
    ) -> StoreResult<Vec<PatientForm>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM patient_forms WHERE conversation_id = $1 ORDER BY created_at, id"
        ))
        .bind(conversation.as_str())
        .fetch_all(&self.pool)
        .await?;
        self.to_forms(rows, open).await
    }

    async fn set_form_done(
        &self,
        id: i64,
        done_by: Option<UserId>,
        audit: NewAudit,
    ) -> StoreResult<PatientForm> {
        let mut tx = self.write().await?;
        let changed =
            sqlx::query("UPDATE patient_forms SET done_at = $1, done_by = $2 WHERE id = $3")
                .bind(done_by.map(|_| now()))
                .bind(done_by.map(|u| u.0))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        if changed.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        super::audit_in(&mut tx, &self.audit_key, &audit).await?;
        tx.commit().await?;
        self.one_form(id, false).await
    }

    async fn set_form_replied(&self, id: i64) -> StoreResult<()> {
        let changed = sqlx::query("UPDATE patient_forms SET replied_at = $1 WHERE id = $2")
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        if changed.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn add_reply_link(
        &self,
        token_hash: &str,
        form: i64,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        let inserted = sqlx::query(
            "INSERT INTO reply_links (token_hash, form_id, conversation_id, created_at, expires_at) \
             SELECT $1, id, conversation_id, $2, $3 FROM patient_forms WHERE id = $4",
        )
        .bind(token_hash)
        .bind(now())
        .bind(expires_at.unix())
        .bind(form)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn reply_link(&self, token_hash: &str) -> StoreResult<ReplyLink> {
        let row = sqlx::query(
            "SELECT form_id, conversation_id, expires_at, code_hash, code_expires_at, failures \
             FROM reply_links WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_one(&self.pool)
        .await?;
        Ok(ReplyLink {
            form_id: row.try_get("form_id")?,
            conversation_id: ConversationId::new(row.try_get::<String, _>("conversation_id")?),
            expires_at: Timestamp::from_unix(row.try_get("expires_at")?),
            code_hash: row.try_get("code_hash")?,
            code_expires_at: row
                .try_get::<Option<i64>, _>("code_expires_at")?
                .map(Timestamp::from_unix),
            failures: row.try_get::<i64, _>("failures")?.clamp(0, u32::MAX.into()) as u32,
        })
    }

    async fn set_reply_code(
        &self,
        token_hash: &str,
        code_hash: &str,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        let changed = sqlx::query(
            "UPDATE reply_links SET code_hash = $1, code_expires_at = $2 WHERE token_hash = $3",
        )
        .bind(code_hash)
        .bind(expires_at.unix())
        .bind(token_hash)
        .execute(&self.pool)
        .await?;
        if changed.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn reply_code_failed(&self, token_hash: &str) -> StoreResult<u32> {
        let failures: i64 = sqlx::query_scalar(
            "UPDATE reply_links SET failures = failures + 1 WHERE token_hash = $1 RETURNING failures",
        )
        .bind(token_hash)
        .fetch_one(&self.pool)
        .await?;
        Ok(failures.clamp(0, u32::MAX.into()) as u32)
    }

    async fn delete_reply_link(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM reply_links WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn record_consent(
        &self,
        conversation: &ConversationId,
        version: &str,
        language: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO consents (conversation_id, version, language, accepted_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (conversation_id) DO UPDATE SET \
             version = excluded.version, language = excluded.language, \
             accepted_at = excluded.accepted_at",
        )
        .bind(conversation.as_str())
        .bind(version)
        .bind(language)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn consent(
        &self,
        conversation: &ConversationId,
    ) -> StoreResult<Option<(String, Timestamp)>> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT version, accepted_at FROM consents WHERE conversation_id = $1")
                .bind(conversation.as_str())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(version, at)| {
            Ok((
                version,
                Timestamp::parse_rfc3339(&at).ok_or_else(|| bad("consent time"))?,
            ))
        })
        .transpose()
    }
}
