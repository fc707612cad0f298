//! A graceful shutdown: SIGTERM, as systemd or a container runtime sends
//! it. The server stops taking connections, answers the patient's message
//! that had already arrived, closes the patient's and the clinician's
//! sockets with 1012 ("Service Restart": reconnect), and exits 0. Started
//! again on the same database, the patient's resume token brings back the
//! same chat with the answer in it.

use carechat_e2e::{Patient, Server};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_answers_what_arrived_tells_sockets_to_reconnect_and_exits_cleanly() {
    let mut server = Server::start();
    server.add_user(
        "nurse",
        "clinician",
        "nursing",
        "en",
        "correct horse battery",
    );
    let nurse = server.login("nurse", "correct horse battery");
    let mut console = nurse.console(&server).await;

    let mut patient = Patient::connect(&server, "?lang=en").await;
    let resume = patient.resume.clone();
    let conversation = patient.conversation.clone();
    // Sent, and at once the server is told to stop: the message has
    // arrived, and is answered before the socket closes.
    patient.send("What are your opening hours?").await;
    let stopping = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (server, status)
    });
    let code = patient.until_closed().await;
    assert_eq!(code, Some(1012), "frames: {:#?}", patient.frames);
    let answer = patient
        .frames
        .iter()
        .find(|f| f["type"] == "message" && f["from"] == "bot")
        .unwrap_or_else(|| panic!("no answer before the close: {:#?}", patient.frames));
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("open"),
        "{answer}"
    );

    // The console is told to reconnect too.
    let close = loop {
        match console.next().await {
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            other => panic!("the console's socket ended without a close: {other:?}"),
        }
    };
    assert_eq!(close, Some(1012));

    let (mut server, status) = stopping.await.unwrap();
    assert!(status.success(), "exited {status}");
    let log = server.log();
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("shut down cleanly"), "{log}");
    // At start it raised (or reported) its open-file limit: one per socket.
    assert!(log.contains("open-file limit"), "{log}");

    // Back: the same chat, with its answer.
    server.start_again();
    let back = Patient::connect(&server, &format!("?lang=en&resume={resume}")).await;
    assert_eq!(back.conversation, conversation);
    // History comes between the welcome and the status.
    let history = back
        .frames
        .iter()
        .find(|f| f["type"] == "history")
        .expect("the chat's history");
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(texts.contains(&"What are your opening hours?"), "{texts:?}");
}
