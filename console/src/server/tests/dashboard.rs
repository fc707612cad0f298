//! `/api/dashboard` over HTTP: JSON and CSV from the events the service
//! counted, and clear errors for a bad bucket or format.

use axum::http::StatusCode;
use store::{ActivityKind, ConversationId, NewActivity, Timestamp};

use super::{admin_cookie, get, send};

#[tokio::test]
async fn the_dashboard_answers_json_and_csv() {
    let state = super::state().await;
    let cookie = admin_cookie(&state).await;
    let now = Timestamp::now();
    let c = ConversationId::new("c1");
    for kind in [ActivityKind::Chat, ActivityKind::Escalated] {
        state
            .service
            .store
            .record_activity(NewActivity::new(now, kind, &c))
            .await
            .unwrap();
    }
    let (status, _, body) = send(
        &state,
        get("/api/dashboard?bucket=hour&offset=0", Some(&cookie)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totals"]["chats"], 1, "{body}");
    assert_eq!(body["totals"]["escalated"], 1, "{body}");
    assert_eq!(body["rows"].as_array().unwrap().len(), 25, "{body}");

    let (status, _, body) = send(
        &state,
        get("/api/dashboard?bucket=day&format=csv", Some(&cookie)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let csv = body.as_str().unwrap();
    assert!(csv.starts_with(service::dashboard::CSV_HEADER), "{csv}");
    assert_eq!(
        csv.lines().filter(|l| l.contains(",1,0,1,")).count(),
        1,
        "{csv}"
    );

    for bad in ["bucket=month", "format=xml", "from=10&to=5", "offset=90000"] {
        let (status, _, body) =
            send(&state, get(&format!("/api/dashboard?{bad}"), Some(&cookie))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}
