use super::*;

// A skill nobody has, so setup chats stay queued until a test takes them.
const NOBODY: &str = "__nobody__";

fn clin(id: ClinicianId, skills: &[&str], languages: &[&str]) -> Clinician {
    Clinician::new(id, format!("Clinician {id}"))
        .with_skills(skills.iter().copied())
        .with_languages(languages.iter().copied())
}

/// A router whose clinicians are all available.
fn router_with(clinicians: &[Clinician]) -> Router {
    let mut r = Router::new();
    for c in clinicians {
        assert!(r.upsert_clinician(c.clone(), 0).is_empty());
        assert!(
            r.set_presence(c.id, Presence::Available, 0)
                .unwrap()
                .is_empty()
        );
    }
    r
}

/// Gives `clinician` `n` open chats by hand, stamped at `at_ms`, without
/// touching anyone else.
fn preload(r: &mut Router, clinician: ClinicianId, n: usize, at_ms: u64) {
    for i in 0..n {
        let conv = format!("pre-{clinician}-{i}-{at_ms}");
        let routed = r
            .route(Request::new(conv.clone(), "en", at_ms).with_skill(NOBODY))
            .unwrap();
        assert!(matches!(routed, Routed::Queued { .. }));
        r.take(&conv, clinician, at_ms).unwrap();
    }
}

fn req(conv: &str, skill: Option<&str>, language: &str, urgent: bool, at_ms: u64) -> Request {
    let r = Request::new(conv, language, at_ms).with_urgent(urgent);
    match skill {
        Some(s) => r.with_skill(s),
        None => r,
    }
}

fn queue_ids(r: &Router) -> Vec<String> {
    r.queue().into_iter().map(|q| q.conversation).collect()
}

fn assignment(conversation: &str, clinician: ClinicianId) -> Assignment {
    Assignment {
        conversation: conversation.to_owned(),
        clinician,
        offer_expires_at: None,
    }
}

#[test]
fn skill_match() {
    let nurse = clin(1, &["nursing"], &["en"]);
    let desk = clin(2, &["front_desk"], &["en"]);
    let both = clin(3, &["front_desk", "billing"], &["en"]);
    // (case, clinicians, requested skill, expected)
    let cases: Vec<(&str, Vec<Clinician>, Option<&str>, Routed)> = vec![
        (
            "only holder gets it",
            vec![desk.clone(), nurse.clone()],
            Some("nursing"),
            Routed::Assigned(1),
        ),
        (
            "holder of several skills",
            vec![nurse.clone(), both.clone()],
            Some("billing"),
            Routed::Assigned(3),
        ),
        (
            "nobody has it: queued even though others are free",
            vec![nurse.clone(), desk.clone()],
            Some("dental"),
            Routed::Queued { position: 1 },
        ),
        (
            "no skill: anyone, lowest id on a full tie",
            vec![desk.clone(), nurse.clone()],
            None,
            Routed::Assigned(1),
        ),
        (
            "skills are exact, not case-folded",
            vec![nurse.clone()],
            Some("Nursing"),
            Routed::Queued { position: 1 },
        ),
    ];
    for (case, clinicians, skill, expected) in cases {
        let mut r = router_with(&clinicians);
        let got = r.route(req("c", skill, "en", false, 10)).unwrap();
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn only_available_clinicians_get_routed_chats() {
    for (presence, expected) in [
        (Presence::Available, Routed::Assigned(1)),
        (Presence::Away, Routed::Queued { position: 1 }),
        (Presence::Offline, Routed::Queued { position: 1 }),
    ] {
        let mut r = router_with(&[clin(1, &[], &["en"])]);
        r.set_presence(1, presence, 0).unwrap();
        assert_eq!(
            r.route(req("c", None, "en", false, 1)).unwrap(),
            expected,
            "{presence:?}"
        );
    }
}

#[test]
fn fewest_open_chats_wins() {
    // (case, open chats per clinician 1..=3, expected)
    let cases: [(&str, [usize; 3], ClinicianId); 4] = [
        ("third is emptiest", [2, 1, 0], 3),
        ("first is emptiest", [0, 1, 1], 1),
        ("middle is emptiest", [3, 1, 2], 2),
        ("two tied on more, one on fewer", [3, 3, 2], 3),
    ];
    for (case, loads, expected) in cases {
        let clinicians: Vec<_> = (1..=3).map(|id| clin(id, &[], &["en"])).collect();
        let mut r = router_with(&clinicians);
        for (id, n) in (1..=3).zip(loads) {
            preload(&mut r, id, n, 5);
        }
        assert_eq!(
            r.route(req("c", None, "en", false, 10)).unwrap(),
            Routed::Assigned(expected),
            "{case}"
        );
    }
}

/// Deliberately changed from "language only breaks ties": not speaking the
/// patient's language now costs as much as four open chats (`Weights`).
#[test]
fn language_outweighs_load_up_to_its_weight() {
    // (case, request language, [(languages, open chats)] for ids 1, 2, expected)
    type Row<'a> = (&'a str, &'a str, [(&'a [&'a str], usize); 2], ClinicianId);
    let cases: [Row; 8] = [
        (
            "speaker preferred on a tie",
            "es",
            [(&["en"], 0), (&["en", "es"], 0)],
            2,
        ),
        ("case-insensitive", "ES", [(&["en"], 0), (&["es"], 0)], 2),
        (
            "speaker with one more chat still wins",
            "es",
            [(&["en"], 0), (&["es"], 1)],
            2,
        ),
        (
            "speaker with three more chats still wins",
            "es",
            [(&["en"], 0), (&["es"], 3)],
            2,
        ),
        (
            "equal cost at four more: the speaker",
            "es",
            [(&["en"], 0), (&["es"], 4)],
            2,
        ),
        (
            "five more chats outweigh the language",
            "es",
            [(&["en"], 0), (&["es"], 5)],
            1,
        ),
        (
            "nobody speaks it: lowest id",
            "fr",
            [(&["en"], 0), (&["es"], 0)],
            1,
        ),
        (
            "both speak it: fewer chats",
            "en",
            [(&["en"], 1), (&["en"], 0)],
            2,
        ),
    ];
    for (case, language, rows, expected) in cases {
        let clinicians: Vec<_> = (1..)
            .zip(rows)
            .map(|(id, (langs, _))| clin(id, &[], langs).with_max_chats(8))
            .collect();
        let mut r = router_with(&clinicians);
        for (id, (_, n)) in (1..).zip(rows) {
            preload(&mut r, id, n, 5);
        }
        assert_eq!(
            r.route(req("c", None, language, false, 10)).unwrap(),
            Routed::Assigned(expected),
            "{case}"
        );
    }
}

#[test]
fn longest_idle_breaks_ties() {
    // (case, last assignment time for ids 1..=3 (None = never), expected)
    let cases: [(&str, [Option<u64>; 3], ClinicianId); 4] = [
        ("oldest stamp wins", [Some(300), Some(100), Some(200)], 2),
        (
            "never assigned beats any stamp",
            [Some(100), None, Some(50)],
            2,
        ),
        ("two never assigned: lowest id", [Some(1), None, None], 2),
        ("equal stamps: lowest id", [Some(7), Some(7), Some(7)], 1),
    ];
    for (case, stamps, expected) in cases {
        let clinicians: Vec<_> = (1..=3).map(|id| clin(id, &[], &["en"])).collect();
        let mut r = router_with(&clinicians);
        // Give a stamp by assigning and releasing one chat, so loads stay equal.
        for (id, stamp) in (1..=3).zip(stamps) {
            if let Some(at) = stamp {
                preload(&mut r, id, 1, at);
                let conv = format!("pre-{id}-0-{at}");
                assert!(r.release(&conv, at).unwrap().is_empty());
                assert_eq!(r.clinician(id).unwrap().last_assigned_at(), Some(at));
            }
        }
        assert_eq!(
            r.route(req("c", None, "en", false, 1000)).unwrap(),
            Routed::Assigned(expected),
            "{case}"
        );
    }
}

#[test]
fn route_stamps_last_assigned_and_spreads_load() {
    let mut r = router_with(&[clin(1, &[], &["en"]), clin(2, &[], &["en"])]);
    let got: Vec<_> = (0..4)
        .map(|i| {
            r.route(req(&format!("c{i}"), None, "en", false, 10 + i))
                .unwrap()
        })
        .collect();
    assert_eq!(
        got,
        [
            Routed::Assigned(1),
            Routed::Assigned(2),
            Routed::Assigned(1),
            Routed::Assigned(2)
        ]
    );
    assert_eq!(r.clinician(1).unwrap().last_assigned_at(), Some(12));
    assert_eq!(r.clinician(2).unwrap().last_assigned_at(), Some(13));
}

#[test]
fn last_assigned_never_goes_back() {
    // A request stamped by a node whose clock lags must not make a busy
    // clinician look idle.
    let mut r = router_with(&[clin(1, &[], &["en"]), clin(2, &[], &["en"])]);
    r.route(req("a", None, "en", false, 100)).unwrap();
    r.route(req("b", None, "en", false, 50)).unwrap();
    r.release("a", 101).unwrap();
    r.release("b", 102).unwrap();
    r.route(req("late", None, "en", false, 10)).unwrap();
    assert_eq!(r.clinician(1).unwrap().last_assigned_at(), Some(100));
    assert_eq!(r.clinician(2).unwrap().last_assigned_at(), Some(50));
    assert_eq!(r.clinician(1).unwrap().open_count(), 0);
    assert_eq!(r.assignee("late"), Some(2));
}

#[test]
fn capacity_never_exceeded() {
    // (case, max_chats, chats routed while available)
    for (case, max, routed) in [("cap 1", 1, 3), ("cap 2", 2, 5), ("cap 0", 0, 2)] {
        let mut r = router_with(&[clin(1, &[], &["en"]).with_max_chats(max)]);
        for i in 0..routed {
            r.route(req(&format!("r{i}"), None, "en", false, i as u64))
                .unwrap();
        }
        assert_eq!(r.clinician(1).unwrap().open_count(), max, "{case}: route");
        assert_eq!(r.queue().len(), routed - max, "{case}: route queue");

        // Away and back: set_presence may fill up again but not beyond.
        r.set_presence(1, Presence::Away, 100).unwrap();
        for i in 0..3 {
            r.route(req(&format!("a{i}"), None, "en", false, 100 + i))
                .unwrap();
        }
        let before = r.clinician(1).unwrap().open_count();
        let got = r.set_presence(1, Presence::Available, 200).unwrap();
        assert!(got.is_empty(), "{case}: nothing freed, nothing assigned");
        assert_eq!(before, r.clinician(1).unwrap().open_count());

        // Release one: exactly one queued chat comes in, if the cap allows any.
        let open: Vec<String> = r
            .clinician(1)
            .unwrap()
            .open_chats()
            .map(str::to_owned)
            .collect();
        if let Some(first) = open.first() {
            let got = r.release(first, 300).unwrap();
            assert_eq!(got.len(), 1, "{case}: release pulls one");
        }
        assert_eq!(r.clinician(1).unwrap().open_count(), max, "{case}: release");
    }
}

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
fn queue_order_urgent_first_then_fifo() {
    // (case, arrivals (conversation, urgent, at_ms) in insertion order, expected queue)
    type Row<'a> = (&'a str, &'a [(&'a str, bool, u64)], &'a [&'a str]);
    let cases: [Row; 5] = [
        (
            "urgent ahead of older non-urgent",
            &[("old", false, 1), ("urgent", true, 9)],
            &["urgent", "old"],
        ),
        (
            "FIFO by arrival time, not insertion",
            &[("b", false, 20), ("a", false, 10), ("c", false, 30)],
            &["a", "b", "c"],
        ),
        (
            "same arrival time: insertion order",
            &[("x", false, 5), ("y", false, 5), ("z", false, 5)],
            &["x", "y", "z"],
        ),
        (
            "FIFO among urgent too",
            &[("u2", true, 8), ("n", false, 1), ("u1", true, 4)],
            &["u1", "u2", "n"],
        ),
        (
            "mixed",
            &[
                ("n3", false, 3),
                ("u5", true, 5),
                ("n1", false, 1),
                ("u5b", true, 5),
                ("n3b", false, 3),
            ],
            &["u5", "u5b", "n1", "n3", "n3b"],
        ),
    ];
    for (case, arrivals, expected) in cases {
        let mut r = Router::new();
        for &(conv, urgent, at) in arrivals {
            r.route(req(conv, None, "en", urgent, at)).unwrap();
        }
        assert_eq!(queue_ids(&r), expected, "{case}");
        for (i, conv) in expected.iter().enumerate() {
            assert_eq!(r.position(conv), Some(i + 1), "{case}: {conv}");
        }
    }
}

#[test]
fn route_reports_queue_position() {
    let mut r = Router::new();
    let got: Vec<_> = [
        ("a", false, 1),
        ("b", false, 2),
        ("u", true, 3),
        ("c", false, 0),
    ]
    .into_iter()
    .map(|(conv, urgent, at)| r.route(req(conv, None, "en", urgent, at)).unwrap())
    .collect();
    let pos = |position| Routed::Queued { position };
    assert_eq!(got, [pos(1), pos(2), pos(1), pos(2)]);
}

#[test]
fn positions_update_after_assignment() {
    let mut r = router_with(&[clin(1, &["billing"], &["en"]).with_max_chats(1)]);
    r.set_presence(1, Presence::Away, 0).unwrap();
    for (conv, skill, at) in [
        ("nurse", Some("nursing"), 1),
        ("bill1", Some("billing"), 2),
        ("bill2", Some("billing"), 3),
    ] {
        r.route(req(conv, skill, "en", false, at)).unwrap();
    }
    assert_eq!(
        [
            r.position("nurse"),
            r.position("bill1"),
            r.position("bill2")
        ],
        [Some(1), Some(2), Some(3)]
    );

    let got = r.set_presence(1, Presence::Available, 10).unwrap();
    assert_eq!(got, [assignment("bill1", 1)]);
    assert_eq!(
        [
            r.position("nurse"),
            r.position("bill1"),
            r.position("bill2")
        ],
        [Some(1), None, Some(2)]
    );

    r.take("nurse", 1, 11).unwrap();
    assert_eq!(r.position("bill2"), Some(1));
    assert!(r.release("bill2", 12).unwrap().is_empty());
    assert_eq!(r.position("bill2"), None);
    assert!(r.queue().is_empty());
}

#[test]
fn take_rules() {
    // Clinician 1 has "mine"; "waiting" is queued; clinician 2 is away and full.
    fn setup() -> Router {
        let mut r = router_with(&[
            clin(1, &[], &["en"]),
            clin(2, &[], &["en"]).with_max_chats(1),
        ]);
        preload(&mut r, 2, 1, 1);
        r.set_presence(2, Presence::Away, 1).unwrap();
        r.route(req("mine", None, "en", false, 2)).unwrap();
        r.set_presence(1, Presence::Offline, 3).unwrap();
        r.route(req("waiting", Some("dental"), "en", false, 4))
            .unwrap();
        assert_eq!(r.assignee("mine"), Some(1));
        r
    }
    let conflict = |conversation: &str, assigned_to| RouteError::Conflict {
        conversation: conversation.to_owned(),
        assigned_to,
    };
    // (case, conversation, clinician, expected result, expected assignee)
    type Row<'a> = (
        &'a str,
        &'a str,
        ClinicianId,
        Result<(), RouteError>,
        Option<ClinicianId>,
    );
    let cases: [Row; 6] = [
        (
            "taking someone else's chat conflicts",
            "mine",
            2,
            Err(conflict("mine", 1)),
            Some(1),
        ),
        (
            "taking one's own chat is a no-op",
            "mine",
            1,
            Ok(()),
            Some(1),
        ),
        (
            "away, full and unskilled may still take",
            "waiting",
            2,
            Ok(()),
            Some(2),
        ),
        ("offline may take", "waiting", 1, Ok(()), Some(1)),
        (
            "unknown conversation",
            "ghost",
            1,
            Err(RouteError::UnknownConversation("ghost".into())),
            None,
        ),
        (
            "unknown clinician",
            "waiting",
            9,
            Err(RouteError::UnknownClinician(9)),
            None,
        ),
    ];
    for (case, conv, clinician, expected, assignee) in cases {
        let mut r = setup();
        let before = r.clone();
        let got = r.take(conv, clinician, 50);
        assert_eq!(got, expected, "{case}");
        assert_eq!(r.assignee(conv), assignee, "{case}");
        if got.is_err() {
            assert_eq!(r, before, "{case}: errors change nothing");
        }
        if assignee.is_some() {
            assert_eq!(r.position(conv), None, "{case}: not also queued");
        }
    }

    // Once taken, a second clinician's take conflicts.
    let mut r = setup();
    r.take("waiting", 2, 50).unwrap();
    assert_eq!(r.take("waiting", 1, 51), Err(conflict("waiting", 2)));
    assert_eq!(
        r.clinician(2).unwrap().open_count(),
        2,
        "above max_chats by hand"
    );
    assert_eq!(r.clinician(2).unwrap().last_assigned_at(), Some(50));
}

#[test]
fn route_twice_is_an_error() {
    let mut r = router_with(&[clin(1, &[], &["en"]).with_max_chats(1)]);
    r.route(req("a", None, "en", false, 1)).unwrap();
    r.route(req("q", None, "en", false, 2)).unwrap();
    for conv in ["a", "q"] {
        let before = r.clone();
        assert_eq!(
            r.route(req(conv, None, "en", true, 3)),
            Err(RouteError::AlreadyRouted(conv.into()))
        );
        assert_eq!(r, before);
    }
}

#[test]
fn release_pulls_next_matching_queued_chat() {
    // Clinician 1 (billing, cap 1) is busy. The queue holds, in order: a
    // nursing chat, an urgent dental chat, then two billing chats.
    let mut r = router_with(&[clin(1, &["billing"], &["en"]).with_max_chats(1)]);
    r.route(req("busy", Some("billing"), "en", false, 1))
        .unwrap();
    for (conv, skill, urgent, at) in [
        ("nurse", Some("nursing"), false, 2),
        ("dental", Some("dental"), true, 3),
        ("bill-a", Some("billing"), false, 4),
        ("any", None, false, 5),
        ("bill-b", Some("billing"), false, 6),
    ] {
        r.route(req(conv, skill, "en", urgent, at)).unwrap();
    }
    assert_eq!(
        queue_ids(&r),
        ["dental", "nurse", "bill-a", "any", "bill-b"]
    );

    // (released conversation, expected new assignments, expected queue)
    type Row<'a> = (&'a str, &'a [&'a str], &'a [&'a str]);
    let steps: [Row; 4] = [
        ("busy", &["bill-a"], &["dental", "nurse", "any", "bill-b"]),
        ("bill-a", &["any"], &["dental", "nurse", "bill-b"]),
        // Releasing a queued chat frees no capacity.
        ("nurse", &[], &["dental", "bill-b"]),
        ("any", &["bill-b"], &["dental"]),
    ];
    for (t, (released, pulled, queue)) in (10..).zip(steps) {
        let got = r.release(released, t).unwrap();
        let expected: Vec<_> = pulled.iter().map(|c| assignment(c, 1)).collect();
        assert_eq!(got, expected, "release {released}");
        assert_eq!(queue_ids(&r), queue, "release {released}");
        assert_eq!(
            r.clinician(1).unwrap().open_count(),
            1,
            "release {released}"
        );
    }
    assert_eq!(
        r.release("gone", 20),
        Err(RouteError::UnknownConversation("gone".into()))
    );
}

#[test]
fn release_does_not_pull_for_clinician_over_capacity() {
    let mut r = router_with(&[clin(1, &[], &["en"]).with_max_chats(1)]);
    r.route(req("a", None, "en", false, 1)).unwrap();
    r.route(req("b", None, "en", false, 2)).unwrap();
    r.route(req("c", None, "en", false, 3)).unwrap();
    r.take("b", 1, 4).unwrap();
    // Two open against a cap of one: releasing one still leaves no room.
    assert!(r.release("a", 5).unwrap().is_empty());
    assert_eq!(queue_ids(&r), ["c"]);
    assert_eq!(r.release("b", 6).unwrap(), [assignment("c", 1)]);
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

#[test]
fn unknown_ids_are_errors() {
    let mut r = Router::new();
    assert_eq!(
        r.set_presence(4, Presence::Available, 0),
        Err(RouteError::UnknownClinician(4))
    );
    assert_eq!(
        r.remove_clinician(4, 0),
        Err(RouteError::UnknownClinician(4))
    );
    assert_eq!(
        r.release("x", 0),
        Err(RouteError::UnknownConversation("x".into()))
    );
    assert_eq!(r, Router::new());
}

// ---- Presence, languages, licences ----

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
fn language_levels_and_their_serde_forms() {
    let c = Clinician::new(1, "x").with_languages(["en", "ES"]);
    assert_eq!(c.level("es"), Some(Fluency::Fluent), "bare code is fluent");
    let c =
        Clinician::new(1, "x").with_languages([("es", Fluency::Basic), ("en", Fluency::Native)]);
    assert_eq!(c.level("ES"), Some(Fluency::Basic));
    assert_eq!(c.level("fr"), None);
    let json = r#"{"id":1,"display_name":"x","languages":["en",{"code":"es","level":"basic"},{"code":"fr"}]}"#;
    let c: Clinician = serde_json::from_str(json).unwrap();
    assert_eq!(
        c.languages,
        [
            Language::fluent("en"),
            Language::from(("es", Fluency::Basic)),
            Language::fluent("fr")
        ]
    );

    // A fluent speaker beats a basic one at equal load; basic beats none.
    // (case, [languages of 1, 2], expected)
    type Row<'a> = (&'a str, [&'a [(&'a str, Fluency)]; 2], ClinicianId);
    let rows: [Row; 3] = [
        (
            "fluent over basic",
            [&[("es", Fluency::Basic)], &[("es", Fluency::Fluent)]],
            2,
        ),
        (
            "native and fluent are equal: lowest id",
            [&[("es", Fluency::Fluent)], &[("es", Fluency::Native)]],
            1,
        ),
        (
            "basic over none",
            [&[("en", Fluency::Native)], &[("es", Fluency::Basic)]],
            2,
        ),
    ];
    for (case, langs, expected) in rows {
        let clinicians: Vec<_> = (1..)
            .zip(langs)
            .map(|(id, l)| Clinician::new(id, "x").with_languages(l.iter().copied()))
            .collect();
        let mut r = router_with(&clinicians);
        assert_eq!(
            r.route(req("c", None, "es", false, 1)).unwrap(),
            Routed::Assigned(expected),
            "{case}"
        );
    }
}

#[test]
fn translatable_pairs_lower_the_language_penalty() {
    // Clinician 1 has one chat and speaks only English; 2 is empty and speaks
    // only Vietnamese. A Spanish patient: neither speaks it.
    let setup = |policy: Policy| {
        let mut r = Router::with_policy(policy);
        for c in [clin(1, &[], &["en"]), clin(2, &[], &["vi"])] {
            r.upsert_clinician(c.clone(), 0);
            r.set_presence(c.id, Presence::Available, 0).unwrap();
        }
        preload(&mut r, 1, 1, 1);
        r.route(req("c", None, "es", false, 2)).unwrap()
    };
    assert_eq!(
        setup(Policy::default()),
        Routed::Assigned(2),
        "load decides"
    );
    let mut policy = Policy::default();
    policy.allow_translation("ES", "en");
    // 1: load 1 + translated 2 = 3 against 2: 0 + 4.
    assert_eq!(setup(policy), Routed::Assigned(1), "translation helps");
}

#[test]
fn licensed_state_is_a_hard_rule() {
    let ca = clin(1, &["nursing"], &["en"]).with_licensed_states(["CA"]);
    let ny = clin(2, &["nursing"], &["en"]).with_licensed_states(["NY"]);
    let mut r = router_with(&[ny.clone(), ca.clone()]);
    let got = r
        .route(req("c", Some("nursing"), "en", false, 1).with_license_state("ca"))
        .unwrap();
    assert_eq!(
        got,
        Routed::Assigned(1),
        "case-insensitive, only the CA nurse"
    );
    let got = r
        .route(req("d", Some("nursing"), "en", false, 2).with_license_state("TX"))
        .unwrap();
    assert_eq!(got, Routed::Queued { position: 1 });

    // Fallback never relaxes the licence.
    let policy = Policy::default().with_fallback("nursing", ["front_desk"]);
    let mut r = Router::with_policy(policy);
    r.upsert_clinician(clin(3, &["front_desk"], &["en"]), 0);
    r.set_presence(3, Presence::Available, 0).unwrap();
    let got = r
        .route(req("e", Some("nursing"), "en", false, 1).with_license_state("CA"))
        .unwrap();
    assert_eq!(got, Routed::Queued { position: 1 });
}

// ---- Offers ----

const OFFER_MS: u64 = 30_000;

fn offering(clinicians: &[Clinician]) -> Router {
    let mut r = Router::with_policy(Policy::default().with_offer_timeout_ms(OFFER_MS));
    for c in clinicians {
        r.upsert_clinician(c.clone(), 0);
        r.set_presence(c.id, Presence::Available, 0).unwrap();
    }
    r
}

fn offered(conversation: &str, clinician: ClinicianId, expires_at: u64) -> Assignment {
    Assignment {
        conversation: conversation.to_owned(),
        clinician,
        offer_expires_at: Some(expires_at),
    }
}

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

// ---- Fallback and the offline form ----

fn with_policy(policy: Policy, clinicians: &[(Clinician, Presence)]) -> Router {
    let mut r = Router::with_policy(policy);
    for (c, p) in clinicians {
        r.upsert_clinician(c.clone(), 0);
        r.set_presence(c.id, *p, 0).unwrap();
    }
    r
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

// ---- Transfer, start ----

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

#[test]
fn start_ignores_presence_and_capacity_and_counts() {
    let mut r = router_with(&[clin(1, &[], &["en"]).with_max_chats(1)]);
    r.set_presence(1, Presence::Away, 0).unwrap();
    r.start(Request::new("known", "en", 1), 1, 1).unwrap();
    r.set_presence(1, Presence::Available, 2).unwrap();
    assert_eq!(
        r.route(req("c", None, "en", false, 3)).unwrap(),
        Routed::Queued { position: 1 },
        "the started chat fills the one place"
    );
    assert_eq!(
        r.start(Request::new("c", "en", 4), 1, 4),
        Err(RouteError::AlreadyRouted("c".into()))
    );
    assert_eq!(
        r.start(Request::new("x", "en", 4), 9, 4),
        Err(RouteError::UnknownClinician(9))
    );
    assert_eq!(r.release("known", 5).unwrap(), [assignment("c", 1)]);
}

// ---- Wait estimate ----

#[test]
fn wait_estimate_from_the_observed_rate() {
    let mut r = router_with(&[clin(1, &["billing"], &["en"]).with_max_chats(1)]);
    r.route(req("a0", Some("billing"), "en", false, 0)).unwrap();
    for i in 1..=3 {
        r.route(req(&format!("a{i}"), Some("billing"), "en", false, i))
            .unwrap();
    }
    r.route(req("other", Some("dental"), "en", false, 4))
        .unwrap();
    assert_eq!(r.wait_estimate("a3", 10), None, "no departures yet");

    // Four more departures, one every 60 s: five in all, from t=0.
    for (i, t) in (0..4).zip([60_000u64, 120_000, 180_000, 240_000]) {
        r.release(&format!("a{i}"), t).unwrap();
        r.route(req(&format!("b{i}"), Some("billing"), "en", false, t))
            .unwrap();
    }
    // Each release pulled the next billing chat: the queue is now "other"
    // (dental, oldest) then b1, b2, b3.
    assert_eq!(queue_ids(&r), ["other", "b1", "b2", "b3"]);
    // 5 departures over 300 s since the oldest: one per 60 s.
    let e = r.wait_estimate("b1", 300_000).unwrap();
    assert_eq!(
        (e.position, e.ahead, e.samples, e.estimate_ms),
        (2, 0, 5, 60_000)
    );
    let e = r.wait_estimate("b3", 300_000).unwrap();
    assert_eq!((e.ahead, e.estimate_ms), (2, 180_000));
    // Chats of another skill are not counted, and have no basis of their own.
    assert_eq!(r.wait_estimate("other", 300_000), None);
    // Outside the window, the old departures do not count.
    assert_eq!(r.wait_estimate("b1", 300_000 + 30 * 60_000), None);
    // Nobody available to serve: no estimate.
    r.set_presence(1, Presence::Away, 300_001).unwrap();
    assert_eq!(r.wait_estimate("b1", 300_002), None);
    assert_eq!(r.wait_estimate("a3", 300_002), None, "not queued");
}

// ---- Translation ----

#[test]
fn translation_plan_rules() {
    let c =
        |langs: &[(&str, Fluency)]| Clinician::new(1, "x").with_languages(langs.iter().copied());
    use Fluency::*;
    // (case, patient language, clinician languages, expected)
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a [(&'a str, Fluency)],
        Option<(&'a str, &'a str)>,
    );
    let rows: [Row; 7] = [
        (
            "fluent: none",
            "es",
            &[("en", Native), ("es", Fluent)],
            None,
        ),
        ("native: none, any case", "ES", &[("es", Native)], None),
        (
            "not spoken: to their language",
            "es",
            &[("en", Native)],
            Some(("es", "en")),
        ),
        (
            "basic: translated",
            "es",
            &[("es", Basic), ("en", Fluent)],
            Some(("es", "en")),
        ),
        (
            "strongest target, list order among equals",
            "vi",
            &[("fr", Fluent), ("en", Native), ("es", Native)],
            Some(("vi", "en")),
        ),
        (
            "only basic elsewhere too: none",
            "es",
            &[("es", Basic), ("fr", Basic)],
            None,
        ),
        ("no languages: none", "es", &[], None),
    ];
    for (case, patient, langs, expected) in rows {
        let got = translation_plan(patient, &c(langs));
        let expected = expected.map(|(a, b)| (a.to_owned(), b.to_owned()));
        assert_eq!(got, expected, "{case}");
    }

    struct OnlyEnEs;
    impl Translator for OnlyEnEs {
        fn supports(&self, from: &str, to: &str) -> bool {
            matches!((from, to), ("es", "en") | ("en", "es"))
        }
        fn translate(&self, text: &str, from: &str, to: &str) -> Result<String, TranslateError> {
            if self.supports(from, to) {
                Ok(format!("[{to}] {text}"))
            } else {
                Err(TranslateError::Unsupported {
                    from: from.into(),
                    to: to.into(),
                })
            }
        }
    }
    let t: &dyn Translator = &OnlyEnEs;
    let fr_en = c(&[("fr", Native), ("en", Fluent)]);
    assert_eq!(
        translation_plan_with("es", &fr_en, t),
        Some(("es".into(), "en".into())),
        "skips French, which the translator lacks"
    );
    assert_eq!(translation_plan_with("es", &c(&[("fr", Native)]), t), None);
    assert_eq!(translation_plan_with("en", &fr_en, t), None, "fluent");
    assert_eq!(
        t.translate("hola", "es", "fr").unwrap_err().to_string(),
        "no model translates es to fr"
    );
}

#[test]
fn state_round_trips_through_serde() {
    let mut r = offering(&[clin(1, &["billing"], &["en"]), clin(2, &[], &["es"])]);
    r.route(req("c", Some("billing"), "en", true, 1)).unwrap();
    r.route(req("d", Some("dental"), "es", false, 2)).unwrap();
    let json = serde_json::to_string(&r).unwrap();
    let back: Router = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    // And an old state without the new fields still loads.
    let old = r#"{"clinicians":{"1":{"id":1,"display_name":"A","languages":["en"]}},"queue":[],"assigned":{},"next_seq":0}"#;
    let r: Router = serde_json::from_str(old).unwrap();
    assert_eq!(r.clinician(1).unwrap().level("en"), Some(Fluency::Fluent));
    assert_eq!(r.policy(), &Policy::default());
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
