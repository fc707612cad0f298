//! Canned replies over HTTP (`service::canned`): a clinician's picker, and
//! the shared and personal replies' management. The service checks who
//! may do what.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use service::canned::{CannedInput, CannedList, CannedView};
use store::ConversationId;

use super::identity::ClientAddr;
use super::session::{Staff, address};
use super::{ApiError, Shared};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The chat the reply is for: its writing language comes first.
    conversation: Option<String>,
}

/// `GET /api/canned?conversation=ID`.
#[utoipa::path(operation_id = "canned_list", get, path = "/api/canned", tag = "canned replies", params(ListQuery), responses((status = 200, description = "The replies, the chat's writing language first", body = CannedList)))]
pub async fn list(
    State(s): State<Shared>,
    Staff(user): Staff,
    Query(q): Query<ListQuery>,
) -> Result<Json<CannedList>, ApiError> {
    let conversation = q.conversation.map(ConversationId::new);
    Ok(Json(
        s.service
            .canned_replies(&user, conversation.as_ref())
            .await?,
    ))
}

/// `POST /api/canned` `{"shared"?,"language","title","body"}`.
#[utoipa::path(operation_id = "canned_add", post, path = "/api/canned", tag = "canned replies", request_body = CannedInput, responses((status = 201, description = "The reply", body = CannedView), (status = 400, description = "A bad language, title or body, an unknown variable, or PHI"), (status = 403, description = "A shared reply from a clinician")))]
pub async fn add(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Json(input): Json<CannedInput>,
) -> Result<(StatusCode, Json<CannedView>), ApiError> {
    let added = s
        .service
        .add_canned_reply(&user, input, address(&addr))
        .await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// `PUT /api/canned/{id}` with the whole reply.
#[utoipa::path(operation_id = "canned_change", put, path = "/api/canned/{id}", tag = "canned replies", params(("id" = i64, Path, description = "The reply")), request_body = CannedInput, responses((status = 200, description = "The reply", body = CannedView), (status = 403, description = "A shared reply, by a clinician"), (status = 404, description = "No such reply of the caller's")))]
pub async fn change(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<i64>,
    Json(input): Json<CannedInput>,
) -> Result<Json<CannedView>, ApiError> {
    Ok(Json(
        s.service
            .update_canned_reply(&user, id, input, address(&addr))
            .await?,
    ))
}

/// `DELETE /api/canned/{id}`.
#[utoipa::path(operation_id = "canned_remove", delete, path = "/api/canned/{id}", tag = "canned replies", params(("id" = i64, Path, description = "The reply")), responses((status = 204, description = "Deleted"), (status = 403, description = "A shared reply, by a clinician"), (status = 404, description = "No such reply of the caller's")))]
pub async fn remove(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    s.service
        .delete_canned_reply(&user, id, address(&addr))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/canned/{id}/use`: the picker put it in the reply box.
#[utoipa::path(operation_id = "canned_used", post, path = "/api/canned/{id}/use", tag = "canned replies", params(("id" = i64, Path, description = "The reply")), responses((status = 204, description = "A use counted"), (status = 404, description = "No such reply of the caller's")))]
pub async fn used(
    State(s): State<Shared>,
    Staff(user): Staff,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    s.service.use_canned_reply(&user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
