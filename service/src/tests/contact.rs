//! The offline contact form: refused while someone could help, sealed with
//! the chat, its question handled as a message (red flags first), listed
//! for the staff who may see the chat, marked done, audited, and shown to
//! the patient as left when they come back.

use router::Policy;
use store::{Conversations, Moderation, PatientForms, Role};

use super::*;
use crate::ServiceError;
use crate::contact::{Channel, ContactInput};

fn form(channel: Channel, contact: &str, question: &str) -> ContactInput {
    ContactInput {
        channel,
        contact: contact.into(),
        best_time: "after 5pm, ask for Maria".into(),
        question: question.into(),
    }
}

#[tokio::test]
async fn details_left_offline_are_sealed_listed_for_who_may_see_and_marked_done() {
    let clinic = Clinic::new(Policy::default().with_offline_form(None)).await;
    let mut p = clinic.patient("en").await;
    let resume = of_type(&p.frames(), "welcome")[0]["resume"]
        .as_str()
        .unwrap()
        .to_string();

    // Only once nobody can help: a chat the bot still has is refused.
    let early = p
        .session
        .contact(form(Channel::Sms, "+1 555 010 2030", ""))
        .await;
    assert!(matches!(early, Err(ServiceError::Conflict(_))), "{early:?}");

    p.say("I have a question about my bill").await;
    let frames = p.frames();
    let offline = of_type(&frames, "status").last().copied().cloned().unwrap();
    assert_eq!(offline["state"], "offline");
    assert_eq!(offline["contact_left"], false);

    // A mistyped number is refused, saying what is wrong.
    let bad = p.session.contact(form(Channel::Sms, "call me", "")).await;
    assert!(
        matches!(&bad, Err(ServiceError::BadRequest(m)) if m.contains("phone number")),
        "{bad:?}"
    );
    p.session
        .contact(form(
            Channel::Sms,
            " +1 555 010 2030 ",
            "Can Maria move her appointment?",
        ))
        .await
        .unwrap();
    let frames = p.frames();
    let left = of_type(&frames, "status").last().copied().cloned().unwrap();
    assert_eq!(
        (left["state"].as_str(), left["contact_left"].as_bool()),
        (Some("offline"), Some(true))
    );

    // Stored: the details redacted in the clear, as typed only sealed; the
    // question is a redacted message.
    let forms = clinic.store.forms_of(p.id(), false).await.unwrap();
    assert_eq!(forms.len(), 1);
    assert_eq!(forms[0].fields["contact"], "[PHONE]");
    assert_eq!(forms[0].fields["best_time"], "after 5pm, ask for [NAME]");
    let messages = clinic.store.messages(p.id()).await.unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m.text == "Can [NAME] move her appointment?"),
        "{messages:?}"
    );

    // Bella does billing: she sees it, as typed; Nate (nursing) does not;
    // an auditor never.
    let bella = clinic.user("Bella", &["billing"], &["en"]).await;
    let nate = clinic.user("Nate", &["nursing"], &["en"]).await;
    let otto = clinic.account("Otto", Role::Auditor, &[], &["en"]).await;
    let list = clinic
        .service
        .contact_requests(&bella, false, None)
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].contact, "+1 555 010 2030");
    assert_eq!(list[0].best_time, "after 5pm, ask for Maria");
    assert_eq!(list[0].channel, Channel::Sms);
    assert!(list[0].encrypted);
    assert!(
        clinic
            .service
            .contact_requests(&nate, false, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        clinic.service.contact_requests(&otto, false, None).await,
        Err(ServiceError::Forbidden(_))
    ));
    let audit = clinic.store.audit_log(1).await.unwrap();
    assert_eq!(
        (audit[0].action.as_str(), audit[0].detail.as_str()),
        ("contact_read", "1")
    );
    assert!(matches!(
        clinic
            .service
            .contact_done(&nate, list[0].id, true, None)
            .await,
        Err(ServiceError::Forbidden(_))
    ));

    // Done: off the open list, on the whole one, audited; and open again.
    let done = clinic
        .service
        .contact_done(&bella, list[0].id, true, None)
        .await
        .unwrap();
    assert_eq!(done.done_by.as_deref(), Some("Bella"));
    assert!(
        clinic
            .service
            .contact_requests(&bella, false, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        clinic
            .service
            .contact_requests(&bella, true, None)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        clinic
            .store
            .audit_log(5)
            .await
            .unwrap()
            .iter()
            .any(|a| a.action == "contact_done")
    );
    clinic
        .service
        .contact_done(&bella, list[0].id, false, None)
        .await
        .unwrap();
    assert_eq!(
        clinic
            .service
            .contact_requests(&bella, false, None)
            .await
            .unwrap()
            .len(),
        1
    );

    // The patient back in a new tab is not asked again.
    let mut back = clinic
        .open(OpenRequest {
            resume: Some(resume),
            ..Default::default()
        })
        .await;
    assert_eq!(back.id(), p.id());
    let status = of_type(&back.frames(), "status")
        .last()
        .copied()
        .cloned()
        .unwrap();
    assert_eq!(status["contact_left"], true);

    // No contact detail in any log line the service wrote or the audit.
    for a in clinic.store.audit_log(50).await.unwrap() {
        assert!(!a.detail.contains("555"), "{a:?}");
    }
}

#[tokio::test]
async fn an_emergency_in_the_question_gets_the_emergency_reply() {
    let clinic = Clinic::new(Policy::default().with_offline_form(None)).await;
    let mut p = clinic.patient("en").await;
    p.say("can someone call me back").await;
    p.frames();
    p.session
        .contact(form(
            Channel::Phone,
            "555 010 2030",
            "I have chest pain since this morning",
        ))
        .await
        .unwrap();
    let texts: Vec<String> = of_type(&p.frames(), "message")
        .iter()
        .map(|f| f["text"].as_str().unwrap().to_string())
        .collect();
    assert!(texts.iter().any(|t| t == "Call 911 now."), "{texts:?}");
    assert!(clinic.store.conversation(p.id()).await.unwrap().urgent);
}

#[tokio::test]
async fn a_chat_leaves_its_details_three_times_at_most() {
    let clinic = Clinic::new(Policy::default().with_offline_form(None)).await;
    let p = clinic.patient("en").await;
    p.say("can someone call me back").await;
    for _ in 0..crate::contact::MAX_PER_CONVERSATION {
        p.session
            .contact(form(Channel::Email, "ana@example.org", ""))
            .await
            .unwrap();
    }
    let more = p
        .session
        .contact(form(Channel::Email, "ana@example.org", ""))
        .await;
    assert!(matches!(more, Err(ServiceError::Conflict(_))), "{more:?}");
}
