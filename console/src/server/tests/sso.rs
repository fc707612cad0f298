//! Single sign-on's routes without a provider to talk to: what the sign-in
//! page is told, SSO-only mode, and a callback that cannot be finished.
//! The whole flow against a real provider is tests/e2e/sso.rs.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use serde_json::json;
use tower::ServiceExt;

use super::{get, post, send, state};
use crate::config::Sso;

fn sso(only: bool) -> Option<Arc<crate::sso::Provider>> {
    Some(Arc::new(crate::sso::Provider::new(Sso {
        // Nothing listens on port 1: the provider cannot be reached.
        issuer: "http://127.0.0.1:1".into(),
        client_id: "carechat".into(),
        redirect_url: "http://127.0.0.1:8080/api/sso/callback".into(),
        only,
        ..Sso::default()
    })))
}

/// The redirect's target, and the cookies set on the way.
async fn redirect(s: &Arc<crate::server::AppState>, path: &str) -> (String, Vec<String>) {
    let res = crate::server::app(s.clone())
        .oneshot(get(path, None))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
    let cookies = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    (
        res.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_string(),
        cookies,
    )
}

#[tokio::test]
async fn without_sso_the_page_offers_passwords_only() {
    let s = state().await;
    let (status, _, body) = send(&s, get("/api/sso", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"enabled": false, "only": false}));
    let (status, _, body) = send(&s, get("/api/sso/login", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn sso_only_refuses_passwords() {
    let mut s = state().await;
    Arc::get_mut(&mut s).unwrap().sso = sso(true);
    let (_, _, body) = send(&s, get("/api/sso", None)).await;
    assert_eq!(body, json!({"enabled": true, "only": true}));
    let (status, cookie, body) = send(
        &s,
        post(
            "/api/login",
            json!({"username": "nina", "password": "a long password"}),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "sso_only");
    assert!(cookie.is_none());
}

#[tokio::test]
async fn a_sign_in_that_cannot_finish_goes_back_to_the_page_saying_why() {
    let mut s = state().await;
    Arc::get_mut(&mut s).unwrap().sso = sso(false);
    // The provider cannot be reached.
    let (to, _) = redirect(&s, "/api/sso/login").await;
    assert_eq!(to, "/console#sso=provider");
    // A state this server never gave out (or gave another browser).
    let (to, cookies) = redirect(&s, "/api/sso/callback?code=abc&state=forged").await;
    assert_eq!(to, "/console#sso=expired");
    assert!(
        cookies.iter().all(|c| !c.starts_with("carechat_session=")),
        "{cookies:?}"
    );
    // The person cancelled at the provider.
    let (to, _) = redirect(&s, "/api/sso/callback?error=access_denied&state=x").await;
    assert_eq!(to, "/console#sso=provider");
    // Nothing at all.
    let (to, _) = redirect(&s, "/api/sso/callback").await;
    assert_eq!(to, "/console#sso=expired");
}
