//! The audit trail for admins and auditors: searching it, and exporting it
//! as CSV or JSON lines (the export itself audited).

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use service::ServiceError;
use service::audit::AuditQuery;

use super::identity::ClientAddr;
use super::session::{AuditReader, address};
use super::{ApiError, Shared};

#[utoipa::path(operation_id = "audit_search", get, path = "/api/audit", tag = "audit", params(("actor" = Option<String>, Query, description = "A login name"), ("action" = Option<String>, Query, description = "An action, such as take or login_failed"), ("subject" = Option<String>, Query, description = "A conversation id, or user:NAME"), ("since" = Option<String>, Query, description = "RFC 3339, included"), ("until" = Option<String>, Query, description = "RFC 3339, excluded"), ("before" = Option<i64>, Query, description = "Entries older than this id (the next page)"), ("limit" = Option<u32>, Query, description = "At most this many")), responses((status = 200, description = "{\"entries\":[...]}, newest first", body = Object)))]
pub async fn search(
    State(s): State<Shared>,
    AuditReader(user): AuditReader,
    Query(q): Query<AuditQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(
        json!({"entries": s.service.audit_search(&user, &q).await?}),
    ))
}

#[derive(Deserialize)]
pub struct ExportQuery {
    format: String,
    #[serde(flatten)]
    query: AuditQuery,
}

/// A spreadsheet would run a cell that starts like a formula: such a cell
/// gets a leading apostrophe. Quotes double; a cell with a comma, a quote or
/// a line break is quoted.
fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// The audit trail as a file: `format=csv` or `format=jsonl`, with the
/// search's filters. The export is itself audited.
#[utoipa::path(operation_id = "audit_export", get, path = "/api/audit/export", tag = "audit", params(("format" = String, Query, description = "csv or jsonl"), ("actor" = Option<String>, Query, description = "A login name"), ("action" = Option<String>, Query, description = "An action, such as take or login_failed"), ("subject" = Option<String>, Query, description = "A conversation id, or user:NAME"), ("since" = Option<String>, Query, description = "RFC 3339, included"), ("until" = Option<String>, Query, description = "RFC 3339, excluded"), ("before" = Option<i64>, Query, description = "Entries older than this id (the next page)"), ("limit" = Option<u32>, Query, description = "At most this many")), responses((status = 200, description = "The matching trail as CSV or JSON lines (audited)", body = String, content_type = "text/csv"), (status = 400, description = "format is csv or jsonl")))]
pub async fn export(
    State(s): State<Shared>,
    AuditReader(user): AuditReader,
    addr: ClientAddr,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let (content_type, extension) = match q.format.as_str() {
        "csv" => ("text/csv; charset=utf-8", "csv"),
        "jsonl" => ("application/x-ndjson", "jsonl"),
        _ => {
            return Err(ServiceError::BadRequest("format must be csv or jsonl".into()).into());
        }
    };
    let lines = s
        .service
        .audit_export(&user, &q.query, extension, address(&addr))
        .await?;
    let mut body = String::new();
    if extension == "csv" {
        body.push_str("id,at,actor_id,actor,action,subject,detail,address\r\n");
        for l in &lines {
            let cells = [
                l.id.to_string(),
                l.at.rfc3339(),
                l.actor_id.map(|a| a.to_string()).unwrap_or_default(),
                l.actor.clone().unwrap_or_default(),
                l.action.clone(),
                l.subject.clone(),
                l.detail.clone(),
                l.address.clone().unwrap_or_default(),
            ];
            let row: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
            body.push_str(&row.join(","));
            body.push_str("\r\n");
        }
    } else {
        for l in &lines {
            body.push_str(&serde_json::to_string(l).map_err(|e| ServiceError::Internal(e.into()))?);
            body.push('\n');
        }
    }
    let disposition = format!(
        "attachment; filename=\"carechat-audit-{}.{extension}\"",
        store::Timestamp::now().rfc3339().replace(':', "")
    );
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, content_type.to_string()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("read"), "read");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
    }
}
