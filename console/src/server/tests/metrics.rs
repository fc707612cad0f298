//! `/metrics`: Prometheus text for the machine itself or a scraper with the
//! token, `403` for anyone else; a patient's message shows up in it by what
//! the bot did, and nothing of what they wrote does.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, header};
use tower::ServiceExt;

use crate::server::app;

async fn scrape(from: &str, bearer: Option<&str>) -> (u16, String) {
    let state = super::state().await;
    let mut req = Request::get("/metrics");
    if let Some(token) = bearer {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let mut req = req.body(Body::empty()).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(from.parse::<SocketAddr>().unwrap()));
    let res = app(state).oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn metrics_are_for_the_machine_itself_or_a_scraper_with_the_token() {
    crate::server::metrics::handle();
    // What the conversation core counts, through the same facade.
    service::metrics::patient_message(bot_engine::Action::Answer);
    service::metrics::published(false);
    let (status, text) = scrape("127.0.0.1:40000", None).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("carechat_patient_messages_total{action=\"answer\"}"),
        "{text}"
    );
    assert!(text.contains("carechat_whitelist_publishes_total{outcome=\"refused\"}"));
    assert_eq!(scrape("10.1.2.3:40000", None).await.0, 403);
    assert_eq!(scrape("10.1.2.3:40000", Some("wrong token!!")).await.0, 403);
    assert_eq!(scrape("10.1.2.3:40000", Some("scraper token")).await.0, 200);
}
