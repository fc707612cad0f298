//! The HTTP API as an OpenAPI 3.1 document, served at `/api/openapi.json`.
//!
//! Generated from the code: each handler carries a `#[utoipa::path]`
//! annotation (method, path, parameters, request body, answers), and
//! [`ApiDoc`] lists them. `tests/openapi.rs` holds the document to the
//! router's own table of routes: a route missing from the document, or a
//! documented path the server does not answer, fails it. The pages and
//! scripts (`/`, `/console`, `/widget.js`...) are not API and are left
//! out.
//!
//! Every operation may also answer the one error shape (`Error`), with a
//! stable `code` (docs/security.md lists who may call what). Staff calls
//! are authenticated by the session cookie `carechat_session` (over HTTPS
//! `__Host-carechat_session`), set by `POST /api/login`.

use axum::Json;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error: `{"error":{"code","message"}}`; `code` is stable, the
/// message is for people. A `409 gate_refused` from publishing carries the
/// gate's `evaluation` beside it, a `429` a `Retry-After` header.
#[derive(Serialize, ToSchema)]
pub struct Error {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `bad_request`, `unauthenticated`, `forbidden`, `not_found`,
    /// `conflict`, `busy`, `rate_limited`, `break_glass_required`...
    pub code: String,
    pub message: String,
}

struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "carechat_session",
                "The staff session, set by POST /api/login (over HTTPS: __Host-carechat_session)",
            ))),
        );
        let mut resume = Http::new(HttpAuthScheme::Bearer);
        resume.description =
            Some("A patient's chat: the resume token its socket's welcome frame carried".into());
        components.add_security_scheme("resume", SecurityScheme::Http(resume));
        let error: RefOr<Response> = ResponseBuilder::new()
            .description("An error, with a stable code")
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name("Error")))
                    .build(),
            )
            .build()
            .into();
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
                &mut item.options,
            ]
            .into_iter()
            .flatten()
            {
                op.responses
                    .responses
                    .entry("default".into())
                    .or_insert_with(|| error.clone());
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Carechat",
        description = "The HTTP API of Carechat, the self-hosted live chat for clinics. \
                       The sockets' frames are in docs/protocol.md; who may call what in \
                       docs/security.md.",
        license(name = "See the repository"),
    ),
    modifiers(&Conventions),
    components(schemas(Error, ErrorDetail)),
    security(("session" = [])),
    paths(
        super::health,
        super::readyz,
        super::metrics::metrics,
        super::patient::ws,
        super::api::ws,
        super::session::login,
        super::session::logout,
        super::sso::status,
        super::sso::login,
        super::sso::callback,
        super::session::me,
        super::session::change_password,
        super::api::set_status,
        super::session::propose_mfa,
        super::session::confirm_mfa,
        super::admin::users,
        super::admin::add_user,
        super::admin::change_user,
        super::admin::remove_user,
        super::admin::disable_user,
        super::admin::enable_user,
        super::admin::unlock_user,
        super::admin::reset_password,
        super::admin::reset_mfa,
        super::api::conversations,
        super::api::conversation,
        super::api::delete_conversation,
        super::api::delete_patient,
        super::transcript::practice,
        super::transcript::make_link,
        super::transcript::by_link,
        super::api::take,
        super::api::send,
        super::api::reveal,
        super::api::close,
        super::api::block,
        super::api::accept,
        super::api::decline,
        super::api::transfer,
        super::api::start,
        super::api::team,
        super::api::team_thread,
        super::api::team_send,
        super::api::held,
        super::api::dismiss_held,
        super::api::blocks,
        super::api::unblock,
        super::workbench::show,
        super::workbench::put_intent,
        super::workbench::delete_intent,
        super::workbench::put_messages,
        super::workbench::put_tests,
        super::workbench::discard,
        super::workbench::publish,
        super::workbench::versions,
        super::workbench::rollback,
        super::workbench::try_message,
        super::canned::list,
        super::canned::add,
        super::canned::change,
        super::canned::remove,
        super::canned::used,
        super::left::list,
        super::left::done,
        super::left::reopen,
        super::left::notify,
        super::left::reply_code,
        super::left::read_reply,
        super::files::send,
        super::files::get,
        super::files::patient_send,
        super::files::patient_get,
        super::files::preflight,
        super::files::preflight_one,
        super::push::key,
        super::push::subscribe,
        super::push::unsubscribe,
        super::dashboard::show,
        super::audit::search,
        super::audit::export,
        openapi_json,
    )
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(operation_id = "openapi_json", get, path = "/api/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
pub async fn openapi_json() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}
