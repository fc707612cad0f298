//! A seeded, deterministic simulation that compares routing policies on the
//! same workload, so that claims about the router are numbers anyone can
//! reproduce (`sim::run(&SimConfig::default(), &mut clock)`).
//!
//! # The model
//!
//! Simulated time in milliseconds; nothing depends on the wall clock except
//! the `assign_us_p99` figure, which times each policy call with the caller's
//! clock (the crate has none).
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
//! * `carechat`: this crate's [`Router`] with [`SimConfig::fallback`] and
//!   [`SimConfig::fallback_after_s`], default weights, ticked every
//!   `tick_s`. Urgent first; skill, language, load, longest idle.
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

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::{Clinician, Fluency, Policy, Presence, Request, Router};

/// Everything the simulation draws from; `Default` is the documented model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SimConfig {
    pub seed: u64,
    pub clinicians: usize,
    pub chats: usize,
    pub arrival_window_s: u64,
    pub bursts: usize,
    /// Share of the chats that arrive in bursts.
    pub burst_share: f64,
    pub burst_len_s: u64,
    /// Weights of the chats' skills.
    pub chat_skills: Vec<(String, f64)>,
    /// Weights of clinicians' primary (and further) skills.
    pub clinician_skills: Vec<(String, f64)>,
    /// Weights of the patients' languages.
    pub chat_languages: Vec<(String, f64)>,
    pub urgent_pct: f64,
    pub handle_median_s: f64,
    pub handle_sigma: f64,
    /// Handle time multiplier when the clinician is not fluent in the
    /// patient's language, and again when they lack the chat's skill.
    pub mismatch_handle_factor: f64,
    pub break_every_s: u64,
    pub break_len_s: u64,
    /// Answered within this many seconds counts for `sla_pct`.
    pub sla_s: u64,
    /// Carechat's fallback skills.
    pub fallback: Vec<(String, Vec<String>)>,
    /// Carechat falls back after this wait even when primary holders are
    /// available but full.
    pub fallback_after_s: Option<u64>,
    /// How often carechat's `tick` runs, in simulated seconds.
    pub tick_s: u64,
    /// Teams (Chatwoot) or departments (Rocket.Chat): name and skills.
    pub teams: Vec<(String, Vec<String>)>,
}

fn weights(items: &[(&str, f64)]) -> Vec<(String, f64)> {
    items.iter().map(|(s, w)| ((*s).to_owned(), *w)).collect()
}

fn groups(items: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
        .collect()
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 2024,
            clinicians: 200,
            chats: 10_000,
            arrival_window_s: 4 * 3600,
            bursts: 10,
            burst_share: 0.4,
            burst_len_s: 600,
            chat_skills: weights(&[
                ("front_desk", 0.45),
                ("billing", 0.25),
                ("nursing", 0.15),
                ("dental", 0.08),
                ("records", 0.07),
            ]),
            clinician_skills: weights(&[
                ("front_desk", 0.35),
                ("billing", 0.20),
                ("nursing", 0.25),
                ("dental", 0.10),
                ("records", 0.10),
            ]),
            chat_languages: weights(&[
                ("en", 0.70),
                ("es", 0.20),
                ("fr", 0.03),
                ("zh", 0.04),
                ("vi", 0.03),
            ]),
            urgent_pct: 0.05,
            handle_median_s: 360.0,
            handle_sigma: 0.6,
            mismatch_handle_factor: 1.25,
            break_every_s: 5400,
            break_len_s: 900,
            sla_s: 60,
            fallback: groups(&[
                ("billing", &["front_desk"]),
                ("records", &["front_desk"]),
                ("front_desk", &["billing"]),
            ]),
            fallback_after_s: Some(120),
            tick_s: 5,
            teams: groups(&[
                ("front_office", &["front_desk", "billing", "records"]),
                ("clinical", &["nursing", "dental"]),
            ]),
        }
    }
}

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

/// SplitMix64: small, fast, and good enough for a workload generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    /// Standard normal by Box-Muller.
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit();
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    fn weighted<'a>(&mut self, items: &'a [(String, f64)]) -> &'a str {
        let total: f64 = items.iter().map(|(_, w)| w).sum();
        let mut x = self.unit() * total;
        for (s, w) in items {
            if x < *w {
                return s;
            }
            x -= w;
        }
        &items.last().expect("weights are not empty").0
    }

    /// `mean` ±30%.
    fn jitter(&mut self, mean: u64) -> u64 {
        (mean as f64 * (0.7 + 0.6 * self.unit())) as u64
    }
}

#[derive(Clone, Debug)]
struct SimChat {
    at_ms: u64,
    skill: String,
    language: String,
    urgent: bool,
    base_handle_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Happening {
    Presence(usize, PresenceCode),
    Arrive(usize),
    Finish(usize),
    Tick,
}

/// `Presence` without serde or non-`Ord` baggage, for the event heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum PresenceCode {
    Available,
    Busy,
    Away,
    Offline,
}

impl From<PresenceCode> for Presence {
    fn from(p: PresenceCode) -> Self {
        match p {
            PresenceCode::Available => Presence::Available,
            PresenceCode::Busy => Presence::Busy,
            PresenceCode::Away => Presence::Away,
            PresenceCode::Offline => Presence::Offline,
        }
    }
}

/// The workload, the same for every policy.
struct World {
    clinicians: Vec<Clinician>,
    chats: Vec<SimChat>,
    /// (time, clinician, presence), in time order.
    presence: Vec<(u64, usize, PresenceCode)>,
}

impl World {
    fn generate(config: &SimConfig) -> World {
        let mut rng = Rng(config.seed);
        let skill_names: Vec<&str> = config
            .clinician_skills
            .iter()
            .map(|(s, _)| s.as_str())
            .collect();
        let mut clinicians = Vec::with_capacity(config.clinicians);
        for i in 0..config.clinicians {
            let mut skills: Vec<String> = Vec::new();
            if let Some(s) = skill_names.get(i) {
                skills.push((*s).to_owned());
            } else {
                skills.push(rng.weighted(&config.clinician_skills).to_owned());
            }
            for p in [0.5, 0.15] {
                if rng.chance(p) {
                    let s = rng.weighted(&config.clinician_skills).to_owned();
                    if !skills.contains(&s) {
                        skills.push(s);
                    }
                }
            }
            let mut languages: Vec<(String, Fluency)> = Vec::new();
            let spanish_only = rng.chance(0.03);
            if spanish_only {
                languages.push(("es".into(), Fluency::Native));
            } else {
                let level = if rng.chance(0.85) {
                    Fluency::Native
                } else {
                    Fluency::Fluent
                };
                languages.push(("en".into(), level));
                if rng.chance(0.25) {
                    let level = match rng.below(10) {
                        0..=4 => Fluency::Native,
                        5..=7 => Fluency::Fluent,
                        _ => Fluency::Basic,
                    };
                    languages.push(("es".into(), level));
                }
            }
            for code in ["fr", "zh", "vi"] {
                if rng.chance(0.04) {
                    let level = if rng.chance(0.7) {
                        Fluency::Native
                    } else {
                        Fluency::Fluent
                    };
                    languages.push((code.into(), level));
                }
            }
            clinicians.push(
                Clinician::new(i as i64, format!("sim-{i}"))
                    .with_skills(skills)
                    .with_languages(languages)
                    .with_max_chats(2 + rng.below(3) as usize),
            );
        }

        let window_ms = config.arrival_window_s * 1000;
        let burst_ms = config.burst_len_s * 1000;
        let burst_starts: Vec<u64> = (0..config.bursts)
            .map(|_| rng.below(window_ms.saturating_sub(burst_ms).max(1)))
            .collect();
        let mut chats: Vec<SimChat> = (0..config.chats)
            .map(|_| {
                let at_ms = if !burst_starts.is_empty() && rng.chance(config.burst_share) {
                    let b = burst_starts[rng.below(burst_starts.len() as u64) as usize];
                    b + rng.below(burst_ms.max(1))
                } else {
                    rng.below(window_ms.max(1))
                };
                let handle_s = config.handle_median_s * (config.handle_sigma * rng.normal()).exp();
                SimChat {
                    at_ms,
                    skill: rng.weighted(&config.chat_skills).to_owned(),
                    language: rng.weighted(&config.chat_languages).to_owned(),
                    urgent: rng.chance(config.urgent_pct),
                    base_handle_ms: (handle_s * 1000.0).max(1000.0) as u64,
                }
            })
            .collect();
        chats.sort_by_key(|c| c.at_ms);

        let mut presence = Vec::new();
        for i in 0..config.clinicians {
            let start = if rng.chance(0.8) {
                0
            } else {
                rng.below(window_ms / 2)
            };
            let leave = rng
                .chance(0.2)
                .then(|| window_ms / 2 + rng.below(window_ms / 2));
            presence.push((start, i, PresenceCode::Available));
            let mut t = start + rng.jitter(config.break_every_s * 1000);
            while t < window_ms && leave.is_none_or(|l| t < l) {
                let code = if rng.chance(0.7) {
                    PresenceCode::Away
                } else {
                    PresenceCode::Busy
                };
                let back = t + rng.jitter(config.break_len_s * 1000);
                presence.push((t, i, code));
                presence.push((back, i, PresenceCode::Available));
                t = back + rng.jitter(config.break_every_s * 1000);
            }
            if let Some(l) = leave {
                // A break that would end after leaving ends at the door.
                presence.retain(|&(at, who, _)| who != i || at < l);
                presence.push((l, i, PresenceCode::Offline));
            }
        }
        presence.sort();
        World {
            clinicians,
            chats,
            presence,
        }
    }
}

/// One policy under test: each call reports the chats it just assigned, as
/// (chat index, clinician index).
trait Dispatch {
    fn arrive(&mut self, chat: usize, spec: &SimChat, now_ms: u64) -> Vec<(usize, usize)>;
    fn finish(&mut self, chat: usize, now_ms: u64) -> Vec<(usize, usize)>;
    fn presence(&mut self, clinician: usize, p: Presence, now_ms: u64) -> Vec<(usize, usize)>;
    fn tick(&mut self, now_ms: u64) -> Vec<(usize, usize)>;
}

struct Carechat {
    router: Router,
}

impl Carechat {
    fn new(config: &SimConfig, world: &World) -> Self {
        let mut policy = Policy::default();
        for (skill, fallbacks) in &config.fallback {
            policy = policy.with_fallback(skill.clone(), fallbacks.clone());
        }
        policy.fallback_after_ms = config.fallback_after_s.map(|s| s * 1000);
        let mut router = Router::with_policy(policy);
        for c in &world.clinicians {
            router.upsert_clinician(c.clone(), 0);
        }
        Carechat { router }
    }

    fn pairs(assignments: Vec<crate::Assignment>) -> Vec<(usize, usize)> {
        assignments
            .into_iter()
            .filter_map(|a| Some((a.conversation.parse().ok()?, a.clinician as usize)))
            .collect()
    }
}

impl Dispatch for Carechat {
    fn arrive(&mut self, chat: usize, spec: &SimChat, now_ms: u64) -> Vec<(usize, usize)> {
        let req = Request::new(chat.to_string(), spec.language.clone(), now_ms)
            .with_skill(spec.skill.clone())
            .with_urgent(spec.urgent);
        match self.router.route(req) {
            Ok(crate::Routed::Assigned(id)) => vec![(chat, id as usize)],
            _ => Vec::new(),
        }
    }

    fn finish(&mut self, chat: usize, now_ms: u64) -> Vec<(usize, usize)> {
        Self::pairs(
            self.router
                .release(&chat.to_string(), now_ms)
                .unwrap_or_default(),
        )
    }

    fn presence(&mut self, clinician: usize, p: Presence, now_ms: u64) -> Vec<(usize, usize)> {
        Self::pairs(
            self.router
                .set_presence(clinician as i64, p, now_ms)
                .unwrap_or_default(),
        )
    }

    fn tick(&mut self, now_ms: u64) -> Vec<(usize, usize)> {
        let assignments = self
            .router
            .tick(now_ms)
            .into_iter()
            .filter_map(|e| match e {
                crate::Event::Assigned(a) => Some(a),
                _ => None,
            })
            .collect();
        Self::pairs(assignments)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pick {
    RoundRobin,
    LeastBusy,
}

/// The two team-based baselines share everything but how they pick.
struct Teams {
    pick: Pick,
    /// Team index of each skill.
    team_of: BTreeMap<String, usize>,
    /// Per team, member clinician indices in rotation order.
    rotation: Vec<VecDeque<usize>>,
    available: Vec<bool>,
    open: Vec<usize>,
    max_chats: Vec<usize>,
    /// Per team, waiting (arrival time, chat) oldest first.
    waiting: Vec<VecDeque<(u64, usize)>>,
    team_of_chat: BTreeMap<usize, usize>,
    holder: BTreeMap<usize, usize>,
}

impl Teams {
    fn new(config: &SimConfig, world: &World, pick: Pick) -> Self {
        let mut team_of = BTreeMap::new();
        for (i, (_, skills)) in config.teams.iter().enumerate() {
            for s in skills {
                team_of.entry(s.clone()).or_insert(i);
            }
        }
        // A skill no team lists gets a team of its own.
        let mut n = config.teams.len();
        for (s, _) in config.chat_skills.iter().chain(&config.clinician_skills) {
            team_of.entry(s.clone()).or_insert_with(|| {
                n += 1;
                n - 1
            });
        }
        let mut rotation = vec![VecDeque::new(); n];
        for (i, c) in world.clinicians.iter().enumerate() {
            let mut mine: Vec<usize> = c
                .skills
                .iter()
                .filter_map(|s| team_of.get(s))
                .copied()
                .collect();
            mine.sort_unstable();
            mine.dedup();
            for t in mine {
                rotation[t].push_back(i);
            }
        }
        Teams {
            pick,
            team_of,
            rotation,
            available: vec![false; world.clinicians.len()],
            open: vec![0; world.clinicians.len()],
            max_chats: world.clinicians.iter().map(|c| c.max_chats).collect(),
            waiting: vec![VecDeque::new(); n],
            team_of_chat: BTreeMap::new(),
            holder: BTreeMap::new(),
        }
    }

    fn free(&self, i: usize) -> bool {
        self.available[i] && self.open[i] < self.max_chats[i]
    }

    fn choose(&mut self, team: usize) -> Option<usize> {
        match self.pick {
            Pick::RoundRobin => {
                let pos = self.rotation[team].iter().position(|&i| self.free(i))?;
                let i = self.rotation[team].remove(pos)?;
                self.rotation[team].push_back(i);
                Some(i)
            }
            Pick::LeastBusy => self.rotation[team]
                .iter()
                .copied()
                .filter(|&i| self.free(i))
                .min_by_key(|&i| (self.open[i], i)),
        }
    }

    /// Serves the waiting chats oldest first across teams until nobody who is
    /// free can take the oldest waiting chat of any team.
    fn drain(&mut self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        loop {
            let mut heads: Vec<(u64, usize, usize)> = self
                .waiting
                .iter()
                .enumerate()
                .filter_map(|(t, q)| q.front().map(|&(at, chat)| (at, chat, t)))
                .collect();
            heads.sort_unstable();
            let mut served = false;
            for (_, chat, team) in heads {
                if let Some(i) = self.choose(team) {
                    self.waiting[team].pop_front();
                    self.open[i] += 1;
                    self.holder.insert(chat, i);
                    out.push((chat, i));
                    served = true;
                    break;
                }
            }
            if !served {
                return out;
            }
        }
    }
}

impl Dispatch for Teams {
    fn arrive(&mut self, chat: usize, spec: &SimChat, now_ms: u64) -> Vec<(usize, usize)> {
        let team = self.team_of.get(&spec.skill).copied().unwrap_or(0);
        self.team_of_chat.insert(chat, team);
        self.waiting[team].push_back((now_ms, chat));
        self.drain()
    }

    fn finish(&mut self, chat: usize, _now_ms: u64) -> Vec<(usize, usize)> {
        if let Some(i) = self.holder.remove(&chat) {
            self.open[i] -= 1;
        }
        self.drain()
    }

    fn presence(&mut self, clinician: usize, p: Presence, _now_ms: u64) -> Vec<(usize, usize)> {
        self.available[clinician] = p == Presence::Available;
        self.drain()
    }

    fn tick(&mut self, _now_ms: u64) -> Vec<(usize, usize)> {
        Vec::new()
    }
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
