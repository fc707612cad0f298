//! Consent before the first message: shown after `welcome`, nothing but an
//! emergency before it is accepted, the acceptance recorded with the
//! text's version, a changed text shown again, and a returning patient not
//! asked twice.

use router::Policy;
use store::{Conversations, PatientForms};

use super::*;
use crate::ServiceError;

#[tokio::test]
async fn nothing_but_an_emergency_before_consent_and_the_version_is_recorded() {
    let clinic = Clinic::new(Policy::default()).await;
    let mut p = clinic
        .open_unconsented(OpenRequest {
            lang: Some("es-MX".into()),
            ..Default::default()
        })
        .await;
    let frames = p.frames();
    let kinds: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["welcome", "consent", "status"], "{frames:?}");
    let consent = &frames[1];
    // In the patient's language, naming the number to call.
    assert!(
        consent["text"].as_str().unwrap().contains("911"),
        "{consent}"
    );
    assert!(
        consent["text"].as_str().unwrap().contains("asistente"),
        "{consent}"
    );
    let version = consent["version"].as_str().unwrap().to_string();
    let resume = frames[0]["resume"].as_str().unwrap().to_string();

    // An ordinary message is refused, and nothing is stored.
    let refused = p.session.message("¿a qué hora abren?").await;
    assert!(
        matches!(refused, Err(ServiceError::ConsentRequired)),
        "{refused:?}"
    );
    assert!(clinic.store.messages(p.id()).await.unwrap().is_empty());

    // An emergency is answered anyway.
    p.say("tengo chest pain").await;
    let texts: Vec<String> = of_type(&p.frames(), "message")
        .iter()
        .map(|f| f["text"].as_str().unwrap().to_string())
        .collect();
    assert!(texts.iter().any(|t| t == "Call 911 now."), "{texts:?}");

    // An old version (the clinic changed the text meanwhile) is shown the
    // current one again; the current one is recorded.
    p.session.consent("0000000000000000").await.unwrap();
    let again = p.frames();
    assert_eq!(of_type(&again, "consent")[0]["version"], version.as_str());
    assert_eq!(clinic.store.consent(p.id()).await.unwrap(), None);
    p.session.consent(&version).await.unwrap();
    assert_eq!(of_type(&p.frames(), "consent_accepted").len(), 1);
    assert_eq!(
        clinic.store.consent(p.id()).await.unwrap().unwrap().0,
        version
    );
    p.say("¿a qué hora abren?").await;

    // Back with the resume token: not asked again.
    let mut back = clinic
        .open_unconsented(OpenRequest {
            resume: Some(resume),
            ..Default::default()
        })
        .await;
    assert!(of_type(&back.frames(), "consent").is_empty());
}

#[tokio::test]
async fn the_contact_form_waits_for_consent_too() {
    let clinic = Clinic::new(Policy::default().with_offline_form(None)).await;
    let p = clinic.open_unconsented(OpenRequest::default()).await;
    let form = crate::contact::ContactInput {
        channel: crate::contact::Channel::Phone,
        contact: "555 010 2030".into(),
        best_time: String::new(),
        question: String::new(),
    };
    let refused = p.session.contact(form).await;
    assert!(
        matches!(refused, Err(ServiceError::ConsentRequired)),
        "{refused:?}"
    );
    assert!(
        clinic
            .store
            .forms_of(p.id(), false)
            .await
            .unwrap()
            .is_empty()
    );
}
