//! The "Left a message" list over HTTP (`service::contact`, `service::notify`): the contact
//! forms patients filled in while nobody was online, for the staff who may
//! see their chats, marking them done, and telling the patient the answer is
//! waiting; and the patient's side of that link (`/reply`), opened with a
//! one-time code. The service checks who may do what and audits the reads.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use service::contact::ContactView;
use service::views::HistoryItem;

use super::identity::ClientAddr;
use super::session::{Staff, address};
use super::{ApiError, Shared};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Done ones too (the last 30 days' and older alike), not only those
    /// still waiting.
    #[serde(default)]
    all: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LeftList {
    left: Vec<ContactView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LeftOne {
    left: ContactView,
}

/// `GET /api/left-messages?all=`.
#[utoipa::path(operation_id = "left_list", get, path = "/api/left-messages", tag = "left messages", params(ListQuery), responses((status = 200, description = "The left messages of the chats the caller may see, oldest first; reading them is audited as contact_read", body = LeftList)))]
pub async fn list(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Query(q): Query<ListQuery>,
) -> Result<Json<LeftList>, ApiError> {
    let left = s
        .service
        .contact_requests(&user, q.all, address(&addr))
        .await?;
    Ok(Json(LeftList { left }))
}

/// `POST /api/left-messages/{id}/done`.
#[utoipa::path(operation_id = "left_done", post, path = "/api/left-messages/{id}/done", tag = "left messages", params(("id" = i64, Path, description = "The left message")), responses((status = 200, description = "Marked done (audited as contact_done)", body = LeftOne), (status = 403, description = "Not a chat the caller may see"), (status = 404, description = "No such left message")))]
pub async fn done(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<i64>,
) -> Result<Json<LeftOne>, ApiError> {
    let left = s
        .service
        .contact_done(&user, id, true, address(&addr))
        .await?;
    Ok(Json(LeftOne { left }))
}

/// `POST /api/left-messages/{id}/reopen`.
#[utoipa::path(operation_id = "left_reopen", post, path = "/api/left-messages/{id}/reopen", tag = "left messages", params(("id" = i64, Path, description = "The left message")), responses((status = 200, description = "Waiting again (audited as contact_reopen)", body = LeftOne), (status = 403, description = "Not a chat the caller may see"), (status = 404, description = "No such left message")))]
pub async fn reopen(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<i64>,
) -> Result<Json<LeftOne>, ApiError> {
    let left = s
        .service
        .contact_done(&user, id, false, address(&addr))
        .await?;
    Ok(Json(LeftOne { left }))
}

/// `POST /api/left-messages/{id}/notify`.
#[utoipa::path(operation_id = "left_notify", post, path = "/api/left-messages/{id}/notify", tag = "left messages", params(("id" = i64, Path, description = "The left message")), responses((status = 200, description = "The patient was sent a link to the answer by email or text message (audited as contact_notify)", body = LeftOne), (status = 403, description = "Not a chat the caller may see"), (status = 404, description = "No such left message"), (status = 409, description = "Nothing answered in the chat yet, a call back, details not kept, or email/SMS not set up or failing (the message says which)")))]
pub async fn notify(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<i64>,
) -> Result<Json<LeftOne>, ApiError> {
    let left = s.service.notify_patient(&user, id, address(&addr)).await?;
    Ok(Json(LeftOne { left }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReplyLinkBody {
    /// The token from the link's fragment.
    link: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReplyRead {
    link: String,
    /// The one-time code sent to the patient.
    code: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReplyThread {
    #[schema(value_type = Vec<Object>)]
    messages: Vec<HistoryItem>,
}

/// `POST /api/reply/code` `{"link"}`.
#[utoipa::path(operation_id = "reply_code", post, path = "/api/reply/code", tag = "patients", request_body = ReplyLinkBody, security(()), responses((status = 204, description = "A one-time code was sent to the patient's address or number"), (status = 404, description = "No such link, ended, or expired"), (status = 429, description = "A code was sent less than a minute ago")))]
pub async fn reply_code(
    State(s): State<Shared>,
    Json(body): Json<ReplyLinkBody>,
) -> Result<StatusCode, ApiError> {
    s.service.send_reply_code(&body.link).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/reply` `{"link","code"}`.
#[utoipa::path(operation_id = "reply_read", post, path = "/api/reply", tag = "patients", request_body = ReplyRead, security(()), responses((status = 200, description = "The conversation as the patient reads it", body = ReplyThread), (status = 403, description = "A wrong or expired code (five wrong codes end the link)"), (status = 404, description = "No such link, ended, or expired")))]
pub async fn read_reply(
    State(s): State<Shared>,
    Json(body): Json<ReplyRead>,
) -> Result<Json<ReplyThread>, ApiError> {
    let messages = s.service.read_reply(&body.link, &body.code).await?;
    Ok(Json(ReplyThread { messages }))
}
