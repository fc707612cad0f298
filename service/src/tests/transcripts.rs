//! Transcripts: the practice's copy for the holder and admins only, the
//! patient's copy on their socket and through a one-time link, and
//! ephemeral mode handing each closed chat to the courier before it is
//! deleted.

use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;

use router::Policy;
use store::{Conversations, Moderation, Role};

use super::*;
use crate::ServiceError;
use crate::transcript::{Copy, Format, LINK_TTL_SECS, fhir, html};

const TYPED: &str = "my bill is wrong, this is Maria, card 4111 1111 1111 1111";
const MASKED: &str = "my bill is wrong, this is Maria, card •••• •••• •••• 1111";

#[tokio::test]
async fn the_practice_copy_is_for_the_holder_and_admins_with_the_words_as_typed() {
    let clinic = Clinic::new(Policy::default()).await;
    let bella = clinic.user("Bella", &["billing"], &["en"]).await;
    let nate = clinic.user("Nate", &["billing"], &["en"]).await;
    let ada = clinic.account("Ada", Role::Admin, &[], &["en"]).await;
    let otto = clinic.account("Otto", Role::Auditor, &[], &[]).await;
    let _console = clinic.online(&bella).await;
    let bill = clinic.patient("en").await;
    bill.say(TYPED).await;
    clinic
        .service
        .clinician_message(bill.id(), &bella, "Thanks Maria, I am fixing it")
        .await
        .unwrap();
    clinic.service.close(bill.id(), &bella, None).await.unwrap();

    let t = clinic
        .service
        .practice_transcript(bill.id(), &bella, Format::Html, Some("10.0.0.4".into()))
        .await
        .unwrap();
    let page = html(&t, Copy::Practice);
    assert!(page.contains(MASKED), "{page}");
    assert!(!page.contains("4111 1111 1111 1111"));
    assert!(page.contains("Thanks Maria, I am fixing it"));
    assert!(page.contains("Patient") && page.contains("Bella"));
    assert!(
        page.contains(" · ended "),
        "a closed chat says when it ended"
    );
    // No script, nothing fetched from elsewhere: it prints as it is.
    assert!(!page.contains("<script") && !page.contains("http"));

    let bundle = fhir(
        &clinic
            .service
            .practice_transcript(bill.id(), &ada, Format::Fhir, None)
            .await
            .unwrap(),
    );
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");
    let entries = bundle["entry"].as_array().unwrap();
    let stored = clinic.store.messages(bill.id()).await.unwrap();
    assert_eq!(entries.len(), stored.len());
    let first = &entries[0]["resource"];
    assert_eq!(first["resourceType"], "Communication");
    assert_eq!(first["status"], "completed");
    assert_eq!(first["payload"][0]["contentString"], MASKED);
    assert_eq!(first["sent"], stored[0].created_at.rfc3339());
    assert_eq!(first["category"][0]["coding"][0]["code"], "patient");

    // A colleague who never had it, and an auditor, get nothing.
    for who in [&nate, &otto] {
        assert!(matches!(
            clinic
                .service
                .practice_transcript(bill.id(), who, Format::Html, None)
                .await,
            Err(ServiceError::Forbidden(_))
        ));
    }
    let trail: Vec<(String, Option<store::UserId>, String, Option<String>)> = clinic
        .store
        .audit_log(10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "transcript")
        .map(|e| (e.subject, e.actor_id, e.detail, e.address))
        .collect();
    let id = bill.id().as_str().to_string();
    assert_eq!(
        trail,
        [
            (id.clone(), Some(ada.id), "fhir".into(), None),
            (id, Some(bella.id), "html".into(), Some("10.0.0.4".into())),
        ]
    );
}

#[tokio::test]
async fn the_patient_gets_their_own_copy_on_their_socket() {
    let clinic = Clinic::new(Policy::default()).await;
    let bella = clinic.user("Bella", &["billing"], &["en"]).await;
    let _console = clinic.online(&bella).await;
    let mut bill = clinic.patient("en").await;
    bill.say(TYPED).await;
    clinic.service.close(bill.id(), &bella, None).await.unwrap();
    bill.frames();
    bill.session
        .transcript(Some("hashed".into()))
        .await
        .unwrap();
    let frames = bill.frames();
    let sent = of_type(&frames, "transcript");
    assert_eq!(sent.len(), 1);
    let page = sent[0]["html"].as_str().unwrap();
    assert!(page.contains("Your chat transcript"));
    assert!(page.contains("You") && page.contains(MASKED), "{page}");
    assert!(
        sent[0]["filename"]
            .as_str()
            .unwrap()
            .starts_with("chat-transcript-")
    );
    let line = &clinic.store.audit_log(1).await.unwrap()[0];
    assert_eq!(
        (line.action.as_str(), line.detail.as_str(), line.actor_id),
        ("transcript_patient", "socket", None)
    );
    assert_eq!(line.address.as_deref(), Some("hashed"));
}

#[tokio::test]
async fn a_one_time_link_works_once_and_not_after_it_expires() {
    let clinic = Clinic::new(Policy::default()).await;
    let bella = clinic.user("Bella", &["billing"], &["en"]).await;
    let nate = clinic.user("Nate", &["billing"], &["en"]).await;
    let _console = clinic.online(&bella).await;
    let bill = clinic.patient("en").await;
    bill.say(TYPED).await;
    clinic.service.close(bill.id(), &bella, None).await.unwrap();

    assert!(matches!(
        clinic.service.transcript_link(bill.id(), &nate, None).await,
        Err(ServiceError::Forbidden(_))
    ));
    let (token, expires) = clinic
        .service
        .transcript_link(bill.id(), &bella, None)
        .await
        .unwrap();
    assert_eq!(expires, clinic.service.clock.now().plus_secs(LINK_TTL_SECS));
    let t = clinic
        .service
        .linked_transcript(&token.0, None)
        .await
        .unwrap();
    assert_eq!(&t.conversation, bill.id());
    assert!(html(&t, Copy::Patient).contains(MASKED));
    // Used once: gone, answered as any unknown token is.
    for token in [token.0.as_str(), &"0".repeat(64), "short"] {
        assert!(matches!(
            clinic.service.linked_transcript(token, None).await,
            Err(ServiceError::NotFound(_))
        ));
    }
    // One not used in time stops working.
    let (late, _) = clinic
        .service
        .transcript_link(bill.id(), &bella, None)
        .await
        .unwrap();
    let now = clinic.service.clock.now();
    clinic.set_clock(now.plus_secs(LINK_TTL_SECS));
    assert!(matches!(
        clinic.service.linked_transcript(&late.0, None).await,
        Err(ServiceError::NotFound(_))
    ));
    // Deleting the chat deletes its links.
    clinic.set_clock(now);
    let (third, _) = clinic
        .service
        .transcript_link(bill.id(), &bella, None)
        .await
        .unwrap();
    let ada = clinic.account("Ada", Role::Admin, &[], &["en"]).await;
    clinic
        .service
        .delete_conversation(bill.id(), &ada, None)
        .await
        .unwrap();
    assert!(matches!(
        clinic.service.linked_transcript(&third.0, None).await,
        Err(ServiceError::NotFound(_))
    ));
    let links: Vec<String> = clinic
        .store
        .audit_log(20)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("transcript"))
        .map(|e| format!("{} {}", e.action, e.detail))
        .collect();
    assert_eq!(
        links,
        [
            "transcript_link ",
            "transcript_link ",
            "transcript_patient link",
            "transcript_link "
        ]
    );
}

/// The clinic's endpoint, as ephemeral mode sees it: refuses the first
/// `failures` deliveries, then keeps what it is sent. (The server's real
/// courier, an HTTPS webhook, is tested end to end in `tests/`.)
struct Endpoint {
    failures: AtomicUsize,
    got: Mutex<Vec<(store::ConversationId, serde_json::Value)>>,
}

#[async_trait::async_trait]
impl crate::Courier for Endpoint {
    async fn deliver(
        &self,
        conversation: &store::ConversationId,
        body: Vec<u8>,
    ) -> Result<(), String> {
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err("the endpoint answered 503".into());
        }
        self.got
            .lock()
            .unwrap()
            .push((conversation.clone(), serde_json::from_slice(&body).unwrap()));
        Ok(())
    }
}

#[tokio::test]
async fn ephemeral_mode_delivers_each_closed_chat_then_deletes_it_retrying_until_it_lands() {
    use crate::retention::{Delivered, backoff_secs};
    let endpoint = Arc::new(Endpoint {
        failures: AtomicUsize::new(2),
        got: Mutex::new(Vec::new()),
    });
    let clinic = Clinic::ephemeral(endpoint.clone()).await;
    let bella = clinic.user("Bella", &["billing"], &["en"]).await;
    let _console = clinic.online(&bella).await;
    let bill = clinic.patient("en").await;
    bill.say(TYPED).await;
    let id = bill.id().clone();
    // Nothing is owed while the chat is open.
    assert_eq!(
        clinic.service.deliver_transcripts().await.unwrap(),
        Delivered::default()
    );
    clinic.service.close(&id, &bella, None).await.unwrap();

    // The endpoint is down: the chat stays, sealed, and is retried later.
    let failed = Delivered { sent: 0, failed: 1 };
    assert_eq!(clinic.service.deliver_transcripts().await.unwrap(), failed);
    assert_eq!(clinic.store.originals(&id).await.unwrap().len(), 1);
    let start = clinic.service.clock.now();
    assert_eq!(backoff_secs(1), 15);
    clinic.set_clock(start.plus_secs(14));
    assert_eq!(
        clinic.service.deliver_transcripts().await.unwrap(),
        Delivered::default(),
        "not before its backoff"
    );
    clinic.set_clock(start.plus_secs(15));
    assert_eq!(clinic.service.deliver_transcripts().await.unwrap(), failed);
    assert_eq!(backoff_secs(2), 30);
    clinic.set_clock(start.plus_secs(15 + 30));
    assert_eq!(
        clinic.service.deliver_transcripts().await.unwrap(),
        Delivered { sent: 1, failed: 0 }
    );

    // Delivered once, with the words as typed; then nothing is left of it
    // but the audit trail.
    let got = endpoint.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, id);
    assert_eq!(
        got[0].1["entry"][0]["resource"]["payload"][0]["contentString"],
        MASKED
    );
    assert!(clinic.store.conversation(&id).await.is_err());
    assert!(clinic.store.messages(&id).await.unwrap().is_empty());
    assert!(clinic.store.originals(&id).await.unwrap().is_empty());
    let line = &clinic.store.audit_log(1).await.unwrap()[0];
    assert_eq!(
        (
            line.action.as_str(),
            line.subject.as_str(),
            line.detail.as_str()
        ),
        ("transcript_delivered", id.as_str(), "attempts=3")
    );
    assert_eq!(
        clinic.service.deliver_transcripts().await.unwrap(),
        Delivered::default()
    );

    // A chat closed without its delivery recorded (a crash in between) is
    // owed one at the next retention pass.
    let other = clinic.patient("en").await;
    other.say("what are your hours").await;
    let other_id = other.id().clone();
    clinic
        .store
        .update_conversation(
            &other_id,
            store::ConvUpdate {
                state: Some(store::ConvState::Closed),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    clinic.set_clock(store::Timestamp::now().plus_secs(60));
    assert_eq!(clinic.service.retain().await.unwrap().owed, 1);
    assert_eq!(
        clinic.service.deliver_transcripts().await.unwrap(),
        Delivered { sent: 1, failed: 0 }
    );
    assert!(clinic.store.conversation(&other_id).await.is_err());
}

#[test]
fn the_backoff_doubles_to_an_hour() {
    use crate::retention::backoff_secs;
    let waits: Vec<i64> = (1..=10).map(backoff_secs).collect();
    assert_eq!(waits, [15, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    assert_eq!(backoff_secs(u32::MAX), 3600);
}
