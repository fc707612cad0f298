//! The one error type at the HTTP edge: a stable code and a short message for
//! the client, the detail for the log only. Besides the conversation core's
//! own errors ([`ServiceError`]), only the edge's: who is asking.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use service::ServiceError;
use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("wrong username or password")]
    BadCredentials,
    #[error("log in first")]
    Unauthenticated,
    /// The password was right; a second factor is needed, or must be set
    /// up first (the message says which).
    #[error("{0}")]
    MfaRequired(String),
    /// Staff sign in through the clinic's identity provider only.
    #[error("sign in with single sign-on")]
    SsoOnly,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadCredentials => "bad_credentials",
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::MfaRequired(_) => "mfa_required",
            ApiError::SsoOnly => "sso_only",
            ApiError::Service(e) => e.code(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadCredentials | ApiError::Unauthenticated | ApiError::MfaRequired(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::SsoOnly => StatusCode::FORBIDDEN,
            ApiError::Service(e) => match e {
                ServiceError::BadRequest(_) => StatusCode::BAD_REQUEST,
                ServiceError::Forbidden(_)
                | ServiceError::SenderBlocked
                | ServiceError::BreakGlassRequired => StatusCode::FORBIDDEN,
                ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
                ServiceError::Conflict(_) | ServiceError::ConsentRequired => StatusCode::CONFLICT,
                ServiceError::TooLong => StatusCode::PAYLOAD_TOO_LARGE,
                ServiceError::Busy | ServiceError::ScannerUnavailable => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                ServiceError::FileRefused(_) | ServiceError::FileInfected => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                ServiceError::FileTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                ServiceError::Locked { .. } => StatusCode::LOCKED,
                ServiceError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ServiceError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Service(ServiceError::Internal(e)) = &self {
            // Errors from the store and the engine never carry message text.
            tracing::error!(error = %format!("{e:#}"), "internal error");
        }
        let body = json!({"error": {"code": self.code(), "message": self.to_string()}});
        let mut response = (self.status(), Json(body)).into_response();
        if let ApiError::Service(
            ServiceError::Locked { retry_after_secs }
            | ServiceError::RateLimited { retry_after_secs },
        ) = &self
        {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_secs.max(&1).to_owned()),
            );
        }
        response
    }
}
