//! The HTTP edge: health, readiness, authentication and error shapes.

use carechat_e2e::{Patient, Server, anon_get, anon_post};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn serves_pages_and_refuses_without_a_session() {
    let server = Server::start();
    let page = ureq::get(&format!("{}/", server.base))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert!(
        page.contains("/widget.js"),
        "the demo page embeds the widget"
    );
    let widget = ureq::get(&format!("{}/widget.js", server.base))
        .call()
        .unwrap();
    assert!(
        widget.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );

    let (code, body) = anon_get(&format!("{}/api/conversations", server.base));
    assert_eq!(code, 401);
    assert_eq!(body["error"]["code"], "unauthenticated");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_is_refused_and_roles_are_checked() {
    let server = Server::start();
    server.add_user("ana", "clinician", "billing", "es", "a long password");
    server.add_user("ben", "clinician", "nursing", "en", "another password");
    let (code, body) = anon_post(
        &format!("{}/api/login", server.base),
        json!({"username": "ana", "password": "wrong password"}),
    );
    assert_eq!(code, 401);
    assert_eq!(body["error"]["code"], "bad_credentials");
    let (code, _) = anon_post(
        &format!("{}/api/login", server.base),
        json!({"username": "nobody", "password": "a long password"}),
    );
    assert_eq!(code, 401);

    // A chat ben has taken: ana can neither reply in it nor close it.
    let mut patient = Patient::connect(&server, "").await;
    patient
        .send("I need a refill of my blood pressure medication")
        .await;
    patient.next_where(|f| f["type"] == "status").await;
    let ben = server.login("ben", "another password");
    let ana = server.login("ana", "a long password");
    let path = format!("/api/conversations/{}", patient.conversation);
    assert_eq!(ben.post(&format!("{path}/take"), json!({})).0, 200);
    let (code, body) = ana.post(&format!("{path}/take"), json!({}));
    assert_eq!(code, 409, "{body}");
    assert_eq!(
        ana.post(&format!("{path}/messages"), json!({"text": "hi"}))
            .0,
        403
    );
    assert_eq!(ana.post(&format!("{path}/close"), json!({})).0, 403);
    let (code, body) = ana.get("/api/conversations/c_doesnotexist");
    assert_eq!(code, 404);
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(
        ben.post(&format!("{path}/messages"), json!({"text": ""})).0,
        400
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn patient_bad_frames_get_errors_and_the_socket_stays_open() {
    let server = Server::start();
    let mut patient = Patient::connect(&server, "").await;
    patient.send_raw("this is not json").await;
    let e = patient.next_where(|f| f["type"] == "error").await;
    assert_eq!(e["code"], "bad_frame");
    patient.send_raw(r#"{"type":"message"}"#).await;
    assert_eq!(
        patient.next_where(|f| f["type"] == "error").await["code"],
        "bad_frame"
    );
    patient.send(&"a".repeat(2001)).await;
    assert_eq!(
        patient.next_where(|f| f["type"] == "error").await["code"],
        "too_long"
    );
    patient.send("hello").await;
    patient
        .next_where(|f| f["type"] == "message" && f["from"] == "bot")
        .await;

    // Reconnecting with the resume token continues the same conversation and
    // replays it as the patient saw it.
    patient.send("my name is John Smith").await;
    patient
        .next_where(|f| f["type"] == "message" && f["from"] == "bot")
        .await;
    let mut again = Patient::connect(&server, &format!("?resume={}", patient.resume)).await;
    assert_eq!(again.conversation, patient.conversation);
    // The replay can come after a status the escalation above broadcast.
    let history = match again.frames.iter().find(|f| f["type"] == "history") {
        Some(f) => f.clone(),
        None => again.next_where(|f| f["type"] == "history").await,
    };
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"hello"), "{texts:?}");
    // The patient reads their own words back (sealed at rest, docs/data.md).
    assert!(texts.contains(&"my name is John Smith"), "{texts:?}");
    // An unknown token starts afresh.
    let other = Patient::connect(&server, &format!("?resume={}", "0".repeat(64))).await;
    assert_ne!(other.conversation, patient.conversation);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_blocks_a_spammer_who_then_cannot_chat_until_unblocked() {
    let server = Server::start();
    server.add_user("ada", "admin", "", "en", "a long password");
    let ada = server.login("ada", "a long password");
    let browser = "?fp=5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5";
    let mut spammer = Patient::connect(&server, browser).await;
    spammer
        .send("Boost your clinic's Google ranking today, reply for a free SEO audit")
        .await;
    spammer.next_where(|f| f["type"] == "message").await;

    let path = format!("/api/conversations/{}/block", spammer.conversation);
    // The reason is redacted before it is stored.
    let (code, body) = ada.post(&path, json!({"reason": "SEO pitch from John Carter"}));
    assert_eq!(code, 201, "{body}");
    let kinds: Vec<&str> = body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["fingerprint", "address"]);
    let reason = body["blocks"][0]["reason"].as_str().unwrap();
    assert!(!reason.contains("Carter"), "{reason}");
    // The open socket is told, in the clinic's words.
    let told = spammer.next_where(|f| f["type"] == "error").await;
    assert_eq!(told["code"], "sender_blocked");
    assert!(
        told["message"].as_str().unwrap().contains("call us"),
        "{told}"
    );

    // The same browser cannot come back, new chat or resumed; nor can another
    // browser from the blocked address.
    let (first, closed) = Patient::refused(&server, browser).await;
    assert_eq!(first["code"], "sender_blocked", "{first}");
    assert!(closed, "the server closes a blocked sender's socket");
    let resume = format!("?resume={}", spammer.resume);
    assert_eq!(
        Patient::refused(&server, &resume).await.0["code"],
        "sender_blocked"
    );
    assert_eq!(
        Patient::refused(&server, "?fp=99999999999999999999999999999999")
            .await
            .0["code"],
        "sender_blocked"
    );

    let (_, blocks) = ada.get("/api/blocks");
    for b in blocks["blocks"].as_array().unwrap() {
        let (code, body) = ada.delete(&format!("/api/blocks/{}", b["id"]));
        assert_eq!(code, 200, "{body}");
    }
    let again = Patient::connect(&server, browser).await;
    assert_ne!(again.conversation, spammer.conversation);

    let (code, audit) = ada.get("/api/audit");
    assert_eq!(code, 200);
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "unblock",
            "unblock",
            "block",
            "block",
            "login",
            "mfa_enroll",
            "user_add"
        ]
    );
    // Neither the patient's address nor the browser id reaches the log or
    // the audit (an entry's `address` is the staff member's own: here the
    // same loopback address, so only what an entry says is looked at).
    let log = server.log();
    assert!(!log.contains("5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5"));
    for entry in audit["entries"].as_array().unwrap() {
        let said = format!("{} {}", entry["subject"], entry["detail"]);
        assert!(!said.contains("127.0.0.1"), "{entry}");
        assert!(
            !said.contains("5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5"),
            "{entry}"
        );
    }
}

/// Issue 16, item 6: a first message that reads like spam on its words
/// alone is held for a person instead of blocked. The patient is told a
/// person will look; any staff member sees it on the held list; "not spam"
/// takes it off (audited, once), and so does taking the chat.
#[tokio::test(flavor = "multi_thread")]
async fn spam_on_its_words_alone_is_held_for_staff_not_blocked() {
    const PITCH: &str = "We will get your clinic to the first page of Google with our SEO \
                         backlinks www.rankfast.biz click here";
    let server = Server::start();
    server.add_user("ada", "admin", "front_desk", "en", "an admin password");
    server.add_user(
        "cy",
        "clinician",
        "front_desk",
        "en",
        "a clinician password",
    );
    let mut first = Patient::connect(&server, "").await;
    first.send(PITCH).await;
    let told = first.next_where(|f| f["type"] == "message").await;
    assert!(
        told["text"].as_str().unwrap().contains("will look at it"),
        "held, not blocked: {told}"
    );
    let cy = server.login("cy", "a clinician password");
    let (code, body) = cy.get("/api/held");
    assert_eq!(code, 200, "{body}");
    let held = body["held"].as_array().unwrap();
    assert_eq!(held.len(), 1, "{body}");
    assert_eq!(held[0]["conversation"], first.conversation.as_str());
    assert!(
        held[0]["messages"][0]["text"]
            .as_str()
            .unwrap()
            .contains("backlinks"),
        "{body}"
    );
    let dismiss = format!("/api/held/{}/dismiss", first.conversation);
    assert_eq!(cy.post(&dismiss, json!({})).0, 204);
    assert_eq!(cy.post(&dismiss, json!({})).0, 409, "not held any more");
    assert!(cy.get("/api/held").1["held"].as_array().unwrap().is_empty());

    // Held again in another chat, then taken by a clinician: off the list.
    let mut second = Patient::connect(&server, "").await;
    second.send(PITCH).await;
    second.next_where(|f| f["type"] == "message").await;
    let held = cy.get("/api/held").1;
    assert_eq!(
        held["held"][0]["conversation"],
        second.conversation.as_str()
    );
    let start = format!("/api/conversations/{}/start", second.conversation);
    assert_eq!(cy.post(&start, json!({})).0, 200);
    assert!(cy.get("/api/held").1["held"].as_array().unwrap().is_empty());

    let ada = server.login("ada", "an admin password");
    let audit = ada.get("/api/audit").1;
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "dismiss_held" && e["subject"] == first.conversation.as_str()),
        "{audit}"
    );
}
