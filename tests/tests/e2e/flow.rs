//! The product's main path: a patient's questions answered by the local
//! model, an emergency flagged, PHI kept off the disk, and a clinician's
//! reply reaching the patient.

use carechat_e2e::{Patient, Server};

fn from(frame: &serde_json::Value, who: &str) -> bool {
    frame["type"] == "message" && frame["from"] == who
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_from_the_whitelist_and_flags_an_emergency() {
    let server = Server::start();
    let mut patient = Patient::connect(&server, "?lang=en-US").await;

    patient.send("what time do you open on saturday?").await;
    let reply = patient.next_where(|f| from(f, "bot")).await;
    let text = reply["text"].as_str().unwrap();
    assert!(
        text.contains("Saturday") && text.contains("9:00"),
        "not the hours reply: {text}"
    );

    patient.send("I have crushing chest pain").await;
    let reply = patient.next_where(|f| from(f, "bot")).await;
    assert!(
        reply["text"].as_str().unwrap().contains("911"),
        "not the emergency reply: {reply}"
    );
    let status = patient.next_where(|f| f["type"] == "status").await;
    assert_eq!(status["state"], "queued");
    assert_eq!(status["urgent"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn spanish_patient_gets_spanish_reply() {
    let server = Server::start();
    let mut patient = Patient::connect(&server, "?lang=es-MX").await;
    patient.send("¿A qué hora abren los sábados?").await;
    let reply = patient.next_where(|f| from(f, "bot")).await;
    let text = reply["text"].as_str().unwrap();
    assert!(
        text.contains("sábado"),
        "not the Spanish hours reply: {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn off_whitelist_question_goes_to_a_person() {
    let server = Server::start();
    let mut patient = Patient::connect(&server, "").await;
    patient
        .send("Can you recommend a good Italian restaurant near the clinic for dinner tonight?")
        .await;
    // Nobody is online: the question is kept for staff (the contact form).
    let status = patient.next_where(|f| f["type"] == "status").await;
    assert_eq!(status["state"], "offline", "{:#?}", patient.frames);
    assert!(
        !patient
            .frames
            .iter()
            .any(|f| from(f, "bot") && f["text"].as_str().unwrap().contains("Saturday")),
        "the bot guessed: {:#?}",
        patient.frames
    );
}

const PHI: &[&str] = &[
    "John",
    "Smith",
    "123-45-6789",
    "555-867-5309",
    "867-5309",
    "03/14/1961",
];

#[tokio::test(flavor = "multi_thread")]
async fn phi_stays_off_the_disk_and_the_clinician_reply_reaches_the_patient() {
    let server = Server::start();
    server.add_user(
        "nurse",
        "clinician",
        "nursing,front_desk",
        "en,es",
        "correct horse battery",
    );
    let mut patient = Patient::connect(&server, "").await;

    patient
        .send(
            "Hi, my name is John Smith, SSN 123-45-6789, phone 555-867-5309, \
             date of birth 03/14/1961. I need my blood test results please.",
        )
        .await;
    let status = patient.next_where(|f| f["type"] == "status").await;
    assert_eq!(status["state"], "offline", "nobody was online");

    let nurse = server.login("nurse", "correct horse battery");
    let (code, body) = nurse.get("/api/conversations");
    assert_eq!(code, 200);
    let queued = body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == patient.conversation.as_str())
        .expect("the chat is listed for staff")
        .clone();
    assert_eq!(queued["state"], "queued");
    assert_eq!(queued["offline"], true);
    let whisper = &queued["whisper"];
    assert_eq!(whisper["intent"], "test_results", "{whisper}");
    assert_eq!(whisper["reason"], "handoff_intent");
    let summary = whisper["summary"].as_str().unwrap();
    assert!(
        summary.contains("[NAME]") && summary.contains("[SSN]"),
        "{summary}"
    );
    for phi in PHI {
        assert!(
            !whisper.to_string().contains(phi),
            "whisper leaks {phi}: {whisper}"
        );
    }

    let (code, _) = nurse.post(
        &format!("/api/conversations/{}/take", patient.conversation),
        serde_json::json!({}),
    );
    assert_eq!(code, 200);
    let assigned = patient
        .next_where(|f| f["type"] == "status" && f["state"] == "assigned")
        .await;
    assert_eq!(assigned["clinician"], "nurse");

    let (code, _) = nurse.post(
        &format!("/api/conversations/{}/messages", patient.conversation),
        serde_json::json!({"text": "Hello, this is the nurse. I can help with your results."}),
    );
    assert_eq!(code, 201);
    let reply = patient.next_where(|f| from(f, "clinician")).await;
    assert_eq!(
        reply["text"],
        "Hello, this is the nurse. I can help with your results."
    );
    assert_eq!(reply["name"], "nurse");

    // The history the console shows comes from the database: redacted.
    let (_, history) = nurse.get(&format!("/api/conversations/{}", patient.conversation));
    let first = history["messages"][0]["text"].as_str().unwrap();
    assert!(
        first.contains("[NAME]") && first.contains("[SSN]") && first.contains("[PHONE]"),
        "{first}"
    );

    // Nothing identifying in the database, its WAL, or the server's output.
    let db = server.db_path();
    let mut files = vec![db.clone()];
    for suffix in ["-wal", "-shm"] {
        let p = db.with_file_name(format!("carechat.db{suffix}"));
        if p.exists() {
            files.push(p);
        }
    }
    let mut scanned = 0;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        scanned += bytes.len();
        let text = String::from_utf8_lossy(&bytes);
        for phi in PHI {
            assert!(!text.contains(phi), "{} holds {phi}", file.display());
        }
    }
    assert!(scanned > 0);
    // The stored copy is there (redacted), so the scan looked at real data.
    let all: String = files
        .iter()
        .map(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned())
        .collect();
    assert!(
        all.contains("[SSN]"),
        "the redacted message is not in the database files"
    );
    let log = server.log();
    for phi in PHI {
        assert!(!log.contains(phi), "the server log holds {phi}");
    }
    assert!(
        !log.contains("blood test results"),
        "the server log holds a message body"
    );
    // Written to a pipe, as to a file or the journal: no colour codes.
    assert!(log.contains("INFO"), "the server logged nothing: {log}");
    assert!(!log.contains('\u{1b}'), "the server log holds ANSI escapes");

    let (code, _) = nurse.post(
        &format!("/api/conversations/{}/close", patient.conversation),
        serde_json::json!({}),
    );
    assert_eq!(code, 200);
    patient
        .next_where(|f| f["type"] == "status" && f["state"] == "closed")
        .await;
}
