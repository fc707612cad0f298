//! The product's main path: a patient's questions answered by the local
//! model, an emergency flagged, PHI kept off the disk in the clear (the
//! words as typed sealed, for those allowed to read them), and a
//! clinician's reply reaching the patient.

use carechat_e2e::{Patient, Server, run_carechat};
use serde_json::json;

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
async fn phi_is_sealed_on_disk_read_by_those_allowed_and_shredded_with_the_chat() {
    let mut server = Server::start();
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

    // The history the console shows after a reload: the stored copy,
    // redacted, and for the clinician who has the chat the words as typed.
    let path = format!("/api/conversations/{}", patient.conversation);
    let typed = "Hi, my name is John Smith, SSN 123-45-6789, phone 555-867-5309, \
                 date of birth 03/14/1961. I need my blood test results please.";
    let (_, history) = nurse.get(&path);
    let first = history["messages"][0]["text"].as_str().unwrap();
    assert!(
        first.contains("[NAME]") && first.contains("[SSN]") && first.contains("[PHONE]"),
        "{first}"
    );
    // The Social Security number shows its last four until asked for.
    let shown = typed.replace("123-45-6789", "•••-••-6789");
    assert_eq!(history["messages"][0]["original"], shown.as_str());
    assert_eq!(history["messages"][0]["masked"], true);
    let message = history["messages"][0]["id"].as_i64().unwrap();
    let (code, whole) = nurse.post(&format!("{path}/messages/{message}/reveal"), json!({}));
    assert_eq!(code, 200, "{whole}");
    assert_eq!(whole["original"], typed);
    // An admin reads them too; a colleague without the chat does not.
    server.add_user("boss", "admin", "", "en", "a long admin secret");
    let boss = server.login("boss", "a long admin secret");
    let (_, seen) = boss.get(&path);
    assert_eq!(seen["messages"][0]["original"], shown.as_str());
    server.add_user(
        "clerk",
        "clinician",
        "billing",
        "en",
        "counter staff secret",
    );
    let clerk = server.login("clerk", "counter staff secret");
    let (code, refused) = clerk.get(&path);
    assert_eq!(code, 403, "{refused}");
    assert!(!refused.to_string().contains("Smith"));

    // Nothing identifying in the database, the vault of keys, their logs,
    // or the server's output.
    let db = server.db_path();
    let files = || {
        ["", "-wal", "-shm", ".vault", ".vault-wal", ".vault-shm"]
            .iter()
            .map(|suffix| db.with_file_name(format!("carechat.db{suffix}")))
            .filter(|p| p.exists())
            .collect::<Vec<_>>()
    };
    let files = files();
    assert!(
        files.iter().any(|f| f.ends_with("carechat.db.vault")),
        "{files:?}"
    );
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

    // A new master key while the server runs: every data key moves under
    // it, and the originals still open.
    let db_arg = db.to_str().unwrap();
    let (out, _) = run_carechat(&["keys", "rotate", "--db", db_arg], "");
    assert!(out.contains("(1 moved)"), "{out}");
    let new_id = out
        .split("master key ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let (status_out, _) = run_carechat(&["keys", "status", "--db", db_arg], "");
    assert!(
        status_out.contains(&format!("current master key: {new_id}"))
            && status_out.contains(&format!("{new_id}: wraps 1 data keys")),
        "{status_out}"
    );
    let (_, after) = nurse.get(&path);
    assert_eq!(after["messages"][0]["original"], shown.as_str());

    // A backup while the server runs: one file, sealed, nothing readable
    // in it; a restore is refused while the server holds the database.
    let backup = server.dir.path().join("before-delete.backup");
    let backup_arg = backup.to_str().unwrap();
    let (out, _) = run_carechat(&["backup", "--out", backup_arg, "--db", db_arg], "");
    assert!(out.contains(new_id), "sealed under the current key: {out}");
    let sealed = std::fs::read(&backup).unwrap();
    let sealed_text = String::from_utf8_lossy(&sealed);
    assert!(sealed.len() > 4096 && sealed.starts_with(b"CARECHAT-BACKUP1\n"));
    for clear in PHI
        .iter()
        .chain(&["[SSN]", "blood test", "SQLite format", "nurse"])
    {
        assert!(!sealed_text.contains(clear), "the backup holds {clear}");
    }
    let refused = std::process::Command::new(carechat_e2e::carechat())
        .args(["restore", backup_arg, "--db", db_arg])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("in use by a running Carechat server"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // An export while the server runs: the words as typed opened with the
    // master key, a FHIR transcript, the trail, accounts without secrets.
    let export = server.dir.path().join("export");
    let (out, _) = run_carechat(
        &["export", "--out", export.to_str().unwrap(), "--db", db_arg],
        "",
    );
    assert!(out.contains("exported 1 conversations ("), "{out}");
    let lines = |f: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(export.join(f))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let exported = lines("conversations.jsonl");
    assert_eq!(exported.len(), 1);
    assert_eq!(exported[0]["id"], patient.conversation.as_str());
    assert_eq!(
        exported[0]["messages"][0]["original"], typed,
        "unmasked, in full"
    );
    assert!(
        exported[0]["messages"][0]["text"]
            .as_str()
            .unwrap()
            .contains("[SSN]")
    );
    let fhir: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            export
                .join("transcripts")
                .join(format!("{}.fhir.json", patient.conversation)),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(fhir["resourceType"], "Bundle");
    assert_eq!(
        fhir["entry"][0]["resource"]["payload"][0]["contentString"],
        shown.as_str()
    );
    let audit = lines("audit.jsonl");
    assert!(audit.iter().any(|e| e["action"] == "backup"));
    assert!(
        audit
            .windows(2)
            .all(|w| w[0]["id"].as_i64() < w[1]["id"].as_i64()),
        "oldest first"
    );
    let users = std::fs::read_to_string(export.join("users.jsonl")).unwrap();
    assert!(
        users.contains("\"nurse\"") && !users.contains("argon2"),
        "{users}"
    );
    let settings = std::fs::read_to_string(export.join("settings.json")).unwrap();
    assert!(settings.contains("\"retention\""));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(export.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["conversations"], 1);
    assert!(manifest["originals"].as_u64().unwrap() >= 1, "{manifest}");
    assert_eq!(manifest["audit_trail_verifies"], true);

    let (code, _) = nurse.post(
        &format!("/api/conversations/{}/close", patient.conversation),
        serde_json::json!({}),
    );
    assert_eq!(code, 200);
    patient
        .next_where(|f| f["type"] == "status" && f["state"] == "closed")
        .await;

    // Deleted: gone from the API, and no trace left in any file.
    assert_eq!(nurse.delete(&path).0, 403, "only an admin deletes");
    assert_eq!(boss.delete(&path).0, 204);
    assert_eq!(boss.get(&path).0, 404);
    for file in files.iter().filter(|f| f.exists()) {
        let text = String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned();
        assert!(
            // (Not just "blood test": the whitelist, kept in the database
            // since the workbench, has intents about blood tests.)
            !text.contains("[SSN]") && !text.contains("blood test results please"),
            "{} still holds the deleted chat",
            file.display()
        );
    }

    // The backup taken before the deletion, restored with the server
    // stopped: the chat's redacted copy comes back, its words as typed do
    // not (their key was destroyed, and no backup holds keys).
    server.restart(|_| {
        let (out, _) = run_carechat(&["restore", backup_arg, "--db", db_arg], "");
        assert!(out.contains("kept at"), "{out}");
    });
    let boss = server.login("boss", "a long admin secret");
    let (code, restored) = boss.get(&path);
    assert_eq!(code, 200, "{restored}");
    assert!(
        restored["messages"][0]["text"]
            .as_str()
            .unwrap()
            .contains("[SSN]")
    );
    assert!(
        restored["messages"][0].get("original").is_none(),
        "a deleted chat's words as typed came back from a backup: {restored}"
    );
    let (_, trail) = boss.get("/api/audit?action=restore");
    assert_eq!(
        trail["entries"].as_array().map(Vec::len),
        Some(1),
        "{trail}"
    );
}
