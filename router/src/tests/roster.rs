//! Presence, profile updates and removal of clinicians, and what each hands
//! out or puts back.

use super::*;

#[test]
fn set_presence_fills_up_to_capacity_urgent_and_oldest_first() {
    let mut r = router_with(&[clin(1, &["nursing"], &["en"]).with_max_chats(2)]);
    r.set_presence(1, Presence::Away, 0).unwrap();
    for (conv, urgent, at) in [("old", false, 1), ("urgent", true, 5), ("new", false, 3)] {
        r.route(req(conv, Some("nursing"), "en", urgent, at))
            .unwrap();
    }
    let got = r.set_presence(1, Presence::Available, 10).unwrap();
    assert_eq!(got, [assignment("urgent", 1), assignment("old", 1)]);
    assert_eq!(queue_ids(&r), ["new"]);
    assert_eq!(r.clinician(1).unwrap().last_assigned_at(), Some(10));
}

#[test]
fn going_away_keeps_open_chats() {
    let mut r = router_with(&[clin(1, &[], &["en"])]);
    r.route(req("c", None, "en", false, 1)).unwrap();
    for presence in [Presence::Away, Presence::Offline] {
        assert!(r.set_presence(1, presence, 2).unwrap().is_empty());
        assert_eq!(r.assignee("c"), Some(1));
    }
}

#[test]
fn busy_is_online_but_gets_no_automatic_chats() {
    let mut r = router_with(&[clin(1, &[], &["en"])]);
    assert!(r.set_presence(1, Presence::Busy, 1).unwrap().is_empty());
    assert!(Presence::Busy.is_online() && Presence::Available.is_online());
    assert!(!Presence::Away.is_online() && !Presence::Offline.is_online());
    assert_eq!(
        r.route(req("c", None, "en", false, 2)).unwrap(),
        Routed::Queued { position: 1 }
    );
    // By hand it still works, and becoming available later hands out the rest.
    r.take("c", 1, 3).unwrap();
    r.route(req("d", None, "en", false, 4)).unwrap();
    assert_eq!(
        r.set_presence(1, Presence::Available, 5).unwrap(),
        [assignment("d", 1)]
    );
}

#[test]
fn remove_clinician_requeues_at_front() {
    // Clinician 1 holds an urgent and a normal nursing chat; clinician 2 (no
    // nursing, full) cannot take them. The queue already has an urgent and a
    // normal chat that arrived later and earlier respectively.
    let mut r = router_with(&[
        clin(1, &["nursing"], &["en"]),
        clin(2, &["front_desk"], &["en"]).with_max_chats(0),
    ]);
    r.route(req("n-held", Some("nursing"), "en", false, 10))
        .unwrap();
    r.route(req("u-held", Some("nursing"), "en", true, 11))
        .unwrap();
    r.set_presence(1, Presence::Away, 12).unwrap();
    r.route(req("n-queued", None, "en", false, 1)).unwrap();
    r.route(req("u-queued", None, "en", true, 2)).unwrap();
    assert_eq!(queue_ids(&r), ["u-queued", "n-queued"]);

    let got = r.remove_clinician(1, 20).unwrap();
    assert_eq!(
        got,
        [
            ("u-held".to_owned(), Routed::Queued { position: 1 }),
            ("n-held".to_owned(), Routed::Queued { position: 3 }),
        ]
    );
    assert_eq!(queue_ids(&r), ["u-held", "u-queued", "n-held", "n-queued"]);
    assert!(r.queue().iter().take(1).all(|q| q.requeued));
    assert!(r.clinician(1).is_none());
    assert_eq!(r.assignee("n-held"), None);
    assert_eq!(
        r.remove_clinician(1, 21),
        Err(RouteError::UnknownClinician(1))
    );

    // The requeued chats keep their skill: a nurse who appears gets them first.
    r.upsert_clinician(clin(3, &["nursing"], &["en"]).with_max_chats(1), 30);
    let got = r.set_presence(3, Presence::Available, 31).unwrap();
    assert_eq!(got, [assignment("u-held", 3)]);
}

#[test]
fn remove_clinician_hands_chats_to_others_who_can_serve() {
    let mut r = router_with(&[clin(1, &["nursing"], &["en"]), clin(2, &[], &["en"])]);
    r.route(req("n", Some("nursing"), "en", false, 1)).unwrap();
    r.route(req("any", None, "en", false, 2)).unwrap();
    assert_eq!(r.assignee("any"), Some(2));
    r.route(req("any2", None, "en", false, 3)).unwrap();
    assert_eq!(r.assignee("any2"), Some(1));
    let got = r.remove_clinician(1, 5).unwrap();
    assert_eq!(
        got,
        [
            ("n".to_owned(), Routed::Queued { position: 1 }),
            ("any2".to_owned(), Routed::Assigned(2)),
        ]
    );
}

#[test]
fn upsert_keeps_runtime_state_and_may_assign() {
    let mut r = router_with(&[clin(1, &[], &["en"]).with_max_chats(1)]);
    r.route(req("a", None, "en", false, 1)).unwrap();
    r.route(req("d", Some("dental"), "en", false, 2)).unwrap();
    r.route(req("b", None, "en", false, 3)).unwrap();

    // A copy that claims other runtime state must not be believed.
    let mut stale = Clinician::new(1, "Renamed")
        .with_languages(["en"])
        .with_max_chats(1);
    stale.presence = Presence::Offline;
    stale.open_chats.insert("phantom".into());
    assert!(r.upsert_clinician(stale, 5).is_empty());
    let c = r.clinician(1).unwrap();
    assert_eq!(c.display_name, "Renamed");
    assert_eq!(c.presence(), Presence::Available);
    assert_eq!(c.open_chats().collect::<Vec<_>>(), ["a"]);

    // A new skill and more room: the queue is offered again, in order.
    let got = r.upsert_clinician(clin(1, &["dental"], &["en"]).with_max_chats(3), 6);
    assert_eq!(got, [assignment("d", 1), assignment("b", 1)]);

    // Lowering the cap takes nothing away.
    assert!(
        r.upsert_clinician(clin(1, &[], &["en"]).with_max_chats(0), 7)
            .is_empty()
    );
    assert_eq!(r.clinician(1).unwrap().open_count(), 3);

    // New clinicians start offline.
    r.upsert_clinician(clin(2, &[], &[]), 8);
    assert_eq!(r.clinician(2).unwrap().presence(), Presence::Offline);
    assert_eq!(r.clinicians().map(|c| c.id).collect::<Vec<_>>(), [1, 2]);
}
