//! Two-factor sign-in through the edge: an admin cannot sign in without
//! it, a code works once, a recovery code works once, a clinician enrols
//! from the console, and an admin turns it off for a lost phone.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Value, json};
use service::totp;
use store::{NewUser, Role};

use super::{admin_cookie, login, post, send, state, totp_now};
use crate::server::AppState;

async fn sign_in(
    s: &Arc<AppState>,
    user: &str,
    password: &str,
    code: Option<&str>,
) -> (StatusCode, Value) {
    let mut body = json!({"username": user, "password": password});
    if let Some(c) = code {
        body["totp"] = json!(c);
    }
    let (status, _, body) = send(s, post("/api/login", body, None)).await;
    (status, body)
}

#[tokio::test]
async fn an_admin_needs_a_second_factor_and_each_code_works_once() {
    let s = state().await;
    s.service
        .store
        .create_user(NewUser {
            username: "ada".into(),
            display_name: "Ada".into(),
            role: Role::Admin,
            password_hash: service::accounts::hash_password(&service::tokens::Secret(
                "another long password".into(),
            ))
            .unwrap(),
            skills: vec![],
            languages: vec!["en".into()],
            max_chats: 4,
            licensed_states: vec![],
        })
        .await
        .unwrap();
    // Not enrolled: the right password is not enough, and she is told how.
    let (status, body) = sign_in(&s, "ada", "another long password", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "mfa_required");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mfa enroll")
    );

    let user = s.service.store.user_by_name("ada").await.unwrap();
    let e = s.service.staff.enroll_mfa(None, user.id).await.unwrap();
    assert!(e.uri.starts_with("otpauth://totp/Carechat:ada?secret="));
    assert_eq!(e.recovery_codes.len(), 10);
    let secret = totp::from_base32(&e.secret).unwrap();
    // The secret is not in the database as typed.
    let sealed = s
        .service
        .store
        .user(user.id)
        .await
        .unwrap()
        .totp_secret
        .unwrap();
    assert!(!sealed.contains(&hex::encode(&secret)));

    let (status, body) = sign_in(&s, "ada", "another long password", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("mfa_required"))
    );
    let (status, _) = sign_in(&s, "ada", "another long password", Some("000000")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let code = totp_now(&secret);
    let (status, body) = sign_in(&s, "ada", "another long password", Some(&code)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = sign_in(&s, "ada", "another long password", Some(&code)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a code works once");
    // A code with the wrong password is no use either.
    let (status, body) = sign_in(&s, "ada", "wrong long password", Some(&code)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_credentials"))
    );

    // A recovery code, typed loosely, works once.
    let recovery = e.recovery_codes[3].to_lowercase().replace('-', " ");
    let (status, body) = sign_in(&s, "ada", "another long password", Some(&recovery)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = sign_in(&s, "ada", "another long password", Some(&recovery)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let log = s.service.store.audit_log(20).await.unwrap();
    let what: Vec<(&str, &str)> = log
        .iter()
        .rev()
        .map(|e| (e.action.as_str(), e.detail.as_str()))
        .collect();
    assert!(what.contains(&("login_failed", "two-factor sign-in not set up")));
    assert!(what.contains(&("login_failed", "wrong second factor")));
    assert!(what.contains(&("mfa_recovery_used", "left=9")));
    let text = format!("{log:?}");
    assert!(!text.contains(&code) && !text.contains(&e.recovery_codes[3]));
}

#[tokio::test]
async fn a_clinician_enrols_from_the_console_and_an_admin_resets_it() {
    let s = state().await;
    let admin = admin_cookie(&s).await;
    let nurse = login(&s).await;
    let (status, _, body) = send(&s, post("/api/me/mfa", json!({}), Some(&nurse))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let secret = totp::from_base32(body["secret"].as_str().unwrap()).unwrap();
    assert!(body["uri"].as_str().unwrap().contains("Carechat:nina"));
    let qr = body["qr_svg"].as_str().unwrap();
    assert!(qr.contains("<svg") && qr.contains("</svg>"), "{qr}");
    // Proposed only: signing in still needs no code.
    let (status, _) = sign_in(&s, "nina", "a long password", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = send(
        &s,
        post(
            "/api/me/mfa/confirm",
            json!({"code": "123456"}),
            Some(&nurse),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, body) = send(
        &s,
        post(
            "/api/me/mfa/confirm",
            json!({"code": totp_now(&secret)}),
            Some(&nurse),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["recovery_codes"].as_array().unwrap().len(), 10);
    // On: a code is needed now.
    let (status, body) = sign_in(&s, "nina", "a long password", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("mfa_required"))
    );
    let nina = s.service.store.user_by_name("nina").await.unwrap();
    let (_, _, body) = send(&s, super::get("/api/users", Some(&admin))).await;
    let row = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "nina")
        .unwrap()
        .clone();
    assert_eq!(row["mfa"], true);
    // A lost phone: the admin turns it off.
    let (status, _, _) = send(
        &s,
        post(
            &format!("/api/users/{}/mfa/reset", nina.id),
            json!({}),
            Some(&admin),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = sign_in(&s, "nina", "a long password", None).await;
    assert_eq!(status, StatusCode::OK);
}
