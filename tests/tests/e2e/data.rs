//! Ephemeral mode against a real HTTPS endpoint: the clinic's receiver (a
//! TLS server on 127.0.0.1 with its own certificate, started here) refuses
//! the first delivery, gets the signed transcript on the retry, and after
//! that nothing of the chat is left on the server but the audit trail.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use carechat_e2e::{Patient, Server};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const SECRET: &str = "a webhook secret of at least thirty-two characters";

/// One request the receiver got: its headers (lower-cased names) and body.
struct Delivery {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Delivery {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTPS receiver on a free port: answers 503 to the first `refuse`
/// requests and 200 after, handing each request to the test. Its
/// certificate (PEM) is what Carechat is told to trust.
fn receiver(refuse: usize) -> (u16, String, mpsc::Receiver<(u16, Delivery)>) {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let cert = made.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::try_from(made.key_pair.serialize_der()).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let mut reader = BufReader::new(&mut tls);
            let mut headers = Vec::new();
            let mut line = String::new();
            // The request line, then headers to the blank line.
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.trim_end().split_once(':') {
                    headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
                }
            }
            let length: usize = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let status = if n < refuse { 503 } else { 200 };
            let _ = write!(
                tls,
                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
            let _ = tx.send((status, Delivery { headers, body }));
        }
    });
    (port, made.cert.pem(), rx)
}

fn verify(delivery: &Delivery) -> bool {
    let Some(signature) = delivery.header("carechat-signature") else {
        return false;
    };
    let Some((t, v1)) = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(&delivery.body);
    let Ok(given) = (0..v1.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&v1[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    mac.verify_slice(&given).is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn ephemeral_chats_reach_the_clinics_https_endpoint_signed_then_vanish() {
    let (port, ca, deliveries) = receiver(1);
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("clinic-ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let url = format!("https://127.0.0.1:{port}/carechat/transcripts");
    let server = Server::start_with(&[
        ("CARECHAT_RETENTION__DAYS", "0"),
        ("CARECHAT_RETENTION__WEBHOOK_URL", &url),
        ("CARECHAT_RETENTION__WEBHOOK_SECRET", SECRET),
        ("CARECHAT_RETENTION__WEBHOOK_CA", ca_file.to_str().unwrap()),
    ]);
    server.add_user(
        "nurse",
        "clinician",
        "nursing,front_desk",
        "en",
        "correct horse battery",
    );
    server.add_user("boss", "admin", "", "en", "a long admin secret");
    let nurse = server.login("nurse", "correct horse battery");
    let mut patient = Patient::connect(&server, "").await;
    let typed = "My name is John Smith and I need my blood test results please.";
    patient.send(typed).await;
    patient.next_where(|f| f["type"] == "status").await;
    let id = patient.conversation.clone();
    let path = format!("/api/conversations/{id}");
    assert_eq!(nurse.post(&format!("{path}/take"), json!({})).0, 200);
    assert_eq!(
        nurse
            .post(
                &format!("{path}/messages"),
                json!({"text": "Thanks John, I will look them up."}),
            )
            .0,
        201
    );
    assert_eq!(nurse.post(&format!("{path}/close"), json!({})).0, 200);

    // The endpoint is down the first time: the chat waits, sealed.
    let (status, first) = deliveries
        .recv_timeout(Duration::from_secs(60))
        .expect("a delivery as the chat closed");
    assert_eq!(status, 503);
    assert!(verify(&first), "the first attempt is signed too");
    let boss = server.login("boss", "a long admin secret");
    assert_eq!(boss.get(&path).0, 200, "kept until delivered");
    let db = server.db_path();
    let on_disk: String = ["carechat.db", "carechat.db-wal", "carechat.db.vault"]
        .iter()
        .map(|f| db.with_file_name(f))
        .filter(|p| p.exists())
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned())
        .collect();
    assert!(!on_disk.contains("John") && !on_disk.contains("Smith"));

    // Retried after its backoff (15 s), and accepted.
    let (status, second) = deliveries
        .recv_timeout(Duration::from_secs(90))
        .expect("a retry");
    assert_eq!(status, 200);
    assert!(verify(&second), "signed with the clinic's secret");
    assert_eq!(second.header("idempotency-key"), Some(id.as_str()));
    assert_eq!(second.header("content-type"), Some("application/fhir+json"));
    let bundle: Value = serde_json::from_slice(&second.body).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["identifier"]["value"], id.as_str());
    let said: Vec<&str> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["resource"]["payload"][0]["contentString"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(said.contains(&typed), "the words as typed: {said:?}");
    assert!(said.contains(&"Thanks John, I will look them up."));
    // A tampered body would not verify.
    let mut forged = second;
    forged.body[10] ^= 1;
    assert!(!verify(&forged));

    // Then nothing is left of it but the audit trail.
    let mut gone = false;
    for _ in 0..100 {
        if boss.get(&path).0 == 404 {
            gone = true;
            break;
        }
        // The deletion follows the 200 by one transaction; poll briefly.
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(gone, "the chat outlived its delivery");
    let (_, trail) = boss.get("/api/audit?action=transcript_delivered");
    let entries = trail["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{trail}");
    assert_eq!(entries[0]["subject"], id.as_str());
    assert_eq!(entries[0]["detail"], "attempts=2");
    let log = server.log();
    assert!(log.contains("transcript delivery failed"), "{log}");
    assert!(!log.contains("John") && !log.contains("blood test"));
}
