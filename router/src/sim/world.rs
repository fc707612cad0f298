//! The workload: the clinicians, their shifts and breaks, and the chats,
//! drawn once from the seed so that every policy faces the same day.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::config::SimConfig;
use crate::{Clinician, Fluency, Presence};

/// True with probability `p`, as a share: 1 or more is always true (where
/// `random_bool` would refuse it).
fn chance(rng: &mut StdRng, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// Standard normal by Box-Muller; `rand` itself has no normal distribution.
fn normal(rng: &mut StdRng) -> f64 {
    let u = 1.0 - rng.random::<f64>();
    let v = rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// One of `items`, with a probability proportional to its weight.
fn weighted<'a>(rng: &mut StdRng, items: &'a [(String, f64)]) -> &'a str {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (s, w) in items {
        if x < *w {
            return s;
        }
        x -= w;
    }
    &items.last().expect("weights are not empty").0
}

/// `mean` ±30%.
fn jitter(rng: &mut StdRng, mean: u64) -> u64 {
    (mean as f64 * rng.random_range(0.7..1.3)) as u64
}

#[derive(Clone, Debug)]
pub(super) struct SimChat {
    pub(super) at_ms: u64,
    pub(super) skill: String,
    pub(super) language: String,
    pub(super) urgent: bool,
    pub(super) base_handle_ms: u64,
}

/// `Presence` without serde or non-`Ord` baggage, for the event heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum PresenceCode {
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
pub(super) struct World {
    pub(super) clinicians: Vec<Clinician>,
    pub(super) chats: Vec<SimChat>,
    /// (time, clinician, presence), in time order.
    pub(super) presence: Vec<(u64, usize, PresenceCode)>,
}

impl World {
    pub(super) fn generate(config: &SimConfig) -> World {
        let mut rng = StdRng::seed_from_u64(config.seed);
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
                skills.push(weighted(&mut rng, &config.clinician_skills).to_owned());
            }
            for p in [0.5, 0.15] {
                if chance(&mut rng, p) {
                    let s = weighted(&mut rng, &config.clinician_skills).to_owned();
                    if !skills.contains(&s) {
                        skills.push(s);
                    }
                }
            }
            let mut languages: Vec<(String, Fluency)> = Vec::new();
            let spanish_only = chance(&mut rng, 0.03);
            if spanish_only {
                languages.push(("es".into(), Fluency::Native));
            } else {
                let level = if chance(&mut rng, 0.85) {
                    Fluency::Native
                } else {
                    Fluency::Fluent
                };
                languages.push(("en".into(), level));
                if chance(&mut rng, 0.25) {
                    let level = match rng.random_range(0..10) {
                        0..=4 => Fluency::Native,
                        5..=7 => Fluency::Fluent,
                        _ => Fluency::Basic,
                    };
                    languages.push(("es".into(), level));
                }
            }
            for code in ["fr", "zh", "vi"] {
                if chance(&mut rng, 0.04) {
                    let level = if chance(&mut rng, 0.7) {
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
                    .with_max_chats(rng.random_range(2..=4)),
            );
        }

        let window_ms = config.arrival_window_s * 1000;
        let burst_ms = config.burst_len_s * 1000;
        let burst_starts: Vec<u64> = (0..config.bursts)
            .map(|_| rng.random_range(0..window_ms.saturating_sub(burst_ms).max(1)))
            .collect();
        let mut chats: Vec<SimChat> = (0..config.chats)
            .map(|_| {
                let at_ms = if !burst_starts.is_empty() && chance(&mut rng, config.burst_share) {
                    let b = burst_starts[rng.random_range(0..burst_starts.len())];
                    b + rng.random_range(0..burst_ms.max(1))
                } else {
                    rng.random_range(0..window_ms.max(1))
                };
                let handle_s =
                    config.handle_median_s * (config.handle_sigma * normal(&mut rng)).exp();
                SimChat {
                    at_ms,
                    skill: weighted(&mut rng, &config.chat_skills).to_owned(),
                    language: weighted(&mut rng, &config.chat_languages).to_owned(),
                    urgent: chance(&mut rng, config.urgent_pct),
                    base_handle_ms: (handle_s * 1000.0).max(1000.0) as u64,
                }
            })
            .collect();
        chats.sort_by_key(|c| c.at_ms);

        let mut presence = Vec::new();
        for i in 0..config.clinicians {
            let start = if chance(&mut rng, 0.8) {
                0
            } else {
                rng.random_range(0..(window_ms / 2).max(1))
            };
            let leave = chance(&mut rng, 0.2)
                .then(|| window_ms / 2 + rng.random_range(0..(window_ms / 2).max(1)));
            presence.push((start, i, PresenceCode::Available));
            let mut t = start + jitter(&mut rng, config.break_every_s * 1000);
            while t < window_ms && leave.is_none_or(|l| t < l) {
                let code = if chance(&mut rng, 0.7) {
                    PresenceCode::Away
                } else {
                    PresenceCode::Busy
                };
                let back = t + jitter(&mut rng, config.break_len_s * 1000);
                presence.push((t, i, code));
                presence.push((back, i, PresenceCode::Available));
                t = back + jitter(&mut rng, config.break_every_s * 1000);
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
