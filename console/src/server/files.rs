//! Files over HTTP ([`service::files`]): a clinician's upload and download
//! with their session, and the patient's with their chat's resume token
//! (`Authorization: Bearer`), which the widget sends from the clinic's own
//! site: those two routes answer any origin (CORS), since a token, never a
//! cookie, is what opens them.
//!
//! An upload's body is the file itself (any `Content-Type`), its name in
//! `?name=`. The body is read only once the caller is known, and never past
//! the clinic's limit. A download is always an attachment (never shown in
//! a page of this origin), with `nosniff` and no-store from the edge.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use service::files::Download;
use store::ConversationId;

use super::api::Reason;
use super::identity::ClientAddr;
use super::session::{Staff, address};
use super::{ApiError, Shared};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NameQuery {
    /// The file's name as the sender had it (kept redacted; its extension
    /// is decided by the content).
    name: Option<String>,
}

/// Reads an upload's body, refusing it past `max` bytes.
async fn read_body(body: Body, max: usize) -> Result<Vec<u8>, ApiError> {
    match axum::body::to_bytes(body, max.saturating_add(1)).await {
        Ok(bytes) if bytes.len() <= max => Ok(bytes.to_vec()),
        _ => Err(service::files::too_large(max).into()),
    }
}

/// A file as a download: `attachment`, named in ASCII and in UTF-8.
fn download(d: Download) -> Response {
    let ascii: String = d
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = d
        .name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    let mut response =
        ([(header::CONTENT_TYPE, d.media_type.to_string())], d.bytes).into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// `POST /api/conversations/{id}/files?name=`: the holder sends a file.
#[utoipa::path(operation_id = "files_send", post, path = "/api/conversations/{id}/files", tag = "files", params(("id" = String, Path, description = "The conversation"), NameQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file"), responses((status = 200, description = "{\"message\"}: the message that shows the file", body = Object), (status = 403, description = "Not the caller's chat, or the clinic takes no files"), (status = 413, description = "Over the clinic's size limit"), (status = 422, description = "file_refused (type, size in pixels, unreadable) or file_infected"), (status = 503, description = "scanner_unavailable: the virus scanner cannot be reached")))]
pub async fn send(
    State(s): State<Shared>,
    Staff(user): Staff,
    Path(id): Path<ConversationId>,
    Query(q): Query<NameQuery>,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    // Only the clinician who has the chat: asked before the body is read.
    s.service.may_send_file(&id, &user).await?;
    let bytes = read_body(body, s.service.file_limits().max_bytes).await?;
    let message = s
        .service
        .clinician_file(&id, &user, q.name.as_deref().unwrap_or_default(), bytes)
        .await?;
    Ok(Json(json!({ "message": message })))
}

/// `GET /api/files/{id}`: a file, for staff who see the chat's originals.
#[utoipa::path(operation_id = "files_get", get, path = "/api/files/{id}", tag = "files", params(("id" = i64, Path, description = "The file"), Reason), responses((status = 200, description = "The file, as an attachment (audited as file_read)", body = Vec<u8>, content_type = "application/octet-stream"), (status = 403, description = "break_glass_required: give a reason; or an auditor"), (status = 404, description = "No such file")))]
pub async fn get(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<i64>,
    Query(q): Query<Reason>,
) -> Result<Response, ApiError> {
    let d = s
        .service
        .staff_download(&user, id, q.reason.as_deref(), address(&addr))
        .await?;
    Ok(download(d))
}

/// The resume token a patient's request carries.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(ApiError::Unauthenticated)
}

/// What lets the widget, on the clinic's site, call the patient's routes.
fn cors(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("content-disposition"),
    );
    response
}

/// `POST /api/patient/files?name=`: the patient sends a file.
#[utoipa::path(operation_id = "patient_files_send", post, path = "/api/patient/files", tag = "files", params(NameQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file"), security(("resume" = [])), responses((status = 200, description = "{\"file\"}: the file as stored", body = Object), (status = 401, description = "No resume token"), (status = 403, description = "Not a chat's token, or the clinic takes no files"), (status = 409, description = "The chat is closed, with the bot, or consent is owed"), (status = 413, description = "Over the clinic's size limit"), (status = 422, description = "file_refused or file_infected"), (status = 503, description = "scanner_unavailable")))]
pub async fn patient_send(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<NameQuery>,
    body: Body,
) -> Response {
    let sent = async {
        let resume = bearer(&headers)?;
        // The token is checked before a byte of the body is read.
        s.service.patient_conversation(resume).await?;
        let bytes = read_body(body, s.service.file_limits().max_bytes).await?;
        let file = s
            .service
            .patient_file(resume, q.name.as_deref().unwrap_or_default(), bytes)
            .await?;
        Ok::<_, ApiError>(Json(json!({ "file": file })))
    };
    cors(sent.await.into_response())
}

/// `GET /api/patient/files/{id}`: a file of the patient's own chat.
#[utoipa::path(operation_id = "patient_files_get", get, path = "/api/patient/files/{id}", tag = "files", params(("id" = i64, Path, description = "The file")), security(("resume" = [])), responses((status = 200, description = "The file, as an attachment (audited as file_read)", body = Vec<u8>, content_type = "application/octet-stream"), (status = 401, description = "No resume token"), (status = 403, description = "Not a chat's token"), (status = 404, description = "No such file in this chat")))]
pub async fn patient_get(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let got = async {
        let resume = bearer(&headers)?;
        Ok::<_, ApiError>(download(s.service.patient_download(resume, id).await?))
    };
    cors(got.await.into_response())
}

/// `OPTIONS` on the patient's upload: the browser's preflight from the
/// clinic's site.
#[utoipa::path(operation_id = "patient_files_preflight", options, path = "/api/patient/files", tag = "files", security(()), responses((status = 204, description = "CORS preflight: any origin, GET and POST, the Authorization header")))]
pub async fn preflight() -> Response {
    allow()
}

/// `OPTIONS` on a patient's download, as [`preflight`].
#[utoipa::path(operation_id = "patient_file_preflight", options, path = "/api/patient/files/{id}", tag = "files", params(("id" = i64, Path, description = "The file")), security(()), responses((status = 204, description = "CORS preflight: any origin, GET and POST, the Authorization header")))]
pub async fn preflight_one() -> Response {
    allow()
}

fn allow() -> Response {
    let mut response = cors(StatusCode::NO_CONTENT.into_response());
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}
