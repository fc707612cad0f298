//! The clinic's intake questions: asked after consent, each answer checked,
//! sealed with the chat (placeholders in the clear), shown as typed to the
//! clinician who has the chat and as placeholders to one who could take it,
//! and not asked twice.

use std::collections::BTreeMap;

use store::{Conversations, PatientForms, Role};

use super::*;
use crate::ServiceError;
use crate::intake::Field;

fn answers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn intake_answers_are_checked_sealed_and_shown_to_the_clinician_who_has_the_chat() {
    let clinic = Clinic::built(
        router::Policy::default().with_offline_form(None),
        crate::retention::Retention::default(),
        |s| {
            s.with_intake(vec![
                Field::Name,
                Field::DateOfBirth,
                Field::Reason,
                Field::Callback,
            ])
        },
    )
    .await;
    let mut p = clinic.patient("en").await;
    let frames = p.frames();
    let kinds: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["welcome", "consent", "status", "consent_accepted", "intake"],
        "asked after consent: {frames:?}"
    );
    assert_eq!(
        frames[4]["fields"],
        serde_json::json!(["name", "date_of_birth", "reason", "callback"])
    );

    for (bad, says) in [
        (answers(&[("date_of_birth", "2999-01-01")]), "date of birth"),
        (answers(&[("callback", "call me")]), "phone number"),
        (answers(&[("ssn", "123-45-6789")]), "not asked"),
        (answers(&[("name", &"x".repeat(101))]), "100 characters"),
    ] {
        let e = p.session.intake(bad).await.unwrap_err();
        assert!(
            matches!(&e, ServiceError::BadRequest(m) if m.contains(says)),
            "{says}: {e:?}"
        );
    }
    assert!(
        clinic
            .store
            .forms_of(p.id(), false)
            .await
            .unwrap()
            .is_empty()
    );

    p.session
        .intake(answers(&[
            ("name", "Maria Lopez"),
            ("date_of_birth", "1980-02-29"),
            ("reason", "my knee hurts since Maria's fall"),
            ("callback", "555 010 2030"),
        ]))
        .await
        .unwrap();
    assert_eq!(of_type(&p.frames(), "intake_saved").len(), 1);
    let stored = &clinic.store.forms_of(p.id(), false).await.unwrap()[0].fields;
    assert_eq!(stored["name"], "[NAME]");
    assert_eq!(stored["date_of_birth"], "[DATE]");
    assert_eq!(stored["callback"], "[PHONE]");
    assert_eq!(stored["reason"], "my knee hurts since [NAME]'s fall");
    // Once answered, not again.
    let again = p.session.intake(answers(&[("name", "Ana")])).await;
    assert!(matches!(again, Err(ServiceError::Conflict(_))), "{again:?}");

    // Fay (front desk) could take it from the queue: placeholders. Once she
    // has it: the answers as typed. An admin: as typed.
    p.say("I want to book an appointment").await;
    // Nobody is online: the contact form is still to fill in (the intake
    // answers are not contact details).
    let offline = of_type(&p.frames(), "status")
        .last()
        .copied()
        .cloned()
        .unwrap();
    assert_eq!(offline["state"], "offline");
    assert_eq!(offline["contact_left"], false);
    let fay = clinic.user("Fay", &["front_desk"], &["en"]).await;
    let ada = clinic.account("Ada", Role::Admin, &[], &["en"]).await;
    let queued = clinic
        .service
        .read_conversation(p.id(), &fay, None, None)
        .await
        .unwrap();
    assert_eq!(queued.intake.unwrap()["name"], "[NAME]");
    clinic.service.take(p.id(), &fay, None, None).await.unwrap();
    let held = clinic
        .service
        .read_conversation(p.id(), &fay, None, None)
        .await
        .unwrap();
    let intake = held.intake.unwrap();
    assert_eq!(intake["name"], "Maria Lopez");
    assert_eq!(intake["date_of_birth"], "1980-02-29");
    let admin = clinic
        .service
        .read_conversation(p.id(), &ada, None, None)
        .await
        .unwrap();
    assert_eq!(admin.intake.unwrap()["callback"], "555 010 2030");

    // Intake answers are not a left message: not on the list, not
    // something to mark done.
    let intake_id = clinic.store.forms_of(p.id(), false).await.unwrap()[0].id;
    assert!(
        clinic
            .service
            .contact_requests(&ada, true, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        clinic
            .service
            .contact_done(&ada, intake_id, true, None)
            .await,
        Err(ServiceError::NotFound(_))
    ));

    // Back in a new tab: not asked again.
    let conv = clinic.store.conversation(p.id()).await.unwrap();
    assert!(clinic.service.intake_owed(&conv).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_clinic_without_intake_questions_asks_none() {
    let clinic = Clinic::new(router::Policy::default()).await;
    let mut p = clinic.patient("en").await;
    assert!(of_type(&p.frames(), "intake").is_empty());
    let refused = p.session.intake(answers(&[("name", "Ana")])).await;
    assert!(
        matches!(refused, Err(ServiceError::Conflict(_))),
        "{refused:?}"
    );
}
