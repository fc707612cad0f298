//! Notifications against real peers: an SMTP server (Python's `aiosmtpd`,
//! speaking STARTTLS with a certificate made here, writing what it gets to a
//! Maildir) and an SMS provider's HTTP API (a receiver on 127.0.0.1 started
//! here, answering as Twilio does).
//!
//! A patient leaves their email address while nobody is online; the nurse,
//! whose console is closed, gets one email counting the waiting chat and no
//! word of it; an urgent chat texts the on-call number; the nurse answers in
//! the chat and sends the patient a link; the patient asks for a code, a
//! wrong one is refused, the right one shows the answer. Skipped, saying
//! so, where `aiosmtpd` is not installed (`tests/install.sh` installs it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use carechat_e2e::{Patient, Server, anon_post, free_port, http_receiver, run_carechat};
use serde_json::json;

/// `aiosmtpd` on a free port with STARTTLS, delivering to a Maildir.
struct Smtp {
    child: Child,
    port: u16,
    maildir: PathBuf,
    ca: PathBuf,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn aiosmtpd_installed() -> bool {
    Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn smtp(dir: &Path) -> Smtp {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, key) = (dir.join("smtp-cert.pem"), dir.join("smtp-key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    let maildir = dir.join("maildir");
    let port = free_port();
    let child = Command::new("python3")
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
        .arg("--tlscert")
        .arg(&cert)
        .arg("--tlskey")
        .arg(&key)
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting aiosmtpd");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "aiosmtpd did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Smtp {
        child,
        port,
        maildir,
        ca: cert,
    }
}

/// One email as the Maildir holds it.
#[derive(Debug, Clone)]
struct Mail {
    to: String,
    subject: String,
    body: String,
    raw: String,
}

fn mails(maildir: &Path) -> Vec<Mail> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let raw = std::fs::read_to_string(e.path()).unwrap_or_default();
        let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    l.split_once(':')
                        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.trim().to_string())
                })
                .unwrap_or_default()
        };
        let body = body.replace("\r\n", "\n");
        let body = if header("Content-Transfer-Encoding").eq_ignore_ascii_case("quoted-printable") {
            quoted_printable(&body)
        } else {
            body
        };
        out.push(Mail {
            to: header("To"),
            subject: header("Subject"),
            body,
            raw: raw.clone(),
        });
    }
    out
}

/// RFC 2045's quoted-printable, decoded: soft line breaks joined, `=XX`
/// bytes restored.
fn quoted_printable(s: &str) -> String {
    let s = s.replace("=\n", "");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Waits (up to a minute) for a mail to `to` matching `pred`.
fn wait_mail(maildir: &Path, to: &str, pred: impl Fn(&Mail) -> bool) -> Mail {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(m) = mails(maildir)
            .into_iter()
            .find(|m| m.to.contains(to) && pred(m))
        {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "no such mail to {to}; got {:#?}",
            mails(maildir)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A form POST the SMS receiver got: its path, `Authorization` and fields.
#[derive(Debug)]
struct Text {
    path: String,
    authorization: String,
    fields: Vec<(String, String)>,
}

/// An SMS provider's API on a free port: answers 201 with a message id.
fn sms_receiver() -> (u16, mpsc::Receiver<Text>) {
    let (port, requests) = http_receiver("201 Created", r#"{"sid":"SM1","status":"queued"}"#);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for r in requests {
            let _ = tx.send(Text {
                authorization: r.headers.get("authorization").cloned().unwrap_or_default(),
                fields: form_urlencoded(&r.body),
                path: r.path,
            });
        }
    });
    (port, rx)
}

/// `application/x-www-form-urlencoded`, decoded.
fn form_urlencoded(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%'
                && i + 2 < bytes.len()
                && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
            {
                out.push(b);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_are_emailed_on_call_texted_and_a_patient_reads_the_answer_with_a_code() {
    if !aiosmtpd_installed() {
        eprintln!(
            "SKIPPED staff_are_emailed_on_call_texted_and_a_patient_reads_the_answer_with_a_code: \
             missing Python's aiosmtpd (tests/install.sh installs it)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mail = smtp(dir.path());
    let (sms_port, texts) = sms_receiver();
    let listen = format!("127.0.0.1:{}", free_port());
    let public = format!("http://{listen}");
    let smtp_port = mail.port.to_string();
    let sms_url = format!("http://127.0.0.1:{sms_port}/2010-04-01/Accounts/AC1/Messages.json");
    let server = Server::start_at(
        &listen,
        &[
            ("CARECHAT_CLINIC__NAME", "Maple Clinic"),
            ("CARECHAT_NOTIFY__PUBLIC_URL", &public),
            ("CARECHAT_NOTIFY__EMAIL_EVERY_MINUTES", "1"),
            ("CARECHAT_NOTIFY__ON_CALL", "[\"+15550100001\"]"),
            ("CARECHAT_NOTIFY__SMTP__HOST", "localhost"),
            ("CARECHAT_NOTIFY__SMTP__PORT", &smtp_port),
            ("CARECHAT_NOTIFY__SMTP__SECURITY", "starttls"),
            (
                "CARECHAT_NOTIFY__SMTP__FROM",
                "Maple Clinic <chat@maple.test>",
            ),
            ("CARECHAT_NOTIFY__SMTP__CA_FILE", mail.ca.to_str().unwrap()),
            ("CARECHAT_NOTIFY__SMS__URL", &sms_url),
            ("CARECHAT_NOTIFY__SMS__USERNAME", "AC1"),
            ("CARECHAT_NOTIFY__SMS__PASSWORD", "sms-token"),
            ("CARECHAT_NOTIFY__SMS__FROM", "\"+15550100000\""),
        ],
    );
    server.add_user(
        "nurse",
        "clinician",
        "nursing,front_desk",
        "en",
        "correct horse battery",
    );
    let db = server.db_path();
    run_carechat(
        &[
            "user",
            "set",
            "nurse",
            "--email",
            "nurse@maple.test",
            "--db",
            db.to_str().unwrap(),
        ],
        "",
    );

    // Nobody is online: the patient leaves their email address.
    let mut patient = Patient::connect(&server, "").await;
    let question = "I need my blood test results, this is Zelda Quartermaine";
    patient.send(question).await;
    patient
        .next_where(|f| f["type"] == "status" && f["state"] == "offline")
        .await;
    patient
        .send_raw(
            &json!({"type": "contact", "channel": "email", "contact": "zelda@example.org",
                    "best_time": "mornings"})
            .to_string(),
        )
        .await;
    patient
        .next_where(|f| f["type"] == "status" && f["contact_left"] == true)
        .await;

    // The nurse's console is closed: one email, counts and a link only.
    let digest = wait_mail(&mail.maildir, "nurse@maple.test", |m| {
        m.subject.contains("waiting")
    });
    assert!(digest.subject.contains("1 chat waiting"), "{digest:?}");
    assert!(digest.body.contains("1 left a message"), "{digest:?}");
    assert!(
        digest.body.contains(&format!("{public}/console")),
        "{digest:?}"
    );
    for secret in ["Zelda", "Quartermaine", "zelda@example.org", "blood"] {
        assert!(!digest.raw.contains(secret), "{secret} in {digest:?}");
    }

    // An urgent chat texts the on-call number, with no words of it.
    let mut urgent = Patient::connect(&server, "").await;
    urgent
        .send("I have crushing chest pain and my left arm is numb")
        .await;
    let text = texts
        .recv_timeout(Duration::from_secs(60))
        .expect("a text message to the on-call number");
    assert_eq!(text.path, "/2010-04-01/Accounts/AC1/Messages.json");
    let basic = base64_of("AC1:sms-token");
    assert_eq!(text.authorization, format!("Basic {basic}"));
    let field = |k: &str| {
        text.fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(field("To"), "+15550100001");
    assert_eq!(field("From"), "+15550100000");
    assert!(field("Body").contains("urgent chat"), "{text:?}");
    assert!(!field("Body").contains("chest"), "{text:?}");
    drop(urgent);

    // The nurse answers in the chat, then sends the patient a link.
    let nurse = server.login("nurse", "correct horse battery");
    let (status, left) = nurse.get("/api/left-messages");
    assert_eq!(status, 200, "{left}");
    let item = left["left"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["conversation"] == patient.conversation.as_str())
        .cloned()
        .expect("the left message is listed");
    assert_eq!(item["contact"], "zelda@example.org");
    let id = item["id"].as_i64().unwrap();
    let (status, early) = nurse.post(&format!("/api/left-messages/{id}/notify"), json!({}));
    assert_eq!(status, 409, "nothing answered yet: {early}");
    let path = format!("/api/conversations/{}", patient.conversation);
    assert_eq!(nurse.post(&format!("{path}/take"), json!({})).0, 200);
    let answer = "Your results are normal. No need to come in.";
    assert_eq!(
        nurse
            .post(&format!("{path}/messages"), json!({"text": answer}))
            .0,
        201
    );
    let (status, told) = nurse.post(&format!("/api/left-messages/{id}/notify"), json!({}));
    assert_eq!(status, 200, "{told}");
    assert!(told["left"]["replied_at"].is_string(), "{told}");
    let note = wait_mail(&mail.maildir, "zelda@example.org", |m| {
        m.body.contains("/reply#")
    });
    assert!(note.subject.contains("Maple Clinic answered"), "{note:?}");
    assert!(!note.raw.contains("results are normal"), "{note:?}");
    let token: String = note
        .body
        .split("/reply#")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    assert_eq!(token.len(), 64, "{note:?}");

    // The patient asks for a code; a wrong one is refused, the right one
    // shows the answer.
    let (status, _) = anon_post(
        &format!("{}/api/reply/code", server.base),
        json!({"link": token}),
    );
    assert_eq!(status, 204);
    let code_mail = wait_mail(&mail.maildir, "zelda@example.org", |m| {
        m.subject.contains("code")
    });
    let code: String = code_mail
        .body
        .split("code is ")
        .nth(1)
        .unwrap()
        .chars()
        .take(6)
        .collect();
    assert!(code.chars().all(|c| c.is_ascii_digit()), "{code_mail:?}");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, _) = anon_post(
        &format!("{}/api/reply", server.base),
        json!({"link": token, "code": wrong}),
    );
    assert_eq!(status, 403);
    let (status, again) = anon_post(
        &format!("{}/api/reply/code", server.base),
        json!({"link": token}),
    );
    assert_eq!(status, 429, "one code a minute: {again}");
    let (status, thread) = anon_post(
        &format!("{}/api/reply", server.base),
        json!({"link": token, "code": code}),
    );
    assert_eq!(status, 200, "{thread}");
    let said: Vec<&str> = thread["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(said.contains(&answer), "{said:?}");
    assert!(
        said.contains(&question),
        "the patient's own words: {said:?}"
    );

    // No address, number, code or word of the patients in the server's log.
    let log = server.log();
    for secret in [
        "zelda@example.org",
        "+15550100001",
        "Quartermaine",
        "chest pain",
        &code,
        &token,
    ] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
}

fn base64_of(s: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = s.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
