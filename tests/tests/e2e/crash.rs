//! Acknowledged means stored (docs/protocol.md): patients write steadily,
//! each message named (`ref`) and counted once its `ack` comes; a server
//! is killed with SIGKILL mid-stream, and every acknowledged message is
//! read back from the database itself: one node on SQLite and on
//! PostgreSQL (started again on the same database), and one node of two
//! on PostgreSQL (its patients go on with the other node, in the same
//! chats). The PostgreSQL runs are skipped, saying so, where no server
//! answers outside CI.

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

/// Writes from [`PATIENTS`] sockets spread over `servers` until
/// [`ACKED_BEFORE_KILL`] messages are acknowledged, kills the first server
/// then, and checks that the database holds every acknowledged message.
/// With one server it is started again first; with more, the patients of
/// the killed one reconnect to the next with their resume token, find
/// their chat, and write on (each message acknowledged there too).
async fn acknowledged_messages_survive_a_kill(servers: &mut [Server]) {
    let acked: Arc<Mutex<BTreeSet<i64>>> = Arc::default();
    let (enough_tx, mut enough) = tokio::sync::watch::channel(false);
    // Set once the server is killed: every writer then writes a few more
    // messages (on the node left, or on the other node once it moved)
    // and stops.
    let (killed_tx, killed) = tokio::sync::watch::channel(false);
    let mut writers = tokio::task::JoinSet::new();
    let fallback = servers.get(1).map(|s| s.ws_url("/ws/patient"));
    let movers: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
    for p in 0..PATIENTS {
        let mut patient = Patient::connect(&servers[p % servers.len()], "?lang=en").await;
        let on_first = p % servers.len() == 0;
        let fallback = fallback.clone().filter(|_| on_first);
        let acked = acked.clone();
        let enough_tx = enough_tx.clone();
        let killed = killed.clone();
        let movers = movers.clone();
        writers.spawn(async move {
            let mut i = 0;
            let mut moved = false;
            let mut after_kill = 0;
            loop {
                i += 1;
                let name = format!("p{p}m{i}");
                let frame = json!({"type": "message", "text": QUESTIONS[(p + i) % 6], "ref": name});
                let mut sent = patient.try_send_raw(&frame.to_string()).await;
                while sent {
                    let Some(f) = patient.next_frame().await else {
                        sent = false;
                        break;
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
                if sent {
                    if *killed.borrow() {
                        after_kill += 1;
                        if after_kill >= 3 {
                            return;
                        }
                    }
                    continue;
                }
                // The server is gone: to the other node, with the resume
                // token, when there is one.
                let (Some(url), false) = (&fallback, moved) else {
                    return;
                };
                let conversation = patient.conversation.clone();
                patient =
                    Patient::connect_at(&format!("{url}?lang=en&resume={}", patient.resume)).await;
                assert_eq!(
                    patient.conversation, conversation,
                    "the same chat on the other node"
                );
                moved = true;
                movers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }
    enough.wait_for(|e| *e).await.unwrap();
    servers[0].kill();
    killed_tx.send(true).unwrap();
    while let Some(done) = writers.join_next().await {
        done.expect("a writer panicked");
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= ACKED_BEFORE_KILL);
    if servers.len() > 1 {
        // Every patient of the killed node went on with the other.
        let on_killed = (0..PATIENTS).filter(|p| p % servers.len() == 0).count();
        assert_eq!(movers.load(std::sync::atomic::Ordering::Relaxed), on_killed);
    }

    if servers.len() == 1 {
        servers[0].start_again();
    }
    let alive = &servers[servers.len() - 1];
    let stored = stored_patient_messages(&alive.db).await;
    let lost: Vec<&i64> = acked.difference(&stored).collect();
    eprintln!(
        "acknowledged {} messages; {} patient messages stored",
        acked.len(),
        stored.len()
    );
    assert!(
        lost.is_empty(),
        "acknowledged but not stored after kill -9: {lost:?}"
    );
    // And the clinic is served on.
    let mut patient = Patient::connect(alive, "?lang=en").await;
    patient.send("What are your opening hours?").await;
    patient.next_where(|f| f["type"] == "ack").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_under_load_loses_no_acknowledged_message_on_sqlite() {
    let server = Server::start_with(&ENV);
    acknowledged_messages_survive_a_kill(&mut [server]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_under_load_loses_no_acknowledged_message_on_postgres() {
    let Some(pg) =
        Postgres::create("kill_9_under_load_loses_no_acknowledged_message_on_postgres").await
    else {
        return;
    };
    let keys = tempfile::tempdir().unwrap();
    let server = Server::start_on_postgres(&pg, keys.path(), &ENV);
    acknowledged_messages_survive_a_kill(&mut [server]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_of_one_node_of_two_loses_no_acknowledged_message_and_its_patients_go_on() {
    let Some(pg) = Postgres::create(
        "kill_9_of_one_node_of_two_loses_no_acknowledged_message_and_its_patients_go_on",
    )
    .await
    else {
        return;
    };
    let keys = tempfile::tempdir().unwrap();
    let a = Server::start_on_postgres(&pg, keys.path(), &ENV);
    let b = Server::start_on_postgres(&pg, keys.path(), &ENV);
    acknowledged_messages_survive_a_kill(&mut [a, b]).await;
}
