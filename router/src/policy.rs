//! The rules for who may get a chat automatically and who is best, and the
//! [`Policy`] that tunes them: skills and their fallbacks, licences, language
//! penalties ([`Weights`]), offers, the contact form. Everything here reads
//! clinicians and tickets and changes nothing but a ticket's fallback flag;
//! the router owns the state and calls these rules.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::clinicians::{Clinician, ClinicianId, Fluency, Presence};
use crate::queue::QueuedChat;

/// Language penalties in units of one open chat: a clinician with penalty `p`
/// and `n` open chats costs the same as a native speaker with `n + p`. The
/// defaults make a speaker win unless they already have four more chats than
/// a non-speaker, which with the default capacity of 4 means always.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Weights {
    /// Speaks the patient's language only at [`Fluency::Basic`].
    pub basic_language: usize,
    /// Does not speak it, but the pair is in [`Policy::translatable`].
    pub translated_language: usize,
    /// Does not speak it and nothing can translate.
    pub no_language: usize,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            basic_language: 1,
            translated_language: 2,
            no_language: 4,
        }
    }
}

/// How the router behaves; everything defaults to the plain behaviour
/// (direct assignment, no fallback, no contact form).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Policy {
    /// `None`: assign directly. `Some(ms)`: offer, and move the offer on if
    /// it is not accepted within `ms`.
    pub offer_timeout_ms: Option<u64>,
    /// Skill to the skills that may stand in for it, in no particular order
    /// (all holders of the primary skill are preferred to all of these).
    pub fallback: BTreeMap<String, Vec<String>>,
    /// Also fall back once a chat has waited this long, even though someone
    /// with the skill is available (they are all full). `None`: only when no
    /// available clinician has the skill.
    pub fallback_after_ms: Option<u64>,
    /// Fall back at once when no available clinician holds the skill
    /// (`true`, the default), or only after [`Policy::fallback_after_ms`]
    /// (`false`: the chat first waits for its own skill, in case its
    /// clinician is back from a break soon).
    pub fallback_when_unavailable: bool,
    /// Turn chats that nobody online could serve into the offline contact
    /// form ([`Routed::Offline`], [`Event::Offline`]) instead of queueing.
    ///
    /// [`Routed::Offline`]: crate::Routed::Offline
    /// [`Event::Offline`]: crate::Event::Offline
    pub offline_form: bool,
    /// With `offline_form`, also send a chat to the form after it has waited
    /// this long in the queue.
    pub offline_after_ms: Option<u64>,
    /// Language penalties in the scoring.
    pub weights: Weights,
    /// `(from, to)` pairs the server can translate both ways (lower-case
    /// codes); see [`Policy::allow_translation`].
    pub translatable: BTreeSet<(String, String)>,
    /// Wait estimates use departures from the queue in this recent window.
    pub estimate_window_ms: u64,
    /// ... and give no estimate with fewer than this many in the window.
    pub estimate_min_samples: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            offer_timeout_ms: None,
            fallback: BTreeMap::new(),
            fallback_after_ms: None,
            fallback_when_unavailable: true,
            offline_form: false,
            offline_after_ms: None,
            weights: Weights::default(),
            translatable: BTreeSet::new(),
            estimate_window_ms: 30 * 60 * 1000,
            estimate_min_samples: 5,
        }
    }
}

impl Policy {
    /// Offers time out after `ms`.
    pub fn with_offer_timeout_ms(mut self, ms: u64) -> Self {
        self.offer_timeout_ms = Some(ms);
        self
    }

    /// Chats for `skill` may fall back to holders of `fallbacks`.
    pub fn with_fallback<I, S>(mut self, skill: impl Into<String>, fallbacks: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fallback.insert(
            skill.into(),
            fallbacks.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// Falls back after waiting `ms` too.
    pub fn with_fallback_after_ms(mut self, ms: u64) -> Self {
        self.fallback_after_ms = Some(ms);
        self
    }

    /// Enables the offline contact form, optionally also after waiting `after_ms`.
    pub fn with_offline_form(mut self, after_ms: Option<u64>) -> Self {
        self.offline_form = true;
        self.offline_after_ms = after_ms;
        self
    }

    /// Records that messages can be translated between `a` and `b` (both
    /// ways), typically for each pair a [`Translator`] supports.
    ///
    /// [`Translator`]: crate::Translator
    pub fn allow_translation(&mut self, a: &str, b: &str) {
        let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
        self.translatable.insert((a.clone(), b.clone()));
        self.translatable.insert((b, a));
    }

    fn can_translate(&self, a: &str, b: &str) -> bool {
        let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
        self.translatable.contains(&(a.clone(), b.clone())) && self.translatable.contains(&(b, a))
    }

    fn language_penalty(&self, c: &Clinician, language: &str) -> usize {
        match c.level(language) {
            Some(Fluency::Native | Fluency::Fluent) => 0,
            Some(Fluency::Basic) => self.weights.basic_language,
            None if c
                .languages
                .iter()
                .any(|l| l.level >= Fluency::Fluent && self.can_translate(language, &l.code)) =>
            {
                self.weights.translated_language
            }
            None => self.weights.no_language,
        }
    }

    /// The best of `candidates` who can take `ticket` automatically now; see
    /// the crate docs for the order. `respect_passed` leaves out those who let
    /// it pass this round.
    pub(crate) fn best_among(
        &self,
        clinicians: &BTreeMap<ClinicianId, Clinician>,
        candidates: impl Iterator<Item = ClinicianId>,
        ticket: &QueuedChat,
        respect_passed: bool,
    ) -> Option<ClinicianId> {
        candidates
            .filter_map(|id| {
                let c = clinicians.get(&id)?;
                if !c.has_room() || (respect_passed && ticket.passed.contains(&id)) {
                    return None;
                }
                let tier = ticket.tier(c, self)?;
                let penalty = self.language_penalty(c, &ticket.language);
                Some((
                    (tier, c.load() + penalty, penalty, c.last_assigned_at, c.id),
                    id,
                ))
            })
            .min_by_key(|(key, _)| *key)
            .map(|(_, id)| id)
    }

    /// Nobody available holds the chat's primary skill (with its licence),
    /// and the skill has fallbacks. `skills` is the set of skills held by
    /// available clinicians, when the caller has it.
    pub(crate) fn lacks_available_primary(
        &self,
        clinicians: &BTreeMap<ClinicianId, Clinician>,
        ticket: &QueuedChat,
        skills: Option<&BTreeSet<&str>>,
    ) -> bool {
        let Some(skill) = ticket.skill.as_deref() else {
            return false;
        };
        if ticket.fallen_back {
            return true;
        }
        if !self.fallback.contains_key(skill) {
            return false;
        }
        if let (Some(skills), None) = (skills, &ticket.license_state) {
            return !skills.contains(skill);
        }
        !clinicians
            .values()
            .any(|c| c.presence == Presence::Available && ticket.tier(c, self) == Some(0))
    }

    /// Lets the queued chats whose skill nobody available holds fall back,
    /// when the policy falls back at once.
    pub(crate) fn refresh_fallbacks(
        &self,
        clinicians: &BTreeMap<ClinicianId, Clinician>,
        queue: &mut [QueuedChat],
    ) {
        if self.fallback.is_empty() || !self.fallback_when_unavailable {
            return;
        }
        let skills: BTreeSet<&str> = clinicians
            .values()
            .filter(|c| c.presence == Presence::Available)
            .flat_map(|c| c.skills.iter().map(String::as_str))
            .collect();
        for t in queue.iter_mut() {
            if !t.fallen_back && self.lacks_available_primary(clinicians, t, Some(&skills)) {
                t.fallen_back = true;
            }
        }
    }

    /// Whether someone online could serve the chat, now or once it falls
    /// back: a chat that will reach the front desk is not for the contact form.
    pub(crate) fn anyone_online_for(
        &self,
        clinicians: &BTreeMap<ClinicianId, Clinician>,
        ticket: &QueuedChat,
    ) -> bool {
        let widened = QueuedChat {
            fallen_back: true,
            ..ticket.clone()
        };
        clinicians
            .values()
            .any(|c| c.presence.is_online() && widened.tier(c, self).is_some())
    }
}

// The tier is the policy's rule, kept beside the rest of it; it is a method
// of the ticket because every caller asks it about one ticket.
impl QueuedChat {
    /// 0 = primary skill (or none asked), 1 = fallback skill; `None` if the
    /// clinician cannot serve the chat at all. Presence and capacity aside.
    pub(crate) fn tier(&self, c: &Clinician, policy: &Policy) -> Option<u8> {
        if let Some(state) = &self.license_state
            && !c.licensed_in(state)
        {
            return None;
        }
        let Some(skill) = &self.skill else {
            return Some(0);
        };
        if c.has_skill(skill) {
            return Some(0);
        }
        let falls_back = self.fallen_back
            && policy
                .fallback
                .get(skill)
                .is_some_and(|fs| fs.iter().any(|f| c.has_skill(f)));
        falls_back.then_some(1)
    }
}
