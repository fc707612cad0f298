//! What waits and in what order. A [`Request`] becomes a [`QueuedChat`]
//! ticket, which the chat keeps for as long as the router knows it (queued,
//! offered or assigned), so that it can go back to its place with its
//! original urgency and arrival time. The queue order is defined here, once
//! ([`QueuedChat`]'s order key): urgent first, then chats a clinician already
//! had, then oldest arrival, then insertion order. [`WaitEstimate`] is what a
//! waiting patient is told.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::clinicians::ClinicianId;

/// An escalated chat asking for a clinician.
///
/// `#[non_exhaustive]` so that later policies can add fields; build it with
/// [`Request::new`] and the `with_*` methods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Request {
    pub conversation: String,
    /// `None` means any clinician will do.
    #[serde(default)]
    pub skill: Option<String>,
    pub language: String,
    /// A state the clinician must be licensed in, such as `"CA"`.
    #[serde(default)]
    pub license_state: Option<String>,
    #[serde(default)]
    pub urgent: bool,
    /// When the patient started waiting; orders the queue and, if the chat is
    /// assigned at once, becomes the clinician's last assignment time.
    pub at_ms: u64,
}

impl Request {
    /// A non-urgent request that any clinician can take.
    pub fn new(conversation: impl Into<String>, language: impl Into<String>, at_ms: u64) -> Self {
        Self {
            conversation: conversation.into(),
            skill: None,
            language: language.into(),
            license_state: None,
            urgent: false,
            at_ms,
        }
    }

    /// Only holders of `skill` (or its fallbacks) may get it automatically.
    pub fn with_skill(mut self, skill: impl Into<String>) -> Self {
        self.skill = Some(skill.into());
        self
    }

    /// Urgent chats go ahead of all others.
    pub fn with_urgent(mut self, urgent: bool) -> Self {
        self.urgent = urgent;
        self
    }

    /// Only clinicians licensed in `state` may get it automatically; fallback
    /// never relaxes this.
    pub fn with_license_state(mut self, state: impl Into<String>) -> Self {
        self.license_state = Some(state.into());
        self
    }
}

/// A chat waiting in the queue (and, privately, the ticket an assigned chat
/// keeps so it can be requeued with its original priority).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedChat {
    pub conversation: String,
    #[serde(default)]
    pub skill: Option<String>,
    pub language: String,
    #[serde(default)]
    pub license_state: Option<String>,
    #[serde(default)]
    pub urgent: bool,
    pub at_ms: u64,
    /// Set when the chat had a clinician who was removed or who transferred
    /// it to a skill group. Such a patient was already being helped, so they
    /// go ahead of everyone of the same urgency who has not been helped yet.
    #[serde(default)]
    pub requeued: bool,
    /// The chat may now go to holders of its skill's fallback skills.
    #[serde(default)]
    pub fallen_back: bool,
    /// Breaks ties between equal `at_ms` by insertion order, so the order is
    /// total and the same on every node.
    #[serde(default)]
    pub(crate) seq: u64,
    /// Clinicians who let this chat's offer pass (declined, expired,
    /// withdrawn) in the current round, or who transferred it away.
    #[serde(default)]
    pub(crate) passed: BTreeSet<ClinicianId>,
    #[serde(default)]
    pub(crate) last_pass_at: Option<u64>,
}

impl QueuedChat {
    /// The whole queue order in one place: urgent first, then requeued, then
    /// oldest arrival, then insertion order.
    pub(crate) fn order_key(&self) -> (bool, bool, u64, u64) {
        (!self.urgent, !self.requeued, self.at_ms, self.seq)
    }

    pub(crate) fn skill_key(&self) -> &str {
        self.skill.as_deref().unwrap_or(ANY_SKILL)
    }
}

/// Key of the departure statistics for chats that ask for no skill.
pub(crate) const ANY_SKILL: &str = "*";

/// How long a queued patient may still wait, and on what basis.
///
/// Method: the router remembers when chats of each skill (or of no skill)
/// last left the queue for a clinician (automatic assignment, accepted offer,
/// or taken by hand from the queue). Over the window
/// [`Policy::estimate_window_ms`] ending now, `n` such departures since the
/// oldest one at `t0` give a service rate of `n / (now - t0)`. The estimate is
/// `(ahead + 1)` chats at that rate, where `ahead` counts queued chats of the
/// same skill before this one. No estimate (`None`) when fewer than
/// [`Policy::estimate_min_samples`] departures fall in the window, or when no
/// available clinician could serve the chat now: the past rate is then no
/// guide. Chats of other skills are ignored, which is wrong only when they
/// compete for the same clinicians.
///
/// [`Policy::estimate_window_ms`]: crate::Policy::estimate_window_ms
/// [`Policy::estimate_min_samples`]: crate::Policy::estimate_min_samples
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WaitEstimate {
    /// 1-based place in the whole queue, as [`Router::position`].
    ///
    /// [`Router::position`]: crate::Router::position
    pub position: usize,
    /// Queued chats of the same skill ahead of this one.
    pub ahead: usize,
    pub estimate_ms: u64,
    /// Departures the rate is based on.
    pub samples: usize,
}
