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
pub async fn show(
    State(s): State<Shared>,
    Staff(user): Staff,
) -> Result<Json<Workbench>, ApiError> {
    Ok(Json(s.service.workbench(&user).await?))
}

/// `PUT /api/whitelist/draft/intents/{id}` with the intent.
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

#[derive(Deserialize)]
pub struct Tests {
    cases: Vec<Case>,
}

/// `PUT /api/whitelist/draft/tests` `{"cases":[{"text","intent"?}]}`.
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
pub async fn discard(
    State(s): State<Shared>,
    Staff(user): Staff,
    addr: ClientAddr,
) -> Result<StatusCode, ApiError> {
    s.service.discard_draft(&user, address(&addr)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
pub struct Publish {
    override_reason: Option<String>,
}

/// `POST /api/whitelist/publish` `{"override_reason"?}`: `200` with the
/// new version and the gate's figures, or `409 gate_refused` with them.
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
pub async fn versions(
    State(s): State<Shared>,
    Staff(user): Staff,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(
        json!({"versions": s.service.whitelist_versions(&user).await?}),
    ))
}

#[derive(Deserialize)]
pub struct Rollback {
    version: i64,
}

/// `POST /api/whitelist/rollback` `{"version"}`.
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

#[derive(Deserialize)]
pub struct TryMessage {
    text: String,
}

/// `POST /api/whitelist/draft/try` `{"text"}`: what the draft's bot (the
/// live one when there is no draft) would do with a patient's message.
pub async fn try_message(
    State(s): State<Shared>,
    Staff(user): Staff,
    Json(body): Json<TryMessage>,
) -> Result<Json<service::workbench::Tried>, ApiError> {
    Ok(Json(s.service.try_draft(&user, &body.text).await?))
}
