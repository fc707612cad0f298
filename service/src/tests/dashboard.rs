//! Canned replies and the dashboard: a clinician's picker, who may change
//! what, and the counts a scripted day of chats produces.

use std::time::Duration;

use router::Policy;
use store::{Moderation, Role};

use super::*;
use crate::ServiceError;
use crate::canned::{CannedInput, ClinicInfo};
use crate::dashboard::Bucket;

fn input(shared: bool, language: &str, title: &str, body: &str) -> CannedInput {
    CannedInput {
        shared,
        language: language.into(),
        title: title.into(),
        body: body.into(),
    }
}

fn clinic_info() -> ClinicInfo {
    ClinicInfo {
        name: "Maple Street".into(),
        phone: "(555) 010-2000".into(),
        privacy_url: String::new(),
    }
}

#[tokio::test]
async fn canned_replies_fill_the_clinics_variables_and_never_hold_a_patients_details() {
    let clinic = Clinic::with(|s| s.with_clinic(clinic_info())).await;
    let admin = clinic.account("Ada", Role::Admin, &[], &["en"]).await;
    let fay = clinic.user("Fay", &["front_desk"], &["en", "es"]).await;
    let gus = clinic.user("Gus", &["front_desk"], &["en"]).await;
    let audit = clinic.account("Aud", Role::Auditor, &[], &["en"]).await;
    let s = &clinic.service;

    let hours = s
        .add_canned_reply(
            &admin,
            input(true, "en", "Hours", "{clinic} opens at 8. Call {phone}."),
            None,
        )
        .await
        .unwrap();
    assert!(hours.shared);
    s.add_canned_reply(
        &admin,
        input(true, "es", "Horario", "{clinic} abre a las 8."),
        None,
    )
    .await
    .unwrap();
    let mine = s
        .add_canned_reply(
            &fay,
            input(false, "en", "Sign-off", "Thanks, {clinician} at {clinic}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(mine.text, "Thanks, Fay at Maple Street");

    // A clinician cannot add to or change the shared list, nor see or use
    // another clinician's own; an auditor has none at all.
    assert!(matches!(
        s.add_canned_reply(&fay, input(true, "en", "Mine for all", "Hello"), None)
            .await,
        Err(ServiceError::Forbidden(_))
    ));
    assert!(matches!(
        s.update_canned_reply(&fay, hours.id, input(true, "en", "Hours", "Changed"), None)
            .await,
        Err(ServiceError::Forbidden(_))
    ));
    assert!(matches!(
        s.delete_canned_reply(&gus, mine.id, None).await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(matches!(
        s.use_canned_reply(&gus, mine.id).await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(matches!(
        s.canned_replies(&audit, None).await,
        Err(ServiceError::Forbidden(_))
    ));

    // No patient variable, no PHI the redactor finds, no empty title.
    for (body, says) in [
        ("Dear {patient}, see you", "{patient}"),
        ("Maria, your results are in", "NAME"),
        ("See you {clinic", "not closed"),
    ] {
        match s
            .add_canned_reply(&fay, input(false, "en", "Bad", body), None)
            .await
        {
            Err(ServiceError::BadRequest(m)) => assert!(m.contains(says), "{body}: {m}"),
            other => panic!("{body}: {other:?}"),
        }
    }
    assert!(matches!(
        s.add_canned_reply(&fay, input(false, "English", "T", "Hello"), None)
            .await,
        Err(ServiceError::BadRequest(_))
    ));

    // Fay's picker: her own and the shared ones; the most used first.
    let titles = |list: &crate::canned::CannedList| {
        list.replies
            .iter()
            .map(|r| r.title.clone())
            .collect::<Vec<_>>()
    };
    let list = s.canned_replies(&fay, None).await.unwrap();
    assert_eq!(titles(&list), ["Horario", "Hours", "Sign-off"]);
    assert_eq!(
        list.replies[1].text,
        "Maple Street opens at 8. Call (555) 010-2000."
    );
    assert!(!list.replies[1].editable && list.replies[2].editable);
    s.use_canned_reply(&fay, mine.id).await.unwrap();
    assert_eq!(
        titles(&s.canned_replies(&fay, None).await.unwrap()),
        ["Sign-off", "Horario", "Hours"]
    );
    assert_eq!(
        titles(&s.canned_replies(&gus, None).await.unwrap()),
        ["Horario", "Hours"]
    );

    // For a Spanish-speaking patient, the Spanish replies come first.
    let _f = clinic.online(&fay).await;
    let p = clinic.patient("es").await;
    p.say("¿tengo una pregunta?").await;
    let list = s.canned_replies(&fay, Some(p.id())).await.unwrap();
    assert_eq!(list.language.as_deref(), Some("es"));
    assert_eq!(titles(&list), ["Horario", "Sign-off", "Hours"]);
    // Another clinician's chat tells nothing of its patient.
    let theirs = s.canned_replies(&gus, Some(p.id())).await.unwrap();
    assert_eq!(theirs.language, None);

    // Every change is audited without its words.
    s.delete_canned_reply(&admin, hours.id, None).await.unwrap();
    let log = clinic.store.audit_log(20).await.unwrap();
    let canned: Vec<_> = log.iter().filter(|e| e.action == "canned_reply").collect();
    assert_eq!(canned.len(), 4, "{log:?}");
    assert_eq!(canned[0].detail, "deleted shared");
    assert!(log.iter().all(|e| !e.detail.contains("opens at")));
}

#[tokio::test]
async fn an_unset_clinic_variable_is_left_as_written_and_said() {
    let clinic = Clinic::new(Policy::default()).await;
    let fay = clinic.user("Fay", &["front_desk"], &["en"]).await;
    let r = clinic
        .service
        .add_canned_reply(&fay, input(false, "en", "Call", "Call us on {phone}"), None)
        .await
        .unwrap();
    assert_eq!(r.text, "Call us on {phone}");
    assert_eq!(r.unset, ["phone"]);
}

/// Sixty seconds' worth of clock, and the router's rules run.
async fn minutes(clinic: &Clinic, n: u64) {
    clinic.advance(Duration::from_secs(60 * n)).await;
}

#[tokio::test]
async fn the_dashboard_counts_a_scripted_day_and_holds_no_message_text() {
    let clinic = Clinic::new(Policy::default().with_offline_form(None)).await;
    let admin = clinic.account("Ada", Role::Admin, &[], &["en"]).await;
    let bella = clinic
        .user("Bella", &["billing", "nursing", "front_desk"], &["en"])
        .await;
    // 1_800_000_000 is 2027-01-15 08:00 UTC: the day starts at 08:00.
    let day = 1_800_000_000 - 8 * 3600;

    // 08:00-09:00, nobody online: two answered questions, one left message,
    // one spam blocked, one held.
    let p1 = clinic.patient("en").await;
    p1.say("what are your hours").await;
    p1.say("and your hours on Saturday").await;
    let p2 = clinic.patient("en").await;
    p2.say("can someone call me back about Maria").await;
    let p3 = clinic.patient("en").await;
    p3.say("cheap casino bonus").await;
    let p4 = clinic.patient("en").await;
    p4.say("seo services for your site").await;

    // 09:00-10:00: Bella is online. A bill question waits 0 s (assigned at
    // once), she replies 3 minutes later; an emergency arrives, she has
    // room for it, and replies after 1 minute.
    minutes(&clinic, 60).await;
    let _b = clinic.online(&bella).await;
    let p5 = clinic.patient("en").await;
    p5.say("a question about my bill").await;
    minutes(&clinic, 3).await;
    clinic
        .service
        .clinician_message(p5.id(), &bella, "Hi, I can help with the bill")
        .await
        .unwrap();
    let p6 = clinic.patient("en").await;
    p6.say("I have chest pain").await;
    minutes(&clinic, 1).await;
    clinic
        .service
        .clinician_message(p6.id(), &bella, "Calling you now")
        .await
        .unwrap();
    // The left message is taken 70 minutes after it was left.
    minutes(&clinic, 6).await;
    clinic.service.close(p5.id(), &bella, None).await.unwrap();
    clinic
        .service
        .take(p2.id(), &bella, None, None)
        .await
        .unwrap();

    let d = clinic
        .service
        .dashboard(&admin, Bucket::Hour, day, day + 86_400, 0)
        .await
        .unwrap();
    assert_eq!(d.rows.len(), 24);
    let eight = &d.rows[8];
    assert_eq!(eight.start, day + 8 * 3600);
    assert_eq!(
        (
            eight.chats,
            eight.answered,
            eight.escalated,
            eight.left_message
        ),
        (4, 2, 1, 1),
        "{eight:?}"
    );
    assert_eq!((eight.blocked, eight.held, eight.urgent), (1, 1, 0));
    assert_eq!(eight.escalated_by_reason["low_confidence"], 1);
    assert_eq!(eight.wait_p50, None);
    let nine = &d.rows[9];
    assert_eq!(
        (nine.chats, nine.escalated, nine.urgent),
        (2, 2, 1),
        "{nine:?}"
    );
    assert_eq!(nine.escalated_by_reason["red_flag"], 1);
    // Waits: 0 s (bill), 0 s (emergency), 70 min (the left message).
    assert_eq!((nine.wait_p50, nine.wait_p95), (Some(0), Some(70 * 60)));
    assert_eq!(
        (nine.first_reply_p50, nine.first_reply_p95),
        (Some(60), Some(180))
    );
    assert_eq!(d.totals.chats, 6);
    assert!(
        d.rows[10..]
            .iter()
            .all(|r| r.chats == 0 && r.escalated == 0)
    );

    // Per intent: the hours questions were answered.
    let hours = d
        .intents
        .iter()
        .find(|i| i.intent == "opening_hours")
        .unwrap();
    assert_eq!((hours.turns, hours.answered, hours.rate), (2, 2, 1.0));
    // Bella took three chats and replied first in two.
    assert_eq!(d.clinicians.len(), 1);
    let load = &d.clinicians[0];
    assert_eq!(
        (load.name.as_deref(), load.chats, load.first_replies),
        (Some("Bella"), 3, 2)
    );

    // The same by day, in a clinic five hours behind UTC: all of it on
    // the 15th, local time.
    let by_day = clinic
        .service
        .dashboard(&admin, Bucket::Day, day - 86_400, day + 86_400, -5 * 3600)
        .await
        .unwrap();
    let busy: Vec<_> = by_day.rows.iter().filter(|r| r.chats > 0).collect();
    assert_eq!(busy.len(), 1);
    assert_eq!(busy[0].start, day + 5 * 3600);
    assert_eq!(busy[0].chats, 6);

    // No message text anywhere in it, nor in the CSV.
    let json = serde_json::to_string(&d).unwrap();
    let csv = d.csv();
    for words in [
        "what are your hours",
        "Saturday",
        "Maria",
        "casino",
        "seo services",
        "about my bill",
        "chest pain",
        "Calling you",
        "I can help",
    ] {
        assert!(!json.contains(words), "{words} in {json}");
        assert!(!csv.contains(words), "{words} in {csv}");
    }
    let nine_line = csv.lines().nth(10).unwrap();
    assert!(
        nine_line.starts_with("2027-01-15T09:00:00Z,2,0,2,1,0,1,1,0,0,0,0,4200,60,180"),
        "{nine_line}"
    );

    // Deleting a chat keeps its counts.
    clinic.service.close(p6.id(), &bella, None).await.unwrap();
    clinic
        .service
        .delete_conversation(p6.id(), &admin, None)
        .await
        .unwrap();
    let after = clinic
        .service
        .dashboard(&admin, Bucket::Hour, day, day + 86_400, 0)
        .await
        .unwrap();
    assert_eq!(after.rows[9].urgent, 1);

    // For admins only; a clear error on a range too long.
    assert!(matches!(
        clinic
            .service
            .dashboard(&bella, Bucket::Hour, day, day + 3600, 0)
            .await,
        Err(ServiceError::Forbidden(_))
    ));
    assert!(matches!(
        clinic
            .service
            .dashboard(&admin, Bucket::Hour, 0, day, 0)
            .await,
        Err(ServiceError::BadRequest(_))
    ));
}
