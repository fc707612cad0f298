//! The knobs of the simulation. `Default` is the model the `sim` module doc
//! describes; the console's `bench routing` and the example change only the
//! seed and the teams.

use serde::{Deserialize, Serialize};

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
