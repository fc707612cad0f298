//! Seeded random walk over the whole API, checking the router against
//! invariants and against a small independent model of the assignment rules
//! after every step. Deterministic: a failure names its seed and step.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use super::*;

const SKILLS: [&str; 5] = ["front_desk", "billing", "nursing", "dental", "records"];
// "records" is never given to anyone, so some chats can only be taken by hand.
const GRANTABLE: [&str; 4] = ["front_desk", "billing", "nursing", "dental"];
const LANGUAGES: [&str; 4] = ["en", "es", "fr", "de"];
const CONVERSATIONS: u64 = 60;
// Ids 1..=6 may exist; 7 never does, to exercise unknown-clinician errors.
const CLINICIAN_IDS: i64 = 7;

/// The same ordering as the router's, written independently.
fn queue_cmp(a: &QueuedChat, b: &QueuedChat) -> Ordering {
    b.urgent
        .cmp(&a.urgent)
        .then(b.requeued.cmp(&a.requeued))
        .then(a.at_ms.cmp(&b.at_ms))
        .then(a.seq.cmp(&b.seq))
}

/// Just what the assignment rules look at.
#[derive(Debug)]
struct ModelClinician {
    id: ClinicianId,
    available: bool,
    skills: Vec<String>,
    languages: Vec<String>,
    max_chats: usize,
    open: usize,
    last: Option<u64>,
}

impl ModelClinician {
    fn from(c: &Clinician) -> Self {
        Self {
            id: c.id,
            available: c.presence() == Presence::Available,
            skills: c.skills.clone(),
            languages: c.languages.iter().map(|l| l.code.clone()).collect(),
            max_chats: c.max_chats,
            open: c.open_count(),
            last: c.last_assigned_at(),
        }
    }
}

fn model_best(clinicians: &[ModelClinician], skill: Option<&str>, language: &str) -> Option<usize> {
    let speaks = |c: &ModelClinician| c.languages.iter().any(|l| l.eq_ignore_ascii_case(language));
    let idle = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(&y),
    };
    let mut eligible: Vec<usize> = (0..clinicians.len())
        .filter(|&i| {
            let c = &clinicians[i];
            c.available
                && c.open < c.max_chats
                && skill.is_none_or(|s| c.skills.iter().any(|k| k == s))
        })
        .collect();
    // The default weights: not speaking the language costs as much as four
    // open chats, and on equal cost the speaker wins.
    let cost = |c: &ModelClinician| c.open + if speaks(c) { 0 } else { 4 };
    eligible.sort_by(|&i, &j| {
        let (a, b) = (&clinicians[i], &clinicians[j]);
        cost(a)
            .cmp(&cost(b))
            .then(speaks(b).cmp(&speaks(a)))
            .then(idle(a.last, b.last))
            .then(a.id.cmp(&b.id))
    });
    eligible.first().copied()
}

/// Rebuilds the state just before the router's automatic assignments of this
/// step (by undoing them) and replays the queue through the model. The result
/// must be exactly the assignments the router reported.
fn check_drain(before: &Router, after: &Router, got: &[Assignment], now: u64, ctx: &str) {
    let mut clinicians: Vec<ModelClinician> =
        after.clinicians().map(ModelClinician::from).collect();
    for c in &mut clinicians {
        c.open -= got.iter().filter(|a| a.clinician == c.id).count();
        c.last = before.clinician(c.id).and_then(Clinician::last_assigned_at);
    }
    let mut queue = after.queue();
    for a in got {
        let assigned = after
            .assigned
            .get(&a.conversation)
            .unwrap_or_else(|| panic!("{ctx}: reported {a:?} is not assigned"));
        assert_eq!(assigned.clinician, a.clinician, "{ctx}");
        queue.push(assigned.ticket.clone());
    }
    queue.sort_by(queue_cmp);

    let mut expected = Vec::new();
    for ticket in &queue {
        if let Some(i) = model_best(&clinicians, ticket.skill.as_deref(), &ticket.language) {
            let c = &mut clinicians[i];
            c.open += 1;
            c.last = Some(c.last.map_or(now, |t| t.max(now)));
            expected.push(Assignment {
                conversation: ticket.conversation.clone(),
                clinician: c.id,
                offer_expires_at: None,
            });
        }
    }
    assert_eq!(got, expected, "{ctx}: automatic assignments");
    for a in got {
        let c = after.clinician(a.clinician).unwrap();
        assert!(c.open_count() <= c.max_chats, "{ctx}: {a:?} over capacity");
        let skill = after.assigned[&a.conversation].ticket.skill.as_deref();
        assert!(
            skill.is_none_or(|s| c.has_skill(s)),
            "{ctx}: {a:?} lacks skill"
        );
        assert_eq!(c.presence(), Presence::Available, "{ctx}: {a:?}");
    }
}

/// Invariants that hold after every call, whatever it was.
fn check_state(r: &Router, live: &BTreeSet<String>, ctx: &str) {
    let queued: Vec<&str> = r.queue.iter().map(|q| q.conversation.as_str()).collect();
    let queued_set: BTreeSet<&str> = queued.iter().copied().collect();
    assert_eq!(queued.len(), queued_set.len(), "{ctx}: duplicate in queue");
    for q in &queued {
        assert!(
            !r.assigned.contains_key(*q),
            "{ctx}: {q} queued and assigned"
        );
    }

    // Nothing lost, nothing invented.
    let known: BTreeSet<String> = queued_set
        .iter()
        .map(|q| q.to_string())
        .chain(r.assigned.keys().cloned())
        .collect();
    assert_eq!(&known, live, "{ctx}: known conversations");

    // The two records of who has what agree.
    for (conv, a) in &r.assigned {
        let c = r
            .clinician(a.clinician)
            .unwrap_or_else(|| panic!("{ctx}: {conv} assigned to missing {}", a.clinician));
        assert!(
            c.open_chats.contains(conv),
            "{ctx}: {conv} missing from open chats"
        );
        assert_eq!(&a.ticket.conversation, conv, "{ctx}");
        assert_eq!(r.assignee(conv), Some(a.clinician), "{ctx}");
    }
    for c in r.clinicians() {
        for conv in c.open_chats() {
            assert_eq!(r.assignee(conv), Some(c.id), "{ctx}: {conv} on {}", c.id);
        }
    }

    // Urgent first; within an urgency, requeued first; then FIFO by arrival,
    // then by insertion.
    for (i, pair) in r.queue.windows(2).enumerate() {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(
            a.urgent || !b.urgent,
            "{ctx}: non-urgent before urgent at {i}"
        );
        if a.urgent == b.urgent {
            assert!(a.requeued || !b.requeued, "{ctx}: requeued behind at {i}");
            if a.requeued == b.requeued {
                assert!(a.at_ms <= b.at_ms, "{ctx}: not FIFO at {i}: {a:?} {b:?}");
                if a.at_ms == b.at_ms {
                    assert!(a.seq < b.seq, "{ctx}: insertion order at {i}");
                }
            }
        }
    }
    for (i, q) in r.queue.iter().enumerate() {
        assert_eq!(r.position(&q.conversation), Some(i + 1), "{ctx}");
    }

    // Nobody who could take a queued chat automatically is left idle.
    let clinicians: Vec<_> = r.clinicians().map(ModelClinician::from).collect();
    for q in &r.queue {
        assert_eq!(
            model_best(&clinicians, q.skill.as_deref(), &q.language),
            None,
            "{ctx}: {} waits while someone could take it",
            q.conversation
        );
    }
}

#[derive(Default, Debug)]
struct Coverage {
    routed_assigned: usize,
    routed_queued: usize,
    drained: usize,
    taken: usize,
    conflicts: usize,
    requeued: usize,
    over_capacity_by_hand: usize,
    max_queue: usize,
}

fn run(seed: u64, steps: usize) -> Coverage {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut r = Router::new();
    let mut live: BTreeSet<String> = BTreeSet::new();
    let mut clock: u64 = 1_000_000;
    let mut seen = Coverage::default();

    for step in 0..steps {
        clock += rng.random_range(0..500);
        let before = r.clone();
        let op = rng.random_range(0..100u64);
        // Releases and takes mostly aim at chats that exist, or the walk
        // would spend its time on errors and saturate.
        let conv = if op >= 25 && !live.is_empty() && rng.random_bool(0.85) {
            let live: Vec<&String> = live.iter().collect();
            live.choose(&mut rng).expect("not empty").to_string()
        } else {
            format!("c{}", rng.random_range(0..CONVERSATIONS))
        };
        let id = rng.random_range(1..=CLINICIAN_IDS);
        let id = if id == CLINICIAN_IDS && rng.random_bool(0.7) {
            1
        } else {
            id
        };
        let ctx = format!("seed {seed} step {step} op {op}");

        let (ok, drained): (bool, Vec<Assignment>) = match op {
            0..=24 => {
                let skill = if rng.random_bool(0.3) {
                    None
                } else {
                    SKILLS.choose(&mut rng).copied()
                };
                // Arrival times are jittered so they do not follow insertion.
                let at = clock.saturating_sub(rng.random_range(0..3_000));
                let mut req = Request::new(
                    conv.clone(),
                    *LANGUAGES.choose(&mut rng).expect("not empty"),
                    at,
                )
                .with_urgent(rng.random_bool(0.2));
                if let Some(s) = skill {
                    req = req.with_skill(s);
                }
                let expected = model_best(
                    &before
                        .clinicians()
                        .map(ModelClinician::from)
                        .collect::<Vec<_>>(),
                    skill,
                    &req.language,
                )
                .map(|i| before.clinicians().nth(i).unwrap().id);
                match r.route(req) {
                    Ok(Routed::Assigned(c)) => {
                        assert_eq!(Some(c), expected, "{ctx}: route picked");
                        let cl = r.clinician(c).unwrap();
                        assert!(
                            cl.open_count() <= cl.max_chats,
                            "{ctx}: route over capacity"
                        );
                        live.insert(conv.clone());
                        seen.routed_assigned += 1;
                        (true, Vec::new())
                    }
                    Ok(Routed::Queued { position }) => {
                        assert_eq!(expected, None, "{ctx}: queued while someone was free");
                        assert_eq!(r.position(&conv), Some(position), "{ctx}");
                        live.insert(conv.clone());
                        seen.routed_queued += 1;
                        (true, Vec::new())
                    }
                    Ok(other) => {
                        panic!("{ctx}: the default policy neither offers nor turns away: {other:?}")
                    }
                    Err(e) => {
                        assert_eq!(e, RouteError::AlreadyRouted(conv.clone()), "{ctx}");
                        assert!(live.contains(&conv), "{ctx}: {e}");
                        (false, Vec::new())
                    }
                }
            }
            25..=34 => {
                let result = r.take(&conv, id, clock);
                let expected = if before.clinician(id).is_none() {
                    Err(RouteError::UnknownClinician(id))
                } else {
                    match before.assignee(&conv) {
                        Some(other) if other != id => Err(RouteError::Conflict {
                            conversation: conv.clone(),
                            assigned_to: other,
                        }),
                        Some(_) => Ok(()),
                        None if before.position(&conv).is_some() => Ok(()),
                        None => Err(RouteError::UnknownConversation(conv.clone())),
                    }
                };
                assert_eq!(result, expected, "{ctx}: take");
                if matches!(result, Err(RouteError::Conflict { .. })) {
                    seen.conflicts += 1;
                }
                if result.is_ok() {
                    assert_eq!(r.assignee(&conv), Some(id), "{ctx}");
                    if before.position(&conv).is_some() {
                        seen.taken += 1;
                        let c = r.clinician(id).unwrap();
                        if c.open_count() > c.max_chats {
                            seen.over_capacity_by_hand += 1;
                        }
                    } else {
                        assert_eq!(r, before, "{ctx}: idempotent take changed state");
                    }
                }
                (result.is_ok(), Vec::new())
            }
            35..=69 => match r.release(&conv, clock) {
                Ok(got) => {
                    assert!(live.remove(&conv), "{ctx}: released unknown");
                    if before.position(&conv).is_some() {
                        assert!(got.is_empty(), "{ctx}: releasing a queued chat assigned");
                    }
                    (true, got)
                }
                Err(e) => {
                    assert_eq!(e, RouteError::UnknownConversation(conv.clone()), "{ctx}");
                    assert!(!live.contains(&conv), "{ctx}");
                    (false, Vec::new())
                }
            },
            70..=86 => {
                let presence = *[
                    Presence::Available,
                    Presence::Available,
                    Presence::Busy,
                    Presence::Away,
                    Presence::Offline,
                ]
                .choose(&mut rng)
                .expect("not empty");
                match r.set_presence(id, presence, clock) {
                    Ok(got) => {
                        assert_eq!(r.clinician(id).unwrap().presence(), presence, "{ctx}");
                        if presence != Presence::Available {
                            assert!(got.is_empty(), "{ctx}: assigned on going away");
                        }
                        if let Some(b) = before.clinician(id) {
                            let a = r.clinician(id).unwrap();
                            assert!(b.open_chats.is_subset(&a.open_chats), "{ctx}: lost chats");
                        }
                        (true, got)
                    }
                    Err(e) => {
                        assert_eq!(e, RouteError::UnknownClinician(id), "{ctx}");
                        (false, Vec::new())
                    }
                }
            }
            87..=96 => {
                if id == CLINICIAN_IDS {
                    (false, Vec::new())
                } else {
                    let skills: Vec<&str> = GRANTABLE
                        .iter()
                        .copied()
                        .filter(|_| rng.random_bool(0.4))
                        .collect();
                    let languages: Vec<&str> = LANGUAGES
                        .iter()
                        .copied()
                        .filter(|_| rng.random_bool(0.4))
                        .collect();
                    let profile = Clinician::new(id, format!("C{id}"))
                        .with_skills(skills)
                        .with_languages(languages)
                        .with_max_chats(rng.random_range(0..5));
                    let got = r.upsert_clinician(profile.clone(), clock);
                    let c = r.clinician(id).unwrap();
                    assert_eq!(
                        (&c.skills, &c.languages, c.max_chats),
                        (&profile.skills, &profile.languages, profile.max_chats),
                        "{ctx}"
                    );
                    if let Some(b) = before.clinician(id) {
                        assert_eq!(b.presence(), c.presence(), "{ctx}: upsert changed presence");
                    } else {
                        assert_eq!(c.presence(), Presence::Offline, "{ctx}");
                    }
                    (true, got)
                }
            }
            _ => match r.remove_clinician(id, clock) {
                Ok(moved) => {
                    let had: BTreeSet<String> = before
                        .clinician(id)
                        .unwrap()
                        .open_chats()
                        .map(str::to_owned)
                        .collect();
                    let reported: BTreeSet<String> = moved.iter().map(|(c, _)| c.clone()).collect();
                    assert_eq!(reported, had, "{ctx}: remove reported");
                    seen.requeued += moved.len();
                    for (c, routed) in &moved {
                        match *routed {
                            Routed::Assigned(to) => assert_eq!(r.assignee(c), Some(to), "{ctx}"),
                            Routed::Queued { position } => {
                                assert_eq!(r.position(c), Some(position), "{ctx}");
                                assert!(r.queue[position - 1].requeued, "{ctx}");
                            }
                            other => panic!("{ctx}: no offers in the default policy: {other:?}"),
                        }
                    }
                    let got: Vec<Assignment> = moved
                        .iter()
                        .filter_map(|(c, routed)| match routed {
                            Routed::Assigned(to) => Some(Assignment {
                                conversation: c.clone(),
                                clinician: *to,
                                offer_expires_at: None,
                            }),
                            _ => None,
                        })
                        .collect();
                    // Only the requeued chats can have moved: everyone else
                    // was already unable to take what was queued.
                    let mut drained_total = got.clone();
                    for conv in before.queue.iter().map(|q| &q.conversation) {
                        if let Some(to) = r.assignee(conv) {
                            drained_total.push(Assignment {
                                conversation: conv.clone(),
                                clinician: to,
                                offer_expires_at: None,
                            });
                        }
                    }
                    assert_eq!(drained_total, got, "{ctx}: remove assigned old queue");
                    (true, got)
                }
                Err(e) => {
                    assert_eq!(e, RouteError::UnknownClinician(id), "{ctx}");
                    (false, Vec::new())
                }
            },
        };

        if ok {
            // Order of `drained` as the router reports it is queue order, which
            // for remove_clinician is what `check_drain` replays too.
            let mut in_queue_order = drained.clone();
            let after_queue_rank = |a: &Assignment| {
                let t = &r.assigned[&a.conversation].ticket;
                (!t.urgent, !t.requeued, t.at_ms, t.seq)
            };
            in_queue_order.sort_by_key(after_queue_rank);
            assert_eq!(
                in_queue_order, drained,
                "{ctx}: assignments not in queue order"
            );
            check_drain(&before, &r, &drained, clock, &ctx);
            seen.drained += drained.len();
        } else {
            assert_eq!(r, before, "{ctx}: failed call changed state");
        }
        for b in before.clinicians() {
            if let Some(a) = r.clinician(b.id) {
                assert!(
                    a.last_assigned_at() >= b.last_assigned_at(),
                    "{ctx}: last_assigned_at of {} went back",
                    b.id
                );
            }
        }
        check_state(&r, &live, &ctx);
        seen.max_queue = seen.max_queue.max(r.queue.len());
    }
    seen
}

#[test]
fn random_walk_keeps_invariants() {
    let mut total = Coverage::default();
    for seed in [1, 2, 3, 0x9E37_79B9_7F4A_7C15, 0xDEAD_BEEF, 42, 7, 2024] {
        let c = run(seed, 4_000);
        total.routed_assigned += c.routed_assigned;
        total.routed_queued += c.routed_queued;
        total.drained += c.drained;
        total.taken += c.taken;
        total.conflicts += c.conflicts;
        total.requeued += c.requeued;
        total.over_capacity_by_hand += c.over_capacity_by_hand;
        total.max_queue = total.max_queue.max(c.max_queue);
    }
    // A walk that never reaches the interesting cases proves nothing.
    let Coverage {
        routed_assigned,
        routed_queued,
        drained,
        taken,
        conflicts,
        requeued,
        over_capacity_by_hand,
        max_queue,
    } = total;
    for (what, n) in [
        ("routed_assigned", routed_assigned),
        ("routed_queued", routed_queued),
        ("drained", drained),
        ("taken", taken),
        ("conflicts", conflicts),
        ("requeued", requeued),
        ("over_capacity_by_hand", over_capacity_by_hand),
    ] {
        assert!(n >= 20, "walk too tame: {what} = {n} ({total:?})");
    }
    assert!(
        max_queue >= 5,
        "walk too tame: queue never grew ({total:?})"
    );
}
