//! Property tests of the assignment rules under random sequences of calls,
//! with offers on or off and a fallback skill group: automatic assignment
//! never goes over capacity, urgent chats are never left behind non-urgent
//! ones, nobody who could take a queued chat is left idle, an offer that
//! passes never goes straight back to the same clinician, and no chat starves
//! once capable clinicians are there.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;

const SKILLS: [&str; 3] = ["front_desk", "billing", "nursing"];
const LANGS: [&str; 3] = ["en", "es", "vi"];
const STATES: [&str; 2] = ["CA", "NY"];
const TIMEOUT: u64 = 1_000;

#[derive(Clone, Debug)]
enum Op {
    Route {
        conv: u8,
        skill: Option<usize>,
        lang: usize,
        urgent: bool,
        state: Option<usize>,
    },
    Take(u8, i64),
    Release(u8),
    Presence(i64, usize),
    Upsert {
        id: i64,
        skills: u8,
        langs: u8,
        states: u8,
        max: usize,
    },
    Accept(u8, i64),
    Decline(u8, i64),
    Tick,
    Transfer(u8, Option<i64>, usize),
    Start(u8, i64),
    Remove(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let conv = 0u8..16;
    let id = 1i64..6;
    prop_oneof![
        6 => (conv.clone(), prop::option::of(0..SKILLS.len()), 0..LANGS.len(), any::<bool>(),
              prop::option::weighted(0.2, 0..STATES.len()))
            .prop_map(|(conv, skill, lang, urgent, state)| Op::Route { conv, skill, lang, urgent, state }),
        2 => (conv.clone(), id.clone()).prop_map(|(c, i)| Op::Take(c, i)),
        4 => conv.clone().prop_map(Op::Release),
        3 => (id.clone(), 0usize..4).prop_map(|(i, p)| Op::Presence(i, p)),
        2 => (id.clone(), any::<u8>(), any::<u8>(), any::<u8>(), 0usize..4)
            .prop_map(|(id, skills, langs, states, max)| Op::Upsert { id, skills, langs, states, max }),
        3 => (conv.clone(), id.clone()).prop_map(|(c, i)| Op::Accept(c, i)),
        2 => (conv.clone(), id.clone()).prop_map(|(c, i)| Op::Decline(c, i)),
        3 => Just(Op::Tick),
        1 => (conv.clone(), prop::option::of(id.clone()), 0..SKILLS.len())
            .prop_map(|(c, to, s)| Op::Transfer(c, to, s)),
        1 => (conv.clone(), id.clone()).prop_map(|(c, i)| Op::Start(c, i)),
        1 => id.prop_map(Op::Remove),
    ]
}

fn policy(offers: bool) -> Policy {
    let p = Policy::default()
        .with_fallback("billing", ["front_desk"])
        .with_fallback_after_ms(3_000);
    if offers {
        p.with_offer_timeout_ms(TIMEOUT)
    } else {
        p
    }
}

fn pick<'a>(mask: u8, items: &[&'a str]) -> Vec<&'a str> {
    items
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, s)| *s)
        .collect()
}

/// What a call handed out automatically, whatever its return type.
fn automatic(r: &Router, op: &Op, now: u64) -> Vec<Assignment> {
    let mut r = r.clone();
    apply(&mut r, op, now)
}

/// Applies `op` and returns the automatic assignments and offers it made.
fn apply(r: &mut Router, op: &Op, now: u64) -> Vec<Assignment> {
    let conv = |c: &u8| format!("c{c}");
    match op {
        Op::Route {
            conv: c,
            skill,
            lang,
            urgent,
            state,
        } => {
            let mut req = Request::new(conv(c), LANGS[*lang], now).with_urgent(*urgent);
            if let Some(s) = skill {
                req = req.with_skill(SKILLS[*s]);
            }
            if let Some(s) = state {
                req = req.with_license_state(STATES[*s]);
            }
            match r.route(req) {
                Ok(Routed::Assigned(id)) => vec![Assignment {
                    conversation: conv(c),
                    clinician: id,
                    offer_expires_at: None,
                }],
                Ok(Routed::Offered {
                    clinician,
                    expires_at,
                }) => vec![Assignment {
                    conversation: conv(c),
                    clinician,
                    offer_expires_at: Some(expires_at),
                }],
                _ => Vec::new(),
            }
        }
        Op::Take(c, id) => {
            let _ = r.take(&conv(c), *id, now);
            Vec::new()
        }
        Op::Release(c) => r.release(&conv(c), now).unwrap_or_default(),
        Op::Presence(id, p) => {
            let p = [
                Presence::Available,
                Presence::Busy,
                Presence::Away,
                Presence::Offline,
            ][*p];
            r.set_presence(*id, p, now).unwrap_or_default()
        }
        Op::Upsert {
            id,
            skills,
            langs,
            states,
            max,
        } => r.upsert_clinician(
            Clinician::new(*id, "p")
                .with_skills(pick(*skills, &SKILLS))
                .with_languages(pick(*langs, &LANGS))
                .with_licensed_states(pick(*states, &STATES))
                .with_max_chats(*max),
            now,
        ),
        Op::Accept(c, id) => {
            let _ = r.accept(&conv(c), *id, now);
            Vec::new()
        }
        Op::Decline(c, id) => r.decline(&conv(c), *id, now).unwrap_or_default(),
        Op::Tick => r
            .tick(now)
            .into_iter()
            .filter_map(|e| match e {
                Event::Assigned(a) => Some(a),
                _ => None,
            })
            .collect(),
        Op::Transfer(c, to, s) => {
            let target = match to {
                Some(id) => TransferTarget::Clinician(*id),
                None => TransferTarget::Skill(SKILLS[*s].into()),
            };
            match r.transfer(&conv(c), target, Some("staff only".into()), now) {
                Ok(t) => {
                    let mut got = t.others;
                    match (to, t.outcome) {
                        (None, Routed::Assigned(id)) => got.push(Assignment {
                            conversation: conv(c),
                            clinician: id,
                            offer_expires_at: None,
                        }),
                        (
                            None,
                            Routed::Offered {
                                clinician,
                                expires_at,
                            },
                        ) => got.push(Assignment {
                            conversation: conv(c),
                            clinician,
                            offer_expires_at: Some(expires_at),
                        }),
                        _ => {}
                    }
                    got
                }
                Err(_) => Vec::new(),
            }
        }
        Op::Start(c, id) => {
            let _ = r.start(Request::new(conv(c), "en", now), *id, now);
            Vec::new()
        }
        Op::Remove(id) => {
            let before = r.clone();
            match r.remove_clinician(*id, now) {
                Ok(moved) => moved
                    .into_iter()
                    .filter_map(|(conversation, routed)| match routed {
                        Routed::Assigned(clinician) => Some((conversation, clinician, None)),
                        Routed::Offered {
                            clinician,
                            expires_at,
                        } => Some((conversation, clinician, Some(expires_at))),
                        _ => None,
                    })
                    .filter(|(c, _, _)| before.outcome(c).is_some())
                    .map(|(conversation, clinician, offer_expires_at)| Assignment {
                        conversation,
                        clinician,
                        offer_expires_at,
                    })
                    .collect(),
                Err(_) => Vec::new(),
            }
        }
    }
}

/// Could `c` take `t` automatically right now?
fn could_take(r: &Router, c: &Clinician, t: &QueuedChat) -> bool {
    c.presence() == Presence::Available
        && c.load() < c.max_chats
        && !t.passed.contains(&c.id)
        && t.tier(c, &r.policy).is_some()
}

fn check(before: &Router, r: &Router, got: &[Assignment], op: &Op) -> Result<(), TestCaseError> {
    // Never over capacity by automatic assignment, and only to the available.
    for a in got {
        let c = r.clinician(a.clinician).unwrap();
        prop_assert!(c.load() <= c.max_chats, "{a:?} over capacity after {op:?}");
        prop_assert_eq!(c.presence(), Presence::Available);
        let ticket = r
            .assigned
            .get(&a.conversation)
            .map(|x| &x.ticket)
            .or_else(|| r.offers.get(&a.conversation).map(|p| &p.ticket))
            .unwrap();
        prop_assert!(ticket.tier(c, &r.policy).is_some(), "{a:?} cannot serve");
    }
    // An offer that passed in this call never went straight back.
    for a in got {
        if let Some(p) = before.offers.get(&a.conversation) {
            prop_assert_ne!(
                p.clinician,
                a.clinician,
                "re-offered to the same after {:?}",
                op
            );
        }
    }
    // Urgent first in the queue, and nobody idle who could take a queued chat:
    // together, no non-urgent chat is served while an urgent one that the
    // same clinician could take waits.
    for w in r.queue.windows(2) {
        prop_assert!(w[0].order_key() <= w[1].order_key());
    }
    for t in &r.queue {
        for c in r.clinicians() {
            prop_assert!(
                !could_take(r, c, t),
                "{} waits while {} could take it, after {:?}",
                t.conversation,
                c.id,
                op
            );
        }
    }
    // Offers and clinicians agree.
    for (conv, p) in &r.offers {
        prop_assert!(r.clinician(p.clinician).unwrap().offered.contains(conv));
        prop_assert!(!r.assigned.contains_key(conv) && r.position(conv).is_none());
    }
    Ok(())
}

fn setup(offers: bool) -> Router {
    let mut r = Router::with_policy(policy(offers));
    for id in 1..4 {
        r.upsert_clinician(
            Clinician::new(id, "p")
                .with_skills([SKILLS[(id as usize) % 3]])
                .with_languages(["en"])
                .with_max_chats(2),
            0,
        );
        r.set_presence(id, Presence::Available, 0).unwrap();
    }
    r
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn assignment_rules_hold(offers in any::<bool>(), ops in prop::collection::vec((op(), 0u64..1_500), 1..80)) {
        let mut r = setup(offers);
        let mut now = 0;
        for (op, dt) in &ops {
            now += dt;
            let before = r.clone();
            let expected = automatic(&r, op, now);
            let got = apply(&mut r, op, now);
            prop_assert_eq!(&got, &expected, "deterministic");
            check(&before, &r, &got, op)?;
        }
    }

    #[test]
    fn no_chat_starves(offers in any::<bool>(), ops in prop::collection::vec((op(), 0u64..1_500), 1..60)) {
        let mut r = setup(offers);
        let mut now = 0;
        for (op, dt) in &ops {
            now += dt;
            apply(&mut r, op, now);
        }
        // Capable clinicians arrive: one who can serve anything, and everyone
        // present becomes available. Chats are worked off.
        r.upsert_clinician(
            Clinician::new(99, "all")
                .with_skills(SKILLS)
                .with_languages(LANGS)
                .with_licensed_states(STATES)
                .with_max_chats(1),
            now,
        );
        let ids: Vec<ClinicianId> = r.clinicians().map(|c| c.id).collect();
        for id in ids {
            r.set_presence(id, Presence::Available, now).unwrap();
        }
        let waiting: BTreeSet<String> = r
            .queue
            .iter()
            .map(|q| q.conversation.clone())
            .chain(r.offers.keys().cloned())
            .collect();
        let mut served = BTreeSet::new();
        // Only clinician 99 ever accepts; everyone else lets offers expire.
        // The rotation must still reach 99 for every chat: each round serves
        // at least one chat or passes one offer, so the bound is the queue
        // times the number of clinicians who can pass, plus slack.
        let bound = waiting.len() * (r.clinicians().count() + 2) + 6;
        for _ in 0..bound {
            now += TIMEOUT;
            r.tick(now);
            if let Some(o) = r.offers().into_iter().find(|o| o.clinician == 99) {
                r.accept(&o.conversation, 99, now).unwrap();
            }
            let open: Vec<String> = r.assigned.keys().cloned().collect();
            for conv in open {
                served.insert(conv.clone());
                r.release(&conv, now).unwrap();
            }
            // Releases hand out queued chats at once.
            served.extend(r.assigned.keys().cloned());
            if r.queue.is_empty() && r.offers.is_empty() {
                break;
            }
        }
        prop_assert!(r.queue.is_empty() && r.offers.is_empty(),
            "still waiting after {} rounds: {:?} offers {:?}", bound, r.queue, r.offers);
        prop_assert!(waiting.is_subset(&served));
    }
}
