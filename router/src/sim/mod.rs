//! A seeded, deterministic simulation that compares routing policies on the
//! same workload, so that claims about the router are numbers anyone can
//! reproduce (`sim::run(&SimConfig::default(), &mut clock)`).
//!
//! # The model
//!
//! Simulated time in milliseconds; nothing depends on the wall clock except
//! the `assign_us_p99` figure, which times each policy call with the caller's
//! clock (the crate has none). The draws come from `rand`'s `StdRng` seeded
//! with [`SimConfig::seed`], so a seed gives the same workload on every run
//! and machine for the `rand` version in `Cargo.lock` (`StdRng` may change
//! its algorithm in a later version, and the figures with it).
//!
//! * **Clinicians** (200 by default). Each has a primary skill drawn from
//!   `clinician_skills`, a second skill with probability 0.5 and a third with
//!   0.15 (so about half have only one). Everyone speaks English (native 85%,
//!   else fluent) except 3% who speak only Spanish; on top, Spanish with
//!   probability 0.25 (native, fluent or basic in 5:3:2), and French, Chinese,
//!   Vietnamese with 0.04 each. Capacity 2 to 4 chats, uniformly. The first
//!   clinicians are given each skill once so that no skill is unstaffed.
//! * **Shifts and breaks.** 80% start at time 0, the rest at a uniform time in
//!   the first half of the arrival window; 20% leave (offline) at a uniform
//!   time in the second half. While on shift a clinician takes a break about
//!   every `break_every_s` (±30%) for about `break_len_s` (±30%): away 70% of
//!   the time, busy (online, no automatic chats) 30%. After the arrival window
//!   nobody leaves or takes a break: the clinic works off its queue.
//! * **Chats** (10,000 by default) arrive over `arrival_window_s`:
//!   `1 - burst_share` of them uniformly, the rest in `bursts` bursts of
//!   `burst_len_s` at uniform random times. Skill from `chat_skills`, language
//!   from `chat_languages`, urgent with `urgent_pct`. The handle time (from
//!   assignment to release) is log-normal with median `handle_median_s` and
//!   shape `handle_sigma`, times `mismatch_handle_factor` if the clinician is
//!   not fluent in the patient's language and again if they lack the chat's
//!   skill: the same rule for every policy. Nobody abandons the queue and no
//!   chat is transferred, so every chat is eventually served.
//!
//! # The policies
//!
//! All three assign directly (no offers) to an available clinician below
//! their capacity, and all re-examine their waiting chats whenever a chat
//! ends or a presence changes.
//!
//! * `carechat`: this crate's [`Router`](crate::Router) with
//!   [`SimConfig::fallback`] and [`SimConfig::fallback_after_s`], default
//!   weights, ticked every `tick_s`. Urgent first; skill, language, load,
//!   longest idle.
//! * `round_robin`, modelled on Chatwoot's default auto-assignment: each
//!   chat belongs to a team (from [`SimConfig::teams`]; a clinician is a member
//!   of every team that contains one of their skills); the team keeps a
//!   rotation of its members, and a chat goes to the first member in rotation
//!   order who is available and below capacity, who then moves to the back.
//!   Language and urgency are ignored; waiting chats are served oldest first
//!   (generous: Chatwoot leaves a chat unassigned if nobody is free when it
//!   arrives, and here it is picked up as soon as someone is).
//! * `least_busy`, modelled on Rocket.Chat's Load Balancing: the chat's
//!   department (the same teams) hands it to the available member below
//!   capacity with the fewest open chats, lowest id on ties; the waiting
//!   queue is first come, first served (Community Edition: no priorities).
//!
//! Teams are coarser than skills by default (front office: front desk,
//! billing, records; clinical: nursing, dental) because those products route
//! by organisational unit, not by tag; set `teams` to one team per skill to
//! model a clinic that made a team for every skill.
//!
//! # The figures
//!
//! Per policy, over all chats: mean and 95th-percentile wait (arrival to
//! assignment, nearest rank), the share answered within `sla_s`, the Gini
//! coefficient of chats handled per clinician (0 = everyone handled the same
//! number; it ignores shift length), the share of chats whose clinician holds
//! the chat's skill, the share whose clinician is fluent or native in the
//! patient's language, and the 99th percentile of the time one policy call
//! took (every call: arrivals, releases, presence changes, ticks).

mod config;
mod policies;
mod world;

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

pub use config::SimConfig;
use policies::{Carechat, Dispatch, Pick, Teams};
use world::{PresenceCode, World};

use crate::Fluency;

/// The figures for one policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PolicyReport {
    pub policy: String,
    pub chats: usize,
    /// Chats still waiting when the simulation ended (counted with their wait
    /// so far, and as missing the SLA). Zero unless a skill is unstaffed.
    pub unassigned: usize,
    pub mean_wait_s: f64,
    pub p95_wait_s: f64,
    pub sla_pct: f64,
    pub load_gini: f64,
    pub skill_match_pct: f64,
    pub language_match_pct: f64,
    pub assign_us_p99: f64,
}

/// One report per policy, in the order `carechat`, `round_robin`,
/// `least_busy`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SimReport {
    pub seed: u64,
    pub policies: Vec<PolicyReport>,
}

/// The policy names `run` reports, in order.
pub const POLICIES: [&str; 3] = ["carechat", "round_robin", "least_busy"];

/// Runs every policy on the workload `config` describes. `clock` returns
/// nanoseconds from any fixed origin (the console passes `Instant`-based
/// elapsed time); it is read only to time policy calls.
pub fn run(config: &SimConfig, clock: &mut dyn FnMut() -> u64) -> SimReport {
    let world = World::generate(config);
    let policies = POLICIES
        .iter()
        .map(|&name| {
            let mut dispatch: Box<dyn Dispatch> = match name {
                "carechat" => Box::new(Carechat::new(config, &world)),
                "round_robin" => Box::new(Teams::new(config, &world, Pick::RoundRobin)),
                _ => Box::new(Teams::new(config, &world, Pick::LeastBusy)),
            };
            simulate(name, config, &world, dispatch.as_mut(), clock)
        })
        .collect();
    SimReport {
        seed: config.seed,
        policies,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Happening {
    Presence(usize, PresenceCode),
    Arrive(usize),
    Finish(usize),
    Tick,
}

fn simulate(
    name: &str,
    config: &SimConfig,
    world: &World,
    dispatch: &mut dyn Dispatch,
    clock: &mut dyn FnMut() -> u64,
) -> PolicyReport {
    let n = world.chats.len();
    let mut heap: BinaryHeap<Reverse<(u64, u64, Happening)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<_>, at: u64, h: Happening| {
        heap.push(Reverse((at, seq, h)));
        seq += 1;
    };
    for &(at, i, p) in &world.presence {
        push(&mut heap, at, Happening::Presence(i, p));
    }
    for (i, c) in world.chats.iter().enumerate() {
        push(&mut heap, c.at_ms, Happening::Arrive(i));
    }
    let tick_ms = config.tick_s.max(1) * 1000;
    push(&mut heap, 0, Happening::Tick);

    let window_ms = config.arrival_window_s * 1000;
    let mut assigned_at: Vec<Option<u64>> = vec![None; n];
    let mut holder: Vec<Option<usize>> = vec![None; n];
    let mut waiting = 0usize;
    let mut finished = 0usize;
    let mut call_ns: Vec<u64> = Vec::new();
    let mut now = 0u64;

    while let Some(Reverse((at, _, happening))) = heap.pop() {
        now = at;
        let t0 = clock();
        let got = match happening {
            Happening::Arrive(i) => {
                waiting += 1;
                dispatch.arrive(i, &world.chats[i], now)
            }
            Happening::Finish(i) => {
                finished += 1;
                dispatch.finish(i, now)
            }
            Happening::Presence(c, p) => dispatch.presence(c, p.into(), now),
            Happening::Tick => dispatch.tick(now),
        };
        call_ns.push(clock().saturating_sub(t0));
        for (chat, c) in got {
            if assigned_at[chat].is_some() {
                continue;
            }
            waiting -= 1;
            assigned_at[chat] = Some(now);
            holder[chat] = Some(c);
            let spec = &world.chats[chat];
            let clinician = &world.clinicians[c];
            let mut handle = spec.base_handle_ms as f64;
            if clinician.level(&spec.language) < Some(Fluency::Fluent) {
                handle *= config.mismatch_handle_factor;
            }
            if !clinician.has_skill(&spec.skill) {
                handle *= config.mismatch_handle_factor;
            }
            push(&mut heap, now + handle as u64, Happening::Finish(chat));
        }
        if matches!(happening, Happening::Tick) {
            let more_to_come = now < window_ms || waiting > 0;
            if more_to_come {
                push(&mut heap, now + tick_ms, Happening::Tick);
            }
        }
        if now >= window_ms && waiting == 0 && finished == n {
            break;
        }
    }

    let waits_ms: Vec<u64> = (0..n)
        .map(|i| {
            assigned_at[i]
                .unwrap_or(now)
                .saturating_sub(world.chats[i].at_ms)
        })
        .collect();
    let unassigned = assigned_at.iter().filter(|a| a.is_none()).count();
    let mut per_clinician = vec![0u64; world.clinicians.len()];
    let (mut skill_ok, mut lang_ok, mut served) = (0usize, 0usize, 0usize);
    for (i, h) in holder.iter().enumerate() {
        if let Some(c) = *h {
            let (spec, clinician) = (&world.chats[i], &world.clinicians[c]);
            per_clinician[c] += 1;
            served += 1;
            skill_ok += usize::from(clinician.has_skill(&spec.skill));
            lang_ok += usize::from(clinician.level(&spec.language) >= Some(Fluency::Fluent));
        }
    }
    let sla_ms = config.sla_s * 1000;
    let pct = |k: usize, of: usize| {
        if of == 0 {
            0.0
        } else {
            100.0 * k as f64 / of as f64
        }
    };
    PolicyReport {
        policy: name.to_owned(),
        chats: n,
        unassigned,
        mean_wait_s: if n == 0 {
            0.0
        } else {
            waits_ms.iter().sum::<u64>() as f64 / n as f64 / 1000.0
        },
        p95_wait_s: percentile(&waits_ms, 95.0) as f64 / 1000.0,
        sla_pct: pct(
            (0..n)
                .filter(|&i| assigned_at[i].is_some() && waits_ms[i] <= sla_ms)
                .count(),
            n,
        ),
        load_gini: gini(&per_clinician),
        skill_match_pct: pct(skill_ok, served),
        language_match_pct: pct(lang_ok, served),
        assign_us_p99: percentile(&call_ns, 99.0) as f64 / 1000.0,
    }
}

/// Nearest-rank percentile; 0 for no values.
fn percentile(values: &[u64], p: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Gini coefficient: 0 when all equal, towards 1 when one has everything.
fn gini(values: &[u64]) -> f64 {
    let n = values.len();
    let total: u64 = values.iter().sum();
    if n == 0 || total == 0 {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let weighted: f64 = sorted
        .iter()
        .enumerate()
        .map(|(i, &x)| (i as f64 + 1.0) * x as f64)
        .sum();
    2.0 * weighted / (n as f64 * total as f64) - (n as f64 + 1.0) / n as f64
}

#[cfg(test)]
mod tests {
    use super::world::SimChat;
    use super::*;

    fn fake_clock() -> impl FnMut() -> u64 {
        let mut t = 0;
        move || {
            t += 1000;
            t
        }
    }

    #[test]
    fn percentile_and_gini() {
        assert_eq!(percentile(&[5, 1, 4, 2, 3], 50.0), 3);
        assert_eq!(percentile(&[5, 1, 4, 2, 3], 95.0), 5);
        assert_eq!(percentile(&[], 95.0), 0);
        assert_eq!(gini(&[3, 3, 3]), 0.0);
        assert!((gini(&[0, 0, 0, 4]) - 0.75).abs() < 1e-9);
    }

    fn small() -> SimConfig {
        SimConfig {
            clinicians: 30,
            chats: 600,
            arrival_window_s: 3600,
            ..SimConfig::default()
        }
    }

    #[test]
    fn deterministic_and_complete() {
        let a = run(&small(), &mut fake_clock());
        let b = run(&small(), &mut fake_clock());
        assert_eq!(a, b);
        assert_eq!(
            a.policies
                .iter()
                .map(|p| p.policy.as_str())
                .collect::<Vec<_>>(),
            POLICIES
        );
        for p in &a.policies {
            assert_eq!(p.chats, 600, "{}", p.policy);
            assert_eq!(p.unassigned, 0, "{}: every chat served", p.policy);
            assert!(p.p95_wait_s >= 0.0 && p.sla_pct <= 100.0);
            assert!((0.0..=1.0).contains(&p.load_gini));
            // The fake clock advances 1 µs per reading, so each call "takes" 1 µs.
            assert_eq!(p.assign_us_p99, 1.0);
        }
        let other = run(&SimConfig { seed: 7, ..small() }, &mut fake_clock());
        assert_ne!(a, other, "the seed matters");
    }

    #[test]
    fn baselines_respect_teams_and_carechat_skills() {
        // One team per skill: then the baselines never leave the skill, and
        // neither does carechat without fallback.
        let config = SimConfig {
            teams: SimConfig::default()
                .chat_skills
                .iter()
                .map(|(s, _)| (s.clone(), vec![s.clone()]))
                .collect(),
            fallback: Vec::new(),
            ..small()
        };
        let report = run(&config, &mut fake_clock());
        for p in &report.policies {
            assert_eq!(p.skill_match_pct, 100.0, "{}", p.policy);
        }
    }

    #[test]
    fn workload_follows_the_mix() {
        let config = SimConfig::default();
        let world = World::generate(&config);
        assert_eq!(world.clinicians.len(), 200);
        assert_eq!(world.chats.len(), 10_000);
        let share = |f: &dyn Fn(&SimChat) -> bool| {
            world.chats.iter().filter(|c| f(c)).count() as f64 / 10_000.0
        };
        assert!((share(&|c| c.language == "en") - 0.70).abs() < 0.02);
        assert!((share(&|c| c.language == "es") - 0.20).abs() < 0.02);
        assert!((share(&|c| c.skill == "front_desk") - 0.45).abs() < 0.02);
        let single = world
            .clinicians
            .iter()
            .filter(|c| c.skills.len() == 1)
            .count();
        assert!((60..140).contains(&single), "{single} with one skill");
        assert!(world.chats.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    }
}
