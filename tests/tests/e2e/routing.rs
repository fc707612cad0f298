//! Routing through the real server: skills and languages, the fallback when
//! a clinician steps away, the offline contact form, transfers with staff
//! notes, chats a clinician starts, and team chat.

use std::time::{Duration, Instant};

use carechat_e2e::{Clinician, Patient, Server};
use serde_json::{Value, json};

fn from(frame: &Value, who: &str) -> bool {
    frame["type"] == "message" && frame["from"] == who
}

fn available(c: &Clinician) {
    let (code, body) = c.post("/api/me/status", json!({"status": "available"}));
    assert_eq!(code, 200, "{body}");
}

fn my_id(c: &Clinician) -> i64 {
    c.get("/api/me").1["user"]["id"].as_i64().unwrap()
}

/// A Spanish-speaking patient asks about a bill, then for a person.
async fn spanish_billing_patient(server: &Server) -> Patient {
    let mut patient = Patient::connect(server, "?lang=es-ES").await;
    patient.send("Tengo una pregunta sobre mi factura.").await;
    let reply = patient.next_where(|f| from(f, "bot")).await;
    assert!(
        reply["text"].as_str().unwrap().contains("facturación"),
        "not the Spanish billing reply: {reply}"
    );
    patient.send("¿Puedo hablar con una persona?").await;
    patient
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spanish_billing_question_reaches_the_spanish_billing_clinician_then_the_fallback() {
    let server = Server::start_with(&[("CARECHAT_ROUTING__FALLBACK_WAIT_SECS", "3")]);
    server.add_user("ana", "clinician", "billing", "es", "a long password");
    server.add_user("ben", "clinician", "front_desk", "en", "a long password");
    let ana = server.login("ana", "a long password");
    let ben = server.login("ben", "a long password");
    available(&ana);
    available(&ben);

    let mut first = spanish_billing_patient(&server).await;
    let status = first.next_where(|f| f["type"] == "status").await;
    assert_eq!(status["state"], "assigned", "{:#?}", first.frames);
    assert_eq!(
        status["clinician"], "ana",
        "the billing chat in Spanish goes to ana"
    );

    // Ana steps away: the next billing chat waits for a biller, then the
    // front desk (billing's fallback) takes it.
    let (code, body) = ana.post("/api/me/status", json!({"status": "away"}));
    assert_eq!(code, 200, "{body}");
    let mut second = spanish_billing_patient(&server).await;
    let waiting = second.next_where(|f| f["type"] == "status").await;
    assert_eq!(waiting["state"], "queued", "{:#?}", second.frames);
    assert_eq!(waiting["position"], 1);
    let queued_at = Instant::now();
    let assigned = second
        .next_where(|f| f["type"] == "status" && f["state"] == "assigned")
        .await;
    assert_eq!(assigned["clinician"], "ben");
    assert!(
        queued_at.elapsed() >= Duration::from_millis(1500),
        "it went to the fallback without waiting for a biller"
    );
    // The whisper says which language the patient writes and what they need.
    let (_, conv) = ben.get(&format!("/api/conversations/{}", second.conversation));
    let whisper = &conv["conversation"]["whisper"];
    assert_eq!(whisper["language"], "es", "{whisper}");
    assert_eq!(conv["conversation"]["assigned_name"], "ben");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_nobody_online_the_patient_leaves_a_message_for_staff() {
    let server = Server::start();
    server.add_user("nina", "clinician", "nursing", "en", "a long password");
    let mut patient = Patient::connect(&server, "?lang=en-US").await;
    patient
        .send("I need my lab test results from last week")
        .await;
    let status = patient.next_where(|f| f["type"] == "status").await;
    assert_eq!(status["state"], "offline", "{:#?}", patient.frames);
    let notice = patient.next_where(|f| from(f, "system")).await;
    assert!(
        notice["text"]
            .as_str()
            .unwrap()
            .contains("leave your question"),
        "{notice}"
    );
    patient.send("It was a blood test on Monday").await;

    // The message is kept and listed for staff, who pick it up by hand.
    let nina = server.login("nina", "a long password");
    let (_, list) = nina.get("/api/conversations");
    let mine = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == patient.conversation.as_str())
        .cloned()
        .expect("the left message is listed");
    assert_eq!(mine["offline"], true);
    assert_eq!(mine["position"], Value::Null, "not in the router's queue");
    // Nothing answers the second message, so wait for it to be stored.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, conv) = nina.get(&format!("/api/conversations/{}", patient.conversation));
        let texts: Vec<String> = conv["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["from"] == "patient")
            .map(|m| m["text"].as_str().unwrap().to_string())
            .collect();
        if texts.len() == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second message was not kept: {texts:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let path = format!("/api/conversations/{}/take", patient.conversation);
    let (code, body) = nina.post(&path, json!({}));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["conversation"]["offline"], false);
    let status = patient
        .next_where(|f| f["type"] == "status" && f["state"] == "assigned")
        .await;
    assert_eq!(status["clinician"], "nina");
}

#[tokio::test(flavor = "multi_thread")]
async fn transfer_with_a_staff_note_start_a_chat_and_team_chat() {
    let server = Server::start();
    server.add_user("ana", "clinician", "front_desk", "en", "a long password");
    server.add_user("ben", "clinician", "billing", "en", "a long password");
    let ana = server.login("ana", "a long password");
    let ben = server.login("ben", "a long password");
    available(&ana);
    let ben_id = my_id(&ben);

    let mut patient = Patient::connect(&server, "?lang=en-US").await;
    patient.send("Can I talk to a real person?").await;
    let status = patient.next_where(|f| f["type"] == "status").await;
    assert_eq!(status["clinician"], "ana", "{:#?}", patient.frames);
    let base = format!("/api/conversations/{}", patient.conversation);

    // Only the clinician who has the chat may hand it on.
    let (code, _) = ben.post(
        &format!("{base}/transfer"),
        json!({"to": {"skill": "billing"}}),
    );
    assert_eq!(code, 403);
    let note = "Asked about a charge from Dr. Alvarez, see statement";
    let (code, body) = ana.post(
        &format!("{base}/transfer"),
        json!({"to": {"clinician": ben_id}, "note": note}),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["conversation"]["assigned_name"], "ben");
    let status = patient
        .next_where(|f| f["type"] == "status" && f["clinician"] == "ben")
        .await;
    assert_eq!(status["state"], "assigned");
    // The note is for staff, redacted; the patient never sees it.
    let (_, conv) = ben.get(&base);
    let notes = conv["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{conv}");
    let stored = notes[0]["text"].as_str().unwrap();
    assert!(
        stored.contains("charge") && !stored.contains("Alvarez"),
        "{stored}"
    );
    patient.next_where(|f| from(f, "system")).await;
    assert!(
        !patient
            .frames
            .iter()
            .any(|f| f.to_string().contains("statement")),
        "the note reached the patient"
    );
    let (code, _) = ana.post(&format!("{base}/messages"), json!({"text": "hi"}));
    assert_eq!(code, 403, "ana no longer has the chat");

    // Ben hands it to the front desk as a group: it goes to ana, who is
    // available there, not back to ben.
    let (code, body) = ben.post(
        &format!("{base}/transfer"),
        json!({"to": {"skill": "front_desk"}}),
    );
    assert_eq!(code, 200, "{body}");
    let status = patient
        .next_where(|f| f["type"] == "status" && f["clinician"] == "ana")
        .await;
    assert_eq!(status["state"], "assigned");
    let (code, _) = ben.post(
        &format!("{base}/transfer"),
        json!({"to": {"skill": "astrology"}}),
    );
    assert_eq!(code, 403, "ben no longer has it");
    let (code, body) = ana.post(
        &format!("{base}/transfer"),
        json!({"to": {"skill": "astrology"}}),
    );
    assert_eq!(code, 400, "no such skill: {body}");

    // Ana closes it; ben starts a new chat with the same (known) patient,
    // though he is not available for patients.
    assert_eq!(ana.post(&format!("{base}/close"), json!({})).0, 200);
    patient
        .next_where(|f| f["type"] == "status" && f["state"] == "closed")
        .await;
    let (code, body) = ben.post(&format!("{base}/start"), json!({}));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["conversation"]["state"], "assigned");
    let status = patient
        .next_where(|f| {
            f["type"] == "status" && f["state"] == "assigned" && f["clinician"] == "ben"
        })
        .await;
    assert_eq!(status["clinician"], "ben");

    // Team chat: stored redacted, read by the colleague.
    let (code, body) = ana.post(
        &format!("/api/team/{ben_id}"),
        json!({"text": "Thanks for taking Maria Lopez's billing chat"}),
    );
    assert_eq!(code, 201, "{body}");
    let ana_id = my_id(&ana);
    let (_, thread) = ben.get(&format!("/api/team/{ana_id}"));
    let messages = thread["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{thread}");
    let text = messages[0]["text"].as_str().unwrap();
    assert!(
        text.contains("billing chat") && !text.contains("Lopez"),
        "{text}"
    );
    let (code, _) = ana.post(&format!("/api/team/{ana_id}"), json!({"text": "me"}));
    assert_eq!(code, 400, "no team chat with oneself");
    let (_, team) = ana.get("/api/team");
    assert_eq!(team["users"].as_array().unwrap().len(), 1, "{team}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offer_not_accepted_in_time_goes_to_the_next_clinician() {
    let server = Server::start_with(&[("CARECHAT_ROUTING__OFFER_TIMEOUT_SECS", "2")]);
    server.add_user("ana", "clinician", "front_desk", "en", "a long password");
    server.add_user("ben", "clinician", "front_desk", "en", "a long password");
    let ana = server.login("ana", "a long password");
    let ben = server.login("ben", "a long password");
    available(&ana);
    available(&ben);
    let ids = [my_id(&ana), my_id(&ben)];

    let mut patient = Patient::connect(&server, "?lang=en-US").await;
    patient.send("Can I talk to a real person?").await;
    let status = patient.next_where(|f| f["type"] == "status").await;
    assert_eq!(
        status["state"], "queued",
        "offered, not yet taken: {status}"
    );
    let base = format!("/api/conversations/{}", patient.conversation);
    let first = ana.get(&base).1["conversation"]["offered_to"]
        .as_i64()
        .expect("offered to someone");
    let (first_client, second_client, second) = if first == ids[0] {
        (&ana, &ben, ids[1])
    } else {
        (&ben, &ana, ids[0])
    };

    // The other clinician cannot take a chat offered to a colleague.
    let (code, _) = second_client.post(&format!("{base}/take"), json!({}));
    assert_eq!(code, 409);
    // Nobody accepts: after the timeout it is offered to the other one.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let offered = ana.get(&base).1["conversation"]["offered_to"].as_i64();
        if offered == Some(second) {
            break;
        }
        assert!(Instant::now() < deadline, "the offer never moved on");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (code, _) = first_client.post(&format!("{base}/accept"), json!({}));
    assert_eq!(code, 409, "the first offer is gone");
    let (code, body) = second_client.post(&format!("{base}/accept"), json!({}));
    assert_eq!(code, 200, "{body}");
    let status = patient
        .next_where(|f| f["type"] == "status" && f["state"] == "assigned")
        .await;
    assert_eq!(
        status["clinician"],
        if second == ids[0] { "ana" } else { "ben" }
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chat_from_a_site_that_names_its_state_goes_to_a_clinician_licensed_there() {
    let server = Server::start();
    let db = server.db_path();
    for (name, states) in [("cal", "CA"), ("newt", "NY,NJ")] {
        carechat_e2e::run_carechat(
            &[
                "user",
                "add",
                name,
                "--role",
                "clinician",
                "--skills",
                "nursing",
                "--states",
                states,
                "--db",
                db.to_str().unwrap(),
            ],
            "a long password\n",
        );
    }
    let cal = server.login("cal", "a long password");
    let newt = server.login("newt", "a long password");
    available(&cal);
    available(&newt);
    for (state, expected) in [("NY", "newt"), ("CA", "cal"), ("NJ", "newt")] {
        let mut patient = Patient::connect(&server, &format!("?lang=en-US&state={state}")).await;
        patient
            .send("I need my lab test results from last week")
            .await;
        let status = patient.next_where(|f| f["type"] == "status").await;
        assert_eq!(
            status["clinician"], expected,
            "{state}: {:#?}",
            patient.frames
        );
    }
    // A bad state code is refused when the account is made.
    let out = std::process::Command::new(carechat_e2e::carechat())
        .args([
            "user",
            "add",
            "x",
            "--role",
            "clinician",
            "--states",
            "California",
            "--db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("two capital letters"));
}
