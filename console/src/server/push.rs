//! Web Push subscriptions over HTTP ([`service::push`]): the console asks
//! for the server's VAPID key, subscribes through the browser's Push API,
//! and hands the subscription here.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::json;
use service::ServiceError;
use service::push::SubscriptionInput;

use super::session::Staff;
use super::{ApiError, Shared};

/// `GET /api/push/key`: the key a browser subscribes with.
#[utoipa::path(operation_id = "push_key", get, path = "/api/push/key", tag = "push", responses((status = 200, description = "{\"key\"}: the server's VAPID public key, base64url (the Push API's applicationServerKey)", body = Object), (status = 404, description = "Push is not set up")))]
pub async fn key(
    State(s): State<Shared>,
    Staff(_): Staff,
) -> Result<Json<serde_json::Value>, ApiError> {
    let key = s
        .service
        .push_key()
        .ok_or(ServiceError::NotFound("push is not set up"))?;
    Ok(Json(json!({ "key": key })))
}

/// `POST /api/me/push`: keeps the caller's browser subscription.
#[utoipa::path(operation_id = "push_subscribe", post, path = "/api/me/push", tag = "push", request_body = SubscriptionInput, responses((status = 200, description = "{}: kept; waiting and urgent chats the caller could serve are pushed to it", body = Object), (status = 400, description = "Not an https endpoint, or keys of the wrong shape"), (status = 403, description = "An auditor")))]
pub async fn subscribe(
    State(s): State<Shared>,
    Staff(user): Staff,
    Json(body): Json<SubscriptionInput>,
) -> Result<Json<serde_json::Value>, ApiError> {
    s.service.subscribe_push(&user, body).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Endpoint {
    endpoint: String,
}

/// `POST /api/me/push/remove`: forgets one of the caller's subscriptions.
#[utoipa::path(operation_id = "push_unsubscribe", post, path = "/api/me/push/remove", tag = "push", request_body = Endpoint, responses((status = 200, description = "{}: forgotten", body = Object), (status = 404, description = "No such subscription of the caller's")))]
pub async fn unsubscribe(
    State(s): State<Shared>,
    Staff(user): Staff,
    Json(body): Json<Endpoint>,
) -> Result<Json<serde_json::Value>, ApiError> {
    s.service.unsubscribe_push(&user, &body.endpoint).await?;
    Ok(Json(json!({})))
}
