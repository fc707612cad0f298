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
