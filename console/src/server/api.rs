//! The clinician and admin HTTP API and the clinician's WebSocket.

use axum::Json;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use router::Presence;
use serde::Deserialize;
use serde_json::json;
use service::{BlockRequest, ServiceError, TransferRequest};
use store::{BlockId, ConversationId, User, UserId};

use super::identity::ClientAddr;
use super::session::{Staff, address, session_account, session_hash};
use super::{ApiError, Shared};

/// How often an open console checks that its session is still good: a
/// logout, an expiry or a disabled account closes it within this.
const SESSION_CHECK: std::time::Duration = std::time::Duration::from_secs(1);
/// The close code a console gets when its session has ended.
pub const SESSION_ENDED: u16 = 4001;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Status {
    status: String,
}

#[utoipa::path(operation_id = "api_set_status", post, path = "/api/me/status", tag = "session", request_body = Status, responses((status = 200, description = "{\"user\"}", body = Object), (status = 400, description = "Not available, busy or away")))]
pub async fn set_status(
    State(s): State<Shared>,
    Staff(user): Staff,
    Json(body): Json<Status>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let presence = match body.status.as_str() {
        "available" => Presence::Available,
        "busy" => Presence::Busy,
        "away" => Presence::Away,
        _ => {
            return Err(
                ServiceError::BadRequest("status must be available, busy or away".into()).into(),
            );
        }
    };
    s.service.set_presence(&user, presence).await?;
    Ok(Json(json!({"user": s.service.user_view(&user)})))
}

#[utoipa::path(operation_id = "api_conversations", get, path = "/api/conversations", tag = "conversations", responses((status = 200, description = "{\"conversations\":[SUMMARY...]}: the queue and the caller's chats", body = Object)))]
pub async fn conversations(
    State(s): State<Shared>,
    Staff(user): Staff,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(
        json!({"conversations": s.service.visible_to(user.id).await?}),
    ))
}

/// `?reason=...`: why a clinician opens a chat that is not theirs
/// (break-glass; audited, and admins are told).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Reason {
    pub(super) reason: Option<String>,
}

#[utoipa::path(operation_id = "api_conversation", get, path = "/api/conversations/{id}", tag = "conversations", params(("id" = String, Path, description = "The conversation"), Reason), responses((status = 200, description = "The conversation and its messages (masked where docs/data.md says)", body = Object), (status = 403, description = "Not the caller's: break_glass_required, give a reason"), (status = 404, description = "No such conversation")))]
pub async fn conversation(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<ConversationId>,
    Query(q): Query<Reason>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let read = s
        .service
        .read_conversation(&id, &user, q.reason.as_deref(), address(&addr))
        .await
        .map_err(conv_not_found)?;
    Ok(Json(json!(read)))
}

/// The whole original of one message: the numbers masked in history shown
/// (audited as `reveal`).
#[utoipa::path(operation_id = "api_reveal", post, path = "/api/conversations/{id}/messages/{message}/reveal", tag = "conversations", params(("id" = String, Path, description = "The conversation"), ("message" = i64, Path, description = "The message"), Reason), responses((status = 200, description = "{\"original\"}: the whole message as typed (audited)", body = Object), (status = 404, description = "No such message")))]
pub async fn reveal(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path((id, message)): Path<(ConversationId, i64)>,
    Query(q): Query<Reason>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let original = s
        .service
        .reveal(
            &id,
            store::MessageId(message),
            &user,
            q.reason.as_deref(),
            address(&addr),
        )
        .await?;
    Ok(Json(json!({ "original": original })))
}

fn conv_not_found(e: ServiceError) -> ApiError {
    match e {
        ServiceError::NotFound(_) => ServiceError::NotFound("no such conversation").into(),
        e => e.into(),
    }
}

#[utoipa::path(operation_id = "api_take", post, path = "/api/conversations/{id}/take", tag = "conversations", params(("id" = String, Path, description = "The conversation"), Reason), responses((status = 200, description = "{\"conversation\"}: the caller has the chat", body = Object), (status = 403, description = "break_glass_required: give a reason"), (status = 409, description = "Closed, or still with the bot")))]
pub async fn take(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<ConversationId>,
    Query(q): Query<Reason>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let summary = s
        .service
        .take(&id, &user, q.reason.as_deref(), address(&addr))
        .await
        .map_err(conv_not_found)?;
    Ok(Json(json!({"conversation": summary})))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Send {
    text: String,
}

#[utoipa::path(operation_id = "api_send", post, path = "/api/conversations/{id}/messages", tag = "conversations", params(("id" = String, Path, description = "The conversation")), request_body = Send, responses((status = 201, description = "{\"message\"}: sent to the patient, stored redacted", body = Object), (status = 403, description = "Take the chat first")))]
pub async fn send(
    State(s): State<Shared>,
    Staff(user): Staff,
    Path(id): Path<ConversationId>,
    Json(body): Json<Send>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let message = s
        .service
        .clinician_message(&id, &user, &body.text)
        .await
        .map_err(conv_not_found)?;
    Ok((StatusCode::CREATED, Json(json!({"message": message}))))
}

#[utoipa::path(operation_id = "api_close", post, path = "/api/conversations/{id}/close", tag = "conversations", params(("id" = String, Path, description = "The conversation")), responses((status = 200, description = "{\"conversation\"}: closed", body = Object), (status = 403, description = "Not the caller's chat")))]
pub async fn close(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<ConversationId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let summary = s
        .service
        .close(&id, &user, address(&addr))
        .await
        .map_err(conv_not_found)?;
    Ok(Json(json!({"conversation": summary})))
}

/// Deletes a conversation for good (admin): its data key is destroyed.
#[utoipa::path(operation_id = "api_delete_conversation", delete, path = "/api/conversations/{id}", tag = "conversations", params(("id" = String, Path, description = "The conversation")), responses((status = 204, description = "Deleted for good: its data key destroyed"), (status = 404, description = "No such conversation")))]
pub async fn delete_conversation(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<ConversationId>,
) -> Result<StatusCode, ApiError> {
    s.service
        .delete_conversation(&id, &user, address(&addr))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes every conversation of the patient who wrote this one (admin).
#[utoipa::path(operation_id = "api_delete_patient", delete, path = "/api/conversations/{id}/patient", tag = "conversations", params(("id" = String, Path, description = "The conversation")), responses((status = 200, description = "{\"deleted\"}: every conversation of the patient who wrote this one", body = Object), (status = 404, description = "No such conversation")))]
pub async fn delete_patient(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<ConversationId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let deleted = s.service.delete_patient(&id, &user, address(&addr)).await?;
    Ok(Json(json!({ "deleted": deleted })))
}

#[utoipa::path(operation_id = "api_block", post, path = "/api/conversations/{id}/block", tag = "moderation", params(("id" = String, Path, description = "The conversation")), request_body(content = Object, description = "{\"reason\",\"hours\"?,\"address\"?} (docs/security.md)"), responses((status = 201, description = "{\"blocks\":[...]}: the sender's browser and address blocked", body = Object), (status = 409, description = "A shared address: confirm")))]
pub async fn block(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<ConversationId>,
    Json(body): Json<BlockRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let blocks = s
        .service
        .block_sender(&id, &user, body, address(&addr))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"blocks": blocks}))))
}

#[utoipa::path(operation_id = "api_held", get, path = "/api/held", tag = "moderation", responses((status = 200, description = "{\"held\":[...]}: chats held as possible spam", body = Object)))]
pub async fn held(
    State(s): State<Shared>,
    Staff(_user): Staff,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(json!({"held": s.service.held().await?})))
}

#[utoipa::path(operation_id = "api_dismiss_held", post, path = "/api/held/{id}/dismiss", tag = "moderation", params(("id" = String, Path, description = "The conversation")), responses((status = 204, description = "Off the held list"), (status = 409, description = "Not held")))]
pub async fn dismiss_held(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<ConversationId>,
) -> Result<StatusCode, ApiError> {
    s.service.dismiss_held(&id, &user, address(&addr)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(operation_id = "api_blocks", get, path = "/api/blocks", tag = "moderation", responses((status = 200, description = "{\"blocks\":[...]}", body = Object)))]
pub async fn blocks(
    State(s): State<Shared>,
    Staff(user): Staff,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(json!({"blocks": s.service.blocks(&user).await?})))
}

#[utoipa::path(operation_id = "api_unblock", delete, path = "/api/blocks/{id}", tag = "moderation", params(("id" = i64, Path, description = "The block")), responses((status = 200, description = "{\"block\"}: lifted", body = Object), (status = 404, description = "No such block")))]
pub async fn unblock(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<BlockId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let block = s.service.unblock(id, &user, address(&addr)).await?;
    Ok(Json(json!({ "block": block })))
}

#[utoipa::path(operation_id = "api_accept", post, path = "/api/conversations/{id}/accept", tag = "conversations", params(("id" = String, Path, description = "The conversation")), responses((status = 200, description = "{\"conversation\"}: the offered chat is the caller's", body = Object), (status = 409, description = "Not offered to the caller, or expired")))]
pub async fn accept(
    State(s): State<Shared>,
    Staff(user): Staff,
    Path(id): Path<ConversationId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let summary = s.service.accept(&id, &user).await.map_err(conv_not_found)?;
    Ok(Json(json!({"conversation": summary})))
}

#[utoipa::path(operation_id = "api_decline", post, path = "/api/conversations/{id}/decline", tag = "conversations", params(("id" = String, Path, description = "The conversation")), responses((status = 204, description = "Declined: offered to the next"), (status = 409, description = "Not offered to the caller")))]
pub async fn decline(
    State(s): State<Shared>,
    Staff(user): Staff,
    Path(id): Path<ConversationId>,
) -> Result<StatusCode, ApiError> {
    s.service
        .decline(&id, &user)
        .await
        .map_err(conv_not_found)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(operation_id = "api_transfer", post, path = "/api/conversations/{id}/transfer", tag = "conversations", params(("id" = String, Path, description = "The conversation")), request_body(content = Object, description = "{\"to\":{\"user\"}|{\"skill\"},\"note\"?} (docs/routing.md)"), responses((status = 200, description = "{\"conversation\"}", body = Object), (status = 403, description = "Not the caller's chat")))]
pub async fn transfer(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<ConversationId>,
    Json(body): Json<TransferRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let summary = s
        .service
        .transfer(&id, &user, body, address(&addr))
        .await
        .map_err(conv_not_found)?;
    Ok(Json(json!({"conversation": summary})))
}

#[utoipa::path(operation_id = "api_start", post, path = "/api/conversations/{id}/start", tag = "conversations", params(("id" = String, Path, description = "The conversation"), Reason), responses((status = 200, description = "{\"conversation\"}: a clinician starts a chat with a known patient", body = Object), (status = 403, description = "break_glass_required: give a reason")))]
pub async fn start(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<ConversationId>,
    Query(q): Query<Reason>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let summary = s
        .service
        .start_chat(&id, &user, q.reason.as_deref(), address(&addr))
        .await
        .map_err(conv_not_found)?;
    Ok(Json(json!({"conversation": summary})))
}

/// Colleagues, for team chat and transfers.
#[utoipa::path(operation_id = "api_team", get, path = "/api/team", tag = "team", responses((status = 200, description = "{\"users\":[...]}: colleagues", body = Object)))]
pub async fn team(
    State(s): State<Shared>,
    Staff(user): Staff,
) -> Result<Json<serde_json::Value>, ApiError> {
    let users: Vec<_> = s
        .service
        .store
        .users()
        .await?
        .iter()
        .filter(|u| u.id != user.id && u.active() && u.role != store::Role::Auditor)
        .map(|u| s.service.user_view(u))
        .collect();
    Ok(Json(json!({"users": users})))
}

#[utoipa::path(operation_id = "api_team_thread", get, path = "/api/team/{user}", tag = "team", params(("user" = i64, Path, description = "The colleague")), responses((status = 200, description = "{\"messages\":[...]}", body = Object)))]
pub async fn team_thread(
    State(s): State<Shared>,
    Staff(user): Staff,
    Path(other): Path<UserId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(
        json!({"messages": s.service.team_thread(&user, other).await?}),
    ))
}

#[utoipa::path(operation_id = "api_team_send", post, path = "/api/team/{user}", tag = "team", params(("user" = i64, Path, description = "The colleague")), request_body = Send, responses((status = 201, description = "{\"message\"}", body = Object), (status = 404, description = "No such colleague")))]
pub async fn team_send(
    State(s): State<Shared>,
    Staff(user): Staff,
    Path(other): Path<UserId>,
    Json(body): Json<Send>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let message = s.service.team_send(&user, other, &body.text).await?;
    Ok((StatusCode::CREATED, Json(json!({"message": message}))))
}

/// Who is asking is checked before the upgrade, so that a request without a
/// session is told `401` whatever it sent.
#[utoipa::path(operation_id = "api_ws", get, path = "/ws/clinician", tag = "sockets", responses((status = 101, description = "The console's WebSocket (frames: docs/protocol.md)"), (status = 401, description = "No session")))]
pub async fn ws(
    State(s): State<Shared>,
    headers: HeaderMap,
    Staff(user): Staff,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(hash) = session_hash(&s, &headers) else {
        return ApiError::Unauthenticated.into_response();
    };
    ws.read_buffer_size(super::SOCKET_READ_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |socket| clinician_session(s, socket, user, hash))
}

/// Pumps a console's socket until either side closes it or its session
/// ends (checked every [`SESSION_CHECK`]; then the console is told with
/// close code [`SESSION_ENDED`]).
async fn clinician_session(s: Shared, socket: WebSocket, user: User, session: String) {
    let _held = s.drain.hold();
    let (sink, mut stream) = socket.split();
    let (console, rx) = s.service.connect_clinician(user).await;
    // Why the server closes the socket: the session ended, or a shutdown.
    let (ended_tx, ended_rx) = tokio::sync::oneshot::channel::<CloseFrame>();
    let writer = tokio::spawn(super::pump(sink, rx, ended_rx));
    let mut check = tokio::time::interval(SESSION_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ended_tx = Some(ended_tx);
    loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            () = s.drain.started() => {
                if let Some(tx) = ended_tx.take() {
                    let _ = tx.send(CloseFrame {
                        code: super::RESTARTING,
                        reason: "the server is restarting: reconnect".into(),
                    });
                }
                break;
            }
            _ = check.tick() => match session_account(&s, &session).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    if let Some(tx) = ended_tx.take() {
                        let _ = tx.send(CloseFrame {
                            code: SESSION_ENDED,
                            reason: "session ended".into(),
                        });
                    }
                    break;
                }
                // The store is unwell: the next check tries again.
                Err(e) => tracing::warn!(error = %e, "checking a console's session"),
            }
        }
    }
    // Let the writer send its close frame (if the session ended), then stop it.
    let mut writer = writer;
    let _ = tokio::time::timeout(SESSION_CHECK, &mut writer).await;
    writer.abort();
    console.close().await;
}
