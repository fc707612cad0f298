//! Routing, taking, starting and releasing a chat; refused calls; the state
//! through serde.

use super::*;

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
