//! Emergencies first: the red-flag decision stands before every model queue,
//! an urgent chat is never told to leave a message, the clinic's emergency
//! reply is stored as the clinic wrote it, and the model's nearest intent
//! alone does not make a greeting or line noise an emergency. Each test here
//! is one defect of issue 16, seen on the build before the fix.

use carechat_e2e::{Patient, Server, models_dir, repo_root, run_carechat};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::Value;

const CHEST_PAIN: &str = "I have crushing chest pain and my left arm is numb";

fn from(frame: &Value, who: &str) -> bool {
    frame["type"] == "message" && frame["from"] == who
}

/// The clinic's emergency reply in `lang`, as written in the whitelist.
fn emergency_reply(lang: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join("intents/emergency.toml")).unwrap();
    let intent: toml::Value = toml::from_str(&text).unwrap();
    intent["replies"][lang].as_str().unwrap().to_string()
}

/// A bot-wide message in `lang`, as written in messages.toml.
fn message(name: &str, lang: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join("intents/messages.toml")).unwrap();
    let messages: toml::Value = toml::from_str(&text).unwrap();
    messages[name][lang].as_str().unwrap().to_string()
}

/// Defect 1: with a model queue of one and forty patients asking questions
/// at once, the chest-pain message used to be told "busy" in 3 of 5 tries.
#[tokio::test(flavor = "multi_thread")]
async fn an_emergency_is_answered_when_the_model_queues_are_full() {
    // Two hundred patients from one address in a minute: the patient-side
    // rate limits (docs/security.md) would refuse most of them.
    let server = Server::start_with(&[
        ("CARECHAT_ENCODER_QUEUE", "1"),
        ("CARECHAT_LIMITS__SOCKETS_PER_MINUTE", "1000"),
        ("CARECHAT_LIMITS__NEW_CHATS_PER_ADDRESS", "1000"),
    ]);
    let mut busy = 0;
    for round in 0..5 {
        // Fresh chats each round, all with the bot, so that every question
        // gets an answer or "busy".
        let mut crowd = Vec::new();
        for _ in 0..40 {
            crowd.push(Patient::connect(&server, "?lang=en-US").await);
        }
        let mut patient = Patient::connect(&server, "?lang=en-US").await;
        let asking: Vec<_> = crowd
            .into_iter()
            .map(|mut p| {
                tokio::spawn(async move {
                    p.send("do you take aetna and what are your hours on saturday")
                        .await;
                    p
                })
            })
            .collect();
        patient.send(CHEST_PAIN).await;
        let reply = patient
            .next_where(|f| from(f, "bot") || f["type"] == "error")
            .await;
        assert_eq!(
            reply["text"].as_str(),
            Some(emergency_reply("en").as_str()),
            "round {round}: not the emergency reply: {reply}"
        );
        let status = patient.next_where(|f| f["type"] == "status").await;
        assert_eq!(status["state"], "queued", "round {round}: {status}");
        assert_eq!(status["urgent"], true, "round {round}: {status}");
        for p in asking {
            let mut p = p.await.unwrap();
            let answer = p
                .next_where(|f| from(f, "bot") || f["type"] == "error")
                .await;
            if answer["type"] == "error" {
                assert_eq!(answer["code"], "busy", "{answer}\n{}", server.log());
                busy += 1;
            }
        }
    }
    // Otherwise the queues were never full and this proved nothing.
    assert!(busy > 0, "no ordinary question was ever told busy");
}

/// Defect 2: with nobody online an urgent chat got the emergency reply and
/// then the offline text ("leave your question here..."). Defect 3: the
/// Spanish emergency reply was stored redacted ("... o [NAME] a la sala").
#[tokio::test(flavor = "multi_thread")]
async fn an_urgent_chat_is_never_told_to_leave_a_message_and_keeps_the_clinics_words() {
    let server = Server::start();
    server.add_user(
        "nurse",
        "clinician",
        "nursing,front_desk",
        "en,es",
        "correct horse battery",
    );

    let mut patient = Patient::connect(&server, "?lang=es-MX").await;
    patient
        .send("mi esposo tiene un dolor de pecho muy fuerte y le cuesta respirar")
        .await;
    let reply = patient.next_where(|f| from(f, "bot")).await;
    assert_eq!(reply["text"].as_str(), Some(emergency_reply("es").as_str()));
    let status = patient.next_where(|f| f["type"] == "status").await;
    assert_eq!(status["state"], "queued", "{status}");
    assert_eq!(status["urgent"], true, "{status}");
    let system = patient.next_where(|f| from(f, "system")).await;
    assert_eq!(
        system["text"].as_str(),
        Some(message("urgent", "es").as_str())
    );

    // A chat that had left a message for staff, then an emergency.
    let mut other = Patient::connect(&server, "?lang=en-US").await;
    other
        .send("Can you recommend a good Italian restaurant near the clinic?")
        .await;
    let status = other.next_where(|f| f["type"] == "status").await;
    assert_eq!(status["state"], "offline", "{:#?}", other.frames);
    other.send(CHEST_PAIN).await;
    let reply = other.next_where(|f| from(f, "bot")).await;
    assert_eq!(reply["text"].as_str(), Some(emergency_reply("en").as_str()));
    let status = other.next_where(|f| f["type"] == "status").await;
    assert_eq!(status["state"], "queued", "{status}");
    assert_eq!(status["urgent"], true, "{status}");

    let offline_en = message("offline", "en");
    let offline_es = message("offline", "es");
    for p in [&patient, &other] {
        let after_emergency = p
            .frames
            .iter()
            .skip_while(|f| !(from(f, "bot") && f["text"].as_str().unwrap().contains("911")));
        for f in after_emergency {
            let text = f["text"].as_str().unwrap_or("");
            assert!(
                text != offline_en && text != offline_es && f["state"] != "offline",
                "an urgent chat was told to leave a message: {:#?}",
                p.frames
            );
        }
    }

    // What staff and auditors read is what the clinic wrote.
    let nurse = server.login("nurse", "correct horse battery");
    let (code, body) = nurse.get(&format!("/api/conversations/{}", patient.conversation));
    assert_eq!(code, 200, "{body}");
    let stored: Vec<&str> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["from"] != "patient")
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        stored,
        [
            emergency_reply("es").as_str(),
            message("urgent", "es").as_str()
        ],
        "{body:#}"
    );
    let summary = &body["conversation"];
    assert_eq!(summary["urgent"], true);
    assert_eq!(summary["whisper"]["reason"], "red_flag", "{summary}");
    let patient_text = body["messages"][0]["text"].as_str().unwrap();
    assert!(patient_text.contains("dolor de pecho"), "{body:#}");
}

/// Defect 4: the nearest intent being the emergency one made a chat urgent
/// however weak the match: "你好" (hello) scored 0.27 for it and got the 911
/// reply, and so did 143 of 3,000 lines of random characters and emoji.
#[test]
fn a_greeting_or_line_noise_is_not_an_emergency() {
    // Seeded: the same lines every run.
    let mut rng = StdRng::seed_from_u64(0x9e37_79b9_7f4a_7c15);
    let blocks: [(u32, u32); 8] = [
        (0x4E00, 0x9FFF),
        (0x1F300, 0x1F64F),
        (0x0041, 0x007A),
        (0x0400, 0x04FF),
        (0x0600, 0x06FF),
        (0x3040, 0x30FF),
        (0x0021, 0x0040),
        (0xAC00, 0xD7A3),
    ];
    let mut input = serde_json::json!({"id": "hello", "text": "你好"}).to_string() + "\n";
    for i in 0..3000 {
        let len = rng.random_range(1..=24);
        let text: String = (0..len)
            .filter_map(|_| {
                let &(lo, hi) = blocks.choose(&mut rng).expect("a non-empty list");
                char::from_u32(rng.random_range(lo..=hi))
            })
            .collect();
        let text = if text.trim().is_empty() {
            "x".into()
        } else {
            text
        };
        input += &(serde_json::json!({"id": i.to_string(), "text": text}).to_string() + "\n");
    }
    let (out, _) = run_carechat(
        &[
            "classify",
            "--intents",
            repo_root().join("intents").to_str().unwrap(),
            "--models-dir",
            models_dir().to_str().unwrap(),
        ],
        &input,
    );
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3001);
    assert_eq!(rows[0]["id"], "hello");
    assert_ne!(rows[0]["action"], "urgent", "{}", rows[0]);
    let urgent = rows.iter().filter(|r| r["action"] == "urgent").count();
    // Random lines hold the odd real word; one in a hundred would still be
    // a nurse's time wasted every day.
    assert!(urgent < 30, "{urgent} of 3000 random lines were urgent");
}
