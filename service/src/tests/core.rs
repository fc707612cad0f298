//! The conversation state machine, scenario by scenario: answering,
//! routing, offers, fallback, the contact form, urgent-first, transfer,
//! resume, close, held and blocked senders.

use std::time::Duration;

use router::Policy;
use store::{Accounts, BlockKind, ConvState, Conversations, Moderation, Role, Sender};

use super::*;
use crate::{BlockRequest, ServiceError, TransferRequest, TransferTo};

#[tokio::test]
async fn an_answered_question_stays_with_the_bot_and_only_its_redacted_form_is_stored() {
    let clinic = Clinic::new(Policy::default()).await;
    let mut p = clinic.patient("en-US").await;
    let opening = p.frames();
    assert_eq!(opening[0]["type"], "welcome");
    assert_eq!(opening[0]["conversation"], p.id().as_str());
    assert_eq!(opening[0]["resume"].as_str().unwrap().len(), 64);
    assert_eq!(last_state(&opening).as_deref(), Some("bot"));

    p.say("what are your hours? this is Maria").await;
    let frames = p.frames();
    let replies = of_type(&frames, "message");
    assert_eq!(replies.len(), 1, "{frames:?}");
    assert_eq!(
        (replies[0]["from"].as_str(), replies[0]["text"].as_str()),
        (Some("bot"), Some("We open at 8."))
    );
    let stored = clinic.store.messages(p.id()).await.unwrap();
    assert_eq!(stored[0].sender, Sender::Patient);
    assert_eq!(stored[0].text, "what are your hours? this is [NAME]");
    assert_eq!(stored[0].intent.as_deref(), Some("opening_hours"));
    assert_eq!(stored[1].sender, Sender::Bot);
    let conv = clinic.store.conversation(p.id()).await.unwrap();
    assert_eq!(conv.state, ConvState::Bot);
}

#[tokio::test]
async fn a_chat_goes_to_the_clinician_with_the_skill_who_reads_the_patient_live() {
    let clinic = Clinic::new(Policy::default()).await;
    let bella = clinic.user("Bella", &["billing"], &["en"]).await;
    let nate = clinic.user("Nate", &["nursing"], &["en"]).await;
    let mut b = clinic.online(&bella).await;
    let mut n = clinic.online(&nate).await;
    assert_eq!(b.frames()[0]["type"], "hello");
    n.frames();

    let mut p = clinic.patient("en").await;
    p.frames();
    p.say("a question about my bill").await;
    let frames = p.frames();
    assert_eq!(
        of_type(&frames, "status")[0]["clinician"],
        "Bella",
        "{frames:?}"
    );
    let system: Vec<_> = of_type(&frames, "message")
        .into_iter()
        .filter(|f| f["from"] == "system")
        .collect();
    assert_eq!(
        system[0]["text"],
        "Bella from our team has joined the chat."
    );
    assert!(
        of_type(&b.frames(), "assigned")
            .iter()
            .any(|f| f["conversation"] == p.id().as_str())
    );
    assert!(
        of_type(&n.frames(), "assigned").is_empty(),
        "the nurse is not offered billing"
    );

    // What the patient types reaches Bella as typed; the store keeps it redacted.
    p.say("it is for Maria").await;
    let live = b.frames();
    let message = of_type(&live, "message");
    assert_eq!(message[0]["message"]["text"], "it is for Maria");
    let stored = clinic.store.messages(p.id()).await.unwrap();
    assert_eq!(stored.last().unwrap().text, "it is for [NAME]");

    // And her reply reaches the patient, stored redacted too.
    let view = clinic
        .service
        .clinician_message(p.id(), &bella, "Hi Maria, let me look")
        .await
        .unwrap();
    assert_eq!(view.text, "Hi Maria, let me look");
    let to_patient = p.frames();
    let reply = of_type(&to_patient, "message");
    assert_eq!(
        (reply[0]["from"].as_str(), reply[0]["name"].as_str()),
        (Some("clinician"), Some("Bella"))
    );
    let stored = clinic.store.messages(p.id()).await.unwrap();
    assert_eq!(stored.last().unwrap().text, "Hi [NAME], let me look");
    // Nate may not reply to Bella's chat.
    assert!(matches!(
        clinic
            .service
            .clinician_message(p.id(), &nate, "hello")
            .await,
        Err(ServiceError::Forbidden(_))
    ));
}

#[tokio::test]
async fn an_offer_not_accepted_in_time_moves_to_the_next_clinician() {
    let clinic = Clinic::new(Policy::default().with_offer_timeout_ms(30_000)).await;
    let ann = clinic.user("Ann", &["billing"], &["en"]).await;
    let bo = clinic.user("Bo", &["billing"], &["en"]).await;
    let mut a = clinic.online(&ann).await;
    let mut b = clinic.online(&bo).await;
    let mut p = clinic.patient("en").await;
    p.say("my bill is wrong").await;
    let (first, mut first_console, second, mut second_console) = {
        let (fa, fb) = (a.frames(), b.frames());
        if !of_type(&fa, "offer").is_empty() {
            assert_eq!(of_type(&fa, "offer")[0]["expires_in_s"], 30);
            (&ann, a, &bo, b)
        } else {
            assert_eq!(of_type(&fb, "offer")[0]["expires_in_s"], 30);
            (&bo, b, &ann, a)
        }
    };
    let waiting = p.frames();
    assert_eq!(last_state(&waiting).as_deref(), Some("queued"));
    assert_eq!(
        of_type(&waiting, "status").last().unwrap()["position"],
        Value::Null
    );

    clinic.advance(Duration::from_secs(29)).await;
    assert!(
        of_type(&first_console.frames(), "offer_expired").is_empty(),
        "not yet"
    );
    clinic.advance(Duration::from_secs(2)).await;
    assert_eq!(of_type(&first_console.frames(), "offer_expired").len(), 1);
    assert_eq!(of_type(&second_console.frames(), "offer").len(), 1);
    // The first can no longer accept; the second can.
    assert!(matches!(
        clinic.service.accept(p.id(), first).await,
        Err(ServiceError::Conflict(_))
    ));
    let summary = clinic.service.accept(p.id(), second).await.unwrap();
    assert_eq!(summary.assigned_to, Some(second.id));
    assert_eq!(last_state(&p.frames()).as_deref(), Some("assigned"));
}

#[tokio::test]
async fn a_chat_waits_for_its_skill_then_falls_back() {
    let mut policy = Policy::default()
        .with_fallback("billing", ["front_desk"])
        .with_fallback_after_ms(60_000);
    policy.fallback_when_unavailable = false;
    let clinic = Clinic::new(policy).await;
    let fay = clinic.user("Fay", &["front_desk"], &["en"]).await;
    let mut f = clinic.online(&fay).await;
    let mut p = clinic.patient("en").await;
    p.say("question about my bill").await;
    let frames = p.frames();
    let status = of_type(&frames, "status");
    assert_eq!(status.last().unwrap()["position"], 1, "{frames:?}");
    clinic.advance(Duration::from_secs(59)).await;
    assert!(of_type(&f.frames(), "assigned").is_empty());
    clinic.advance(Duration::from_secs(2)).await;
    assert_eq!(of_type(&f.frames(), "assigned").len(), 1);
    assert_eq!(last_state(&p.frames()).as_deref(), Some("assigned"));
}

#[tokio::test]
async fn with_nobody_online_the_patient_leaves_a_message_a_clinician_then_takes() {
    let clinic = Clinic::new(Policy::default().with_offline_form(None)).await;
    let mut p = clinic.patient("en").await;
    p.say("can someone call me back").await;
    let frames = p.frames();
    assert_eq!(
        last_state(&frames).as_deref(),
        Some("offline"),
        "{frames:?}"
    );
    let texts: Vec<_> = of_type(&frames, "message")
        .iter()
        .map(|f| f["text"].as_str().unwrap().to_string())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("No one from our team is available")),
        "{texts:?}"
    );
    let conv = clinic.store.conversation(p.id()).await.unwrap();
    assert!(conv.offline && conv.state == ConvState::Queued);

    // A clinician who comes online sees it in the queue and picks it up.
    let fay = clinic.user("Fay", &["front_desk"], &["en"]).await;
    let mut f = clinic.online(&fay).await;
    let queue = of_type(&f.frames(), "queue").last().unwrap()["conversations"].clone();
    assert_eq!(queue[0]["id"], p.id().as_str());
    assert_eq!(queue[0]["offline"], true);
    let summary = clinic.service.take(p.id(), &fay, None, None).await.unwrap();
    assert_eq!(summary.assigned_to, Some(fay.id));
    assert!(!clinic.store.conversation(p.id()).await.unwrap().offline);
    assert_eq!(clinic.store.audit_log(5).await.unwrap()[0].action, "take");
}

#[tokio::test]
async fn an_emergency_is_answered_at_once_and_jumps_the_queue() {
    let clinic = Clinic::new(Policy::default()).await;
    let mut calm = clinic.patient("en").await;
    calm.say("I need a nurse about my stitches").await;
    assert_eq!(
        of_type(&calm.frames(), "status").last().unwrap()["position"],
        1
    );

    let mut urgent = clinic.patient("en").await;
    urgent.frames();
    urgent.say("I have chest pain, this is Maria").await;
    let frames = urgent.frames();
    let first_message = of_type(&frames, "message")[0];
    assert_eq!(
        (
            first_message["from"].as_str(),
            first_message["text"].as_str()
        ),
        (Some("bot"), Some("Call 911 now."))
    );
    let status = of_type(&frames, "status");
    assert_eq!(
        (
            status.last().unwrap()["position"].as_u64(),
            status.last().unwrap()["urgent"].as_bool()
        ),
        (Some(1), Some(true))
    );
    // Never told to leave a message: it has the urgent text.
    assert!(of_type(&frames, "message").iter().any(|f| {
        f["text"]
            .as_str()
            .unwrap()
            .starts_with("Our clinical staff have been alerted")
    }));
    assert_eq!(
        of_type(&calm.frames(), "status").last().unwrap()["position"],
        2
    );
    let stored = clinic.store.messages(urgent.id()).await.unwrap();
    assert_eq!(stored[0].text, "I have chest pain, this is [NAME]");
    assert!(clinic.store.conversation(urgent.id()).await.unwrap().urgent);

    // The first nurse to come online gets the emergency, not the older chat.
    let nate = clinic.user("Nate", &["nursing"], &["en"]).await;
    let mut n = clinic.online(&nate).await;
    let assigned = of_type(&n.frames(), "assigned")
        .iter()
        .map(|f| f["conversation"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert_eq!(assigned[0], urgent.id().as_str());
}

#[tokio::test]
async fn a_transfer_carries_a_redacted_note_and_is_audited() {
    let clinic = Clinic::new(Policy::default()).await;
    let bella = clinic.user("Bella", &["billing"], &["en"]).await;
    let nate = clinic.user("Nate", &["nursing"], &["en"]).await;
    let _b = clinic.online(&bella).await;
    let mut n = clinic.online(&nate).await;
    let mut p = clinic.patient("en").await;
    p.say("my bill").await;
    n.frames();
    p.frames();
    let too_long = TransferRequest {
        to: TransferTo::Clinician(nate.id),
        note: Some("x".repeat(1001)),
    };
    assert!(matches!(
        clinic
            .service
            .transfer(p.id(), &bella, too_long, None)
            .await,
        Err(ServiceError::TooLong)
    ));
    let req = TransferRequest {
        to: TransferTo::Clinician(nate.id),
        note: Some("Maria has a wound question".into()),
    };
    let summary = clinic
        .service
        .transfer(p.id(), &bella, req, None)
        .await
        .unwrap();
    assert_eq!(summary.assigned_to, Some(nate.id));
    let frames = n.frames();
    let handed = of_type(&frames, "transfer");
    assert_eq!(
        (handed[0]["from"].as_str(), handed[0]["note"].as_str()),
        (Some("Bella"), Some("[NAME] has a wound question"))
    );
    assert_eq!(
        clinic.service.notes(p.id(), false).await.unwrap()[0].text,
        "[NAME] has a wound question"
    );
    let audit = clinic.store.audit_log(5).await.unwrap();
    assert_eq!(
        (audit[0].action.as_str(), audit[0].detail.clone()),
        ("transfer", format!("to=clinician:{}", nate.id))
    );
    assert_eq!(
        of_type(&p.frames(), "status").last().unwrap()["clinician"],
        "Nate"
    );
    // Bella no longer has it.
    assert!(matches!(
        clinic
            .service
            .transfer(
                p.id(),
                &bella,
                TransferRequest {
                    to: TransferTo::Skill("billing".into()),
                    note: None
                },
                None
            )
            .await,
        Err(ServiceError::Forbidden(_))
    ));
}

#[tokio::test]
async fn a_reload_resumes_the_conversation_with_the_words_as_typed() {
    let clinic = Clinic::new(Policy::default()).await;
    let mut p = clinic.patient("es-MX").await;
    let resume = p.frames()[0]["resume"].as_str().unwrap().to_string();
    p.say("¿hours? soy Maria").await;
    p.say("¿tengo una pregunta sobre mi bill?").await;
    let id = p.id().clone();
    drop(p);

    let mut again = clinic
        .open(OpenRequest {
            resume: Some(resume),
            ..Default::default()
        })
        .await;
    assert!(again.session.resumed);
    assert_eq!(again.id(), &id);
    let frames = again.frames();
    let kinds: Vec<_> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["welcome", "history", "status"]);
    // The patient reads their own words, opened from the vault; the
    // stored copy stays redacted.
    let history = frames[1]["messages"].as_array().unwrap();
    assert_eq!(history[0]["text"], "¿hours? soy Maria");
    assert_eq!(
        clinic.store.messages(&id).await.unwrap()[0].text,
        "¿hours? soy [NAME]"
    );
    assert_eq!(history[0]["from"], "patient");
    assert_eq!(
        (frames[2]["state"].as_str(), frames[2]["position"].as_u64()),
        (Some("queued"), Some(1))
    );
    // The greeting is in the language the conversation was in.
    assert!(frames[0]["text"].as_str().unwrap().starts_with("¡Hola!"));

    // A token that matches nothing opens a new conversation.
    let fresh = clinic
        .open(OpenRequest {
            resume: Some("0".repeat(64)),
            ..Default::default()
        })
        .await;
    assert!(!fresh.session.resumed);
    assert_ne!(fresh.id(), &id);
}

#[tokio::test]
async fn closing_frees_the_clinician_for_the_next_chat_and_the_patient_cannot_write_on() {
    let clinic = Clinic::new(Policy::default()).await;
    let mut bella = clinic.user("Bella", &["billing"], &["en"]).await;
    bella.max_chats = 1;
    let mut b = clinic.online(&bella).await;
    let mut first = clinic.patient("en").await;
    first.say("my bill").await;
    let mut second = clinic.patient("en").await;
    second.say("another bill").await;
    assert_eq!(
        of_type(&second.frames(), "status").last().unwrap()["position"],
        1
    );
    b.frames();

    // Only Bella (or an admin) may close her chat.
    let other = clinic.user("Olga", &["billing"], &["en"]).await;
    assert!(matches!(
        clinic.service.close(first.id(), &other, None).await,
        Err(ServiceError::Forbidden(_))
    ));
    let summary = clinic
        .service
        .close(first.id(), &bella, None)
        .await
        .unwrap();
    assert_eq!(summary.state, ConvState::Closed);
    let frames = first.frames();
    assert_eq!(last_state(&frames).as_deref(), Some("closed"));
    assert!(of_type(&frames, "message").iter().any(|f| {
        f["text"]
            .as_str()
            .unwrap()
            .starts_with("Our team has closed")
    }));
    assert!(matches!(
        first.session.message("hello?").await,
        Err(ServiceError::Conflict(_))
    ));
    assert_eq!(clinic.store.audit_log(1).await.unwrap()[0].action, "close");
    // The freed place goes to the chat that waited.
    assert_eq!(last_state(&second.frames()).as_deref(), Some("assigned"));
    // Closing twice is harmless.
    assert_eq!(
        clinic
            .service
            .close(first.id(), &bella, None)
            .await
            .unwrap()
            .state,
        ConvState::Closed
    );

    // With her last console gone, Bella stops getting chats.
    b.session.close().await;
    let view = clinic
        .service
        .user_view(&clinic.store.user(bella.id).await.unwrap());
    assert_eq!(view.status, router::Presence::Away);
}

#[tokio::test]
async fn a_message_that_reads_like_spam_is_held_for_a_person() {
    let clinic = Clinic::new(Policy::default()).await;
    let fay = clinic.user("Fay", &["front_desk"], &["en"]).await;
    let mut f = clinic.online(&fay).await;
    f.frames();
    let mut p = clinic.patient("en").await;
    p.say("cheap seo services for your site").await;
    assert_eq!(
        of_type(&f.frames(), "held")[0]["conversation"],
        p.id().as_str()
    );
    assert!(
        of_type(&p.frames(), "message")
            .iter()
            .any(|m| m["text"] == "Someone will look at this.")
    );
    let held = clinic.service.held().await.unwrap();
    assert_eq!(
        (held.len(), held[0].messages[0].text.as_str()),
        (1, "cheap seo services for your site")
    );
    clinic
        .service
        .dismiss_held(p.id(), &fay, None)
        .await
        .unwrap();
    assert!(clinic.service.held().await.unwrap().is_empty());
    assert!(matches!(
        clinic.service.dismiss_held(p.id(), &fay, None).await,
        Err(ServiceError::Conflict(_))
    ));
    assert_eq!(
        clinic.store.audit_log(1).await.unwrap()[0].action,
        "dismiss_held"
    );
}

#[tokio::test]
async fn an_admin_blocks_a_sender_who_can_then_neither_chat_nor_resume() {
    let clinic = Clinic::new(Policy::default()).await;
    let admin = clinic.account("Ada", Role::Admin, &[], &["en"]).await;
    let nurse = clinic.user("Nate", &["nursing"], &["en"]).await;
    let who = Identity {
        fingerprint: Some("fp-hash".into()),
        address: Some("ip-hash".into()),
    };
    let (session, mut rx) = clinic
        .service
        .open_patient(&OpenRequest::default(), &who)
        .await
        .unwrap();
    clinic.agree(&session).await;
    session.message("win big at our casino").await.unwrap();
    drain(&mut rx);

    let req = || BlockRequest {
        reason: "casino spam from Maria".into(),
        by: Some(vec![BlockKind::Fingerprint]),
        force: false,
    };
    assert!(matches!(
        clinic
            .service
            .block_sender(&session.conversation, &nurse, req(), None)
            .await,
        Err(ServiceError::Forbidden(_))
    ));
    let blocks = clinic
        .service
        .block_sender(&session.conversation, &admin, req(), None)
        .await
        .unwrap();
    assert_eq!(
        (blocks.len(), blocks[0].reason.as_str()),
        (1, "casino spam from [NAME]")
    );
    let frames = drain(&mut rx);
    assert_eq!(of_type(&frames, "error")[0]["code"], "sender_blocked");
    assert_eq!(
        clinic
            .store
            .conversation(&session.conversation)
            .await
            .unwrap()
            .state,
        ConvState::Closed
    );
    assert!(matches!(
        clinic
            .service
            .open_patient(&OpenRequest::default(), &who)
            .await,
        Err(ServiceError::SenderBlocked)
    ));
    // A different browser at another address is not affected.
    assert!(
        clinic
            .service
            .open_patient(&OpenRequest::default(), &Identity::default())
            .await
            .is_ok()
    );
    let lifted = clinic
        .service
        .unblock(blocks[0].id, &admin, None)
        .await
        .unwrap();
    assert_eq!(lifted.lifted_by, Some(admin.id));
    assert!(
        clinic
            .service
            .open_patient(&OpenRequest::default(), &who)
            .await
            .is_ok()
    );
    let actions: Vec<_> = clinic
        .store
        .audit_log(5)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions[..2], ["unblock", "block"]);
}

#[tokio::test]
async fn the_patients_language_and_the_sites_state_pick_the_clinician() {
    let clinic = Clinic::new(Policy::default()).await;
    let ana = clinic.user("Ana", &["billing"], &["es", "en"]).await;
    let ben = clinic.user("Ben", &["billing"], &["en"]).await;
    let _a = clinic.online(&ana).await;
    let _b = clinic.online(&ben).await;
    let mut p = clinic.patient("es-ES").await;
    p.say("¿tengo una pregunta sobre mi bill?").await;
    assert_eq!(
        of_type(&p.frames(), "status").last().unwrap()["clinician"],
        "Ana"
    );
    let conv = clinic.store.conversation(p.id()).await.unwrap();
    assert_eq!(
        conv.whisper.unwrap()["language"],
        "es",
        "the whisper names the language"
    );

    let mut cal = clinic.user("Cal", &["nursing"], &["en"]).await;
    cal.licensed_states = vec!["CA".into()];
    let mut newt = clinic.user("Newt", &["nursing"], &["en"]).await;
    newt.licensed_states = vec!["NY".into(), "NJ".into()];
    let _c = clinic.online(&cal).await;
    let _n = clinic.online(&newt).await;
    for (state, expected) in [("NY", "Newt"), ("CA", "Cal"), ("NJ", "Newt")] {
        let mut p = clinic
            .open(OpenRequest {
                state: Some(state.into()),
                ..Default::default()
            })
            .await;
        p.say("I need a nurse about my results").await;
        assert_eq!(
            of_type(&p.frames(), "status").last().unwrap()["clinician"],
            expected,
            "{state}"
        );
    }
}

#[tokio::test]
async fn a_clinician_starts_a_chat_with_a_known_patient_and_writes_to_a_colleague() {
    let clinic = Clinic::new(Policy::default()).await;
    let ana = clinic.user("Ana", &["front_desk"], &["en"]).await;
    let ben = clinic.user("Ben", &["billing"], &["en"]).await;
    let mut b = clinic.online(&ben).await;
    clinic
        .service
        .set_presence(&ben, router::Presence::Away)
        .await
        .unwrap();
    let mut p = clinic.patient("en").await;
    p.say("what are your hours").await;
    // The bot has it; Ben, though away, opens a chat with the patient. It
    // was never his: he says why, and that is on the record.
    assert!(matches!(
        clinic.service.take(p.id(), &ben, None, None).await,
        Err(ServiceError::Conflict(_))
    ));
    assert!(matches!(
        clinic.service.start_chat(p.id(), &ben, None, None).await,
        Err(ServiceError::BreakGlassRequired)
    ));
    let summary = clinic
        .service
        .start_chat(p.id(), &ben, Some("the patient rang about this chat"), None)
        .await
        .unwrap();
    assert_eq!(
        (summary.state, summary.assigned_to),
        (ConvState::Assigned, Some(ben.id))
    );
    assert_eq!(
        of_type(&p.frames(), "status").last().unwrap()["clinician"],
        "Ben"
    );
    let log = clinic.store.audit_log(2).await.unwrap();
    assert_eq!(
        (log[0].action.as_str(), log[1].action.as_str()),
        ("start", "break_glass")
    );
    // Starting it again is a no-op; Ana cannot start one Ben has.
    assert_eq!(
        clinic
            .service
            .start_chat(p.id(), &ben, None, None)
            .await
            .unwrap()
            .assigned_to,
        Some(ben.id)
    );
    assert!(matches!(
        clinic.service.start_chat(p.id(), &ana, None, None).await,
        Err(ServiceError::Conflict(_))
    ));

    // Team chat: the colleague reads it as typed, the store keeps it redacted.
    b.frames();
    let sent = clinic
        .service
        .team_send(&ana, ben.id, "thanks for taking Maria")
        .await
        .unwrap();
    assert_eq!(sent.text, "thanks for taking Maria");
    let frames = b.frames();
    assert_eq!(
        of_type(&frames, "team_message")[0]["message"]["text"],
        "thanks for taking Maria"
    );
    let thread = clinic.service.team_thread(&ben, ana.id).await.unwrap();
    assert_eq!(thread[0].text, "thanks for taking [NAME]");
    assert!(matches!(
        clinic.service.team_send(&ana, ana.id, "me").await,
        Err(ServiceError::BadRequest(_))
    ));
    assert!(matches!(
        clinic
            .service
            .team_send(&ana, store::UserId(999), "hi")
            .await,
        Err(ServiceError::NotFound("no such colleague"))
    ));
}

#[tokio::test]
async fn a_chat_left_with_the_bot_is_forgotten_once_its_patient_has_been_gone_a_while() {
    let clinic = Clinic::new(Policy::default()).await;
    let left = clinic.patient("en").await;
    left.say("what are your hours?").await;
    let stays = clinic.patient("en").await;
    stays.say("what are your hours?").await;
    let gone = left.id().clone();
    assert!(clinic.service.hub.remembers(&gone));
    drop(left);

    // The first tick sees the socket gone; the memory lasts the window out.
    clinic.advance(Duration::from_secs(1)).await;
    let window = Duration::from_millis(crate::hub::FORGET_AFTER_MS);
    clinic.advance(window - Duration::from_secs(1)).await;
    assert!(clinic.service.hub.remembers(&gone), "forgotten too soon");
    clinic.advance(Duration::from_secs(1)).await;
    assert!(!clinic.service.hub.remembers(&gone));
    // A patient still connected keeps it, and the conversation itself stays.
    assert!(clinic.service.hub.remembers(stays.id()));
    let conv = clinic.store.conversation(&gone).await.unwrap();
    assert_eq!(conv.state, ConvState::Bot);
}

#[tokio::test]
async fn a_held_chat_leaves_the_held_list_once_a_person_has_it() {
    let clinic = Clinic::new(Policy::default()).await;
    let bella = clinic.user("Bella", &["billing"], &["en"]).await;
    let mut b = clinic.online(&bella).await;
    b.frames();
    let p = clinic.patient("en").await;
    p.say("cheap seo services for your site").await;
    assert_eq!(clinic.service.held().await.unwrap().len(), 1);

    // The patient then asks something a person must answer: the router
    // hands it to Bella, and it is no longer waiting for review.
    p.say("sorry, it is about my bill").await;
    assert!(
        of_type(&b.frames(), "assigned")
            .iter()
            .any(|f| f["conversation"] == p.id().as_str())
    );
    assert!(clinic.service.held().await.unwrap().is_empty());
    let conv = clinic.store.conversation(p.id()).await.unwrap();
    assert_eq!((conv.state, conv.held), (ConvState::Assigned, false));
}

#[tokio::test]
async fn an_auditor_or_a_disabled_clinician_is_never_handed_a_chat() {
    let clinic = Clinic::new(Policy::default()).await;
    let otto = clinic
        .account("Otto", Role::Auditor, &["billing"], &["en"])
        .await;
    clinic.service.sync_clinician(&otto).await;
    assert!(matches!(
        clinic
            .service
            .set_presence(&otto, router::Presence::Available)
            .await,
        Err(ServiceError::Forbidden(_))
    ));
    let bella = clinic.user("Bella", &["billing"], &["en"]).await;
    let mut b = clinic.online(&bella).await;
    b.frames();
    // Bella is disabled while online: the router stops counting on her.
    let bella = clinic
        .service
        .staff
        .set_disabled(None, bella.id, true)
        .await
        .unwrap();
    clinic.service.sync_clinician(&bella).await;

    let mut p = clinic.patient("en").await;
    p.frames();
    p.say("a question about my bill").await;
    let conv = clinic.store.conversation(p.id()).await.unwrap();
    assert_eq!(conv.assigned_to, None, "{conv:?}");
    assert_ne!(conv.state, ConvState::Assigned);
    assert!(of_type(&b.frames(), "assigned").is_empty());
}

#[tokio::test]
async fn a_clinician_sees_their_own_chats_and_breaks_the_glass_for_any_other() {
    let clinic = Clinic::new(Policy::default()).await;
    let bella = clinic.user("Bella", &["billing"], &["en"]).await;
    let nate = clinic.user("Nate", &["nursing"], &["en"]).await;
    let ada = clinic.account("Ada", Role::Admin, &[], &["en"]).await;
    let mut b = clinic.online(&bella).await;
    let mut a = clinic.online(&ada).await;
    clinic
        .service
        .set_presence(&ada, router::Presence::Away)
        .await
        .unwrap();
    let bill = clinic.patient("en").await;
    bill.say("a question about my bill").await;
    assert_eq!(
        clinic
            .store
            .conversation(bill.id())
            .await
            .unwrap()
            .assigned_to,
        Some(bella.id)
    );
    // Nobody online for nursing: it waits in the queue.
    let nurse = clinic.patient("en").await;
    nurse.say("I need a nurse").await;
    assert_eq!(
        clinic.store.conversation(nurse.id()).await.unwrap().state,
        ConvState::Queued
    );

    // The queue shows each clinician what they could serve.
    let ids = |v: Vec<crate::views::Summary>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(clinic.service.visible_to(bella.id).await.unwrap()),
        [bill.id().clone()]
    );
    assert_eq!(
        ids(clinic.service.visible_to(nate.id).await.unwrap()),
        [nurse.id().clone()]
    );
    assert_eq!(
        clinic.service.visible_to(ada.id).await.unwrap().len(),
        1,
        "the queue, all of it"
    );

    // Their own, and what they could take, open without a word.
    let read = |u: &User, id: &store::ConversationId, reason: Option<&'static str>| {
        let (service, u, id) = (clinic.service.clone(), u.clone(), id.clone());
        async move { service.read_conversation(&id, &u, reason, None).await }
    };
    read(&bella, bill.id(), None).await.unwrap();
    read(&nate, nurse.id(), None).await.unwrap();
    read(&ada, bill.id(), None).await.unwrap();
    // Anything else needs a reason, long enough to mean something.
    assert!(matches!(
        read(&nate, bill.id(), None).await,
        Err(ServiceError::BreakGlassRequired)
    ));
    assert!(matches!(
        read(&nate, bill.id(), Some("curious")).await,
        Err(ServiceError::BadRequest(_))
    ));
    assert!(matches!(
        clinic.service.take(nurse.id(), &bella, None, None).await,
        Err(ServiceError::BreakGlassRequired)
    ));
    a.frames();
    read(
        &nate,
        bill.id(),
        Some("Maria asked me at reception to check"),
    )
    .await
    .unwrap();
    // On the record, the reason redacted, and every admin online is told.
    let log = clinic.store.audit_log(2).await.unwrap();
    assert_eq!(
        (
            log[1].action.as_str(),
            log[1].subject.as_str(),
            log[1].detail.as_str()
        ),
        (
            "break_glass",
            bill.id().as_str(),
            "[NAME] asked me at reception to check"
        )
    );
    assert_eq!(
        (log[0].action.as_str(), log[0].actor_id),
        ("read", Some(nate.id))
    );
    let admin_frames = a.frames();
    let told = of_type(&admin_frames, "break_glass");
    assert_eq!(told.len(), 1);
    assert_eq!(told[0]["by"], "Nate");
    assert_eq!(told[0]["reason"], "[NAME] asked me at reception to check");
    assert!(
        of_type(&b.frames(), "break_glass").is_empty(),
        "only admins are told"
    );
    // Once a clinician has held a chat, it stays theirs to look back at.
    clinic.service.close(bill.id(), &bella, None).await.unwrap();
    read(&bella, bill.id(), None).await.unwrap();
}

#[tokio::test]
async fn a_flood_is_refused_but_an_emergency_never_is() {
    let clinic = Clinic::new(Policy::default()).await;
    let p = clinic.patient("en").await;
    let burst = crate::limits::MESSAGES_PER_CONVERSATION.burst;
    for _ in 0..burst {
        p.say("what are your hours").await;
    }
    let stored = clinic.store.messages(p.id()).await.unwrap().len();
    assert!(matches!(
        p.session.message("what are your hours").await,
        Err(ServiceError::RateLimited {
            retry_after_secs: 3
        })
    ));
    assert_eq!(
        clinic.store.messages(p.id()).await.unwrap().len(),
        stored,
        "nothing of a refused message is stored"
    );
    // An emergency in the middle of a flood is answered all the same.
    p.session.message("I have chest pain").await.unwrap();
    let conv = clinic.store.conversation(p.id()).await.unwrap();
    assert!(conv.urgent);
    // Three seconds on, one more message goes through.
    clinic.advance(Duration::from_secs(3)).await;
    p.session.message("thanks").await.unwrap();
    assert!(p.session.message("thanks again").await.is_err());
}

#[tokio::test]
async fn one_address_cannot_open_chats_without_end() {
    let clinic = Clinic::new(Policy::default()).await;
    let from = |address: &str| crate::Identity {
        fingerprint: None,
        address: Some(address.into()),
    };
    let burst = crate::limits::NEW_CHATS_PER_ADDRESS.burst;
    let mut resume = String::new();
    for _ in 0..burst {
        let (session, mut rx) = clinic
            .service
            .open_patient(&OpenRequest::default(), &from("a1"))
            .await
            .unwrap();
        let welcome: Value = serde_json::from_str(&rx.recv().await.unwrap()).unwrap();
        resume = welcome["resume"].as_str().unwrap().to_string();
        drop(session);
    }
    assert!(matches!(
        clinic
            .service
            .open_patient(&OpenRequest::default(), &from("a1"))
            .await,
        Err(ServiceError::RateLimited { .. })
    ));
    // A reload resumes its own chat; another address is not held back.
    let reload = OpenRequest {
        resume: Some(resume),
        ..OpenRequest::default()
    };
    assert!(
        clinic
            .service
            .open_patient(&reload, &from("a1"))
            .await
            .is_ok()
    );
    assert!(
        clinic
            .service
            .open_patient(&OpenRequest::default(), &from("a2"))
            .await
            .is_ok()
    );
}
