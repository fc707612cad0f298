//! What every response and request passes through at the edge, whatever
//! the route:
//!
//! - **Same origin.** A request that changes something (any method but
//!   `GET`, `HEAD` and `OPTIONS`) and the clinician's WebSocket are refused
//!   with `403` when the browser says they come from another origin: another
//!   site cannot make a logged-in clinician's browser take, close or log out
//!   (cross-site request forgery), nor read a console's socket. Requests
//!   with no `Origin` (not from a browser page) pass: their cookie is the
//!   proof. The patient's socket and file routes (`/api/patient/...`) are
//!   exempt: the widget lives on the clinic's own site, another origin by
//!   design, and a resume token, never a cookie, opens them.
//! - **Headers.** A Content-Security-Policy on every page (`frame-ancestors
//!   'none'`: nobody frames Carechat), `nosniff`, `Referrer-Policy:
//!   no-referrer`, and `Cache-Control: no-store` on the API, whose answers
//!   hold patients' (redacted) words. Over HTTPS, `Strict-Transport-Security`
//!   too: a browser that has been here once never tries plain HTTP again.
//! - **One error shape.** An error that did not come from a handler (a body
//!   that is not the JSON asked for, an unknown route, a wrong method) gets
//!   the documented JSON shape too, without the parser's detail.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, Shared};

/// The pages' policy (the demo page's own `<style>` and the widget's
/// shadow-root styles need inline styles; no inline script anywhere).
const CSP_PAGES: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                         img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                         base-uri 'none'; form-action 'self'";
/// What is not a page (the API, the scripts): nothing may run or frame it.
const CSP_NONE: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Whether `headers` say the request comes from a page on another origin
/// than the server's own (the `Host` the request was sent to).
fn foreign_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    // "null" (a sandboxed frame, a file) is foreign too.
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    origin_host.is_none_or(|o| !o.eq_ignore_ascii_case(host))
}

/// Refuses cross-origin state changes and clinician sockets (403).
pub async fn same_origin(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    // The patient's socket and file routes answer the widget on the
    // clinic's site; a resume token, never a cookie, opens them.
    let patient = path == "/ws/patient" || path.starts_with("/api/patient/");
    let guarded = (changes && !patient) || path == "/ws/clinician";
    if guarded && foreign_origin(request.headers()) {
        return ApiError::Service(service::ServiceError::Forbidden(
            "requests from another site are refused",
        ))
        .into_response();
    }
    next.run(request).await
}

/// HSTS for a year; subdomains are left to the clinic's other sites.
const HSTS: &str = "max-age=31536000";

/// The security headers on every response.
pub async fn headers(State(s): State<Shared>, request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let page = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    // A route that set its own (the console's stricter one) keeps it.
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        let csp = if page { CSP_PAGES } else { CSP_NONE };
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if s.https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}

/// Gives an error response that is not already JSON the documented shape.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    // A WebSocket upgrade's answer, or a success, is left alone.
    if !(status.is_client_error() || status.is_server_error()) || json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "that method is not allowed here"),
        StatusCode::PAYLOAD_TOO_LARGE => ("too_long", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "bad_request",
            "the body must be JSON (content-type: application/json)",
        ),
        s if s.is_client_error() => ("bad_request", "the request is not valid"),
        _ => ("internal", "internal error"),
    };
    // 422 (a body of the wrong shape) is a plain bad request to clients.
    let status = if status == StatusCode::UNPROCESSABLE_ENTITY {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    let mut fresh = (
        status,
        axum::Json(serde_json::json!({"error": {"code": code, "message": message}})),
    )
        .into_response();
    // Keep what the original said about retrying or allowed methods.
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = response.headers().get(&name) {
            fresh.headers_mut().insert(name, v.clone());
        }
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(o) = origin {
            h.insert(header::ORIGIN, o.parse().unwrap());
        }
        if let Some(o) = host {
            h.insert(header::HOST, o.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_the_servers_own_origin_is_its_own() {
        let own = Some("chat.clinic.example:8443");
        assert!(
            !foreign_origin(&headers(None, own)),
            "no Origin: not a page"
        );
        assert!(!foreign_origin(&headers(
            Some("https://chat.clinic.example:8443"),
            own
        )));
        assert!(!foreign_origin(&headers(
            Some("http://CHAT.clinic.example:8443"),
            own
        )));
        for other in [
            "https://evil.example",
            "https://chat.clinic.example",
            "https://chat.clinic.example:8443.evil.example",
            "null",
            "chat.clinic.example:8443",
        ] {
            assert!(foreign_origin(&headers(Some(other), own)), "{other}");
        }
        assert!(foreign_origin(&headers(Some("https://a.example"), None)));
    }
}
