//! Translation between patient and clinician through the real server, on
//! tiny random-weight Marian models the test writes (the model hub is not
//! reachable here): the server loads them as it would OPUS-MT directories,
//! and messages between a Spanish-writing patient and an English-only
//! clinician travel with a machine translation beside the original.

#[path = "../../../translate/tests/common/mod.rs"]
#[allow(dead_code, clippy::all)]
mod marian;

use carechat_e2e::{Patient, Server};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn messages_are_machine_translated_both_ways_with_the_original_kept() {
    let models = tempfile::tempdir().unwrap();
    let mut dirs = Vec::new();
    for (from, to) in [("es", "en"), ("en", "es")] {
        let dir = models.path().join(format!("tiny-{from}-{to}"));
        std::fs::create_dir_all(&dir).unwrap();
        // The decoder says "hola" whatever it reads: what is checked here
        // is the server's wiring, not translation quality.
        marian::write_dir(&dir, marian::Weights::SaysHola, marian::Form::Json);
        std::fs::write(
            dir.join("carechat.json"),
            json!({"from": from, "to": to}).to_string(),
        )
        .unwrap();
        dirs.push(format!("\"{}\"", dir.display()));
    }
    let list = format!("[{}]", dirs.join(", "));
    let server = Server::start_with(&[("CARECHAT_TRANSLATION_MODELS", &list)]);
    server.add_user("ben", "clinician", "front_desk", "en", "a long password");
    let ben = server.login("ben", "a long password");
    assert_eq!(
        ben.post("/api/me/status", json!({"status": "available"})).0,
        200
    );

    let mut patient = Patient::connect(&server, "?lang=es-ES").await;
    patient.send("¿Puedo hablar con una persona?").await;
    let status = patient.next_where(|f| f["type"] == "status").await;
    assert_eq!(status["clinician"], "ben", "{:#?}", patient.frames);
    patient.send("Necesito cambiar mi cita del martes").await;

    // The clinician reads the patient's words with a translation beside them.
    let base = format!("/api/conversations/{}", patient.conversation);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let translated = loop {
        let (_, conv) = ben.get(&base);
        let last = conv["messages"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|m| m["from"] == "patient")
            .cloned()
            .unwrap();
        if last["text"].as_str().unwrap().contains("martes") {
            break last;
        }
        assert!(std::time::Instant::now() < deadline, "{conv}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(translated["translation"]["language"], "en", "{translated}");
    assert_eq!(translated["translation"]["machine"], true);
    assert_eq!(translated["translation"]["text"], "hola");

    // The clinician's reply reaches the patient translated, original kept.
    let (code, body) = ben.post(
        &format!("{base}/messages"),
        json!({"text": "Of course, which day suits you?"}),
    );
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["message"]["translation"]["language"], "es");
    let reply = patient
        .next_where(|f| f["type"] == "message" && f["from"] == "clinician")
        .await;
    assert_eq!(reply["text"], "hola");
    assert_eq!(reply["original"], "Of course, which day suits you?");
    assert_eq!(reply["machine_translated"], true);
    // Canned replies are never machine-translated: the system message that
    // ben joined came from the whitelist in Spanish.
    let joined = patient
        .frames
        .iter()
        .find(|f| f["type"] == "message" && f["from"] == "system")
        .unwrap();
    assert!(joined.get("machine_translated").is_none(), "{joined}");
    assert!(
        joined["text"].as_str().unwrap().contains("se ha unido"),
        "{joined}"
    );
}

#[test]
fn a_translation_model_is_installed_from_a_directory_after_it_loads() {
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("downloaded");
    std::fs::create_dir_all(&source).unwrap();
    marian::write_dir(&source, marian::Weights::SaysHola, marian::Form::Spm);
    let models = work.path().join("models");
    let models_arg = models.to_str().unwrap();
    let (_, err) = carechat_e2e::run_carechat(
        &[
            "models",
            "pull",
            "opus-mt-es-en",
            "--from",
            source.to_str().unwrap(),
            "--models-dir",
            models_arg,
        ],
        "",
    );
    assert!(err.contains("es to en"), "{err}");
    let installed = models.join("translate/opus-mt-es-en");
    for file in [
        "config.json",
        "model.safetensors",
        "source.spm",
        "target.spm",
        "vocab.json",
    ] {
        assert!(installed.join(file).exists(), "{file} missing");
    }

    // No pinned download exists, and a directory that is not a model is
    // refused before anything is installed.
    let out = std::process::Command::new(carechat_e2e::carechat())
        .args([
            "models",
            "pull",
            "opus-mt-en-es",
            "--models-dir",
            models_arg,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from DIR"));
    let out = std::process::Command::new(carechat_e2e::carechat())
        .args([
            "models",
            "pull",
            "opus-mt-en-es",
            "--from",
            models_arg,
            "--models-dir",
            models_arg,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a non-model directory was accepted");
    assert!(!models.join("translate/opus-mt-en-es").exists());
}
