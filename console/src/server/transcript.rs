//! Transcripts over HTTP (`service::transcript`): the practice's copy for
//! an admin or the clinician who had the chat, the one-time link staff make
//! for a patient, and the page that link opens. The widget asks for the
//! patient's own copy on its socket (`patient.rs`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use service::ServiceError;
use service::transcript::{self, Copy, Format};
use store::ConversationId;

use super::identity::ClientAddr;
use super::session::{Staff, address};
use super::{ApiError, Shared};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    format: Option<String>,
}

/// A download: the browser saves it as `filename` rather than showing it.
fn attachment(content_type: &'static str, filename: String, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /api/conversations/{id}/transcript?format=html|fhir`.
#[utoipa::path(operation_id = "transcript_practice", get, path = "/api/conversations/{id}/transcript", tag = "conversations", params(("id" = String, Path, description = "The conversation"), FormatQuery), responses((status = 200, description = "The transcript: printable HTML, or a FHIR R4 Bundle", body = String, content_type = "text/html"), (status = 404, description = "No such conversation, or not the caller's")))]
pub async fn practice(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<ConversationId>,
    Query(q): Query<FormatQuery>,
) -> Result<Response, ApiError> {
    let format = match q.format.as_deref() {
        None => Format::Html,
        Some(f) => Format::parse(f)
            .ok_or_else(|| ServiceError::BadRequest("format is html or fhir".into()))?,
    };
    let t = s
        .service
        .practice_transcript(&id, &user, format, address(&addr))
        .await?;
    Ok(match format {
        Format::Html => attachment(
            "text/html; charset=utf-8",
            format!("transcript-{}.html", id.as_str()),
            transcript::html(&t, Copy::Practice),
        ),
        Format::Fhir => attachment(
            "application/fhir+json",
            format!("transcript-{}.json", id.as_str()),
            serde_json::to_string_pretty(&transcript::fhir(&t))
                .map_err(|e| ServiceError::Internal(e.into()))?,
        ),
    })
}

/// `POST /api/conversations/{id}/transcript/link`: a one-time link for the
/// patient, as a path on this server (the token in its fragment, which
/// browsers never send on).
#[utoipa::path(operation_id = "transcript_make_link", post, path = "/api/conversations/{id}/transcript/link", tag = "conversations", params(("id" = String, Path, description = "The conversation")), responses((status = 200, description = "{\"path\":\"/transcript#TOKEN\",\"expires_at\"}: a one-time link for the patient", body = Object), (status = 404, description = "No such conversation")))]
pub async fn make_link(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<ConversationId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (token, expires_at) = s
        .service
        .transcript_link(&id, &user, address(&addr))
        .await?;
    Ok(Json(json!({
        "path": format!("/transcript#{}", token.0),
        "expires_at": expires_at,
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LinkBody {
    link: String,
}

/// `POST /api/transcript` `{"link"}`: the patient's copy, once.
#[utoipa::path(operation_id = "transcript_by_link", post, path = "/api/transcript", tag = "patients", request_body = LinkBody, security(()), responses((status = 200, description = "{\"filename\",\"html\"}: the transcript, once", body = Object), (status = 404, description = "No such link, used, or expired")))]
pub async fn by_link(
    State(s): State<Shared>,
    ClientAddr(addr): ClientAddr,
    Json(body): Json<LinkBody>,
) -> Result<Response, ApiError> {
    // The patient's address is kept only as a keyed hash, as on their socket.
    let who = s.identity(None, addr);
    let t = s.service.linked_transcript(&body.link, who.address).await?;
    let day = t.started.rfc3339();
    Ok(attachment(
        "text/html; charset=utf-8",
        format!("chat-transcript-{}.html", &day[..10]),
        transcript::html(&t, Copy::Patient),
    ))
}
