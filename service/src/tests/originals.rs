//! The words as typed: sealed beside the redacted copy, opened only for the
//! clinician who has the chat, an admin, and a break-glass reader (each
//! read audited), and gone for good when an admin deletes the chat.

use router::Policy;
use store::{Conversations, Moderation, Role};

use super::*;
use crate::ServiceError;

#[tokio::test]
async fn the_holder_an_admin_and_a_break_glass_reader_see_the_words_as_typed() {
    let clinic = Clinic::new(Policy::default()).await;
    let bella = clinic.user("Bella", &["billing"], &["en"]).await;
    let nate = clinic.user("Nate", &["nursing"], &["en"]).await;
    let ada = clinic.account("Ada", Role::Admin, &[], &["en"]).await;
    let _console = clinic.online(&bella).await;
    let bill = clinic.patient("en").await;
    bill.say("my bill is wrong, this is Maria").await;
    let conv = clinic.store.conversation(bill.id()).await.unwrap();
    assert_eq!(conv.assigned_to, Some(bella.id));
    let stored = clinic.store.messages(bill.id()).await.unwrap();
    assert_eq!(stored[0].text, "my bill is wrong, this is [NAME]");

    let original = |read: &crate::views::ConversationRead| read.messages[0].original.clone();
    let typed = Some("my bill is wrong, this is Maria".to_string());
    let holder = clinic
        .service
        .read_conversation(bill.id(), &bella, None, None)
        .await
        .unwrap();
    assert_eq!(original(&holder), typed);
    assert_eq!(holder.messages[0].text, "my bill is wrong, this is [NAME]");
    let admin = clinic
        .service
        .read_conversation(bill.id(), &ada, None, None)
        .await
        .unwrap();
    assert_eq!(original(&admin), typed);
    let glass = clinic
        .service
        .read_conversation(
            bill.id(),
            &nate,
            Some("the patient rang reception about it"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(original(&glass), typed);

    // A chat Nate could take from the queue opens without a reason, and
    // without the originals: he does not have it yet.
    let nurse = clinic.patient("en").await;
    nurse.say("I need a nurse, Maria here").await;
    let queued = clinic
        .service
        .read_conversation(nurse.id(), &nate, None, None)
        .await
        .unwrap();
    assert_eq!(queued.messages[0].text, "I need a nurse, [NAME] here");
    assert_eq!(queued.messages[0].original, None);

    // Every read is on the trail, saying whether originals were shown.
    let reads: Vec<(Option<store::UserId>, String)> = clinic
        .store
        .audit_log(50)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "read")
        .map(|e| (e.actor_id, e.detail))
        .collect();
    assert_eq!(
        reads,
        [
            (Some(nate.id), "queued".to_string()),
            (Some(nate.id), "assigned originals".to_string()),
            (Some(ada.id), "assigned originals".to_string()),
            (Some(bella.id), "assigned originals".to_string()),
        ]
    );
    // The API's JSON carries `original` only where it was allowed.
    let json = serde_json::to_value(&queued.messages[0]).unwrap();
    assert!(json.get("original").is_none(), "{json}");
}

#[tokio::test]
async fn an_admin_deletes_a_chat_and_its_originals_are_gone() {
    let clinic = Clinic::new(Policy::default()).await;
    let bella = clinic.user("Bella", &["billing"], &["en"]).await;
    let ada = clinic.account("Ada", Role::Admin, &[], &["en"]).await;
    let _console = clinic.online(&bella).await;
    let mut bill = clinic.patient("en").await;
    bill.say("my bill is wrong, this is Maria").await;
    let id = bill.id().clone();
    assert_eq!(clinic.store.originals(&id).await.unwrap().len(), 1);

    assert!(matches!(
        clinic.service.delete_conversation(&id, &bella, None).await,
        Err(ServiceError::Forbidden(_))
    ));
    bill.frames();
    clinic
        .service
        .delete_conversation(&id, &ada, Some("10.0.0.2".into()))
        .await
        .unwrap();
    // Open when deleted: closed first, and the patient told.
    assert_eq!(last_state(&bill.frames()).as_deref(), Some("closed"));
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
        ("conversation_delete", id.as_str(), "")
    );
    assert_eq!(line.address.as_deref(), Some("10.0.0.2"));
    assert!(matches!(
        clinic.service.delete_conversation(&id, &ada, None).await,
        Err(ServiceError::NotFound(_))
    ));
}

#[tokio::test]
async fn retention_closes_idle_bot_chats_and_deletes_old_closed_ones() {
    use crate::retention::{Retained, Retention};
    let clinic = Clinic::keeping(
        Policy::default(),
        Retention {
            days: Some(30),
            bot_idle_secs: Some(2 * 3600),
        },
    )
    .await;
    let written = store::Timestamp::now();
    let mut idle = clinic.patient("en").await;
    idle.say("what are your hours? I am Maria").await;
    let kept = clinic.patient("en").await;
    let kept_id = kept.id().clone();
    let id = idle.id().clone();
    idle.frames();

    // An hour on, nothing is due.
    clinic.set_clock(written.plus_secs(3600));
    assert_eq!(clinic.service.retain().await.unwrap(), Retained::default());
    // Past two idle hours the chats left with the bot close, the patient
    // told; their words are still kept.
    clinic.set_clock(written.plus_secs(2 * 3600 + 60));
    let r = clinic.service.retain().await.unwrap();
    assert_eq!((r.closed, r.deleted), (2, 0));
    assert_eq!(last_state(&idle.frames()).as_deref(), Some("closed"));
    assert_eq!(clinic.store.originals(&id).await.unwrap().len(), 1);
    // Thirty days after, they are deleted for good, with their keys.
    clinic.set_clock(written.plus_secs(29 * 86_400));
    assert_eq!(clinic.service.retain().await.unwrap(), Retained::default());
    clinic.set_clock(written.plus_secs(30 * 86_400 + 3600));
    let r = clinic.service.retain().await.unwrap();
    assert_eq!((r.closed, r.deleted), (0, 2));
    for c in [&id, &kept_id] {
        assert!(clinic.store.conversation(c).await.is_err());
        assert!(clinic.store.originals(c).await.unwrap().is_empty());
    }
    // Audited by count, never content.
    let trail: Vec<(String, String)> = clinic
        .store
        .audit_log(10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("retention"))
        .map(|e| (e.action, e.detail))
        .collect();
    assert_eq!(
        trail,
        [
            ("retention_purge".to_string(), "count=2 days=30".to_string()),
            (
                "retention_close".to_string(),
                "count=2 idle_secs=7200".to_string()
            ),
        ]
    );
}

#[tokio::test]
async fn numbers_stay_masked_until_someone_allowed_asks_and_that_is_audited() {
    let clinic = Clinic::new(Policy::default()).await;
    let bella = clinic.user("Bella", &["billing"], &["en"]).await;
    let nate = clinic.user("Nate", &["nursing"], &["en"]).await;
    let _console = clinic.online(&bella).await;
    let bill = clinic.patient("en").await;
    bill.say("my bill: I am Maria, SSN 123-45-6789").await;
    let read = clinic
        .service
        .read_conversation(bill.id(), &bella, None, None)
        .await
        .unwrap();
    let m = &read.messages[0];
    assert_eq!(
        m.original.as_deref(),
        Some("my bill: I am Maria, SSN •••-••-6789")
    );
    assert!(m.masked);

    // A colleague needs a reason; with one, it is shown, and recorded.
    assert!(matches!(
        clinic
            .service
            .reveal(bill.id(), m.id, &nate, None, None)
            .await,
        Err(ServiceError::BreakGlassRequired)
    ));
    let whole = clinic
        .service
        .reveal(bill.id(), m.id, &bella, None, Some("10.0.0.3".into()))
        .await
        .unwrap();
    assert_eq!(whole, "my bill: I am Maria, SSN 123-45-6789");
    let line = &clinic.store.audit_log(1).await.unwrap()[0];
    assert_eq!(
        (line.action.as_str(), line.actor_id, line.address.as_deref()),
        ("reveal", Some(bella.id), Some("10.0.0.3"))
    );
    assert_eq!(line.detail, format!("message={}", m.id.0));
    assert!(!line.detail.contains("6789"));
}

#[tokio::test]
async fn a_patient_asking_to_be_forgotten_loses_every_chat_from_their_browser() {
    let clinic = Clinic::new(Policy::default()).await;
    let ada = clinic.account("Ada", Role::Admin, &[], &["en"]).await;
    let from = |fp: &str| Identity {
        fingerprint: Some(fp.into()),
        address: None,
    };
    let mut ids = Vec::new();
    for fp in ["browser-a", "browser-a", "browser-b"] {
        let (session, _rx) = clinic
            .service
            .open_patient(&OpenRequest::default(), &from(fp))
            .await
            .unwrap();
        clinic.agree(&session).await;
        session.message("my name is Maria").await.unwrap();
        ids.push(session.conversation.clone());
    }
    let nate = clinic.user("Nate", &["nursing"], &["en"]).await;
    assert!(matches!(
        clinic.service.delete_patient(&ids[1], &nate, None).await,
        Err(ServiceError::Forbidden(_))
    ));
    assert_eq!(
        clinic
            .service
            .delete_patient(&ids[1], &ada, None)
            .await
            .unwrap(),
        2
    );
    for gone in &ids[..2] {
        assert!(clinic.store.conversation(gone).await.is_err());
        assert!(clinic.store.originals(gone).await.unwrap().is_empty());
    }
    // Another browser's chat stays, with its words.
    assert_eq!(clinic.store.originals(&ids[2]).await.unwrap().len(), 1);
    let deletions = clinic
        .store
        .audit_log(20)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "conversation_delete")
        .count();
    assert_eq!(deletions, 2);
}

#[tokio::test]
async fn a_transfer_notes_words_as_typed_are_sealed_and_shown_to_those_allowed() {
    use crate::{TransferRequest, TransferTo};
    let clinic = Clinic::new(Policy::default()).await;
    let bella = clinic.user("Bella", &["billing"], &["en"]).await;
    let nate = clinic.user("Nate", &["nursing"], &["en"]).await;
    let ada = clinic.account("Ada", Role::Admin, &[], &["en"]).await;
    let _bella_console = clinic.online(&bella).await;
    let bill = clinic.patient("en").await;
    bill.say("my bill is wrong").await;
    clinic
        .service
        .transfer(
            bill.id(),
            &bella,
            TransferRequest {
                to: TransferTo::Skill("nursing".into()),
                note: Some("Maria asked about her results".into()),
            },
            None,
        )
        .await
        .unwrap();
    let stored = clinic.store.notes(bill.id(), false).await.unwrap();
    assert_eq!(stored[0].text, "[NAME] asked about her results");
    assert_eq!(stored[0].original, None, "not opened unless asked");
    // Bella held it, but no longer has it: the redacted note. An admin
    // reads the note as typed.
    let held = clinic
        .service
        .read_conversation(bill.id(), &bella, None, None)
        .await
        .unwrap();
    assert_eq!(held.notes[0].original, None);
    let admin = clinic
        .service
        .read_conversation(bill.id(), &ada, None, None)
        .await
        .unwrap();
    assert_eq!(
        admin.notes[0].original.as_deref(),
        Some("Maria asked about her results")
    );
    // Nate takes it from the nursing queue: now his, with the note as typed.
    clinic
        .service
        .take(bill.id(), &nate, None, None)
        .await
        .unwrap();
    let his = clinic
        .service
        .read_conversation(bill.id(), &nate, None, None)
        .await
        .unwrap();
    assert_eq!(
        his.notes[0].original.as_deref(),
        Some("Maria asked about her results")
    );
    // Shredded with the chat.
    clinic
        .service
        .delete_conversation(bill.id(), &ada, None)
        .await
        .unwrap();
    assert!(
        clinic
            .store
            .notes(bill.id(), true)
            .await
            .unwrap()
            .is_empty()
    );
}
