//! Acknowledged means stored (docs/protocol.md): patients write steadily,
//! each message named (`ref`) and counted once its `ack` comes; the server
//! is killed with SIGKILL mid-stream, started again on the same database,
//! and every acknowledged message is read back from the database itself.
//! On SQLite and on PostgreSQL (skipped, saying so, where no PostgreSQL
//! server answers outside CI).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use carechat_e2e::{Patient, Postgres, Server, stored_patient_messages};
use serde_json::json;

/// Patients writing at once.
const PATIENTS: usize = 6;
/// Acknowledged messages before the kill.
const ACKED_BEFORE_KILL: usize = 120;

/// What patients ask, in turn (varied, as a flood of one line would be
/// caught as spam).
const QUESTIONS: [&str; 6] = [
    "What are your opening hours?",
    "Can I book a cleaning next week?",
    "Do you take Delta Dental insurance?",
    "Where do I park when I visit?",
    "How do I get a refill of my prescription?",
    "Is the clinic open on Saturday morning?",
];

/// The server configuration for a steady load: no per-chat rate limit in
/// the way.
const ENV: [(&str, &str); 1] = [("CARECHAT_LIMITS__MESSAGES_PER_CONVERSATION", "100000")];

/// Writes from [`PATIENTS`] sockets until [`ACKED_BEFORE_KILL`] messages
/// are acknowledged, kills the server then, starts it again, and checks
/// that the database holds every acknowledged message.
async fn acknowledged_messages_survive_a_kill(server: &mut Server) {
    let acked: Arc<Mutex<BTreeSet<i64>>> = Arc::default();
    let (enough_tx, mut enough) = tokio::sync::watch::channel(false);
    let mut writers = tokio::task::JoinSet::new();
    for p in 0..PATIENTS {
        let mut patient = Patient::connect(server, "?lang=en").await;
        let acked = acked.clone();
        let enough_tx = enough_tx.clone();
        writers.spawn(async move {
            for i in 0.. {
                let name = format!("p{p}m{i}");
                let frame = json!({"type": "message", "text": QUESTIONS[(p + i) % 6], "ref": name});
                if !patient.try_send_raw(&frame.to_string()).await {
                    return;
                }
                loop {
                    let Some(f) = patient.next_frame().await else {
                        return;
                    };
                    if f["type"] == "ack" {
                        let mut acked = acked.lock().unwrap();
                        acked.insert(f["id"].as_i64().expect("an ack carries the stored id"));
                        if acked.len() >= ACKED_BEFORE_KILL {
                            let _ = enough_tx.send(true);
                        }
                        if f["ref"] == name {
                            break;
                        }
                    } else if f["type"] == "error" {
                        // Refused, so not stored: on to the next.
                        break;
                    }
                }
            }
        });
    }
    enough.wait_for(|e| *e).await.unwrap();
    server.kill();
    while let Some(done) = writers.join_next().await {
        done.expect("a writer panicked");
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= ACKED_BEFORE_KILL);

    server.start_again();
    let stored = stored_patient_messages(&server.db).await;
    let lost: Vec<&i64> = acked.difference(&stored).collect();
    eprintln!(
        "acknowledged {} messages before the kill; {} patient messages stored",
        acked.len(),
        stored.len()
    );
    assert!(
        lost.is_empty(),
        "acknowledged but not stored after kill -9: {lost:?}"
    );
    // And the server serves on.
    let mut patient = Patient::connect(server, "?lang=en").await;
    patient.send("What are your opening hours?").await;
    patient.next_where(|f| f["type"] == "ack").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_under_load_loses_no_acknowledged_message_on_sqlite() {
    let mut server = Server::start_with(&ENV);
    acknowledged_messages_survive_a_kill(&mut server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_under_load_loses_no_acknowledged_message_on_postgres() {
    let Some(pg) =
        Postgres::create("kill_9_under_load_loses_no_acknowledged_message_on_postgres").await
    else {
        return;
    };
    let keys = tempfile::tempdir().unwrap();
    let mut server = Server::start_on_postgres(&pg, keys.path(), &ENV);
    acknowledged_messages_survive_a_kill(&mut server).await;
}
