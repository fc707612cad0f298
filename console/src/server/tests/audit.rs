//! The audit trail through the edge: searching by who, what and when, and
//! exporting it, the export itself on the trail.

use axum::http::{StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;

use super::{admin_cookie, get, login, send, state};

#[tokio::test]
async fn admins_and_auditors_search_and_export_the_trail() {
    let s = state().await;
    let admin = admin_cookie(&s).await;
    let nurse = login(&s).await;
    for path in ["/api/audit", "/api/audit/export?format=csv"] {
        let (status, _, _) = send(&s, get(path, Some(&nurse))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }

    let (status, _, body) = send(&s, get("/api/audit?actor=nina", Some(&admin))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entries = body["entries"].as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(entries.iter().all(|e| e["actor"] == "nina"), "{body}");
    let (_, _, body) = send(&s, get("/api/audit?action=login&limit=1", Some(&admin))).await;
    assert_eq!(body["entries"].as_array().unwrap().len(), 1);
    assert_eq!(body["entries"][0]["actor"], "nina", "newest first");
    let (_, _, body) = send(
        &s,
        get("/api/audit?since=2999-01-01T00:00:00Z", Some(&admin)),
    )
    .await;
    assert!(body["entries"].as_array().unwrap().is_empty());
    for bad in [
        "/api/audit?actor=nobody",
        "/api/audit?since=yesterday",
        "/api/audit/export?format=xlsx",
    ] {
        let (status, _, body) = send(&s, get(bad, Some(&admin))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "bad_request", "{bad}");
    }

    let res = crate::server::app(s.clone())
        .oneshot(get(
            "/api/audit/export?format=csv&action=login",
            Some(&admin),
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        res.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"carechat-audit-")
    );
    let csv = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let csv = String::from_utf8(csv.to_vec()).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "id,at,actor_id,actor,action,subject,detail,address"
    );
    assert_eq!(rows.len(), 3, "two logins: {csv}");
    assert!(rows[1].contains(",nina,login,user:nina,"), "{csv}");

    let res = crate::server::app(s.clone())
        .oneshot(get("/api/audit/export?format=jsonl", Some(&admin)))
        .await
        .unwrap();
    let jsonl = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let lines: Vec<Value> = String::from_utf8(jsonl.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The CSV export was audited before this one ran.
    assert_eq!(lines[0]["action"], "audit_export");
    assert_eq!(lines[0]["actor"], "ada");
    assert_eq!(lines[0]["detail"], "format=csv lines=2 action=login");
    let (_, _, body) = send(&s, get("/api/audit?action=audit_export", Some(&admin))).await;
    assert_eq!(body["entries"].as_array().unwrap().len(), 2);
}
