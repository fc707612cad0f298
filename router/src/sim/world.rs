//! The workload: the clinicians, their shifts and breaks, and the chats,
//! drawn once from the seed so that every policy faces the same day.

use super::config::SimConfig;
use crate::{Clinician, Fluency, Presence};

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
