//! The queue order (urgent first, then oldest), positions, and the wait
//! estimate.

use super::*;

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
