//! Reading the audit trail: searching it and exporting it, for an admin or
//! an auditor. An export is itself on the trail (who, what they asked for,
//! how many lines).

use serde::{Deserialize, Serialize};
use store::{AuditFilter, AuditId, NewAudit, Role, StoreError, Timestamp, User, UserId};

use crate::{Service, ServiceError, ServiceResult};

/// The most lines one search answers; an export takes up to
/// [`MAX_EXPORT`].
pub const MAX_SEARCH: u32 = 1000;
pub const MAX_EXPORT: u32 = 100_000;

/// What an admin or an auditor asks of the trail. Every field set must
/// match; times are RFC 3339 in UTC.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// A login name.
    pub actor: Option<String>,
    pub action: Option<String>,
    pub subject: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Entries older than this id (the next page).
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

/// One line of the trail as staff read it: the actor named.
#[derive(Debug, Clone, Serialize)]
pub struct AuditView {
    pub id: AuditId,
    pub at: Timestamp,
    pub actor_id: Option<UserId>,
    /// The actor's login name; none for the server itself or the command
    /// line.
    pub actor: Option<String>,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub address: Option<String>,
}

fn reader_only(reader: &User) -> ServiceResult<()> {
    if matches!(reader.role, Role::Admin | Role::Auditor) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "only an admin or an auditor can do that",
        ))
    }
}

impl Service {
    async fn filter(&self, q: &AuditQuery, cap: u32) -> ServiceResult<AuditFilter> {
        let actor = match q.actor.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            Some(name) => match self.store.user_by_name(name).await {
                Ok(u) => Some(u.id),
                Err(StoreError::NotFound) => {
                    return Err(ServiceError::BadRequest(format!("no user named {name}")));
                }
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Ok(AuditFilter {
            actor,
            action: text(&q.action),
            subject: text(&q.subject),
            since: q.since,
            until: q.until,
            before: q.before.map(AuditId),
            limit: q.limit.unwrap_or(200).clamp(1, cap),
        })
    }

    async fn views(&self, filter: &AuditFilter) -> ServiceResult<Vec<AuditView>> {
        let names: std::collections::HashMap<UserId, String> = self
            .store
            .users()
            .await?
            .into_iter()
            .map(|u| (u.id, u.username))
            .collect();
        Ok(self
            .store
            .audit_search(filter)
            .await?
            .into_iter()
            .map(|e| AuditView {
                id: e.id,
                at: e.at,
                actor: e.actor_id.and_then(|a| names.get(&a).cloned()),
                actor_id: e.actor_id,
                action: e.action,
                subject: e.subject,
                detail: e.detail,
                address: e.address,
            })
            .collect())
    }

    /// The lines `q` matches, newest first, at most [`MAX_SEARCH`].
    pub async fn audit_search(
        &self,
        reader: &User,
        q: &AuditQuery,
    ) -> ServiceResult<Vec<AuditView>> {
        reader_only(reader)?;
        let filter = self.filter(q, MAX_SEARCH).await?;
        self.views(&filter).await
    }

    /// The lines `q` matches for an export (at most [`MAX_EXPORT`]); the
    /// export is audited with what was asked, the format and the count.
    pub async fn audit_export(
        &self,
        reader: &User,
        q: &AuditQuery,
        format: &str,
        address: Option<String>,
    ) -> ServiceResult<Vec<AuditView>> {
        reader_only(reader)?;
        let filter = self.filter(q, MAX_EXPORT).await?;
        let lines = self.views(&filter).await?;
        let mut asked = vec![format!("format={format}"), format!("lines={}", lines.len())];
        for (name, value) in [
            ("actor", q.actor.clone()),
            ("action", filter.action.clone()),
            ("subject", filter.subject.clone()),
            ("since", filter.since.map(Timestamp::rfc3339)),
            ("until", filter.until.map(Timestamp::rfc3339)),
        ] {
            if let Some(v) = value {
                asked.push(format!("{name}={v}"));
            }
        }
        self.store
            .audit(
                NewAudit::new(Some(reader.id), "audit_export", "audit", asked.join(" "))
                    .from_address(address),
            )
            .await?;
        Ok(lines)
    }
}
