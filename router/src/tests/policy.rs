//! Who gets a chat automatically: skills, availability, load and capacity,
//! languages and their penalties, longest idle, licences.

use super::*;

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
