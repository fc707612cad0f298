//! Translation between patient and clinician through the real server, on
//! tiny random-weight Marian models the test writes (the model hub is not
//! reachable here): the server loads them as it would OPUS-MT directories,
//! and messages between a Spanish-writing patient and an English-only
//! clinician travel with a machine translation beside the original.

#[path = "../../../translate/tests/common/mod.rs"]
#[allow(dead_code, clippy::all)]
mod marian;

use carechat_e2e::{Patient, Server};

/// The files of an OPUS-MT directory as the model hub publishes it.
const OPUS_MT_FILES: [&str; 5] = [
    "config.json",
    "model.safetensors",
    "source.spm",
    "target.spm",
    "vocab.json",
];
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
    for file in OPUS_MT_FILES {
        assert!(installed.join(file).exists(), "{file} missing");
    }

    // Where the hub cannot be reached (here: nothing listens on port 1), the
    // error says how to install from a directory instead; a directory that
    // is not a model is refused before anything is installed.
    let out = std::process::Command::new(carechat_e2e::carechat())
        .env("CARECHAT_HUB_URL", "http://127.0.0.1:1")
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

/// A mirror of the model hub, as `huggingface.co` lays out a repository:
/// `/<repo>/resolve/main/<file>`, large files redirected to a file store
/// with their SHA-256 in `X-Linked-Etag`, the commit in `X-Repo-Commit`.
/// `stated_sha256` overrides the weights' stated hash (a corrupt download).
fn serve_hub(repo_dir: std::path::PathBuf, stated_sha256: Option<String>) -> String {
    use sha2::Digest;
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            let path = request.split(' ').nth(1).unwrap_or("").to_string();
            let file = |name: &str| std::fs::read(repo_dir.join(name)).ok();
            let (status, headers, body) = if let Some(name) =
                path.strip_prefix("/Helsinki-NLP/opus-mt-es-en/resolve/main/")
            {
                match file(name) {
                    Some(bytes) if name == "model.safetensors" => {
                        let sha = stated_sha256
                            .clone()
                            .unwrap_or_else(|| hex(&sha2::Sha256::digest(&bytes)));
                        (
                            "302 Found",
                            format!(
                                "Location: /store/{name}\r\nX-Linked-Etag: \"{sha}\"\r\n\
                                 X-Repo-Commit: 0123abcd\r\n"
                            ),
                            Vec::new(),
                        )
                    }
                    Some(bytes) => (
                        "200 OK",
                        format!(
                            "ETag: \"{}\"\r\nX-Repo-Commit: 0123abcd\r\n",
                            "e".repeat(40)
                        ),
                        bytes,
                    ),
                    None => ("404 Not Found", String::new(), Vec::new()),
                }
            } else if let Some(bytes) = path.strip_prefix("/store/").and_then(file) {
                ("200 OK", String::new(), bytes)
            } else {
                ("404 Not Found", String::new(), Vec::new())
            };
            let head = format!(
                "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    url
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `carechat models pull opus-mt-es-en` with no directory downloads the
/// model from the hub (here a local mirror: these machines cannot reach the
/// real one), checks the weights against the hash the hub states, records
/// where they came from, and installs the model once it translates; a
/// download whose hash does not match is refused and nothing is installed.
#[test]
fn a_translation_model_is_downloaded_from_the_hub_and_checked() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("hub");
    std::fs::create_dir_all(&repo).unwrap();
    marian::write_dir(&repo, marian::Weights::SaysHola, marian::Form::Spm);
    let pull = |hub: &str, models: &std::path::Path| {
        std::process::Command::new(carechat_e2e::carechat())
            .env("CARECHAT_HUB_URL", hub)
            .args(["models", "pull", "opus-mt-es-en", "--models-dir"])
            .arg(models)
            .output()
            .unwrap()
    };

    let models = work.path().join("models");
    let out = pull(&serve_hub(repo.clone(), None), &models);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let installed = models.join("translate/opus-mt-es-en");
    for file in OPUS_MT_FILES {
        assert_eq!(
            std::fs::read(installed.join(file)).unwrap(),
            std::fs::read(repo.join(file)).unwrap(),
            "{file}"
        );
    }
    let source: serde_json::Value =
        serde_json::from_slice(&std::fs::read(installed.join("source.json")).unwrap()).unwrap();
    assert_eq!(source["revision"], "0123abcd", "{source}");
    assert!(
        source["source"]
            .as_str()
            .unwrap()
            .ends_with("/Helsinki-NLP/opus-mt-es-en")
    );
    assert_eq!(
        source["sha256"]["model.safetensors"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    let left: Vec<_> = std::fs::read_dir(models.join("translate"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("opus-mt-es-en")],
        "staging left behind"
    );

    let models = work.path().join("models-corrupt");
    let out = pull(&serve_hub(repo.clone(), Some("0".repeat(64))), &models);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing") && err.contains("the hub states"),
        "{err}"
    );
    assert!(!models.join("translate/opus-mt-es-en").exists());
}
