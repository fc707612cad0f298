//! Two nodes, one clinic: two `carechat serve` processes on one PostgreSQL
//! database and one server key (docs/deploy.md, "Several nodes"). A patient
//! on one node and a nurse on the other chat both ways; two clinicians on
//! different nodes taking the same chats at the same moment never both get
//! one. (The crash of a node under load is in `crash.rs`.) Skipped, saying
//! so, where no PostgreSQL server answers outside CI.

use std::time::Duration;

use carechat_e2e::{Clinician, Patient, Postgres, Server, Socket};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const PASSWORD: &str = "correct horse battery";

/// A clinician's console socket on `server`, once the server said hello.
async fn console(server: &Server, who: &Clinician) -> Socket {
    let mut socket = who.console(server).await;
    next_where(&mut socket, |f| f["type"] == "hello").await;
    socket
}

/// The console's next frame matching `pred`, within 30 seconds.
async fn next_where(socket: &mut Socket, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let msg = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("no matching console frame in 30 s")
            .expect("the console's socket closed")
            .expect("the console's socket failed");
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if pred(&v) {
                return v;
            }
        }
    }
}

/// Two nodes on a fresh database, or `None` (skipped) without PostgreSQL.
async fn two_nodes(test: &str) -> Option<(Postgres, tempfile::TempDir, Server, Server)> {
    let pg = Postgres::create(test).await?;
    let keys = tempfile::tempdir().unwrap();
    let a = Server::start_on_postgres(&pg, keys.path(), &[]);
    let b = Server::start_on_postgres(&pg, keys.path(), &[]);
    Some((pg, keys, a, b))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_patient_on_one_node_and_a_nurse_on_the_other_chat() {
    let Some((_pg, _keys, a, b)) =
        two_nodes("a_patient_on_one_node_and_a_nurse_on_the_other_chat").await
    else {
        return;
    };
    a.add_user("nurse", "clinician", "nursing", "en", PASSWORD);
    // Signed in on node B (the session and the server key are shared).
    let nurse = b.login("nurse", PASSWORD);
    let mut desk = console(&b, &nurse).await;
    let (status, _) = nurse.post("/api/me/status", json!({"status": "available"}));
    assert_eq!(status, 200);

    let mut patient = Patient::connect(&a, "?lang=en").await;
    let conversation = patient.conversation.clone();
    patient
        .send("I would like to talk to a nurse about a rash on my arm")
        .await;
    // Node A routed it to the nurse on node B: both sides are told.
    next_where(&mut desk, |f| {
        f["type"] == "assigned" && f["conversation"] == conversation.as_str()
    })
    .await;
    let status = patient
        .next_where(|f| f["type"] == "status" && f["state"] == "assigned")
        .await;
    assert!(
        status["clinician"].as_str().is_some_and(|n| !n.is_empty()),
        "{status}"
    );

    // The nurse writes on B; the patient on A reads it.
    let (code, _) = nurse.post(
        &format!("/api/conversations/{conversation}/messages"),
        json!({"text": "Hello, this is the nurse. How long have you had the rash?"}),
    );
    assert_eq!(code, 201);
    let reply = patient
        .next_where(|f| f["type"] == "message" && f["from"] == "clinician")
        .await;
    assert!(
        reply["text"].as_str().unwrap().contains("How long"),
        "{reply}"
    );
    // The patient answers on A; the nurse's console on B has it live.
    patient.send("About three days, and it itches").await;
    let live = next_where(&mut desk, |f| {
        f["type"] == "message" && f["conversation"] == conversation.as_str()
    })
    .await;
    assert_eq!(live["message"]["text"], "About three days, and it itches");
    // Either node shows the same chat the same way.
    for node in [&a, &b] {
        let (code, body) = node
            .login("nurse", PASSWORD)
            .get(&format!("/api/conversations/{conversation}"));
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["conversation"]["state"], "assigned");
        assert!(body["messages"].as_array().unwrap().len() >= 4, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn clinicians_on_two_nodes_taking_the_same_chats_at_once_never_both_get_one() {
    let Some((_pg, _keys, a, b)) =
        two_nodes("clinicians_on_two_nodes_taking_the_same_chats_at_once_never_both_get_one").await
    else {
        return;
    };
    a.add_user("ana", "clinician", "nursing", "en", PASSWORD);
    a.add_user("ben", "clinician", "nursing", "en", PASSWORD);
    let ana = a.login("ana", PASSWORD);
    let ben = b.login("ben", PASSWORD);
    // Online (a console open) but busy: chats wait in the queue.
    let _ana_desk = console(&a, &ana).await;
    let _ben_desk = console(&b, &ben).await;
    for who in [&ana, &ben] {
        assert_eq!(who.post("/api/me/status", json!({"status": "busy"})).0, 200);
    }

    let mut chats = Vec::new();
    for n in 0..6 {
        let node = if n % 2 == 0 { &a } else { &b };
        let mut patient = Patient::connect(node, "?lang=en").await;
        patient
            .send("I would like to talk to a nurse about a rash on my arm")
            .await;
        patient
            .next_where(|f| f["type"] == "status" && f["state"] == "queued")
            .await;
        chats.push((patient.conversation.clone(), patient));
    }
    let ana_id = ana.get("/api/me").1["user"]["id"].clone();
    let ben_id = ben.get("/api/me").1["user"]["id"].clone();
    for (conversation, _patient) in &chats {
        let path = format!("/api/conversations/{conversation}/take");
        let (ana_take, ben_take) = std::thread::scope(|s| {
            let ana_take = s.spawn(|| ana.post(&path, json!({})).0);
            let ben_take = s.spawn(|| ben.post(&path, json!({})).0);
            (ana_take.join().unwrap(), ben_take.join().unwrap())
        });
        let mut codes = [ana_take, ben_take];
        codes.sort();
        assert_eq!(
            codes,
            [200, 409],
            "{conversation}: ana {ana_take}, ben {ben_take}"
        );
        let (winner, id) = if ana_take == 200 {
            ("ana", &ana_id)
        } else {
            ("ben", &ben_id)
        };
        // Both nodes say so.
        for node in [&a, &b] {
            let (_, body) = node
                .login(winner, PASSWORD)
                .get(&format!("/api/conversations/{conversation}"));
            assert_eq!(&body["conversation"]["assigned_to"], id, "{body}");
        }
    }
}

/// docs/deploy/haproxy.cfg, run as it is but for its addresses: its
/// frontend on `listen`, its two servers `a` and `b`.
fn haproxy(
    listen: u16,
    a: &Server,
    b: &Server,
) -> Option<(std::process::Child, tempfile::TempDir)> {
    let bin = ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())?;
    let sample =
        std::fs::read_to_string(carechat_e2e::repo_root().join("docs/deploy/haproxy.cfg")).unwrap();
    let host = |s: &Server| s.base.trim_start_matches("http://").to_string();
    let config = sample
        .replace("bind :8080", &format!("bind 127.0.0.1:{listen}"))
        .replace("10.0.0.11:8080", &host(a))
        .replace("10.0.0.12:8080", &host(b))
        // This container allows 20,000 open files.
        .replace("maxconn 100000", "maxconn 4000");
    assert_ne!(config, sample);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("haproxy.cfg");
    std::fs::write(&file, config).unwrap();
    let child = std::process::Command::new(bin)
        .arg("-f")
        .arg(&file)
        .arg("-db")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("starting haproxy");
    Some((child, dir))
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_the_sample_haproxy_a_dead_nodes_patients_go_on_with_the_other() {
    let Some((_pg, _keys, mut a, b)) =
        two_nodes("behind_the_sample_haproxy_a_dead_nodes_patients_go_on_with_the_other").await
    else {
        return;
    };
    let port = carechat_e2e::free_port();
    let Some((mut balancer, _config)) = haproxy(port, &a, &b) else {
        eprintln!(
            "SKIPPED behind_the_sample_haproxy_a_dead_nodes_patients_go_on_with_the_other: \
             haproxy is not installed (Debian: apt-get install haproxy; tests/install.sh does)"
        );
        return;
    };
    let front = format!("ws://127.0.0.1:{port}/ws/patient");
    // Ready when both nodes pass its health check.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !matches!(
        ureq::get(&format!("http://127.0.0.1:{port}/readyz")).call(),
        Ok(r) if r.status() == 200
    ) {
        assert!(
            std::time::Instant::now() < deadline,
            "haproxy never answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Four patients through the balancer: two on each node.
    let mut patients = Vec::new();
    for _ in 0..4 {
        let mut p = Patient::connect_at(&format!("{front}?lang=en")).await;
        if let Some(consent) = p.frames.iter().find(|f| f["type"] == "consent").cloned() {
            p.send_raw(&json!({"type": "consent", "version": consent["version"]}).to_string())
                .await;
            p.next_where(|f| f["type"] == "consent_accepted").await;
        }
        p.send("What are your opening hours?").await;
        p.next_where(|f| f["type"] == "ack").await;
        patients.push(p);
    }
    a.kill();
    let mut moved = 0;
    for p in &mut patients {
        // Whoever was on the dead node finds their socket closed...
        let frame = json!({"type": "message", "text": "Do you take Delta Dental insurance?", "ref": "after"});
        let sent = p.try_send_raw(&frame.to_string()).await;
        let acked = sent
            && loop {
                match p.next_frame().await {
                    Some(f) if f["type"] == "ack" && f["ref"] == "after" => break true,
                    Some(_) => continue,
                    None => break false,
                }
            };
        if acked {
            continue;
        }
        // ...and reconnects through the balancer, to the same chat.
        moved += 1;
        let conversation = p.conversation.clone();
        *p = Patient::connect_at(&format!("{front}?lang=en&resume={}", p.resume)).await;
        assert_eq!(p.conversation, conversation);
        p.send("Do you take Delta Dental insurance?").await;
        p.next_where(|f| f["type"] == "ack").await;
        p.next_where(|f| f["type"] == "message" && f["from"] == "bot")
            .await;
    }
    assert!(moved >= 1, "no patient was on the killed node");
    let _ = balancer.kill();
    let _ = balancer.wait();
}
