//! Accounts through the HTTP edge: the admin's user API, roles, sessions
//! ending on account changes, reads and logins on the audit trail, and a
//! console socket closing when its session ends.

use std::sync::Arc;

use axum::http::{Request, StatusCode, header};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{admin_cookie, conversation_from, delete, get, login, post, send, state};
use crate::server::AppState;

fn patch(path: &str, body: Value, cookie: &str) -> Request<axum::body::Body> {
    Request::patch(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, cookie)
        .body(axum::body::Body::from(body.to_string()))
        .unwrap()
}

async fn log_in(s: &Arc<AppState>, username: &str, password: &str) -> (StatusCode, Option<String>) {
    let (status, cookie, _) = send(
        s,
        post(
            "/api/login",
            json!({"username": username, "password": password}),
            None,
        ),
    )
    .await;
    (
        status,
        cookie.map(|c| c.split(';').next().unwrap().to_string()),
    )
}

async fn audit_actions(s: &Arc<AppState>) -> Vec<(String, String, String)> {
    let mut log = s.service.store.audit_log(100).await.unwrap();
    log.reverse();
    log.into_iter()
        .map(|e| (e.action, e.subject, e.detail))
        .collect()
}

#[tokio::test]
async fn an_admin_manages_accounts_and_changes_that_matter_end_sessions() {
    let s = state().await;
    let admin = admin_cookie(&s).await;
    let nurse = login(&s).await;

    // Only an admin manages accounts.
    let (status, _, _) = send(&s, get("/api/users", Some(&nurse))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = send(&s, get("/api/users", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A weak password is refused with the reason; no account is made.
    let new = |password: &str| {
        json!({"username": "omar", "password": password, "role": "clinician",
               "skills": "billing", "languages": "en,es:basic", "licensed_states": "CA"})
    };
    for weak in ["short one", "password1234", "omar omar omar"] {
        let (status, _, body) = send(&s, post("/api/users", new(weak), Some(&admin))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{weak}: {body}");
        assert_eq!(body["error"]["code"], "bad_request");
    }
    assert!(s.service.store.user_by_name("omar").await.is_err());
    let (status, _, body) = send(
        &s,
        post("/api/users", new("four pale ferns at dusk"), Some(&admin)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["user"]["skills"], json!(["billing"]));
    assert_eq!(body["user"]["licensed_states"], json!(["CA"]));
    assert!(body["user"].get("password_hash").is_none());
    let omar_id = body["user"]["id"].as_i64().unwrap();
    let (status, _, _) = send(
        &s,
        post("/api/users", new("another fine password"), Some(&admin)),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "the name is taken");

    let (status, omar) = log_in(&s, "omar", "four pale ferns at dusk").await;
    assert_eq!(status, StatusCode::OK);
    let omar = omar.unwrap();

    // A new skill leaves the session alone; a new role ends it.
    let (status, _, body) = send(
        &s,
        patch(
            &format!("/api/users/{omar_id}"),
            json!({"skills": "billing,records", "max_chats": 2}),
            &admin,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["max_chats"], 2);
    assert_eq!(
        send(&s, get("/api/me", Some(&omar))).await.0,
        StatusCode::OK
    );
    let (status, _, body) = send(
        &s,
        patch(
            &format!("/api/users/{omar_id}"),
            json!({"role": "owner"}),
            &admin,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, _) = send(
        &s,
        patch(
            &format!("/api/users/{omar_id}"),
            json!({"role": "auditor"}),
            &admin,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        send(&s, get("/api/me", Some(&omar))).await.0,
        StatusCode::UNAUTHORIZED,
        "a new role ends the session"
    );

    // An auditor reads the audit trail and never a chat.
    let (_, omar) = log_in(&s, "omar", "four pale ferns at dusk").await;
    let omar = omar.unwrap();
    conversation_from(&s, "c1", "0123456789abcdef0123456789abcdef", "203.0.113.9").await;
    assert_eq!(
        send(&s, get("/api/audit", Some(&omar))).await.0,
        StatusCode::OK
    );
    for path in [
        "/api/conversations",
        "/api/conversations/c1",
        "/api/held",
        "/api/team",
    ] {
        let (status, _, body) = send(&s, get(path, Some(&omar))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    let (status, _, _) = send(
        &s,
        post(
            "/api/me/status",
            json!({"status": "available"}),
            Some(&omar),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an auditor takes no chats");

    // Disabled: the session ends and logging in fails like a wrong password.
    let (status, _, body) = send(
        &s,
        post(
            &format!("/api/users/{omar_id}/disable"),
            json!({}),
            Some(&admin),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["user"]["disabled_at"].is_string());
    assert_eq!(
        send(&s, get("/api/me", Some(&omar))).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = log_in(&s, "omar", "four pale ferns at dusk").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    send(
        &s,
        post(
            &format!("/api/users/{omar_id}/enable"),
            json!({}),
            Some(&admin),
        ),
    )
    .await;
    assert_eq!(
        log_in(&s, "omar", "four pale ferns at dusk").await.0,
        StatusCode::OK
    );

    // An admin's reset ends the sessions; the old password no longer works.
    let (status, _, _) = send(
        &s,
        post(
            &format!("/api/users/{omar_id}/password"),
            json!({"password": "a quite new passphrase"}),
            Some(&admin),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        log_in(&s, "omar", "four pale ferns at dusk").await.0,
        StatusCode::UNAUTHORIZED
    );

    // Removed: gone from the list, never back.
    let (status, _, _) = send(&s, delete(&format!("/api/users/{omar_id}"), &admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        log_in(&s, "omar", "a quite new passphrase").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, _, body) = send(&s, get("/api/users", Some(&admin))).await;
    let names: Vec<&str> = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["nina", "ada"]);
    let (status, _, _) = send(
        &s,
        post(
            &format!("/api/users/{omar_id}/enable"),
            json!({}),
            Some(&admin),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The last admin cannot lock everyone out.
    let ada = s.service.store.user_by_name("ada").await.unwrap().id;
    for req in [
        post(
            &format!("/api/users/{ada}/disable"),
            json!({}),
            Some(&admin),
        ),
        delete(&format!("/api/users/{ada}"), &admin),
        patch(
            &format!("/api/users/{ada}"),
            json!({"role": "clinician"}),
            &admin,
        ),
    ] {
        let (status, _, body) = send(&s, req).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
    }

    // Every change is on the trail, under the admin's name, with no secret.
    let trail = audit_actions(&s).await;
    let actions: Vec<&str> = trail
        .iter()
        .filter(|(_, subject, _)| subject == "user:omar")
        .map(|(a, _, _)| a.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "user_add",
            "login",
            "user_change",
            "user_change",
            "login",
            "user_disable",
            "login_failed",
            "user_enable",
            "login",
            "password_reset",
            "login_failed",
            "user_remove",
            "login_failed",
        ]
    );
    assert!(
        trail
            .iter()
            .any(|(a, _, d)| a == "user_change" && d.contains("role=clinician->auditor"))
    );
    let text = format!("{trail:?}");
    for secret in ["four pale ferns", "quite new passphrase", "password1234"] {
        assert!(!text.contains(secret), "{secret} reached the audit trail");
    }
    assert_eq!(s.service.store.verify_audit().await.unwrap().broken, None);
}

#[tokio::test]
async fn logins_and_reads_are_audited_without_what_was_typed() {
    let s = state().await;
    for (name, password) in [("nina", "wrong guess here"), ("my secret pass", "x")] {
        let (status, _) = log_in(&s, name, password).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let nurse = login(&s).await;
    conversation_from(&s, "c1", "0123456789abcdef0123456789abcdef", "203.0.113.9").await;
    // The bot still has c1: not hers to see without saying why.
    let (status, _, body) = send(&s, get("/api/conversations/c1", Some(&nurse))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "break_glass_required");
    let (status, _, body) = send(
        &s,
        get(
            "/api/conversations/c1?reason=the%20patient%20phoned%20about%20it",
            Some(&nurse),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["conversation"]["id"], "c1");
    assert!(body["messages"].is_array() && body["notes"].is_array());
    let (status, _, _) = send(&s, get("/api/conversations/nope", Some(&nurse))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = send(&s, post("/api/logout", json!({}), Some(&nurse))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let trail = audit_actions(&s).await;
    let nina = s.service.store.user_by_name("nina").await.unwrap();
    assert_eq!(
        trail,
        [
            (
                "login_failed".into(),
                "user:nina".into(),
                "wrong password".into()
            ),
            (
                "login_failed".into(),
                String::new(),
                "unknown login name".into()
            ),
            ("login".into(), "user:nina".into(), String::new()),
            (
                "break_glass".into(),
                "c1".into(),
                "the patient phoned about it".into()
            ),
            ("read".into(), "c1".into(), "bot".into()),
            ("logout".into(), "user:nina".into(), String::new()),
        ]
    );
    let read = &s.service.store.audit_log(10).await.unwrap()[1];
    assert_eq!(
        (read.action.as_str(), read.actor_id),
        ("read", Some(nina.id)),
        "who read it"
    );
    let text = format!("{trail:?}");
    assert!(!text.contains("my secret pass") && !text.contains("wrong guess"));
}

#[tokio::test]
async fn users_change_their_own_password_and_other_sessions_end() {
    let s = state().await;
    let first = login(&s).await;
    let second = login(&s).await;
    let change = |current: &str, new: &str| {
        post(
            "/api/me/password",
            json!({"current": current, "new": new}),
            Some(&first),
        )
    };
    let (status, _, body) = send(&s, change("not my password", "a fresh long secret")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _, body) = send(&s, change("a long password", "nina1234nina")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, cookie, body) = send(&s, change("a long password", "a fresh long secret")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fresh = cookie.unwrap().split(';').next().unwrap().to_string();
    assert_eq!(
        send(&s, get("/api/me", Some(&fresh))).await.0,
        StatusCode::OK
    );
    for old in [&first, &second] {
        assert_eq!(
            send(&s, get("/api/me", Some(old))).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        log_in(&s, "nina", "a fresh long secret").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_console_socket_closes_when_its_session_ends() {
    let s = state().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = crate::server::app(s.clone());
    tokio::spawn(crate::server::listen::serve(
        listener,
        app,
        std::time::Duration::from_secs(10),
        None,
        crate::server::Drain::default(),
        std::future::pending(),
    ));

    for end in ["logout", "disable"] {
        let nurse = login(&s).await;
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                format!("ws://{addr}/ws/clinician"),
            )
            .unwrap();
        request
            .headers_mut()
            .insert(header::COOKIE, nurse.parse().unwrap());
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        // The console's first frame: it is open.
        let hello = socket.next().await.unwrap().unwrap();
        assert!(hello.to_text().unwrap().contains("\"hello\""), "{hello}");
        match end {
            "logout" => {
                let (status, _, _) = send(&s, post("/api/logout", json!({}), Some(&nurse))).await;
                assert_eq!(status, StatusCode::NO_CONTENT);
            }
            _ => {
                let nina = s.service.store.user_by_name("nina").await.unwrap();
                s.service
                    .staff
                    .set_disabled(None, nina.id, true)
                    .await
                    .unwrap();
            }
        }
        // The server closes it, saying why; the bound only stops a broken
        // build from hanging the suite (the check runs every second).
        let close = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while let Some(frame) = socket.next().await {
                if let Ok(tokio_tungstenite::tungstenite::Message::Close(c)) = frame {
                    return c;
                }
            }
            None
        })
        .await
        .expect("the socket closes after the session ends")
        .expect("a close frame");
        assert_eq!(
            u16::from(close.code),
            super::super::api::SESSION_ENDED,
            "{end}"
        );
        if end == "disable" {
            let nina = s.service.store.user_by_name("nina").await.unwrap();
            s.service
                .staff
                .set_disabled(None, nina.id, false)
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn wrong_passwords_lock_an_account_until_an_admin_unlocks_it() {
    let s = state().await;
    let admin = admin_cookie(&s).await;
    for _ in 0..service::accounts::LOCK_AFTER {
        let (status, _) = log_in(&s, "nina", "not her password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Locked: even the right password is refused, saying so and for how long.
    let res = crate::server::app(s.clone())
        .oneshot(post(
            "/api/login",
            json!({"username": "nina", "password": "a long password"}),
            None,
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::LOCKED);
    let retry: u64 = res.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        retry > 60 && retry <= service::accounts::LOCK_SECS as u64,
        "{retry}"
    );
    let nina = s.service.store.user_by_name("nina").await.unwrap();
    let (_, _, body) = send(&s, get("/api/users", Some(&admin))).await;
    assert!(body["users"][0]["locked_until"].is_string(), "{body}");
    let (status, _, _) = send(
        &s,
        post(
            &format!("/api/users/{}/unlock", nina.id),
            json!({}),
            Some(&admin),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        log_in(&s, "nina", "a long password").await.0,
        StatusCode::OK
    );
    let trail = audit_actions(&s).await;
    let nina_lines: Vec<(&str, &str)> = trail
        .iter()
        .filter(|(_, subject, _)| subject == "user:nina")
        .map(|(a, _, d)| (a.as_str(), d.as_str()))
        .collect();
    assert_eq!(nina_lines[4], ("login_failed", "wrong password"));
    assert_eq!(nina_lines[5], ("user_locked", "failed_logins=5"));
    assert_eq!(nina_lines[6], ("login_failed", "locked"));
    assert_eq!(nina_lines[7].0, "user_unlock");
    assert_eq!(nina_lines[8].0, "login");
}

#[tokio::test]
async fn one_address_cannot_flood_the_login() {
    let s = state().await;
    let burst = service::accounts::LOGINS_PER_ADDRESS.burst;
    let started = std::time::Instant::now();
    for i in 0..burst {
        let (status, _) = log_in(&s, &format!("guess{i}"), "some password here").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // The bucket refills one attempt every 5 s of the wall clock, and the
    // burst itself takes seconds on a busy machine: as many attempts as
    // have refilled may still pass, and the next is refused.
    let mut passed = 0;
    let res = loop {
        let r = crate::server::app(s.clone())
            .oneshot(post(
                "/api/login",
                json!({"username": "nina", "password": "a long password"}),
                None,
            ))
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            break r;
        }
        assert_eq!(r.status(), StatusCode::OK);
        passed += 1;
        assert!(
            passed <= started.elapsed().as_secs() / 5 + 1,
            "{passed} attempts passed past the burst, more than refilled"
        );
    };
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key(header::RETRY_AFTER));
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
}
