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

/// `req` as if it came from `ip` (what the accept loop tells each request).
fn from(
    ip: &str,
    mut req: axum::http::Request<axum::body::Body>,
) -> axum::http::Request<axum::body::Body> {
    let peer: std::net::SocketAddr = format!("{ip}:40000").parse().unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    req
}

#[tokio::test]
async fn what_staff_do_to_a_chat_is_on_the_trail_with_their_address() {
    let s = state().await;
    let admin = admin_cookie(&s).await;
    super::conversation_from(
        &s,
        "c_addr",
        "0123456789abcdef0123456789abcdef",
        "203.0.113.4",
    )
    .await;
    let ip = "198.51.100.7";
    let json = serde_json::json!({});
    for (path, want) in [
        ("/api/conversations/c_addr/start", StatusCode::OK),
        ("/api/conversations/c_addr/close", StatusCode::OK),
        ("/api/conversations/c_addr/block", StatusCode::CREATED),
    ] {
        let (status, _, body) =
            send(&s, from(ip, super::post(path, json.clone(), Some(&admin)))).await;
        assert_eq!(status, want, "{path}: {body}");
    }
    let (_, _, body) = send(&s, get("/api/blocks", Some(&admin))).await;
    let block = body["blocks"][0]["id"].as_i64().unwrap();
    let (status, _, _) = send(
        &s,
        from(ip, super::delete(&format!("/api/blocks/{block}"), &admin)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (_, _, body) = send(&s, get("/api/audit?actor=ada", Some(&admin))).await;
    let lines: Vec<(&str, Option<&str>)> = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["address"].as_str()))
        .filter(|(a, _)| ["start", "close", "block", "unblock"].contains(a))
        .collect();
    assert_eq!(
        lines,
        [
            ("unblock", Some(ip)),
            ("block", Some(ip)),
            ("block", Some(ip)),
            ("close", Some(ip)),
            ("start", Some(ip)),
        ],
        "{body}"
    );
}
