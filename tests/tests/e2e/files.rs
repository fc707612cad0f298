//! Files both ways against a real virus scanner: Debian's `clamd`, started
//! here on a Unix socket with a signature database of one line, the EICAR
//! test signature (the real databases are downloaded, and downloads are not
//! reachable here).
//!
//! A patient sends a phone photo with its GPS position; the nurse who has
//! the chat opens it and finds no position, no EXIF, no name in it. The
//! nurse sends a PDF with an author; the patient's copy has none. A PDF
//! carrying the EICAR string is refused as infected. With clamd stopped,
//! files are refused, saying why. Skipped, saying so, where `clamd` is not
//! installed (`tests/install.sh` installs `clamav-daemon`).

use std::io::Read;

use attachments::testing;
use carechat_e2e::{Patient, Server, call, clamd, clamd_binary, run_carechat};
use serde_json::{Value, json};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// A patient's upload, with their resume token.
fn patient_upload(server: &Server, resume: &str, name: &str, bytes: &[u8]) -> (u16, Value) {
    call(
        agent()
            .post(&format!("{}/api/patient/files", server.base))
            .query("name", name)
            .header("authorization", &format!("Bearer {resume}"))
            .header("origin", "https://clinic.example")
            .send(bytes),
    )
}

/// A download: status, headers and bytes.
fn download(url: &str, header: (&str, &str)) -> (u16, ureq::http::HeaderMap, Vec<u8>) {
    let mut r = agent().get(url).header(header.0, header.1).call().unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let mut bytes = Vec::new();
    r.body_mut().as_reader().read_to_end(&mut bytes).unwrap();
    (status, headers, bytes)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_photo_loses_its_location_a_pdf_its_author_and_an_infected_file_is_refused() {
    let Some(bin) = clamd_binary() else {
        eprintln!(
            "SKIPPED: clamd is not installed (Debian: apt-get install clamav-daemon; tests/install.sh does)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scanner = clamd(&bin, dir.path());
    let clamd_address = format!("unix:{}", scanner.socket.display());
    let server = Server::start_with(&[("CARECHAT_FILES__CLAMD", &clamd_address)]);
    server.add_user(
        "nurse",
        "clinician",
        "nursing,front_desk",
        "en",
        "correct horse battery",
    );
    let nurse = server.login("nurse", "correct horse battery");
    let mut patient = Patient::connect(&server, "").await;
    assert_eq!(patient.frames[0]["files"], true, "{:?}", patient.frames[0]);

    // With the bot, a file goes nowhere.
    let photo = testing::photo_with_location();
    let (code, body) = patient_upload(&server, &patient.resume, "rash.jpg", &photo);
    assert_eq!(code, 409, "{body}");

    patient
        .send("I would like to talk to a nurse about a rash on my arm")
        .await;
    patient.next_where(|f| f["type"] == "status").await;
    let (code, _) = nurse.post(
        &format!("/api/conversations/{}/take", patient.conversation),
        json!({}),
    );
    assert_eq!(code, 200);
    patient
        .next_where(|f| f["type"] == "status" && f["state"] == "assigned")
        .await;

    // The browser's preflight from the clinic's site is answered.
    let pre = agent()
        .run(
            ureq::http::Request::options(format!("{}/api/patient/files", server.base))
                .header("origin", "https://clinic.example")
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "authorization")
                .body(())
                .unwrap(),
        )
        .unwrap();
    assert_eq!(pre.status().as_u16(), 204);
    assert_eq!(pre.headers()["access-control-allow-origin"], "*");

    // The photo: scanned clean, stripped, sealed.
    assert!(contains(&photo, b"Exif") && contains(&photo, b"Jane Roe"));
    let (code, body) = patient_upload(&server, &patient.resume, "rash on my arm.jpg", &photo);
    assert_eq!(code, 200, "{body}");
    let file = body["file"].clone();
    assert_eq!(file["type"], "image/jpeg");
    assert_eq!(
        (file["width"].as_u64(), file["height"].as_u64()),
        (Some(48), Some(64))
    );
    let (code, headers, stored) = download(
        &format!("{}/api/files/{}", server.base, file["id"]),
        ("cookie", &nurse.cookie),
    );
    assert_eq!(code, 200);
    assert_eq!(headers["content-type"], "image/jpeg");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(attachments::sniff(&stored), Ok(attachments::Kind::Jpeg));
    for kept in [&b"Exif"[..], b"Jane Roe", b"http://ns.adobe.com/xap"] {
        assert!(
            !contains(&stored, kept),
            "{} kept",
            String::from_utf8_lossy(kept)
        );
    }
    // Sealed: the database file does not hold the photo.
    let db = std::fs::read(server.db_path()).unwrap();
    assert!(!contains(
        &db,
        &stored[stored.len() / 2..stored.len() / 2 + 64]
    ));

    // An infected file is refused, and the patient is told plainly.
    let (code, body) = patient_upload(
        &server,
        &patient.resume,
        "results.pdf",
        &testing::pdf_with_eicar(),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["error"]["code"], "file_infected");

    // The nurse's PDF reaches the patient without its author.
    let pdf = testing::pdf_with_metadata();
    assert!(contains(&pdf, b"Jane Roe"));
    let mut r = agent()
        .post(&format!(
            "{}/api/conversations/{}/files",
            server.base, patient.conversation
        ))
        .query("name", "Aftercare.pdf")
        .header("cookie", &nurse.cookie)
        .send(&pdf[..])
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let sent: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    let frame = patient
        .next_where(|f| f["type"] == "message" && f["file"].is_object())
        .await;
    assert_eq!(frame["file"]["id"], sent["message"]["file"]["id"]);
    assert_eq!(frame["file"]["type"], "application/pdf");
    let (code, _, copy) = download(
        &format!("{}/api/patient/files/{}", server.base, frame["file"]["id"]),
        ("authorization", &format!("Bearer {}", patient.resume)),
    );
    assert_eq!(code, 200);
    assert!(copy.starts_with(b"%PDF"));
    assert!(!contains(&copy, b"Jane Roe"), "the author kept");

    // The clinic's export holds both files, opened, as they were stored.
    let export = server.dir.path().join("export");
    let db = server.db_path();
    let (out, _) = run_carechat(
        &[
            "export",
            "--out",
            export.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
        ],
        "",
    );
    assert!(out.contains("exported"), "{out}");
    let exported: Vec<Value> = std::fs::read_to_string(export.join("conversations.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let chat = exported
        .iter()
        .find(|c| c["id"] == patient.conversation.as_str())
        .unwrap();
    let files = chat["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{files:?}");
    for (kind, bytes) in [("jpeg", &stored), ("pdf", &copy)] {
        let entry = files.iter().find(|f| f["kind"] == kind).unwrap();
        let path = export.join(entry["path"].as_str().unwrap());
        assert_eq!(&std::fs::read(&path).unwrap(), bytes, "{}", path.display());
    }

    // Nothing of the files in the server's log: no name, no token.
    let log = server.log();
    for secret in ["rash on my arm", "Jane Roe", patient.resume.as_str()] {
        assert!(!log.contains(secret), "the log holds {secret:?}");
    }
    assert!(log.contains("an infected file was refused"), "{log}");

    // clamd stopped: files are refused, saying why.
    drop(scanner);
    let (code, body) = patient_upload(
        &server,
        &patient.resume,
        "rash.png",
        &testing::png_with_text(),
    );
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["error"]["code"], "scanner_unavailable");
}
