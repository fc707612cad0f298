//! The web assets, embedded in the binary at compile time.

use axum::http::header;
use axum::response::IntoResponse;

const CSP_CONSOLE: &str = "default-src 'self'; style-src 'self'; img-src 'self' data:; \
                           connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

pub async fn index() -> impl IntoResponse {
    asset(
        "text/html; charset=utf-8",
        include_str!("../../assets/index.html"),
    )
}

/// The widget is loaded by clinics' own sites, on other origins.
pub async fn widget() -> impl IntoResponse {
    (
        [(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")],
        asset(
            "text/javascript; charset=utf-8",
            include_str!("../../assets/widget.js"),
        ),
    )
}

pub async fn console() -> impl IntoResponse {
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP_CONSOLE),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        asset(
            "text/html; charset=utf-8",
            include_str!("../../assets/console.html"),
        ),
    )
}

/// Accounts and the audit trail, for admins and auditors.
pub async fn admin() -> impl IntoResponse {
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP_CONSOLE),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        asset(
            "text/html; charset=utf-8",
            include_str!("../../assets/admin.html"),
        ),
    )
}

pub async fn admin_js() -> impl IntoResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/admin.js"),
    )
}

pub async fn admin_css() -> impl IntoResponse {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/admin.css"),
    )
}

pub async fn console_js() -> impl IntoResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/console.js"),
    )
}

pub async fn console_css() -> impl IntoResponse {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/console.css"),
    )
}

/// The page a patient's one-time transcript link opens (the token is in
/// its fragment, which never reaches the server's logs).
pub async fn transcript() -> impl IntoResponse {
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP_CONSOLE),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        asset(
            "text/html; charset=utf-8",
            include_str!("../../assets/transcript.html"),
        ),
    )
}

pub async fn transcript_js() -> impl IntoResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/transcript.js"),
    )
}
