//! The web assets, embedded in the binary at compile time.

use axum::http::header;
use axum::response::IntoResponse;

/// The console's own pages: a shared photo is shown from a `blob:` URL the
/// page made from its download.
const CSP_CONSOLE: &str = "default-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
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

const WIDGET: &str = include_str!("../../assets/widget.js");
/// What the widget loads only when a file is sent or opened.
const WIDGET_FILES: &str = include_str!("../../assets/widget-files.js");

/// `text` gzipped once, at the best compression.
fn gzipped(text: &'static str, cell: &'static std::sync::OnceLock<Vec<u8>>) -> &'static [u8] {
    cell.get_or_init(|| {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(text.as_bytes()).expect("writing to memory");
        e.finish().expect("writing to memory")
    })
}

/// The widget gzipped: what a browser downloads of it, held to its budget
/// (15 KB) by a test.
pub fn widget_gzip() -> &'static [u8] {
    static GZ: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    gzipped(WIDGET, &GZ)
}

/// The widget's file sharing, gzipped.
pub fn widget_files_gzip() -> &'static [u8] {
    static GZ: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    gzipped(WIDGET_FILES, &GZ)
}

/// A script clinics' own sites load, on other origins; gzipped to browsers
/// that take it (all do).
fn site_script(
    headers: &axum::http::HeaderMap,
    raw: &'static str,
    gz: &'static [u8],
) -> axum::response::Response {
    let gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| {
            let mut parts = v.trim().split(';');
            parts.next() == Some("gzip") && parts.all(|q| q.trim() != "q=0")
        });
    let cors = [
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        (header::VARY, "Accept-Encoding"),
    ];
    if gzip {
        (
            cors,
            [
                (header::CONTENT_ENCODING, "gzip"),
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            gz,
        )
            .into_response()
    } else {
        (cors, asset("text/javascript; charset=utf-8", raw)).into_response()
    }
}

pub async fn widget(headers: axum::http::HeaderMap) -> axum::response::Response {
    site_script(&headers, WIDGET, widget_gzip())
}

/// Loaded by the widget the first time a file is sent or opened.
pub async fn widget_files(headers: axum::http::HeaderMap) -> axum::response::Response {
    site_script(&headers, WIDGET_FILES, widget_files_gzip())
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

/// The page a patient's link to staff's answer opens (docs/notify.md; the
/// token is in its fragment).
pub async fn reply() -> impl IntoResponse {
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP_CONSOLE),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        asset(
            "text/html; charset=utf-8",
            include_str!("../../assets/reply.html"),
        ),
    )
}

pub async fn reply_js() -> impl IntoResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/reply.js"),
    )
}

/// The console as an installable app (docs/console.md, "On a phone").
pub async fn manifest() -> impl IntoResponse {
    asset(
        "application/manifest+json",
        include_str!("../../assets/manifest.webmanifest"),
    )
}

pub async fn icon() -> impl IntoResponse {
    asset("image/svg+xml", include_str!("../../assets/icon.svg"))
}

/// The service worker: it caches the console's shell and nothing else. A
/// worker runs under its own script's policy: it may fetch this server's
/// files (the default policy, `default-src 'none'`, would stop it caching).
pub async fn service_worker() -> impl IntoResponse {
    (
        [
            (
                header::HeaderName::from_static("service-worker-allowed"),
                "/",
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ],
        asset(
            "text/javascript; charset=utf-8",
            include_str!("../../assets/sw.js"),
        ),
    )
}
