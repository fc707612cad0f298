//! The HTTP edge in process (`tower::ServiceExt::oneshot`): authentication,
//! sessions, error shapes and limits. No model is loaded, so these also show
//! how the server behaves while it warms up.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{AppState, Hub, app};
use crate::auth::{Secret, hash_password};
use crate::store::{NewUser, Role, SqliteStore, Store};

async fn state() -> Arc<AppState> {
    let store = SqliteStore::open("sqlite::memory:").await.unwrap();
    store
        .create_user(NewUser {
            username: "nina".into(),
            display_name: "Nina".into(),
            role: Role::Clinician,
            password_hash: hash_password(&Secret("a long password".into())).unwrap(),
            skills: vec!["nursing".into()],
            languages: vec!["en".into()],
            max_chats: 4,
        })
        .await
        .unwrap();
    let whitelist = crate::engine::load_whitelist(std::path::Path::new("/nonexistent")).unwrap();
    Arc::new(AppState {
        store: Arc::new(store),
        bot: OnceLock::new(),
        whitelist: Arc::new(whitelist),
        hub: Hub::default(),
    })
}

async fn send(state: &Arc<AppState>, req: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let res = app(state.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, cookie, body)
}

fn post(path: &str, body: Value, cookie: Option<&str>) -> Request<Body> {
    let mut req = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    req.body(Body::from(body.to_string())).unwrap()
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut req = Request::get(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    req.body(Body::empty()).unwrap()
}

async fn login(state: &Arc<AppState>) -> String {
    let (status, cookie, body) = send(
        state,
        post(
            "/api/login",
            json!({"username": "nina", "password": "a long password"}),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["username"], "nina");
    assert_eq!(body["user"]["status"], "offline");
    let cookie = cookie.expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    cookie.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn health_is_up_and_ready_waits_for_the_model() {
    let s = state().await;
    assert_eq!(send(&s, get("/healthz", None)).await.0, StatusCode::OK);
    assert_eq!(
        send(&s, get("/readyz", None)).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn login_session_and_logout() {
    let s = state().await;
    let (status, _, body) = send(
        &s,
        post(
            "/api/login",
            json!({"username": "nina", "password": "nope"}),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "bad_credentials");
    let (status, _, _) = send(
        &s,
        post(
            "/api/login",
            json!({"username": "ghost", "password": "a long password"}),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let cookie = login(&s).await;
    let (status, _, body) = send(&s, get("/api/me", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["display_name"], "Nina");

    let (status, _, body) = send(
        &s,
        post(
            "/api/me/status",
            json!({"status": "available"}),
            Some(&cookie),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["status"], "available");

    let (status, cleared, _) = send(&s, post("/api/logout", json!({}), Some(&cookie))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(cleared.unwrap().contains("Max-Age=0"));
    let (status, _, body) = send(&s, get("/api/me", Some(&cookie))).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the session is gone after logout"
    );
    assert_eq!(body["error"]["code"], "unauthenticated");
}

#[tokio::test]
async fn forged_or_missing_cookies_are_refused() {
    let s = state().await;
    for cookie in [None, Some("carechat_session=deadbeef"), Some("other=1")] {
        let (status, _, _) = send(&s, get("/api/conversations", cookie)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{cookie:?}");
    }
}

#[tokio::test]
async fn errors_have_one_shape() {
    let s = state().await;
    let cookie = login(&s).await;
    let (status, _, body) = send(&s, get("/api/conversations/c_nope", Some(&cookie))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _, body) = send(
        &s,
        post("/api/me/status", json!({"status": "asleep"}), Some(&cookie)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "bad_request");
    let (status, _, body) = send(
        &s,
        post("/api/conversations/c_nope/take", json!({}), Some(&cookie)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _, _) = send(&s, get("/api/conversations", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let s = state().await;
    let huge = "x".repeat(100 * 1024);
    let (status, _, _) = send(
        &s,
        post(
            "/api/login",
            json!({"username": huge, "password": "p"}),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn assets_are_served_with_their_types() {
    let s = state().await;
    for (path, kind) in [
        ("/", "text/html"),
        ("/widget.js", "text/javascript"),
        ("/console", "text/html"),
        ("/console.js", "text/javascript"),
        ("/console.css", "text/css"),
    ] {
        let res = app(s.clone()).oneshot(get(path, None)).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let ct = res.headers()[header::CONTENT_TYPE].to_str().unwrap();
        assert!(ct.starts_with(kind), "{path}: {ct}");
    }
    let res = app(s.clone()).oneshot(get("/console", None)).await.unwrap();
    assert!(res.headers().contains_key(header::CONTENT_SECURITY_POLICY));
}

#[test]
fn the_dummy_hash_costs_a_real_verification() {
    use argon2::password_hash::PasswordHash;
    // If it did not parse, unknown usernames would be refused measurably faster
    // than wrong passwords, telling an attacker which accounts exist.
    assert!(PasswordHash::new(super::api::DUMMY_HASH).is_ok());
    let t = std::time::Instant::now();
    assert!(!crate::auth::verify_password(
        &Secret("guess".into()),
        super::api::DUMMY_HASH
    ));
    assert!(
        t.elapsed() > std::time::Duration::from_millis(1),
        "no real argon2 work was done"
    );
}
