//! The clinician and admin HTTP API and the clinician's WebSocket.

use axum::Json;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use router::Presence;
use serde::Deserialize;
use serde_json::json;
use service::tokens::{Secret, new_token, token_hash};
use service::{BlockRequest, ServiceError, TransferRequest};
use store::{BlockId, ConversationId, NewAudit, StoreError, Timestamp, User, UserId};

use super::{ApiError, Shared};
use crate::auth::verify_password;

const COOKIE: &str = "carechat_session";
const SESSION_SECS: i64 = 12 * 3600;

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// A logged-in clinician or admin.
pub struct Authed(pub User);

impl FromRequestParts<Shared> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &Shared) -> Result<Self, Self::Rejection> {
        let token = session_token(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        match s
            .service
            .store
            .session_user(&token_hash(&token), Timestamp::now())
            .await
        {
            Ok(user) => Ok(Authed(user)),
            Err(StoreError::NotFound) => Err(ApiError::Unauthenticated),
            Err(e) => Err(e.into()),
        }
    }
}

#[derive(Deserialize)]
pub struct Login {
    username: String,
    password: String,
}

pub async fn login(State(s): State<Shared>, Json(body): Json<Login>) -> Result<Response, ApiError> {
    let password = Secret(body.password);
    let user = match s.service.store.user_by_name(&body.username).await {
        Ok(u) => Some(u),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    // Verify against a real hash either way, so timing does not reveal which
    // usernames exist.
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_string());
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| ServiceError::Internal(e.into()))?;
    let Some(user) = user.filter(|_| ok) else {
        return Err(ApiError::BadCredentials);
    };
    let token = new_token();
    let expires = Timestamp::now().plus_secs(SESSION_SECS);
    let store = &s.service.store;
    store
        .create_session(&token_hash(&token.0), user.id, expires)
        .await?;
    store
        .audit(NewAudit::new(Some(user.id), "login", "", ""))
        .await?;
    s.service.sync_clinician(&user).await;
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={SESSION_SECS}",
        token.0
    );
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({"user": s.service.user_view(&user)})),
    )
        .into_response())
}

pub(crate) const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$8Bfl0PLb0Ihcy6YZEC1o2jn8MHUP8mHKqu2n1HEX7d0";

pub async fn logout(
    State(s): State<Shared>,
    headers: HeaderMap,
    Authed(user): Authed,
) -> Result<Response, ApiError> {
    if let Some(token) = session_token(&headers) {
        s.service.store.delete_session(&token_hash(&token)).await?;
    }
    s.service.set_presence(&user, Presence::Offline).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(
            header::SET_COOKIE,
            format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
        )],
    )
        .into_response())
}

pub async fn me(State(s): State<Shared>, Authed(user): Authed) -> Json<serde_json::Value> {
    Json(json!({"user": s.service.user_view(&user)}))
}

#[derive(Deserialize)]
pub struct Status {
    status: String,
}

pub async fn set_status(
    State(s): State<Shared>,
    Authed(user): Authed,
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

pub async fn conversations(
    State(s): State<Shared>,
    Authed(user): Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(
        json!({"conversations": s.service.visible_to(user.id).await?}),
    ))
}

pub async fn conversation(
    State(s): State<Shared>,
    Authed(_user): Authed,
    Path(id): Path<ConversationId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let conv = s
        .service
        .store
        .conversation(&id)
        .await
        .map_err(ServiceError::not_found("no such conversation"))?;
    let mut messages = Vec::new();
    for m in s.service.store.messages(&id).await? {
        messages.push(s.service.message_view(&m).await);
    }
    Ok(Json(json!({
        "conversation": s.service.summary(&conv).await,
        "messages": messages,
        "notes": s.service.notes(&id).await?,
    })))
}

fn conv_not_found(e: ServiceError) -> ApiError {
    match e {
        ServiceError::NotFound(_) => ServiceError::NotFound("no such conversation").into(),
        e => e.into(),
    }
}

pub async fn take(
    State(s): State<Shared>,
    Authed(user): Authed,
    Path(id): Path<ConversationId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let summary = s.service.take(&id, &user).await.map_err(conv_not_found)?;
    Ok(Json(json!({"conversation": summary})))
}

#[derive(Deserialize)]
pub struct Send {
    text: String,
}

pub async fn send(
    State(s): State<Shared>,
    Authed(user): Authed,
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

pub async fn close(
    State(s): State<Shared>,
    Authed(user): Authed,
    Path(id): Path<ConversationId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let summary = s.service.close(&id, &user).await.map_err(conv_not_found)?;
    Ok(Json(json!({"conversation": summary})))
}

pub async fn block(
    State(s): State<Shared>,
    Authed(user): Authed,
    Path(id): Path<ConversationId>,
    Json(body): Json<BlockRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let blocks = s.service.block_sender(&id, &user, body).await?;
    Ok((StatusCode::CREATED, Json(json!({"blocks": blocks}))))
}

pub async fn held(
    State(s): State<Shared>,
    Authed(_user): Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(json!({"held": s.service.held().await?})))
}

pub async fn dismiss_held(
    State(s): State<Shared>,
    Authed(user): Authed,
    Path(id): Path<ConversationId>,
) -> Result<StatusCode, ApiError> {
    s.service.dismiss_held(&id, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn blocks(
    State(s): State<Shared>,
    Authed(user): Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(json!({"blocks": s.service.blocks(&user).await?})))
}

pub async fn unblock(
    State(s): State<Shared>,
    Authed(user): Authed,
    Path(id): Path<BlockId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(json!({"block": s.service.unblock(id, &user).await?})))
}

pub async fn audit(
    State(s): State<Shared>,
    Authed(user): Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(json!({"entries": s.service.audit_log(&user).await?})))
}

pub async fn accept(
    State(s): State<Shared>,
    Authed(user): Authed,
    Path(id): Path<ConversationId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let summary = s.service.accept(&id, &user).await.map_err(conv_not_found)?;
    Ok(Json(json!({"conversation": summary})))
}

pub async fn decline(
    State(s): State<Shared>,
    Authed(user): Authed,
    Path(id): Path<ConversationId>,
) -> Result<StatusCode, ApiError> {
    s.service
        .decline(&id, &user)
        .await
        .map_err(conv_not_found)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn transfer(
    State(s): State<Shared>,
    Authed(user): Authed,
    Path(id): Path<ConversationId>,
    Json(body): Json<TransferRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let summary = s
        .service
        .transfer(&id, &user, body)
        .await
        .map_err(conv_not_found)?;
    Ok(Json(json!({"conversation": summary})))
}

pub async fn start(
    State(s): State<Shared>,
    Authed(user): Authed,
    Path(id): Path<ConversationId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let summary = s
        .service
        .start_chat(&id, &user)
        .await
        .map_err(conv_not_found)?;
    Ok(Json(json!({"conversation": summary})))
}

/// Colleagues, for team chat and transfers.
pub async fn team(
    State(s): State<Shared>,
    Authed(user): Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    let users: Vec<_> = s
        .service
        .store
        .users()
        .await?
        .iter()
        .filter(|u| u.id != user.id)
        .map(|u| s.service.user_view(u))
        .collect();
    Ok(Json(json!({"users": users})))
}

pub async fn team_thread(
    State(s): State<Shared>,
    Authed(user): Authed,
    Path(other): Path<UserId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(
        json!({"messages": s.service.team_thread(&user, other).await?}),
    ))
}

pub async fn team_send(
    State(s): State<Shared>,
    Authed(user): Authed,
    Path(other): Path<UserId>,
    Json(body): Json<Send>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let message = s.service.team_send(&user, other, &body.text).await?;
    Ok((StatusCode::CREATED, Json(json!({"message": message}))))
}

pub async fn ws(ws: WebSocketUpgrade, State(s): State<Shared>, Authed(user): Authed) -> Response {
    ws.on_upgrade(move |socket| clinician_session(s, socket, user))
}

async fn clinician_session(s: Shared, socket: WebSocket, user: User) {
    let (mut sink, mut stream) = socket.split();
    let (console, mut rx) = s.service.connect_clinician(user).await;
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if sink.send(WsMessage::Text(frame.into())).await.is_err() {
                break;
            }
        }
    });
    while let Some(Ok(msg)) = stream.next().await {
        if matches!(msg, WsMessage::Close(_)) {
            break;
        }
    }
    writer.abort();
    console.close().await;
}
