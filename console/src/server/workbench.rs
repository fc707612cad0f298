//! The admins' workbench over HTTP (`service::workbench`): the live
//! whitelist and its draft, edits, publishing through the evaluation gate,
//! versions and rollback. Admins only (the service checks).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bot_engine::{Case, Intent, Messages};
use serde::Deserialize;
use serde_json::json;
use service::workbench::{Published, Workbench};

use super::identity::ClientAddr;
use super::session::{Staff, address};
use super::{ApiError, Shared};

/// `GET /api/whitelist`.
#[utoipa::path(operation_id = "workbench_show", get, path = "/api/whitelist", tag = "workbench", responses((status = 200, description = "{\"live_version\",\"live\",\"draft\",\"tolerance\"} (docs/workbench.md)", body = Object)))]
pub async fn show(
    State(s): State<Shared>,
    Staff(user): Staff,
) -> Result<Json<Workbench>, ApiError> {
    Ok(Json(s.service.workbench(&user).await?))
}

/// `PUT /api/whitelist/draft/intents/{id}` with the intent.
#[utoipa::path(operation_id = "workbench_put_intent", put, path = "/api/whitelist/draft/intents/{id}", tag = "workbench", params(("id" = String, Path, description = "The intent id: a-z, 0-9, _")), request_body(content = Object, description = "An intent (docs/workbench.md)"), responses((status = 200, description = "The workbench, the draft changed", body = Object), (status = 400, description = "The draft would not load, a bad id, or the emergency intent made non-urgent")))]
pub async fn put_intent(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<String>,
    Json(intent): Json<Intent>,
) -> Result<Json<Workbench>, ApiError> {
    Ok(Json(
        s.service
            .put_draft_intent(&user, &id, intent, address(&addr))
            .await?,
    ))
}

/// `DELETE /api/whitelist/draft/intents/{id}`.
#[utoipa::path(operation_id = "workbench_delete_intent", delete, path = "/api/whitelist/draft/intents/{id}", tag = "workbench", params(("id" = String, Path, description = "The intent id")), responses((status = 200, description = "The workbench", body = Object), (status = 404, description = "No such intent in the draft")))]
pub async fn delete_intent(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Path(id): Path<String>,
) -> Result<Json<Workbench>, ApiError> {
    Ok(Json(
        s.service
            .delete_draft_intent(&user, &id, address(&addr))
            .await?,
    ))
}

/// `PUT /api/whitelist/draft/messages` with the bot-wide messages.
#[utoipa::path(operation_id = "workbench_put_messages", put, path = "/api/whitelist/draft/messages", tag = "workbench", request_body(content = Object, description = "The bot-wide messages, each {language: text} (docs/workbench.md)"), responses((status = 200, description = "The workbench", body = Object), (status = 400, description = "The draft would not load")))]
pub async fn put_messages(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Json(messages): Json<Messages>,
) -> Result<Json<Workbench>, ApiError> {
    Ok(Json(
        s.service
            .put_draft_messages(&user, messages, address(&addr))
            .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Tests {
    /// `{"text","intent"?}`: `intent` absent for a question the bot must
    /// not answer.
    #[schema(value_type = Vec<Object>)]
    cases: Vec<Case>,
}

/// `PUT /api/whitelist/draft/tests` `{"cases":[{"text","intent"?}]}`.
#[utoipa::path(operation_id = "workbench_put_tests", put, path = "/api/whitelist/draft/tests", tag = "workbench", request_body = Tests, responses((status = 200, description = "The workbench", body = Object), (status = 400, description = "A case names no intent")))]
pub async fn put_tests(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Json(body): Json<Tests>,
) -> Result<Json<Workbench>, ApiError> {
    Ok(Json(
        s.service
            .put_draft_tests(&user, body.cases, address(&addr))
            .await?,
    ))
}

/// `DELETE /api/whitelist/draft`.
#[utoipa::path(operation_id = "workbench_discard", delete, path = "/api/whitelist/draft", tag = "workbench", responses((status = 204, description = "The draft is gone")))]
pub async fn discard(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
) -> Result<StatusCode, ApiError> {
    s.service.discard_draft(&user, address(&addr)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct Publish {
    override_reason: Option<String>,
}

/// `POST /api/whitelist/publish` `{"override_reason"?}`: `200` with the
/// new version and the gate's figures, or `409 gate_refused` with them.
#[utoipa::path(operation_id = "workbench_publish", post, path = "/api/whitelist/publish", tag = "workbench", request_body = Publish, responses((status = 200, description = "{\"version\",\"evaluation\"}: live at once", body = Object), (status = 409, description = "gate_refused (with the evaluation), or no draft")))]
pub async fn publish(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Json(body): Json<Publish>,
) -> Result<Response, ApiError> {
    match s
        .service
        .publish_whitelist(&user, body.override_reason.as_deref(), address(&addr))
        .await?
    {
        Published::Live { version, report } => {
            Ok(Json(json!({"version": version, "evaluation": report})).into_response())
        }
        Published::Refused(report) => Ok((
            StatusCode::CONFLICT,
            Json(json!({
                "error": {
                    "code": "gate_refused",
                    "message": format!(
                        "not published: {}; fix the draft, or publish with an override_reason",
                        report.reasons.join("; ")
                    ),
                },
                "evaluation": report,
            })),
        )
            .into_response()),
    }
}

/// `GET /api/whitelist/versions`.
#[utoipa::path(operation_id = "workbench_versions", get, path = "/api/whitelist/versions", tag = "workbench", responses((status = 200, description = "{\"versions\":[...]}, newest first", body = Object)))]
pub async fn versions(
    State(s): State<Shared>,
    Staff(user): Staff,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(
        json!({"versions": s.service.whitelist_versions(&user).await?}),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Rollback {
    version: i64,
}

/// `POST /api/whitelist/rollback` `{"version"}`.
#[utoipa::path(operation_id = "workbench_rollback", post, path = "/api/whitelist/rollback", tag = "workbench", request_body = Rollback, responses((status = 200, description = "{\"version\"}: live again", body = Object), (status = 404, description = "No such version")))]
pub async fn rollback(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
    Json(body): Json<Rollback>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let version = s
        .service
        .rollback_whitelist(&user, body.version, address(&addr))
        .await?;
    Ok(Json(json!({ "version": version })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TryMessage {
    text: String,
}

/// `POST /api/whitelist/draft/try` `{"text"}`: what the draft's bot (the
/// live one when there is no draft) would do with a patient's message.
#[utoipa::path(operation_id = "workbench_try_message", post, path = "/api/whitelist/draft/try", tag = "workbench", request_body = TryMessage, responses((status = 200, description = "What the draft's bot would do (docs/workbench.md)", body = service::workbench::Tried), (status = 503, description = "The models are not loaded yet")))]
pub async fn try_message(
    State(s): State<Shared>,
    Staff(user): Staff,
    Json(body): Json<TryMessage>,
) -> Result<Json<service::workbench::Tried>, ApiError> {
    Ok(Json(s.service.try_draft(&user, &body.text).await?))
}
