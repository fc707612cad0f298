//! Rows to records: ids typed, times parsed, lists split, the
//! whisper's JSON read. A row that does not parse is a backend error, never
//! a silently defaulted field.

use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{
    AuditEntry, AuditId, Block, BlockId, BlockKind, ConvState, Conversation, ConversationId,
    Message, MessageId, Role, Sender, StaffText, StaffTextId, StoredTranslation, Timestamp, User,
    UserId,
};

pub const USER_COLUMNS: &str = "id, username, display_name, role, password_hash, skills, languages, \
                                max_chats, licensed_states, disabled_at, removed_at, failed_logins, locked_until, \
                                totp_secret, totp_pending, sso_subject, email";
pub const CONV_COLUMNS: &str = "id, resume_hash, state, urgent, language, browser_language, skill, \
                                assigned_to, whisper, fingerprint, address, offline, license_state, \
                                held, created_at, updated_at";
pub const BLOCK_COLUMNS: &str =
    "id, kind, conversation_id, reason, created_by, created_at, lifted_by, lifted_at";
pub const MESSAGE_COLUMNS: &str = "id, sender, user_id, text, intent, confidence, translation, translation_language, created_at, \
     file_id";

fn bad(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("unexpected value {value:?}").into(),
    }
}

/// A yes/no column: a boolean on PostgreSQL, 0 or 1 on SQLite (which the
/// driver hands over as an integer).
pub fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    match row.try_get::<bool, _>(column) {
        Ok(b) => Ok(b),
        Err(sqlx::Error::ColumnDecode { .. }) => Ok(row.try_get::<i64, _>(column)? != 0),
        Err(e) => Err(e),
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn time(row: &AnyRow, column: &str) -> Result<Timestamp, sqlx::Error> {
    let s: String = row.try_get(column)?;
    Timestamp::parse_rfc3339(&s).ok_or_else(|| bad(column, &s))
}

fn maybe_time(row: &AnyRow, column: &str) -> Result<Option<Timestamp>, sqlx::Error> {
    match row.try_get::<Option<String>, _>(column)? {
        Some(s) => Ok(Some(
            Timestamp::parse_rfc3339(&s).ok_or_else(|| bad(column, &s))?,
        )),
        None => Ok(None),
    }
}

fn user_id(row: &AnyRow, column: &str) -> Result<Option<UserId>, sqlx::Error> {
    Ok(row.try_get::<Option<i64>, _>(column)?.map(UserId))
}

pub fn user(row: &AnyRow) -> Result<User, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: UserId(row.try_get("id")?),
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        role: Role::parse(&role).ok_or_else(|| bad("role", &role))?,
        password_hash: row.try_get("password_hash")?,
        skills: split_list(row.try_get("skills")?),
        languages: split_list(row.try_get("languages")?),
        max_chats: row.try_get::<i64, _>("max_chats")?.max(0) as usize,
        licensed_states: split_list(row.try_get("licensed_states")?),
        disabled_at: maybe_time(row, "disabled_at")?,
        removed_at: maybe_time(row, "removed_at")?,
        failed_logins: row
            .try_get::<i64, _>("failed_logins")?
            .clamp(0, u32::MAX.into()) as u32,
        locked_until: row
            .try_get::<Option<i64>, _>("locked_until")?
            .map(Timestamp::from_unix),
        totp_secret: row.try_get("totp_secret")?,
        totp_pending: row.try_get("totp_pending")?,
        sso_subject: row.try_get("sso_subject")?,
        email: row.try_get("email")?,
    })
}

pub fn conversation(row: &AnyRow) -> Result<Conversation, sqlx::Error> {
    let state: String = row.try_get("state")?;
    let whisper = match row.try_get::<Option<String>, _>("whisper")? {
        Some(w) => {
            Some(
                serde_json::from_str::<Value>(&w).map_err(|e| sqlx::Error::ColumnDecode {
                    index: "whisper".into(),
                    source: Box::new(e),
                })?,
            )
        }
        None => None,
    };
    Ok(Conversation {
        id: ConversationId::new(row.try_get::<String, _>("id")?),
        state: ConvState::parse(&state).ok_or_else(|| bad("state", &state))?,
        urgent: flag(row, "urgent")?,
        language: row.try_get("language")?,
        browser_language: row.try_get("browser_language")?,
        skill: row.try_get("skill")?,
        assigned_to: user_id(row, "assigned_to")?,
        whisper,
        fingerprint: row.try_get("fingerprint")?,
        address: row.try_get("address")?,
        offline: flag(row, "offline")?,
        license_state: row.try_get("license_state")?,
        held: flag(row, "held")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub fn message(row: &AnyRow) -> Result<Message, sqlx::Error> {
    let sender: String = row.try_get("sender")?;
    Ok(Message {
        id: MessageId(row.try_get("id")?),
        sender: Sender::parse(&sender).ok_or_else(|| bad("sender", &sender))?,
        user_id: user_id(row, "user_id")?,
        text: row.try_get("text")?,
        intent: row.try_get("intent")?,
        confidence: row
            .try_get::<Option<f64>, _>("confidence")?
            .map(|c| c as f32),
        translation: match (
            row.try_get::<Option<String>, _>("translation")?,
            row.try_get::<Option<String>, _>("translation_language")?,
        ) {
            (Some(text), Some(language)) => Some(StoredTranslation { text, language }),
            _ => None,
        },
        created_at: time(row, "created_at")?,
        file_id: row.try_get("file_id")?,
    })
}

pub fn staff_text(row: &AnyRow) -> Result<StaffText, sqlx::Error> {
    Ok(StaffText {
        id: StaffTextId(row.try_get("id")?),
        about: row.try_get("about")?,
        user_id: UserId(row.try_get("user_id")?),
        text: row.try_get("text")?,
        created_at: time(row, "created_at")?,
        original: None,
    })
}

pub fn block(row: &AnyRow) -> Result<Block, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    Ok(Block {
        id: BlockId(row.try_get("id")?),
        kind: BlockKind::parse(&kind).ok_or_else(|| bad("kind", &kind))?,
        conversation_id: row
            .try_get::<Option<String>, _>("conversation_id")?
            .map(ConversationId::new),
        reason: row.try_get("reason")?,
        created_by: UserId(row.try_get("created_by")?),
        created_at: time(row, "created_at")?,
        lifted_by: user_id(row, "lifted_by")?,
        lifted_at: maybe_time(row, "lifted_at")?,
    })
}

pub fn audit_entry(row: &AnyRow) -> Result<AuditEntry, sqlx::Error> {
    Ok(AuditEntry {
        id: AuditId(row.try_get("id")?),
        at: time(row, "at")?,
        actor_id: user_id(row, "actor_id")?,
        action: row.try_get("action")?,
        subject: row.try_get("subject")?,
        detail: row.try_get("detail")?,
        address: row.try_get("address")?,
    })
}
