//! Single sign-on's routes (the protocol is `crate::sso`, the accounts
//! `service::sso`):
//!
//! - `GET /api/sso`: whether it is on, and whether it is the only way in
//!   (the console's sign-in page asks).
//! - `GET /api/sso/login`: sends the browser to the provider, with the
//!   sign-in's state in a short-lived cookie (`SameSite=Lax`: it must come
//!   back on the provider's redirect, a navigation from another site).
//! - `GET /api/sso/callback`: the provider sends the browser back here with
//!   a code; on success a session starts as with a password and the
//!   browser goes to the console, else to the console's sign-in page with
//!   `#sso=<code>` saying what went wrong (never a token in a URL).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use service::ServiceError;
use service::sso::SsoRefusal;
use store::Timestamp;

use super::identity::ClientAddr;
use super::session::{address, cookie_value, start_session};
use super::{ApiError, Shared};
use crate::sso::{SsoError, identity, provider_refused};

const STATE_COOKIE: &str = "carechat_sso";

fn state_cookie(s: &Shared, value: &str, max_age: u64) -> String {
    let secure = if s.https { "; Secure" } else { "" };
    format!(
        "{STATE_COOKIE}={value}; HttpOnly; SameSite=Lax; Path=/api/sso; Max-Age={max_age}{secure}"
    )
}

fn provider(s: &Shared) -> Result<&crate::sso::Provider, ApiError> {
    s.sso
        .as_deref()
        .ok_or(ApiError::Service(ServiceError::NotFound(
            "single sign-on is not set up",
        )))
}

/// Back to the sign-in page, saying why.
fn failed(s: &Shared, code: &str) -> Response {
    (
        AppendHeaders([(header::SET_COOKIE, state_cookie(s, "", 0))]),
        Redirect::to(&format!("/console#sso={code}")),
    )
        .into_response()
}

#[utoipa::path(operation_id = "sso_status", get, path = "/api/sso", tag = "session", security(()), responses((status = 200, description = "{\"enabled\",\"only\"}: whether single sign-on is set up, and the only way in", body = Object)))]
pub async fn status(State(s): State<Shared>) -> axum::Json<serde_json::Value> {
    axum::Json(json!({
        "enabled": s.sso.is_some(),
        "only": s.sso.as_ref().is_some_and(|p| p.only()),
    }))
}

#[utoipa::path(operation_id = "sso_login", get, path = "/api/sso/login", tag = "session", security(()), responses((status = 303, description = "To the identity provider (authorization code with PKCE)"), (status = 404, description = "No single sign-on set up")))]
pub async fn login(State(s): State<Shared>) -> Result<Response, ApiError> {
    let p = provider(&s)?;
    match p.begin().await {
        Ok((url, state)) => Ok((
            AppendHeaders([(header::SET_COOKIE, state_cookie(&s, &state, 600))]),
            Redirect::to(&url),
        )
            .into_response()),
        Err(e) => {
            tracing::warn!(error = %format!("{:#}", anyhow::Error::from(e).context("starting a single sign-on")), "sso");
            Ok(failed(&s, "provider"))
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

#[utoipa::path(operation_id = "sso_callback", get, path = "/api/sso/callback", tag = "session", params(Callback), security(()), responses((status = 303, description = "Back to the console, signed in or with #sso=<code>"), (status = 404, description = "No single sign-on set up")))]
pub async fn callback(
    State(s): State<Shared>,
    headers: HeaderMap,
    addr: ClientAddr,
    Query(q): Query<Callback>,
) -> Result<Response, ApiError> {
    let p = provider(&s)?;
    let outcome = match (&q.error, &q.code, &q.state) {
        (Some(error), _, _) => Err(provider_refused(error)),
        (None, Some(code), Some(state)) => {
            p.finish(
                state,
                cookie_value(&headers, STATE_COOKIE).as_deref(),
                code,
                q.iss.as_deref(),
            )
            .await
        }
        _ => Err(SsoError::Expired),
    };
    let who = outcome.and_then(|claims| identity(p.config(), &claims));
    let who = match who {
        Ok(who) => who,
        Err(e) => {
            let code = e.code();
            tracing::warn!(error = %format!("{:#}", anyhow::Error::from(e)), "a single sign-on failed");
            return Ok(failed(&s, code));
        }
    };
    let user = match s
        .service
        .staff
        .sso_login(&who, address(&addr), Timestamp::now())
        .await
    {
        Ok(user) => user,
        Err(e) => {
            let code = match e {
                SsoRefusal::NameTaken => "taken",
                SsoRefusal::Disabled => "disabled",
                SsoRefusal::LastAdmin => "last_admin",
                SsoRefusal::Service(ServiceError::RateLimited { .. }) => "rate_limited",
                SsoRefusal::Service(ServiceError::Busy) => "busy",
                SsoRefusal::Service(ServiceError::Internal(ref e)) => {
                    tracing::error!(error = %format!("{e:#}"), "a single sign-on's account");
                    "failed"
                }
                SsoRefusal::Service(_) => "failed",
            };
            return Ok(failed(&s, code));
        }
    };
    let session = start_session(&s, &user).await?;
    s.service.sync_clinician(&user).await;
    Ok((
        StatusCode::SEE_OTHER,
        AppendHeaders([
            (header::SET_COOKIE, session),
            (header::SET_COOKIE, state_cookie(&s, "", 0)),
        ]),
        [(header::LOCATION, "/console")],
    )
        .into_response())
}
