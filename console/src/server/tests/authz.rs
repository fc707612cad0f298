//! The authorization matrix: every route the router registers
//! (`route_table`, not a hand list), called by each kind of caller, against
//! the table in docs/security.md ("Who may call what"). A route missing
//! from the table, a row for a route that does not exist, or a cell that
//! differs fails the test.
//!
//! Each call runs in a fresh clinic, so that one call's effect (a close, a
//! removal) cannot change the next one's answer. The scenario is the one
//! the table's heading describes.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Method, Request, header};
use serde_json::{Value, json};
use service::tokens::{Secret, token_hash};
use store::{ConversationId, NewConversation, NewUser, Role, Timestamp, User, UserUpdate};

use super::send;
use crate::server::AppState;

const DOC: &str = include_str!("../../../../docs/security.md");
const PASSWORD: &str = "matrix password one";
const PERSONAS: [&str; 6] = [
    "anonymous",
    "holder",
    "colleague",
    "admin",
    "auditor",
    "disabled",
];

/// One argon2 hash for every account: hashing is the slow part.
fn hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| service::accounts::hash_password(&Secret(PASSWORD.into())).unwrap())
        .clone()
}

struct Clinic {
    state: Arc<AppState>,
    colleague: User,
}

/// Hana holds `c1` (a billing chat she started); Oleg is a colleague with
/// the same skill; Ada is the admin, Otto the auditor; Dora's account is
/// disabled after she signed in.
async fn clinic() -> Clinic {
    let state = super::state().await;
    let store = &state.service.store;
    let mut users = BTreeMap::new();
    for (name, role) in [
        ("hana", Role::Clinician),
        ("oleg", Role::Clinician),
        ("ada", Role::Admin),
        ("otto", Role::Auditor),
        ("dora", Role::Clinician),
    ] {
        let user = store
            .create_user(NewUser {
                username: name.into(),
                display_name: name.into(),
                role,
                password_hash: hash(),
                skills: vec!["billing".into()],
                languages: vec!["en".into()],
                max_chats: 4,
                licensed_states: vec![],
            })
            .await
            .unwrap();
        let now = Timestamp::now();
        store
            .create_session(&token_hash(name), user.id, now, now.plus_secs(3600))
            .await
            .unwrap();
        users.insert(name, user);
    }
    store
        .update_user(
            users["dora"].id,
            UserUpdate {
                disabled: Some(true),
                ..UserUpdate::default()
            },
        )
        .await
        .unwrap();
    let c1 = ConversationId::new("c1");
    store
        .create_conversation(NewConversation::new(c1.clone(), "r1"))
        .await
        .unwrap();
    state
        .service
        .start_chat(&c1, &users["hana"], Some("set up for the matrix"), None)
        .await
        .unwrap();
    // Left message 1: contact details in Hana's chat.
    store
        .add_form(store::NewPatientForm {
            conversation_id: c1.clone(),
            kind: store::FormKind::Contact,
            fields: [("channel".to_string(), "phone".to_string())].into(),
            original: None,
        })
        .await
        .unwrap();
    // File 1: a photo the patient sent in Hana's chat.
    store
        .add_file(
            store::NewFile {
                conversation_id: c1.clone(),
                sender: store::Sender::Patient,
                user_id: None,
                name: "photo.png".into(),
                kind: "png".into(),
                width: Some(1),
                height: Some(1),
                pages: None,
                scanned: false,
                data: b"pixels".to_vec(),
            },
            store::NewMessage::plain(
                c1.clone(),
                store::Sender::Patient,
                None,
                "📎 photo.png".into(),
            ),
            None,
        )
        .await
        .unwrap();
    // Canned reply 1, shared.
    state
        .service
        .add_canned_reply(
            &users["ada"],
            service::canned::CannedInput {
                shared: true,
                language: "en".into(),
                title: "Hours".into(),
                body: "We open at 8.".into(),
            },
            None,
        )
        .await
        .unwrap();
    Clinic {
        colleague: users["oleg"].clone(),
        state,
    }
}

fn cookie(persona: &str) -> Option<String> {
    let name = match persona {
        "anonymous" => return None,
        "holder" => "hana",
        "colleague" => "oleg",
        "admin" => "ada",
        "auditor" => "otto",
        "disabled" => "dora",
        other => panic!("{other}"),
    };
    Some(format!("carechat_session={name}"))
}

/// A body each route accepts, so that what is measured is who may call it,
/// not whether the body parses.
fn body(method: &Method, path: &str) -> Option<Value> {
    if method == Method::GET || method == Method::DELETE {
        return None;
    }
    Some(match path {
        "/api/login" => json!({"username": "hana", "password": PASSWORD}),
        "/api/me/password" => json!({"current": PASSWORD, "new": "a second matrix password"}),
        "/api/me/status" => json!({"status": "busy"}),
        "/api/users" => {
            json!({"username": "nell", "password": "a long new password", "role": "clinician"})
        }
        "/api/users/{id}" => json!({"max_chats": 3}),
        "/api/users/{id}/password" => json!({"password": "a reset matrix password"}),
        "/api/conversations/{id}/messages" | "/api/team/{user}" => json!({"text": "hello"}),
        "/api/conversations/{id}/transfer" => json!({"to": {"skill": "billing"}}),
        "/api/me/mfa/confirm" => json!({"code": "123456"}),
        "/api/transcript" | "/api/reply/code" => json!({"link": "0".repeat(64)}),
        "/api/reply" => json!({"link": "0".repeat(64), "code": "123456"}),
        "/api/whitelist/draft/intents/{id}" => json!({
            "title": "Parking", "skill": "front_desk",
            "examples": ["where can I park"], "replies": {"en": "Behind the building."}
        }),
        "/api/whitelist/draft/messages" => json!({
            "welcome": {"en": "Hi"}, "escalate": {"en": "A person will help"},
            "queued": {"en": "You are number {position}"}, "assigned": {"en": "{name} joined"},
            "closed": {"en": "Closed"}, "blocked": {"en": "Blocked"}, "offline": {"en": "Offline"}
        }),
        "/api/whitelist/draft/tests" => json!({"cases": []}),
        "/api/whitelist/rollback" => json!({"version": 1}),
        "/api/me/push" => json!({
            "endpoint": "https://push.example/matrix",
            "keys": {
                "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
                "auth": "BTBZMqHH6r4Tts7J_aSIgg"
            }
        }),
        "/api/me/push/remove" => json!({"endpoint": "https://push.example/matrix"}),
        "/api/whitelist/draft/try" => json!({"text": "when do you open"}),
        "/api/canned" => json!({"language": "en", "title": "Mine", "body": "Thank you."}),
        "/api/canned/{id}" => {
            json!({"shared": true, "language": "en", "title": "Hours", "body": "We open at 9."})
        }
        _ => json!({}),
    })
}

/// What a caller got: `ok` for a success, `reason` for break-glass, else
/// the status code.
fn outcome(status: u16, body: &Value) -> String {
    match status {
        200..=299 => "ok".into(),
        403 if body["error"]["code"] == "break_glass_required" => "reason".into(),
        s => s.to_string(),
    }
}

async fn call(method: &Method, path: &str, persona: &str) -> String {
    let clinic = clinic().await;
    let concrete = path
        .replace(
            "{id}",
            if path.starts_with("/api/users") {
                "USER"
            } else if path.starts_with("/api/blocks")
                || path.starts_with("/api/canned")
                || path.starts_with("/api/left-messages")
                || path.contains("/files/")
            {
                "1"
            } else {
                "c1"
            },
        )
        .replace("USER", &clinic.colleague.id.to_string())
        .replace("{user}", &clinic.colleague.id.to_string())
        .replace("{message}", "1");
    // The export's one required parameter.
    let concrete = if path == "/api/audit/export" {
        format!("{concrete}?format=csv")
    } else {
        concrete
    };
    let mut req = Request::builder().method(method.clone()).uri(&concrete);
    if let Some(c) = cookie(persona) {
        req = req.header(header::COOKIE, c);
    }
    let req = match body(method, path) {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let (status, _, body) = send(&clinic.state, req).await;
    outcome(status.as_u16(), &body)
}

/// The doc's table: "METHOD PATH" to the expected outcome per persona.
pub(super) fn documented() -> BTreeMap<String, Vec<String>> {
    let section = DOC
        .split("\n## Who may call what")
        .nth(1)
        .expect("docs/security.md has a \"Who may call what\" section");
    let section = section.split("\n## ").next().unwrap();
    let mut rows = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().trim_matches('`').to_string())
            .collect();
        assert_eq!(cells.len(), 1 + PERSONAS.len(), "{line}");
        assert!(
            rows.insert(cells[0].clone(), cells[1..].to_vec()).is_none(),
            "{} is in the table twice",
            cells[0]
        );
    }
    rows
}

#[tokio::test]
async fn every_route_answers_each_caller_as_the_security_doc_says() {
    let table = documented();
    let routes = crate::server::route_table();
    let mut differences = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (method, path) in &routes {
        let key = format!("{method} {path}");
        seen.insert(key.clone());
        let Some(expected) = table.get(&key) else {
            // What it answers now, as a row to check and add.
            let mut row = format!("| `{key}` |");
            for persona in PERSONAS {
                row.push_str(&format!(" {} |", call(method, path, persona).await));
            }
            differences.push(format!("{key}: not in docs/security.md; it answers {row}"));
            continue;
        };
        for (persona, want) in PERSONAS.iter().zip(expected) {
            let got = call(method, path, persona).await;
            if &got != want {
                differences.push(format!(
                    "{key} as {persona}: got {got}, the doc says {want}"
                ));
            }
        }
    }
    for key in table.keys().filter(|k| !seen.contains(*k)) {
        differences.push(format!("{key}: in docs/security.md but not a route"));
    }
    assert!(differences.is_empty(), "\n{}", differences.join("\n"));
    assert!(
        routes.len() >= 40,
        "the table walked {} routes",
        routes.len()
    );
}
