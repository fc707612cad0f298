//! Offers and their expiry, fallback, the offline contact form, and
//! transfers.

use super::*;

#[test]
fn offer_accept_and_expiry_rules() {
    let mut r = offering(&[
        clin(1, &[], &["en"]).with_max_chats(1),
        clin(2, &[], &["en"]),
    ]);
    let got = r.route(req("c", None, "en", false, 100)).unwrap();
    assert_eq!(
        got,
        Routed::Offered {
            clinician: 1,
            expires_at: 100 + OFFER_MS
        }
    );
    assert_eq!(r.assignee("c"), None);
    assert_eq!(r.position("c"), None);
    assert_eq!(r.offer("c").unwrap().clinician, 1);
    // The offer holds clinician 1's only place.
    assert_eq!(r.clinician(1).unwrap().load(), 1);
    assert_eq!(
        r.route(req("d", None, "en", false, 101)).unwrap(),
        Routed::Offered {
            clinician: 2,
            expires_at: 101 + OFFER_MS
        }
    );

    let before = r.clone();
    let not_offered = RouteError::NotOffered {
        conversation: "c".into(),
        clinician: 2,
    };
    assert_eq!(r.accept("c", 2, 200), Err(not_offered.clone()));
    assert_eq!(r.decline("c", 2, 200), Err(not_offered));
    assert_eq!(
        r.accept("c", 1, 100 + OFFER_MS),
        Err(RouteError::OfferExpired {
            conversation: "c".into(),
            expired_at: 100 + OFFER_MS
        }),
        "expired even before a tick"
    );
    assert_eq!(
        r.take("c", 2, 200),
        Err(RouteError::Offered {
            conversation: "c".into(),
            offered_to: 1
        })
    );
    assert_eq!(r, before, "refusals change nothing");

    r.accept("c", 1, 200).unwrap();
    assert_eq!(r.assignee("c"), Some(1));
    assert_eq!(r.offer("c"), None);
    r.accept("c", 1, 201).unwrap();
    assert_eq!(
        r.accept("c", 2, 201),
        Err(RouteError::Conflict {
            conversation: "c".into(),
            assigned_to: 1
        })
    );
    // Taking one's own offer accepts it.
    r.take("d", 2, 202).unwrap();
    assert_eq!(r.assignee("d"), Some(2));
}

#[test]
fn decline_and_expiry_move_the_offer_on() {
    let mut r = offering(&[
        clin(1, &[], &["en"]),
        clin(2, &[], &["en"]),
        clin(3, &[], &["en"]),
    ]);
    assert!(matches!(
        r.route(req("c", None, "en", false, 0)).unwrap(),
        Routed::Offered { clinician: 1, .. }
    ));
    assert_eq!(
        r.decline("c", 1, 10).unwrap(),
        [offered("c", 2, 10 + OFFER_MS)]
    );
    assert_eq!(r.clinician(1).unwrap().load(), 0);
    // Nothing has expired yet.
    assert!(r.tick(10 + OFFER_MS - 1).is_empty());
    let events = r.tick(10 + OFFER_MS);
    assert_eq!(
        events,
        [
            Event::OfferExpired {
                conversation: "c".into(),
                clinician: 2
            },
            Event::Assigned(offered("c", 3, 10 + 2 * OFFER_MS)),
        ],
        "to 3: neither 1 (declined) nor 2 (expired) again"
    );
}

#[test]
fn a_lone_clinician_gets_the_chat_again_after_a_timeout() {
    let mut r = offering(&[clin(1, &[], &["en"])]);
    r.route(req("c", None, "en", false, 0)).unwrap();
    assert!(
        r.decline("c", 1, 5).unwrap().is_empty(),
        "not straight back"
    );
    assert_eq!(r.position("c"), Some(1));
    assert!(r.tick(5 + OFFER_MS - 1).is_empty());
    assert_eq!(
        r.tick(5 + OFFER_MS),
        [Event::Assigned(offered("c", 1, 5 + 2 * OFFER_MS))],
        "a new round"
    );
}

#[test]
fn going_away_withdraws_offers() {
    let mut r = offering(&[clin(1, &[], &["en"]), clin(2, &[], &["en"])]);
    r.route(req("c", None, "en", false, 0)).unwrap();
    assert_eq!(r.offer("c").unwrap().clinician, 1);
    let got = r.set_presence(1, Presence::Busy, 7).unwrap();
    assert_eq!(got, [offered("c", 2, 7 + OFFER_MS)]);
    assert_eq!(r.clinician(1).unwrap().offered_chats().len(), 0);
    // Removing a clinician puts their offers back too.
    let moved = r.remove_clinician(2, 8).unwrap();
    assert_eq!(moved, [("c".to_owned(), Routed::Queued { position: 1 })]);
    assert!(!r.queue()[0].requeued, "an offer is not help already given");
}

#[test]
fn fallback_when_nobody_with_the_skill_is_available() {
    let desk = clin(1, &["front_desk"], &["en"]);
    let biller = clin(2, &["billing"], &["en"]);
    let policy = Policy::default().with_fallback("billing", ["front_desk"]);
    // (case, policy, clinicians with presence, expected)
    type Row<'a> = (&'a str, Policy, Vec<(Clinician, Presence)>, Routed);
    let rows: Vec<Row> = vec![
        (
            "no fallback configured: waits",
            Policy::default(),
            vec![(desk.clone(), Presence::Available)],
            Routed::Queued { position: 1 },
        ),
        (
            "fallback to the front desk",
            policy.clone(),
            vec![(desk.clone(), Presence::Available)],
            Routed::Assigned(1),
        ),
        (
            "a busy biller does not stop the fallback",
            policy.clone(),
            vec![
                (desk.clone(), Presence::Available),
                (biller.clone(), Presence::Busy),
            ],
            Routed::Assigned(1),
        ),
        (
            "an available biller is preferred even with more load",
            policy.clone(),
            vec![
                (desk.clone(), Presence::Available),
                (biller.clone().with_max_chats(9), Presence::Available),
            ],
            Routed::Assigned(2),
        ),
    ];
    for (case, policy, clinicians, expected) in rows {
        let mut r = with_policy(policy, &clinicians);
        if r.clinician(2)
            .is_some_and(|c| c.presence() == Presence::Available)
        {
            preload(&mut r, 2, 3, 0);
        }
        assert_eq!(
            r.route(req("b", Some("billing"), "en", false, 1)).unwrap(),
            expected,
            "{case}"
        );
    }
}

#[test]
fn fallback_after_waiting_and_when_the_last_holder_leaves() {
    let policy = Policy::default()
        .with_fallback("billing", ["front_desk"])
        .with_fallback_after_ms(120_000);
    let mut r = with_policy(
        policy,
        &[
            (clin(1, &["front_desk"], &["en"]), Presence::Available),
            (
                clin(2, &["billing"], &["en"]).with_max_chats(0),
                Presence::Available,
            ),
        ],
    );
    // The biller is available but full: the chat waits for them at first.
    assert_eq!(
        r.route(req("b", Some("billing"), "en", false, 1_000))
            .unwrap(),
        Routed::Queued { position: 1 }
    );
    assert!(r.tick(120_999).is_empty());
    assert_eq!(r.tick(121_000), [Event::Assigned(assignment("b", 1))]);

    // State, not time: the biller going away lets the next chat fall back.
    r.route(req("b2", Some("billing"), "en", false, 200_000))
        .unwrap();
    assert_eq!(r.position("b2"), Some(1));
    assert_eq!(
        r.set_presence(2, Presence::Away, 200_001).unwrap(),
        [assignment("b2", 1)]
    );
}

#[test]
fn fallback_can_wait_for_the_skill_first() {
    // The biller is away; the front desk is free. With the immediate rule off
    // the billing chat waits for a biller until `fallback_after_ms`, and is
    // not sent to the contact form meanwhile, since the desk will take it.
    let desk = clin(1, &["front_desk"], &["en"]);
    let biller = clin(2, &["billing"], &["es"]);
    let mut policy = Policy::default()
        .with_fallback("billing", ["front_desk"])
        .with_fallback_after_ms(3_000)
        .with_offline_form(None);
    policy.fallback_when_unavailable = false;
    let mut r = with_policy(
        policy,
        &[(desk, Presence::Available), (biller, Presence::Away)],
    );
    let routed = r
        .route(req("c1", Some("billing"), "es", false, 1_000))
        .unwrap();
    assert_eq!(routed, Routed::Queued { position: 1 });
    assert!(r.tick(3_999).is_empty(), "still waiting for a biller");
    assert_eq!(r.position("c1"), Some(1));
    let events = r.tick(4_000);
    assert_eq!(
        events,
        [Event::Assigned(Assignment {
            conversation: "c1".into(),
            clinician: 1,
            offer_expires_at: None,
        })]
    );
    // With the desk gone too, nobody online could ever serve it: the form.
    let mut r = with_policy(
        {
            let mut p = Policy::default()
                .with_fallback("billing", ["front_desk"])
                .with_offline_form(None);
            p.fallback_when_unavailable = false;
            p
        },
        &[(clin(1, &["front_desk"], &["en"]), Presence::Away)],
    );
    assert_eq!(
        r.route(req("c2", Some("billing"), "es", false, 0)).unwrap(),
        Routed::Offline
    );
}

#[test]
fn offline_form_when_nobody_online_could_serve() {
    let policy = Policy::default()
        .with_fallback("billing", ["front_desk"])
        .with_offline_form(Some(600_000));
    let desk = clin(1, &["front_desk"], &["en"]).with_max_chats(0);
    // (case, presence of the front desk clinician, expected)
    for (case, presence, expected) in [
        ("offline", Presence::Offline, Routed::Offline),
        ("away", Presence::Away, Routed::Offline),
        (
            "busy counts as online",
            Presence::Busy,
            Routed::Queued { position: 1 },
        ),
        (
            "available but full",
            Presence::Available,
            Routed::Queued { position: 1 },
        ),
    ] {
        let mut r = with_policy(policy.clone(), &[(desk.clone(), presence)]);
        let got = r.route(req("b", Some("billing"), "en", false, 1)).unwrap();
        assert_eq!(got, expected, "{case}");
        if got == Routed::Offline {
            assert_eq!(r.outcome("b"), None, "{case}: the router keeps nothing");
            assert!(r.route(req("b", Some("billing"), "en", false, 2)).is_ok());
        }
    }

    // Queued, then the last capable clinician logs off: the next tick sends
    // the chat to the form. Another waits out offline_after_ms.
    let mut r = with_policy(policy.clone(), &[(desk.clone(), Presence::Busy)]);
    r.route(req("b", Some("billing"), "en", false, 1)).unwrap();
    r.set_presence(1, Presence::Offline, 2).unwrap();
    assert_eq!(
        r.tick(3),
        [Event::Offline {
            conversation: "b".into()
        }]
    );
    assert!(r.queue().is_empty());
    r.set_presence(1, Presence::Busy, 4).unwrap();
    r.route(req("c", Some("billing"), "en", false, 10)).unwrap();
    assert!(r.tick(600_009).is_empty());
    assert_eq!(
        r.tick(600_010),
        [Event::Offline {
            conversation: "c".into()
        }]
    );
}

#[test]
fn urgent_chats_never_go_to_the_contact_form() {
    let mut r = with_policy(
        Policy::default().with_offline_form(Some(1_000)),
        &[(clin(1, &["nursing"], &["en"]), Presence::Away)],
    );
    assert_eq!(
        r.route(req("calm", Some("nursing"), "en", false, 0))
            .unwrap(),
        Routed::Offline
    );
    assert_eq!(
        r.route(req("chest", Some("nursing"), "en", true, 0))
            .unwrap(),
        Routed::Queued { position: 1 }
    );
    assert!(r.tick(5_000).is_empty(), "not for waiting either");
    let assigned = r.set_presence(1, Presence::Available, 6_000).unwrap();
    assert_eq!(assigned.len(), 1);
    assert_eq!(assigned[0].conversation, "chest");
}

#[test]
fn transfer_to_a_colleague_or_a_skill_group() {
    let mut r = router_with(&[
        clin(1, &["front_desk"], &["en"]).with_max_chats(1),
        clin(2, &["nursing"], &["en"]),
        clin(3, &["nursing"], &["en"]),
    ]);
    r.route(req("c", Some("front_desk"), "en", false, 1))
        .unwrap();
    r.route(req("waiting", Some("front_desk"), "en", false, 2))
        .unwrap();
    assert_eq!(r.assignee("c"), Some(1));

    // To the nursing group: not back to 1, the freed place pulls "waiting".
    let t = r
        .transfer(
            "c",
            TransferTarget::Skill("nursing".into()),
            Some("needs a nurse".into()),
            10,
        )
        .unwrap();
    assert_eq!(t.from, Some(1));
    assert_eq!(t.outcome, Routed::Assigned(2));
    assert_eq!(t.note.as_deref(), Some("needs a nurse"));
    assert_eq!(t.others, [assignment("waiting", 1)]);
    assert_eq!(r.assigned["c"].ticket.skill.as_deref(), Some("nursing"));

    // To a colleague, by hand: an offline colleague at capacity still gets it.
    r.set_presence(3, Presence::Offline, 11).unwrap();
    let t = r
        .transfer("c", TransferTarget::Clinician(3), None, 12)
        .unwrap();
    assert_eq!((t.from, t.outcome), (Some(2), Routed::Assigned(3)));
    assert_eq!(r.assignee("c"), Some(3));

    let before = r.clone();
    assert_eq!(
        r.transfer("c", TransferTarget::Clinician(9), None, 13),
        Err(RouteError::UnknownClinician(9))
    );
    assert_eq!(
        r.transfer("ghost", TransferTarget::Skill("nursing".into()), None, 13),
        Err(RouteError::UnknownConversation("ghost".into()))
    );
    assert_eq!(r, before);
}

#[test]
fn transfer_to_a_skill_goes_ahead_of_new_chats() {
    let mut r = router_with(&[clin(1, &["front_desk"], &["en"])]);
    r.route(req("c", Some("front_desk"), "en", false, 5))
        .unwrap();
    r.route(req("new", Some("dental"), "en", false, 1)).unwrap();
    let t = r
        .transfer("c", TransferTarget::Skill("dental".into()), None, 10)
        .unwrap();
    assert_eq!(t.outcome, Routed::Queued { position: 1 }, "already helped");
    assert_eq!(queue_ids(&r), ["c", "new"]);
}
